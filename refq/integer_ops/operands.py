"""INT-1.1: the operands of the integer operations — 8-bit integer inputs and their zero points."""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type

#: The input types of MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv.
INPUT_DTYPES = ("int8", "uint8")
#: Their names by numpy scalar type: ``dtype.name`` is worked out in Python at every access (a microsecond
#: or two on each call of a kernel), ``dtype.type`` is not.
INPUT_TYPES = {np.int8: "int8", np.uint8: "uint8"}


def integer_input(values, argument: str, minimum_rank: int = 1) -> np.ndarray:
    """INT-1.1: an input is an int8 or uint8 array of rank ``minimum_rank`` or more."""
    if not isinstance(values, np.ndarray) and not np.isscalar(values):
        try:
            values = np.asarray(values)
        except Exception:
            raise wrong_type(argument, "an int8 or uint8 array", values) from None
    values = np.asarray(values)
    if values.dtype.type not in INPUT_TYPES:
        raise invalid(argument, "an int8 or uint8 array", f"{values.dtype} array")
    if values.ndim < minimum_rank:
        raise invalid(argument, f"an array of rank {minimum_rank} or more", f"rank {values.ndim}")
    return values


def zero_point_values(zero_point, dtype: np.dtype, argument: str) -> np.ndarray:
    """INT-1.1: a zero point has its input's type; None means 0.

    A numpy array or scalar must have exactly the input's dtype (ONNX ties them to one
    type variable); a Python ``int`` must lie in that type's range. Returns int16 values
    (every int8 and uint8 value fits), not yet shaped.
    """
    if zero_point is None:
        return np.zeros((), dtype=np.int16)
    if isinstance(zero_point, bool) or isinstance(zero_point, np.bool_):
        raise wrong_type(argument, f"an integer of {dtype}", zero_point)
    if isinstance(zero_point, int):
        info = np.iinfo(dtype)  # only here: it takes a microsecond
        if not info.min <= zero_point <= info.max:
            raise invalid(argument, f"in [{info.min}, {info.max}] ({dtype}, the input's type)", zero_point)
        return np.array(zero_point, dtype=np.int16)
    try:
        values = np.asarray(zero_point)
    except Exception:
        raise wrong_type(argument, f"a {dtype} array (the input's type)", zero_point) from None
    if values.dtype != dtype:
        raise invalid(argument, f"of type {dtype} (the input's type)", f"{values.dtype} array")
    return values.astype(np.int16)
