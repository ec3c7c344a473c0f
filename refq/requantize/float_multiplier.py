"""REQ-1: requantization with a float multiplier.

An integer kernel (matmul, convolution) sums products of zero-point-corrected
inputs into an int32 accumulator $a$ whose real value is $a \\cdot s_a s_b$. The
output wants the scale $s_y$, so the accumulator is multiplied by
$m = s_a s_b / s_y$, rounded, shifted by the output zero point and saturated.
Backends differ in the precision of $a \\cdot m$ and in where the zero point
joins; each difference is a variant of :mod:`refq.registry.variants`.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.parameters import granularity, output_array, scale_array, target_type, zero_point_array
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.registry import rounding_mode
from refq.registry.variants import variant_code

# requantize_precision
FLOAT32 = 0
FLOAT64 = 1
# requantize_zero_point
AFTER_ROUNDING = 0
BEFORE_ROUNDING = 1
# requantize_multiplier_order
PRODUCT_THEN_QUOTIENT = 0
FLOAT64_QUOTIENT = 1
RECIPROCAL = 2
RATIO_FIRST = 3


def requantize_multiplier(a_scale, b_scale, y_scale, precision: str = "float32",
                          order: str = "product_then_quotient") -> np.ndarray:
    """REQ-1.1: the multiplier $m = (s_a \\cdot s_b) / s_y$ in the order ``order`` (the variant
    ``requantize_multiplier_order``), rounded to the working precision ``precision``.

    ``product_then_quotient`` (the default) is what ONNX Runtime's QLinearMatMul and
    QLinearConv compute (``a_scale * b_scale[i] / y_scale`` on C++ floats: the product is
    rounded to float32, then the quotient), what ``onnx.reference`` computes (the same
    expression on float32 numpy arrays) and what FBGEMM computes.
    ``float64_quotient`` does both operations in float64 on the float32 scales and rounds
    once at the end, as TensorFlow Lite does before deriving a fixed-point multiplier
    (REQ-2.1). ``reciprocal`` multiplies by $\\mathrm{fl}(1 / s_y)$ and ``ratio_first`` divides
    the weight scale first: rewrites the fingerprint separates.
    ``precision="float64"`` rounds every step to float64 instead.

    ``b_scale`` may be an array (one scale per output channel); the result has
    its shape, float32 or float64 as ``precision`` says.
    """
    code = variant_code("requantize_precision", precision, "precision")
    order_code = variant_code("requantize_multiplier_order", order, "order")

    a = scale_array(a_scale, "a_scale")
    b = scale_array(b_scale, "b_scale")
    y = scale_array(y_scale, "y_scale")
    for name, value in (("a_scale", a), ("y_scale", y)):
        if value.size != 1:
            raise invalid(name, "a single value", value.shape)
    return scales_multiplier(a.reshape(()), b, y.reshape(()), code, order_code)


def scales_multiplier(a: np.ndarray, b: np.ndarray, y: np.ndarray, precision_code: int, order_code: int) -> np.ndarray:
    """The multiplier of :func:`requantize_multiplier` from scales it (or a caller) has checked already:
    float32 ``a`` and ``y`` single values (shape ``()``), ``b`` float32; the variants as kernel codes."""
    working = np.float32 if precision_code == FLOAT32 else np.float64
    a, b, y = a.astype(working, copy=False), b.astype(working, copy=False), y.astype(working, copy=False)
    with np.errstate(over="ignore", under="ignore"):
        if order_code == FLOAT64_QUOTIENT:
            wide = (a.astype(np.float64) * b.astype(np.float64)) / y.astype(np.float64)
            return wide.astype(working)
        if order_code == RECIPROCAL:
            return (a * b) * (working(1) / y)
        if order_code == RATIO_FIRST:
            return a * (b / y)
        return (a * b) / y


@kernel
def scale_accumulator(accumulator, multiplier, precision):
    """REQ-1.2: $v = \\mathrm{fl}(a \\cdot m)$ in the working precision, returned as float64.

    In ``float32`` the accumulator is first converted to float32, which rounds it
    (ties to even) once $|a| > 2^{24}$, and the product is rounded to float32: two
    roundings, as ONNX Runtime's ``MlasRequantizeOutput`` does (``cvtdq2ps`` then
    ``mulps``). In ``float64`` the conversion is exact and only the product is
    rounded (``onnx.reference``: an int32 array times a float32 array is computed
    by numpy in float64).
    """
    if precision == FLOAT32:
        return np.float64(np.float32(accumulator) * np.float32(multiplier))
    return np.float64(accumulator) * np.float64(multiplier)


@kernel
def requantize_float_value(accumulator, multiplier, zero_point, qmin, qmax, precision, rounding,
                           zero_point_placement):
    """REQ-1.3: requantize one accumulator $a$ with the float multiplier $m$.

    ``after_rounding`` (ONNX Runtime):
    $q = \\min(\\max(\\mathrm{round}(v) + z,\\ q_{min}),\\ q_{max})$ with $v$ from REQ-1.2,
    the zero point added as an exact integer. ``before_rounding`` (``onnx.reference``):
    $q = \\min(\\max(\\mathrm{round}(\\mathrm{fl}(v + z)),\\ q_{min}),\\ q_{max})$, the zero point
    added in the working precision. ``v`` is finite (the multiplier is finite), so
    there is no NaN to decide about; an infinite ``v`` saturates.

    MLAS clamps $v$ to $[q_{min} - z, q_{max} - z]$ *before* rounding; with integral
    bounds and a monotone rounding that gives the same integer as clamping after.
    """
    value = scale_accumulator(accumulator, multiplier, precision)
    if zero_point_placement == BEFORE_ROUNDING:
        if precision == FLOAT32:
            value = np.float64(np.float32(value) + np.float32(zero_point))
        else:
            value = value + np.float64(zero_point)
        pending = np.int64(0)
    else:
        pending = np.int64(zero_point)
    rounded = round_to_integral(value, rounding)
    lowest = np.float64(qmin - pending)
    highest = np.float64(qmax - pending)
    if rounded <= lowest:
        return np.int64(qmin)
    if rounded >= highest:
        return np.int64(qmax)
    return np.int64(rounded) + pending


@kernel
def requantize_float_channels(accumulator3, multiplier, zero_point, qmin, qmax, precision, rounding,
                              zero_point_placement, out3):
    """REQ-1.4: REQ-1.3 on every element of the ``(outer, channels, inner)`` view;
    channel ``c`` takes ``multiplier[c]`` and ``zero_point[c]`` (index 0 when a single one is given)."""
    outer, channels, inner = accumulator3.shape
    per_channel = multiplier.size > 1
    for o in range(outer):
        for c in range(channels):
            k = c if per_channel else 0
            m = multiplier[k]
            z = zero_point[k]
            for i in range(inner):
                out3[o, c, i] = requantize_float_value(accumulator3[o, c, i], m, z, qmin, qmax, precision, rounding,
                                                       zero_point_placement)


@kernel
def requantize_float32_ties_even_channels(accumulator3, multiplier, zero_point, qmin, qmax, out3):
    """REQ-1.4 for ONNX Runtime's variants (``float32``, ``half_to_even``, ``after_rounding``):
    the values of :func:`requantize_float_channels`, computed the way MLAS computes them, which
    lets the compiler vectorize the loop: ``np.rint`` on float32 is IEEE roundToIntegralTiesToEven
    (NUM-2.3 ``half_to_even``), and clamping to $[q_{min} - z, q_{max} - z]$ before adding $z$
    gives the same code as REQ-1.3's clamp after rounding (the bounds are integers)."""
    outer, channels, inner = accumulator3.shape
    per_channel = multiplier.size > 1
    for o in range(outer):
        for c in range(channels):
            k = c if per_channel else 0
            m = np.float32(multiplier[k])
            z = np.int32(zero_point[k])
            lowest = np.float32(qmin - z)
            highest = np.float32(qmax - z)
            # z joins in float32, exactly (the sum is an integer in [qmin, qmax], 16 bits at most): adding it
            # as an integer would be int64 in Numba, which halves the vector lanes.
            shift = np.float32(z)
            for i in range(inner):
                value = np.rint(np.float32(accumulator3[o, c, i]) * m)
                value = min(max(value, lowest), highest)
                out3[o, c, i] = np.int32(value + shift)


def accumulator_array(accumulator, argument: str = "accumulator") -> np.ndarray:
    """REQ-1.4: the accumulator is an int32 array (other integer arrays are accepted when every value fits)."""
    try:
        values = np.asarray(accumulator)
    except Exception:
        raise wrong_type(argument, "an int32 array", accumulator) from None
    if values.dtype.kind not in "iu" or values.dtype == np.bool_:
        raise wrong_type(argument, "an int32 array", accumulator)
    if values.dtype != np.int32:
        if values.size and (values.min() < -(2**31) or values.max() > 2**31 - 1):
            raise invalid(argument, "int32 values in [-2^31, 2^31 - 1]",
                          int(values.min() if values.min() < -(2**31) else values.max()))
        values = values.astype(np.int32)
    return values


def multiplier_array(multiplier, precision_code: int) -> np.ndarray:
    """REQ-1.4: finite positive multipliers, rounded to the working precision (float32 or float64),
    carried as float64."""
    try:
        values = np.asarray(multiplier)
    except Exception:
        raise wrong_type("multiplier", "a positive finite float or array of them", multiplier) from None
    if values.dtype.kind not in "fiu" or values.dtype == np.bool_:
        raise wrong_type("multiplier", "a positive finite float or array of them", multiplier)
    working = np.float32 if precision_code == FLOAT32 else np.float64
    if values.dtype != working:  # only a conversion can overflow; entering np.errstate costs more than it
        with np.errstate(over="ignore"):
            values = values.astype(working)
    # Two reductions, faster than the elementwise test that finds the first bad value; NaN fails the first.
    if values.size and not (values.min() > 0 and values.max() < np.inf):
        bad = ~(np.isfinite(values) & (values > 0))
        raise invalid("multiplier", "finite and > 0 in the working precision", values[bad].flat[0].item())
    return values.astype(np.float64)


def requantize_float(accumulator, multiplier, zero_point=None, *, dtype="int8", axis=None,
                     precision: str = "float32", rounding: str = "half_to_even",
                     zero_point_placement: str = "after_rounding", out=None) -> np.ndarray:
    """REQ-1.4: requantize an int32 accumulator array with float multipliers.

    ``multiplier`` is one value (per tensor) or, with ``axis``, one per index of that
    axis (per output channel: the last axis of a matmul output, axis 1 of an NCHW
    convolution output); ``zero_point`` is one value or shaped like the multiplier.
    The defaults are ONNX Runtime's ``MlasRequantizeOutput``; ``onnx.reference`` is
    ``precision="float64", zero_point_placement="before_rounding"``. Returns an
    array of ``dtype``'s container type (int8 for int8), or fills ``out``.
    """
    precision_code = variant_code("requantize_precision", precision, "precision")
    placement_code = variant_code("requantize_zero_point", zero_point_placement, "zero_point_placement")
    rounding_code = rounding_mode(rounding, "rounding").code
    target = target_type(dtype)
    values = accumulator_array(accumulator)
    multipliers = multiplier_array(multiplier, precision_code)
    layout = granularity(values.shape, multipliers.shape if multipliers.size != 1 or axis is not None
                         else (1,), axis, None)
    zero_points = zero_point_array(zero_point, target, multipliers.shape).reshape(-1)
    result = output_array(out, values.shape, target.container)
    return requantize_layout(values, multipliers, zero_points, target, (layout.outer, layout.length, layout.inner),
                             precision_code, rounding_code, placement_code, result)


def requantize_layout(values: np.ndarray, multipliers: np.ndarray, zero_points: np.ndarray, target, view,
                      precision_code: int, rounding_code: int, placement_code: int, result: np.ndarray) -> np.ndarray:
    """The loop of :func:`requantize_float` on operands it (or a caller) has checked already: an int32
    accumulator ``values``, float64 ``multipliers`` (one or one per channel) and int64 ``zero_points``
    (one per multiplier), the ``(outer, channels, inner)`` shape ``view`` of the accumulator and of
    ``result``, the variants as kernel codes. Fills and returns ``result``."""
    accumulator3 = np.ascontiguousarray(values).reshape(view)
    if (precision_code, rounding_code, placement_code) == (FLOAT32, HALF_TO_EVEN, AFTER_ROUNDING):
        requantize_float32_ties_even_channels(accumulator3, multipliers.reshape(-1), zero_points, target.qmin,
                                              target.qmax, result.reshape(view))
        return result
    requantize_float_channels(accumulator3, multipliers.reshape(-1), zero_points, target.qmin, target.qmax,
                              precision_code, rounding_code, placement_code, result.reshape(view))
    return result
