"""BLK-10.1 and BLK-10.2: codes into B-bit fields, the fields into units of W bits and back, one stream (a row,
or the whole array) at a time.

A field is ``(code + bias) mod 2^B``: the bias is 2^(B-1) under ``code_field = offset`` and 0 otherwise, and the
modulus is two's complement for a negative code. Units are uint8 or uint32 arrays (the caller views the words
as int32), every step computed in int64 so that a word's top bit is an ordinary bit.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel

#: ``code_order`` codes (the registry's order of its values).
STREAM_LOW_FIRST, STREAM_HIGH_FIRST, PLANES = range(3)


@kernel(inline=True)
def plane_count(bits: int, unit_bits: int) -> int:
    """BLK-10.2: the fields a unit holds under ``planes``, floor(W / B)."""
    return unit_bits // bits


@kernel(inline=True)
def stream_units(count: int, bits: int, unit_bits: int, order: int) -> int:
    """BLK-10.3: the units a stream of ``count`` fields fills: ceil(count * B / W) for a bit stream,
    ceil(count / k) under ``planes``."""
    if order == PLANES:
        planes = plane_count(bits, unit_bits)
        return (count + planes - 1) // planes
    return (count * bits + unit_bits - 1) // unit_bits


@kernel(inline=True)
def field_of(code, bias: int, bits: int) -> np.int64:
    """BLK-10.1: the B-bit field of a code."""
    return (np.int64(code) + bias) & ((np.int64(1) << bits) - 1)


@kernel(inline=True)
def code_of(field: np.int64, bias: int, bits: int, signed: bool) -> np.int64:
    """BLK-10.1 read back: the code of a field, the bias taken off, and for a signed code under a bias of 0 the
    top bit read as -2^(B-1)."""
    if bias != 0:
        return field - bias
    if signed and field >= np.int64(1) << (bits - 1):
        return field - (np.int64(1) << bits)
    return field


@kernel(inline=True)
def field_shift(index: int, bits: int, unit_bits: int, order: int) -> int:
    """BLK-10.2: where field ``index`` of a unit starts when B divides W (no field straddles): bit index * B
    from the bottom, or from the top under ``stream_high_first``."""
    if order == STREAM_LOW_FIRST:
        return index * bits
    return unit_bits - (index + 1) * bits


@kernel
def pack_whole_fields(codes, start: int, count: int, bias: int, bits: int, unit_bits: int, order: int, units,
                      first: int) -> None:
    """BLK-10.2 where B divides W, so that no field straddles: field j * (W / B) + t of the stream at
    :func:`field_shift` of t in unit j, written one t at a time across the units (the loop the compiler
    vectorises)."""
    per_unit = unit_bits // bits
    stream = codes[start:start + count]
    out = units[first:first + (count + per_unit - 1) // per_unit]
    for index in range(per_unit):
        shift = field_shift(index, bits, unit_bits, order)
        for j in range((count - index + per_unit - 1) // per_unit):
            out[j] |= field_of(stream[j * per_unit + index], bias, bits) << shift


@kernel
def pack_planes(codes, start: int, count: int, bias: int, bits: int, unit_bits: int, units, first: int) -> None:
    """BLK-10.2 under ``planes``: part p of the stream (fields p * s to p * s + s - 1) at bit (k - 1 - p) * B of
    units 0 to s - 1, one part at a time."""
    planes = plane_count(bits, unit_bits)
    span = (count + planes - 1) // planes
    stream = codes[start:start + count]
    out = units[first:first + span]
    for plane in range(planes):
        shift = (planes - 1 - plane) * bits
        for j in range(max(min(span, count - plane * span), 0)):
            out[j] |= field_of(stream[plane * span + j], bias, bits) << shift


@kernel
def pack_stream(codes, start: int, count: int, bias: int, bits: int, unit_bits: int, order: int, units,
                first: int) -> None:
    """BLK-10.2: the fields of codes ``start`` to ``start + count - 1`` into ``units[first:]`` (zeroed by the
    caller), in ``order``. A padded field is 0, and so is every bit no field reaches."""
    if order == PLANES:
        pack_planes(codes, start, count, bias, bits, unit_bits, units, first)
        return
    if unit_bits % bits == 0:
        pack_whole_fields(codes, start, count, bias, bits, unit_bits, order, units, first)
        return
    # Fields straddle units: the stream goes through a bit buffer, a unit written whenever W bits are in it.
    word_mask = (np.int64(1) << unit_bits) - 1
    stream = codes[start:start + count]
    out = units[first:first + stream_units(count, bits, unit_bits, order)]
    buffer = np.int64(0)
    held = 0
    unit = 0
    for i in range(count):
        field = field_of(stream[i], bias, bits)
        if order == STREAM_LOW_FIRST:
            buffer |= field << held
            held += bits
            if held >= unit_bits:
                out[unit] = buffer & word_mask
                unit += 1
                buffer >>= unit_bits
                held -= unit_bits
        else:
            buffer = (buffer << bits) | field
            held += bits
            if held >= unit_bits:
                out[unit] = (buffer >> (held - unit_bits)) & word_mask
                unit += 1
                held -= unit_bits
                buffer &= (np.int64(1) << held) - 1
    if held > 0:
        out[unit] = buffer if order == STREAM_LOW_FIRST else (buffer << (unit_bits - held)) & word_mask


@kernel
def unpack_whole_fields(units, first: int, bias: int, bits: int, unit_bits: int, order: int, signed: bool, codes,
                        start: int, count: int) -> None:
    """BLK-10.2 read back where B divides W, one field position t at a time across the units."""
    field_mask = (np.int64(1) << bits) - 1
    per_unit = unit_bits // bits
    stream = codes[start:start + count]
    source = units[first:first + (count + per_unit - 1) // per_unit]
    for index in range(per_unit):
        shift = field_shift(index, bits, unit_bits, order)
        for j in range((count - index + per_unit - 1) // per_unit):
            stream[j * per_unit + index] = code_of((np.int64(source[j]) >> shift) & field_mask, bias, bits, signed)


@kernel
def unpack_planes(units, first: int, bias: int, bits: int, unit_bits: int, signed: bool, codes, start: int,
                  count: int) -> None:
    """BLK-10.2 read back under ``planes``, one part at a time."""
    field_mask = (np.int64(1) << bits) - 1
    planes = plane_count(bits, unit_bits)
    span = (count + planes - 1) // planes
    stream = codes[start:start + count]
    source = units[first:first + span]
    for plane in range(planes):
        shift = (planes - 1 - plane) * bits
        for j in range(max(min(span, count - plane * span), 0)):
            stream[plane * span + j] = code_of((np.int64(source[j]) >> shift) & field_mask, bias, bits, signed)


@kernel
def unpack_stream(units, first: int, bias: int, bits: int, unit_bits: int, order: int, signed: bool, codes,
                  start: int, count: int) -> None:
    """BLK-10.2 read back: the codes of the ``count`` fields of the stream at ``units[first:]`` into
    ``codes[start:]``. Bits no field reaches are not read."""
    if order == PLANES:
        unpack_planes(units, first, bias, bits, unit_bits, signed, codes, start, count)
        return
    if unit_bits % bits == 0:
        unpack_whole_fields(units, first, bias, bits, unit_bits, order, signed, codes, start, count)
        return
    # Fields straddle units: a unit goes into a bit buffer whenever it holds fewer than B bits.
    field_mask = (np.int64(1) << bits) - 1
    word_mask = (np.int64(1) << unit_bits) - 1
    stream = codes[start:start + count]
    source = units[first:first + stream_units(count, bits, unit_bits, order)]
    buffer = np.int64(0)
    held = 0
    unit = 0
    for i in range(count):
        if held < bits:
            if order == STREAM_LOW_FIRST:
                buffer |= (np.int64(source[unit]) & word_mask) << held
            else:
                buffer = (buffer << unit_bits) | (np.int64(source[unit]) & word_mask)
            unit += 1
            held += unit_bits
        if order == STREAM_LOW_FIRST:
            field = buffer & field_mask
            buffer >>= bits
        else:
            field = (buffer >> (held - bits)) & field_mask
        held -= bits
        if order != STREAM_LOW_FIRST:
            buffer &= (np.int64(1) << held) - 1
        stream[i] = code_of(field, bias, bits, signed)


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
