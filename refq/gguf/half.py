"""GGF-1.2: the float16 scales of a block, rounded to nearest even and decoded exactly.

ggml stores most block scales as IEEE binary16 (``ggml_half``). Its software conversion
(``ggml_compute_fp32_to_fp16``) rounds to nearest, ties to even, with gradual underflow and
overflow to infinity (NUM-3.13, NUM-3.15); a NaN becomes the quiet NaN ``0x7E00`` with the
input's sign. Decoding is exact (NUM-3.5); a NaN pattern keeps its payload, made quiet.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel

HALF_SIGN = 0x8000
HALF_INFINITY = 0x7C00
HALF_QUIET_NAN = 0x7E00
#: The bit patterns of two float32 values: the midpoint between the largest finite binary16 value
#: (65504) and 2^16, from which on a value rounds to infinity, and binary16's smallest normal, 2^-14.
HALF_OVERFLOW_BITS = 0x477FF000
HALF_MIN_NORMAL_BITS = 0x38800000
#: binary16's exponent bias is 15, binary32's 127: the difference, in binary32's exponent field.
REBIAS = (127 - 15) << 23


@kernel
def half_pattern(value):
    """The binary16 pattern nearest to the float32 ``value`` (ties to even), as an int."""
    # Integer steps on the bit pattern (a chain of float64 frexp, ldexp and rint per scale cost more
    # than the rest of a block of 32 in the legacy quantizers).
    bits = int(np.float32(value).view(np.uint32))
    sign = (bits >> 16) & HALF_SIGN
    magnitude = bits & 0x7FFFFFFF
    if magnitude > 0x7F800000:
        return sign | HALF_QUIET_NAN
    if magnitude >= HALF_OVERFLOW_BITS:
        return sign | HALF_INFINITY
    if magnitude < HALF_MIN_NORMAL_BITS:
        # Subnormal: a count of 2^-24 quanta (the float32 product is exact); a count of 1024 is the
        # smallest normal pattern.
        return sign | int(np.rint(abs(np.float32(value)) * np.float32(2.0**24)))
    # Rebias the exponent and drop the 13 low mantissa bits, rounding to nearest even: adding 0xFFF
    # and the lowest bit kept carries into it exactly when the bits dropped exceed one half, or equal
    # it with that bit odd; a carry out of the mantissa moves to the next binade, as it should.
    return sign | ((magnitude - REBIAS + 0xFFF + ((magnitude >> 13) & 1)) >> 13)


def _half_values() -> np.ndarray:
    patterns = np.arange(1 << 16, dtype=np.uint32)
    # numpy's float16 widening is exact on every non-NaN pattern (tests check it against NUM-3.5's
    # decode_array); it runs at import, where a kernel would import numba and compile.
    with np.errstate(invalid="ignore"):
        values = patterns.astype(np.uint16).view(np.float16).astype(np.float32)
    is_nan = (patterns & HALF_INFINITY) == HALF_INFINITY
    is_nan &= (patterns & 0x3FF) != 0
    # A binary16 NaN widens to the binary32 NaN with the same sign and payload, quiet bit set.
    nan_bits = ((patterns & HALF_SIGN) << 16) | 0x7FC00000 | ((patterns & 0x3FF) << 13)
    bits = values.view(np.uint32)
    bits[is_nan] = nan_bits[is_nan]
    return values


#: Every binary16 pattern's value as a float32 (exact: binary32 holds every binary16 value).
HALF_VALUES = _half_values()


@kernel
def half_value(low, high):
    """The float32 value of the little-endian binary16 pattern in bytes ``low``, ``high``."""
    return HALF_VALUES[np.int64(low) | (np.int64(high) << 8)]


@kernel
def store_half(out, offset, pattern):
    """Write the binary16 ``pattern`` little-endian at ``out[offset:offset + 2]``."""
    out[offset] = pattern & 0xFF
    out[offset + 1] = (pattern >> 8) & 0xFF


@kernel
def rounded_half(value):
    """``value`` rounded to binary16 and back: the scale a block actually stores."""
    pattern = half_pattern(value)
    return HALF_VALUES[pattern]
