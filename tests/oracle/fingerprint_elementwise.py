"""An independent oracle of the elementwise fingerprint's predictions (conformance/fingerprint_elementwise.py):
plain numpy written apart from refq's ELT kernels, one predictor per operation and every value of its
dimensions (the registry variants add_fixed_part, add_operand_order, mul_zero_point, sigmoid_function,
average_sum; average_division's integer rules are not modelled here, tests/oracle/average_pool.py has them)."""

from __future__ import annotations

import numpy as np

F32 = np.float32
F64 = np.float64


def fma32(a, b, c) -> np.ndarray:
    """$\\mathrm{fl}_{32}(a b + c)$ with one rounding, for float32 arrays: the product is exact in float64,
    the float64 sum's error is recovered (TwoSum) and decides the float32 ties it would double-round."""
    product = np.asarray(a, F64) * np.asarray(b, F64)
    addend = np.asarray(c, F64)
    total = product + addend
    virtual = total - product
    error = (product - (total - virtual)) + (addend - virtual)
    rounded = total.astype(F32)
    toward = np.where(total > rounded.astype(F64), F32(np.inf), F32(-np.inf)).astype(F32)
    neighbour = np.nextafter(rounded, toward)
    midpoint = (rounded.astype(F64) + neighbour.astype(F64)) / 2
    tie = (total == midpoint) & (error != 0)
    upper, lower = np.maximum(rounded, neighbour), np.minimum(rounded, neighbour)
    return np.where(tie, np.where(error > 0, upper, lower), rounded).astype(F32)


def saturate(values, dtype) -> np.ndarray:
    """Round half to even, NaN and out-of-int32 values to $-2^{31}$ (x86), clamp to the type (ELT-2.1)."""
    info = np.iinfo(dtype)
    rounded = np.rint(np.asarray(values, F64))
    bad = ~np.isfinite(rounded) | (rounded >= 2.0**31) | (rounded < -(2.0**31))
    integers = np.where(bad, -(2.0**31), rounded)
    return np.clip(integers, info.min, info.max).astype(dtype)


def predict(probe, variants: dict[str, str]) -> np.ndarray | None:
    """The output of ``probe`` under one combination (float32 average division only)."""
    return PREDICTORS[probe.operation](*probe.inputs, **probe.attributes, **variants)


def predict_add(A, a_scale, a_zero, B, b_scale, b_zero, c_scale, c_zero, *, add_fixed_part, add_operand_order):
    x, y, x_scale, y_scale, x_zero, y_zero = A, B, a_scale, b_scale, int(a_zero), int(b_zero)
    # ONNX Runtime's broadcaster treats A as the per-span scalar when its innermost axis has length 1
    # and B's does not (ELT-1.3; the general rule skips axes of length 1 in both, which no probe has)
    a_inner, b_inner = np.shape(A)[-1:] or (1,), np.shape(B)[-1:] or (1,)
    if add_operand_order == "swapped" and a_inner == (1,) and b_inner != (1,):
        x, y, x_scale, y_scale, x_zero, y_zero = B, A, b_scale, a_scale, int(b_zero), int(a_zero)
    x_ratio, y_ratio = F32(F32(x_scale) / F32(c_scale)), F32(F32(y_scale) / F32(c_scale))
    y_part = F32(y_ratio * F32(y_zero))
    if add_fixed_part == "fused":
        both = fma32(x_ratio, F32(x_zero), y_part)
    else:
        both = F32(F32(x_ratio * F32(x_zero)) + y_part)
    fixed = F32(F32(int(c_zero)) - both)
    shape = np.broadcast_shapes(np.shape(x), np.shape(y))
    xs, ys = (np.broadcast_to(np.asarray(v).astype(F32), shape) for v in (x, y))
    total = fma32(xs, x_ratio, fma32(ys, y_ratio, fixed))
    return saturate(total, np.asarray(A).dtype)


def predict_mul(A, a_scale, a_zero, B, b_scale, b_zero, c_scale, c_zero, *, mul_zero_point):
    product = (np.asarray(A, np.int64) - int(a_zero)) * (np.asarray(B, np.int64) - int(b_zero))
    ratio = F32(F32(F32(a_scale) * F32(b_scale)) / F32(c_scale))
    scaled = (product.astype(F32) * ratio).astype(F32)
    dtype = np.asarray(A).dtype
    if mul_zero_point == "float32_sum":
        return saturate((scaled + F32(int(c_zero))).astype(F32), dtype)
    if mul_zero_point == "fused":
        return saturate(fma32(product.astype(F32), ratio, F32(int(c_zero))), dtype)
    info = np.iinfo(dtype)
    return np.clip(np.rint(scaled.astype(F64)) + int(c_zero), info.min, info.max).astype(dtype)


LOGISTIC_P = (4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03,
              2.48287947061529e-01)
LOGISTIC_Q = (6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06, 1.70198817374094e-03,
              1.16817656904453e-01, 9.93151921023180e-01)


def mlas_logistic(x: np.ndarray) -> np.ndarray:
    """Eigen's rational logistic as MLAS evaluates it: clamp to [-18, 18], Horner steps as fused multiply-adds."""
    value = np.clip(x, F32(-18), F32(18)).astype(F32)
    square = (value * value).astype(F32)
    numerator = np.full_like(value, F32(LOGISTIC_P[0]))
    for coefficient in LOGISTIC_P[1:]:
        numerator = fma32(square, numerator, F32(coefficient))
    numerator = (value * numerator).astype(F32)
    denominator = np.full_like(value, F32(LOGISTIC_Q[0]))
    for coefficient in LOGISTIC_Q[1:]:
        denominator = fma32(square, denominator, F32(coefficient))
    return np.maximum(((numerator / denominator).astype(F32) + F32(0.5)).astype(F32), F32(0))


def predict_sigmoid(X, x_scale, x_zero, y_scale, y_zero, *, sigmoid_function):
    dtype = np.asarray(X).dtype
    values = (F32(x_scale) * (np.asarray(X, np.int64) - int(x_zero)).astype(F32)).astype(F32)
    if sigmoid_function == "mlas_logistic":
        outputs = mlas_logistic(values)
    else:
        outputs = (1.0 / (1.0 + np.exp(-values.astype(F64)))).astype(F32)
    info = np.iinfo(dtype)
    quotient = (outputs / F32(y_scale)).astype(F32)
    return np.clip(np.rint(quotient.astype(F64)) + int(y_zero), info.min, info.max).astype(dtype)


def _average(windows: np.ndarray, x_scale, x_zero, y_scale, y_zero, dtype, average_sum) -> np.ndarray:
    """``windows``: (..., count) codes; the average of each window requantized to ``dtype``."""
    count = windows.shape[-1]
    if average_sum == "integer_sum":
        total = windows.astype(np.int64).sum(axis=-1) - count * int(x_zero)
        multiplier = F32(F32(x_scale) / F32(F32(y_scale) * F32(count)))
        scaled = (total.astype(F32) * multiplier).astype(F32)
        info = np.iinfo(dtype)
        return np.clip(np.rint(scaled.astype(F64)) + int(y_zero), info.min, info.max).astype(dtype)
    values = (F32(x_scale) * (windows.astype(np.int64) - int(x_zero)).astype(F32)).astype(F32)
    total = np.zeros(windows.shape[:-1], F32)
    for i in range(count):
        total = (total + values[..., i]).astype(F32)
    average = (total / F32(count)).astype(F32)
    return saturate(((average / F32(y_scale)).astype(F32) + F32(int(y_zero))).astype(F32), dtype)


def predict_global_average_pool(X, x_scale, x_zero, y_scale, y_zero, *, average_sum):
    X = np.asarray(X)
    windows = X.reshape(X.shape[0], X.shape[1], -1)
    return _average(windows, x_scale, x_zero, y_scale, y_zero, X.dtype, average_sum).reshape(
        X.shape[:2] + (1,) * (X.ndim - 2))


def predict_average_pool(X, x_scale, x_zero, y_scale, y_zero, *, kernel_shape, strides, average_sum,
                         average_division="float32"):
    """Non-overlapping 2-D windows (``strides == kernel_shape``, no padding), row-major inside a window."""
    assert average_division == "float32", "the integer rules' oracle is tests/oracle/average_pool.py"
    X = np.asarray(X)
    n, c, h, w = X.shape
    kh, kw = kernel_shape
    blocks = X.reshape(n, c, h // kh, kh, w // kw, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // kh, w // kw,
                                                                                           kh * kw)
    return _average(blocks, x_scale, x_zero, y_scale, y_zero, X.dtype, average_sum)


PREDICTORS = {"qlinear_add": predict_add, "qlinear_mul": predict_mul, "qlinear_sigmoid": predict_sigmoid,
              "qlinear_global_average_pool": predict_global_average_pool,
              "qlinear_average_pool": predict_average_pool}


