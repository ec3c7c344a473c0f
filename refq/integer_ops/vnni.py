"""INT-3.5: the INT-3.4 convolution computed with x86's VNNI byte dot products.

This module changes no result: it computes the same int32 values as
:func:`refq.integer_ops.conv.convolve` by another route, which the tests check
element for element. The route matters for speed only. ``VPDPBUSD`` multiplies 32
unsigned bytes by 32 signed bytes and adds each group of four products to one of
eight int32 lanes, wrapping, in one instruction; the centred operands of INT-3.2
need 9 bits and do not fit in bytes, so the raw codes go in and the zero points are
taken out afterwards by the identity of INT-3.5 (every term wraps modulo $2^{32}$,
and so does the result INT-2.3 defines).

The fast route runs only when Numba compiles (not inside ``refq._jit.pure_python()``)
and the CPU has AVX512-VNNI and AVX512-VL; otherwise :func:`available` is False and
the portable kernels of :mod:`refq.integer_ops.conv` run.
"""

from __future__ import annotations

import functools

import numpy as np

from refq._jit import jit_enabled, kernel

#: Bytes per ``VPDPBUSD`` on a 256-bit register; rows are padded to a multiple of it.
LANE_BYTES = 32
#: The tile of output elements one call of the dot-product intrinsic computes:
#: TILE_ROWS weight rows times TILE_PIXELS patch rows (16 int32 accumulators).
TILE_ROWS = 4
TILE_PIXELS = 4
#: Longer patches take INT-3.4's route: :func:`patch_sums` sums a row of bytes in int32.
MAX_PATCH_LENGTH = 2**23 - LANE_BYTES


@functools.cache
def available() -> bool:
    """Whether this CPU runs ``VPDPBUSD`` on 256-bit registers (AVX512-VNNI with AVX512-VL)."""
    try:
        from llvmlite import binding
    except ImportError:  # pragma: no cover - numba brings llvmlite
        return False
    features = binding.get_host_cpu_features()
    return bool(features.get("avx512vnni")) and bool(features.get("avx512vl"))


def use_vnni() -> bool:
    """The VNNI route runs when kernels are compiled and the CPU has the instructions."""
    return jit_enabled() and available()


def _tile_intrinsic():
    """The LLVM code of one tile: 16 accumulators of 8 int32 lanes, one ``VPDPBUSD`` per
    (weight row, patch row) and 32 bytes, summed across lanes at the end."""
    from llvmlite import ir
    from numba import types
    from numba.core.extending import intrinsic

    i32, i64 = ir.IntType(32), ir.IntType(64)
    lanes = ir.VectorType(i32, 8)

    @intrinsic
    def byte_dot_tile(typingctx, patches, patch_offset, weights, weight_offset, row_length):
        signature = types.UniTuple(types.int32, TILE_ROWS * TILE_PIXELS)(
            patches, patch_offset, weights, weight_offset, row_length)

        def codegen(context, builder, sig, args):
            patch_array, patch_start, weight_array, weight_start, length = args
            patch_data = context.make_array(sig.args[0])(context, builder, patch_array).data
            weight_data = context.make_array(sig.args[2])(context, builder, weight_array).data
            dot = builder.module.declare_intrinsic("llvm.x86.avx512.vpdpbusd.256",
                                                   fnty=ir.FunctionType(lanes, [lanes, lanes, lanes]))
            reduce = builder.module.declare_intrinsic("llvm.vector.reduce.add.v8i32",
                                                      fnty=ir.FunctionType(i32, [lanes]))
            entry = builder.block
            loop = builder.append_basic_block("tile.loop")
            done = builder.append_basic_block("tile.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            k = builder.phi(i64)
            k.add_incoming(ir.Constant(i64, 0), entry)
            sums = []
            for _ in range(TILE_ROWS * TILE_PIXELS):
                phi = builder.phi(lanes)
                phi.add_incoming(ir.Constant(lanes, None), entry)
                sums.append(phi)

            def load(data, start, row):
                offset = builder.add(builder.add(start, builder.mul(length, ir.Constant(i64, row))), k)
                return builder.load(builder.bitcast(builder.gep(data, [offset]), lanes.as_pointer()), align=1)

            pixels = [load(patch_data, patch_start, c) for c in range(TILE_PIXELS)]
            rows = [load(weight_data, weight_start, r) for r in range(TILE_ROWS)]
            updated = [builder.call(dot, [sums[r * TILE_PIXELS + c], pixels[c], rows[r]])
                       for r in range(TILE_ROWS) for c in range(TILE_PIXELS)]
            following = builder.add(k, ir.Constant(i64, LANE_BYTES))
            latch = builder.block
            k.add_incoming(following, latch)
            for phi, value in zip(sums, updated):
                phi.add_incoming(value, latch)
            builder.cbranch(builder.icmp_signed("<", following, length), loop, done)
            builder.position_at_end(done)
            result = context.get_constant_undef(sig.return_type)
            for index, value in enumerate(updated):
                result = builder.insert_value(result, builder.call(reduce, [value]), index)
            return result

        return signature, codegen

    return byte_dot_tile


#: Created on first use, so that importing this module imports neither Numba nor llvmlite.
byte_dot_tile = None


def unsigned_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """INT-3.5: the activations as uint8 and the offset added to their zero point: int8 codes
    move up by 128 (flipping the top bit), which leaves $x - z_x$ unchanged."""
    if values.dtype == np.uint8:
        return values, 0
    return (values.view(np.uint8) ^ np.uint8(0x80)), 128


def signed_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """INT-3.5: the weights as int8 and the offset added to their zero points: uint8 codes
    move down by 128, which leaves $w - z_w$ unchanged."""
    if values.dtype == np.int8:
        return values, 0
    return (values ^ np.uint8(0x80)).view(np.int8), -128


def padded_image(codes: np.ndarray, padding_code: int, geometry) -> np.ndarray:
    """INT-3.5: the channels-last image (N, H + pads, W + pads, C) of uint8 codes, the padding
    filled with the input zero point so that padded positions contribute $x - z_x = 0$."""
    top, left, bottom, right = geometry.pads
    image = np.full((geometry.batch, geometry.height + top + bottom, geometry.width + left + right,
                     geometry.channels), padding_code, dtype=np.uint8)
    image[:, top:top + geometry.height, left:left + geometry.width] = codes.transpose(0, 2, 3, 1)
    return image


def gather_byte_patches(images: np.ndarray, group_index: int, geometry, out: np.ndarray) -> None:
    """INT-3.5: ``out[n, p]`` holds output pixel $p$'s window of the padded channels-last image
    ``images[n]`` (H', W', C) in the order (kernel row, kernel column, channel), then zeros up
    to the row's padded length; rows past the last pixel (the tile padding) are zero."""
    channels = geometry.group_channels
    (kernel_height, kernel_width), (stride_height, stride_width) = geometry.kernel, geometry.strides
    dilation_height, dilation_width = geometry.dilations
    extent_height = dilation_height * (kernel_height - 1) + 1
    extent_width = dilation_width * (kernel_width - 1) + 1
    group_images = images[..., group_index * channels:(group_index + 1) * channels]
    windows = np.lib.stride_tricks.sliding_window_view(group_images, (extent_height, extent_width), axis=(1, 2))
    windows = windows[:, :geometry.out_height * stride_height:stride_height,
                      :geometry.out_width * stride_width:stride_width, :, ::dilation_height, ::dilation_width]
    pixels = geometry.out_height * geometry.out_width
    patch_length = geometry.patch_length
    target = out[:, :pixels, :patch_length].reshape(len(images), geometry.out_height, geometry.out_width,
                                                     kernel_height, kernel_width, channels)
    np.copyto(target, windows.transpose(0, 1, 2, 4, 5, 3))
    out[:, :pixels, patch_length:] = 0
    out[:, pixels:] = 0


@kernel
def patch_sums(patches, out):
    """INT-3.5: $X_p = \\sum_k x'_{pk}$ for every row of ``patches`` (less than $2^{23}$ bytes long,
    so that the int32 sum cannot overflow)."""
    for p in range(patches.shape[0]):
        total = np.int32(0)
        for k in range(patches.shape[1]):
            total += np.int32(patches[p, k])
        out[p] = total


@kernel
def byte_dot_products(patches, weights, pixel_sums, weight_zero_points, constants, out):
    """INT-3.5: ``out[m, p]`` $= \\operatorname{wrap}_{32}(S_{mp} - z'_{w,m} X_p + \\mathrm{constants}_m)$
    where $S_{mp} = \\sum_k x'_{pk} w'_{mk}$ (wrapped) comes from one ``VPDPBUSD`` tile per 4 x 4
    outputs and $X_p$ is ``pixel_sums[p]``. Every extent is a multiple of the tile's (the
    caller pads with zero rows and discards them)."""
    length = patches.shape[1]
    flat_patches = patches.reshape(-1)
    flat_weights = weights.reshape(-1)
    for m in range(0, weights.shape[0], TILE_ROWS):
        for p in range(0, patches.shape[0], TILE_PIXELS):
            tile = byte_dot_tile(flat_patches, p * length, flat_weights, m * length, length)
            for r in range(TILE_ROWS):
                for c in range(TILE_PIXELS):
                    total = (np.int64(tile[r * TILE_PIXELS + c]) - weight_zero_points[m + r] * pixel_sums[p + c]
                             + constants[m + r])
                    out[m + r, p + c] = np.int32(total)  # keeps the low 32 bits: NUM-1.7 wrap


def padded(count: int, multiple: int) -> int:
    return -(-count // multiple) * multiple


def convolve_bytes(x: np.ndarray, w: np.ndarray, x_zero_point: int, w_zero_points: np.ndarray, geometry,
                   bias: np.ndarray | None = None) -> np.ndarray:
    """INT-3.5: the INT-3.4 convolution (plus the wrapping bias) of validated raw operands:
    ``x`` (N, C, H, W) and ``w`` (M, C / group, kH, kW) int8 or uint8, ``x_zero_point`` one
    integer, ``w_zero_points`` one per output channel. Returns int32 (N, M, H_out, W_out),
    equal to :func:`refq.integer_ops.conv.convolve` element for element."""
    global byte_dot_tile
    if byte_dot_tile is None:
        byte_dot_tile = _tile_intrinsic()
    codes, x_offset = unsigned_codes(np.ascontiguousarray(x))
    weights_raw, w_offset = signed_codes(np.ascontiguousarray(w))
    padding_code = int(x_zero_point) + x_offset
    weight_zero_points = np.asarray(w_zero_points, dtype=np.int64).reshape(-1) + w_offset
    channels, rows = geometry.group_channels, geometry.group_out_channels
    patch_length = geometry.patch_length
    length = padded(patch_length, LANE_BYTES)
    pixels = geometry.out_height * geometry.out_width
    # Weight rows in the patch order (kernel row, kernel column, channel), zero-padded.
    ordered = weights_raw.transpose(0, 2, 3, 1).reshape(geometry.out_channels, patch_length)
    weight_sums = ordered.sum(axis=1, dtype=np.int64)
    padded_rows = padded(rows, TILE_ROWS)
    weights = np.zeros((geometry.group, padded_rows, length), dtype=np.int8)
    weights[:, :rows, :patch_length] = ordered.reshape(geometry.group, rows, patch_length)
    # x - z_x times w - z_w summed over the patch = S - z_w X - z_x W + K z_x z_w (+ bias).
    constants = patch_length * padding_code * weight_zero_points - padding_code * weight_sums
    if bias is not None:
        constants = constants + bias.astype(np.int64)
    zero_points_by_group = np.zeros((geometry.group, padded_rows), dtype=np.int64)
    zero_points_by_group[:, :rows] = weight_zero_points.reshape(geometry.group, rows)
    constants_by_group = np.zeros((geometry.group, padded_rows), dtype=np.int64)
    constants_by_group[:, :rows] = constants.reshape(geometry.group, rows)
    image = padded_image(codes, padding_code, geometry)
    padded_pixels = padded(pixels, TILE_PIXELS)
    # Images go through the kernels in chunks of about 16 MiB of windows.
    chunk = max(1, min(geometry.batch, 2**24 // (padded_pixels * length)))
    patches = np.empty((chunk, padded_pixels, length), dtype=np.uint8)
    pixel_sums = np.zeros(chunk * padded_pixels, dtype=np.int64)
    tiles = np.empty((padded_rows, chunk * padded_pixels), dtype=np.int32)
    result = np.empty((geometry.batch, geometry.out_channels, pixels), dtype=np.int32)
    for first in range(0, geometry.batch, chunk):
        count = min(chunk, geometry.batch - first)
        rows_of_chunk = patches[:count].reshape(count * padded_pixels, length)
        for g in range(geometry.group):
            gather_byte_patches(image[first:first + count], g, geometry, patches[:count])
            # The z_w X term vanishes when every weight zero point is 0 (symmetric int8 weights).
            if weight_zero_points.any():
                patch_sums(rows_of_chunk, pixel_sums)
            block = result[first:first + count, g * rows:(g + 1) * rows]
            if count == 1 and padded_rows == rows and padded_pixels == pixels:
                byte_dot_products(rows_of_chunk, weights[g], pixel_sums, zero_points_by_group[g],
                                  constants_by_group[g], block[0])
                continue
            out = tiles[:, :count * padded_pixels]
            byte_dot_products(rows_of_chunk, weights[g], pixel_sums, zero_points_by_group[g], constants_by_group[g],
                              out)
            block[...] = out[:rows].reshape(rows, count, padded_pixels)[:, :, :pixels].transpose(1, 0, 2)
    return result.reshape(geometry.batch, geometry.out_channels, geometry.out_height, geometry.out_width)
