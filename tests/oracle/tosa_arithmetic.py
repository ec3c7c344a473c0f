"""Oracle for ELT-2.8 and ELT-2.9 (TOSA's integer sum and product), written apart from refq from the TOSA 1.0
specification's ``apply_scale_32`` pseudo-code and MLIR's ``computeMultiplierAndShift`` and TFLite legalisation
(``matchAndRewriteAddSub``, ``convertMultiplyOp``). Python integers throughout; no numpy, no refq import."""

from __future__ import annotations

import math
import struct

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def float32(value: float) -> float:
    """``value`` rounded to float32 (ties to even), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def multiplier_and_shift(scale: float) -> tuple[int, int]:
    """MLIR's computeMultiplierAndShift, 32 bits: frexp, std::round of mantissa * 2^31, the shift clamped at 62."""
    mantissa, exponent = math.frexp(scale)
    # mantissa * 2^31 + 1/2 is exact in float64 below 2^52; floor of it is round half up = std::round (positive).
    multiplier = math.floor(mantissa * 2**31 + 0.5)
    if multiplier == 2**31:
        multiplier //= 2
        exponent += 1
    shift = 31 - exponent
    if shift > 62:
        multiplier >>= min(31, shift - 62)
        shift = 62
    assert shift >= 2, scale
    return multiplier, shift


def apply_scale_32(value: int, multiplier: int, shift: int) -> int:
    """TOSA 1.0 apply_scale_32 with DOUBLE_ROUND; asserts its REQUIREs."""
    assert -(1 << (shift - 1)) <= value < (1 << (shift - 1)), (value, shift)
    rounding = 1 << (shift - 1)
    if shift > 31:
        rounding += (1 << 30) if value >= 0 else -(1 << 30)
    return (value * multiplier + rounding) >> shift


def rescale(value: int, scale: float, input_zero: int, output_zero: int, low: int, high: int) -> int:
    """One RESCALE (scale32, DOUBLE_ROUND) from the float64 ``scale``, saturated to [low, high]."""
    multiplier, shift = multiplier_and_shift(scale)
    return min(max(apply_scale_32(value - input_zero, multiplier, shift) + output_zero, low), high)


def tosa_sum(x: int, x_zero: int, y: int, y_zero: int, x_scale: float, y_scale: float, c_scale: float,
             c_zero: int, low: int, high: int) -> int:
    """ELT-2.8 for one pair of codes; the scales are float32 values given as Python floats."""
    twice_max = 2.0 * max(x_scale, y_scale)
    operands = []
    for code, zero, scale in ((x, x_zero, x_scale), (y, y_zero, y_scale)):
        ratio = scale / twice_max
        if ratio == 0.5:
            operands.append(rescale(code, ratio * (1 << 20), zero, 0, INT32_MIN, INT32_MAX))
        else:
            wide = rescale(code, float(1 << 20), zero, 0, INT32_MIN, INT32_MAX)
            operands.append(rescale(wide, ratio, 0, 0, INT32_MIN, INT32_MAX))
    total = operands[0] + operands[1]
    assert INT32_MIN <= total <= INT32_MAX
    return rescale(total, twice_max / (c_scale * (1 << 20)), 0, c_zero, low, high)


def tosa_product(x: int, x_zero: int, y: int, y_zero: int, x_scale: float, y_scale: float, c_scale: float,
                 c_zero: int, low: int, high: int) -> int:
    """ELT-2.9 for one pair of codes: RESCALEs by 1, the int32 MUL, the RESCALE by fl32(fl32(s_x s_y) / s_C)."""
    a = rescale(x, 1.0, x_zero, 0, INT32_MIN, INT32_MAX)
    b = rescale(y, 1.0, y_zero, 0, INT32_MIN, INT32_MAX)
    return rescale(a * b, float32(float32(x_scale * y_scale) / c_scale), 0, c_zero, low, high)
