"""NUM-3.6 to NUM-3.11: constants derived from a format's parameters, the ulp, and neighbours."""

from __future__ import annotations

from fractions import Fraction

from refq.errors import invalid
from refq.numbers.floats.decode import INFINITY, NAN, check_pattern, decode
from refq.registry import FloatFormat, float_format


def largest_finite_pattern(fmt: FloatFormat) -> int:
    """The positive pattern of the largest finite value (its sign bit is 0)."""
    all_ones_exponent = (1 << fmt.exponent_bits) - 1
    all_ones_mantissa = (1 << fmt.mantissa_bits) - 1
    if fmt.specials == "ieee":
        return ((all_ones_exponent - 1) << fmt.mantissa_bits) | all_ones_mantissa
    if fmt.specials == "fn":
        # The pattern below the all-ones NaN; with no mantissa (E8M0) its exponent is 2^E - 2.
        return (1 << (fmt.exponent_bits + fmt.mantissa_bits)) - 2
    return (all_ones_exponent << fmt.mantissa_bits) | all_ones_mantissa  # fnuz, finite


def max_finite(format: str | FloatFormat = "binary32") -> Fraction:
    """NUM-3.6: the largest finite value.

    It is the pattern with the largest exponent and mantissa that the special-value
    convention leaves finite: in ``ieee`` formats exponent $2^E - 2$ and mantissa
    $2^M - 1$, giving $(2 - 2^{-M}) \\times 2^{2^E - 2 - \\text{bias}}$; in ``fn``
    formats exponent $2^E - 1$ and mantissa $2^M - 2$ (with no mantissa bits,
    $M = 0$: exponent $2^E - 2$, so E8M0's largest is $2^{127}$); in ``fnuz`` and
    ``finite`` formats exponent $2^E - 1$ and mantissa $2^M - 1$.
    """
    fmt = float_format(format)
    return decode(largest_finite_pattern(fmt), fmt).value


def min_normal(format: str | FloatFormat = "binary32") -> Fraction:
    """NUM-3.7: the smallest positive normal value, $2^{1 - \\text{bias}}$.

    In a format without zero, whose exponent field 0 is a normal binade, it is
    $2^{-\\text{bias}}$ (E8M0: $2^{-127}$).
    """
    fmt = float_format(format)
    return Fraction(2) ** (fmt.min_biased_exponent - fmt.bias)


def min_subnormal(format: str | FloatFormat = "binary32") -> Fraction:
    """NUM-3.8: the smallest positive value, the subnormal $2^{1 - \\text{bias} - M}$.

    A format without zero has no subnormals: its smallest positive value is the
    smallest normal, $2^{-\\text{bias}}$ (E8M0: $2^{-127}$, as ml_dtypes' ``finfo`` says).
    """
    fmt = float_format(format)
    if not fmt.has_zero:
        return min_normal(fmt)
    return Fraction(2) ** (1 - fmt.bias - fmt.mantissa_bits)


def epsilon(format: str | FloatFormat = "binary32") -> Fraction:
    """NUM-3.9: machine epsilon, the distance $2^{-M}$ from 1 to the next larger value."""
    fmt = float_format(format)
    return Fraction(1, 1 << fmt.mantissa_bits)


def ulp(bits: int, format: str | FloatFormat = "binary32") -> Fraction:
    """NUM-3.10: the unit in the last place of a finite pattern.

    It is the value of the mantissa's least significant bit at the pattern's
    exponent, $2^{\\max(e, 1) - \\text{bias} - M}$: the spacing of the values in
    the pattern's binade (for a zero or a subnormal, the subnormal spacing).
    In a format without zero it is $2^{e - \\text{bias} - M}$ for every $e$, 0 included.
    Infinities and NaNs have no ulp.
    """
    fmt = float_format(format)
    decoded = decode(bits, fmt)
    if not decoded.is_finite:
        raise invalid("bits", f"a finite {fmt.name} pattern (not infinity or NaN)", bits)
    return Fraction(2) ** (max(decoded.exponent, fmt.min_biased_exponent) - fmt.bias - fmt.mantissa_bits)


def next_up(bits: int, format: str | FloatFormat = "binary32") -> int | None:
    """NUM-3.11: the pattern of the least value greater than the pattern's value.

    Both zeros go up to the smallest positive subnormal. Positive patterns are
    ordered like their values, so a positive finite pattern goes up by adding 1
    and a negative one by subtracting 1 (from $-2^{1-\\text{bias}-M}$ to $-0$,
    or to $+0$ in a format without $-0$). As in IEEE 754 ``nextUp``, the largest
    finite value goes up to $+\\infty$, $+\\infty$ stays, and $-\\infty$ goes to
    the most negative finite value. The result is None where no such value exists:
    for a NaN, and above the largest finite value of a format without infinity.
    An unsigned format has no negative values: its patterns are ordered like their
    values, zero (or, without zero, the pattern 0) has no next down, and the
    pattern of the largest finite value no next up.
    """
    fmt = float_format(format)
    bits = check_pattern(bits, fmt)
    return _step(bits, fmt, upward=True)


def next_down(bits: int, format: str | FloatFormat = "binary32") -> int | None:
    """NUM-3.11: the pattern of the greatest value less than the pattern's value.

    The mirror image of :func:`next_up`: ``next_down(x)`` is ``-next_up(-x)``.
    """
    fmt = float_format(format)
    bits = check_pattern(bits, fmt)
    return _step(bits, fmt, upward=False)


def _step(bits: int, fmt: FloatFormat, upward: bool) -> int | None:
    decoded = decode(bits, fmt)
    if decoded.kind == NAN:
        return None
    if not fmt.signed:
        if upward:
            return bits + 1 if bits < largest_finite_pattern(fmt) else None
        return bits - 1 if bits > 0 else None
    sign_bit = 1 << (fmt.total_bits - 1)
    toward_larger_magnitude = decoded.sign == (0 if upward else 1)
    magnitude = bits & (sign_bit - 1)
    sign = bits & sign_bit
    if decoded.kind == INFINITY:
        return bits if toward_larger_magnitude else sign | largest_finite_pattern(fmt)
    if decoded.value == 0:
        return (0 if upward else sign_bit) | 1
    if toward_larger_magnitude:
        if magnitude == largest_finite_pattern(fmt):
            return sign | (magnitude + 1) if fmt.has_infinity else None
        return sign | (magnitude + 1)
    if magnitude == 1 and not fmt.has_negative_zero:
        return 0
    return sign | (magnitude - 1)
