"""GGF-1.3 to GGF-1.5: the three ways ggml's reference code turns a float32 into an integer.

C leaves a float-to-integer conversion undefined when the truncated value does not fit
the target type (C17 6.3.1.4), and ``nearest_int`` asserts that its argument is within
2^22 - 1. Each function returns the integer and whether it is defined; where it is not,
the spec says the result is *unpredictable* and the integer returned is 0.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel

#: 1.5 * 2^23: adding it to a float32 of magnitude below 2^22 leaves the integer part,
#: rounded to nearest even, in the low mantissa bits (ggml's ``nearest_int``).
NEAREST_INT_SHIFT = np.float32(12582912.0)
NEAREST_INT_LIMIT = np.float32(4194303.0)
#: round_half_away's limits, as float32 (a Python float would make the comparison float64).
ROUND_LIMIT = np.float32(2.0**30)
HALF = np.float32(0.5)


@kernel
def truncate(value, low, high):
    """GGF-1.3: a C cast of the float32 ``value`` to an integer type holding ``[low, high]``.

    Truncation toward zero; defined when the truncated value lies in ``[low, high]``.
    """
    # Without a branch, the conversion 32 bits wide: the loops that call it vectorise (a value out
    # of range, NaN included, is replaced by 0 before it is converted).
    defined = (value > low - 1) & (value < high + 1)  # also false for NaN
    return np.int32(value if defined else np.float32(0.0)), defined


@kernel
def nearest_int(value):
    """GGF-1.4: ggml's ``nearest_int``: the float32 sum ``value + 1.5 * 2^23`` rounds ``value``
    to an integer, ties to even; defined for ``|value| <= 2^22 - 1``."""
    if not (abs(value) <= NEAREST_INT_LIMIT):
        return 0, False
    shifted = value + NEAREST_INT_SHIFT
    return int(shifted) - 12582912, True


@kernel
def round_half_away(value, low, high):
    """GGF-1.5: C's ``roundf`` (ties away from zero), then converted to a type holding ``[low, high]``."""
    # In float32, without a branch: the loops that call it vectorise 16 lanes wide (a float64 floor
    # gives 8, and a round trip through int32 to find the fraction cost more). A value of 2^30 or more,
    # NaN included, is replaced by 0 first, so the result fits an int32. The fraction ``kept - whole``
    # is exact (below 1 ``whole`` is 0; above, it is within a factor of 2 of ``kept``: Sterbenz's
    # lemma), and one of magnitude one half or more steps away from zero: ties away, and +-0 gives 0.
    # Such a fraction means ``|kept| < 2^23``, where ``whole + 1`` is exact.
    small = abs(value) < ROUND_LIMIT  # also false for NaN
    kept = value if small else np.float32(0.0)
    whole = np.trunc(kept)
    step = np.float32(1.0) if abs(kept - whole) >= HALF else np.float32(0.0)
    rounded = np.int32(whole + np.copysign(step, kept))
    defined = small & (rounded >= low) & (rounded <= high)
    return (rounded if defined else np.int32(0)), defined
