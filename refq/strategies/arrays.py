"""Shapes and tensors: arrays of a float format's values, drawn pattern by pattern.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from refq.registry import FloatFormat
from refq.strategies.validation import check_integer, check_shape, float_format_argument
from refq.strategies.values import format_patterns, pattern_values

F32 = np.float32


def shapes(*, min_dims=1, max_dims=3, min_side=1, max_side=6) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes; they shrink toward ``(min_side,) * min_dims``."""
    min_dims = check_integer(min_dims, "min_dims", 0, 8)
    max_dims = check_integer(max_dims, "max_dims", min_dims, 8)
    min_side = check_integer(min_side, "min_side", 0)
    max_side = check_integer(max_side, "max_side", min_side)
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def tensors(format="binary32", *, shape=None, min_dims=1, max_dims=3, min_side=1, max_side=6, min_value=None,
            max_value=None, allow_nan=None, allow_infinity=None, allow_subnormal=None) -> st.SearchStrategy[np.ndarray]:
    """float32 arrays whose elements are values of ``format`` drawn by bit pattern (see
    :func:`refq.strategies.format_patterns` for the value arguments); ``shape`` fixes the shape, otherwise one is
    drawn with ``min_dims``..``max_dims`` sides of ``min_side``..``max_side``.

    Example: ``tensors(shape=(4, 3), min_value=-10, max_value=10)``.
    """
    fmt = float_format_argument(format)
    fixed = check_shape(shape)
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
