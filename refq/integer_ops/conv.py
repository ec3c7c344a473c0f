"""INT-3: integer 2-D convolution (ONNX ``ConvInteger``), NCHW.

The centred input (each value minus the input zero point) is laid out as one row
per output pixel holding the pixels its kernel window covers ("im2col"); the
centred weights are one row per output channel. Every output element is then a
dot product of two such rows, computed by the matmul kernel of INT-2.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.integer_ops.matmul import INT32_MAX, accumulation_may_overflow, wrapping_dot_products
from refq.integer_ops.operands import integer_input, zero_point_values

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


@dataclass(frozen=True)
class ConvGeometry:
    """INT-3.1: how the kernel window moves over the input (per spatial axis: height, width)."""

    batch: int
    channels: int
    height: int
    width: int
    out_channels: int
    group: int
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    #: (top, left, bottom, right), the order of ONNX's ``pads``.
    pads: tuple[int, int, int, int]
    out_height: int
    out_width: int

    @property
    def group_channels(self) -> int:
        return self.channels // self.group

    @property
    def group_out_channels(self) -> int:
        return self.out_channels // self.group

    @property
    def patch_length(self) -> int:
        return self.group_channels * self.kernel[0] * self.kernel[1]


def positive_pair(value, argument: str, default: int) -> tuple[int, int]:
    if value is None:
        return (default, default)
    try:
        items = tuple(value)
    except TypeError:
        raise wrong_type(argument, "a sequence of 2 integers", value) from None
    if len(items) != 2 or not all(isinstance(item, (int, np.integer)) and not isinstance(item, bool)
                                  and item >= 1 for item in items):
        raise invalid(argument, "2 integers >= 1 (height, width)", value)
    return (int(items[0]), int(items[1]))


def explicit_pads(pads) -> tuple[int, int, int, int]:
    if pads is None:
        return (0, 0, 0, 0)
    try:
        items = tuple(pads)
    except TypeError:
        raise wrong_type("pads", "a sequence of 4 integers", pads) from None
    if len(items) != 4 or not all(isinstance(item, (int, np.integer)) and not isinstance(item, bool)
                                  and item >= 0 for item in items):
        raise invalid("pads", "4 integers >= 0 (top, left, bottom, right)", pads)
    return tuple(int(item) for item in items)


def same_pads(size: int, stride: int, extent: int, upper: bool) -> tuple[int, int]:
    """INT-3.1: ``SAME_*`` padding: the output has $\\lceil n / s \\rceil$ positions; the padding
    needed for that is split in two, the odd unit going to the end (UPPER) or the start (LOWER)."""
    out = -(-size // stride)
    needed = max(0, (out - 1) * stride + extent - size)
    start = needed // 2 if upper else (needed + 1) // 2
    return start, needed - start


def conv_geometry(x_shape, w_shape, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                  pads=None, strides=None) -> ConvGeometry:
    """INT-3.1: check the shapes and attributes of a 2-D convolution and derive the output size.

    The output has $\\lfloor (n + p_{begin} + p_{end} - d(k - 1) - 1) / s \\rfloor + 1$ positions along
    an axis of size $n$, kernel size $k$, stride $s$, dilation $d$; it must be at least 1.
    """
    if len(x_shape) != 4:
        raise invalid("x", "a 4-D NCHW array (2-D convolution)", f"shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise invalid("w", "a 4-D array (out channels, in channels / group, kernel height, kernel width)",
                      f"shape {tuple(w_shape)}")
    if isinstance(group, bool) or not isinstance(group, (int, np.integer)) or group < 1:
        raise invalid("group", "an integer >= 1", group)
    group = int(group)
    batch, channels, height, width = (int(n) for n in x_shape)
    out_channels = int(w_shape[0])
    if channels % group or out_channels % group or w_shape[1] * group != channels:
        raise invalid("w", f"shape (M, {channels} / group = {channels // group if channels % group == 0 else '?'}, "
                      f"kH, kW) with M a multiple of group {group}", f"shape {tuple(w_shape)}")
    kernel = (int(w_shape[2]), int(w_shape[3]))
    if kernel_shape is not None and tuple(int(k) for k in kernel_shape) != kernel:
        raise invalid("kernel_shape", f"the kernel size of w, {list(kernel)}", kernel_shape)
    if kernel[0] < 1 or kernel[1] < 1:
        raise invalid("w", "a kernel of at least 1 x 1", f"shape {tuple(w_shape)}")
    strides = positive_pair(strides, "strides", 1)
    dilations = positive_pair(dilations, "dilations", 1)
    if auto_pad not in AUTO_PADS:
        raise invalid("auto_pad", "one of " + ", ".join(AUTO_PADS), auto_pad)
    extents = tuple(dilations[axis] * (kernel[axis] - 1) + 1 for axis in range(2))
    if auto_pad == "NOTSET":
        padding = explicit_pads(pads)
    else:
        if pads is not None and any(explicit_pads(pads)):
            raise invalid("pads", f"unset when auto_pad is {auto_pad}", pads)
        if auto_pad == "VALID":
            padding = (0, 0, 0, 0)
        else:
            (top, bottom), (left, right) = (same_pads(size, strides[axis], extents[axis], auto_pad == "SAME_UPPER")
                                            for axis, size in enumerate((height, width)))
            padding = (top, left, bottom, right)
    out_sizes = tuple((size + padding[axis] + padding[axis + 2] - extents[axis]) // strides[axis] + 1
                      for axis, size in enumerate((height, width)))
    if min(out_sizes) < 1:
        raise invalid("x", f"spatial size at least the dilated kernel {list(extents)} after padding",
                      f"shape {tuple(x_shape)} with pads {list(padding)}")
    return ConvGeometry(batch, channels, height, width, out_channels, group, kernel, strides, dilations,
                        padding, out_sizes[0], out_sizes[1])


@kernel
def centre_image(values, zero_point, out):
    """INT-3.2: $\\hat x = x - z_x$ (one zero point for the whole input), int16."""
    flat_values = values.reshape(-1)
    flat_out = out.reshape(-1)
    for index in range(flat_values.size):
        flat_out[index] = np.int16(flat_values[index]) - zero_point


@kernel
def gather_patches(image, first_channel, channels, kernel_height, kernel_width, stride_height, stride_width,
                   dilation_height, dilation_width, pad_top, pad_left, out_width, out):
    """INT-3.3: row $p = o_y W_{out} + o_x$ of ``out`` holds the window of output pixel $(o_y, o_x)$:

    $$\\mathrm{out}_{p,\\,(c k_h + r) k_w + s} = \\hat x_{c_0 + c,\\ o_y s_h - p_{top} + r d_h,\\ o_x s_w - p_{left} + s d_w}$$

    and 0 where that position falls in the padding. Padding with 0 *after* centring is
    padding the input with its zero point: padded positions add nothing to the sum.
    """
    height, width = image.shape[1], image.shape[2]
    for p in range(out.shape[0]):
        top = (p // out_width) * stride_height - pad_top
        left = (p % out_width) * stride_width - pad_left
        inside = (top >= 0 and top + (kernel_height - 1) * dilation_height < height
                  and left >= 0 and left + (kernel_width - 1) * dilation_width < width)
        column = 0
        for c in range(channels):
            for r in range(kernel_height):
                y = top + r * dilation_height
                if inside:  # the same values as below, without a bounds test per element
                    for s in range(kernel_width):
                        out[p, column + s] = image[first_channel + c, y, left + s * dilation_width]
                    column += kernel_width
                    continue
                for s in range(kernel_width):
                    x = left + s * dilation_width
                    if 0 <= y < height and 0 <= x < width:
                        out[p, column] = image[first_channel + c, y, x]
                    else:
                        out[p, column] = 0
                    column += 1


def weight_zero_points(zero_point, w: np.ndarray) -> np.ndarray:
    """INT-3.2: ``w_zero_point`` is one value or one per output channel (shape ``(M,)``), int16 of shape ``(M,)``."""
    values = zero_point_values(zero_point, w.dtype, "w_zero_point")
    if values.size == 1:
        return np.broadcast_to(values.reshape(()), w.shape[:1])
    if values.shape != w.shape[:1]:
        raise invalid("w_zero_point", f"one value or one per output channel, shape ({w.shape[0]},)", values.shape)
    return values


def input_zero_point(zero_point, x: np.ndarray) -> np.int16:
    """INT-3.2: ``x_zero_point`` is one value (ONNX allows no per-channel input zero point)."""
    values = zero_point_values(zero_point, x.dtype, "x_zero_point")
    if values.size != 1:
        raise invalid("x_zero_point", "a single value", values.shape)
    return np.int16(values.reshape(-1)[0])


@dataclass(frozen=True)
class ConvOperands:
    """INT-3.2: the centred input ``image`` (N, C, H, W) and weights (M, C/group * kH * kW), int16."""

    image: np.ndarray
    weights: np.ndarray
    geometry: ConvGeometry


def conv_operands(x, w, x_zero_point=None, w_zero_point=None, **attributes) -> ConvOperands:
    """INT-3.1 and INT-3.2: check the operands and attributes of ``ConvInteger`` and centre them."""
    x = integer_input(x, "x")
    w = integer_input(w, "w")
    geometry = conv_geometry(x.shape, w.shape, **attributes)
    image = np.empty(x.shape, dtype=np.int16)
    centre_image(np.ascontiguousarray(x), input_zero_point(x_zero_point, x), image)
    weights = np.ascontiguousarray(w).reshape(geometry.out_channels, -1).astype(np.int16)
    weights -= weight_zero_points(w_zero_point, w)[:, None]
    return ConvOperands(image, weights, geometry)


def patches(operands: ConvOperands, n: int, g: int) -> np.ndarray:
    """INT-3.3 for image ``n`` and group ``g``: int16 of shape (out pixels, patch length)."""
    geometry = operands.geometry
    out = np.empty((geometry.out_height * geometry.out_width, geometry.patch_length), dtype=np.int16)
    gather_patches(operands.image[n], g * geometry.group_channels, geometry.group_channels, *geometry.kernel,
                   *geometry.strides, *geometry.dilations, geometry.pads[0], geometry.pads[1], geometry.out_width, out)
    return out


def convolve(operands: ConvOperands, bias: np.ndarray | None = None) -> np.ndarray:
    """INT-3.4: every output element is the INT-2.3 dot product of a weight row and a patch row,
    plus ``bias[m]`` (int32, wrapping) when given. Returns int32 (N, M, H_out, W_out)."""
    geometry = operands.geometry
    pixels = geometry.out_height * geometry.out_width
    result = np.empty((geometry.batch, geometry.out_channels, pixels), dtype=np.int32)
    per_group = geometry.group_out_channels
    for n in range(geometry.batch):
        for g in range(geometry.group):
            channels = slice(g * per_group, (g + 1) * per_group)
            wrapping_dot_products(operands.weights[channels], patches(operands, n, g), result[n, channels])
    if bias is not None:
        # int32 + int32 in numpy wraps, as the accumulator does (INT-2.3).
        result += bias[None, :, None]
    return result.reshape(geometry.batch, geometry.out_channels, geometry.out_height, geometry.out_width)


def conv_accumulator(x, w, x_zero_point=None, w_zero_point=None, bias=None, *, u8s8_products: str = "exact",
                     u8s8_conv_pairs: str = "input_channels_last", geometry: ConvGeometry | None = None,
                     **attributes) -> np.ndarray:
    """INT-3.4 plus the wrapping int32 ``bias`` (one value per output channel, or None): by the VNNI
    route of INT-3.5 where this CPU has it and kernels are compiled, else by :func:`convolve`. Both
    give the same int32 values. With ``u8s8_products = "int16_pairs"``, INT-3.6's pair losses (in the
    order ``u8s8_conv_pairs`` says) join them. ``geometry``, when given, is :func:`conv_geometry`'s
    for these shapes and attributes (a caller that has checked them already)."""
    from refq.integer_ops import pairs, vnni

    x = integer_input(x, "x")
    w = integer_input(w, "w")
    if geometry is None:
        geometry = conv_geometry(x.shape, w.shape, **attributes)
    if not vnni.use_vnni() or geometry.patch_length > vnni.MAX_PATCH_LENGTH:
        result = convolve(conv_operands(x, w, x_zero_point, w_zero_point, **attributes), bias)
    else:
        result = vnni.convolve_bytes(x, w, input_zero_point(x_zero_point, x), weight_zero_points(w_zero_point, w),
                                     geometry, bias)
    if not pairs.conv_saturates(u8s8_products, u8s8_conv_pairs, x, w):
        return result
    return pairs.wrap_loss(result, pairs.conv_pair_losses(x, w, input_zero_point(x_zero_point, x), geometry,
                                                          u8s8_conv_pairs))


def conv_integer(x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                 kernel_shape=None, pads=None, strides=None, u8s8_products: str = "exact",
                 u8s8_conv_pairs: str = "input_channels_last") -> np.ndarray:
    """INT-3.4: ONNX ``ConvInteger`` on NCHW int8/uint8 input: int32 output
    $y_{n,m,o_y,o_x} = \\sum_{c,r,s} (x - z_x)(w_{m,c,r,s} - z_{w,m})$ wrapped to int32.

    ``x`` is (N, C, H, W); ``w`` is (M, C / group, kH, kW); ``x_zero_point`` is one
    value of x's type, ``w_zero_point`` one value or one per output channel of w's
    type. ``pads`` is (top, left, bottom, right); ``auto_pad`` "SAME_UPPER",
    "SAME_LOWER" or "VALID" replaces it. ``group`` splits the channels into
    independent convolutions (``group == C == M`` is a depthwise convolution).
    ``u8s8_products`` and ``u8s8_conv_pairs`` are INT-3.6's variants.
    """
    return conv_accumulator(x, w, x_zero_point, w_zero_point, auto_pad=auto_pad, dilations=dilations, group=group,
                            kernel_shape=kernel_shape, pads=pads, strides=strides, u8s8_products=u8s8_products,
                            u8s8_conv_pairs=u8s8_conv_pairs)


def conv_overflow_mask(operands: ConvOperands, bias: np.ndarray | None = None) -> np.ndarray | None:
    """INT-2.5 for a convolution: where some order of the int32 additions (the bias counted
    as one more term) leaves int32; None when no element can overflow."""
    geometry = operands.geometry
    bias_magnitude = 0 if bias is None else int(np.abs(bias.astype(np.int64)).max(initial=0))
    bound = (geometry.patch_length * int(np.abs(operands.weights).max(initial=0))
             * int(np.abs(operands.image).max(initial=0)) + bias_magnitude)
    if bound <= INT32_MAX:
        return None
    mask = np.zeros((geometry.batch, geometry.out_channels, geometry.out_height * geometry.out_width), dtype=bool)
    per_group = geometry.group_out_channels
    extra = np.zeros((geometry.out_channels, 1), dtype=np.int64) if bias is None else bias.astype(np.int64)[:, None]
    for n in range(geometry.batch):
        for g in range(geometry.group):
            channels = slice(g * per_group, (g + 1) * per_group)
            # The bias joins as one more product: bias * 1.
            rows = np.concatenate([operands.weights[channels].astype(np.int64), extra[channels]], axis=1)
            columns = patches(operands, n, g).astype(np.int64)
            columns = np.concatenate([columns, np.ones((columns.shape[0], 1), dtype=np.int64)], axis=1)
            overflow = accumulation_may_overflow(rows, columns)
            if overflow is not None:
                mask[n, channels] = overflow
    return mask.reshape(geometry.batch, geometry.out_channels, geometry.out_height, geometry.out_width)

