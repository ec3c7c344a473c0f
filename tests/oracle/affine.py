"""Oracle for AFF (affine quantize and dequantize), written apart from refq.

Every value is an exact ``Fraction`` (or a float infinity/NaN for the special
values); every rounding to float32 or float64 is done here from scratch on the
integer significand and exponent, ties to even, with overflow to infinity.
Floats enter and leave as IEEE bit patterns through ``struct``; there is no numpy
and no refq import. Rounding to an integer reuses the NUM-2 oracle's
``round_fraction`` (itself independent of refq).

The steps follow the variant descriptions of the spec (AFF-3, AFF-4), not refq's
code: scaling by division or by the float32 reciprocal in float32, float64 or exact
arithmetic, subnormal operands and products kept or flushed to zero; the zero point added after
rounding, before it, or fused; one of seven
rounding modes; clamp-then-convert or convert-then-clamp with int32 conversion
(-2^31 for NaN, infinities and out-of-range values) and int32 wraparound.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

from tests.oracle.rounding import round_fraction

INFINITY = float("inf")
NAN = float("nan")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class BinaryFloat:
    """A binary floating-point format: precision in bits (with the hidden bit), exponent range."""

    precision: int
    min_exponent: int  # of the smallest normal number
    max_exponent: int  # of the largest finite number


FLOAT32 = BinaryFloat(24, -126, 127)
FLOAT64 = BinaryFloat(53, -1022, 1023)

# A value is an exact Fraction when finite, else one of the float specials.
Value = Fraction | float


def is_nan(value: Value) -> bool:
    return isinstance(value, float) and value != value


def is_infinite(value: Value) -> bool:
    return isinstance(value, float) and value in (INFINITY, -INFINITY)


def binary_exponent(magnitude: Fraction) -> int:
    """The e with 2^e <= magnitude < 2^(e+1), for a positive magnitude."""
    numerator, denominator = magnitude.numerator, magnitude.denominator
    exponent = numerator.bit_length() - denominator.bit_length()
    if (denominator << exponent if exponent >= 0 else denominator) > (
            numerator if exponent >= 0 else numerator << -exponent):
        exponent -= 1
    return exponent


def round_to_float(value: Value, fmt: BinaryFloat) -> Value:
    """The nearest number of ``fmt`` to ``value``, ties to the even significand; a result
    at or past 2^(max_exponent + 1) is infinite. Specials pass through."""
    if isinstance(value, float):
        return value
    if value == 0:
        return Fraction(0)
    magnitude = abs(value)
    # The spacing of the format around the value: fixed below the normal range.
    quantum = max(binary_exponent(magnitude), fmt.min_exponent) - (fmt.precision - 1)
    numerator, denominator = magnitude.numerator, magnitude.denominator
    if quantum >= 0:
        denominator <<= quantum
    else:
        numerator <<= -quantum
    # magnitude / 2^quantum = steps + remainder / denominator; ties go to the even count.
    steps, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and steps % 2 == 1):
        steps += 1
    rounded = Fraction(steps << quantum) if quantum >= 0 else Fraction(steps, 1 << -quantum)
    if rounded >= Fraction(2) ** (fmt.max_exponent + 1):
        return INFINITY if value > 0 else -INFINITY
    return rounded if value > 0 else -rounded


def round32(value: Value) -> Value:
    return round_to_float(value, FLOAT32)


def round64(value: Value) -> Value:
    return round_to_float(value, FLOAT64)


# --- float32 bit patterns --------------------------------------------------------------


def float32_from_bits(bits: int) -> Value:
    """Decode a float32 pattern by its fields: sign, 8 exponent bits, 23 fraction bits."""
    sign = -1 if bits >> 31 else 1
    biased = (bits >> 23) & 0xFF
    fraction = bits & 0x7FFFFF
    if biased == 0xFF:
        return NAN if fraction else sign * INFINITY
    significand = fraction if biased == 0 else fraction + 2**23
    power = max(biased, 1) - 150  # subnormals share the exponent of the smallest normals
    if power >= 0:
        return Fraction(sign * (significand << power))
    return Fraction(sign * significand, 1 << -power)


def float32_value(x) -> Value:
    """The exact value of a float32 given as a float (numpy float32 or Python float holding one)."""
    (bits,) = struct.unpack("<I", struct.pack("<f", float(x)))
    value = float32_from_bits(bits)
    if isinstance(value, Fraction) and value != Fraction(float(x)):
        raise ValueError(f"{x!r} is not a float32 value")
    return value


def float32_bits(value: Value, negative_zero: bool = False) -> int:
    """The pattern of a float32 value (which must be one); NaN gives the default quiet NaN."""
    if is_nan(value):
        return 0x7FC00000
    if is_infinite(value):
        return 0x7F800000 | (0x80000000 if value < 0 else 0)
    sign = 0x80000000 if value < 0 or (value == 0 and negative_zero) else 0
    magnitude = abs(value)
    if magnitude == 0:
        return sign
    exponent = max(binary_exponent(magnitude), -126)
    # magnitude = significand * 2^(exponent - 23), significand < 2^24 an integer.
    shift = exponent - 23
    numerator, denominator = magnitude.numerator, magnitude.denominator
    significand, remainder = divmod(numerator << -shift if shift < 0 else numerator, denominator << max(shift, 0))
    assert remainder == 0 and exponent <= 127, "not a float32 value"
    if significand < 2**23:  # subnormal
        return sign | significand
    return sign | ((exponent + 127) << 23) | (significand - 2**23)


# --- arithmetic on values -----------------------------------------------------------------


def multiply(a: Value, b: Value) -> Value:
    """The exact product, with IEEE's rules for the specials (0 * inf is NaN)."""
    if is_nan(a) or is_nan(b):
        return NAN
    if is_infinite(a) or is_infinite(b):
        if a == 0 or b == 0:
            return NAN
        return INFINITY if (a > 0) == (b > 0) else -INFINITY
    return a * b


def add(a: Value, b: Value) -> Value:
    if is_nan(a) or is_nan(b):
        return NAN
    if is_infinite(a) and is_infinite(b) and a != b:
        return NAN
    if is_infinite(a):
        return a
    if is_infinite(b):
        return b
    return a + b


def divide(a: Value, b: Value) -> Value:
    """a / b for a positive finite b (scales are such)."""
    if isinstance(a, float):
        return a
    return a / b


def round_in(precision: str, value: Value) -> Value:
    if precision == "float32":
        return round32(value)
    if precision == "float64":
        return round64(value)
    assert precision == "exact", precision
    return value


def reciprocal32(scale: Value) -> Value:
    """fl32(1 / s); infinite when s is subnormal enough."""
    return round32(1 / scale)


def fma32(a: Value, b: Value, c: Value) -> Value:
    """a * b + c, exact, rounded once to float32."""
    return round32(add(multiply(a, b), c))


def naive_fma32(a: Value, b: Value, c: Value) -> Value:
    """fl32(fl64(a * b) + c) rounded to float64 first: the double rounding fma32 avoids."""
    return round32(round64(add(round64(multiply(a, b)), c)))


# --- quantize -----------------------------------------------------------------------------

QUANTIZE_VARIANTS = (
    "scale_operation", "precision", "zero_point_placement", "rounding", "saturation", "conversion_overflow", "nan",
    "subnormals",
)


def flushed(value: Value) -> Value:
    """AFF-3.9: a value of magnitude below 2^-126 (a float32 subnormal) is zero."""
    if isinstance(value, Fraction) and abs(value) < Fraction(1, 2**126):
        return Fraction(0)
    return value


def scaled_value(x: Value, scale: Value, zero_point: int, variants: dict[str, str]) -> tuple[Value, int]:
    """Step 2 (AFF-3.2, 3.3, 3.7, 3.9): the value to round, and the zero point still to add after rounding."""
    precision = variants["precision"]
    placement = variants["zero_point_placement"]
    flush = flushed if variants.get("subnormals") == "flushed" else (lambda value: value)
    x, reciprocal = flush(x), flush(reciprocal32(scale))
    if placement == "before_rounding_fused":
        return flush(fma32(x, reciprocal, Fraction(zero_point))), 0
    if variants["scale_operation"] == "divide":
        value = round_in(precision, divide(x, scale))
    else:
        value = flush(round_in(precision, multiply(x, reciprocal)))
    if placement == "before_rounding":
        return round_in(precision, add(value, Fraction(zero_point))), 0
    assert placement == "after_rounding", placement
    return value, zero_point


def convert_to_int32(value: Value) -> tuple[int, bool]:
    """An integral value as int32: NaN, infinities and values outside int32 overflow.
    Returns (integer, overflowed); on overflow the integer is the x86 'integer indefinite'."""
    if isinstance(value, float) or not INT32_MIN <= value <= INT32_MAX:
        return INT32_MIN, True
    return int(value), False


def wrap_int32(total: int) -> int:
    return (total + 2**31) % 2**32 - 2**31


def oracle_quantize(x, scale, zero_point: int, qmin: int, qmax: int,
                    variants: dict[str, str]) -> tuple[int | None, bool]:
    """Quantize one float32 ``x`` (AFF-3.1); returns ``(q, unpredictable)``, with ``q``
    None where the outcome is unpredictable (any value of the range conforms)."""
    value = float32_value(x)
    scale_value = float32_value(scale)
    rounded, pending = scaled_value(value, scale_value, zero_point, variants)
    nan_rule = variants["nan"]
    if is_nan(rounded) and nan_rule != "converted":
        if nan_rule == "unpredictable":
            return None, True
        return {"qmin": qmin, "qmax": qmax, "zero": min(max(0, qmin), qmax)}[nan_rule], False
    if isinstance(rounded, Fraction):
        rounded = Fraction(round_fraction(rounded, variants["rounding"]))
    if variants["saturation"] == "clamp_then_convert":
        assert not is_nan(rounded)
        shifted = add(rounded, Fraction(pending))
        return (qmin if shifted <= qmin else qmax if shifted >= qmax else int(shifted)), False
    undefined = variants["conversion_overflow"] == "unpredictable"
    if variants["saturation"] == "convert_int64_then_clamp":
        # The zero point joins in float32; the rounded sum is converted to int64, whose
        # integer-indefinite value -2^63 stands for NaN, infinities and out-of-range sums.
        total = round32(add(rounded, Fraction(pending)))
        if isinstance(total, float) or not -(2**63) <= total < 2**63:
            return (None, True) if undefined else (qmin, False)
        return min(max(int(total), qmin), qmax), False
    assert variants["saturation"] == "convert_then_clamp"
    integer, overflowed = convert_to_int32(rounded)
    total = integer + pending
    if not INT32_MIN <= total <= INT32_MAX:
        overflowed, total = True, wrap_int32(total)
    if overflowed and undefined:
        return None, True
    return min(max(total, qmin), qmax), False


def integer_range(bits: int, signed: bool, narrow: bool = False) -> tuple[int, int]:
    """[qmin, qmax] of a two's complement or unsigned integer; narrow drops the lowest value
    (NUM-1.2: symmetric about 0 for a signed type, about 2^(n-1) for an unsigned one)."""
    lowest, highest = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return lowest + (1 if narrow else 0), highest


# --- dequantize ---------------------------------------------------------------------------


def oracle_dequantize(q: int, scale, zero_point: int, variants: dict[str, str]) -> int:
    """The float32 bit pattern of dequantized ``q`` (AFF-4.2)."""
    scale_value = float32_value(scale)
    precision = variants["dequantize_precision"]
    working = round32 if precision == "float32" else round64
    if variants["dequantize_formula"] == "subtract_then_multiply":
        difference = variants.get("dequantize_difference", "exact")
        if difference == "exact":
            operand = Fraction(q - zero_point)
        elif difference == "int32_wraparound_to_float32":
            operand = round32(Fraction(wrap_int32(q - zero_point)))
        else:
            assert difference == "float32_q", difference
            operand = working(round32(Fraction(q)) - zero_point)
        result = round32(working(operand * scale_value))
    else:
        assert variants["dequantize_formula"] == "multiply_then_subtract"
        # q and z are converted to the working precision first (a rounding past 2^24 in float32).
        q_value, z_value = working(Fraction(q)), working(Fraction(zero_point))
        minuend, subtrahend = working(q_value * scale_value), working(z_value * scale_value)
        if minuend == subtrahend and minuend in (INFINITY, -INFINITY):
            return 0xFFC00000  # inf - inf: x86's default NaN, sign set (measured: LiteRT's optimized DEQUANTIZE)
        result = round32(working(minuend - subtrahend))
    return float32_bits(result)


def float32_of_bits(bits: int) -> float:
    """A float32 pattern as a Python float (exact), for building inputs without numpy."""
    (value,) = struct.unpack("<f", struct.pack("<I", bits))
    return value


def is_float32_nan_bits(bits: int) -> bool:
    return (bits & 0x7F800000) == 0x7F800000 and bits & 0x7FFFFF != 0

