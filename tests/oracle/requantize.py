"""Oracle for REQ (requantization), written apart from refq.

Pure Python ints and fractions; no numpy, no refq. Float steps reuse the AFF
oracle's from-scratch rounding to float32/float64 (``round32``, ``round64``) and
the NUM-2 oracle's ``round_fraction``. Fixed-point steps are stated as exact
rational roundings of $a \\cdot M / 2^s$, not as the shifts and nudges the
backends use, so that a test comparing the two checks the bit tricks.
"""

from __future__ import annotations

from fractions import Fraction

from tests.oracle.affine import round32, round64
from tests.oracle.rounding import round_fraction

INFINITY = float("inf")


def float_multiplier(a_scale: Fraction, b_scale: Fraction, y_scale: Fraction, precision: str) -> Fraction:
    """REQ-1.1: fl(fl(s_a * s_b) / s_y)."""
    rounder = round32 if precision == "float32" else round64
    return rounder(rounder(a_scale * b_scale) / y_scale)


def requantize_float(accumulator: int, multiplier: Fraction, zero_point: int, qmin: int, qmax: int, *,
                     precision: str = "float32", rounding: str = "half_to_even",
                     zero_point_placement: str = "after_rounding") -> int:
    """REQ-1.2, REQ-1.3: scale in the working precision, round, add the zero point, saturate."""
    rounder = round32 if precision == "float32" else round64
    converted = rounder(Fraction(accumulator))  # exact in float64, rounded past 2^24 in float32
    value = rounder(converted * multiplier)
    if zero_point_placement == "before_rounding":
        value = value if value in (INFINITY, -INFINITY) else rounder(value + zero_point)
        pending = 0
    else:
        pending = zero_point
    if value == INFINITY:
        return qmax
    if value == -INFINITY:
        return qmin
    return min(max(round_fraction(value, rounding) + pending, qmin), qmax)


# --- REQ-2: fixed point -------------------------------------------------------------------


def split(value: Fraction) -> tuple[Fraction, int]:
    """value = f * 2^e with 1/2 <= f < 1, found by comparing with powers of two."""
    exponent = 0
    while value >= Fraction(2) ** exponent:
        exponent += 1
    while value < Fraction(2) ** (exponent - 1):
        exponent -= 1
    return value / Fraction(2) ** exponent, exponent


def fixed_point_multiplier(real: Fraction, bits: int, rounding: str, limits: str) -> tuple[int, int] | None:
    """REQ-2.2, REQ-2.3 from the definitions; None where the backend refuses the multiplier."""
    if real == 0:
        return 0, bits - 1
    fraction, exponent = split(real)
    multiplier = round_fraction(fraction * 2 ** (bits - 1), rounding)
    if multiplier == 2 ** (bits - 1):  # rounded up to 1.0: renormalise
        multiplier, exponent = 2 ** (bits - 2), exponent + 1
    shift = bits - 1 - exponent
    if limits == "tosa":
        if shift > 62:
            multiplier = multiplier // 2 ** min(31, shift - 62)
            shift = 62
        return None if shift < 2 else (multiplier, shift)
    if shift > 62:  # TFLite: exponent below -31
        return 0, 31
    if shift < 1:
        return (2**31 - 1, 1) if limits == "tflite_single_round" else None
    return multiplier, shift


def apply_single_round(value: int, multiplier: int, shift: int) -> int:
    """v * M / 2^s rounded once, ties toward +infinity."""
    return round_fraction(Fraction(value * multiplier, 2**shift), "half_toward_positive")


def apply_double_round(value: int, multiplier: int, shift: int) -> int:
    """Round at bit 31 (ties toward +infinity), then the rest of the way (ties away from zero);
    one rounding when s <= 31."""
    if shift <= 31:
        return apply_single_round(value, multiplier, shift)
    high = round_fraction(Fraction(value * multiplier, 2**31), "half_toward_positive")
    return round_fraction(Fraction(high, 2 ** (shift - 31)), "half_away_from_zero")


def apply_double_round_ties_up(value: int, multiplier: int, shift: int) -> int:
    """TensorFlow Lite's optimized kernels: round at bit 31, then the rest of the way, both ties toward
    +infinity; one rounding when s <= 31."""
    if shift <= 31:
        return apply_single_round(value, multiplier, shift)
    high = round_fraction(Fraction(value * multiplier, 2**31), "half_toward_positive")
    return round_fraction(Fraction(high, 2 ** (shift - 31)), "half_toward_positive")


def gemmlowp_high_mul(a: int, b: int) -> int:
    """The doubling high multiply as a rounding of a*b / 2^31 (ties toward +infinity), saturated."""
    if a == b == -(2**31):
        return 2**31 - 1
    return round_fraction(Fraction(a * b, 2**31), "half_toward_positive")


def gemmlowp_divide_by_power_of_two(x: int, exponent: int) -> int:
    return round_fraction(Fraction(x, 2**exponent), "half_away_from_zero")


def rescale(value: int, multiplier: int, shift: int, zero_point: int, qmin: int, qmax: int, double_round: bool) -> int:
    """REQ-2.6: scale, add the output zero point, saturate."""
    scaled = apply_double_round(value, multiplier, shift) if double_round else apply_single_round(value, multiplier, shift)
    return min(max(scaled + zero_point, qmin), qmax)


def tosa_rescale(value: int, input_zp: int, multiplier: int, shift: int, output_zp: int, qmin: int, qmax: int,
                 scale32: bool, double_round: bool) -> int | None:
    """REQ-2.8, REQ-2.9: TOSA RESCALE of one element, read from the specification's pseudocode; None where a
    REQUIRE fails (multiplier >= 0, 2 <= shift <= 62, the value's range in the 32-bit form, an int32 result in
    the 16-bit form)."""
    v = value - input_zp
    if multiplier < 0 or not 2 <= shift <= 62:
        return None
    if scale32:
        if not -(2 ** (shift - 1)) <= v < 2 ** (shift - 1):
            return None
        scaled = apply_double_round(v, multiplier, shift) if double_round else apply_single_round(v, multiplier, shift)
    else:
        scaled = apply_single_round(v, multiplier, shift)
        if not -(2**31) <= scaled < 2**31:
            return None
    return min(max(scaled + output_zp, qmin), qmax)
