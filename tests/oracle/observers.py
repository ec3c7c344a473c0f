"""Oracle for OBS-1 and OBS-5: quantization parameters from a range, written apart from refq.

Exact ``Fraction`` arithmetic for finite ranges; every float32/float64 rounding is the
AFF oracle's from-scratch ``round32``/``round64`` and every rounding to an integer the
NUM-2 oracle's ``round_fraction``. The formulas are transcribed from the spec text of
OBS-1 (torch's observer rule), OBS-5.1 to OBS-5.3 (DynamicQuantizeLinear) and OBS-5.6
(FBGEMM's rule). No numpy, no refq. Only finite ranges whose intermediate values stay
finite are covered (``None`` otherwise): the special values are checked against the
real backends instead.
"""

from __future__ import annotations

from fractions import Fraction

from tests.oracle.affine import INFINITY, round32, round64
from tests.oracle.rounding import round_fraction

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _finite(*values) -> bool:
    return all(isinstance(value, Fraction) for value in values)


def _int32_then_wrap(rounded: int, quant_min: int) -> int:
    """quant_min - int32(rounded) in int32, with x86's -2^31 for an out-of-range conversion."""
    integer = rounded if INT32_MIN <= rounded <= INT32_MAX else INT32_MIN
    return (quant_min - integer + 2**31) % 2**32 - 2**31


def affine(min_val: Fraction, max_val: Fraction, quant_min: int, quant_max: int, eps: Fraction):
    """(scale, zero_point) of the affine rule, or None when an intermediate is not finite."""
    low, high = min(min_val, Fraction(0)), max(max_val, Fraction(0))
    width = round32(high - low)
    divisor = round32(Fraction(quant_max - quant_min))
    if not _finite(width, divisor):
        return None
    scale = max(round32(width / divisor), eps)
    if not _finite(scale) or scale == 0:
        return None
    quotient = round32(low / scale)
    zero_point = _int32_then_wrap(round_fraction(quotient, "half_to_even"), quant_min)
    return scale, min(max(zero_point, quant_min), quant_max)


def symmetric(min_val: Fraction, max_val: Fraction, quant_min: int, quant_max: int, eps: Fraction,
              zero_point: int):
    """(scale, zero_point) of the symmetric rule; the divisor is half the number of steps."""
    low, high = min(min_val, Fraction(0)), max(max_val, Fraction(0))
    divisor = round32(round64(Fraction(quant_max - quant_min)) / 2)
    scale = max(round32(max(-low, high) / divisor), eps)
    if not _finite(scale):
        return None
    return scale, zero_point


def dynamic_quantize_linear_parameters(values: list[Fraction], all_zero_scale_is_one: bool):
    """(scale, zero_point) of DynamicQuantizeLinear for finite float32 inputs."""
    low = min([Fraction(0), *values])
    high = max([Fraction(0), *values])
    if high == low:
        scale = Fraction(1) if all_zero_scale_is_one else round32(Fraction(1) / 255)
    else:
        scale = round32(round32(high - low) / 255)
    if not _finite(scale) or scale == 0:
        return None
    initial = round32(-round32(low / scale))
    return scale, round_fraction(min(max(initial, Fraction(0)), Fraction(255)), "half_to_even")


def dynamic_quantize_linear_values(values: list[Fraction], scale: Fraction, zero_point: int) -> list[int]:
    """QuantizeLinear to uint8 with the dynamic parameters (finite inputs, positive finite scale)."""
    result = []
    for value in values:
        quotient = round32(value / scale)
        if not _finite(quotient):
            result.append(255 if quotient > 0 else 0)
            continue
        result.append(min(max(round_fraction(quotient, "half_to_even") + zero_point, 0), 255))
    return result


SMALL_SCALE_THRESHOLD = round32(Fraction(61, 10**6))


def fbgemm(min_val: Fraction, max_val: Fraction, quant_min: int, quant_max: int):
    """(scale, zero_point) of FBGEMM's ChooseQuantizationParams for a finite range min <= max."""
    low, high = min(min_val, Fraction(0)), max(max_val, Fraction(0))
    scale = round64(Fraction(high - low) / (quant_max - quant_min))
    narrow = round32(scale)
    if narrow == 0 or round32(1 / narrow) == INFINITY:
        scale = round64(Fraction(1, 10))
    if scale < SMALL_SCALE_THRESHOLD:
        original = round32(scale)
        scale = SMALL_SCALE_THRESHOLD
        levels = round32(Fraction(quant_max - quant_min))
        if low == 0:
            high = round32(scale * levels)
        elif high == 0:
            low = round32(-scale * levels)
        else:
            amplifier = round32(scale / original)
            low, high = round32(low * amplifier), round32(high * amplifier)
    from_min = round64(quant_min - round64(low / scale))
    from_max = round64(quant_max - round64(high / scale))
    error_min = round64(abs(quant_min) - abs(round64(low / scale)))
    error_max = round64(abs(quant_max) - abs(round64(high / scale)))
    initial = from_min if error_min < error_max else from_max
    if initial < quant_min:
        return scale, quant_min
    if initial > quant_max:
        return scale, quant_max
    return scale, round_fraction(initial, "half_to_even")
