"""ELT-3: 8-bit table lookup (ONNX Runtime's ``QLinearSigmoid``, ``QLinearLeakyRelu``, and the
``DequantizeLinear`` → ``Tanh`` → ``QuantizeLinear`` graph).

An 8-bit input has 256 codes, so any elementwise function is a table: dequantize
every code, apply the float function, quantize the result. The output is then a pure
lookup, exact by construction; all the arithmetic sits in the 256 table entries.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.quantize import quantize
from refq.affine.steps import fused_multiply_add_float32
from refq.elementwise.operands import operand, single_scale, single_zero_point
from refq.errors import invalid, wrong_type
from refq.registry.variants import variant_code

# Eigen's rational approximation of the logistic function, as MLAS stores it (float32).
LOGISTIC_RANGE = np.float32(18.0)
LOGISTIC_NUMERATOR = np.array([4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05,
                               8.51377133304701e-03, 2.48287947061529e-01], dtype=np.float32)
LOGISTIC_DENOMINATOR = np.array([6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06,
                                 1.70198817374094e-03, 1.16817656904453e-01, 9.93151921023180e-01],
                                dtype=np.float32)

# Eigen's rational approximation of tanh, as MLAS stores it (float32): odd numerator
# alpha_13 ... alpha_1, even denominator beta_6 ... beta_0.
TANH_RANGE = np.float32(9.0)
TANH_NUMERATOR = np.array([-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                           5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                           4.89352455891786e-03], dtype=np.float32)
TANH_DENOMINATOR = np.array([1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                             4.89352518554385e-03], dtype=np.float32)


def table_inputs(scale: np.float32, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """ELT-3.1: the dequantized value of every code, indexed by the code's bit pattern
    (0..255; for int8, 128..255 are -128..-1): $\\mathrm{fl}(s_X \\cdot (q - z_X))$ in float32."""
    codes = np.arange(256, dtype=np.uint8).view(dtype).astype(np.int64)
    return (np.float32(scale) * (codes - zero_point).astype(np.float32)).astype(np.float32)


@kernel
def logistic(x):
    """ELT-3.3: MLAS's logistic function on one float32 (``MlasComputeLogistic``, the FMA3 kernel).

    $x$ is clamped to $[-18, 18]$; with $u = \\mathrm{fl}(x^2)$ both polynomials are
    evaluated by Horner's rule with one fused multiply-add per step,
    $p = \\mathrm{fl}(x \\cdot P(u))$ ($P$ of degree 4: $\\alpha_9 \\ldots \\alpha_1$) and $Q(u)$
    (degree 5: $\\beta_{10} \\ldots \\beta_0$), and the result is
    $\\max(\\mathrm{fl}(\\mathrm{fl}(p / Q) + 0.5),\\ 0)$.
    """
    value = min(max(np.float32(x), -LOGISTIC_RANGE), LOGISTIC_RANGE)
    square = np.float32(value * value)
    numerator = LOGISTIC_NUMERATOR[0]
    for i in range(1, LOGISTIC_NUMERATOR.size):
        numerator = fused_multiply_add_float32(square, numerator, LOGISTIC_NUMERATOR[i])
    numerator = np.float32(value * numerator)
    denominator = LOGISTIC_DENOMINATOR[0]
    for i in range(1, LOGISTIC_DENOMINATOR.size):
        denominator = fused_multiply_add_float32(square, denominator, LOGISTIC_DENOMINATOR[i])
    result = np.float32(np.float32(numerator / denominator) + np.float32(0.5))
    return max(result, np.float32(0.0))


@kernel
def logistic_elements(values, out):
    """ELT-3.3 on a float32 array."""
    for i in range(values.size):
        out[i] = logistic(values[i])


@kernel
def hyperbolic_tangent(x):
    """ELT-3.7: MLAS's tanh on one float32 (``MlasComputeTanh``, the FMA3 kernel on x86-64).

    $x$ is clamped to $[-9, 9]$; with $u = \\mathrm{fl}(x^2)$ both polynomials are evaluated by
    Horner's rule with one fused multiply-add per step, $p = \\mathrm{fl}(x \\cdot P(u))$ ($P$ of
    degree 6: $\\alpha_{13} \\ldots \\alpha_1$) and $Q(u)$ (degree 3: $\\beta_6 \\ldots \\beta_0$),
    and the result is $\\mathrm{fl}(p / Q)$, with no clamp to $[-1, 1]$ afterwards.
    """
    value = min(max(np.float32(x), -TANH_RANGE), TANH_RANGE)
    square = np.float32(value * value)
    numerator = TANH_NUMERATOR[0]
    for i in range(1, TANH_NUMERATOR.size):
        numerator = fused_multiply_add_float32(square, numerator, TANH_NUMERATOR[i])
    numerator = np.float32(value * numerator)
    denominator = TANH_DENOMINATOR[0]
    for i in range(1, TANH_DENOMINATOR.size):
        denominator = fused_multiply_add_float32(square, denominator, TANH_DENOMINATOR[i])
    return np.float32(numerator / denominator)


@kernel
def hyperbolic_tangent_elements(values, out):
    """ELT-3.7 on a float32 array."""
    for i in range(values.size):
        out[i] = hyperbolic_tangent(values[i])


@kernel
def leaky_relu(x, alpha):
    """ELT-3.4: $x$ if $x \\ge 0$, else $\\mathrm{fl}(\\alpha x)$ (float32)."""
    if x >= np.float32(0.0):
        return np.float32(x)
    return np.float32(alpha * x)


@kernel
def leaky_relu_elements(values, alpha, out):
    """ELT-3.4 on a float32 array."""
    for i in range(values.size):
        out[i] = leaky_relu(values[i], alpha)


def build_table(function, X_scale, X_zero_point, Y_scale, Y_zero_point, dtype) -> np.ndarray:
    """ELT-3.2: the 256-entry table: dequantize every code (ELT-3.1), apply ``function``
    (float32 array to float32 array), quantize with ONNX Runtime's ``QuantizeLinear``
    (AFF-3, profile ``onnxruntime``). Entry $i$ is the output for the code with bit pattern $i$."""
    dtype = np.dtype(dtype)
    x_scale = single_scale(X_scale, "X_scale")
    y_scale = single_scale(Y_scale, "Y_scale")
    x_zero = single_zero_point(X_zero_point, dtype, "X_zero_point")
    y_zero = single_zero_point(Y_zero_point, dtype, "Y_zero_point")
    outputs = np.asarray(function(table_inputs(x_scale, x_zero, dtype)), dtype=np.float32)
    return quantize(outputs, y_scale, np.array(y_zero), dtype=dtype.name, profile="onnxruntime")


def lookup(X, table) -> np.ndarray:
    """ELT-3.5: $Y_i = T[\\mathrm{bits}(X_i)]$: each code's bit pattern indexes the table."""
    return np.asarray(table)[np.asarray(X).view(np.uint8).astype(np.intp)]


def _sigmoid_array(values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    logistic_elements(values, out)
    return out


def float64_logistic(values: np.ndarray) -> np.ndarray:
    """The variant ``sigmoid_function = float64_logistic``: $\\mathrm{fl_{32}}(1 / (1 + e^{-x}))$ evaluated in
    float64 with numpy's ``exp`` (not correctly rounded in every last float64 bit, which the float32
    result nearly always hides)."""
    return (1.0 / (1.0 + np.exp(-np.asarray(values, np.float64)))).astype(np.float32)


def qlinear_sigmoid(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *,
                    sigmoid_function: str = "mlas_logistic") -> np.ndarray:
    """ELT-3.6: ``com.microsoft.QLinearSigmoid``: the table of :func:`logistic` (ELT-3.2), looked up;
    ``sigmoid_function`` is the registry variant naming the tabulated function (default: MLAS's)."""
    mlas = variant_code("sigmoid_function", sigmoid_function, "sigmoid_function") == 0
    x = operand(X, X_scale, X_zero_point, "X")
    table = build_table(_sigmoid_array if mlas else float64_logistic, x.scale, x.zero_point, Y_scale, Y_zero_point,
                        x.values.dtype)
    return lookup(x.values, table)


def qlinear_leaky_relu(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, alpha=0.01) -> np.ndarray:
    """ELT-3.6: ``com.microsoft.QLinearLeakyRelu``: the table of :func:`leaky_relu` with the float32
    ``alpha`` (default 0.01), looked up."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)):
        raise wrong_type("alpha", "a finite float", alpha)
    slope = np.float32(alpha)
    if not np.isfinite(slope):
        raise invalid("alpha", "finite in float32", alpha)
    x = operand(X, X_scale, X_zero_point, "X")

    def transform(values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        leaky_relu_elements(values, slope, out)
        return out

    table = build_table(transform, x.scale, x.zero_point, Y_scale, Y_zero_point, x.values.dtype)
    return lookup(x.values, table)


def _tanh_array(values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    hyperbolic_tangent_elements(values, out)
    return out


def qlinear_tanh(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None) -> np.ndarray:
    """ELT-3.8: ONNX Runtime's ``DequantizeLinear`` → ``Tanh`` → ``QuantizeLinear`` on 8 bits (it has no
    ``QLinearTanh``): the table of :func:`hyperbolic_tangent` (ELT-3.2), looked up."""
    x = operand(X, X_scale, X_zero_point, "X")
    table = build_table(_tanh_array, x.scale, x.zero_point, Y_scale, Y_zero_point, x.values.dtype)
    return lookup(x.values, table)
