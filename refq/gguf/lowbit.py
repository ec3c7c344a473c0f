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


@kernel
def quantize_q2_0(x, out, undefined):
    """GGF-6.10: Q2_0: ``d`` is the largest magnitude (stored as fp16, its float32 value used),
    ``q = roundf(x * (1 / d)) + 1`` clamped to ``[0, 3]`` (0 for d = 0), four codes per byte from the
    low bits up. The levels are ``(q - 1) d``: the reference never writes code 3 (2d)."""
    for b in range(x.size // Q2_0_BLOCK):
        start = b * Q2_0_BLOCK
        d = np.float32(0.0)
        for j in range(start, start + Q2_0_BLOCK):
            if abs(x[j]) > d:  # a NaN compares false: skipped
                d = abs(x[j])
        inverse = np.float32(1.0) / d if d > np.float32(0.0) else np.float32(0.0)
        o = b * Q2_0_BYTES
        store_half(out, o, half_pattern(d))
        for k in range(Q2_0_BLOCK // 4):
            byte = 0
            for position in range(4):
                q, defined = round_half_away(x[start + 4 * k + position] * inverse, -2147483648, 2147483647)
                if not defined:
                    undefined[b] = 1
                q = min(max(q + 1, 0), 3)
                byte |= q << (2 * position)
            out[o + 2 + k] = byte


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
