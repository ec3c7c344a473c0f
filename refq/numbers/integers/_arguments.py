"""Validation of the arguments the integer clauses share: widths, integers, formats."""

from __future__ import annotations

import numbers

from refq.errors import invalid, wrong_type
from refq.registry import INTEGER_BITS, IntegerFormat, integer_format


def exact_integer(value: object, argument: str) -> int:
    """Return ``value`` as a Python int; refuse floats and bools, which only look like integers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise wrong_type(argument, "an integer (int or numpy integer)", value)
    return int(value)


def width(bits: object, argument: str = "bits") -> int:
    """Return ``bits`` as an int in 1..64."""
    bits = exact_integer(bits, argument)
    if bits not in INTEGER_BITS:
        raise invalid(argument, f"a width in {INTEGER_BITS.start}..{INTEGER_BITS.stop - 1}", bits)
    return bits


def pattern_of_width(pattern: object, bits: int, argument: str = "pattern") -> int:
    """Return ``pattern`` as an int in 0..2^bits - 1."""
    pattern = exact_integer(pattern, argument)
    if not 0 <= pattern < 1 << bits:
        raise invalid(argument, f"a {bits}-bit pattern in 0..{(1 << bits) - 1}", pattern)
    return pattern


def resolve_format(format: str | IntegerFormat, argument: str = "format") -> IntegerFormat:
    return integer_format(format, argument)
