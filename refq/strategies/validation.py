"""Argument validation for the strategies (as Hypothesis's ``internal/validation.py``): every argument
is checked when a strategy is built, and a bad one raises :class:`InvalidArgument` naming it; the
argument domains (granularities, the integer types quantize and dequantize take).
"""

from __future__ import annotations

import math
import operator

import hypothesis.errors
import numpy as np

from refq.errors import RefqError, RefqValueError
from refq.registry import FloatFormat, IntegerFormat, float_format, integer_format
from refq.registry.formats import INTEGER_BITS

F32 = np.float32


#: Quantization granularities (AFF-1.4).
GRANULARITIES = ("per_tensor", "per_axis", "blocked")
#: Every integer type quantize targets (AFF-1.2): int1..int16, uint1..uint16.
QUANTIZE_DTYPES = tuple(f"{sign}int{bits}" for bits in INTEGER_BITS if bits <= 16 for sign in ("", "u"))
#: Every integer type dequantize accepts: the quantize types and int32.
DEQUANTIZE_DTYPES = QUANTIZE_DTYPES + ("int32",)


class InvalidArgument(RefqValueError, hypothesis.errors.InvalidArgument):
    """A strategy was given an argument it cannot honour."""


def invalid_argument(argument: str, allowed: str, got: object) -> InvalidArgument:
    return InvalidArgument(f"{argument}: must be {allowed}, got {got!r}")


def float_format_argument(name, argument: str = "format") -> FloatFormat:
    """The float format named ``name``; a bad name is Hypothesis's ``InvalidArgument`` naming ``argument``."""
    try:
        return float_format(name, argument)
    except RefqError as error:
        raise InvalidArgument(str(error)) from None


def integer_format_argument(name, argument: str = "dtype", max_bits: int = 16) -> IntegerFormat:
    """The integer format named ``name``, of at most ``max_bits`` bits, else ``InvalidArgument`` naming ``argument``."""
    try:
        fmt = integer_format(name, argument)
    except RefqError as error:
        raise InvalidArgument(str(error)) from None
    if fmt.bits > max_bits:
        raise invalid_argument(argument, f"an integer type of 1..{max_bits} bits", name)
    return fmt


def check_bool(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise invalid_argument(argument, "True or False", value)
    return bool(value)


def check_integer(value, argument: str, minimum: int | None = None, maximum: int | None = None,
             allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise invalid_argument(argument, "an integer", value)
    try:
        value = operator.index(value)
    except TypeError:
        raise invalid_argument(argument, "an integer" + (" or None" if allow_none else ""), value) from None
    if minimum is not None and value < minimum:
        raise invalid_argument(argument, f"an integer >= {minimum}", value)
    if maximum is not None and value > maximum:
        raise invalid_argument(argument, f"an integer <= {maximum}", value)
    return value


def check_real(value, argument: str, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise invalid_argument(argument, "a real number" + (" or None" if allow_none else ""), value)
    value = float(value)
    if math.isnan(value):
        raise invalid_argument(argument, "a number, not NaN", value)
    return value


def check_choice(value, argument: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise invalid_argument(argument, "one of " + ", ".join(choices), value)
    return value


def check_choices(values, argument: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise invalid_argument(argument, "a non-empty sequence of names", values)
    values = tuple(values)
    if not values:
        raise invalid_argument(argument, "a non-empty sequence of names", values)
    for value in values:
        check_choice(value, argument, choices)
    return values


def check_shape(shape, argument: str = "shape") -> tuple[int, ...] | None:
    if shape is None:
        return None
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise invalid_argument(argument, "a tuple of non-negative integers or None", shape)
    return tuple(check_integer(side, argument, 0) for side in shape)


def check_scale(scale, argument: str = "scale") -> np.float32:
    value = check_real(scale, argument, allow_none=False)
    with np.errstate(over="ignore"):
        value32 = F32(value)
    if not (np.isfinite(value32) and value32 > 0):
        raise invalid_argument(argument, "finite and > 0 in float32", scale)
    return value32


def integer_range(format_type: IntegerFormat) -> tuple[int, int]:
    if format_type.signed:
        return -(1 << (format_type.bits - 1)), (1 << (format_type.bits - 1)) - 1
    return 0, (1 << format_type.bits) - 1


def check_zero_point(zero_point, dtype: IntegerFormat) -> int:
    qmin, qmax = integer_range(dtype)
    return check_integer(zero_point, "zero_point", qmin, qmax)


def container_dtype(dtype: IntegerFormat) -> np.dtype:
    """The smallest numpy integer type of 8, 16, 32 or 64 bits holding ``dtype``'s values."""
    for bits in (8, 16, 32, 64):
        if dtype.bits <= bits:
            return np.dtype(f"{'int' if dtype.signed else 'uint'}{bits}")
    raise AssertionError(dtype)
