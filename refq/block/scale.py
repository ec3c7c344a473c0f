"""BLK-2: the shared exponent of a block, from its largest magnitude, by each scale rule.

Every rule is exact rational arithmetic on the float32 ``amax`` except where the rule itself
names a float32 step (``rceil``'s quotient, ``rceil_log2_float32``'s logarithm).
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.block.elements import floor_log2

#: Scale rule codes (the ``block_scale_rule`` variant's, in registry order).
FLOOR, CEIL, EVEN, RCEIL, RCEIL_LOG2_FLOAT32 = range(5)
#: E8M0's exponent range (OCP MX 5.4.1) and its NaN code.
E8M0_MIN_EXPONENT = -127
E8M0_MAX_EXPONENT = 127
E8M0_BIAS = 127
E8M0_NAN = 255
#: The code of 2^127, the largest scale.
E8M0_LARGEST = 254
#: The smallest and largest binary exponents a positive float32 can have (subnormals included).
_FLOAT32_EXPONENTS = range(-149, 128)


def _log2_rounds_down_below() -> np.ndarray:
    """BLK-2.5: for each binary exponent k of a float32 d = 2^k (1 + r), 0 < r < 1, the bound t_k such that
    fl32(log2(d)) == k exactly when r < t_k: log2(d) = k + log2(1 + r) rounds to k when log2(1 + r) is less
    than half the spacing of float32 next to k on the side of k + log2(1 + r). Index k + 149; k = 0 never
    rounds down (log2(1 + r) is a representable positive number)."""
    bounds = np.zeros(len(_FLOAT32_EXPONENTS), dtype=np.float64)
    for index, k in enumerate(_FLOAT32_EXPONENTS):
        if k == 0:
            continue
        magnitude = abs(k)
        binade = magnitude.bit_length() - 1
        if k < 0 and magnitude == 1 << binade:
            binade -= 1  # k + log2(1 + r) lies below |k| in magnitude: the binade under a power of two
        half_spacing = math.ldexp(1.0, binade - 24)
        bounds[index] = math.expm1(half_spacing * math.log(2.0))
    return bounds


LOG2_ROUNDS_DOWN_BELOW = _log2_rounds_down_below()


#: The fraction bits of a float32 significand, and the value of the lowest (a product by it is exact).
FRACTION_BITS = 23
FRACTION_UNIT = np.float64(2.0 ** -FRACTION_BITS)


@kernel(inline=True)
def binade(value):
    """``(k, f)`` for a positive finite float32: value = 2^k * (1 + f / 2^23) exactly, k = floor(log2(value)),
    read from its bits (a subnormal's leading bit becomes the implicit one)."""
    pattern = np.int64(np.float32(value).view(np.uint32))
    field = pattern >> FRACTION_BITS
    fraction = pattern & 0x7FFFFF
    if field > 0:
        return field - 127, fraction
    leading = floor_log2(np.float64(fraction))  # exact: the fraction is an integer below 2^23
    return leading - 149, (fraction << (FRACTION_BITS - leading)) & 0x7FFFFF


@kernel(inline=True)
def ceil_log2_float32(d, bounds):
    """BLK-2.5: ceil(fl32(log2(d))) for a positive finite float32 d, where fl32 rounds the exact logarithm
    to the nearest float32: the exact ceil(log2(d)) except just above a power of two, where the logarithm
    rounds down onto the integer k."""
    k, fraction = binade(d)
    if fraction == 0:
        return k
    if np.float64(fraction) * FRACTION_UNIT < bounds[k + 149]:  # d = 2^k (1 + r), r exact
        return k
    return k + 1


@kernel(inline=True)
def shared_exponent(amax, rule, emax, mantissa_bits, max_normal, bounds):
    """BLK-2.1 to BLK-2.5: the unclamped shared exponent of a block whose largest magnitude is the positive
    finite float32 ``amax`` (a zero block is BLK-2.6's)."""
    k, fraction = binade(amax)
    if rule == FLOOR:
        return k - emax
    if rule == CEIL:
        return k - emax + (1 if fraction != 0 else 0)
    if rule == EVEN:
        # amax rounded to the element's precision, half up: the binade above when its leading
        # mantissa_bits + 1 fraction bits are all ones, 1 + f / 2^23 >= 2 - 2^-(mantissa_bits + 1).
        if fraction >= (1 << FRACTION_BITS) - (1 << (FRACTION_BITS - 1 - mantissa_bits)):
            return k + 1 - emax
        return k - emax
    descale = amax / np.float32(max_normal)
    if descale == np.float32(0.0):
        return E8M0_MIN_EXPONENT
    if rule == RCEIL:
        j, rest = binade(descale)
        return j + (1 if rest != 0 else 0)
    return ceil_log2_float32(descale, bounds)


@kernel(inline=True)
def scale_code(exponent):
    """BLK-2.7: the E8M0 code of a shared exponent, clamped to E8M0's range."""
    return min(max(exponent, E8M0_MIN_EXPONENT), E8M0_MAX_EXPONENT) + E8M0_BIAS
