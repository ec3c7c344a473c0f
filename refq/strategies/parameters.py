"""Quantization parameters (scale and zero point per tensor, per axis or blocked), valid and invalid,
and the per-element view of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from refq.strategies.arrays import shapes
from refq.strategies.validation import (GRANULARITIES, check_bool, check_choice, check_choices, check_integer,
                                        check_shape, container_dtype, integer_format_argument, integer_range,
                                        invalid_argument)
from refq.strategies.values import scales

F32 = np.float32


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
    partial last block); scales come from :func:`refq.strategies.scales` within ``[min_scale, max_scale]``;
    zero points anywhere in the type's range, or None when ``with_zero_point`` is False.

    Example::

        @given(quantization_parameters(shape=(2, 5), dtype="int4", granularity="blocked"))
        def test_blocked(params):
            quantize(np.zeros(params.shape, np.float32), params.scale, params.zero_point, **params.attributes)
    """
    fmt = integer_format_argument(dtype, max_bits=16)
    granularity = check_choice(granularity, "granularity", GRANULARITIES)
    fixed = check_shape(shape)
    with_zero_point = check_bool(with_zero_point, "with_zero_point")
    if granularity == "per_tensor":
        if axis is not None or block_size is not None:
            raise invalid_argument("axis", "None for per_tensor granularity", axis if axis is not None else block_size)
    if fixed is not None and granularity != "per_tensor":
        if not fixed:
            raise invalid_argument("shape", f"at least one dimension for {granularity} granularity", shape)
        if axis is not None:
            check_integer(axis, "axis", -len(fixed), len(fixed) - 1)
    else:
        check_integer(axis, "axis", allow_none=True)
    if granularity != "blocked" and block_size is not None:
        raise invalid_argument("block_size", "None unless granularity is 'blocked'", block_size)
    check_integer(block_size, "block_size", 1, allow_none=True)
    scale_values = scales(min_value=min_scale, max_value=max_scale)
    qmin, qmax = integer_range(fmt)
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


#: How :func:`refq.strategies.invalid_quantization_parameters` breaks valid parameters: kind -> (argument, reason).
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
    granularity = check_choice(granularity, "granularity", GRANULARITIES)
    allowed = tuple(INVALID_KINDS)
    if granularity == "per_tensor":
        allowed = tuple(kind for kind in allowed if kind not in ("axis_out_of_range", "block_size_not_positive"))
    kinds = allowed if kinds is None else check_choices(kinds, "kinds", allowed)
    fixed = check_shape(shape)
    if fixed is not None and fixed == () and granularity != "per_tensor":
        raise invalid_argument("shape", f"at least one dimension for {granularity} granularity", shape)
    valid = quantization_parameters(shape=fixed, dtype=fmt.name, granularity=granularity)
    qmin, qmax = integer_range(fmt)

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
