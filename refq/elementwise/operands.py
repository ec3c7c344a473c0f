"""ELT-1: the operands of the quantized elementwise operations: 8-bit tensors, one
scale and one zero point per tensor, and ONNX (numpy) broadcasting.

ONNX Runtime's contrib operators take every scale and zero point as a single value
(a scalar or a one-element vector); so does refq.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refq.affine.parameters import scale_array
from refq.errors import invalid, wrong_type

#: The integer types of ONNX Runtime's QLinearAdd, QLinearMul, QLinearSigmoid,
#: QLinearLeakyRelu, QLinearAveragePool, QLinearGlobalAveragePool and QLinearConcat.
DTYPES = ("int8", "uint8")

# Which input ONNX Runtime's broadcaster treats as the per-span scalar (ELT-1.3).
GENERAL = 0
FIRST_SCALAR = 1
SECOND_SCALAR = 2


def quantized_tensor(values, argument: str) -> np.ndarray:
    """ELT-1.1: a quantized input is an int8 or uint8 array (a Python scalar is not: its type would be a guess)."""
    if not isinstance(values, (np.ndarray, np.generic)):
        raise wrong_type(argument, "an int8 or uint8 numpy array", values)
    array = np.asarray(values)
    if array.dtype.name not in DTYPES:
        raise invalid(argument, "an int8 or uint8 array", f"{array.dtype} array")
    return array


def single_scale(scale, argument: str) -> np.float32:
    """ELT-1.1: a scale is one finite float32 > 0 (a scalar or a one-element array)."""
    values = scale_array(scale, argument)
    if values.size != 1:
        raise invalid(argument, "a single value (per tensor)", f"shape {values.shape}")
    return np.float32(values.reshape(()))


def single_zero_point(zero_point, dtype: np.dtype, argument: str) -> int:
    """ELT-1.1: a zero point is one integer in the range of the tensor's type; omitted (None) it is 0."""
    if zero_point is None:
        return 0
    values = np.asarray(zero_point)
    if values.dtype.kind not in "iu":
        raise wrong_type(argument, f"an integer in the range of {dtype}", zero_point)
    if values.size != 1:
        raise invalid(argument, "a single value (per tensor)", f"shape {values.shape}")
    value = int(values.reshape(()))
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise invalid(argument, f"in [{info.min}, {info.max}] (the range of {dtype})", value)
    return value


@dataclass(frozen=True)
class QuantizedOperand:
    values: np.ndarray
    scale: np.float32
    zero_point: int


def operand(values, scale, zero_point, argument: str, dtype: np.dtype | None = None) -> QuantizedOperand:
    """Validate one quantized tensor with its scale and zero point (ELT-1.1)."""
    array = quantized_tensor(values, argument)
    if dtype is not None and array.dtype != dtype:
        raise invalid(argument, f"a {dtype} array like the first input", f"{array.dtype} array")
    return QuantizedOperand(array, single_scale(scale, argument + "_scale"),
                            single_zero_point(zero_point, array.dtype, argument + "_zero_point"))


def broadcast_shape(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    """ELT-1.2: the output shape of two broadcast inputs (numpy's rule, which ONNX adopts)."""
    try:
        return tuple(np.broadcast_shapes(first, second))
    except ValueError:
        raise invalid("B", f"a shape that broadcasts with A's {first}", second) from None


def span_role(first: tuple[int, ...], second: tuple[int, ...]) -> int:
    """ELT-1.3: which input ONNX Runtime's broadcaster treats as a scalar repeated along each span.

    The broadcaster walks the axes from the innermost outwards over the axes both shapes
    have, skipping axes of length 1 in both; the first axis where an input has length
    1 (or the outermost common axis when all are 1, or a rank-0 input) makes that input
    the per-span scalar, the first input taking precedence. Returns ``GENERAL``
    (neither), ``FIRST_SCALAR`` or ``SECOND_SCALAR``.
    """
    common = min(len(first), len(second))
    if common == 0:
        first_axis = first[-1] if first else 1
        second_axis = second[-1] if second else 1
    else:
        index = 1
        while index < common and first[-index] == 1 and second[-index] == 1:
            index += 1
        first_axis, second_axis = first[-index], second[-index]
    if first_axis == 1:
        return FIRST_SCALAR
    if second_axis == 1:
        return SECOND_SCALAR
    return GENERAL
