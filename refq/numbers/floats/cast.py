"""ONNX ``Cast`` to a binary float format, as bit patterns (the ``cast`` operation).

numpy has no dtype for most of refq's formats (float8, float6, float4...), so the
result is the patterns themselves; ``ml_dtypes`` views them as its own types:
``refq.cast(x, "float8_e4m3fn").view(ml_dtypes.float8_e4m3fn)``.
"""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type
from refq.numbers.floats.arrays import encode_array
from refq.numbers.floats.encode import SATURATE, TO_INFINITY
from refq.registry import float_format

#: NUM-3.20's values of ``float8_conversion``.
FLOAT8_CONVERSIONS = ("nearest", "onnxruntime_float8")

#: NUM-3.20: ONNX Runtime's non-saturating float8 conversions, where they leave NUM-3.15: format ->
#: (the magnitudes [low, high) concerned, the pattern they get, with the input's sign bit added).
#: float8_e4m3fn's bits 1.111 at the top exponent are its NaN, and ORT clears the last one, which
#: makes [480, 496) the largest finite value; float8_e5m2's rounding up from the largest finite
#: value gives a NaN where the exponent range ends.
ONNXRUNTIME_OVERFLOW_WINDOWS: dict[str, tuple[float, float, int]] = {
    "float8_e4m3fn": (480.0, 496.0, 0x7E),
    "float8_e5m2": (61440.0, 65536.0, 0x7E),
}


def onnxruntime_overflow(x: np.ndarray, patterns: np.ndarray, to: str) -> np.ndarray:
    """NUM-3.20 ``onnxruntime_float8``: ``patterns`` (NUM-3.15's ``infinity`` encoding of ``x``) with
    ONNX Runtime's pattern for the magnitudes of its window."""
    window = ONNXRUNTIME_OVERFLOW_WINDOWS.get(to)
    if window is None:
        return patterns
    low, high, pattern = window
    with np.errstate(invalid="ignore"):  # a signalling NaN widened (it is in no window)
        magnitude = np.abs(np.asarray(x, dtype=np.float64))
    inside = (magnitude >= low) & (magnitude < high)
    if not inside.any():
        return patterns
    signs = np.where(np.signbit(x), 0x80, 0).astype(patterns.dtype)
    return np.where(inside, signs | patterns.dtype.type(pattern), patterns)


def cast(x, to, *, saturate: bool = False, float8_conversion: str = "nearest") -> np.ndarray:
    """Round every element of ``x`` to the float format ``to`` (NUM-3.12 to NUM-3.17, by NUM-3.19).

    Args:
        x: an array of binary floats (float16, float32, float64 or an ml_dtypes float type),
            each converted exactly, then rounded once to ``to``.
        to: the target format: a name or alias of ``refq.registry.FLOAT_FORMATS``
            (``"float8_e4m3fn"``, ``"bfloat16"``, ``"float16"``...).
        saturate: ONNX ``Cast``'s attribute: a finite value beyond the largest finite value of
            ``to`` becomes that value (with its sign) instead of an infinity, or a NaN where ``to``
            has no infinity (NUM-3.15).
        float8_conversion: ``"nearest"`` (NUM-3.13 to 3.17) or ``"onnxruntime_float8"``: ONNX Runtime's
            non-saturating conversion to float8_e4m3fn and float8_e5m2 (NUM-3.20).

    Returns:
        The bit patterns, shaped like ``x``, in the narrowest of uint8, uint16 and uint32 that holds them.
    """
    fmt = float_format(to, "to")
    if not isinstance(saturate, (bool, np.bool_)):
        raise wrong_type("saturate", "True or False", saturate)
    if float8_conversion not in FLOAT8_CONVERSIONS:
        raise invalid("float8_conversion", "one of " + ", ".join(FLOAT8_CONVERSIONS), float8_conversion)
    patterns = encode_array(x, fmt, overflow=SATURATE if saturate else TO_INFINITY)
    if float8_conversion == "onnxruntime_float8" and not saturate:
        return onnxruntime_overflow(x, patterns, fmt.name)
    return patterns
