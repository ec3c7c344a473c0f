"""NUM-1.9, NUM-1.10: packing 1-, 2- and 4-bit integers several to a byte.

Byte $j$ holds elements $jk \\dots jk+k-1$ with $k = 8/n$ elements per byte;
element $i$ occupies bits $n\\,(i \\bmod k)$ to $n\\,(i \\bmod k) + n - 1$, so the
lowest-index element sits in the least-significant bits. Each field holds the
element's $n$-bit pattern: plain binary for unsigned formats, two's complement
(NUM-1.5) for signed ones. This is ONNX's layout for INT4/UINT4 and INT2/UINT2,
and numpy's ``packbits(..., bitorder="little")`` for 1-bit values.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.integers._arguments import exact_integer, resolve_format
from refq.numbers.integers.ranges import integer_range, storage_dtype
from refq.registry import IntegerFormat

#: The widths that pack evenly into a byte, below a byte.
PACKED_BITS = (1, 2, 4)


@kernel
def pack_fields(values, bits, out):
    """Store the low ``bits`` bits of each int64 value in its field; ``out`` starts zeroed."""
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    for index in range(values.size):
        field = np.uint8(values[index] & mask)
        shift = bits * (index % per_byte)
        out[index // per_byte] |= np.uint8(field << shift)


@kernel
def unpack_fields(packed, bits, signed, out):
    """Read ``out.size`` fields; a signed field whose top bit is set reads 2^bits less (NUM-1.4)."""
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    for index in range(out.size):
        shift = bits * (index % per_byte)
        field = (np.int64(packed[index // per_byte]) >> shift) & mask
        if signed and field >> (bits - 1):
            field -= mask + 1
        out[index] = field


def _packed_format(format: str | IntegerFormat) -> IntegerFormat:
    format = resolve_format(format)
    if format.bits not in PACKED_BITS:
        raise invalid("format", "a 1-, 2- or 4-bit integer format (int1/uint1, int2/uint2, int4/uint4)",
                      format.name)
    return format


def packed_size(count: int, bits: int) -> int:
    """Bytes needed for ``count`` elements of ``bits`` bits: $\\lceil n \\cdot \\text{count} / 8 \\rceil$."""
    return -(-count * bits // 8)


def pack(values: np.ndarray, format: str | IntegerFormat) -> np.ndarray:
    """NUM-1.9: pack ``values`` (flattened in C order) into a uint8 array, lowest index in the lowest bits.

    The unused high bits of the last byte, when the count is not a multiple of
    $8/n$, are zero.
    """
    format = _packed_format(format)
    if not isinstance(values, np.ndarray):
        raise wrong_type("values", "a numpy integer array", values)
    if values.dtype.kind not in "iu":
        raise wrong_type("values", "a numpy integer array", f"array of {values.dtype}")
    flat = values.reshape(-1)
    lowest, highest = integer_range(format)
    if flat.size and (flat.min() < lowest or flat.max() > highest):
        bad = flat[(flat < lowest) | (flat > highest)][0]
        raise invalid("values", f"in the {format.name} range {lowest}..{highest}", int(bad))
    out = np.zeros(packed_size(flat.size, format.bits), dtype=np.uint8)
    pack_fields(flat.astype(np.int64), format.bits, out)
    return out


def unpack(packed: np.ndarray, format: str | IntegerFormat, count: int) -> np.ndarray:
    """NUM-1.10: the first ``count`` elements stored in ``packed``, in ``storage_dtype(format)``.

    ``packed`` must hold exactly $\\lceil n \\cdot \\text{count} / 8 \\rceil$ bytes; the
    padding bits after the last element are ignored.
    """
    format = _packed_format(format)
    if not isinstance(packed, np.ndarray) or packed.dtype != np.uint8:
        raise wrong_type("packed", "a numpy uint8 array",
                         f"array of {packed.dtype}" if isinstance(packed, np.ndarray) else packed)
    count = exact_integer(count, "count")
    if count < 0:
        raise invalid("count", "non-negative", count)
    flat = packed.reshape(-1)
    needed = packed_size(count, format.bits)
    if flat.size != needed:
        raise invalid("packed", f"exactly {needed} bytes for {count} {format.name} elements",
                      f"{flat.size} bytes")
    out = np.empty(count, dtype=storage_dtype(format))
    unpack_fields(np.ascontiguousarray(flat), format.bits, format.signed, out)
    return out
