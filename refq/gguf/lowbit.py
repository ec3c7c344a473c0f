"""GGF-6.9 to GGF-6.11: the binary and 2-bit types of blocks Q1_0 (128 signs and one scale) and Q2_0
(64 codes of four levels and one scale), new in ggml 0.25.

As the blocks of 32 (GGF-2), every kernel takes whole blocks of float32, computes in float32
with every operation rounded on its own in ggml's order, and sets ``undefined[b]`` when a
float-to-integer conversion of block ``b`` is undefined in C.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.conversions import round_half_away
from refq.gguf.half import half_pattern, half_value, store_half

Q1_0_BLOCK = 128
Q1_0_BYTES = 18
Q2_0_BLOCK = 64
Q2_0_BYTES = 18


@kernel
def quantize_q1_0(x, out, undefined):
    """GGF-6.9: Q1_0: ``d = (sum of |x|, in order) / 128``, one bit per element, set when ``x >= 0``
    (so for -0, clear for NaN), element ``j`` at bit ``j % 8`` of byte ``2 + j / 8``."""
    for b in range(x.size // Q1_0_BLOCK):
        start = b * Q1_0_BLOCK
        total = np.float32(0.0)
        for j in range(start, start + Q1_0_BLOCK):
            total += abs(x[j])
        d = total / np.float32(Q1_0_BLOCK)
        o = b * Q1_0_BYTES
        store_half(out, o, half_pattern(d))
        for k in range(Q1_0_BLOCK // 8):
            byte = 0
            for bit in range(8):
                if x[start + 8 * k + bit] >= np.float32(0.0):
                    byte |= 1 << bit
            out[o + 2 + k] = byte


#: A float32's bit pattern without its sign orders as its magnitude; above +inf's it is a NaN. As int32:
#: the loops over the patterns stay 32 bits wide (a Python int constant would make them int64).
MAGNITUDE_BITS = np.int32(0x7FFFFFFF)
INFINITY_BITS = np.int32(0x7F800000)
NO_MAGNITUDE = np.int32(0)
INT32_LOW = -(2**31)
INT32_HIGH = 2**31 - 1
LOWEST_CODE = np.int32(0)
HIGHEST_CODE = np.int32(3)


@kernel
def largest_magnitude_skipping_nan(bits, start, count):
    """Q2_0's ``d``: from +0, replaced by ``|x|`` when ``|x| > d``, so a NaN (which compares false) is
    skipped and a block of zeros and NaNs gives +0. ``bits``: the float32 input's bit patterns as int32;
    the block is ``bits[start:start + count]``."""
    # The largest pattern without its sign, a NaN's counted as +0's: in any order the largest magnitude
    # C's scan finds, compared as integers many lanes at once (a view indexed from 0, its size the count).
    block_bits = bits[start:start + count]
    largest = NO_MAGNITUDE
    for j in range(block_bits.size):
        magnitude = block_bits[j] & MAGNITUDE_BITS
        largest = max(largest, magnitude if magnitude <= INFINITY_BITS else NO_MAGNITUDE)
    return np.int32(largest).view(np.float32)


@kernel
def quantize_q2_0(x, out, undefined):
    """GGF-6.10: Q2_0: ``d`` is the largest magnitude (stored as fp16, its float32 value used),
    ``q = roundf(x * (1 / d)) + 1`` clamped to ``[0, 3]`` (0 for d = 0), four codes per byte from the
    low bits up. The levels are ``(q - 1) d``: the reference never writes code 3 (2d)."""
    # The block's 64 elements and 16 bytes, read from the sizes: a loop of a constant count is unrolled
    # into scalar code before the compiler could vectorise it (legacy.dequantize_bytes).
    elements = x.size // max(1, x.size // Q2_0_BLOCK)
    packed_bytes = elements // 4
    bits = x.view(np.int32)
    # The codes of one block, packed in a second loop: the loop that converts is then a plain one over
    # the elements, which the compiler vectorises 16 lanes wide.
    codes = np.zeros(Q2_0_BLOCK, dtype=np.int32)
    for b in range(x.size // Q2_0_BLOCK):
        start = b * Q2_0_BLOCK
        d = largest_magnitude_skipping_nan(bits, start, Q2_0_BLOCK)
        inverse = np.float32(1.0) / d if d > np.float32(0.0) else np.float32(0.0)
        o = b * Q2_0_BYTES
        store_half(out, o, half_pattern(d))
        # Views indexed from 0: indices that need no wrap-around check, in loops the compiler vectorises.
        block = x[start:start + Q2_0_BLOCK]
        packed = out[o + 2:o + Q2_0_BYTES]
        defined = True
        for j in range(elements):
            q, defined_q = round_half_away(block[j] * inverse, INT32_LOW, INT32_HIGH)
            # One flag per block, written after the loop: a store inside it keeps the loop scalar.
            defined = defined & defined_q
            # |q| < 2^30 (round_half_away gives 0 from there on): q + 1 does not overflow.
            codes[j] = min(max(q + np.int32(1), LOWEST_CODE), HIGHEST_CODE)
        if not defined:
            undefined[b] = 1
        for k in range(packed_bytes):
            packed[k] = (codes[4 * k] | (codes[4 * k + 1] << 2) | (codes[4 * k + 2] << 4)
                         | (codes[4 * k + 3] << 6)) & 0xFF


@kernel
def dequantize_q1_0(blocks, out):
    """GGF-6.11: Q1_0: ``y = d`` for a set bit, ``-d`` for a clear one."""
    for b in range(blocks.size // Q1_0_BYTES):
        o = b * Q1_0_BYTES
        d = half_value(blocks[o], blocks[o + 1])
        for j in range(Q1_0_BLOCK):
            bit = (np.int64(blocks[o + 2 + j // 8]) >> (j % 8)) & 1
            out[Q1_0_BLOCK * b + j] = d if bit else -d


@kernel
def dequantize_q2_0(blocks, out):
    """GGF-6.11: Q2_0: ``y = (q - 1) * d`` in float32."""
    for b in range(blocks.size // Q2_0_BYTES):
        o = b * Q2_0_BYTES
        d = half_value(blocks[o], blocks[o + 1])
        for j in range(Q2_0_BLOCK):
            q = (np.int64(blocks[o + 2 + j // 4]) >> (2 * (j % 4))) & 3
            out[Q2_0_BLOCK * b + j] = np.float32(q - 1) * d
