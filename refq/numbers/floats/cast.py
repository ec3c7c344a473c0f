"""ONNX ``Cast`` to a binary float format, as bit patterns (the ``cast`` operation).

numpy has no dtype for most of refq's formats (float8, float6, float4...), so the
result is the patterns themselves; ``ml_dtypes`` views them as its own types:
``refq.cast(x, "float8_e4m3fn").view(ml_dtypes.float8_e4m3fn)``.
"""

from __future__ import annotations

import numpy as np

from refq.errors import wrong_type
from refq.numbers.floats.arrays import encode_array
from refq.numbers.floats.encode import SATURATE, TO_INFINITY
from refq.registry import float_format


def cast(x, to, *, saturate: bool = False) -> np.ndarray:
    """Round every element of ``x`` to the float format ``to`` (NUM-3.12 to NUM-3.17, by NUM-3.19).

    Args:
        x: an array of binary floats (float16, float32, float64 or an ml_dtypes float type),
            each converted exactly, then rounded once to ``to``.
        to: the target format: a name or alias of ``refq.registry.FLOAT_FORMATS``
            (``"float8_e4m3fn"``, ``"bfloat16"``, ``"float16"``...).
        saturate: ONNX ``Cast``'s attribute: a finite value beyond the largest finite value of
            ``to`` becomes that value (with its sign) instead of an infinity, or a NaN where ``to``
            has no infinity (NUM-3.15).

    Returns:
        The bit patterns, shaped like ``x``, in the narrowest of uint8, uint16 and uint32 that holds them.
    """
    fmt = float_format(to, "to")
    if not isinstance(saturate, (bool, np.bool_)):
        raise wrong_type("saturate", "True or False", saturate)
    return encode_array(x, fmt, overflow=SATURATE if saturate else TO_INFINITY)
