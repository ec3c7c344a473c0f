"""REQ-2: requantization with a fixed-point multiplier and a shift.

Integer-only backends encode the real multiplier $m$ as an integer $M$ of $b$ bits
(31 or 15 fraction bits) and a right shift $s$ with $m \\approx M \\cdot 2^{-s}$, derived
once, in float64, when the model is prepared (REQ-2.1 to REQ-2.3). At inference time
only integer multiplies, adds and shifts run (REQ-2.4 to REQ-2.6).

Shifts here are always TOSA's: the *total right shift* $s$, so that
$M \\cdot 2^{-s}$ is the multiplier. TensorFlow Lite and gemmlowp store the exponent
$e$ of $m = (M / 2^{31}) \\cdot 2^{e}$ instead: $e = 31 - s$ (positive $e$ is a left shift).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from refq._jit import kernel
from refq.affine.parameters import granularity, output_array, target_type, zero_point_array
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import round_rational
from refq.registry import rounding_mode
from refq.registry.variants import variant_code

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT48_MIN = -(2**47)
INT48_MAX = 2**47 - 1

# fixed_point_rounding
SINGLE_ROUND = 0
DOUBLE_ROUND = 1
DOUBLE_ROUND_TIES_UP = 2
# shift_limits
TOSA_LIMITS = 0
TFLITE_LIMITS = 1
TFLITE_SINGLE_ROUND_LIMITS = 2


def _bits_argument(bits: object) -> int:
    if isinstance(bits, bool) or bits not in (16, 32):
        raise invalid("bits", "16 or 32", bits)
    return int(bits)


# --- derivation (REQ-2.1 to REQ-2.3) ------------------------------------------------------


def split_multiplier(real_multiplier: float) -> tuple[Fraction, int]:
    """REQ-2.1: $m = f \\cdot 2^{e}$ with $f \\in [1/2, 1)$, as C's ``frexp`` splits a float64.

    $m = 0$ gives $(0, 0)$. Both parts are exact: $f$ is $m$ with its exponent replaced.
    """
    if isinstance(real_multiplier, bool) or not isinstance(real_multiplier, (numbers.Real, np.floating)):
        raise wrong_type("real_multiplier", "a float", real_multiplier)
    value = float(real_multiplier)  # float32 and int values convert to float64 exactly (ints up to 2^53)
    if not math.isfinite(value) or value < 0:
        raise invalid("real_multiplier", "finite and >= 0", real_multiplier)
    fraction, exponent = math.frexp(value)
    return Fraction(fraction), exponent


def fixed_point_multiplier(real_multiplier: float, *, bits: int = 32, rounding: str = "half_away_from_zero",
                           shift_limits: str = "tosa") -> tuple[int, int]:
    """REQ-2.2, REQ-2.3: the integer multiplier $M$ and right shift $s$ for the float64 ``real_multiplier``.

    With $m = f \\cdot 2^{e}$ (REQ-2.1), $M = \\mathrm{round}(f \\cdot 2^{b-1})$ under ``rounding``
    and $s = (b - 1) - e$. $f < 1$, yet $M$ can round up to $2^{b-1}$, one past the largest
    $b$-bit value: then $M = 2^{b-2}$ and $s$ decreases by one (the same value, renormalised).
    ``shift_limits`` then brings $s$ into the backend's range (REQ-2.3).
    """
    bits = _bits_argument(bits)
    mode = rounding_mode(rounding, "rounding").name
    limits = variant_code("shift_limits", shift_limits, "shift_limits")
    if bits != 32 and limits != TOSA_LIMITS:
        raise invalid("shift_limits", "'tosa' with bits=16 (TensorFlow Lite has a 32-bit form only)", shift_limits)
    fraction, exponent = split_multiplier(real_multiplier)
    one = 1 << (bits - 1)
    multiplier = round_rational(fraction * one, mode)
    if multiplier == one:
        multiplier //= 2
        exponent += 1
    shift = (bits - 1) - exponent
    return limit_shift(multiplier, shift, bits, limits)


def limit_shift(multiplier: int, shift: int, bits: int, limits: int) -> tuple[int, int]:
    """REQ-2.3: bring the right shift into the backend's range.

    ``tosa`` (MLIR's TOSA legalisation): a shift past 62 becomes 62 and $M$ is shifted
    right (floor) by the excess, at most 31 bits; a shift below 2 is outside TOSA's range:
    an error. ``tflite`` (``QuantizeMultiplier``): an exponent below $-31$ ($s > 62$)
    flushes the multiplier to $M = 0$, $e = 0$ ($s = 31$); a shift below 1 (exponent 31
    and up) is an error. ``tflite_single_round`` also caps the exponent at 30: $s < 1$
    becomes $M = 2^{31} - 1$, $s = 1$.
    """
    if multiplier == 0:
        return 0, bits - 1
    if limits == TOSA_LIMITS:
        if shift > 62:
            multiplier >>= min(31, shift - 62)
            shift = 62
        if shift < 2:
            raise invalid("real_multiplier", f"below 2^{bits - 2} for TOSA (a right shift of at least 2)",
                          Fraction(multiplier, 1) / 2**shift)
        return multiplier, shift
    exponent = 31 - shift
    if exponent < -31:
        return 0, bits - 1
    if limits == TFLITE_SINGLE_ROUND_LIMITS and shift < 1:
        return (1 << (bits - 1)) - 1, 1
    if shift < 1:
        raise invalid("real_multiplier", f"below 2^{bits - 2} for TensorFlow Lite", Fraction(multiplier) / 2**shift)
    return multiplier, shift


# --- application (REQ-2.4 to REQ-2.6) ------------------------------------------------------


@kernel
def apply_scale_32(value, multiplier, shift, double_round):
    """REQ-2.4: $\\lfloor (v \\cdot M + r) / 2^{s} \\rfloor$ with $r = 2^{s-1}$, exact in int64.

    Single rounding rounds $v M / 2^s$ once, ties toward $+\\infty$. With
    ``double_round`` and $s > 31$, $r$ grows by $2^{30}$ for $v \\ge 0$ and shrinks by
    $2^{30}$ for $v < 0$: the result of rounding at bit 31 first (ties toward $+\\infty$)
    and then at bit $s$ (ties away from zero), as gemmlowp does in two steps (REQ-2.5).
    $|v| \\le 2^{31}$ and $M < 2^{31}$ keep every intermediate value below $2^{63}$.
    """
    rounding = np.int64(1) << (shift - 1)
    if double_round and shift > 31:
        if value >= 0:
            rounding += np.int64(1) << 30
        else:
            rounding -= np.int64(1) << 30
    return (np.int64(value) * np.int64(multiplier) + rounding) >> shift


@kernel
def apply_scale_16(value, multiplier, shift):
    """REQ-2.4: the 16-bit form, $\\lfloor (v \\cdot M + 2^{s-1}) / 2^{s} \\rfloor$ for an int48 $v$ and
    $M < 2^{15}$ (below $2^{63}$ in int64); single rounding only."""
    return (np.int64(value) * np.int64(multiplier) + (np.int64(1) << (shift - 1))) >> shift


@kernel
def truncating_divide(numerator, denominator):
    """C's integer division: the quotient rounded toward zero (Python's ``//`` floors)."""
    if numerator >= 0:
        return numerator // denominator
    return -((-numerator) // denominator)


@kernel
def saturating_rounding_doubling_high_mul(a, b):
    """REQ-2.5: gemmlowp's ``SaturatingRoundingDoublingHighMul`` of two int32 values.

    The high 32 bits of $2ab$, rounded: $(ab + \\nu)$ divided by $2^{31}$ truncating, with
    $\\nu = 2^{30}$ for $ab \\ge 0$ and $1 - 2^{30}$ for $ab < 0$, which is
    $\\lfloor (ab + 2^{30}) / 2^{31} \\rfloor$: ties toward $+\\infty$ on both signs. The one
    product whose result does not fit, $(-2^{31}) \\cdot (-2^{31})$, saturates to $2^{31} - 1$.
    """
    if a == b and a == INT32_MIN:
        return np.int64(INT32_MAX)
    product = np.int64(a) * np.int64(b)
    nudge = np.int64(1 << 30) if product >= 0 else np.int64(1 - (1 << 30))
    return truncating_divide(product + nudge, np.int64(1) << 31)


@kernel
def rounding_divide_by_power_of_two(x, exponent):
    """REQ-2.5: gemmlowp's ``RoundingDivideByPOT``: $x / 2^{k}$ rounded to nearest, ties away from zero,
    for $0 \\le k \\le 31$, from the arithmetic shift and the low bits."""
    mask = (np.int64(1) << exponent) - 1
    remainder = np.int64(x) & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (np.int64(x) >> exponent) + (1 if remainder > threshold else 0)


@kernel
def wrap_int32(value):
    """An int64 value reduced to int32 with wraparound (two's complement)."""
    return ((np.int64(value) - INT32_MIN) & np.int64(0xFFFFFFFF)) + INT32_MIN


@kernel
def multiply_by_quantized_multiplier(x, multiplier, exponent):
    """REQ-2.5: TensorFlow Lite's ``MultiplyByQuantizedMultiplier`` (default, double-rounding build).

    ``exponent`` is TFLite's shift $e = 31 - s$: a positive $e$ multiplies $x$ by $2^{e}$ first
    (in int32: wraps where C++ overflows, an undefined result), a negative $e$ divides by
    $2^{-e}$ after the high multiply.
    """
    left = exponent if exponent > 0 else 0
    right = -exponent if exponent < 0 else 0
    shifted = wrap_int32(np.int64(x) * (np.int64(1) << left))
    return rounding_divide_by_power_of_two(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


@kernel
def multiply_by_quantized_multiplier_single_round(x, multiplier, exponent):
    """REQ-2.5: TensorFlow Lite's ``MultiplyByQuantizedMultiplier`` built with ``TFLITE_SINGLE_ROUNDING``:
    $\\lfloor (x M + 2^{t-1}) / 2^{t} \\rfloor$ with $t = 31 - e$, in int64."""
    total_shift = 31 - exponent
    return (np.int64(x) * np.int64(multiplier) + (np.int64(1) << (total_shift - 1))) >> total_shift


@kernel
def rounding_shift_ties_up(x, exponent):
    """REQ-2.7: $x / 2^{k}$ rounded to nearest, ties toward $+\\infty$: $\\lfloor (x + 2^{k-1}) / 2^{k} \\rfloor$
    ($x$ itself for $k = 0$), the rounding right shift of ruy and of NEON's ``srshl``."""
    if exponent == 0:
        return np.int64(x)
    return (np.int64(x) + (np.int64(1) << (exponent - 1))) >> exponent


@kernel
def multiply_by_quantized_multiplier_ties_up(x, multiplier, exponent):
    """REQ-2.7: TensorFlow Lite's optimized kernels: as :func:`multiply_by_quantized_multiplier`, but the
    final division by $2^{-e}$ rounds ties toward $+\\infty$ instead of away from zero."""
    left = exponent if exponent > 0 else 0
    right = -exponent if exponent < 0 else 0
    shifted = wrap_int32(np.int64(x) * (np.int64(1) << left))
    return rounding_shift_ties_up(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


@kernel
def requantize_tflite_value(accumulator, multiplier, exponent, zero_point, qmin, qmax, rounding):
    """REQ-2.7: one accumulator through TensorFlow Lite's ``MultiplyByQuantizedMultiplier`` in the form
    ``rounding`` (a ``fixed_point_rounding`` code), plus the output zero point, clamped."""
    if rounding == DOUBLE_ROUND:
        scaled = multiply_by_quantized_multiplier(accumulator, multiplier, exponent)
    elif rounding == DOUBLE_ROUND_TIES_UP:
        scaled = multiply_by_quantized_multiplier_ties_up(accumulator, multiplier, exponent)
    else:
        scaled = multiply_by_quantized_multiplier_single_round(accumulator, multiplier, exponent)
    return min(max(scaled + zero_point, np.int64(qmin)), np.int64(qmax))


@kernel
def requantize_tflite_channels(accumulator3, multiplier, exponent, zero_point, qmin, qmax, rounding, out3):
    """REQ-2.7 on every element of the ``(outer, channels, inner)`` view, channel ``c`` taking
    ``multiplier[c]``, ``exponent[c]`` and ``zero_point[c]`` (index 0 when one is given)."""
    outer, channels, inner = accumulator3.shape
    per_channel = multiplier.size > 1
    for o in range(outer):
        for c in range(channels):
            k = c if per_channel else 0
            for i in range(inner):
                out3[o, c, i] = requantize_tflite_value(accumulator3[o, c, i], multiplier[k], exponent[k],
                                                        zero_point[k], qmin, qmax, rounding)


def requantize_tflite(accumulator, real_multiplier, zero_point=None, *, dtype="int8", axis=None,
                      multiplier_rounding: str = "half_away_from_zero", shift_limits: str = "tflite",
                      rounding: str = "double_round", out=None) -> np.ndarray:
    """REQ-2.7: requantize int32 accumulators as TensorFlow Lite's integer kernels do: each float64
    ``real_multiplier`` (one, or one per index of ``axis``) becomes $(M, e)$ by REQ-2.2 and REQ-2.3
    (``QuantizeMultiplier``), applied by ``MultiplyByQuantizedMultiplier`` in the form ``rounding``
    (``double_round``: the default build, REQ-2.5; ``single_round``: ``TFLITE_SINGLE_ROUNDING``;
    ``double_round_ties_up``: the optimized kernels), then $+ z_y$ and clamped."""
    code = variant_code("fixed_point_rounding", rounding, "rounding")
    limits = variant_code("shift_limits", shift_limits, "shift_limits")
    if limits == TOSA_LIMITS:
        raise invalid("shift_limits", "'tflite' or 'tflite_single_round' (TOSA's RESCALE is "
                      "requantize_fixed_point)", shift_limits)
    target = target_type(dtype)
    values = _integer_array(accumulator, "accumulator", INT32_MIN, INT32_MAX, f"integers in [{INT32_MIN}, {INT32_MAX}] (int32)")
    reals = np.asarray(real_multiplier, np.float64).reshape(-1)
    pairs = [fixed_point_multiplier(float(real), rounding=multiplier_rounding, shift_limits=shift_limits)
             for real in reals]
    multipliers = np.array([m for m, _ in pairs], np.int64)
    exponents = np.array([31 - shift for _, shift in pairs], np.int64)
    layout = granularity(values.shape, multipliers.shape if multipliers.size != 1 or axis is not None else (1,),
                         axis, None)
    zero_points = zero_point_array(zero_point, target, multipliers.shape).reshape(-1)
    result = output_array(out, values.shape, target.container)
    shape3 = (layout.outer, layout.length, layout.inner)
    requantize_tflite_channels(np.ascontiguousarray(values).reshape(shape3), multipliers, exponents, zero_points,
                               target.qmin, target.qmax, code, result.reshape(shape3))
    return result


@kernel
def requantize_fixed_point_value(accumulator, multiplier, shift, zero_point, qmin, qmax, double_round, scale32):
    """REQ-2.6: TOSA ``RESCALE`` of one accumulator: scale (REQ-2.4), add the output zero point, saturate.

    Returns ``(q, unpredictable)``. TOSA *requires* $s \\ge 2$, $-2^{s-1} \\le v < 2^{s-1}$ in the 32-bit
    form and a scaled value within int32 in the 16-bit form; outside those, the result is
    unpredictable (refq returns what the int64 formula gives, saturated). The reference model
    reports a shift of 1 as UNPREDICTABLE (measured, tosa-tools 2026.8.0).
    """
    if scale32:
        limit = np.int64(1) << (shift - 1)
        unpredictable = accumulator < -limit or accumulator >= limit or shift < 2
        scaled = apply_scale_32(accumulator, multiplier, shift, double_round)
    else:
        scaled = apply_scale_16(accumulator, multiplier, shift)
        unpredictable = scaled < INT32_MIN or scaled > INT32_MAX or shift < 2
    total = scaled + zero_point
    return min(max(total, np.int64(qmin)), np.int64(qmax)), unpredictable


@kernel
def requantize_fixed_point_channels(accumulator3, multiplier, shift, zero_point, qmin, qmax, double_round, scale32,
                                    out3, unpredictable3):
    """REQ-2.6: REQ-2.6 on every element of the ``(outer, channels, inner)`` view, channel ``c`` taking
    ``multiplier[c]``, ``shift[c]`` and ``zero_point[c]`` (index 0 when one is given)."""
    outer, channels, inner = accumulator3.shape
    per_channel = multiplier.size > 1
    for o in range(outer):
        for c in range(channels):
            k = c if per_channel else 0
            for i in range(inner):
                q, unpredictable = requantize_fixed_point_value(
                    accumulator3[o, c, i], multiplier[k], shift[k], zero_point[k], qmin, qmax, double_round, scale32)
                out3[o, c, i] = q
                unpredictable3[o, c, i] = unpredictable


def _integer_array(values, argument: str, low: int, high: int, allowed: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception:
        raise wrong_type(argument, allowed, values) from None
    if array.dtype.kind not in "iu" or array.dtype == np.bool_:
        raise wrong_type(argument, allowed, values)
    array = array.astype(np.int64)
    outside = (array < low) | (array > high)
    if outside.any():
        raise invalid(argument, allowed, int(array[outside].flat[0]))
    return array


def requantize_fixed_point_with_outcomes(accumulator, multiplier, shift, zero_point=None, *, dtype="int8", axis=None,
                                         rounding: str = "double_round", bits: int = 32,
                                         out=None) -> tuple[np.ndarray, np.ndarray]:
    """REQ-2.6: :func:`requantize_fixed_point`, also returning where the result is unpredictable."""
    rounding_code = variant_code("fixed_point_rounding", rounding, "rounding")
    if rounding_code == DOUBLE_ROUND_TIES_UP:
        raise invalid("rounding", "'single_round' or 'double_round' (TOSA's RESCALE has no ties-up shift)", rounding)
    double_round = rounding_code == DOUBLE_ROUND
    bits = _bits_argument(bits)
    scale32 = bits == 32
    if double_round and not scale32:
        raise invalid("rounding", "'single_round' with bits=16 (TOSA defines double rounding for 32 bits only)",
                      rounding)
    target = target_type(dtype)
    low, high = (INT32_MIN, INT32_MAX) if scale32 else (INT48_MIN, INT48_MAX)
    values = _integer_array(accumulator, "accumulator", low, high,
                            f"integers in [{low}, {high}] (int{'32' if scale32 else '48'})")
    multipliers = _integer_array(multiplier, "multiplier", 0, (1 << (bits - 1)) - 1,
                                 f"integers in [0, 2^{bits - 1} - 1]")
    shifts = _integer_array(shift, "shift", 1, 62, "integers in [1, 62]")
    if shifts.size != 1 and shifts.shape != multipliers.shape:
        raise invalid("shift", f"one value or shaped like multiplier {multipliers.shape}", shifts.shape)
    layout = granularity(values.shape, multipliers.shape if multipliers.size != 1 or axis is not None else (1,),
                         axis, None)
    shifts = np.broadcast_to(shifts, multipliers.shape).reshape(-1)
    zero_points = zero_point_array(zero_point, target, multipliers.shape).reshape(-1)
    result = output_array(out, values.shape, target.container)
    unpredictable = np.zeros(values.shape, dtype=np.bool_)
    shape3 = (layout.outer, layout.length, layout.inner)
    requantize_fixed_point_channels(np.ascontiguousarray(values).reshape(shape3), multipliers.reshape(-1), shifts,
                                    zero_points, target.qmin, target.qmax, double_round, scale32,
                                    result.reshape(shape3), unpredictable.reshape(shape3))
    return result, unpredictable


def requantize_fixed_point(accumulator, multiplier, shift, zero_point=None, *, dtype="int8", axis=None,
                           rounding: str = "double_round", bits: int = 32, out=None) -> np.ndarray:
    """REQ-2.6: requantize integer accumulators with fixed-point multipliers and right shifts.

    ``multiplier`` and ``shift`` are one value each (per tensor) or, with ``axis``, one per
    index of that axis; ``bits=32`` takes int32 accumulators and multipliers below
    $2^{31}$, ``bits=16`` int48 accumulators and multipliers below $2^{15}$ (single
    rounding). ``rounding="double_round"`` is TOSA's DOUBLE_ROUND and TensorFlow Lite's
    default build, ``"single_round"`` TOSA's SINGLE_ROUND and TFLite's single-rounding build.
    """
    return requantize_fixed_point_with_outcomes(accumulator, multiplier, shift, zero_point, dtype=dtype, axis=axis,
                                                rounding=rounding, bits=bits, out=out)[0]
