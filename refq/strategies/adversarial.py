"""Adversarial float32 inputs: values at and around rounding ties and saturation edges, where
the last-bit bugs live.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from refq.strategies.validation import (check_integer, check_scale, check_zero_point, float_format_argument,
                                        integer_format_argument, integer_range)
from refq.strategies.values import ordered_key, pattern_of_key, pattern_value

F32 = np.float32


def step_ulps(value: np.float32, ulps: int) -> np.float32:
    """``value`` moved ``ulps`` float32 steps up (negative: down), through zero and to infinity."""
    key = ordered_key(int(np.array(value, F32).view(np.uint32)), float_format_argument("binary32"))
    key = max(-0x7F800000, min(0x7F800000, key + ulps))
    return pattern_value(pattern_of_key(key, float_format_argument("binary32")), float_format_argument("binary32"))


def _adversarial_arguments(scale, zero_point, dtype, max_ulps):
    scale32 = check_scale(scale)
    fmt = integer_format_argument(dtype, max_bits=16)
    zero = check_zero_point(zero_point, fmt)
    ulps = check_integer(max_ulps, "max_ulps", 0, 1 << 20)
    return scale32, fmt, zero, ulps


def near_ties(scale, zero_point=0, dtype="int8", *, max_ulps=1) -> st.SearchStrategy[np.float32]:
    """float32 inputs at and around rounding ties: $\\mathrm{fl}_{32}((k + 1/2) \\cdot s)$ moved at most
    ``max_ulps`` float32 steps, for every $k$ from $q_{min} - z - 1$ to $q_{max} - z$ (the ties that
    decide a result, and the two just outside the range). One ulp off a tie is where float64
    division, reciprocal multiplication and a zero point added before rounding go wrong.

    Example: ``near_ties(0.1, 3, "uint8", max_ulps=2)``; they shrink toward $s/2$.
    """
    scale32, fmt, zero, ulps = _adversarial_arguments(scale, zero_point, dtype, max_ulps)
    qmin, qmax = integer_range(fmt)

    def tie(k: int, offset: int) -> np.float32:
        with np.errstate(over="ignore"):
            value = F32((k + 0.5) * float(scale32))
        return step_ulps(value, offset)

    return st.builds(tie, st.integers(qmin - zero - 1, qmax - zero), st.integers(-ulps, ulps))


def saturation_edges(scale, zero_point=0, dtype="int8", *, max_ulps=1) -> st.SearchStrategy[np.float32]:
    """float32 inputs around where quantize saturates: $(q_{min} - z + d) \\cdot s$ and $(q_{max} - z + d) \\cdot s$
    for $d \\in \\{-1, -1/2, 0, 1/2, 1\\}$, $\\pm 2^{31} s$ and $\\pm 2^{32} s$ (a conversion to int32 before the
    clamp overflows there), the largest finite float32 and the infinities; each moved at most
    ``max_ulps`` float32 steps.

    Example: ``saturation_edges(0.05, -128, "int8")``.
    """
    scale32, fmt, zero, ulps = _adversarial_arguments(scale, zero_point, dtype, max_ulps)
    qmin, qmax = integer_range(fmt)
    multipliers = [end - zero + d for end in (qmin, qmax) for d in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    multipliers += [2.0**31, -(2.0**31), 2.0**32, -(2.0**32)]
    with np.errstate(over="ignore"):
        bases = [F32(m * float(scale32)) for m in multipliers]
    largest = np.finfo(F32).max
    bases += [largest, -largest, F32(np.inf), F32(-np.inf)]
    return st.builds(step_ulps, st.sampled_from(bases), st.integers(-ulps, ulps))
