"""Scalar values drawn by bit pattern: an integer key ordered like the values is drawn and mapped to a
pattern, so every class of a float format is reachable and examples shrink toward simple patterns;
float32 values, scales and integer values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from refq.registry import FloatFormat
from refq.strategies.validation import (check_bool, check_integer, check_real, float_format_argument,
                                        integer_format_argument, integer_range, invalid_argument)

F32 = np.float32


def ordered_key(pattern: int, fmt: FloatFormat) -> int:
    """Sign-magnitude pattern -> an integer ordered like the values (+0 is 0)."""
    sign = 1 << (fmt.total_bits - 1)
    return pattern if pattern < sign else -(pattern - sign)


def pattern_of_key(key: int, fmt: FloatFormat) -> int:
    return key if key >= 0 else (1 << (fmt.total_bits - 1)) | -key


@lru_cache(maxsize=None)
def pattern_values(fmt: FloatFormat) -> np.ndarray:
    """Every pattern's value as float32 (formats of at most 16 bits)."""
    from refq.numbers.floats import decode_array

    return decode_array(np.arange(1 << fmt.total_bits, dtype=np.uint32), fmt).astype(F32)


def pattern_value(pattern: int, fmt: FloatFormat) -> np.float32:
    if fmt.total_bits == 32:
        return np.array(pattern, dtype=np.uint32).view(F32)[()]
    return pattern_values(fmt)[pattern]


@dataclass(frozen=True)
class _Layout:
    """The key range of a format's non-NaN patterns and the flags its values may be drawn with."""

    largest_key: int  # +max finite, or +inf where the format has it
    finite_key: int  # +max finite
    smallest_normal_key: int
    nan_patterns: tuple[int, ...]  # () for formats without NaN; a sample for binary32


@lru_cache(maxsize=None)
def _layout(fmt: FloatFormat) -> _Layout:
    bits, m = fmt.total_bits, fmt.mantissa_bits
    if bits == 32:
        return _Layout(0x7F800000, 0x7F7FFFFF, 0x00800000, ())
    values = pattern_values(fmt)
    positive = values[: 1 << (bits - 1)]
    finite = np.flatnonzero(np.isfinite(positive))
    infinite = np.flatnonzero(np.isinf(positive))
    nans = tuple(int(p) for p in np.flatnonzero(np.isnan(values)))
    largest_finite = int(finite[-1])
    return _Layout(int(infinite[0]) if infinite.size else largest_finite, largest_finite, 1 << m, nans)


def _key_at_least(value: float, fmt: FloatFormat, up: bool) -> int:
    """The smallest key whose value is >= ``value`` (``up``), or the largest whose value is <= it."""
    layout = _layout(fmt)
    low, high = -layout.largest_key, layout.largest_key
    # Bisection on keys: values are monotone in the key over the non-NaN range.
    if up:
        if float(pattern_value(pattern_of_key(high, fmt), fmt)) < value:
            return high + 1
        while low < high:
            middle = (low + high) // 2
            if float(pattern_value(pattern_of_key(middle, fmt), fmt)) >= value:
                high = middle
            else:
                low = middle + 1
        return low
    if float(pattern_value(pattern_of_key(low, fmt), fmt)) > value:
        return low - 1
    while low < high:
        middle = (low + high + 1) // 2
        if float(pattern_value(pattern_of_key(middle, fmt), fmt)) <= value:
            low = middle
        else:
            high = middle - 1
    return low


def _nan_strategy(fmt: FloatFormat) -> st.SearchStrategy[int]:
    if fmt.total_bits == 32:
        # Quiet and signalling, both signs, any payload.
        return st.builds(lambda sign, payload: (sign << 31) | 0x7F800000 | payload,
                         st.integers(0, 1), st.integers(1, (1 << 23) - 1))
    return st.sampled_from(_layout(fmt).nan_patterns)


def format_patterns(format, *, min_value=None, max_value=None, allow_nan=None, allow_infinity=None,
                    allow_subnormal=None) -> st.SearchStrategy[int]:
    """Bit patterns (Python ints) of the float format ``format`` (a registry name such as
    ``"binary32"``, ``"bfloat16"``, ``"float8_e4m3fn"``), whose values lie in
    ``[min_value, max_value]``.

    The defaults follow ``hypothesis.strategies.floats``: NaN is allowed when the format has
    NaN and no bound is given, infinities when the format has them and not both bounds are
    given. Asking for NaN or infinity where the format has none, or for NaN together
    with a bound, is an error. ``-0`` is drawn wherever ``+0`` may be.

    Example: ``format_patterns("float8_e4m3fn", min_value=0)`` gives 0x00..0x7e.
    """
    fmt = float_format_argument(format)
    low, high = check_real(min_value, "min_value"), check_real(max_value, "max_value")
    if low is not None and high is not None and low > high:
        raise invalid_argument("max_value", f"at least min_value={low!r}", max_value)
    bounded = low is not None or high is not None
    if allow_nan is None:
        allow_nan = fmt.has_nan and not bounded
    if allow_infinity is None:
        allow_infinity = fmt.has_infinity and not (low is not None and high is not None)
    if allow_subnormal is None:
        allow_subnormal = True
    allow_nan = check_bool(allow_nan, "allow_nan")
    allow_infinity = check_bool(allow_infinity, "allow_infinity")
    allow_subnormal = check_bool(allow_subnormal, "allow_subnormal")
    if allow_nan and not fmt.has_nan:
        raise invalid_argument("allow_nan", f"False for {fmt.name} (it has no NaN)", allow_nan)
    if allow_nan and bounded:
        raise invalid_argument("allow_nan", "False when min_value or max_value is given", allow_nan)
    if allow_infinity and not fmt.has_infinity:
        raise invalid_argument("allow_infinity", f"False for {fmt.name} (it has no infinity)", allow_infinity)
    layout = _layout(fmt)
    top = layout.largest_key if allow_infinity else layout.finite_key
    low_key = -top if low is None else max(-top, _key_at_least(low, fmt, up=True))
    high_key = top if high is None else min(top, _key_at_least(high, fmt, up=False))
    if allow_infinity and low is not None and high is not None:
        raise invalid_argument("allow_infinity", "False when both min_value and max_value are given", allow_infinity)
    if low_key > high_key:
        raise invalid_argument("min_value", f"a bound with a {fmt.name} value in [min_value, max_value]",
                       (min_value, max_value))
    keys = st.integers(low_key, high_key)
    if not allow_subnormal:
        smallest = layout.smallest_normal_key
        if high_key < smallest and low_key > -smallest and not (low_key <= 0 <= high_key):
            raise invalid_argument("allow_subnormal", f"True: [{min_value}, {max_value}] holds only subnormals",
                           allow_subnormal)
        keys = keys.filter(lambda key: key == 0 or abs(key) >= smallest)
    patterns = keys.map(lambda key: pattern_of_key(key, fmt))
    specials = [key for key in _special_keys(fmt, layout, allow_subnormal) if low_key <= key <= high_key]
    branches = [patterns, st.sampled_from([pattern_of_key(key, fmt) for key in specials])] if specials else [patterns]
    if fmt.has_negative_zero and low_key <= 0 <= high_key:
        branches.append(st.just(1 << (fmt.total_bits - 1)))
    if allow_nan:
        branches.append(_nan_strategy(fmt))
    return st.one_of(branches)


def _special_keys(fmt: FloatFormat, layout: _Layout, allow_subnormal: bool) -> list[int]:
    one = _key_at_least(1.0, fmt, up=True)
    keys = [0, one, layout.smallest_normal_key, layout.finite_key, layout.largest_key]
    if allow_subnormal:
        keys += [1, layout.smallest_normal_key - 1]
    return [signed for key in keys for signed in (key, -key)]


def format_values(format, *, min_value=None, max_value=None, allow_nan=None, allow_infinity=None,
                  allow_subnormal=None) -> st.SearchStrategy[np.float32]:
    """Values of the float format ``format``, drawn by bit pattern (:func:`refq.strategies.format_patterns`)
    and returned exactly as numpy float32 (every registered format fits in float32; a NaN
    of a narrower format becomes a quiet float32 NaN).

    Example::

        @given(format_values("float8_e5m2", allow_nan=False))
        def test_round_trip(value): ...
    """
    fmt = float_format_argument(format)
    patterns = format_patterns(fmt, min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                               allow_infinity=allow_infinity, allow_subnormal=allow_subnormal)
    return patterns.map(lambda pattern: pattern_value(pattern, fmt))


def float32_values(*, min_value=None, max_value=None, allow_nan=None, allow_infinity=None,
                   allow_subnormal=None) -> st.SearchStrategy[np.float32]:
    """float32 values by bit pattern: :func:`refq.strategies.format_values` of ``"binary32"``.

    Example: ``float32_values(min_value=-1, max_value=1)`` covers the subnormals and
    both zeros as readily as 0.5.
    """
    return format_values("binary32", min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                         allow_infinity=allow_infinity, allow_subnormal=allow_subnormal)


def scales(*, min_value=None, max_value=None, allow_subnormal=True) -> st.SearchStrategy[np.float32]:
    """Valid scales (AFF-1.1): finite float32 > 0, drawn by bit pattern as offsets from 1.0,
    so they shrink toward 1.0; powers of two and the extremes come up often.

    Example: ``scales(max_value=1e-3)``.
    """
    low, high = check_real(min_value, "min_value"), check_real(max_value, "max_value")
    allow_subnormal = check_bool(allow_subnormal, "allow_subnormal")
    fmt = float_format_argument("binary32")
    low_key = 1 if allow_subnormal else 0x00800000
    if low is not None:
        low_key = max(low_key, _key_at_least(low, fmt, up=True))
    high_key = 0x7F7FFFFF if high is None else min(0x7F7FFFFF, _key_at_least(high, fmt, up=False))
    if low_key > high_key or low_key <= 0:
        raise invalid_argument("max_value", "a bound leaving a positive finite float32 in [min_value, max_value]",
                       (min_value, max_value))
    one = 0x3F800000
    centre = min(max(one, low_key), high_key)
    offsets = st.integers(low_key - centre, high_key - centre).map(lambda offset: pattern_value(centre + offset, fmt))
    powers = [F32(2.0) ** exponent for exponent in range(-149, 128)]
    powers = [p for p in powers if low_key <= int(np.array(p).view(np.uint32)) <= high_key]
    return st.one_of(offsets, st.sampled_from(powers)) if powers else offsets


def integer_values(dtype="int8", *, min_value=None, max_value=None) -> st.SearchStrategy[int]:
    """Integers of the type ``dtype`` (``int1``..``int64``, ``uint1``..``uint64``) in ``[min_value, max_value]``."""
    fmt = integer_format_argument(dtype, max_bits=64)
    qmin, qmax = integer_range(fmt)
    low = qmin if min_value is None else check_integer(min_value, "min_value", qmin, qmax)
    high = qmax if max_value is None else check_integer(max_value, "max_value", qmin, qmax)
    if low > high:
        raise invalid_argument("max_value", f"at least min_value={low}", max_value)
    return st.integers(low, high)
