"""ELT-2: ``QLinearAdd`` and ``QLinearMul`` (ONNX Runtime's ``com.microsoft`` contrib operators).

$C = \\mathrm{quantize}(\\mathrm{dequantize}(A) \\circ \\mathrm{dequantize}(B))$ in real
arithmetic; ONNX Runtime computes it in float32 with the roundings spelled out here
(MLAS ``MlasQLinearAdd`` / ``MlasQLinearMul`` on x86-64), and refq names them.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.steps import fused_multiply_add_float32
from refq.elementwise.operands import FIRST_SCALAR, broadcast_shape, operand, span_role, single_scale, \
    single_zero_point
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.registry.variants import variant_code

INT32_MIN = -(2**31)


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
                add_fixed_part: str = "fused", add_operand_order: str = "swapped") -> np.ndarray:
    """ELT-2.5: ``com.microsoft.QLinearAdd``: $C \\approx ((A - z_A) s_A + (B - z_B) s_B) / s_C + z_C$.

    ``A`` and ``B`` are int8 or uint8 arrays of one type that broadcast (ELT-1.2); scales
    and zero points are single values, ``C_zero_point`` of that type too (None means 0).
    ONNX Runtime's kernel is asymmetric in its two operands; $x$ is ``A`` and $y$ is ``B``
    unless ``A`` is the per-span scalar (ELT-1.3), where they swap. The result has
    ``A``'s type and the broadcast shape. ``add_fixed_part`` and ``add_operand_order`` are the
    registry variants of ELT-2.3 and the swap (defaults: ONNX Runtime's).
    """
    fused = variant_code("add_fixed_part", add_fixed_part, "add_fixed_part") == 0
    swap = variant_code("add_operand_order", add_operand_order, "add_operand_order") == 0
    first, second, shape, output_scale, output_zero = _binary_operands(A, A_scale, A_zero_point, B, B_scale,
                                                                       B_zero_point, C_scale, C_zero_point)
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
                mul_zero_point: str = "float32_sum") -> np.ndarray:
    """ELT-2.7: ``com.microsoft.QLinearMul``: $C \\approx (A - z_A)(B - z_B) s_A s_B / s_C + z_C$,
    elementwise with broadcasting; operands as in :func:`qlinear_add` (the product is
    symmetric, so the span roles of ELT-1.3 do not matter). ``mul_zero_point`` is the registry
    variant of ELT-2.6 (default: ONNX Runtime's)."""
    placement = variant_code("mul_zero_point", mul_zero_point, "mul_zero_point")
    first, second, shape, output_scale, output_zero = _binary_operands(A, A_scale, A_zero_point, B, B_scale,
                                                                       B_zero_point, C_scale, C_zero_point)
    ratio = multiply_ratio(first.scale, second.scale, output_scale)
    info = np.iinfo(first.values.dtype)
    out = np.empty(shape, dtype=first.values.dtype)
    multiply_elements(_flat(first.values, shape), first.zero_point, _flat(second.values, shape), second.zero_point,
                      ratio, output_zero, info.min, info.max, out.reshape(-1), placement)
    return out
