"""Hypothesis strategies for quantization: the inputs that find the last-bit bugs.

Written in Hypothesis's own style: plural names, keyword arguments with
``min_value``/``max_value`` naming, every argument validated when the strategy is
built (a bad one raises :class:`InvalidArgument`, which is both a
:class:`refq.errors.RefqValueError` and a ``hypothesis.errors.InvalidArgument``),
and no argument that may be "a value or a strategy".

Floats are drawn **by bit pattern**, never by value: an integer key is drawn and
mapped to a pattern, so every class of the format (zeros, subnormals, normals,
infinities, NaNs with any payload) is reachable, and a failing example shrinks
toward simple patterns (``+0.0``, ``1.0``, small keys) rather than toward arbitrary
decimals.

Example::

    from hypothesis import given
    from refq import strategies as rst
    from refq.affine import quantize

    @given(rst.quantize_problems(dtypes=("int8", "uint8"), granularities=("per_tensor", "per_axis")))
    def test_my_kernel(problem):
        assert (my_quantize(problem.x, problem.scale, problem.zero_point, **problem.attributes)
                == quantize(problem.x, problem.scale, problem.zero_point, **problem.attributes)).all()
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from functools import lru_cache

import hypothesis.errors
import numpy as np
from hypothesis import strategies as st

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


def _invalid(argument: str, allowed: str, got: object) -> InvalidArgument:
    return InvalidArgument(f"{argument}: must be {allowed}, got {got!r}")


# --- argument checks ----------------------------------------------------------------------------------------


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
        raise _invalid(argument, f"an integer type of 1..{max_bits} bits", name)
    return fmt


def _bool(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _invalid(argument, "True or False", value)
    return bool(value)


def _integer(value, argument: str, minimum: int | None = None, maximum: int | None = None,
             allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise _invalid(argument, "an integer", value)
    try:
        value = operator.index(value)
    except TypeError:
        raise _invalid(argument, "an integer" + (" or None" if allow_none else ""), value) from None
    if minimum is not None and value < minimum:
        raise _invalid(argument, f"an integer >= {minimum}", value)
    if maximum is not None and value > maximum:
        raise _invalid(argument, f"an integer <= {maximum}", value)
    return value


def _real(value, argument: str, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _invalid(argument, "a real number" + (" or None" if allow_none else ""), value)
    value = float(value)
    if math.isnan(value):
        raise _invalid(argument, "a number, not NaN", value)
    return value


def _choice(value, argument: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _invalid(argument, "one of " + ", ".join(choices), value)
    return value


def _choices(values, argument: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise _invalid(argument, "a non-empty sequence of names", values)
    values = tuple(values)
    if not values:
        raise _invalid(argument, "a non-empty sequence of names", values)
    for value in values:
        _choice(value, argument, choices)
    return values


def _shape(shape, argument: str = "shape") -> tuple[int, ...] | None:
    if shape is None:
        return None
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise _invalid(argument, "a tuple of non-negative integers or None", shape)
    return tuple(_integer(side, argument, 0) for side in shape)


def _scale(scale, argument: str = "scale") -> np.float32:
    value = _real(scale, argument, allow_none=False)
    with np.errstate(over="ignore"):
        value32 = F32(value)
    if not (np.isfinite(value32) and value32 > 0):
        raise _invalid(argument, "finite and > 0 in float32", scale)
    return value32


def _range(format_type: IntegerFormat) -> tuple[int, int]:
    if format_type.signed:
        return -(1 << (format_type.bits - 1)), (1 << (format_type.bits - 1)) - 1
    return 0, (1 << format_type.bits) - 1


def _zero_point(zero_point, dtype: IntegerFormat) -> int:
    qmin, qmax = _range(dtype)
    return _integer(zero_point, "zero_point", qmin, qmax)


def container_dtype(dtype: IntegerFormat) -> np.dtype:
    """The smallest numpy integer type of 8, 16, 32 or 64 bits holding ``dtype``'s values."""
    for bits in (8, 16, 32, 64):
        if dtype.bits <= bits:
            return np.dtype(f"{'int' if dtype.signed else 'uint'}{bits}")
    raise AssertionError(dtype)


# --- floats by bit pattern ----------------------------------------------------------------------------------


def _key(pattern: int, fmt: FloatFormat) -> int:
    """Sign-magnitude pattern -> an integer ordered like the values (+0 is 0)."""
    sign = 1 << (fmt.total_bits - 1)
    return pattern if pattern < sign else -(pattern - sign)


def _pattern(key: int, fmt: FloatFormat) -> int:
    return key if key >= 0 else (1 << (fmt.total_bits - 1)) | -key


@lru_cache(maxsize=None)
def pattern_values(fmt: FloatFormat) -> np.ndarray:
    """Every pattern's value as float32 (formats of at most 16 bits)."""
    from refq.numbers.floats import decode_array

    return decode_array(np.arange(1 << fmt.total_bits, dtype=np.uint32), fmt).astype(F32)


def _value(pattern: int, fmt: FloatFormat) -> np.float32:
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
        if float(_value(_pattern(high, fmt), fmt)) < value:
            return high + 1
        while low < high:
            middle = (low + high) // 2
            if float(_value(_pattern(middle, fmt), fmt)) >= value:
                high = middle
            else:
                low = middle + 1
        return low
    if float(_value(_pattern(low, fmt), fmt)) > value:
        return low - 1
    while low < high:
        middle = (low + high + 1) // 2
        if float(_value(_pattern(middle, fmt), fmt)) <= value:
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
    low, high = _real(min_value, "min_value"), _real(max_value, "max_value")
    if low is not None and high is not None and low > high:
        raise _invalid("max_value", f"at least min_value={low!r}", max_value)
    bounded = low is not None or high is not None
    if allow_nan is None:
        allow_nan = fmt.has_nan and not bounded
    if allow_infinity is None:
        allow_infinity = fmt.has_infinity and not (low is not None and high is not None)
    if allow_subnormal is None:
        allow_subnormal = True
    allow_nan = _bool(allow_nan, "allow_nan")
    allow_infinity = _bool(allow_infinity, "allow_infinity")
    allow_subnormal = _bool(allow_subnormal, "allow_subnormal")
    if allow_nan and not fmt.has_nan:
        raise _invalid("allow_nan", f"False for {fmt.name} (it has no NaN)", allow_nan)
    if allow_nan and bounded:
        raise _invalid("allow_nan", "False when min_value or max_value is given", allow_nan)
    if allow_infinity and not fmt.has_infinity:
        raise _invalid("allow_infinity", f"False for {fmt.name} (it has no infinity)", allow_infinity)
    layout = _layout(fmt)
    top = layout.largest_key if allow_infinity else layout.finite_key
    low_key = -top if low is None else max(-top, _key_at_least(low, fmt, up=True))
    high_key = top if high is None else min(top, _key_at_least(high, fmt, up=False))
    if allow_infinity and low is not None and high is not None:
        raise _invalid("allow_infinity", "False when both min_value and max_value are given", allow_infinity)
    if low_key > high_key:
        raise _invalid("min_value", f"a bound with a {fmt.name} value in [min_value, max_value]",
                       (min_value, max_value))
    keys = st.integers(low_key, high_key)
    if not allow_subnormal:
        smallest = layout.smallest_normal_key
        if high_key < smallest and low_key > -smallest and not (low_key <= 0 <= high_key):
            raise _invalid("allow_subnormal", f"True: [{min_value}, {max_value}] holds only subnormals",
                           allow_subnormal)
        keys = keys.filter(lambda key: key == 0 or abs(key) >= smallest)
    patterns = keys.map(lambda key: _pattern(key, fmt))
    specials = [key for key in _special_keys(fmt, layout, allow_subnormal) if low_key <= key <= high_key]
    branches = [patterns, st.sampled_from([_pattern(key, fmt) for key in specials])] if specials else [patterns]
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
    """Values of the float format ``format``, drawn by bit pattern (:func:`format_patterns`)
    and returned exactly as numpy float32 (every registered format fits in float32; a NaN
    of a narrower format becomes a quiet float32 NaN).

    Example::

        @given(format_values("float8_e5m2", allow_nan=False))
        def test_round_trip(value): ...
    """
    fmt = float_format_argument(format)
    patterns = format_patterns(fmt, min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                               allow_infinity=allow_infinity, allow_subnormal=allow_subnormal)
    return patterns.map(lambda pattern: _value(pattern, fmt))


def float32_values(*, min_value=None, max_value=None, allow_nan=None, allow_infinity=None,
                   allow_subnormal=None) -> st.SearchStrategy[np.float32]:
    """float32 values by bit pattern: :func:`format_values` of ``"binary32"``.

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
    low, high = _real(min_value, "min_value"), _real(max_value, "max_value")
    allow_subnormal = _bool(allow_subnormal, "allow_subnormal")
    fmt = float_format_argument("binary32")
    low_key = 1 if allow_subnormal else 0x00800000
    if low is not None:
        low_key = max(low_key, _key_at_least(low, fmt, up=True))
    high_key = 0x7F7FFFFF if high is None else min(0x7F7FFFFF, _key_at_least(high, fmt, up=False))
    if low_key > high_key or low_key <= 0:
        raise _invalid("max_value", "a bound leaving a positive finite float32 in [min_value, max_value]",
                       (min_value, max_value))
    one = 0x3F800000
    centre = min(max(one, low_key), high_key)
    offsets = st.integers(low_key - centre, high_key - centre).map(lambda offset: _value(centre + offset, fmt))
    powers = [F32(2.0) ** exponent for exponent in range(-149, 128)]
    powers = [p for p in powers if low_key <= int(np.array(p).view(np.uint32)) <= high_key]
    return st.one_of(offsets, st.sampled_from(powers)) if powers else offsets


def integer_values(dtype="int8", *, min_value=None, max_value=None) -> st.SearchStrategy[int]:
    """Integers of the type ``dtype`` (``int1``..``int64``, ``uint1``..``uint64``) in ``[min_value, max_value]``."""
    fmt = integer_format_argument(dtype, max_bits=64)
    qmin, qmax = _range(fmt)
    low = qmin if min_value is None else _integer(min_value, "min_value", qmin, qmax)
    high = qmax if max_value is None else _integer(max_value, "max_value", qmin, qmax)
    if low > high:
        raise _invalid("max_value", f"at least min_value={low}", max_value)
    return st.integers(low, high)


# --- shapes and tensors -------------------------------------------------------------------------------------


def shapes(*, min_dims=1, max_dims=3, min_side=1, max_side=6) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes; they shrink toward ``(min_side,) * min_dims``."""
    min_dims = _integer(min_dims, "min_dims", 0, 8)
    max_dims = _integer(max_dims, "max_dims", min_dims, 8)
    min_side = _integer(min_side, "min_side", 0)
    max_side = _integer(max_side, "max_side", min_side)
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def tensors(format="binary32", *, shape=None, min_dims=1, max_dims=3, min_side=1, max_side=6, min_value=None,
            max_value=None, allow_nan=None, allow_infinity=None, allow_subnormal=None) -> st.SearchStrategy[np.ndarray]:
    """float32 arrays whose elements are values of ``format`` drawn by bit pattern (see
    :func:`format_patterns` for the value arguments); ``shape`` fixes the shape, otherwise one is
    drawn with ``min_dims``..``max_dims`` sides of ``min_side``..``max_side``.

    Example: ``tensors(shape=(4, 3), min_value=-10, max_value=10)``.
    """
    fmt = float_format_argument(format)
    fixed = _shape(shape)
    drawn_shape = st.just(fixed) if fixed is not None else shapes(min_dims=min_dims, max_dims=max_dims,
                                                                  min_side=min_side, max_side=max_side)
    patterns = format_patterns(fmt, min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                               allow_infinity=allow_infinity, allow_subnormal=allow_subnormal)

    @st.composite
    def draw_tensor(draw):
        chosen = draw(drawn_shape)
        size = math.prod(chosen)
        drawn = draw(st.lists(patterns, min_size=size, max_size=size))
        return _patterns_to_values(drawn, fmt).reshape(chosen)

    return draw_tensor()


def _patterns_to_values(patterns, fmt: FloatFormat) -> np.ndarray:
    if fmt.total_bits == 32:
        return np.array(patterns, dtype=np.uint32).view(F32)
    return pattern_values(fmt)[np.array(patterns, dtype=np.int64)]


# --- quantization parameters --------------------------------------------------------------------------------


@dataclass
class QuantizationParameters:
    """Scale, zero point and layout for an input of ``shape``: pass ``scale``, ``zero_point``
    and ``**attributes`` to :func:`refq.affine.quantize` or an adapter's ``quantize_linear``."""

    shape: tuple[int, ...]
    scale: np.ndarray
    zero_point: np.ndarray | None
    dtype: str
    granularity: str
    axis: int | None = None
    block_size: int | None = None

    @property
    def attributes(self) -> dict:
        return {"axis": self.axis, "block_size": self.block_size, "dtype": self.dtype}

    def elementwise(self) -> tuple[np.ndarray, np.ndarray]:
        """The scale and zero point of every element of an input of ``shape``."""
        return elementwise_parameters(self.shape, self.scale, self.zero_point, self.axis, self.block_size)


@dataclass
class InvalidQuantizationParameters(QuantizationParameters):
    """Parameters refq must reject: ``argument`` is the one at fault, ``reason`` says how."""

    argument: str = ""
    reason: str = ""
    #: The dtype as passed (may be a name refq does not know).
    dtype_argument: object = None

    @property
    def attributes(self) -> dict:
        return {"axis": self.axis, "block_size": self.block_size,
                "dtype": self.dtype if self.dtype_argument is None else self.dtype_argument}


def elementwise_parameters(shape, scale, zero_point, axis, block_size):
    """The scale and zero point of every element of a tensor of ``shape``, per tensor, per axis or blocked.

    ``zero_point`` None is 0; the results broadcast to ``shape`` (float32 and int64).
    """
    scale = np.asarray(scale, F32)
    zeros = np.zeros(scale.shape, np.int64) if zero_point is None else np.asarray(zero_point, np.int64)
    if axis is None:
        return np.broadcast_to(scale.reshape(()), shape), np.broadcast_to(zeros.reshape(()), shape)
    axis %= len(shape)
    if block_size is None:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(scale.reshape(view), shape), np.broadcast_to(zeros.reshape(view), shape)
    indices = np.arange(shape[axis]) // block_size
    return np.take(scale, indices, axis=axis), np.take(zeros, indices, axis=axis)


def _scale_shape(shape, granularity, axis, block_size) -> tuple[int, ...]:
    if granularity == "per_tensor":
        return ()
    if granularity == "per_axis":
        return (shape[axis],)
    return shape[:axis] + (-(-shape[axis] // block_size),) + shape[axis + 1:]


def quantization_parameters(*, shape=None, dtype="int8", granularity="per_tensor", axis=None, block_size=None,
                            min_scale=None, max_scale=None, with_zero_point=True) -> st.SearchStrategy[QuantizationParameters]:
    """Valid parameters (AFF-1.1 to AFF-1.4) of ``granularity`` for the integer type ``dtype``.

    ``shape`` is the input's shape (drawn when None; per-axis and blocked need at least
    one dimension); ``axis`` and ``block_size`` are drawn when None (a block size may leave a
    partial last block); scales come from :func:`scales` within ``[min_scale, max_scale]``;
    zero points anywhere in the type's range, or None when ``with_zero_point`` is False.

    Example::

        @given(quantization_parameters(shape=(2, 5), dtype="int4", granularity="blocked"))
        def test_blocked(params):
            quantize(np.zeros(params.shape, np.float32), params.scale, params.zero_point, **params.attributes)
    """
    fmt = integer_format_argument(dtype, max_bits=16)
    granularity = _choice(granularity, "granularity", GRANULARITIES)
    fixed = _shape(shape)
    with_zero_point = _bool(with_zero_point, "with_zero_point")
    if granularity == "per_tensor":
        if axis is not None or block_size is not None:
            raise _invalid("axis", "None for per_tensor granularity", axis if axis is not None else block_size)
    if fixed is not None and granularity != "per_tensor":
        if not fixed:
            raise _invalid("shape", f"at least one dimension for {granularity} granularity", shape)
        if axis is not None:
            _integer(axis, "axis", -len(fixed), len(fixed) - 1)
    else:
        _integer(axis, "axis", allow_none=True)
    if granularity != "blocked" and block_size is not None:
        raise _invalid("block_size", "None unless granularity is 'blocked'", block_size)
    _integer(block_size, "block_size", 1, allow_none=True)
    scale_values = scales(min_value=min_scale, max_value=max_scale)
    qmin, qmax = _range(fmt)
    container = container_dtype(fmt)
    min_dims = 0 if granularity == "per_tensor" else 1

    @st.composite
    def draw_parameters(draw):
        chosen = fixed if fixed is not None else draw(shapes(min_dims=min_dims, max_dims=3, max_side=5))
        chosen_axis = axis
        if granularity != "per_tensor" and chosen_axis is None:
            chosen_axis = draw(st.integers(0, len(chosen) - 1))
        chosen_block = block_size
        if granularity == "blocked" and chosen_block is None:
            chosen_block = draw(st.integers(1, max(1, chosen[chosen_axis % len(chosen)]) + 1))
        normalized = None if chosen_axis is None else chosen_axis % len(chosen)
        scale_shape = _scale_shape(chosen, granularity, normalized, chosen_block)
        count = math.prod(scale_shape)
        scale = np.array(draw(st.lists(scale_values, min_size=count, max_size=count)), F32).reshape(scale_shape)
        zero_point = None
        if with_zero_point:
            zero_point = np.array(draw(st.lists(st.integers(qmin, qmax), min_size=count, max_size=count)),
                                  container).reshape(scale_shape)
        return QuantizationParameters(chosen, scale, zero_point, fmt.name, granularity, chosen_axis, chosen_block)

    return draw_parameters()


#: How :func:`invalid_quantization_parameters` breaks valid parameters: kind -> (argument, reason).
INVALID_KINDS = {
    "scale_zero": ("scale", "a scale of zero"),
    "scale_negative": ("scale", "a negative scale"),
    "scale_negative_zero": ("scale", "a scale of -0.0"),
    "scale_nan": ("scale", "a NaN scale"),
    "scale_infinite": ("scale", "an infinite scale"),
    "scale_overflows_float32": ("scale", "a float64 scale beyond float32's range"),
    "zero_point_above_range": ("zero_point", "a zero point above the type's range"),
    "zero_point_below_range": ("zero_point", "a zero point below the type's range"),
    "zero_point_fractional": ("zero_point", "a zero point that is not an integer"),
    "scale_shape": ("scale", "a scale of the wrong shape for the granularity"),
    "axis_out_of_range": ("axis", "an axis beyond the input's rank"),
    "block_size_not_positive": ("block_size", "a block size of zero or less"),
    "block_size_without_axis": ("block_size", "a block size with no axis"),
    "dtype_unknown": ("dtype", "an integer type refq does not define"),
}


def invalid_quantization_parameters(*, shape=None, dtype="int8", granularity="per_tensor",
                                    kinds=None) -> st.SearchStrategy[InvalidQuantizationParameters]:
    """Parameters that refq (and any conforming backend) must reject, each broken in one way
    named by ``argument`` and ``reason``; ``kinds`` restricts the ways to keys of :data:`INVALID_KINDS`.

    Example::

        @given(invalid_quantization_parameters(dtype="uint8", granularity="per_axis"))
        def test_rejects(params):
            with pytest.raises(RefqError):
                quantize(np.zeros(params.shape, np.float32), params.scale, params.zero_point, **params.attributes)
    """
    fmt = integer_format_argument(dtype, max_bits=16)
    granularity = _choice(granularity, "granularity", GRANULARITIES)
    allowed = tuple(INVALID_KINDS)
    if granularity == "per_tensor":
        allowed = tuple(kind for kind in allowed if kind not in ("axis_out_of_range", "block_size_not_positive"))
    kinds = allowed if kinds is None else _choices(kinds, "kinds", allowed)
    fixed = _shape(shape)
    if fixed is not None and fixed == () and granularity != "per_tensor":
        raise _invalid("shape", f"at least one dimension for {granularity} granularity", shape)
    valid = quantization_parameters(shape=fixed, dtype=fmt.name, granularity=granularity)
    qmin, qmax = _range(fmt)

    @st.composite
    def draw_invalid(draw):
        params = draw(valid)
        kind = draw(st.sampled_from(kinds))
        argument, reason = INVALID_KINDS[kind]
        scale = params.scale.astype(np.float64)
        zero_point = np.zeros(scale.shape, container_dtype(fmt)) if params.zero_point is None else params.zero_point
        axis, block_size, dtype_argument = params.axis, params.block_size, None
        flat = draw(st.integers(0, max(scale.size - 1, 0)))
        if kind.startswith("scale_") and kind != "scale_shape":
            bad = {"scale_zero": 0.0, "scale_negative": -float(scale.flat[flat]), "scale_negative_zero": -0.0,
                   "scale_nan": math.nan, "scale_infinite": draw(st.sampled_from([math.inf, -math.inf])),
                   "scale_overflows_float32": 1e39}[kind]
            scale = scale.copy()
            scale.flat[flat] = bad
        elif kind in ("zero_point_above_range", "zero_point_below_range", "zero_point_fractional"):
            zero_point = zero_point.astype(np.float64 if kind == "zero_point_fractional" else np.int64).copy()
            zero_point.flat[flat] = {"zero_point_above_range": qmax + 1, "zero_point_below_range": qmin - 1,
                                     "zero_point_fractional": 0.5}[kind]
        elif kind == "scale_shape":
            extra = draw(st.integers(1, 3))
            scale = np.ones(tuple(side + extra for side in scale.shape) if scale.ndim else (extra + 1,))
            zero_point = None
        elif kind == "axis_out_of_range":
            rank = len(params.shape)
            axis = draw(st.sampled_from([rank, -rank - 1]))
        elif kind == "block_size_not_positive":
            axis = params.axis
            block_size = draw(st.integers(-2, 0))
        elif kind == "block_size_without_axis":
            axis, block_size = None, draw(st.integers(1, 4))
        elif kind == "dtype_unknown":
            dtype_argument = draw(st.sampled_from(["int0", "uint0", "int65", "float8", "q8", "int8 ", "int-8"]))
        return InvalidQuantizationParameters(params.shape, scale, zero_point, params.dtype, params.granularity,
                                             axis, block_size, argument=argument, reason=reason,
                                             dtype_argument=dtype_argument)

    return draw_invalid()


# --- adversarial inputs -------------------------------------------------------------------------------------


def step_ulps(value: np.float32, ulps: int) -> np.float32:
    """``value`` moved ``ulps`` float32 steps up (negative: down), through zero and to infinity."""
    key = _key(int(np.array(value, F32).view(np.uint32)), float_format_argument("binary32"))
    key = max(-0x7F800000, min(0x7F800000, key + ulps))
    return _value(_pattern(key, float_format_argument("binary32")), float_format_argument("binary32"))


def _adversarial_arguments(scale, zero_point, dtype, max_ulps):
    scale32 = _scale(scale)
    fmt = integer_format_argument(dtype, max_bits=16)
    zero = _zero_point(zero_point, fmt)
    ulps = _integer(max_ulps, "max_ulps", 0, 1 << 20)
    return scale32, fmt, zero, ulps


def near_ties(scale, zero_point=0, dtype="int8", *, max_ulps=1) -> st.SearchStrategy[np.float32]:
    """float32 inputs at and around rounding ties: $\\mathrm{fl}_{32}((k + 1/2) \\cdot s)$ moved at most
    ``max_ulps`` float32 steps, for every $k$ from $q_{min} - z - 1$ to $q_{max} - z$ (the ties that
    decide a result, and the two just outside the range). One ulp off a tie is where float64
    division, reciprocal multiplication and a zero point added before rounding go wrong.

    Example: ``near_ties(0.1, 3, "uint8", max_ulps=2)``; they shrink toward $s/2$.
    """
    scale32, fmt, zero, ulps = _adversarial_arguments(scale, zero_point, dtype, max_ulps)
    qmin, qmax = _range(fmt)

    def tie(k: int, offset: int) -> np.float32:
        with np.errstate(over="ignore"):
            value = F32((k + 0.5) * float(scale32))
        return step_ulps(value, offset)

    return st.builds(tie, st.integers(qmin - zero - 1, qmax - zero), st.integers(-ulps, ulps))


def saturation_edges(scale, zero_point=0, dtype="int8", *, max_ulps=1) -> st.SearchStrategy[np.float32]:
    """float32 inputs around where quantize saturates: $(q_{min} - z + d) \\cdot s$ and $(q_{max} - z + d) \\cdot s$
    for $d \\in \\{-1, -1/2, 0, 1/2, 1\\}$, $\\pm 2^{31} s$ and $\\pm 2^{32} s$ (a conversion to int32 before the
    clamp overflows there), the largest finite float32 and the infinities; each moved at most
    ``max_ulps`` float32 steps.

    Example: ``saturation_edges(0.05, -128, "int8")``.
    """
    scale32, fmt, zero, ulps = _adversarial_arguments(scale, zero_point, dtype, max_ulps)
    qmin, qmax = _range(fmt)
    multipliers = [end - zero + d for end in (qmin, qmax) for d in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    multipliers += [2.0**31, -(2.0**31), 2.0**32, -(2.0**32)]
    with np.errstate(over="ignore"):
        bases = [F32(m * float(scale32)) for m in multipliers]
    largest = np.finfo(F32).max
    bases += [largest, -largest, F32(np.inf), F32(-np.inf)]
    return st.builds(step_ulps, st.sampled_from(bases), st.integers(-ulps, ulps))


# --- whole problems -----------------------------------------------------------------------------------------


@dataclass
class QuantizeProblem:
    """One quantize call: ``quantize_linear(x, scale, zero_point, **attributes)``."""

    x: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray | None
    attributes: dict = field(default_factory=dict)


@dataclass
class DequantizeProblem:
    """One dequantize call: ``dequantize_linear(q, scale, zero_point, **attributes)``."""

    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray | None
    attributes: dict = field(default_factory=dict)


def _layouts(dtypes, granularities, argument_dtypes: tuple[str, ...]):
    dtypes = _choices(dtypes, "dtypes", argument_dtypes)
    granularities = _choices(granularities, "granularities", GRANULARITIES)
    return [(dtype, granularity) for dtype in dtypes for granularity in granularities]


def quantize_problems(*, dtypes=("int8", "uint8"), granularities=("per_tensor",), max_dims=3,
                      max_side=5) -> st.SearchStrategy[QuantizeProblem]:
    """Quantize calls whose inputs mix, element by element, float32 values of every class
    (:func:`float32_values`), :func:`near_ties` and :func:`saturation_edges` of that element's
    own scale and zero point. ``dtypes`` and ``granularities`` list what may be drawn.

    Example: ``quantize_problems(dtypes=("int4",), granularities=("blocked",))``.
    """
    layouts = _layouts(dtypes, granularities, QUANTIZE_DTYPES)
    max_dims = _integer(max_dims, "max_dims", 1, 6)
    max_side = _integer(max_side, "max_side", 1)
    anything = float32_values()

    @st.composite
    def draw_problem(draw):
        dtype, granularity = draw(st.sampled_from(layouts))
        shape = draw(shapes(min_dims=0 if granularity == "per_tensor" else 1, max_dims=max_dims, max_side=max_side))
        params = draw(quantization_parameters(shape=shape, dtype=dtype, granularity=granularity))
        scale_each, zero_each = params.elementwise()
        values = np.empty(shape, F32)
        for index in np.ndindex(shape):
            s, z = float(scale_each[index]), int(zero_each[index])
            source = draw(st.integers(0, 2))
            if source == 0:
                values[index] = draw(anything)
            elif source == 1:
                values[index] = draw(near_ties(s, z, dtype, max_ulps=1))
            else:
                values[index] = draw(saturation_edges(s, z, dtype, max_ulps=1))
        return QuantizeProblem(values, params.scale, params.zero_point, params.attributes)

    return draw_problem()


def dequantize_problems(*, dtypes=("int8", "uint8"), granularities=("per_tensor",), max_dims=3,
                        max_side=5) -> st.SearchStrategy[DequantizeProblem]:
    """Dequantize calls: integers of the type (its ends often), parameters as in
    :func:`quantization_parameters`. ``dtypes`` may include ``int32``.

    Example: ``dequantize_problems(dtypes=("int32",))``.
    """
    layouts = _layouts(dtypes, granularities, DEQUANTIZE_DTYPES)
    max_dims = _integer(max_dims, "max_dims", 1, 6)
    max_side = _integer(max_side, "max_side", 1)

    @st.composite
    def draw_problem(draw):
        dtype, granularity = draw(st.sampled_from(layouts))
        fmt = integer_format_argument(dtype, max_bits=32)
        qmin, qmax = _range(fmt)
        shape = draw(shapes(min_dims=0 if granularity == "per_tensor" else 1, max_dims=max_dims, max_side=max_side))
        if fmt.bits <= 16:
            params = draw(quantization_parameters(shape=shape, dtype=dtype, granularity=granularity))
            scale, zero_point, attributes = params.scale, params.zero_point, params.attributes
        else:
            # int32 (dequantize only): the parameters of an int16 layout, with int32 zero points.
            params = draw(quantization_parameters(shape=shape, dtype="int16", granularity=granularity))
            scale = params.scale
            zero_point = np.array(draw(st.lists(st.one_of(st.integers(qmin, qmax), st.sampled_from([qmin, qmax])),
                                                min_size=scale.size, max_size=scale.size)),
                                  np.int32).reshape(scale.shape)
            attributes = {**params.attributes, "dtype": dtype}
        elements = st.one_of(st.integers(qmin, qmax), st.sampled_from([qmin, qmax, 0] if qmin <= 0 else [qmin, qmax]))
        size = math.prod(shape)
        q = np.array(draw(st.lists(elements, min_size=size, max_size=size)), container_dtype(fmt)).reshape(shape)
        return DequantizeProblem(q, scale, zero_point, attributes)

    return draw_problem()


def observer_batches(*, min_batches=1, max_batches=4, shape=None, max_dims=2, max_side=6, min_value=None,
                     max_value=None, allow_nan=False, allow_infinity=False) -> st.SearchStrategy[list[np.ndarray]]:
    """Sequences of float32 batches of one shape, as an observer sees them during calibration
    (values by bit pattern, see :func:`float32_values`).

    Example: ``observer_batches(max_batches=8, shape=(16,), min_value=-4, max_value=4)``.
    """
    min_batches = _integer(min_batches, "min_batches", 1)
    max_batches = _integer(max_batches, "max_batches", min_batches)
    fixed = _shape(shape)
    batch_shape = st.just(fixed) if fixed is not None else shapes(min_dims=1, max_dims=max_dims, max_side=max_side)
    # Built now, so that bad value arguments fail here rather than at draw time.
    tensors(shape=(1,), min_value=min_value, max_value=max_value, allow_nan=allow_nan, allow_infinity=allow_infinity)

    @st.composite
    def draw_batches(draw):
        chosen = draw(batch_shape)
        batch = tensors(shape=chosen, min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                        allow_infinity=allow_infinity)
        return draw(st.lists(batch, min_size=min_batches, max_size=max_batches))

    return draw_batches()


@dataclass
class MatmulProblem:
    """An integer matmul, ONNX MatMulInteger: ``(a - a_zero_point) @ (b - b_zero_point)`` in int32.

    ``a`` is ``(..., M, K)``, ``b`` is ``(..., K, N)``; a zero point is None, a scalar, or one per
    row of ``a`` (``M``) / per column of ``b`` (``N``).
    """

    a: np.ndarray
    b: np.ndarray
    a_zero_point: np.ndarray | None
    b_zero_point: np.ndarray | None


def matmul_problems(*, a_dtype="uint8", b_dtype="int8", max_side=8, max_batch_dims=1,
                    with_zero_points=True) -> st.SearchStrategy[MatmulProblem]:
    """Integer matmul problems (shapes and integers only; refq's matmul reference comes with its chapter).

    Example: ``matmul_problems(a_dtype="int8", b_dtype="int8", max_side=4)``.
    """
    a_fmt = integer_format_argument(a_dtype, "a_dtype")
    b_fmt = integer_format_argument(b_dtype, "b_dtype")
    max_side = _integer(max_side, "max_side", 1)
    max_batch_dims = _integer(max_batch_dims, "max_batch_dims", 0, 4)
    with_zero_points = _bool(with_zero_points, "with_zero_points")

    def matrix(draw, fmt, shape):
        low, high = _range(fmt)
        size = math.prod(shape)
        values = draw(st.lists(st.one_of(st.integers(low, high), st.sampled_from([low, high])),
                               min_size=size, max_size=size))
        return np.array(values, container_dtype(fmt)).reshape(shape)

    def zero_point(draw, fmt, length):
        if not with_zero_points:
            return None
        kind = draw(st.sampled_from(["none", "scalar", "vector"]))
        if kind == "none":
            return None
        return matrix(draw, fmt, () if kind == "scalar" else (length,))

    @st.composite
    def draw_problem(draw):
        batch = draw(shapes(min_dims=0, max_dims=max_batch_dims, min_side=1, max_side=3))
        m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
        a = matrix(draw, a_fmt, batch + (m, k))
        b = matrix(draw, b_fmt, batch + (k, n))
        return MatmulProblem(a, b, zero_point(draw, a_fmt, m), zero_point(draw, b_fmt, n))

    return draw_problem()


__all__ = [
    "DEQUANTIZE_DTYPES", "DequantizeProblem", "GRANULARITIES", "INVALID_KINDS", "InvalidArgument",
    "InvalidQuantizationParameters", "MatmulProblem", "QUANTIZE_DTYPES", "QuantizationParameters", "QuantizeProblem",
    "container_dtype", "dequantize_problems", "elementwise_parameters", "float32_values", "float_format_argument",
    "format_patterns", "format_values", "integer_format_argument", "integer_values", "invalid_quantization_parameters",
    "matmul_problems", "near_ties", "observer_batches", "pattern_values", "quantization_parameters",
    "quantize_problems", "saturation_edges", "scales", "shapes", "step_ulps", "tensors",
]
