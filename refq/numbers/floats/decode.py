"""NUM-3.1 to NUM-3.5: the fields, class and exact value of a floating-point bit pattern."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

from refq.errors import invalid, wrong_type
from refq.registry import FloatFormat, float_format

ZERO = "zero"
SUBNORMAL = "subnormal"
NORMAL = "normal"
INFINITY = "infinity"
NAN = "nan"

#: Every class a pattern can belong to, in order of magnitude.
KINDS = (ZERO, SUBNORMAL, NORMAL, INFINITY, NAN)


@dataclass(frozen=True)
class DecodedFloat:
    """Everything a bit pattern says, field by field (NUM-3.5).

    ``value`` is the exact value as a fraction, or None for an infinity or a NaN
    (whose sign is in ``sign``). ``quiet`` and ``payload`` describe NaNs only and
    are False and 0 for every other pattern.
    """

    format: str
    bits: int
    sign: int
    exponent: int
    mantissa: int
    kind: str
    quiet: bool
    payload: int
    value: Fraction | None

    @property
    def is_finite(self) -> bool:
        return self.kind in (ZERO, SUBNORMAL, NORMAL)


def check_pattern(bits: int, fmt: FloatFormat, argument: str = "bits") -> int:
    """Validate a bit pattern: a non-negative ``int`` with at most ``total_bits`` bits."""
    # numbers.Integral admits numpy integer scalars; bool is an int but never a pattern.
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise wrong_type(argument, f"an int bit pattern of a {fmt.name} number", bits)
    bits = int(bits)
    if not 0 <= bits < 1 << fmt.total_bits:
        raise invalid(argument, f"a {fmt.total_bits}-bit pattern 0..{(1 << fmt.total_bits) - 1} "
                      f"for {fmt.name}", bits)
    return bits


def split_fields(bits: int, fmt: FloatFormat) -> tuple[int, int, int]:
    """NUM-3.1: split a pattern into its sign, biased exponent and mantissa fields.

    From the most significant bit down, a pattern of $1 + E + M$ bits holds the
    sign $s$ (1 bit), the biased exponent $e$ ($E$ bits) and the mantissa $m$
    ($M$ bits, also called the trailing significand). An unsigned format
    (``signed`` false) has no sign bit: its patterns have $E + M$ bits and $s = 0$.
    """
    mantissa = bits & ((1 << fmt.mantissa_bits) - 1)
    exponent = (bits >> fmt.mantissa_bits) & ((1 << fmt.exponent_bits) - 1)
    sign = bits >> (fmt.exponent_bits + fmt.mantissa_bits)
    return sign, exponent, mantissa


def classify(sign: int, exponent: int, mantissa: int, fmt: FloatFormat) -> str:
    """NUM-3.2: the class of a pattern, by the format's special-value convention.

    An exponent field of 0 holds zeros ($m = 0$) and subnormals ($m \\ne 0$); any
    other exponent holds normals, except for the patterns each convention sets
    aside: ``ieee`` makes the all-ones exponent infinity ($m = 0$) or NaN
    ($m \\ne 0$); ``fn`` makes only the all-ones exponent *and* mantissa NaN;
    ``fnuz`` makes the pattern of negative zero ($s = 1$, $e = m = 0$) the one NaN;
    ``finite`` sets nothing aside. In a format without zero (``has_zero`` false)
    the exponent field 0 is a binade like any other: its patterns are normal.
    """
    all_ones_exponent = exponent == (1 << fmt.exponent_bits) - 1
    all_ones_mantissa = mantissa == (1 << fmt.mantissa_bits) - 1
    if fmt.specials == "ieee" and all_ones_exponent:
        return INFINITY if mantissa == 0 else NAN
    if fmt.specials == "fn" and all_ones_exponent and all_ones_mantissa:
        return NAN
    if not fmt.has_zero:
        return NORMAL
    if exponent == 0 and mantissa == 0:
        if fmt.specials == "fnuz" and sign == 1:
            return NAN
        return ZERO
    return SUBNORMAL if exponent == 0 else NORMAL


def finite_value(sign: int, exponent: int, mantissa: int, fmt: FloatFormat) -> Fraction:
    """NUM-3.3: the exact value of a zero, subnormal or normal pattern.

    $$v = (-1)^s \\times \\left(1 + \\frac{m}{2^M}\\right) \\times 2^{e - \\text{bias}}
    \\quad (e \\ge 1), \\qquad
    v = (-1)^s \\times \\frac{m}{2^M} \\times 2^{1 - \\text{bias}} \\quad (e = 0).$$

    Subnormals share the scale $2^{1-\\text{bias}}$ of the smallest normal binade,
    so the values are evenly spaced from zero up to the smallest normal. Both
    zeros have the value 0; the sign of a zero is carried by $s$ alone. In a
    format without zero the first formula holds for $e = 0$ too: E8M0's $e = 0$
    is $2^{-127}$.
    """
    if exponent == 0 and fmt.has_zero:
        magnitude = Fraction(mantissa, 1 << fmt.mantissa_bits) * Fraction(2) ** (1 - fmt.bias)
    else:
        magnitude = (1 + Fraction(mantissa, 1 << fmt.mantissa_bits)) * Fraction(2) ** (exponent - fmt.bias)
    return -magnitude if sign else magnitude


def nan_fields(mantissa: int, fmt: FloatFormat) -> tuple[bool, int]:
    """NUM-3.4: whether a NaN is quiet, and its payload.

    In an ``ieee`` format the top mantissa bit is the quiet bit (IEEE 754-2019
    6.2.1: 1 means quiet) and the other $M - 1$ bits are the payload; a NaN with
    the quiet bit clear is signalling. The NaN of an ``fn`` or ``fnuz`` format is a
    single fixed pattern: it is quiet and has no payload (payload 0).
    """
    if fmt.specials != "ieee":
        return True, 0
    quiet_bit = 1 << (fmt.mantissa_bits - 1)
    return bool(mantissa & quiet_bit), mantissa & (quiet_bit - 1)


def decode(bits: int, format: str | FloatFormat = "binary32") -> DecodedFloat:
    """NUM-3.5: decode a bit pattern into its fields, class and exact value."""
    fmt = float_format(format)
    bits = check_pattern(bits, fmt)
    sign, exponent, mantissa = split_fields(bits, fmt)
    kind = classify(sign, exponent, mantissa, fmt)
    quiet, payload = nan_fields(mantissa, fmt) if kind == NAN else (False, 0)
    value = finite_value(sign, exponent, mantissa, fmt) if kind in (ZERO, SUBNORMAL, NORMAL) else None
    return DecodedFloat(fmt.name, bits, sign, exponent, mantissa, kind, quiet, payload, value)
