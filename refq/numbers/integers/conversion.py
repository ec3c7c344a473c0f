"""NUM-1.7, NUM-1.8: bringing an out-of-range integer into a format, by wrapping or saturating.

The scalar functions are the definitions, in exact Python integers. The ``*_array``
functions apply them elementwise to numpy arrays through Numba kernels; tests check
that both give the same values.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.integers._arguments import exact_integer, resolve_format
from refq.numbers.integers.ranges import integer_range, storage_dtype
from refq.registry import IntegerFormat

#: 2^63 and 2^64 as floats: both exact, being powers of two.
_TWO_TO_63 = 9223372036854775808.0
_TWO_TO_64 = 18446744073709551616.0


def wrap(value: int, format: str | IntegerFormat) -> int:
    """NUM-1.7: the value of ``format`` congruent to ``value`` modulo $2^n$.

    $$\\operatorname{wrap}(v) = m + \\big((v - m) \\bmod 2^n\\big)$$

    with $m$ the format's lowest value. This keeps the low $n$ bits of $v$'s
    two's-complement pattern and drops the rest, which is what a C cast to a
    narrower integer type and numpy's ``astype`` between integer types do.
    """
    format = resolve_format(format)
    value = exact_integer(value, "value")
    lowest, _ = integer_range(format)
    return lowest + (value - lowest) % (1 << format.bits)


def saturate(value: int, format: str | IntegerFormat, *, narrow: bool = False) -> int:
    """NUM-1.8: ``value`` clamped to the range of ``format`` (NUM-1.2).

    $$\\operatorname{saturate}(v) = \\min(\\max(v, m), M)$$

    with $[m, M]$ the format's range, narrow if ``narrow``.
    """
    format = resolve_format(format)
    value = exact_integer(value, "value")
    lowest, highest = integer_range(format, narrow=narrow)
    return min(max(value, lowest), highest)


@kernel
def wrap_int64(value, mask, highest):
    """Wrap one int64 into an n-bit format: ``mask`` holds n one bits, ``highest`` the format's top.

    For n = 64 the mask is all ones and nothing changes: the int64 is already
    the value modulo 2^64.
    """
    pattern = value & mask
    if pattern > highest:
        # The pattern's top bit is set in a signed format: copy it into the high bits.
        return pattern | ~mask
    return pattern


@kernel
def float_mod_2_to_64(x):
    """The integral float ``x`` reduced modulo 2^64 into [-2^63, 2^63), as an int64.

    fmod is exact, and the corrections are exact too (Sterbenz: they subtract
    numbers within a factor of two of each other).
    """
    remainder = np.fmod(np.float64(x), _TWO_TO_64)
    if remainder >= _TWO_TO_63:
        remainder -= _TWO_TO_64
    elif remainder < -_TWO_TO_63:
        remainder += _TWO_TO_64
    return np.int64(remainder)


@kernel
def wrap_integer_elements(values, mask, highest, out):
    for index in range(values.size):
        out[index] = wrap_int64(values[index], mask, highest)


@kernel
def wrap_float_elements(values, mask, highest, out):
    for index in range(values.size):
        out[index] = wrap_int64(float_mod_2_to_64(values[index]), mask, highest)


@kernel
def clamp(value, lowest, highest):
    if value < lowest:
        return lowest
    if value > highest:
        return highest
    return value


@kernel
def saturate_integer_elements(values, lowest, highest, out):
    """Clamp int64 values to int64 bounds, or uint64 values to uint64 bounds."""
    for index in range(values.size):
        out[index] = clamp(values[index], lowest, highest)


@kernel
def saturate_float_elements_signed(values, lowest, highest, out):
    """Clamp integral floats into a signed format; outside int64 the answer is already known."""
    for index in range(values.size):
        x = values[index]
        if x < -_TWO_TO_63:
            out[index] = lowest
        elif x >= _TWO_TO_63:
            out[index] = highest
        else:
            out[index] = clamp(np.int64(x), lowest, highest)


@kernel
def saturate_float_elements_unsigned(values, lowest, highest, out):
    """Clamp integral floats into an unsigned format; outside uint64 the answer is already known."""
    for index in range(values.size):
        x = values[index]
        if x < 0:
            out[index] = lowest
        elif x >= _TWO_TO_64:
            out[index] = highest
        else:
            out[index] = clamp(np.uint64(x), lowest, highest)


def _checked_array(values: object, allow_infinity: bool) -> np.ndarray:
    """Accept integer arrays and float32/float64 arrays of integral values, flattened."""
    if not isinstance(values, np.ndarray):
        raise wrong_type("values", "a numpy array", values)
    kind = values.dtype.kind
    if kind in "iu":
        return np.ascontiguousarray(values).reshape(-1)
    if values.dtype not in (np.float32, np.float64):
        raise wrong_type("values", "an integer, float32 or float64 numpy array",
                         f"array of {values.dtype}")
    flat = np.ascontiguousarray(values).reshape(-1)
    if np.isnan(flat).any():
        raise invalid("values", "free of NaN (NaN has no integer value)", "an array containing NaN")
    finite = flat[np.isfinite(flat)]
    if not allow_infinity and finite.size != flat.size:
        raise invalid("values", "finite (infinity has no value modulo 2^n)", "an array containing infinity")
    if (np.trunc(finite) != finite).any():
        raise invalid("values", "integral (round first, see NUM-2)", "an array with a fractional value")
    return flat


def _as_int64(flat: np.ndarray) -> np.ndarray:
    # uint64 is reinterpreted, not converted: the bits, hence the value modulo 2^64, stay.
    return flat.view(np.int64) if flat.dtype == np.uint64 else flat.astype(np.int64)


def wrap_array(values: np.ndarray, format: str | IntegerFormat) -> np.ndarray:
    """NUM-1.7 elementwise: wrap an integer array, or a float array of integral values.

    Returns an array of ``storage_dtype(format)`` with the shape of ``values``.
    """
    format = resolve_format(format)
    flat = _checked_array(values, allow_infinity=False)
    if format.bits == 64:
        mask = np.int64(-1)
        highest = np.int64(2**63 - 1)  # an unsigned result is reinterpreted below
    else:
        mask = np.int64((1 << format.bits) - 1)
        highest = np.int64(integer_range(format)[1])
    wrapped = np.empty(flat.size, dtype=np.int64)
    if flat.dtype.kind == "f":
        wrap_float_elements(flat, mask, highest, wrapped)
    else:
        wrap_integer_elements(_as_int64(flat), mask, highest, wrapped)
    if format == IntegerFormat(64, False):
        return wrapped.view(np.uint64).reshape(values.shape)
    return wrapped.astype(storage_dtype(format)).reshape(values.shape)


def saturate_array(values: np.ndarray, format: str | IntegerFormat, *, narrow: bool = False) -> np.ndarray:
    """NUM-1.8 elementwise: clamp an integer array, or a float array of integral values or ±infinity.

    Returns an array of ``storage_dtype(format)`` with the shape of ``values``.
    """
    format = resolve_format(format)
    flat = _checked_array(values, allow_infinity=True)
    lowest, highest = integer_range(format, narrow=narrow)
    out = np.empty(flat.size, dtype=storage_dtype(format))
    if flat.dtype.kind == "f":
        if format.signed:
            saturate_float_elements_signed(flat, np.int64(lowest), np.int64(highest), out)
        else:
            saturate_float_elements_unsigned(flat, np.uint64(lowest), np.uint64(highest), out)
    elif flat.dtype.kind == "u":
        # Every unsigned input is >= 0, so a signed format's negative bound never binds.
        saturate_integer_elements(flat.astype(np.uint64), np.uint64(max(lowest, 0)),
                                  np.uint64(highest), out)
    else:
        saturate_integer_elements(flat.astype(np.int64), np.int64(lowest),
                                  np.int64(min(highest, 2**63 - 1)), out)
    return out.reshape(values.shape)
