"""Oracle for ELT-2.6/2.7: ``QLinearMul`` element by element with integers and Fractions.

The centred product is an exact integer; each float32 operation ONNX Runtime performs
(``ScaleA * ScaleB``, ``/ ScaleC``, the product times the multiplier, plus the output zero
point) is the exact rational result rounded to the nearest float32, ties to even. No numpy,
no refq.
"""

from __future__ import annotations

from fractions import Fraction

INT32_MIN = -(2**31)
FLOAT32_SIGNIFICAND_BITS = 24
FLOAT32_SMALLEST_EXPONENT = -149  # the quantum of the subnormals
FLOAT32_LARGEST = (2 - Fraction(1, 2**23)) * 2**127


def round_half_to_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def binary_exponent(magnitude: Fraction) -> int:
    """The e with 2^e <= magnitude < 2^(e+1)."""
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    return exponent


def to_float32(value: Fraction) -> Fraction | None:
    """``value`` rounded to float32 (ties to even); None for an overflow to infinity."""
    if value == 0:
        return Fraction(0)
    magnitude = abs(value)
    quantum = Fraction(2) ** max(binary_exponent(magnitude) - (FLOAT32_SIGNIFICAND_BITS - 1),
                                 FLOAT32_SMALLEST_EXPONENT)
    rounded = round_half_to_even(magnitude / quantum) * quantum
    if rounded > FLOAT32_LARGEST:
        return None
    return rounded if value > 0 else -rounded


def output_code(result: Fraction | None, qmin: int, qmax: int) -> int:
    """ELT-2.1: round half to even; infinity and values outside int32 give INT32_MIN; saturate."""
    integer = INT32_MIN if result is None else round_half_to_even(result)
    if not INT32_MIN <= integer < 2**31:
        integer = INT32_MIN
    return min(max(integer, qmin), qmax)


def multiplier(a_scale: Fraction, b_scale: Fraction, c_scale: Fraction) -> Fraction | None:
    """fl(fl(s_A s_B) / s_C); the scales are float32 values given exactly."""
    product = to_float32(a_scale * b_scale)
    return None if product is None else to_float32(product / c_scale)


def qlinear_mul_element(a: int, a_zero_point: int, b: int, b_zero_point: int, ratio: Fraction | None,
                        c_zero_point: int, qmin: int, qmax: int) -> int:
    product = (a - a_zero_point) * (b - b_zero_point)
    if ratio is None:
        # An infinite multiplier: a zero product gives NaN, any other an infinity; both give INT32_MIN.
        return output_code(None, qmin, qmax)
    scaled = to_float32(product * ratio)
    shifted = None if scaled is None else to_float32(scaled + c_zero_point)
    return output_code(shifted, qmin, qmax)
