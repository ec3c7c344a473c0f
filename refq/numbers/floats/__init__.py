"""NUM-3: binary floating-point formats — decoding, derived constants, encoding, arrays.

``decode`` and ``encode`` work on one number with exact rational arithmetic and
are the normative definitions; ``decode_array`` and ``encode_array`` run the
same rules over numpy arrays as Numba kernels, and tests check that the two
agree on every pattern of every small format.
"""

from __future__ import annotations

from refq.numbers.floats.arrays import decode_array, encode_array
from refq.numbers.floats.constants import (
    epsilon,
    largest_finite_pattern,
    max_finite,
    min_normal,
    min_subnormal,
    next_down,
    next_up,
    ulp,
)
from refq.numbers.floats.decode import KINDS, DecodedFloat, decode
from refq.numbers.floats.encode import OVERFLOW_POLICIES, encode

__all__ = [
    "KINDS", "OVERFLOW_POLICIES", "DecodedFloat", "decode", "decode_array", "encode", "encode_array",
    "epsilon", "largest_finite_pattern", "max_finite", "min_normal", "min_subnormal", "next_down",
    "next_up", "ulp",
]
