"""TestFloat-style boundary tables, derived from a float format's parameters.

A boundary table crosses every chosen exponent field with a fixed set of significand
patterns (zero, one, all ones, a walking one, runs of ones from either end) and both
signs. For binary32 the all-zero exponent row gives the zeros and subnormals and the
all-ones row the infinities and NaNs (quiet and signalling, with assorted payloads),
so one table holds every class of value.
"""

from __future__ import annotations

import numpy as np

from refq.registry import FloatFormat, float_format

BINARY32 = float_format("binary32")


def significand_patterns(mantissa_bits: int) -> list[int]:
    """0, 1, all ones, each single bit, and each run of ones from the bottom and from the top."""
    all_ones = (1 << mantissa_bits) - 1
    patterns = {0, 1, all_ones}
    for position in range(mantissa_bits):
        patterns.add(1 << position)
        patterns.add((1 << (position + 1)) - 1)
        patterns.add(all_ones ^ ((1 << position) - 1))
    return sorted(patterns)


def boundary_patterns(fmt: FloatFormat, exponents=None, significands=None) -> np.ndarray:
    """Bit patterns sign × exponent field × significand pattern, as uint64, in that order.

    ``exponents`` defaults to every exponent field value, ``significands`` to
    :func:`significand_patterns`.
    """
    if exponents is None:
        exponents = range(1 << fmt.exponent_bits)
    if significands is None:
        significands = significand_patterns(fmt.mantissa_bits)
    sign_bit = 1 << (fmt.exponent_bits + fmt.mantissa_bits)
    patterns = [sign | (exponent << fmt.mantissa_bits) | significand
                for sign in (0, sign_bit) for exponent in exponents for significand in significands]
    return np.array(patterns, dtype=np.uint64)


def float32_boundaries(exponents=None, significands=None) -> np.ndarray:
    """The binary32 boundary table as float32 values (NaN payloads kept)."""
    return boundary_patterns(BINARY32, exponents, significands).astype(np.uint32).view(np.float32)


def exponent_field(value: np.float32) -> int:
    """The biased exponent field of a positive normal float32."""
    return int(np.array([value], dtype=np.float32).view(np.uint32)[0] >> BINARY32.mantissa_bits) & 0xFF


def exponent_window(scale: np.float32, low: int, high: int) -> list[int]:
    """Exponent fields of the float32 values x with $2^{low} \\le |x| / s < 2^{high}$ (about),
    plus the all-zero and all-ones fields (zeros, subnormals, infinities, NaNs)."""
    centre = exponent_field(scale)
    top = (1 << BINARY32.exponent_bits) - 1
    window = [e for e in range(centre + low, centre + high + 1) if 0 < e < top]
    return [0, *window, top]


def neighbours(values: np.ndarray) -> np.ndarray:
    """The float32 values one ulp below and one ulp above each value (toward -inf, +inf)."""
    values = np.asarray(values, dtype=np.float32)
    with np.errstate(over="ignore"):  # the neighbour of the largest float32 is infinite, as meant
        down = np.nextafter(values, np.float32(-np.inf))
        up = np.nextafter(values, np.float32(np.inf))
    return np.concatenate([down, up])


def unique_in_order(values: np.ndarray) -> np.ndarray:
    """``values`` without repeated bit patterns, first occurrences kept in their order."""
    values = np.asarray(values, dtype=np.float32)
    _, first = np.unique(values.view(np.uint32), return_index=True)
    return values[np.sort(first)]
