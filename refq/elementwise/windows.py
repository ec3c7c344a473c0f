"""ELT-6: sliding-window pooling on quantized tensors: the standard ``MaxPool`` on int8 /
uint8 and ONNX Runtime's ``com.microsoft.QLinearAveragePool``.

Both take ``(N, C, D1[, D2[, D3]])`` input (or channels last for the average) and a window
described by ``kernel_shape``, ``strides``, ``pads`` (begin values then end values) and, for
the maximum, ``dilations``. Internally every input is viewed as ``(rows, D1, D2, D3)`` with
missing spatial axes of length 1, so one kernel serves 1, 2 and 3 spatial axes.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from refq._jit import kernel
from refq.elementwise.binary import convert_and_saturate
from refq.elementwise.operands import quantized_tensor, single_scale, single_zero_point
from refq.elementwise.pooling import qlinear_global_average_pool
from refq.errors import invalid
from refq.integer_ops.conv import AUTO_PADS, same_pads
from refq.registry.variants import variant_code
from refq.numbers.rounding import HALF_TO_EVEN
from refq.requantize.fixed_point import apply_scale_32, truncating_divide
from refq.requantize.float_multiplier import AFTER_ROUNDING, FLOAT32, requantize_float_value


def _integers(values, argument: str, count: int, default: int, minimum: int) -> tuple[int, ...]:
    if values is None:
        return (default,) * count
    try:
        items = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise invalid(argument, f"a list of {count} integers", values) from None
    if len(items) != count or any(v < minimum for v in items):
        raise invalid(argument, f"a list of {count} integers >= {minimum}", values)
    return items


def pooled_size(size: int, kernel_size: int, stride: int, pad_begin: int, pad_end: int, dilation: int,
                ceil_mode: int) -> int:
    """ELT-6.1: the output length of one spatial axis,
    $m = n + p_b + p_e - d(k - 1) - 1$ divided by $s$ truncated toward zero, plus one; with
    ``ceil_mode`` $\\lceil m / s \\rceil + 1$, less one when the last window would start at or after
    $n + p_b$. A negative result is an error."""
    span = size + pad_begin + pad_end - dilation * (kernel_size - 1) - 1
    # ONNX Runtime divides with C's truncating integer division (ceiling in ceil mode), so a
    # dilated window longer than the padded input still gives 0 or 1 outputs, not an error.
    quotient = Fraction(span, stride)
    count = (math.ceil(quotient) if ceil_mode else math.trunc(quotient)) + 1
    if ceil_mode and (count - 1) * stride >= size + pad_begin:
        count -= 1
    if count < 0:
        raise invalid("kernel_shape", "a window that fits the padded input", kernel_size)
    return count


def automatic_pads(size: int, kernel_size: int, stride: int, auto_pad: str) -> tuple[int, int]:
    """ELT-6.7: the padding ONNX Runtime's pools derive from ``auto_pad``. ``VALID`` pads nothing.
    ``SAME_UPPER`` / ``SAME_LOWER`` need $t = (\\lceil n / s \\rceil - 1) s + k - n$ positions, with
    the *undilated* kernel length $k$, split as INT-3.1 splits them (the odd one at the end for
    UPPER, at the start for LOWER). Unlike INT-3.1, a kernel shorter than the stride can make $t$
    negative; it is then split with C's truncating division, $p_b = \\mathrm{trunc}(t / 2)$ (UPPER)
    or $\\mathrm{trunc}((t + 1) / 2)$ (LOWER), $p_e = t - p_b$, and a negative $p_b$ moves every window
    right by $-p_b$."""
    if auto_pad == "VALID":
        return 0, 0
    upper = auto_pad == "SAME_UPPER"
    needed = (-(-size // stride) - 1) * stride + kernel_size - size
    if needed >= 0:
        return same_pads(size, stride, kernel_size, upper)
    # ONNX Runtime keeps the negative total (the convolution rule clamps it to 0).
    begin = truncating_divide(needed if upper else needed + 1, 2)
    return begin, needed - begin


class Window:
    """The validated window attributes of one pooling call, spatial axes padded to three."""

    def __init__(self, spatial: tuple[int, ...], kernel_shape, strides, pads, dilations, ceil_mode, auto_pad):
        rank = len(spatial)
        if not 1 <= rank <= 3:
            raise invalid("X", "an array with 1, 2 or 3 spatial axes", f"{rank} spatial axes")
        if not isinstance(auto_pad, str) or auto_pad not in AUTO_PADS:
            raise invalid("auto_pad", "one of " + ", ".join(AUTO_PADS), auto_pad)
        if ceil_mode not in (0, 1) or isinstance(ceil_mode, bool):
            raise invalid("ceil_mode", "0 or 1", ceil_mode)
        if kernel_shape is None:
            raise invalid("kernel_shape", f"a list of {rank} integers >= 1", None)
        self.kernel = _integers(kernel_shape, "kernel_shape", rank, 1, 1)
        self.strides = _integers(strides, "strides", rank, 1, 1)
        self.dilations = _integers(dilations, "dilations", rank, 1, 1)
        all_pads = _integers(pads, "pads", 2 * rank, 0, 0)
        self.pads_begin, self.pads_end = all_pads[:rank], all_pads[rank:]
        for axis in range(rank):
            if max(self.pads_begin[axis], self.pads_end[axis]) >= self.kernel[axis]:
                raise invalid("pads", "values smaller than the kernel along their axis", pads)
        if auto_pad != "NOTSET":
            if any(all_pads):
                raise invalid("pads", f"unset (or zeros) when auto_pad is {auto_pad}", pads)
            automatic = [automatic_pads(spatial[a], self.kernel[a], self.strides[a], auto_pad) for a in range(rank)]
            self.pads_begin = tuple(begin for begin, _ in automatic)
            self.pads_end = tuple(end for _, end in automatic)
        self.output = tuple(pooled_size(spatial[a], self.kernel[a], self.strides[a], self.pads_begin[a],
                                        self.pads_end[a], self.dilations[a], ceil_mode) for a in range(rank))
        fill = 3 - rank
        self.kernel3 = np.array(self.kernel + (1,) * fill, np.int64)
        self.strides3 = np.array(self.strides + (1,) * fill, np.int64)
        self.dilations3 = np.array(self.dilations + (1,) * fill, np.int64)
        self.pads3 = np.array(self.pads_begin + (0,) * fill, np.int64)
        self.output3 = self.output + (1,) * fill


@kernel
def max_pool_windows(x4, kernel3, strides3, pads3, dilations3, lowest, out4):
    """ELT-6.2: each output is the largest code at the window positions
    $h = o s - p_b + j d$ ($0 \\le j < k$) that lie inside the input; padding never wins."""
    rows, height, width, depth = x4.shape
    for r in range(rows):
        for oh in range(out4.shape[1]):
            for ow in range(out4.shape[2]):
                for od in range(out4.shape[3]):
                    best = np.int64(lowest)
                    for jh in range(kernel3[0]):
                        h = oh * strides3[0] - pads3[0] + jh * dilations3[0]
                        if h < 0 or h >= height:
                            continue
                        for jw in range(kernel3[1]):
                            w = ow * strides3[1] - pads3[1] + jw * dilations3[1]
                            if w < 0 or w >= width:
                                continue
                            for jd in range(kernel3[2]):
                                d = od * strides3[2] - pads3[2] + jd * dilations3[2]
                                if d < 0 or d >= depth:
                                    continue
                                value = np.int64(x4[r, h, w, d])
                                if value > best:
                                    best = value
                    out4[r, oh, ow, od] = best


def max_pool(X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None,
             storage_order=0, strides=None) -> np.ndarray:
    """ELT-6.3: ONNX ``MaxPool`` (opset 12+) on int8 or uint8 ``(N, C, D1[, D2[, D3]])`` input:
    the exact maximum over each window (ELT-6.2), output shape by ELT-6.1.

    ``storage_order`` only affects the optional indices output, which refq does not produce.
    """
    x = quantized_tensor(X, "X")
    if x.ndim < 3:
        raise invalid("X", "an array of rank 3 to 5 (N, C, spatial...)", f"shape {x.shape}")
    if storage_order not in (0, 1):
        raise invalid("storage_order", "0 or 1", storage_order)
    window = Window(x.shape[2:], kernel_shape, strides, pads, dilations, ceil_mode, auto_pad)
    rows = x.shape[0] * x.shape[1]
    x4 = np.ascontiguousarray(x).reshape((rows,) + x.shape[2:] + (1,) * (5 - x.ndim))
    out4 = np.empty((rows,) + window.output3, dtype=x.dtype)
    max_pool_windows(x4, window.kernel3, window.strides3, window.pads3, window.dilations3,
                     np.iinfo(x.dtype).min, out4)
    return out4.reshape(x.shape[:2] + window.output)


@kernel
def window_range(index, stride, pad_begin, kernel, size):
    """ELT-6.1: the input positions ``[start, end)`` that window ``index`` of an undilated window
    covers along one axis of length ``size``, clipped to the input."""
    start = index * stride - pad_begin
    return max(start, 0), min(start + kernel, size)


@kernel
def average_pool_windows(x4, x_scale, x_zero_point, y_scale, y_zero_point, kernel3, strides3, pads3,
                         count_include_pad, qmin, qmax, out4):
    """ELT-6.5: each code is dequantized to float32, $v = \\mathrm{fl}(s_x (q - z_x))$; the window's
    values inside the input are summed in float32 in row-major order from 0; the sum is divided
    in float32 by the count $c$ (the kernel size with ``count_include_pad``, else the number of
    positions inside the input); $t = \\mathrm{fl}(\\mathrm{fl}(\\mathrm{avg} / s_y) + z_y)$ becomes
    a code by ELT-2.1."""
    rows, height, width, depth = x4.shape
    kernel_size = kernel3[0] * kernel3[1] * kernel3[2]
    for r in range(rows):
        for oh in range(out4.shape[1]):
            h_start, h_end = window_range(oh, strides3[0], pads3[0], kernel3[0], height)
            for ow in range(out4.shape[2]):
                w_start, w_end = window_range(ow, strides3[1], pads3[1], kernel3[1], width)
                for od in range(out4.shape[3]):
                    d_start, d_end = window_range(od, strides3[2], pads3[2], kernel3[2], depth)
                    total = np.float32(0.0)
                    for h in range(h_start, h_end):
                        for w in range(w_start, w_end):
                            for d in range(d_start, d_end):
                                centred = np.float32(np.int64(x4[r, h, w, d]) - np.int64(x_zero_point))
                                total = np.float32(total + np.float32(x_scale * centred))
                    if count_include_pad:
                        count = kernel_size
                    else:
                        count = (h_end - h_start) * (w_end - w_start) * (d_end - d_start)
                    average = np.float32(total / np.float32(count))
                    shifted = np.float32(np.float32(average / y_scale) + np.float32(y_zero_point))
                    out4[r, oh, ow, od] = convert_and_saturate(shifted, qmin, qmax)


# Kernel codes of the average_division variant (ELT-6.8), from the registry.
FLOAT32_AVERAGE = variant_code("average_division", "float32", "average_division")
ROUNDED_INTEGER_DIVISION = variant_code("average_division", "rounded_integer_division", "average_division")
TOSA_RECIPROCAL = variant_code("average_division", "tosa_reciprocal", "average_division")
# Kernel codes of the average_sum variant.
INTEGER_SUM = variant_code("average_sum", "integer_sum", "average_sum")
FLOAT32_WINDOW_SUM = variant_code("average_sum", "float32_window_sum", "average_sum")


@kernel
def rounded_integer_quotient(total, count):
    """ELT-6.9: TensorFlow Lite's rounded division of a window sum by its count $c > 0$:
    $(a + \\lfloor c / 2 \\rfloor) / c$ for $a > 0$, else $(a - \\lfloor c / 2 \\rfloor) / c$, both with
    C's truncating division. That is $a / c$ rounded to nearest with ties away from zero."""
    half = np.int64(count) // 2
    if total > 0:
        return truncating_divide(np.int64(total) + half, np.int64(count))
    return truncating_divide(np.int64(total) - half, np.int64(count))


@kernel
def reciprocal_scale(count):
    """ELT-6.10: TOSA's ``reciprocal_scale``: with $k$ the bit length of $c - 1$ (so
    $2^{k-1} < c \\le 2^k$), the multiplier $M = \\lfloor (2^{30} + 1) \\, 2^k / c \\rfloor$ in
    $[2^{30}, 2^{31})$ and the shift $30 + k$. Returns ``(M, shift)``."""
    bits = 0
    rest = np.int64(count) - 1
    while rest > 0:
        bits += 1
        rest >>= 1
    multiplier = ((np.int64(1 << 30) + 1) << bits) // np.int64(count)
    return multiplier, np.int64(30 + bits)


@kernel
def integer_average_windows(x4, input_zero_point, output_zero_point, kernel3, strides3, pads3, rule, qmin, qmax,
                            out4):
    """ELT-6.9 / ELT-6.10: each window's codes inside the input, less ``input_zero_point``, are
    summed exactly (int32 cannot overflow below $2^{23}$ positions); $c$ counts those positions
    (padding never counts). The quotient is ELT-6.9's rounded division or TOSA's
    ``apply_scale_32(a, M, shift)`` with single rounding (REQ-2.4) and ELT-6.10's scale; then
    ``output_zero_point`` is added and the result clamped to $[q_{min}, q_{max}]$."""
    rows, height, width, depth = x4.shape
    for r in range(rows):
        for oh in range(out4.shape[1]):
            h_start, h_end = window_range(oh, strides3[0], pads3[0], kernel3[0], height)
            for ow in range(out4.shape[2]):
                w_start, w_end = window_range(ow, strides3[1], pads3[1], kernel3[1], width)
                for od in range(out4.shape[3]):
                    d_start, d_end = window_range(od, strides3[2], pads3[2], kernel3[2], depth)
                    total = np.int64(0)
                    for h in range(h_start, h_end):
                        for w in range(w_start, w_end):
                            for d in range(d_start, d_end):
                                total += np.int64(x4[r, h, w, d]) - np.int64(input_zero_point)
                    count = (h_end - h_start) * (w_end - w_start) * (d_end - d_start)
                    if rule == ROUNDED_INTEGER_DIVISION:
                        quotient = rounded_integer_quotient(total, count)
                    else:
                        multiplier, shift = reciprocal_scale(count)
                        quotient = apply_scale_32(total, multiplier, shift, False)
                    result = quotient + np.int64(output_zero_point)
                    out4[r, oh, ow, od] = min(max(result, np.int64(qmin)), np.int64(qmax))


@kernel
def integer_sum_windows(x4, x_scale, x_zero_point, y_scale, y_zero_point, kernel3, strides3, pads3,
                        count_include_pad, qmin, qmax, out4):
    """The variant ``average_sum = integer_sum`` of a windowed pool: each window's exact integer sum
    $a = \\sum (q - z_x)$ over the positions inside the input, requantized as ELT-4.2 does a channel:
    by REQ-1.3 (float32, ties to even, zero point after rounding) with the multiplier
    $m = \\mathrm{fl}(s_x / \\mathrm{fl}(s_y \\cdot \\mathrm{fl}(c)))$ of the window's count $c$ (ELT-4.1)."""
    rows, height, width, depth = x4.shape
    kernel_size = kernel3[0] * kernel3[1] * kernel3[2]
    for r in range(rows):
        for oh in range(out4.shape[1]):
            h_start, h_end = window_range(oh, strides3[0], pads3[0], kernel3[0], height)
            for ow in range(out4.shape[2]):
                w_start, w_end = window_range(ow, strides3[1], pads3[1], kernel3[1], width)
                for od in range(out4.shape[3]):
                    d_start, d_end = window_range(od, strides3[2], pads3[2], kernel3[2], depth)
                    total = np.int64(0)
                    for h in range(h_start, h_end):
                        for w in range(w_start, w_end):
                            for d in range(d_start, d_end):
                                total += np.int64(x4[r, h, w, d]) - np.int64(x_zero_point)
                    if count_include_pad:
                        count = kernel_size
                    else:
                        count = (h_end - h_start) * (w_end - w_start) * (d_end - d_start)
                    multiplier = np.float32(x_scale / np.float32(y_scale * np.float32(count)))
                    out4[r, oh, ow, od] = requantize_float_value(total, np.float64(multiplier), y_zero_point, qmin,
                                                                 qmax, FLOAT32, HALF_TO_EVEN, AFTER_ROUNDING)


def _integer_rule_arguments(average_division: str, dtype, scale_x, scale_y, zero_x, zero_y, count_include_pad):
    """ELT-6.8: the integer rules average codes of one scale, so they take no output scale."""
    if count_include_pad:
        raise invalid("count_include_pad", f"0 with average_division={average_division!r} (padding never counts)",
                      count_include_pad)
    if scale_x != scale_y:
        raise invalid("y_scale", f"equal to x_scale ({float(scale_x)!r}) with average_division={average_division!r}",
                      float(scale_y))
    if average_division == "rounded_integer_division":
        if zero_x != zero_y:
            raise invalid("y_zero_point", f"equal to x_zero_point ({zero_x}) with "
                          "average_division='rounded_integer_division'", zero_y)
        # TensorFlow Lite divides the raw codes: no zero point enters the arithmetic.
        return 0, 0
    if dtype != np.int8:
        raise invalid("X", "an int8 array with average_division='tosa_reciprocal' (TOSA AVG_POOL2D's 8-bit type)",
                      f"dtype {dtype}")
    return zero_x, zero_y


def qlinear_average_pool(X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, auto_pad="NOTSET",
                         ceil_mode=0, channels_last=0, count_include_pad=0, kernel_shape=None, pads=None,
                         strides=None, average_division="float32", average_sum: str | None = None) -> np.ndarray:
    """ELT-6.6: ``com.microsoft.QLinearAveragePool`` on int8 or uint8 input ``(N, C, D1[, D2[, D3]])``,
    or ``(N, D1, ..., C)`` with ``channels_last=1``.

    With ``average_division="float32"`` (ONNX Runtime) a window covering the whole input without
    padding is ``QLinearGlobalAveragePool`` (ELT-4.2, integer sum, one multiplier) and every other
    window is ELT-6.5 in float32. ``"rounded_integer_division"`` (TensorFlow Lite, ELT-6.9) and
    ``"tosa_reciprocal"`` (TOSA ``AVG_POOL2D``, ELT-6.10) average every window in integers (ELT-6.8).
    ``average_sum`` (a registry variant) makes every float32-rule window one kind: ``float32_window_sum``
    (ELT-6.5, the whole-input window too) or ``integer_sum`` (:func:`integer_sum_windows`); None is
    ONNX Runtime's choice above. The integer rules sum integers (``integer_sum`` or None only).
    """
    summing = None if average_sum is None else variant_code("average_sum", average_sum, "average_sum")
    x = quantized_tensor(X, "X")
    if x.ndim < 3:
        raise invalid("X", "an array of rank 3 to 5 (N, C, spatial...)", f"shape {x.shape}")
    for name, value in (("channels_last", channels_last), ("count_include_pad", count_include_pad)):
        if value not in (0, 1) or isinstance(value, bool):
            raise invalid(name, "0 or 1", value)
    scale_x, scale_y = single_scale(x_scale, "x_scale"), single_scale(y_scale, "y_scale")
    zero_x = single_zero_point(x_zero_point, x.dtype, "x_zero_point")
    zero_y = single_zero_point(y_zero_point, x.dtype, "y_zero_point")
    rule = variant_code("average_division", average_division, "average_division")
    if rule != FLOAT32_AVERAGE and summing == FLOAT32_WINDOW_SUM:
        raise invalid("average_sum", f"'integer_sum' or None with average_division={average_division!r} (its rule "
                      f"sums integers)", average_sum)
    if rule != FLOAT32_AVERAGE:
        offsets = _integer_rule_arguments(average_division, x.dtype, scale_x, scale_y, zero_x, zero_y,
                                          count_include_pad)
    nchw = np.moveaxis(x, -1, 1) if channels_last else x
    spatial = nchw.shape[2:]
    window = Window(spatial, kernel_shape, strides, pads, None, ceil_mode, auto_pad)
    whole_input = window.kernel == tuple(spatial) and not any(window.pads_begin + window.pads_end)
    if rule == FLOAT32_AVERAGE and whole_input and summing is None:
        return qlinear_global_average_pool(x, scale_x, x.dtype.type(zero_x), scale_y, x.dtype.type(zero_y),
                                           channels_last=channels_last)
    rows = nchw.shape[0] * nchw.shape[1]
    x4 = np.ascontiguousarray(nchw).reshape((rows,) + spatial + (1,) * (5 - x.ndim))
    out4 = np.empty((rows,) + window.output3, dtype=x.dtype)
    info = np.iinfo(x.dtype)
    if rule == FLOAT32_AVERAGE and summing == INTEGER_SUM:
        integer_sum_windows(x4, scale_x, zero_x, scale_y, zero_y, window.kernel3, window.strides3, window.pads3,
                            bool(count_include_pad), info.min, info.max, out4)
    elif rule == FLOAT32_AVERAGE:
        average_pool_windows(x4, np.float64(scale_x), zero_x, np.float64(scale_y), zero_y, window.kernel3,
                             window.strides3, window.pads3, bool(count_include_pad), info.min, info.max, out4)
    else:
        integer_average_windows(x4, offsets[0], offsets[1], window.kernel3, window.strides3, window.pads3, rule,
                                info.min, info.max, out4)
    result = out4.reshape(nchw.shape[:2] + window.output)
    return np.ascontiguousarray(np.moveaxis(result, 1, -1)) if channels_last else result


__all__ = ["Window", "automatic_pads", "average_pool_windows", "integer_average_windows", "integer_sum_windows",
           "max_pool", "max_pool_windows",
           "pooled_size", "qlinear_average_pool", "reciprocal_scale", "rounded_integer_quotient"]
