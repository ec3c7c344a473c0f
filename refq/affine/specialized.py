"""Specialised kernels for the most common variant combinations.

They compute exactly what :func:`refq.affine.steps.quantize_value` and
:func:`refq.affine.steps.dequantize_value` define, restructured so that LLVM can
vectorise the innermost loop. Quantize clamps the scaled value to
$[q_{min} - z, q_{max} - z]$ *before* rounding: rounding is monotone and leaves
integers unchanged, so $\\mathrm{clamp}(\\mathrm{round}(v) + z, q_{min}, q_{max})
= \\mathrm{round}(\\mathrm{clamp}(v, q_{min} - z, q_{max} - z)) + z$. A NaN fails both
comparisons of the clamp and is replaced by the profile's NaN result at the end.
``tests/test_affine_specialized.py`` checks them against the step-by-step kernels.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.steps import DIVIDE, parameter_index


@kernel
def quantize_run_float32(x, scale, reciprocal, zero_point, qmin, qmax, scale_operation, nan_result, out):
    """Quantize the 1-D run ``x`` with one scale: float32 precision, zero point after
    rounding, ties to even, clamp-then-convert; a NaN becomes ``nan_result``."""
    lower = np.float32(qmin - zero_point)
    upper = np.float32(qmax - zero_point)
    # The zero point is added in float32 (exact: every operand is an integer below 2^17), so
    # the loop stays in 32-bit lanes; numba would widen an int32 + int32 sum to int64.
    offset = np.float32(zero_point)
    nan_value = np.int32(nan_result)
    if scale_operation == DIVIDE and nan_result == qmin:
        # The clamp already sends NaN to the lower bound, which is where qmin comes from.
        for i in range(x.size):
            value = x[i] / scale
            clamped = value if value > lower else lower
            clamped = clamped if clamped < upper else upper
            out[i] = np.int32(np.rint(clamped) + offset)
    elif scale_operation == DIVIDE:
        for i in range(x.size):
            value = x[i] / scale
            clamped = value if value > lower else lower
            clamped = clamped if clamped < upper else upper
            result = np.int32(np.rint(clamped) + offset)
            out[i] = result if value == value else nan_value
    else:
        for i in range(x.size):
            value = x[i] * reciprocal
            clamped = value if value > lower else lower
            clamped = clamped if clamped < upper else upper
            result = np.int32(np.rint(clamped) + offset)
            out[i] = result if value == value else nan_value


@kernel
def quantize_blocks_float32(x3, scale3, reciprocal3, zero_point3, block, qmin, qmax, scale_operation, nan_result,
                            out3):
    """:func:`quantize_run_float32` over the ``(outer, length, inner)`` view (AFF-1.4)."""
    outer, length, inner = x3.shape
    scale_outer, _, scale_inner = scale3.shape
    for o in range(outer):
        for d in range(length):
            # One scale for the whole inner run takes the vectorized run at once.
            for i in range(inner if scale_inner > 1 else 1):
                so, b, si = parameter_index(o, d, i, scale_outer, scale_inner, block)
                end = i + 1 if scale_inner > 1 else inner
                quantize_run_float32(x3[o, d, i:end], scale3[so, b, si], reciprocal3[so, b, si],
                                     zero_point3[so, b, si], qmin, qmax, scale_operation, nan_result,
                                     out3[o, d, i:end])


@kernel
def dequantize_run_float32(q, scale, zero_point, out):
    """``(q - z) * s`` in float32 for a 1-D run with one scale; exact difference for types
    of at most 24 bits, whose differences convert to float32 exactly."""
    # In float32 (exact below 2^24) so the loop stays in 32-bit lanes; numba would widen an
    # int32 difference to int64.
    offset = np.float32(zero_point)
    for i in range(q.size):
        out[i] = (np.float32(q[i]) - offset) * scale


@kernel
def dequantize_blocks_float32(q3, scale3, zero_point3, block, out3):
    """:func:`dequantize_run_float32` over the ``(outer, length, inner)`` view."""
    outer, length, inner = q3.shape
    scale_outer, _, scale_inner = scale3.shape
    for o in range(outer):
        for d in range(length):
            for i in range(inner if scale_inner > 1 else 1):
                so, b, si = parameter_index(o, d, i, scale_outer, scale_inner, block)
                end = i + 1 if scale_inner > 1 else inner
                dequantize_run_float32(q3[o, d, i:end], scale3[so, b, si], zero_point3[so, b, si],
                                       out3[o, d, i:end])
