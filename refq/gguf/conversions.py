"""GGF-1.3 to GGF-1.5: the three ways ggml's reference code turns a float32 into an integer.

C leaves a float-to-integer conversion undefined when the truncated value does not fit
the target type (C17 6.3.1.4), and ``nearest_int`` asserts that its argument is within
2^22 - 1. Each function returns the integer and whether it is defined; where it is not,
the spec says the result is *unpredictable* and the integer returned is 0.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel

#: 1.5 * 2^23: adding it to a float32 of magnitude below 2^22 leaves the integer part,
#: rounded to nearest even, in the low mantissa bits (ggml's ``nearest_int``).
NEAREST_INT_SHIFT = np.float32(12582912.0)
NEAREST_INT_LIMIT = np.float32(4194303.0)


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
    # Without a branch, as truncate: the loops that call it vectorise (a value of 2^30 or more, NaN
    # included, is replaced by 0 before it is rounded).
    small = abs(value) < 2.0**30  # also false for NaN
    magnitude = math.floor(abs(float(value if small else 0.0)) + 0.5)  # exact in float64 below 2^30
    rounded = int(magnitude) if value >= 0 else -int(magnitude)
    defined = small & (rounded >= low) & (rounded <= high)
    return (rounded if defined else 0), defined
