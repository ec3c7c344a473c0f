"""Whole problems: quantize and dequantize inputs with their parameters, observer batches and
matmul operands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from refq.strategies.adversarial import near_ties, saturation_edges
from refq.strategies.arrays import shapes, tensors
from refq.strategies.parameters import quantization_parameters
from refq.strategies.validation import (DEQUANTIZE_DTYPES, GRANULARITIES, QUANTIZE_DTYPES, check_bool, check_choices,
                                        check_integer, check_shape, container_dtype, integer_format_argument,
                                        integer_range)
from refq.strategies.values import float32_values

F32 = np.float32


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
    dtypes = check_choices(dtypes, "dtypes", argument_dtypes)
    granularities = check_choices(granularities, "granularities", GRANULARITIES)
    return [(dtype, granularity) for dtype in dtypes for granularity in granularities]


def quantize_problems(*, dtypes=("int8", "uint8"), granularities=("per_tensor",), max_dims=3,
                      max_side=5) -> st.SearchStrategy[QuantizeProblem]:
    """Quantize calls whose inputs mix, element by element, float32 values of every class
    (:func:`refq.strategies.float32_values`), :func:`refq.strategies.near_ties` and :func:`refq.strategies.saturation_edges` of that element's
    own scale and zero point. ``dtypes`` and ``granularities`` list what may be drawn.

    Example: ``quantize_problems(dtypes=("int4",), granularities=("blocked",))``.
    """
    layouts = _layouts(dtypes, granularities, QUANTIZE_DTYPES)
    max_dims = check_integer(max_dims, "max_dims", 1, 6)
    max_side = check_integer(max_side, "max_side", 1)
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
    :func:`refq.strategies.quantization_parameters`. ``dtypes`` may include ``int32``.

    Example: ``dequantize_problems(dtypes=("int32",))``.
    """
    layouts = _layouts(dtypes, granularities, DEQUANTIZE_DTYPES)
    max_dims = check_integer(max_dims, "max_dims", 1, 6)
    max_side = check_integer(max_side, "max_side", 1)

    @st.composite
    def draw_problem(draw):
        dtype, granularity = draw(st.sampled_from(layouts))
        fmt = integer_format_argument(dtype, max_bits=32)
        qmin, qmax = integer_range(fmt)
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
    (values by bit pattern, see :func:`refq.strategies.float32_values`).

    Example: ``observer_batches(max_batches=8, shape=(16,), min_value=-4, max_value=4)``.
    """
    min_batches = check_integer(min_batches, "min_batches", 1)
    max_batches = check_integer(max_batches, "max_batches", min_batches)
    fixed = check_shape(shape)
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
    max_side = check_integer(max_side, "max_side", 1)
    max_batch_dims = check_integer(max_batch_dims, "max_batch_dims", 0, 4)
    with_zero_points = check_bool(with_zero_points, "with_zero_points")

    def matrix(draw, fmt, shape):
        low, high = integer_range(fmt)
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
