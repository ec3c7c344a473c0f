"""The sweep's kernel for the most common variant combination (conformance/sweep).

:func:`quantize_run_float32` computes exactly what :func:`refq.affine.steps.quantize_value`
defines for float32 precision, the zero point after rounding, ties to even and
clamp-then-convert, restructured so that LLVM can vectorise the loop. It clamps the scaled
value to $[q_{min} - z, q_{max} - z]$ *before* rounding: rounding is monotone and leaves
integers unchanged, so $\\mathrm{clamp}(\\mathrm{round}(v) + z, q_{min}, q_{max})
= \\mathrm{round}(\\mathrm{clamp}(v, q_{min} - z, q_{max} - z)) + z$. A NaN fails both
comparisons of the clamp and is replaced by the profile's NaN result at the end.
``quantize`` and ``dequantize`` themselves run the loops generated for every variant
combination, :mod:`refq.affine.loops`.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.steps import DIVIDE


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
