"""INT-3.5: the INT-3.4 convolution computed with x86's VNNI byte dot products.

This module changes no result: it computes the same int32 values as
:func:`refq.integer_ops.conv.convolve` by another route, which the tests check
element for element. The route matters for speed only. ``VPDPBUSD`` multiplies 64
unsigned bytes by 64 signed bytes and adds each group of four products to one of
16 int32 lanes, wrapping, in one instruction; the centred operands of INT-3.2
need 9 bits and do not fit in bytes, so the raw codes go in and the zero points are
taken out afterwards by the identity of INT-3.5 (every term wraps modulo $2^{32}$,
and so does the result INT-2.3 defines).

The image is packed once per call, four channels to a 32-bit word (one ``VPDPBUSD`` lane),
into one plane per kernel column in which 16 consecutive output pixels' words are 64
consecutive bytes: the kernel loads them straight, with no window copied per output pixel,
broadcasts four bytes of a weight row to all lanes, and keeps 8 output channels x 48 pixels
of accumulators in registers over the whole window.

The fast route runs only when Numba compiles (not inside ``refq._jit.pure_python()``)
and the CPU has AVX512-VNNI and AVX512F; otherwise :func:`available` is False and
the portable kernels of :mod:`refq.integer_ops.conv` run.
"""

from __future__ import annotations

import functools

import numpy as np

from refq._jit import jit_enabled, kernel

#: int32 lanes of one 512-bit register: one output pixel per lane, four bytes of the window each.
LANES = 16
#: Bytes of the window per int32 lane (four channels of one input position).
LANE_DEPTH = 4
#: The tile of output elements one call of the dot-product intrinsic computes: TILE_ROWS
#: output channels (weights broadcast four bytes at a time) times PIXEL_VECTORS registers of
#: 16 consecutive output pixels; its 24 accumulators, 3 pixel registers and a broadcast fit
#: in the 32 registers.
TILE_ROWS = 8
PIXEL_VECTORS = 3
TILE_PIXELS = LANES * PIXEL_VECTORS
#: Longer patches take INT-3.4's route: the pixel sums are int32.
MAX_PATCH_LENGTH = 2**23 - 32


@functools.cache
def available() -> bool:
    """Whether this CPU runs ``VPDPBUSD`` on 512-bit registers (AVX512-VNNI with AVX512F)."""
    try:
        from llvmlite import binding
    except ImportError:  # pragma: no cover - numba brings llvmlite
        return False
    features = binding.get_host_cpu_features()
    return bool(features.get("avx512vnni")) and bool(features.get("avx512f"))


def use_vnni() -> bool:
    """The VNNI route runs when kernels are compiled and the CPU has the instructions."""
    return jit_enabled() and available()


class VectorCode:
    """The LLVM IR both VNNI kernels are built from (this one and :mod:`refq.integer_ops.vnni_matmul`): 16 int32
    lanes, ``VPDPBUSD``, a broadcast, unaligned loads and stores at an element offset, and the loop over
    four-byte steps whose phis carry the accumulators."""

    def __init__(self, builder) -> None:
        from llvmlite import ir

        self.ir, self.builder = ir, builder
        self.i32, self.i64 = ir.IntType(32), ir.IntType(64)
        self.lanes = ir.VectorType(self.i32, LANES)
        self.dot = builder.module.declare_intrinsic("llvm.x86.avx512.vpdpbusd.512",
                                                    fnty=ir.FunctionType(self.lanes, [self.lanes] * 3))

    def index(self, value: int):
        return self.ir.Constant(self.i64, value)

    def broadcast(self, value):
        undefined = self.ir.Constant(self.lanes, None)
        single = self.builder.insert_element(undefined, value, self.ir.Constant(self.i32, 0))
        return self.builder.shuffle_vector(single, undefined, self.ir.Constant(self.lanes, [0] * LANES))

    def load_lanes(self, data, offset):
        pointer = self.builder.bitcast(self.builder.gep(data, [offset]), self.lanes.as_pointer())
        return self.builder.load(pointer, align=1)

    def load_word(self, data, offset):
        pointer = self.builder.bitcast(self.builder.gep(data, [offset]), self.i32.as_pointer())
        return self.builder.load(pointer, align=1)

    def store_lanes(self, value, data, offset) -> None:
        self.builder.store(value, self.builder.bitcast(self.builder.gep(data, [offset]), self.lanes.as_pointer()),
                           align=1)

    def step_loop(self, name: str, step_count, accumulators: int, body):
        """``for step in range(step_count)`` (at least one step) carrying ``accumulators`` vectors from zero:
        ``body(step, sums)`` returns their next values; after the loop, the last ones."""
        builder, ir = self.builder, self.ir
        entry = builder.block
        loop = builder.append_basic_block(f"{name}.loop")
        done = builder.append_basic_block(f"{name}.done")
        builder.branch(loop)
        builder.position_at_end(loop)
        step = builder.phi(self.i64)
        step.add_incoming(self.index(0), entry)
        sums = []
        for _ in range(accumulators):
            phi = builder.phi(self.lanes)
            phi.add_incoming(ir.Constant(self.lanes, None), entry)
            sums.append(phi)
        updated = body(step, sums)
        following = builder.add(step, self.index(1))
        latch = builder.block
        step.add_incoming(following, latch)
        for phi, value in zip(sums, updated):
            phi.add_incoming(value, latch)
        builder.cbranch(builder.icmp_signed("<", following, step_count), loop, done)
        builder.position_at_end(done)
        return updated


def _tile_intrinsic():
    """The LLVM code of one tile: ``TILE_ROWS`` x ``PIXEL_VECTORS`` accumulators of 16 int32
    lanes (one output pixel each), one ``VPDPBUSD`` per (weight row, pixel register) and window
    step of four bytes; then $S + p_m X + q_m$ per lane (wrapping int32), stored."""
    from numba import types
    from numba.core.extending import intrinsic

    @intrinsic
    def window_dot_tile(typingctx, weights, weight_offset, steps, planes, step_offsets, pixel_offset, row_terms,
                        row_term_offset, pixel_sums, out, out_offset, out_stride):
        signature = types.void(weights, weight_offset, steps, planes, step_offsets, pixel_offset, row_terms,
                               row_term_offset, pixel_sums, out, out_offset, out_stride)

        def codegen(context, builder, sig, args):
            (weight_array, weight_start, step_count, plane_array, step_offset_array, pixel_start, row_term_array,
             row_term_start, pixel_sum_array, out_array, out_start, stride) = args
            weight_data = context.make_array(sig.args[0])(context, builder, weight_array).data
            plane_data = context.make_array(sig.args[3])(context, builder, plane_array).data
            step_offset_data = context.make_array(sig.args[4])(context, builder, step_offset_array).data
            row_term_data = context.make_array(sig.args[6])(context, builder, row_term_array).data
            pixel_sum_data = context.make_array(sig.args[8])(context, builder, pixel_sum_array).data
            out_data = context.make_array(sig.args[9])(context, builder, out_array).data
            code = VectorCode(builder)
            index = code.index
            depth = builder.mul(step_count, index(LANE_DEPTH))

            def window_step(step, sums):
                # This step's four bytes of 16 consecutive pixels are 64 consecutive bytes of its plane.
                plane_step = builder.add(builder.load(builder.gep(step_offset_data, [step])),
                                         builder.mul(pixel_start, index(LANE_DEPTH)))
                pixels = [code.load_lanes(plane_data, builder.add(plane_step, index(v * LANES * LANE_DEPTH)))
                          for v in range(PIXEL_VECTORS)]
                updated = []
                for r in range(TILE_ROWS):
                    offset = builder.add(builder.add(weight_start, builder.mul(depth, index(r))),
                                         builder.mul(step, index(LANE_DEPTH)))
                    row = code.broadcast(code.load_word(weight_data, offset))
                    # VPDPBUSD's first operand is the unsigned one: the pixels' codes.
                    updated.extend(builder.call(code.dot, [sums[r * PIXEL_VECTORS + v], pixels[v], row])
                                   for v in range(PIXEL_VECTORS))
                return updated

            updated = code.step_loop("tile", step_count, TILE_ROWS * PIXEL_VECTORS, window_step)
            pixel_sums_loaded = [code.load_lanes(pixel_sum_data, builder.add(pixel_start, index(v * LANES)))
                                 for v in range(PIXEL_VECTORS)]
            for r in range(TILE_ROWS):
                # row_terms holds p_m then q_m for each of the tile's rows.
                term = builder.add(row_term_start, index(2 * r))
                p = code.broadcast(builder.load(builder.gep(row_term_data, [term])))
                q = code.broadcast(builder.load(builder.gep(row_term_data, [builder.add(term, index(1))])))
                for v in range(PIXEL_VECTORS):
                    value = builder.add(updated[r * PIXEL_VECTORS + v],
                                        builder.add(builder.mul(p, pixel_sums_loaded[v]), q))
                    target = builder.add(builder.add(out_start, builder.mul(stride, index(r))), index(v * LANES))
                    code.store_lanes(value, out_data, target)
            return context.get_dummy_value()

        return signature, codegen

    return window_dot_tile


#: Created on first use, so that importing this module imports neither Numba nor llvmlite.
window_dot_tile = None


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
def pack_quad_image(codes, first_channel, channels, padding_code, pad_top, pad_left, out):
    """INT-3.5: ``out[q, y, x]`` (uint32, Q x H' x W', the padded image) packs the four codes of channels
    $c_0 + 4q .. c_0 + 4q + 3$ of ``codes`` (uint8, C x H x W) at input position $(y - p_{top}, x - p_{left})$,
    byte $j$ the channel $4q + j$: $z_x$ where the position falls in the padding, 0 for channels past
    ``channels`` (whose weights are 0)."""
    height, width = codes.shape[1], codes.shape[2]
    for q in range(out.shape[0]):
        first = first_channel + q * LANE_DEPTH
        present = min(LANE_DEPTH, channels - q * LANE_DEPTH)
        padding_word = np.uint32(0)
        for j in range(present):
            padding_word |= np.uint32(padding_code) << np.uint32(8 * j)
        out[q] = padding_word
        for y in range(height):
            if present == LANE_DEPTH:  # the common case, as one loop the compiler vectorises
                for x in range(width):
                    out[q, pad_top + y, pad_left + x] = (
                        np.uint32(codes[first, y, x]) | (np.uint32(codes[first + 1, y, x]) << np.uint32(8))
                        | (np.uint32(codes[first + 2, y, x]) << np.uint32(16))
                        | (np.uint32(codes[first + 3, y, x]) << np.uint32(24)))
                continue
            for x in range(width):
                word = np.uint32(0)
                for j in range(present):
                    word |= np.uint32(codes[first + j, y, x]) << np.uint32(8 * j)
                out[q, pad_top + y, pad_left + x] = word


@kernel
def pack_window_planes(image, shared_rows, plane_rows, kernel_width, stride_height, stride_width, dilation_height,
                       dilation_width, out_width, out):
    """INT-3.5: the window planes of one image's group, from its :func:`pack_quad_image`:
    ``out[a, s, q, y * W_out + o_x]`` $=$ ``image[q, i, o_x s_w + s d_w]`` with $i = y$ (``shared_rows``,
    when $s_h = 1$: one plane set, $a = 0$, which kernel row $r$ reads $r d_h$ output rows further on) or
    $i = y s_h + a d_h$ (one set per kernel row $a$). Words past the planes' rows are 0."""
    for a in range(out.shape[0]):
        for s in range(kernel_width):
            for q in range(out.shape[2]):
                for y in range(plane_rows):
                    row = y if shared_rows else y * stride_height + a * dilation_height
                    for o_x in range(out_width):
                        out[a, s, q, y * out_width + o_x] = image[q, row, o_x * stride_width + s * dilation_width]
                out[a, s, q, plane_rows * out_width:] = 0


@kernel
def window_sums(image, kernel_height, kernel_width, stride_height, stride_width, dilation_height, dilation_width,
                out_width, column_sums, out):
    """INT-3.5: $X_p = \\sum_k x'_{pk}$, the sum of output pixel $p$'s window over the padded image of
    :func:`pack_quad_image` (its padding channels are 0), int32 (windows are under $2^{23}$ bytes);
    ``column_sums`` (H' x W' int32) is scratch; ``out`` holds one sum per output pixel."""
    for y in range(image.shape[1]):
        for x in range(image.shape[2]):
            total = np.int32(0)
            for q in range(image.shape[0]):
                word = image[q, y, x]
                total += np.int32(word & np.uint32(0xFF)) + np.int32((word >> np.uint32(8)) & np.uint32(0xFF))
                total += np.int32((word >> np.uint32(16)) & np.uint32(0xFF)) + np.int32(word >> np.uint32(24))
            column_sums[y, x] = total
    for p in range(out.size):
        o_y, o_x = p // out_width, p % out_width
        total = np.int32(0)
        for r in range(kernel_height):
            for s in range(kernel_width):
                total += column_sums[o_y * stride_height + r * dilation_height, o_x * stride_width + s * dilation_width]
        out[p] = total


@kernel
def window_dot_products(weights, planes, step_offsets, row_terms, pixel_sums, out, scratch):
    """INT-3.5: ``out[m, p]`` $= \\operatorname{wrap}_{32}(S_{mp} + p_m X_p + q_m)$ with
    $S_{mp} = \\sum_k x'_{pk} w'_{mk}$ from one ``VPDPBUSD`` tile per ``TILE_ROWS`` x ``TILE_PIXELS``
    outputs. ``weights`` is int8 ``(M', K')`` padded with zero rows to a multiple of ``TILE_ROWS``;
    step $s$ of pixel $p$ is the four bytes at ``step_offsets[s]`` $+ 4p$ of ``planes`` (uint8); ``row_terms``
    is ``(M', 2)`` ($p_m$, $q_m$) int32. Tiles that pass ``out``'s edge go through ``scratch``."""
    height, width = out.shape
    depth = weights.shape[1]
    steps = depth // LANE_DEPTH
    flat_weights = weights.reshape(-1)
    flat_planes = planes.reshape(-1)
    flat_out = out.reshape(-1)
    flat_scratch = scratch.reshape(-1)
    flat_row_terms = row_terms.reshape(-1)
    for first_pixel in range(0, width, TILE_PIXELS):
        for first_row in range(0, weights.shape[0], TILE_ROWS):
            if first_row + TILE_ROWS <= height and first_pixel + TILE_PIXELS <= width:
                window_dot_tile(flat_weights, first_row * depth, steps, flat_planes, step_offsets, first_pixel,
                                flat_row_terms, first_row * 2, pixel_sums, flat_out, first_row * width + first_pixel,
                                width)
                continue
            window_dot_tile(flat_weights, first_row * depth, steps, flat_planes, step_offsets, first_pixel,
                            flat_row_terms, first_row * 2, pixel_sums, flat_scratch, 0, TILE_PIXELS)
            for r in range(min(TILE_ROWS, height - first_row)):
                for c in range(min(TILE_PIXELS, width - first_pixel)):
                    out[first_row + r, first_pixel + c] = scratch[r, c]


def padded(count: int, multiple: int) -> int:
    return -(-count // multiple) * multiple


def wrapped(values: np.ndarray) -> np.ndarray:
    """int64 values reduced modulo $2^{32}$ into int32 (NUM-1.7): numpy's cast keeps the low 32 bits."""
    return values.astype(np.int64).astype(np.int32)


@kernel
def pack_weight_rows(weights, zero_points, padding_code, bias, out, row_terms):
    """The weight rows and their terms (INT-3.5) for :func:`window_dot_products`. ``weights`` holds the int8
    codes (M, C / group, kH, kW), ``zero_points`` (int64, with ``signed_codes``' offset) and ``bias``
    (int32) one per output channel. Row ``m`` of group ``g`` goes to ``out[g, m]`` (int8, group x M' x
    kH x kW x 4Q) in the window order (kernel row, kernel column, channel), channels padded with 0 to
    whole words, output channels with zero rows to whole tiles. A window's
    $\\sum (x - z_x)(w - z_w) = S - z_w X - z_x W + K z_x z_w + b = S + p_m X + q_m$ ($W_m$ the row's sum,
    $K$ its length, $z_x$ ``padding_code``): ``row_terms[g, m]`` (int32) is $(p_m, q_m)$ wrapped to int32.
    One pass: numpy's transpose, sums and wraps of these few thousand bytes took longer than it."""
    groups, padded_rows = out.shape[0], out.shape[1]
    rows = weights.shape[0] // groups
    channels, kernel_height, kernel_width = weights.shape[1], weights.shape[2], weights.shape[3]
    length = channels * kernel_height * kernel_width
    out[:] = 0
    row_terms[:] = 0
    for m in range(weights.shape[0]):
        g, row = m // rows, m % rows
        # The row's sum in ONNX's order, which reads the weights contiguously: the order does not change it.
        flat = weights[m].reshape(-1)
        total = np.int64(0)
        for k in range(length):
            total += flat[k]
        for r in range(kernel_height):  # in the order of out, which writes contiguously
            for s in range(kernel_width):
                for c in range(channels):
                    out[g, row, r, s, c] = weights[m, c, r, s]
        # Every term fits int64 (K < 2^23, codes and zero points under 2^9); the store keeps the low 32 bits.
        constant = length * np.int64(padding_code) * zero_points[m] - np.int64(padding_code) * total + bias[m]
        row_terms[g, row, 0] = -zero_points[m]
        row_terms[g, row, 1] = constant


@functools.lru_cache(maxsize=64)
def window_step_offsets(kernel_height: int, kernel_width: int, quads: int, shared_rows: bool, dilation_height: int,
                        out_width: int, plane_words: int) -> np.ndarray:
    """The byte offset in the planes of :func:`pack_window_planes` of each step's word for pixel 0 (INT-3.5;
    the steps run over kernel row, kernel column, quad), int64. Kept per geometry: the same on every call
    with it, and a dozen numpy operations on a few dozen values take microseconds. Not to be written to."""
    steps = np.arange(kernel_height * kernel_width * quads)
    kernel_row, rest = steps // (kernel_width * quads), steps % (kernel_width * quads)
    plane = (kernel_row * (0 if shared_rows else 1) * kernel_width * quads + rest) * plane_words
    offsets = LANE_DEPTH * (plane + (kernel_row * dilation_height * out_width if shared_rows else 0))
    return offsets.astype(np.int64)


def convolve_bytes(x: np.ndarray, w: np.ndarray, x_zero_point: int, w_zero_points: np.ndarray, geometry,
                   bias: np.ndarray | None = None) -> np.ndarray:
    """INT-3.5: the INT-3.4 convolution (plus the wrapping bias) of validated raw operands:
    ``x`` (N, C, H, W) and ``w`` (M, C / group, kH, kW) int8 or uint8, ``x_zero_point`` one
    integer, ``w_zero_points`` one per output channel. Returns int32 (N, M, H_out, W_out),
    equal to :func:`refq.integer_ops.conv.convolve` element for element."""
    global window_dot_tile
    if window_dot_tile is None:
        window_dot_tile = _tile_intrinsic()
    codes, x_offset = unsigned_codes(np.ascontiguousarray(x))
    weights_raw, w_offset = signed_codes(np.ascontiguousarray(w))
    padding_code = int(x_zero_point) + x_offset
    weight_zero_points = np.empty(geometry.out_channels, dtype=np.int64)
    weight_zero_points[:] = np.asarray(w_zero_points).reshape(-1)  # one, or one per output channel
    weight_zero_points += w_offset
    channels, rows = geometry.group_channels, geometry.group_out_channels
    (kernel_height, kernel_width), (stride_height, stride_width) = geometry.kernel, geometry.strides
    dilation_height, dilation_width = geometry.dilations
    quads = padded(channels, LANE_DEPTH) // LANE_DEPTH
    out_height, out_width = geometry.out_height, geometry.out_width
    pixels = out_height * out_width
    depth = kernel_height * kernel_width * quads * LANE_DEPTH
    padded_rows = padded(rows, TILE_ROWS)
    weights = np.empty((geometry.group, padded_rows, kernel_height, kernel_width, quads * LANE_DEPTH), dtype=np.int8)
    row_terms = np.empty((geometry.group, padded_rows, 2), dtype=np.int32)
    pack_weight_rows(weights_raw, weight_zero_points, padding_code,
                     np.zeros(geometry.out_channels, dtype=np.int32) if bias is None else bias, weights, row_terms)
    weights = weights.reshape(geometry.group, padded_rows, depth)
    # With stride 1 down the columns one plane set serves every kernel row, shifted by r d_h output rows.
    shared_rows = stride_height == 1
    plane_sets = 1 if shared_rows else kernel_height
    plane_rows = out_height + (kernel_height - 1) * dilation_height if shared_rows else out_height
    padded_pixels = padded(pixels, TILE_PIXELS)
    plane_words = plane_rows * out_width + padded_pixels - pixels
    step_offsets = window_step_offsets(kernel_height, kernel_width, quads, shared_rows, dilation_height, out_width,
                                       plane_words)
    planes = np.empty((plane_sets, kernel_width, quads, plane_words), dtype=np.uint32)
    plane_bytes = planes.reshape(-1).view(np.uint8)
    top, left, bottom, right = geometry.pads
    image = np.empty((quads, geometry.height + top + bottom, geometry.width + left + right), dtype=np.uint32)
    column_sums = np.empty(image.shape[1:], dtype=np.int32)
    pixel_sums = np.zeros(padded_pixels, dtype=np.int32)
    scratch = np.empty((TILE_ROWS, TILE_PIXELS), dtype=np.int32)
    result = np.empty((geometry.batch, geometry.out_channels, pixels), dtype=np.int32)
    for n in range(geometry.batch):
        for g in range(geometry.group):
            pack_quad_image(codes[n], g * channels, channels, padding_code, geometry.pads[0], geometry.pads[1],
                            image)
            pack_window_planes(image, shared_rows, plane_rows, kernel_width, stride_height, stride_width,
                               dilation_height, dilation_width, out_width, planes)
            # The z_w X term vanishes when every weight zero point is 0 (symmetric int8 weights).
            if weight_zero_points.any():
                window_sums(image, kernel_height, kernel_width, stride_height, stride_width, dilation_height,
                            dilation_width, out_width, column_sums, pixel_sums[:pixels])
            window_dot_products(weights[g], plane_bytes, step_offsets, row_terms[g], pixel_sums,
                                result[n, g * rows:(g + 1) * rows], scratch)
    return result.reshape(geometry.batch, geometry.out_channels, out_height, out_width)
