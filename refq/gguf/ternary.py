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
#: 3^n for the digits n of a byte (a table: Numba's integer power is a loop, which keeps the byte loops scalar).
POWERS_OF_THREE = np.array([1, 3, 9, 27, 81], dtype=np.int64)


@kernel
def ternary_code(value, inverse):
    """``lroundf(value * inverse) + 1``, and whether the conversion is defined."""
    rounded, defined = round_half_away(value * inverse, INT32_LOW, INT32_HIGH)
    # |rounded| < 2^30 (round_half_away gives 0 from there on): the int32 sum does not overflow.
    return rounded + np.int32(1), defined


@kernel
def base3_bytes(codes, first, stride, count, padding, qs):
    """The bytes ``qs``, byte ``m`` holding ``count`` codes ``codes[first + m], codes[first + m + stride],
    ...`` as the base-3 digits of one byte, most significant first, times ``3^padding``, then scaled by
    ``ceil(q * 256 / 243)`` (8-bit wraparound as C's ``uint8_t`` arithmetic)."""
    # A byte's digits one after another in a register, many bytes at once (the loop over the bytes is
    # the one the compiler vectorises). The codes come in as integers, converted in a loop of their own
    # (quantize_tq1_0): converted here, digit by digit with ``qs[m]`` rewritten once a digit or byte by
    # byte, TQ1_0 ran a third to a half slower. Each step keeps the low 8 bits, as C's uint8_t does.
    for m in range(qs.size):
        q = np.int32(0)
        for n in range(count):
            q = (q * np.int32(3) + codes[first + n * stride + m]) & np.int32(0xFF)
        for _ in range(padding):
            q = (q * np.int32(3)) & np.int32(0xFF)
        qs[m] = ((q * np.int32(256) + np.int32(242)) // np.int32(243)) & 0xFF


@kernel
def quantize_tq1_0(x, out, undefined):
    """GGF-6.1: TQ1_0, 54 bytes: ``qs[48]``, ``qh[4]``, ``d``. Byte ``m`` of ``qs[0:32]`` holds elements
    ``m + 32n`` (n = 0..4), byte ``32 + m`` of ``qs[32:48]`` elements ``160 + m + 16n``, and ``qh[j]``
    elements ``240 + j + 4n`` (n = 0..3, a fifth digit 0)."""
    # The block's 256 elements, read from the sizes: a loop of a constant count is unrolled into scalar
    # code before the compiler could vectorise it (legacy.dequantize_bytes).
    elements = x.size // max(1, x.size // SUPER)
    bits = x.view(np.int32)
    # One block's codes, kept to their low 8 bits (all a byte keeps of them; interpreted, numpy's int32
    # arithmetic on them then stays in range): one array for the call.
    codes = np.zeros(SUPER, dtype=np.int32)
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 54
        d = largest_magnitude(bits, base, SUPER)
        inverse = reciprocal(d)
        store_half(out, o + 52, half_pattern(d))
        # Views indexed from 0: indices that need no wrap-around check.
        block = x[base:base + SUPER]
        defined = True
        for j in range(elements):
            code, ok = ternary_code(block[j], inverse)
            # One flag per block, written after the loop: a store inside it keeps the loop scalar.
            defined = defined & ok
            codes[j] = code & np.int32(0xFF)
        if not defined:
            undefined[b] = 1
        base3_bytes(codes, 0, 32, 5, 0, out[o:o + 32])
        base3_bytes(codes, 160, 16, 5, 0, out[o + 32:o + 48])
        base3_bytes(codes, 240, 4, 4, 1, out[o + 48:o + 52])


@kernel
def quantize_tq2_0(x, out, undefined):
    """GGF-6.2: TQ2_0, 66 bytes: ``qs[64]``, ``d``; byte ``32g + m`` holds elements ``128g + m + 32n``
    in bits ``2n``, ``2n + 1`` (n = 0..3)."""
    bits = x.view(np.int32)
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 66
        d = largest_magnitude(bits, base, SUPER)
        inverse = reciprocal(d)
        store_half(out, o + 64, half_pattern(d))
        # Views indexed from 0: indices that need no wrap-around check.
        block = x[base:base + SUPER]
        qs = out[o:o + 64]
        defined = True
        for group in range(2):
            for m in range(32):
                q = 0
                for n in range(4):
                    code, ok = ternary_code(block[128 * group + m + 32 * n], inverse)
                    defined = defined & ok
                    q += (code & 3) << (2 * n)
                qs[32 * group + m] = q & 0xFF
        if not defined:
            undefined[b] = 1


@kernel
def base3_digit(byte, n):
    """Digit ``n`` (0 the most significant) of a TQ1_0 byte: ``(uint8(byte * 3^n) * 3) >> 8``."""
    q = (np.int64(byte) * POWERS_OF_THREE[n]) & 0xFF
    return (q * 3) >> 8


@kernel
def dequantize_tq1_0(blocks, out):
    """GGF-6.3: TQ1_0: ``y = (digit - 1) * d``."""
    # The 32 and 16 bytes of qs's two parts, read from the sizes: a loop of a constant count is unrolled
    # into scalar code before the compiler could vectorise it (legacy.dequantize_bytes).
    thirty_two = out.size // max(1, blocks.size // 54) // 8
    sixteen = thirty_two // 2
    for b in range(blocks.size // 54):
        o = b * 54
        d = half_value(blocks[o + 52], blocks[o + 53])
        y = b * SUPER
        for n in range(5):
            # Views indexed from 0: indices that need no wrap-around check.
            qs, values = blocks[o:o + 32], out[y + 32 * n:y + 32 * n + 32]
            for m in range(thirty_two):
                values[m] = np.float32(base3_digit(qs[m], n) - 1) * d
        for n in range(5):
            qs, values = blocks[o + 32:o + 48], out[y + 160 + 16 * n:y + 176 + 16 * n]
            for m in range(sixteen):
                values[m] = np.float32(base3_digit(qs[m], n) - 1) * d
        for n in range(4):
            for j in range(4):
                out[y + 240 + j + 4 * n] = np.float32(base3_digit(blocks[o + 48 + j], n) - 1) * d


@kernel
def dequantize_tq2_0(blocks, out):
    """GGF-6.3: TQ2_0: ``y = (code - 1) * d``."""
    # The 32 bytes of a group, read from the sizes, as in dequantize_tq1_0.
    thirty_two = out.size // max(1, blocks.size // 66) // 8
    for b in range(blocks.size // 66):
        o = b * 66
        d = half_value(blocks[o + 64], blocks[o + 65])
        y = b * SUPER
        for group in range(2):
            for n in range(4):
                for m in range(thirty_two):
                    code = (np.int64(blocks[o + 32 * group + m]) >> (2 * n)) & 3
                    out[y + 128 * group + 32 * n + m] = np.float32(code - 1) * d
