"""GGF-7.2 to GGF-7.8: dequantize of the lattice IQ types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S,
IQ1_S, IQ1_M): grid points, signs and 4-bit (or 3-bit) sub-block scales times one fp16 scale.

Every value is ``scale * grid``, negated (its float32 sign bit flipped) where its sign bit is set, or
``scale * (grid + delta)``; each product rounded to float32, in the order of ggml's ``dequantize_row_*``.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.half import HALF_VALUES, half_value

IQ1_DELTA = np.float32(0.125)


@kernel
def byte(blocks, offset):
    return np.int64(blocks[offset])


@kernel
def little_endian(blocks, offset, count):
    """The unsigned little-endian integer of ``count`` bytes at ``offset``."""
    value = 0
    for k in range(count):
        value |= byte(blocks, offset + k) << (8 * k)
    return value


@kernel(inline=True)
def signed_group(group, scale, point, signs, count):
    """GGF-7.1: a group of a grid point into the view ``group``: ``group[j] = (scale * point[j])`` negated where
    bit ``j`` of ``signs`` is set, for ``j < count``. The negation flips the product's sign bit (an integer
    XOR): that is the product by -1 on every value but a NaN, whose sign it flips as the compiled product by
    -1 (and ggml's build) does, while the interpreter's product by -1 keeps it; so both paths give ggml's bits.
    Inlined: a call per group of 8 costs more than the group (and the loop vectorises only inlined)."""
    for j in range(count):
        magnitude = np.float32(scale * np.float32(point[j])).view(np.uint32)
        group[j] = np.uint32(magnitude ^ np.uint32(((signs >> j) & 1) << 31)).view(np.float32)


@kernel
def dequantize_iq2_xxs(blocks, out, grid, sign_table):
    """GGF-7.2: IQ2_XXS, 66 bytes: ``d``, then per 32 elements 4 grid indices and a 32-bit word of
    four 7-bit sign indices and a 4-bit scale ``s``: ``db = (d * (0.5 + s)) * 0.25``."""
    # The 8 values of a grid point, read from the sizes (as in dequantize_iq2_xs: a constant 8 is unrolled
    # into scalar code before the compiler could vectorise the loop).
    eight = out.size // max(1, blocks.size // 66) // 32
    for b in range(blocks.size // 66):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[66 * b:66 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        d = half_value(block[0], block[1])
        for ib in range(8):
            base = 2 + 8 * ib
            word = little_endian(block, base + 4, 4)
            db = d * (np.float32(0.5) + np.float32(word >> 28)) * np.float32(0.25)
            for l in range(4):
                signs = np.int64(sign_table[(word >> (7 * l)) & 127])
                group = values[32 * ib + 8 * l:32 * ib + 8 * (l + 1)]
                signed_group(group, db, grid[byte(block, base + l)], signs, eight)


@kernel
def dequantize_iq2_xs(blocks, out, grid, sign_table):
    """GGF-7.3: IQ2_XS, 74 bytes: ``d``, 32 16-bit codes (9-bit grid index, 7-bit sign index), 8 bytes
    of two 4-bit scales (the first for codes 0-1 of a group of 32 elements, the second for 2-3)."""
    # The 8 values of a grid point, read from the sizes: a loop of a constant 8 is unrolled into scalar
    # code before the compiler could vectorise it (legacy.dequantize_bytes).
    eight = out.size // max(1, blocks.size // 74) // 32
    for b in range(blocks.size // 74):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[74 * b:74 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        d = half_value(block[0], block[1])
        for ib in range(8):
            scales = byte(block, 66 + ib)
            for l in range(4):
                code = little_endian(block, 2 + 2 * (4 * ib + l), 2)
                s = (scales & 0xF) if l < 2 else (scales >> 4)
                db = d * (np.float32(0.5) + np.float32(s)) * np.float32(0.25)
                signs = np.int64(sign_table[code >> 9])
                group = values[32 * ib + 8 * l:32 * ib + 8 * (l + 1)]
                signed_group(group, db, grid[code & 511], signs, eight)


@kernel
def dequantize_iq2_s(blocks, out, grid):
    """GGF-7.4: IQ2_S, 82 bytes: ``d``, 32 low grid-index bytes, 32 sign bytes, 8 bytes of high index
    bits (2 per code), 8 bytes of two 4-bit scales."""
    # The 8 values of a grid point, read from the sizes (a constant 8 is unrolled into scalar code).
    eight = out.size // max(1, blocks.size // 82) // 32
    for b in range(blocks.size // 82):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[82 * b:82 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        d = half_value(block[0], block[1])
        for ib in range(8):
            scales = byte(block, 74 + ib)
            high = byte(block, 66 + ib)
            for l in range(4):
                s = (scales & 0xF) if l < 2 else (scales >> 4)
                db = d * (np.float32(0.5) + np.float32(s)) * np.float32(0.25)
                point = byte(block, 2 + 4 * ib + l) | ((high << (8 - 2 * l)) & 0x300)
                signs = byte(block, 34 + 4 * ib + l)
                group = values[32 * ib + 8 * l:32 * ib + 8 * (l + 1)]
                signed_group(group, db, grid[point], signs, eight)


@kernel
def dequantize_iq3_xxs(blocks, out, grid, sign_table):
    """GGF-7.5: IQ3_XXS, 98 bytes: ``d``, 64 grid indices (4 values each), then per 32 elements a
    32-bit word of four 7-bit sign indices and a 4-bit scale: ``db = (d * (0.5 + s)) * 0.5``."""
    # A point's 4 values as a constant count: the unrolled scalar code is faster here than a 4-trip loop
    # vectorised behind a count read from the sizes (4.8-5.1 against 2.0-3.1 GB/s).
    for b in range(blocks.size // 98):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[98 * b:98 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        d = half_value(block[0], block[1])
        for ib in range(8):
            word = little_endian(block, 66 + 4 * ib, 4)
            db = d * (np.float32(0.5) + np.float32(word >> 28)) * np.float32(0.5)
            for l in range(4):
                signs = np.int64(sign_table[(word >> (7 * l)) & 127])
                y = 32 * ib + 8 * l
                first = byte(block, 2 + 8 * ib + 2 * l)
                second = byte(block, 2 + 8 * ib + 2 * l + 1)
                signed_group(values[y:y + 4], db, grid[first], signs, 4)
                signed_group(values[y + 4:y + 8], db, grid[second], signs >> 4, 4)


@kernel
def dequantize_iq3_s(blocks, out, grid):
    """GGF-7.6: IQ3_S, 110 bytes: ``d``, 64 low grid-index bytes, 8 bytes of ninth index bits, 32 sign
    bytes, 4 bytes of two 4-bit scales: ``db = d * (1 + 2 s)``."""
    # A point's 4 values as a constant count: the unrolled scalar code is faster here than a 4-trip loop
    # vectorised behind a count read from the sizes (4.8-5.1 against 2.0-3.1 GB/s).
    for b in range(blocks.size // 110):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[110 * b:110 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        d = half_value(block[0], block[1])
        for ib in range(8):
            scales = byte(block, 106 + ib // 2)
            s = (scales & 0xF) if ib % 2 == 0 else (scales >> 4)
            db = d * np.float32(1 + 2 * s)
            high = byte(block, 66 + ib)
            for l in range(4):
                y = 32 * ib + 8 * l
                signs = byte(block, 74 + 4 * ib + l)
                first = byte(block, 2 + 8 * ib + 2 * l) | ((high << (8 - 2 * l)) & 256)
                second = byte(block, 2 + 8 * ib + 2 * l + 1) | ((high << (7 - 2 * l)) & 256)
                signed_group(values[y:y + 4], db, grid[first], signs, 4)
                signed_group(values[y + 4:y + 8], db, grid[second], signs >> 4, 4)


@kernel(inline=True)
def shifted_group(group, scale, point, delta, count):
    """GGF-7.7: an IQ1 grid point into the view ``group``: ``group[j] = scale * (point[j] + delta)`` for
    ``j < count``.
    Inlined: a call per group of 8 costs more than the group (and the loop vectorises only inlined)."""
    for j in range(count):
        group[j] = scale * (np.float32(point[j]) + delta)


@kernel
def dequantize_iq1_s(blocks, out, grid):
    """GGF-7.7: IQ1_S, 50 bytes: ``d``, 32 low grid-index bytes, 8 16-bit words (three 3-bit high index
    parts, a 3-bit scale ``s`` and the sign of ``delta = +-0.125``): ``y = (d (2 s + 1)) (grid + delta)``."""
    # The 8 values of a grid point, read from the sizes (a constant 8 is unrolled into scalar code).
    eight = out.size // max(1, blocks.size // 50) // 32
    for b in range(blocks.size // 50):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[50 * b:50 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        d = half_value(block[0], block[1])
        for ib in range(8):
            word = little_endian(block, 34 + 2 * ib, 2)
            dl = d * np.float32(2 * ((word >> 12) & 7) + 1)
            delta = -IQ1_DELTA if word & 0x8000 else IQ1_DELTA
            for l in range(4):
                point = byte(block, 2 + 4 * ib + l) | (((word >> (3 * l)) & 7) << 8)
                group = values[32 * ib + 8 * l:32 * ib + 8 * (l + 1)]
                shifted_group(group, dl, grid[point], delta, eight)


@kernel
def dequantize_iq1_m(blocks, out, grid):
    """GGF-7.8: IQ1_M, 56 bytes: 32 low grid-index bytes, 16 bytes of high index bits and delta signs
    (a nibble per code: 3 index bits, then the sign of ``delta``), and 4 16-bit scale words holding two
    3-bit scales per 32 elements and, in their top nibbles, the fp16 ``d``."""
    # The 8 values of a grid point, read from the sizes (a constant 8 is unrolled into scalar code).
    eight = out.size // max(1, blocks.size // 56) // 32
    for b in range(blocks.size // 56):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[56 * b:56 * (b + 1)]
        values = out[256 * b:256 * (b + 1)]
        pattern = ((little_endian(block, 48, 2) >> 12) | ((little_endian(block, 50, 2) >> 8) & 0x00F0)
                   | ((little_endian(block, 52, 2) >> 4) & 0x0F00) | (little_endian(block, 54, 2) & 0xF000))
        d = HALF_VALUES[pattern]
        for ib in range(8):
            word = little_endian(block, 48 + 2 * (ib // 2), 2)
            for l in range(4):
                # Codes 0-1 take the first 3-bit scale of this group of 32, codes 2-3 the second.
                shift = 6 * (ib % 2) + (0 if l < 2 else 3)
                dl = d * np.float32(2 * ((word >> shift) & 7) + 1)
                nibble = (byte(block, 32 + 2 * ib + l // 2) >> (4 * (l % 2))) & 0xF
                point = byte(block, 4 * ib + l) | ((nibble & 7) << 8)
                delta = -IQ1_DELTA if nibble & 0x8 else IQ1_DELTA
                group = values[32 * ib + 8 * l:32 * ib + 8 * (l + 1)]
                shifted_group(group, dl, grid[point], delta, eight)
