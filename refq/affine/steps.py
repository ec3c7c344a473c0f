"""AFF-3 and AFF-4: the steps of quantize and dequantize, one function per clause.

Every function here is a Numba kernel working on one element. The variant codes
they branch on are the ``code`` fields of :mod:`refq.registry.variants`; the
constants below name them so the source reads like the spec.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.numbers.rounding import round_to_integral

# scale_operation
DIVIDE = 0
MULTIPLY_RECIPROCAL = 1
# precision / dequantize_precision
FLOAT32 = 0
FLOAT64 = 1
EXACT = 2
# zero_point_placement
AFTER_ROUNDING = 0
BEFORE_ROUNDING = 1
BEFORE_ROUNDING_FUSED = 2
# saturation
CLAMP_THEN_CONVERT = 0
CONVERT_THEN_CLAMP = 1
CONVERT_INT64_THEN_CLAMP = 2
# conversion_overflow
INTEGER_INDEFINITE = 0
UNPREDICTABLE_OVERFLOW = 1
# nan
NAN_QMIN = 0
NAN_QMAX = 1
NAN_ZERO = 2
NAN_CONVERTED = 3
NAN_UNPREDICTABLE = 4
# subnormals
SUBNORMALS_PRESERVED = 0
SUBNORMALS_FLUSHED = 1
# dequantize_formula
SUBTRACT_THEN_MULTIPLY = 0
MULTIPLY_THEN_SUBTRACT = 1
# dequantize_difference
EXACT_DIFFERENCE = 0
INT32_WRAPAROUND_TO_FLOAT32 = 1
FLOAT32_Q = 2

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
FLOAT32_SMALLEST_NORMAL = np.float32(2.0**-126)


def _llvm_fused_multiply_add():
    from refq.affine import fma

    return fma.fused_multiply_add_float32


@kernel(compiled_form=_llvm_fused_multiply_add)
def fused_multiply_add_float32(a, b, c):
    """AFF-3.7: $\\mathrm{fl_{32}}(a \\cdot b + c)$ with a single rounding (ties to even).

    ``a`` and ``b`` are float32, ``c`` a float32 or an integer of at most 24 bits. The
    product $a b$ is exact in float64 (24 + 24 significant bits), so the sum of two float64
    values is all that is left to round once (:func:`round_sum_to_float32`). Compiled,
    this is one hardware fused multiply-add instead (:mod:`refq.affine.fma`), which gives
    the same bits and lets the quantize loops vectorize.
    """
    return round_sum_to_float32(np.float64(a) * np.float64(b), np.float64(c))


@kernel
def flushed_to_zero(value):
    """AFF-3.9 (``subnormals = flushed``): a ``value`` below the smallest normal float32 $2^{-126}$ in
    magnitude, a float32 subnormal, reads as zero; every other value (NaN included) is unchanged. The sign
    of that zero cannot reach an integer result, so it is not kept."""
    if abs(value) < FLOAT32_SMALLEST_NORMAL:
        return value - value
    return value


@kernel
def scale_value(x, scale, reciprocal, scale_operation, precision):
    """AFF-3.2: divide the float32 ``x`` by the float32 ``scale``.

    ``divide`` computes $x / s$; ``multiply_reciprocal`` computes $x \\cdot r$ with
    $r = \\mathrm{fl_{32}}(1/s)$ given as ``reciprocal``. In ``float32`` precision the
    result is rounded to float32, in ``float64`` to float64. The result is returned
    as float64 (a float32 result widens exactly).
    """
    if precision == FLOAT32:
        if scale_operation == DIVIDE:
            return np.float64(x / scale)
        return np.float64(x * reciprocal)
    if scale_operation == DIVIDE:
        return np.float64(x) / np.float64(scale)
    return np.float64(x) * np.float64(reciprocal)


@kernel
def add_in_precision(value, zero_point, precision):
    """AFF-3.3 (``before_rounding``): $\\mathrm{fl}(v + z)$ in the working precision."""
    if precision == FLOAT32:
        return np.float64(np.float32(value) + np.float32(zero_point))
    return value + np.float64(zero_point)


@kernel
def convert_to_int32(value, conversion_overflow):
    """AFF-3.5 (``convert_then_clamp``): convert an integral float to int32.

    Returns ``(integer, unpredictable)``. NaN, infinities and values outside
    $[-2^{31}, 2^{31})$ give $-2^{31}$ under ``integer_indefinite`` (what x86's
    conversion instructions return) and an unpredictable result otherwise.
    """
    if value != value or value >= 2147483648.0 or value < -2147483648.0:
        return INT32_MIN, conversion_overflow == UNPREDICTABLE_OVERFLOW
    return np.int64(value), False


@kernel
def saturate(value, zero_point, qmin, qmax, saturation, conversion_overflow):
    """AFF-3.5: bring the rounded value (plus the zero point still to add) into $[q_{min}, q_{max}]$.

    ``clamp_then_convert``: $\\min(\\max(n + z, q_{min}), q_{max})$ on the float value,
    so infinities saturate. ``convert_then_clamp``: convert $n$ to int32 first
    (:func:`convert_to_int32`), add $z$ with int32 wraparound, then clamp.
    ``convert_int64_then_clamp``: convert $\\mathrm{fl_{32}}(n + z)$ to int64, where NaN, infinities and
    values outside $[-2^{63}, 2^{63})$ become $-2^{63}$ (so clamp to $q_{min}$), then clamp.
    Returns ``(q, unpredictable)``.
    """
    if saturation == CLAMP_THEN_CONVERT:
        shifted = value + np.float64(zero_point)
        if shifted <= np.float64(qmin):
            return qmin, False
        if shifted >= np.float64(qmax):
            return qmax, False
        return np.int64(shifted), False
    if saturation == CONVERT_INT64_THEN_CLAMP:
        # z joins in float32 before the conversion (PyTorch: zero_point + nearbyint(v) in float).
        shifted = np.float64(np.float32(value) + np.float32(zero_point))
        if shifted != shifted or shifted >= 9223372036854775808.0 or shifted < -9223372036854775808.0:
            return qmin, conversion_overflow == UNPREDICTABLE_OVERFLOW  # -2^63 clamps to qmin
        return min(max(np.int64(shifted), qmin), qmax), False
    integer, unpredictable = convert_to_int32(value, conversion_overflow)
    total = integer + zero_point
    if total > INT32_MAX or total < INT32_MIN:
        unpredictable = unpredictable or conversion_overflow == UNPREDICTABLE_OVERFLOW
        total = ((total - INT32_MIN) % 4294967296) + INT32_MIN
    return min(max(total, qmin), qmax), unpredictable


@kernel
def quantize_value(x, scale, reciprocal, zero_point, qmin, qmax, scale_operation, precision,
                   zero_point_placement, rounding, saturation, conversion_overflow, nan, subnormals):
    """AFF-3.1: quantize one float32 ``x``; returns ``(q, unpredictable)``.

    1. $v = x / s$ (AFF-3.2), with the zero point added before rounding where the
       profile says so, possibly fused (AFF-3.3, AFF-3.7); subnormal operands and a
       subnormal $v$ read as zero where ``subnormals`` says so (AFF-3.9);
    2. a NaN $v$ takes the value the ``nan`` variant names (AFF-3.6);
    3. $n = \\mathrm{round}(v)$ (AFF-3.4);
    4. $q = \\mathrm{saturate}(n + z)$ (AFF-3.5).
    """
    if subnormals == SUBNORMALS_FLUSHED:
        x, reciprocal = flushed_to_zero(x), flushed_to_zero(reciprocal)
    if zero_point_placement == BEFORE_ROUNDING_FUSED:
        value = np.float64(fused_multiply_add_float32(x, reciprocal, zero_point))
        if subnormals == SUBNORMALS_FLUSHED:
            value = flushed_to_zero(value)
        pending_zero_point = np.int64(0)
    else:
        value = scale_value(x, scale, reciprocal, scale_operation, precision)
        if subnormals == SUBNORMALS_FLUSHED:
            value = flushed_to_zero(value)
        pending_zero_point = zero_point
        if zero_point_placement == BEFORE_ROUNDING:
            value = add_in_precision(value, zero_point, precision)
            pending_zero_point = np.int64(0)
    # A NaN input gives a NaN v, and so does 0 * inf when 1/s overflowed float32.
    if value != value and nan != NAN_CONVERTED:
        if nan == NAN_QMAX:
            return qmax, False
        if nan == NAN_ZERO:
            return min(max(np.int64(0), qmin), qmax), False
        return qmin, nan == NAN_UNPREDICTABLE
    rounded = round_to_integral(value, rounding)
    return saturate(rounded, pending_zero_point, qmin, qmax, saturation, conversion_overflow)


@kernel
def round_sum_to_float32(first, second):
    """$\\mathrm{fl_{32}}(a + b)$ for float64 ``first`` and ``second``, rounded once (ties to even).

    The float64 sum is rounded once already; that can mislead the rounding to float32
    only when it lands exactly on the midpoint between two float32 numbers, and then
    the exact error of the float64 sum (Knuth's TwoSum) says on which side the true
    value lies.
    """
    total = first + second
    virtual = total - first
    error = (first - (total - virtual)) + (second - virtual)
    rounded = np.float32(total)
    if error == 0.0 or np.float64(rounded) == total or total != total:
        return rounded
    # An overflow to infinity stands for 2^128 here: ties to even overflow from the
    # midpoint between the largest float32 and 2^128, and the error may pull below it.
    wide = np.float64(rounded) if not np.isinf(rounded) else np.copysign(2.0**128, total)
    if wide < total:
        other = np.nextafter(rounded, np.float32(np.inf))
    else:
        other = np.nextafter(rounded, np.float32(-np.inf))
    if (wide + np.float64(other)) * 0.5 != total:
        return rounded
    if (error > 0.0) == (np.float64(other) > wide):
        return other
    return rounded


@kernel
def integer_times_float32(integer, scale):
    """$\\mathrm{fl_{32}}(n \\cdot s)$ rounded once, for an integer $|n| < 2^{40}$ and a float32 $s$.

    $n$ is split as $n_h 2^{20} + n_l$ with $0 \\le n_l < 2^{20}$; both partial products
    are exact in float64 (at most 20 + 24 significant bits), and their sum is rounded
    once by :func:`round_sum_to_float32`.
    """
    low = integer & 1048575
    high = (integer - low) // 1048576
    return round_sum_to_float32(np.float64(high) * 1048576.0 * np.float64(scale),
                                np.float64(low) * np.float64(scale))


@kernel
def dequantize_value(q, scale, zero_point, formula, precision, difference):
    """AFF-4.2: the float32 value of the integer ``q``.

    ``subtract_then_multiply``: $(q - z) \\cdot s$ with the difference as ``difference`` says:
    ``exact`` — the exact integer, so the product is rounded once (in ``float64`` precision
    to float64, then to float32); ``int32_wraparound_to_float32`` — $q - z$ in int32 with
    wraparound, converted to float32 (a rounding above $2^{24}$), then multiplied;
    ``float32_q`` — $q$ converted to float32 first, then $\\mathrm{fl}(\\mathrm{fl_{32}}(q) - z)$
    in the working precision. ``multiply_then_subtract``: $\\mathrm{fl}(\\mathrm{fl}(q s) - \\mathrm{fl}(z s))$
    with $q$ and $z$ converted to the working precision. In ``float64`` precision the
    intermediate results are float64 and the result is rounded to float32 at the end.
    """
    if formula == MULTIPLY_THEN_SUBTRACT:
        if precision == FLOAT32:
            return np.float32(q) * scale - np.float32(zero_point) * scale
        return np.float32(np.float64(q) * np.float64(scale) - np.float64(zero_point) * np.float64(scale))
    if difference == EXACT_DIFFERENCE:
        if precision == FLOAT32:
            return integer_times_float32(q - zero_point, scale)
        return np.float32(np.float64(q - zero_point) * np.float64(scale))
    if difference == INT32_WRAPAROUND_TO_FLOAT32:
        wrapped = ((q - zero_point - INT32_MIN) % 4294967296) + INT32_MIN
        operand = np.float64(np.float32(wrapped))
    else:
        # fl32(q) - z is exact in float64 (both below 2^33); rounded to the working precision.
        operand = np.float64(np.float32(q)) - np.float64(zero_point)
        if precision == FLOAT32:
            operand = np.float64(np.float32(operand))
    if precision == FLOAT32:
        return np.float32(operand) * scale
    return np.float32(operand * np.float64(scale))


@kernel
def parameter_index(o, d, i, scale_outer, scale_inner, block):
    """AFF-1.4: element ``(o, d, i)`` of the ``(outer, length, inner)`` view takes the scale and zero
    point at ``(o if scale_outer > 1 else 0, d // block, i if scale_inner > 1 else 0)``: one entry per
    tensor, per index along the axis (``block`` 1), or per block of ``block`` indices."""
    return (o if scale_outer > 1 else 0), d // block, (i if scale_inner > 1 else 0)
