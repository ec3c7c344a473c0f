"""ONNX ``Cast`` to a binary float format, as bit patterns (the ``cast`` operation).

numpy has no dtype for most of refq's formats (float8, float6, float4...), so the
result is the patterns themselves; ``ml_dtypes`` views them as its own types:
``refq.cast(x, "float8_e4m3fn").view(ml_dtypes.float8_e4m3fn)``.
"""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type
from refq.numbers.floats.arrays import encode_array
from refq.numbers.floats.constants import max_finite
from refq.numbers.floats.e8m0_rounding import (
    E8M0_CONVERSIONS,
    ROUND_MODES,
    directed_e8m0,
    exponent_field_e8m0,
    range_first_e8m0,
)
from refq.numbers.floats.encode import SATURATE, TO_INFINITY
from refq.registry import float_format

#: NUM-3.20's values of ``float8_conversion``.
FLOAT8_CONVERSIONS = ("nearest", "onnxruntime_float8")
#: NUM-3.23's values of ``finite_format_nan``.
FINITE_FORMAT_NANS = ("error", "largest", "opposite_sign_zero")
E8M0 = "float8_e8m0fnu"

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


def finite_format_nans(x: np.ndarray, patterns_of, fmt, rule: str) -> np.ndarray:
    """NUM-3.23: encode ``x`` into a format without NaN, whose NaN elements get the pattern ``rule`` names:
    ``largest``, the largest positive finite value; ``opposite_sign_zero``, the zero whose sign is not the NaN's."""
    with np.errstate(invalid="ignore"):  # a signalling NaN widened
        values = np.asarray(x, dtype=np.float64)
    nans = np.isnan(values)
    if rule == "error" or not nans.any():
        return patterns_of(values)
    patterns = patterns_of(np.where(nans, 0.0, values))
    sign_bit = patterns.dtype.type(1 << (fmt.total_bits - 1))
    if rule == "largest":
        nan_patterns = np.full(patterns.shape, encode_array(np.array([float(max_finite(fmt))]), fmt)[0], patterns.dtype)
    else:
        nan_patterns = np.where(np.signbit(values), patterns.dtype.type(0), sign_bit).astype(patterns.dtype)
    return np.where(nans, nan_patterns, patterns)


def cast(x, to, *, saturate: bool = False, round_mode: str = "nearest", float8_conversion: str = "nearest",
         e8m0_conversion: str = "nearest_value", finite_format_nan: str = "error") -> np.ndarray:
    """Round every element of ``x`` to the float format ``to`` (NUM-3.12 to NUM-3.17, by NUM-3.19).

    Args:
        x: an array of binary floats (float16, float32, float64 or an ml_dtypes float type),
            each converted exactly, then rounded once to ``to``.
        to: the target format: a name or alias of ``refq.registry.FLOAT_FORMATS``
            (``"float8_e4m3fn"``, ``"bfloat16"``, ``"float16"``...).
        saturate: ONNX ``Cast``'s attribute: a finite value beyond the largest finite value of
            ``to`` becomes that value (with its sign) instead of an infinity, or a NaN where ``to``
            has no infinity (NUM-3.15).
        round_mode: ONNX ``Cast``'s attribute for E8M0 (``float8_e8m0fnu``): ``"nearest"`` (NUM-3.13),
            ``"up"`` or ``"down"`` (NUM-3.21; ONNX's default is ``"up"``). Only ``"nearest"`` for any
            other target.
        float8_conversion: ``"nearest"`` (NUM-3.13 to 3.17) or ``"onnxruntime_float8"``: ONNX Runtime's
            non-saturating conversion to float8_e4m3fn and float8_e5m2 (NUM-3.20).
        e8m0_conversion: how a cast into E8M0 treats values out of its range (NUM-3.22):
            ``"nearest_value"`` (NUM-3.13 and NUM-3.21: rounded to a value, then overflowing),
            ``"range_first"`` (the ONNX text and ONNX Runtime: out of range before rounding) or
            ``"exponent_field"`` (onnx.reference's, read from the float32 bits).
        finite_format_nan: what a NaN becomes in a format without NaN (float4, float6; NUM-3.23):
            ``"error"`` (refused), ``"largest"`` or ``"opposite_sign_zero"``.

    Returns:
        The bit patterns, shaped like ``x``, in the narrowest of uint8, uint16 and uint32 that holds them.
    """
    fmt = float_format(to, "to")
    if not isinstance(saturate, (bool, np.bool_)):
        raise wrong_type("saturate", "True or False", saturate)
    for name, value, allowed in (("round_mode", round_mode, ROUND_MODES),
                                 ("float8_conversion", float8_conversion, FLOAT8_CONVERSIONS),
                                 ("e8m0_conversion", e8m0_conversion, E8M0_CONVERSIONS),
                                 ("finite_format_nan", finite_format_nan, FINITE_FORMAT_NANS)):
        if value not in allowed:
            raise invalid(name, "one of " + ", ".join(allowed), value)
    if round_mode != "nearest" and fmt.name != E8M0:
        raise invalid("round_mode", f"'nearest' for {fmt.name} (ONNX applies round_mode to {E8M0} only)",
                      round_mode)
    overflow = SATURATE if saturate else TO_INFINITY
    if fmt.name == E8M0 and e8m0_conversion == "exponent_field":
        with np.errstate(over="ignore", invalid="ignore"):  # the rule reads float32 bits: float64 is rounded first
            return exponent_field_e8m0(np.asarray(x, dtype=np.float32), round_mode, bool(saturate))
    if fmt.name == E8M0 and e8m0_conversion == "range_first":
        with np.errstate(invalid="ignore"):
            return range_first_e8m0(np.asarray(x, dtype=np.float64), round_mode, bool(saturate))
    if fmt.name == E8M0 and round_mode != "nearest":
        with np.errstate(invalid="ignore"):
            return directed_e8m0(np.asarray(x, dtype=np.float64), round_mode, bool(saturate))
    if not fmt.has_nan:
        return finite_format_nans(x, lambda values: encode_array(values, fmt, overflow=overflow), fmt,
                                  finite_format_nan)
    patterns = encode_array(x, fmt, overflow=overflow)
    if float8_conversion == "onnxruntime_float8" and not saturate:
        return onnxruntime_overflow(x, patterns, fmt.name)
    return patterns
