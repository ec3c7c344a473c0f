"""GGF-6.1 to GGF-6.3: the ternary types TQ1_0 and TQ2_0 (codes -1, 0, 1 times one fp16 scale).

Both take ``d`` = the block's largest magnitude and the code ``lroundf(x / d) + 1`` (0, 1 or 2; ties
away from zero). TQ2_0 stores 2 bits per code; TQ1_0 packs five codes into a byte as a base-3
number scaled to 0..255, so that a multiplication by a power of 3 and a shift read a code back.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.conversions import round_half_away
from refq.gguf.half import half_pattern, half_value, store_half
from refq.gguf.legacy import largest_magnitude, reciprocal

SUPER = 256
INT32_LOW = -(2**31)
INT32_HIGH = 2**31 - 1


@kernel
def ternary_code(value, inverse):
    """``lroundf(value * inverse) + 1``, and whether the conversion is defined."""
    rounded, defined = round_half_away(value * inverse, INT32_LOW, INT32_HIGH)
    return rounded + 1, defined


@kernel
def base3_byte(x, first, stride, count, inverse, padding):
    """``count`` codes of ``x[first], x[first + stride], ...`` as the base-3 digits of one byte, most
    significant first, times ``3^padding``, then scaled by ``ceil(q * 256 / 243)`` (8-bit wraparound
    as C's ``uint8_t`` arithmetic)."""
    q = 0
    defined = True
    for n in range(count):
        code, ok = ternary_code(x[first + n * stride], inverse)
        defined = defined and ok
        q = (q * 3 + code) & 0xFF
    for _ in range(padding):
        q = (q * 3) & 0xFF
    return ((q * 256 + 242) // 243) & 0xFF, defined


@kernel
def quantize_tq1_0(x, out, undefined):
    """GGF-6.1: TQ1_0, 54 bytes: ``qs[48]``, ``qh[4]``, ``d``. Byte ``m`` of ``qs[0:32]`` holds elements
    ``m + 32n`` (n = 0..4), byte ``32 + m`` of ``qs[32:48]`` elements ``160 + m + 16n``, and ``qh[j]``
    elements ``240 + j + 4n`` (n = 0..3, a fifth digit 0)."""
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 54
        d = largest_magnitude(x, base, SUPER)
        inverse = reciprocal(d)
        store_half(out, o + 52, half_pattern(d))
        defined = True
        for m in range(32):
            q, ok = base3_byte(x, base + m, 32, 5, inverse, 0)
            out[o + m] = q
            defined = defined and ok
        for m in range(16):
            q, ok = base3_byte(x, base + 160 + m, 16, 5, inverse, 0)
            out[o + 32 + m] = q
            defined = defined and ok
        for j in range(4):
            q, ok = base3_byte(x, base + 240 + j, 4, 4, inverse, 1)
            out[o + 48 + j] = q
            defined = defined and ok
        if not defined:
            undefined[b] = 1


@kernel
def quantize_tq2_0(x, out, undefined):
    """GGF-6.2: TQ2_0, 66 bytes: ``qs[64]``, ``d``; byte ``32g + m`` holds elements ``128g + m + 32n``
    in bits ``2n``, ``2n + 1`` (n = 0..3)."""
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 66
        d = largest_magnitude(x, base, SUPER)
        inverse = reciprocal(d)
        store_half(out, o + 64, half_pattern(d))
        defined = True
        for group in range(2):
            for m in range(32):
                q = 0
                for n in range(4):
                    code, ok = ternary_code(x[base + 128 * group + m + 32 * n], inverse)
                    defined = defined and ok
                    q += (code & 3) << (2 * n)
                out[o + 32 * group + m] = q & 0xFF
        if not defined:
            undefined[b] = 1


@kernel
def base3_digit(byte, n):
    """Digit ``n`` (0 the most significant) of a TQ1_0 byte: ``(uint8(byte * 3^n) * 3) >> 8``."""
    q = (np.int64(byte) * 3**n) & 0xFF
    return (q * 3) >> 8


@kernel
def dequantize_tq1_0(blocks, out):
    """GGF-6.3: TQ1_0: ``y = (digit - 1) * d``."""
    for b in range(blocks.size // 54):
        o = b * 54
        d = half_value(blocks[o + 52], blocks[o + 53])
        y = b * SUPER
        for n in range(5):
            for m in range(32):
                out[y + m + 32 * n] = np.float32(base3_digit(blocks[o + m], n) - 1) * d
        for n in range(5):
            for m in range(16):
                out[y + 160 + m + 16 * n] = np.float32(base3_digit(blocks[o + 32 + m], n) - 1) * d
        for n in range(4):
            for j in range(4):
                out[y + 240 + j + 4 * n] = np.float32(base3_digit(blocks[o + 48 + j], n) - 1) * d


@kernel
def dequantize_tq2_0(blocks, out):
    """GGF-6.3: TQ2_0: ``y = (code - 1) * d``."""
    for b in range(blocks.size // 66):
        o = b * 66
        d = half_value(blocks[o + 64], blocks[o + 65])
        y = b * SUPER
        for group in range(2):
            for n in range(4):
                for m in range(32):
                    code = (np.int64(blocks[o + 32 * group + m]) >> (2 * n)) & 3
                    out[y + 128 * group + 32 * n + m] = np.float32(code - 1) * d
