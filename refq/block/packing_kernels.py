"""BLK-10.1 and BLK-10.2: codes into B-bit fields, the fields into units of W bits and back, one stream (a row,
or the whole array) at a time.

A field is ``(code + bias) mod 2^B``: the bias is 2^(B-1) under ``code_field = offset`` and 0 otherwise, and the
modulus is two's complement for a negative code. Units are uint8 or uint32 arrays (the caller views the words
as int32), every step computed in int64 so that a word's top bit is an ordinary bit.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel

#: ``code_order`` codes.
STREAM_LOW_FIRST, STREAM_HIGH_FIRST, PLANES = range(3)


@kernel
def plane_count(bits: int, unit_bits: int) -> int:
    """BLK-10.2: the fields a unit holds under ``planes``, floor(W / B)."""
    return unit_bits // bits


@kernel
def stream_units(count: int, bits: int, unit_bits: int, order: int) -> int:
    """BLK-10.3: the units a stream of ``count`` fields fills: ceil(count * B / W) for a bit stream,
    ceil(count / k) under ``planes``."""
    if order == PLANES:
        planes = plane_count(bits, unit_bits)
        return (count + planes - 1) // planes
    return (count * bits + unit_bits - 1) // unit_bits


@kernel
def field_of(code, bias: int, bits: int) -> np.int64:
    """BLK-10.1: the B-bit field of a code."""
    return (np.int64(code) + bias) & ((np.int64(1) << bits) - 1)


@kernel
def code_of(field: np.int64, bias: int, bits: int, signed: bool) -> np.int64:
    """BLK-10.1 read back: the code of a field, the bias taken off, and for a signed code under a bias of 0 the
    top bit read as -2^(B-1)."""
    if bias != 0:
        return field - bias
    if signed and field >= np.int64(1) << (bits - 1):
        return field - (np.int64(1) << bits)
    return field


@kernel
def pack_stream(codes, start: int, count: int, bias: int, bits: int, unit_bits: int, order: int, units,
                first: int) -> None:
    """BLK-10.2: the fields of codes ``start`` to ``start + count - 1`` into ``units[first:]`` (zeroed by the
    caller), in ``order``. A padded field is 0, and so is every bit no field reaches."""
    if order == PLANES:
        planes = plane_count(bits, unit_bits)
        span = (count + planes - 1) // planes
        for j in range(span):
            value = np.int64(0)
            for plane in range(planes):
                index = plane * span + j
                if index < count:
                    value |= field_of(codes[start + index], bias, bits) << ((planes - 1 - plane) * bits)
            units[first + j] = value
        return
    word_mask = (np.int64(1) << unit_bits) - 1
    for i in range(count):
        field = field_of(codes[start + i], bias, bits)
        position = i * bits
        unit = first + position // unit_bits
        offset = position % unit_bits
        spill = offset + bits - unit_bits  # the field's bits that reach into the next unit
        if order == STREAM_LOW_FIRST:
            units[unit] |= (field << offset) & word_mask
            if spill > 0:
                units[unit + 1] |= field >> (bits - spill)
        else:
            if spill > 0:
                units[unit] |= field >> spill
                units[unit + 1] |= (field & ((np.int64(1) << spill) - 1)) << (unit_bits - spill)
            else:
                units[unit] |= field << (unit_bits - offset - bits)


@kernel
def unpack_stream(units, first: int, bias: int, bits: int, unit_bits: int, order: int, signed: bool, codes,
                  start: int, count: int) -> None:
    """BLK-10.2 read back: the codes of the ``count`` fields of the stream at ``units[first:]`` into
    ``codes[start:]``. Bits no field reaches are not read."""
    field_mask = (np.int64(1) << bits) - 1
    if order == PLANES:
        planes = plane_count(bits, unit_bits)
        span = (count + planes - 1) // planes
        for index in range(count):
            plane = index // span
            unit = np.int64(units[first + index % span])
            codes[start + index] = code_of((unit >> ((planes - 1 - plane) * bits)) & field_mask, bias, bits, signed)
        return
    word_mask = (np.int64(1) << unit_bits) - 1
    for i in range(count):
        position = i * bits
        unit = first + position // unit_bits
        offset = position % unit_bits
        spill = offset + bits - unit_bits
        low = np.int64(units[unit]) & word_mask
        if order == STREAM_LOW_FIRST:
            value = low >> offset
            if spill > 0:
                value |= (np.int64(units[unit + 1]) & word_mask) << (bits - spill)
        else:
            if spill > 0:
                value = (low << spill) | ((np.int64(units[unit + 1]) & word_mask) >> (unit_bits - spill))
            else:
                value = low >> (unit_bits - offset - bits)
        codes[start + i] = code_of(value & field_mask, bias, bits, signed)


@kernel
def pack_rows(codes, rows: int, count: int, bias: int, bits: int, unit_bits: int, order: int, units) -> None:
    """BLK-10.3: ``rows`` streams of ``count`` codes each, every one starting a unit."""
    per_row = stream_units(count, bits, unit_bits, order)
    for row in range(rows):
        pack_stream(codes, row * count, count, bias, bits, unit_bits, order, units, row * per_row)


@kernel
def unpack_rows(units, rows: int, count: int, bias: int, bits: int, unit_bits: int, order: int, signed: bool,
                codes) -> None:
    """BLK-10.3 read back: ``rows`` streams of ``count`` codes."""
    per_row = stream_units(count, bits, unit_bits, order)
    for row in range(rows):
        unpack_stream(units, row * per_row, bias, bits, unit_bits, order, signed, codes, row * count, count)
