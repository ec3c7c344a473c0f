"""NUM-1: integers of 1 to 64 bits — ranges, two's complement, wrap and saturate, packing.

Submodules, one per concern: :mod:`.ranges` (NUM-1.2, NUM-1.3),
:mod:`.twos_complement` (NUM-1.4 to NUM-1.6), :mod:`.conversion` (NUM-1.7, NUM-1.8),
:mod:`.packing` (NUM-1.9, NUM-1.10), :mod:`.encodings_table` (informative).
"""

from __future__ import annotations

from refq.numbers.integers.conversion import saturate, saturate_array, wrap, wrap_array
from refq.numbers.integers.encodings_table import int_encodings_table
from refq.numbers.integers.packing import PACKED_BITS, pack, packed_size, unpack
from refq.numbers.integers.ranges import integer_range, storage_dtype
from refq.numbers.integers.twos_complement import (
    from_twos_complement,
    sign_extend,
    sign_magnitude_value,
    to_twos_complement,
)

__all__ = [
    "PACKED_BITS", "from_twos_complement", "int_encodings_table", "integer_range", "pack",
    "packed_size", "saturate", "saturate_array", "sign_extend", "sign_magnitude_value",
    "storage_dtype", "to_twos_complement", "unpack", "wrap", "wrap_array",
]
