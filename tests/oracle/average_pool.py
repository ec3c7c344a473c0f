"""Oracle for the pooling geometry with ``auto_pad`` and the integer window averages of
TensorFlow Lite and TOSA, with Python integers and Fractions only (no numpy, no refq).

Written from the sources, not from refq: ONNX Runtime's pool attributes (the ``SAME_*`` padding
computed from the undilated kernel, split with C division), TensorFlow Lite's reference
``AveragePool`` for int8 / uint8, and the TOSA ``AVG_POOL2D`` pseudocode with its
``reciprocal_scale`` and ``apply_scale_32`` helpers.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction


def c_divide(numerator: int, denominator: int) -> int:
    """C's ``/`` on integers: the exact quotient with its fraction dropped."""
    return math.trunc(Fraction(numerator, denominator))


def automatic_pads(size: int, kernel: int, stride: int, auto_pad: str) -> tuple[int, int]:
    if auto_pad == "VALID":
        return 0, 0
    target = c_divide(size + stride - 1, stride)
    needed = (target - 1) * stride + kernel - size
    begin = c_divide(needed, 2) if auto_pad == "SAME_UPPER" else c_divide(needed + 1, 2)
    return begin, needed - begin


def output_length(size: int, kernel: int, stride: int, begin: int, end: int, ceil_mode: int) -> int:
    span = size + begin + end - kernel
    length = (math.ceil(Fraction(span, stride)) if ceil_mode else c_divide(span, stride)) + 1
    if ceil_mode and (length - 1) * stride >= size + begin:
        length -= 1  # the last window would hold padding only
    return length


def window_positions(spatial, kernel, strides, pads_begin, pads_end, ceil_mode):
    """For every output index (row-major), the input indices its window covers inside the input."""
    lengths = [output_length(n, k, s, b, e, ceil_mode)
               for n, k, s, b, e in zip(spatial, kernel, strides, pads_begin, pads_end)]
    windows = []
    for index in itertools.product(*(range(length) for length in lengths)):
        axes = [[o * s - b + j for j in range(k) if 0 <= o * s - b + j < n]
                for o, s, b, k, n in zip(index, strides, pads_begin, kernel, spatial)]
        windows.append(list(itertools.product(*axes)))
    return lengths, windows


def round_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def tosa_reciprocal_scale(count: int) -> tuple[int, int]:
    """TOSA's ``reciprocal_scale``: (2^30 + 1) 2^k / count truncated, k = ceil(log2(count))."""
    k = 0
    while (1 << k) < count:
        k += 1
    return ((1 << 30) + 1) * 2**k // count, 30 + k


def tosa_apply_scale_single_round(value: int, multiplier: int, shift: int) -> int:
    return (value * multiplier + 2 ** (shift - 1)) // 2**shift


def integer_average(total: int, count: int, rule: str) -> int:
    if rule == "rounded_integer_division":
        return round_half_away(Fraction(total, count))
    multiplier, shift = tosa_reciprocal_scale(count)
    return tosa_apply_scale_single_round(total, multiplier, shift)


def _read(values, index):
    for i in index:
        values = values[i]
    return values


def integer_average_pool(x, input_zero_point, output_zero_point, qmin, qmax, kernel, strides, pads_begin, pads_end,
                         ceil_mode, rule):
    """``x`` as nested lists ``(N, C, spatial...)``; the pooled codes as nested lists."""
    spatial = []
    level = x[0][0]
    while isinstance(level, list):
        spatial.append(len(level))
        level = level[0]
    lengths, windows = window_positions(spatial, kernel, strides, pads_begin, pads_end, ceil_mode)
    result = []
    for image in x:
        channels = []
        for plane in image:
            flat = []
            for positions in windows:
                total = sum(_read(plane, p) - input_zero_point for p in positions)
                flat.append(min(max(integer_average(total, len(positions), rule) + output_zero_point, qmin), qmax))
            channels.append(_nest(flat, lengths))
        result.append(channels)
    return result


def _nest(flat, lengths):
    for length in reversed(lengths[1:]):
        flat = [flat[i:i + length] for i in range(0, len(flat), length)]
    return flat
