"""ELT-2: ``QLinearAdd`` and ``QLinearMul`` (ONNX Runtime's ``com.microsoft`` contrib operators).

$C = \\mathrm{quantize}(\\mathrm{dequantize}(A) \\circ \\mathrm{dequantize}(B))$ in real
arithmetic; ONNX Runtime computes it in float32 with the roundings spelled out here
(MLAS ``MlasQLinearAdd`` / ``MlasQLinearMul`` on x86-64), and refq names them. TOSA computes the
same operators in integers, RESCALE, ADD or MUL, RESCALE, as MLIR's TFLite legalisation builds
them (``binary_arithmetic = tosa_rescale``, ELT-2.8 and ELT-2.9).
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.steps import fused_multiply_add_float32
from refq.elementwise.operands import FIRST_SCALAR, broadcast_shape, operand, span_role, single_scale, \
    single_zero_point
from refq.errors import RefqError, invalid
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.registry.profiles import EVERY_PROFILE_BY_NAME
from refq.registry.variants import VARIANTS_BY_NAME, variant_code
from refq.requantize.fixed_point import fixed_point_multiplier, requantize_fixed_point_value

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: ELT-2.8: the left shift of an 8-bit input of TOSA's sum (TFLite's ``input_shift``, 20 for 8 bits).
TOSA_SUM_INPUT_SHIFT = 20


@kernel
def convert_and_saturate(value, qmin, qmax):
    """ELT-2.1: a float32 result to the output type: round half to even, convert to int32
    (NaN and values outside $[-2^{31}, 2^{31})$ give $-2^{31}$, x86's "integer indefinite"),
    then saturate to $[q_{min}, q_{max}]$ (``packs``: int32 to int16 to 8 bits, each saturating)."""
    rounded = round_to_integral(np.float64(value), HALF_TO_EVEN)
    if rounded != rounded or rounded >= 2147483648.0 or rounded < -2147483648.0:
        integer = np.int64(INT32_MIN)
    else:
        integer = np.int64(rounded)
    return min(max(integer, np.int64(qmin)), np.int64(qmax))


@kernel
def add_fixed_part(x_ratio, x_zero_point, y_ratio, y_zero_point, output_zero_point, fused=True):
    """ELT-2.3: the part of the sum that does not depend on the inputs,
    $f = \\mathrm{fl}(z_C - \\mathrm{fma}(r_x, z_x, \\mathrm{fl}(r_y z_y)))$ in float32.

    The source reads ``(float)ZeroPointC - (ScaleRatio_AC * ZeroPointA + ScaleRatio_BC * ZeroPointB)``;
    the compiler contracts the first product and the sum into one fused multiply-add
    (measured: the uncontracted form disagrees with ONNX Runtime). ``fused`` False is the variant
    ``add_fixed_part = two_roundings``: $\\mathrm{fl}(\\mathrm{fl}(r_x z_x) + \\mathrm{fl}(r_y z_y))$.
    """
    y_part = np.float32(y_ratio * np.float32(y_zero_point))
    if fused:
        both = fused_multiply_add_float32(x_ratio, np.float32(x_zero_point), y_part)
    else:
        both = np.float32(np.float32(x_ratio * np.float32(x_zero_point)) + y_part)
    return np.float32(np.float32(output_zero_point) - both)


@kernel
def add_value(x, y, x_ratio, y_ratio, fixed, qmin, qmax):
    """ELT-2.4: one output of ``QLinearAdd``:
    $t = \\mathrm{fma}(x, r_x, \\mathrm{fma}(y, r_y, f))$ in float32 (two roundings), then ELT-2.1.

    The raw codes $x, y$ enter without their zero points, which live in $f$. When $y$ is
    the per-span scalar, MLAS folds $\\mathrm{fma}(y, r_y, f)$ into the fixed part once per
    span: the same value.
    """
    inner = fused_multiply_add_float32(np.float32(y), y_ratio, fixed)
    total = fused_multiply_add_float32(np.float32(x), x_ratio, inner)
    return convert_and_saturate(total, qmin, qmax)


@kernel
def add_elements(x, y, x_ratio, y_ratio, fixed, qmin, qmax, out):
    """ELT-2.4 on flat arrays of equal length."""
    for i in range(x.size):
        out[i] = add_value(x[i], y[i], x_ratio, y_ratio, fixed, qmin, qmax)


# Kernel codes of the mul_zero_point variant (ELT-2.6), from the registry.
FLOAT32_SUM = variant_code("mul_zero_point", "float32_sum", "mul_zero_point")
FUSED_SUM = variant_code("mul_zero_point", "fused", "mul_zero_point")
ZERO_POINT_AFTER_ROUNDING = variant_code("mul_zero_point", "after_rounding", "mul_zero_point")


@kernel
def multiply_value(x, x_zero_point, y, y_zero_point, ratio, output_zero_point, qmin, qmax, placement=FLOAT32_SUM):
    """ELT-2.6: one output of ``QLinearMul``: the exact integer product
    $p = (x - z_x)(y - z_y)$ ($|p| \\le 255^2$, exact in float32), then
    $t = \\mathrm{fl}(\\mathrm{fl}(p \\cdot m) + z_C)$ (a product and a sum, no fused
    multiply-add), then ELT-2.1. The variant ``mul_zero_point`` (``placement``) names the rivals:
    ``fused``, $t = \\mathrm{fma}(p, m, z_C)$, and ``after_rounding``,
    $\\mathrm{clamp}(\\mathrm{round}(\\mathrm{fl}(p \\cdot m)) + z_C)$ (ties to even)."""
    product = (np.int64(x) - np.int64(x_zero_point)) * (np.int64(y) - np.int64(y_zero_point))
    if placement == FUSED_SUM:
        total = fused_multiply_add_float32(np.float32(product), ratio, np.float32(output_zero_point))
    elif placement == ZERO_POINT_AFTER_ROUNDING:
        scaled = np.float32(np.float32(product) * ratio)
        rounded = round_to_integral(np.float64(scaled), HALF_TO_EVEN) + np.float64(output_zero_point)
        if rounded != rounded:
            return np.int64(qmin)
        return np.int64(min(max(rounded, np.float64(qmin)), np.float64(qmax)))
    else:
        total = np.float32(np.float32(np.float32(product) * ratio) + np.float32(output_zero_point))
    return convert_and_saturate(total, qmin, qmax)


@kernel
def multiply_elements(x, x_zero_point, y, y_zero_point, ratio, output_zero_point, qmin, qmax, out,
                      placement=FLOAT32_SUM):
    """ELT-2.6 on flat arrays of equal length."""
    for i in range(x.size):
        out[i] = multiply_value(x[i], x_zero_point, y[i], y_zero_point, ratio, output_zero_point, qmin, qmax,
                                placement)


def _binary_operands(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point):
    first = operand(A, A_scale, A_zero_point, "A")
    second = operand(B, B_scale, B_zero_point, "B", first.values.dtype)
    shape = broadcast_shape(first.values.shape, second.values.shape)
    output_scale = single_scale(C_scale, "C_scale")
    output_zero = single_zero_point(C_zero_point, first.values.dtype, "C_zero_point")
    return first, second, shape, output_scale, output_zero


def _flat(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(values.astype(np.int64), shape)).reshape(-1)


def add_ratios(x_scale: np.float32, y_scale: np.float32, output_scale: np.float32) -> tuple[np.float32, np.float32]:
    """ELT-2.2: the scale ratios $r_x = \\mathrm{fl}(s_x / s_C)$, $r_y = \\mathrm{fl}(s_y / s_C)$ in float32."""
    with np.errstate(over="ignore", under="ignore"):
        return np.float32(x_scale / output_scale), np.float32(y_scale / output_scale)


def qlinear_add(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None, *,
                add_fixed_part: str = "fused", add_operand_order: str = "swapped",
                binary_arithmetic: str = "float32") -> np.ndarray:
    """ELT-2.5: ``com.microsoft.QLinearAdd``: $C \\approx ((A - z_A) s_A + (B - z_B) s_B) / s_C + z_C$.

    ``A`` and ``B`` are int8 or uint8 arrays of one type that broadcast (ELT-1.2); scales
    and zero points are single values, ``C_zero_point`` of that type too (None means 0).
    ONNX Runtime's kernel is asymmetric in its two operands; $x$ is ``A`` and $y$ is ``B``
    unless ``A`` is the per-span scalar (ELT-1.3), where they swap. The result has
    ``A``'s type and the broadcast shape. ``add_fixed_part`` and ``add_operand_order`` are the
    registry variants of ELT-2.3 and the swap (defaults: ONNX Runtime's). ``binary_arithmetic="tosa_rescale"``
    is TOSA's integer sum instead (ELT-2.8), which has neither.
    """
    fused = variant_code("add_fixed_part", add_fixed_part, "add_fixed_part") == 0
    swap = variant_code("add_operand_order", add_operand_order, "add_operand_order") == 0
    tosa = variant_code("binary_arithmetic", binary_arithmetic, "binary_arithmetic") == TOSA_RESCALE
    first, second, shape, output_scale, output_zero = _binary_operands(A, A_scale, A_zero_point, B, B_scale,
                                                                       B_zero_point, C_scale, C_zero_point)
    if tosa:
        return _tosa_sum(first, second, shape, output_scale, output_zero)
    if swap and span_role(first.values.shape, second.values.shape) == FIRST_SCALAR:
        first, second = second, first
    x_ratio, y_ratio = add_ratios(first.scale, second.scale, output_scale)
    fixed = fixed_part(x_ratio, first.zero_point, y_ratio, second.zero_point, output_zero, fused)
    info = np.iinfo(first.values.dtype)
    out = np.empty(shape, dtype=first.values.dtype)
    add_elements(_flat(first.values, shape), _flat(second.values, shape), x_ratio, y_ratio, fixed, info.min, info.max,
                 out.reshape(-1))
    return out


#: ELT-2.3's kernel, under a name ``qlinear_add``'s variant argument does not hide.
fixed_part = add_fixed_part


def multiply_ratio(a_scale: np.float32, b_scale: np.float32, output_scale: np.float32) -> np.float32:
    """ELT-2.6: the multiplier $m = \\mathrm{fl}(\\mathrm{fl}(s_A s_B) / s_C)$ (C++ ``ScaleA * ScaleB / ScaleC``)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return np.float32(np.float32(a_scale * b_scale) / output_scale)


def qlinear_mul(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None, *,
                mul_zero_point: str = "float32_sum", binary_arithmetic: str = "float32") -> np.ndarray:
    """ELT-2.7: ``com.microsoft.QLinearMul``: $C \\approx (A - z_A)(B - z_B) s_A s_B / s_C + z_C$,
    elementwise with broadcasting; operands as in :func:`qlinear_add` (the product is
    symmetric, so the span roles of ELT-1.3 do not matter). ``mul_zero_point`` is the registry
    variant of ELT-2.6 (default: ONNX Runtime's); ``binary_arithmetic="tosa_rescale"`` is TOSA's
    integer product instead (ELT-2.9), which has no such variant."""
    placement = variant_code("mul_zero_point", mul_zero_point, "mul_zero_point")
    tosa = variant_code("binary_arithmetic", binary_arithmetic, "binary_arithmetic") == TOSA_RESCALE
    first, second, shape, output_scale, output_zero = _binary_operands(A, A_scale, A_zero_point, B, B_scale,
                                                                       B_zero_point, C_scale, C_zero_point)
    if tosa:
        return _tosa_product(first, second, shape, output_scale, output_zero)
    ratio = multiply_ratio(first.scale, second.scale, output_scale)
    info = np.iinfo(first.values.dtype)
    out = np.empty(shape, dtype=first.values.dtype)
    multiply_elements(_flat(first.values, shape), first.zero_point, _flat(second.values, shape), second.zero_point,
                      ratio, output_zero, info.min, info.max, out.reshape(-1), placement)
    return out


# --- TOSA: RESCALE, ADD or MUL, RESCALE (binary_arithmetic = tosa_rescale) ------------------------------------

# Kernel codes of the binary_arithmetic variant (ELT-2.8), from the registry.
TOSA_RESCALE = variant_code("binary_arithmetic", "tosa_rescale", "binary_arithmetic")


def tosa_multiplier(real: float, argument: str) -> tuple[int, int]:
    """ELT-2.8: MLIR's ``computeMultiplierAndShift`` for a float64 scale of 32 bits: REQ-2.2 with ``std::round``
    (half away from zero) and TOSA's shift limits (REQ-2.3). A scale TOSA cannot hold (a shift below 2) is an error
    naming ``argument``."""
    try:
        return fixed_point_multiplier(real, bits=32, rounding="half_away_from_zero", shift_limits="tosa")
    except RefqError:
        raise invalid(argument, "scales whose TOSA RESCALE multiplier has a right shift of at least 2",
                      real) from None


def tosa_sum_rescales(a_scale, b_scale, c_scale) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """ELT-2.8: the RESCALEs of MLIR's TFLite legalisation of a quantized ADD (``matchAndRewriteAddSub``), from the
    float32 scales read as float64: each input's ``[M_1, s_1, M_2, s_2, two_steps]`` and the output's ``(M, s)``.

    With $m = 2 \\max(s_A, s_B)$ and $r = s / m$ for each input: $r = 1/2$ (the input with the larger scale) is one
    RESCALE by $2^{19}$; any other $r$ is a RESCALE by $2^{20}$ and then one by $r$. The output is a RESCALE by
    $m / (s_C \\cdot 2^{20})$. Every division is one float64 rounding.
    """
    scales = float(a_scale), float(b_scale)
    twice_largest = 2.0 * max(scales)
    shift = float(1 << TOSA_SUM_INPUT_SHIFT)
    steps = []
    for scale, argument in zip(scales, ("A_scale", "B_scale")):
        ratio = scale / twice_largest
        if ratio == 0.5:
            multiplier, right_shift = tosa_multiplier(ratio * shift, argument)
            steps.append(np.array([multiplier, right_shift, 0, 0, 0], np.int64))
        else:
            first = tosa_multiplier(shift, argument)
            second = tosa_multiplier(ratio, argument)
            steps.append(np.array([*first, *second, 1], np.int64))
    output = tosa_multiplier(twice_largest / (float(c_scale) * shift), "C_scale")
    # |a_A + a_B| < 2^28 (each below 255 * 2^19): RESCALE REQUIREs |v| < 2^(s-1), certain from s = 30 on.
    if output[1] < 30:
        raise invalid("C_scale", f"at least 2 max(A_scale, B_scale) / 2^{TOSA_SUM_INPUT_SHIFT - 1} (a smaller "
                                 "output scale lets a sum break the output RESCALE's REQUIRE)", float(c_scale))
    return steps[0], steps[1], output


@kernel
def tosa_rescale_to_int32(value, multiplier, shift):
    """ELT-2.8: one RESCALE to int32 (zero points 0, ``scale32``, ``DOUBLE_ROUND``), REQ-2.6 saturating to int32."""
    q, _ = requantize_fixed_point_value(value, multiplier, shift, np.int64(0), np.int64(INT32_MIN),
                                        np.int64(INT32_MAX), True, True)
    return q


@kernel
def tosa_sum_operand(code, zero_point, steps):
    """ELT-2.8: one input of TOSA's sum as int32: $q - z$ RESCALEd by ``steps`` (:func:`tosa_sum_rescales`)."""
    value = tosa_rescale_to_int32(np.int64(code) - np.int64(zero_point), steps[0], steps[1])
    if steps[4]:
        value = tosa_rescale_to_int32(value, steps[2], steps[3])
    return value


@kernel
def tosa_sum_elements(x, x_zero_point, x_steps, y, y_zero_point, y_steps, multiplier, shift, output_zero_point, qmin,
                      qmax, out):
    """ELT-2.8 on flat arrays of equal length: the int32 ADD of both operands (it cannot overflow: each is below
    $255 \\cdot 2^{19}$), then the output RESCALE with ``DOUBLE_ROUND`` and the output zero point, saturated."""
    for i in range(x.size):
        total = tosa_sum_operand(x[i], x_zero_point, x_steps) + tosa_sum_operand(y[i], y_zero_point, y_steps)
        q, _ = requantize_fixed_point_value(total, multiplier, shift, output_zero_point, qmin, qmax, True, True)
        out[i] = q


def tosa_product_rescale(a_scale, b_scale, c_scale) -> tuple[int, int]:
    """ELT-2.9: the output RESCALE of MLIR's TFLite legalisation of a quantized MUL (``convertMultiplyOp``): the
    multiplier of ELT-2.6, $\\mathrm{fl_{32}}(\\mathrm{fl_{32}}(s_A s_B) / s_C)$ (the legalisation computes it in
    float, as TFLite does), read as float64."""
    ratio = multiply_ratio(a_scale, b_scale, c_scale)
    if not np.isfinite(ratio):
        raise invalid("C_scale", "a scale whose product multiplier fl32(fl32(A_scale * B_scale) / C_scale) is finite",
                      float(c_scale))
    output = tosa_multiplier(float(ratio), "C_scale")
    # |p| <= 255^2 < 2^16: the RESCALE's REQUIRE |p| < 2^(s-1) is certain from s = 18 on.
    if output[1] < 18:
        raise invalid("C_scale", "at least A_scale * B_scale / 2^13 (a smaller output scale lets a product break "
                                 "the output RESCALE's REQUIRE)", float(c_scale))
    return output


@kernel
def tosa_product_elements(x, x_zero_point, y, y_zero_point, multiplier, shift, output_zero_point, qmin, qmax, out):
    """ELT-2.9 on flat arrays of equal length: $p = (x - z_x)(y - z_y)$ exactly (the input RESCALEs by 1 and the
    int32 MUL with shift 0 are exact), then the output RESCALE with ``DOUBLE_ROUND``, + $z_C$, saturated."""
    for i in range(x.size):
        product = (np.int64(x[i]) - np.int64(x_zero_point)) * (np.int64(y[i]) - np.int64(y_zero_point))
        q, _ = requantize_fixed_point_value(product, multiplier, shift, output_zero_point, qmin, qmax, True, True)
        out[i] = q


def _tosa_sum(first, second, shape, output_scale, output_zero) -> np.ndarray:
    x_steps, y_steps, (multiplier, shift) = tosa_sum_rescales(first.scale, second.scale, output_scale)
    info = np.iinfo(first.values.dtype)
    out = np.empty(shape, dtype=first.values.dtype)
    tosa_sum_elements(_flat(first.values, shape), np.int64(first.zero_point), x_steps, _flat(second.values, shape),
                      np.int64(second.zero_point), y_steps, np.int64(multiplier), np.int64(shift),
                      np.int64(output_zero), np.int64(info.min), np.int64(info.max), out.reshape(-1))
    return out


def _tosa_product(first, second, shape, output_scale, output_zero) -> np.ndarray:
    multiplier, shift = tosa_product_rescale(first.scale, second.scale, output_scale)
    info = np.iinfo(first.values.dtype)
    out = np.empty(shape, dtype=first.values.dtype)
    tosa_product_elements(_flat(first.values, shape), np.int64(first.zero_point), _flat(second.values, shape),
                          np.int64(second.zero_point), np.int64(multiplier), np.int64(shift), np.int64(output_zero),
                          np.int64(info.min), np.int64(info.max), out.reshape(-1))
    return out


def profile_arithmetic(profile: str) -> str:
    """The ``binary_arithmetic`` value ``profile`` names (ELT-2.8), the variant's first value where it names none."""
    if profile not in EVERY_PROFILE_BY_NAME:
        raise invalid("profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), profile)
    default = VARIANTS_BY_NAME["binary_arithmetic"].values[0].name
    return EVERY_PROFILE_BY_NAME[profile].requantize.get("binary_arithmetic", default)


def qlinear_add_under_profile(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None, *,
                              profile: str = "onnxruntime", **variants) -> np.ndarray:
    """:func:`qlinear_add` with the ``binary_arithmetic`` of ``profile`` (ONNX Runtime's float32 sum where it names
    none); ``variants`` override single variants."""
    return qlinear_add(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point,
                       **{"binary_arithmetic": profile_arithmetic(profile), **variants})


def qlinear_mul_under_profile(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None, *,
                              profile: str = "onnxruntime", **variants) -> np.ndarray:
    """:func:`qlinear_mul` with the ``binary_arithmetic`` of ``profile``; ``variants`` override single variants."""
    return qlinear_mul(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point,
                       **{"binary_arithmetic": profile_arithmetic(profile), **variants})
