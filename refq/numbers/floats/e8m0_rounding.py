"""NUM-3.21 and NUM-3.22: casting into E8M0 (``float8_e8m0fnu``) under ONNX ``Cast``'s ``round_mode``.

E8M0 holds only powers of two, $2^{-127}$ to $2^{127}$ (patterns 0 to 254) and a NaN (255), so a
rounding mode is a choice of exponent: the floor or the ceiling of $\\log_2 x$, or the nearer of the
two. The work is on the binary64 fields of the exact input (``numpy.frexp`` is exact), never on
floating-point arithmetic.
"""

from __future__ import annotations

import numpy as np

#: ONNX ``Cast``'s ``round_mode`` values (opset 25): ``nearest`` is NUM-3.13's rounding.
ROUND_MODES = ("nearest", "up", "down")
#: NUM-3.22's values of the ``e8m0_conversion`` variant.
E8M0_CONVERSIONS = ("nearest_value", "range_first", "exponent_field")

NAN = 0xFF
LARGEST = 0xFE
SMALLEST = 0x00
BIAS = 127


def directed_e8m0(x, round_mode: str, saturate: bool) -> np.ndarray:
    """NUM-3.21: the E8M0 patterns of ``x`` (float64, exact) rounded ``up`` (the least power of two
    $\\ge x$) or ``down`` (the greatest $\\le x$).

    A NaN, a negative value (``-inf`` included) and ``-0`` give the NaN 255, as NUM-3.12 says of an
    unsigned format. ``+0`` rounds up to the smallest value, pattern 0, and down to nothing. An exponent
    above 127 (``+inf`` included) overflows and one below -127 under ``down`` underflows: both give the
    largest (254) or the smallest (0) value under ``saturate``, else the NaN. ``up`` never underflows:
    the smallest value is above every positive number below it.
    """
    x = np.asarray(x, dtype=np.float64)
    patterns = np.full(x.shape, NAN, dtype=np.uint8)
    fraction, exponent = np.frexp(x)  # x = fraction * 2^exponent, fraction in [0.5, 1); exact
    positive = (x > 0) & np.isfinite(x)
    power_of_two = fraction == 0.5
    log2_floor = exponent.astype(np.int64) - 1
    chosen = log2_floor + ((round_mode == "up") & ~power_of_two)
    in_range = positive & (chosen >= -BIAS) & (chosen <= BIAS)
    patterns[in_range] = (chosen[in_range] + BIAS).astype(np.uint8)
    overflow = (positive & (chosen > BIAS)) | (x == np.inf)
    below = (positive & (chosen < -BIAS)) | ((x == 0) & ~np.signbit(x))
    if saturate:
        patterns[overflow] = LARGEST
    if round_mode == "up":
        patterns[below] = SMALLEST
    elif saturate:
        patterns[below] = SMALLEST
    return patterns


def range_first_e8m0(x, round_mode: str, saturate: bool) -> np.ndarray:
    """NUM-3.22 ``range_first``: the ONNX text's tables, as ONNX Runtime 1.32 computes them. A value outside
    $[2^{-127}, 2^{127}]$ is out of range before any rounding: below it (``+0``, ``-0`` and every negative
    value included) it gives the smallest value 0 under ``saturate``, else the NaN; above it (``+inf``
    included) the largest value 254, else the NaN. A value inside rounds by ``round_mode`` (``nearest``:
    NUM-3.13, whose ties go up), and stays inside."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        below = x < 2.0 ** -BIAS
        above = x > 2.0 ** BIAS
    inside = ~(below | above | np.isnan(x))
    if round_mode == "nearest":
        from refq.numbers.floats.arrays import encode_array

        rounded = encode_array(np.where(inside, x, 1.0), "float8_e8m0fnu")
    else:
        rounded = directed_e8m0(np.where(inside, x, 1.0), round_mode, saturate)
    patterns = np.where(inside, rounded, NAN).astype(np.uint8)
    if saturate:
        patterns[below] = SMALLEST
        patterns[above] = LARGEST
    return patterns


def exponent_field_e8m0(x32: np.ndarray, round_mode: str, saturate: bool) -> np.ndarray:
    """NUM-3.22 ``exponent_field``: onnx.reference's ``to_float8e8m0`` (onnx 1.23), read from the float32
    bits: the sign is dropped; the exponent field is the pattern, raised by one under ``up`` when any
    mantissa bit is set and under ``nearest`` when the first mantissa bit is set (a float32 subnormal
    needs more: also the second bit or a later one); an infinity or NaN field gives 255 whatever
    ``saturate`` says; only under ``saturate`` does a raised 254 stay 254."""
    bits = np.asarray(x32, dtype=np.float32).view(np.uint32)
    field = ((bits >> 23) & 0xFF).astype(np.int64)
    mantissa = bits & 0x7FFFFF
    if round_mode == "up":
        raised = mantissa != 0
    elif round_mode == "nearest":
        first, second, rest = mantissa & 0x400000, mantissa & 0x200000, mantissa & 0x1FFFFF
        raised = (first != 0) & ((second != 0) | (rest != 0) | (field > 0))
    else:
        raised = np.zeros(bits.shape, dtype=bool)
    raised &= field != 0xFF
    if saturate:
        raised &= field != 0xFE
    return np.where(field == 0xFF, NAN, field + raised).astype(np.uint8)
