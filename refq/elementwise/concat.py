"""ELT-7: ONNX Runtime's ``com.microsoft.QLinearConcat``: concatenation of 8-bit tensors
with their own scales and zero points into one output scale and zero point.
"""

from __future__ import annotations

import numpy as np

from refq.elementwise.lookup import build_table, lookup
from refq.elementwise.operands import operand, single_scale, single_zero_point
from refq.errors import invalid, wrong_type


def _identity(values: np.ndarray) -> np.ndarray:
    return values


def requantize_codes(X, X_scale, X_zero_point, Y_scale, Y_zero_point) -> np.ndarray:
    """ELT-7.1: one input moved to the output's scale and zero point: copied when both are
    bit-identical, otherwise looked up in the table of the identity function (ELT-3.2, ELT-3.5),
    i.e. $Q_Y(\\mathrm{fl}(s_X (q - z_X)))$ with ONNX Runtime's ``QuantizeLinear``."""
    x = operand(X, X_scale, X_zero_point, "X")
    y_scale = single_scale(Y_scale, "Y_scale")
    y_zero = single_zero_point(Y_zero_point, x.values.dtype, "Y_zero_point")
    if x.scale.view(np.uint32) == y_scale.view(np.uint32) and x.zero_point == y_zero:
        return x.values.copy()
    table = build_table(_identity, x.scale, x.zero_point, y_scale, y_zero, x.values.dtype)
    return lookup(x.values, table)


def qlinear_concat(Y_scale, Y_zero_point, inputs, *, axis) -> np.ndarray:
    """ELT-7.2: ``com.microsoft.QLinearConcat(Y_scale, Y_zero_point, X1, X1_scale, X1_zero_point, ...)``:
    each input requantized by ELT-7.1, then concatenated along ``axis`` (negative counts from the
    end). ``inputs`` is a sequence of ``(X, X_scale, X_zero_point)``; every ``X`` has the type of
    ``Y_zero_point`` (int8 or uint8), the same rank, and the same length on every other axis."""
    if isinstance(inputs, (np.ndarray, str)) or not hasattr(inputs, "__len__"):
        raise wrong_type("inputs", "a sequence of (X, X_scale, X_zero_point) tuples", inputs)
    if len(inputs) == 0:
        raise invalid("inputs", "at least one (X, X_scale, X_zero_point) tuple", "none")
    zero = np.asarray(Y_zero_point)
    if zero.dtype.name not in ("int8", "uint8"):
        raise invalid("Y_zero_point", "an int8 or uint8 value (it sets the output type)", f"{zero.dtype} value")
    parts = []
    for index, item in enumerate(inputs):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise wrong_type(f"inputs[{index}]", "a tuple (X, X_scale, X_zero_point)", item)
        values, scale, zero_point = item
        array = np.asarray(values) if isinstance(values, (np.ndarray, np.generic)) else values
        if isinstance(array, np.ndarray) and array.dtype != zero.dtype:
            raise invalid(f"inputs[{index}]", f"a {zero.dtype} array like Y_zero_point", f"{array.dtype} array")
        zero_point = None if zero_point is None else np.asarray(zero_point)
        if zero_point is not None and zero_point.dtype != zero.dtype:
            raise invalid(f"inputs[{index}] zero point", f"a {zero.dtype} value like Y_zero_point",
                          f"{zero_point.dtype} value")
        parts.append(requantize_codes(values, scale, zero_point, Y_scale, zero))
    rank = parts[0].ndim
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise invalid("axis", f"an integer in [{-rank}, {rank - 1}]", axis)
    axis = int(axis) % rank
    for index, part in enumerate(parts):
        if part.ndim != rank or part.shape[:axis] + part.shape[axis + 1:] != \
                parts[0].shape[:axis] + parts[0].shape[axis + 1:]:
            raise invalid(f"inputs[{index}]", f"a shape equal to {parts[0].shape} except on axis {axis}",
                          f"shape {part.shape}")
    return np.concatenate(parts, axis=axis)


__all__ = ["qlinear_concat", "requantize_codes"]
