"""GGF-3.4 to GGF-3.10: the K types, super-blocks of 256 elements with quantized sub-block scales.

A K type finds a scale (and a minimum) for each sub-block with a search (GGF-3.1 to GGF-3.3),
quantizes those scales to 4, 6 or 8 bits against one float16 super-block scale, and then
requantizes every element with the scale as stored (``fp16(d) * sc``): the codes a block
holds are those of its stored scales, not of the search.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.gguf.contracted import (ABSOLUTE_ERROR, SQUARED_ERROR, affine_search_fused, iterative_search_fused,
                                  nearest_int_of_product, symmetric_search_fused)
from refq.gguf.conversions import nearest_int
from refq.gguf.half import half_pattern, half_value, store_half
from refq.gguf.search import (GROUP_MAX_EPS, ZERO, affine_search, clamp, iterative_search, quotient,
                              search_lanes, symmetric_search)

SUPER = 256


@kernel
def wrap_int8(value):
    """An int (or a byte) converted to ``int8_t`` (gcc: modulo 2^8)."""
    return ((np.int64(value) + 128) & 0xFF) - 128


@kernel
def pack_two_bit_planes(codes, out, offset):
    """Four 2-bit codes per byte: byte ``l`` of each 32-byte group holds elements ``l``, ``l + 32``,
    ``l + 64``, ``l + 96`` of its 128 elements in bits 0-1, 2-3, 4-5, 6-7."""
    for j in range(0, SUPER, 128):
        for l in range(32):
            out[offset + j // 4 + l] = ((codes[j + l] & 3) | ((codes[j + l + 32] & 3) << 2)
                                        | ((codes[j + l + 64] & 3) << 4) | ((codes[j + l + 96] & 3) << 6))


@kernel
def store_q2_k_codes(x, base, out, o, codes):
    """GGF-3.4's last steps, once the 4-bit scales and minimums (bytes 0-15) and ``d``, ``dmin`` are
    stored: every element requantized with its stored scale and minimum (a sub-block whose scale is
    0 keeps its search codes), the 2-bit codes packed. Returns whether every ``nearest_int`` was defined."""
    defined = True
    d_all = half_value(out[o + 80], out[o + 81])
    m_all = half_value(out[o + 82], out[o + 83])
    for j in range(16):
        d = d_all * np.float32(out[o + j] & 0xF)
        if d == 0:
            continue
        dm = m_all * np.float32(out[o + j] >> 4)
        for i in range(16):
            l, ok = nearest_int((x[base + 16 * j + i] + dm) / d)
            defined = defined and ok
            codes[16 * j + i] = clamp(l, 0, 3)
    pack_two_bit_planes(codes, out, o + 16)
    return defined


@kernel
def quantize_q2_k(x, out, undefined, fused):
    """GGF-3.4: Q2_K, 16 sub-blocks of 16: 2-bit codes, 4-bit scales and 4-bit minimums; ``fused``:
    gcc's fused multiply-adds (GGF-4.2)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    trial = np.zeros(SUPER, dtype=np.int32)
    weights = np.zeros(16, dtype=np.float32)
    scales = np.zeros(16, dtype=np.float32)
    minimums = np.zeros(16, dtype=np.float32)
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 84
        defined = True
        max_scale = ZERO
        max_min = ZERO
        for j in range(16):
            for l in range(16):
                weights[l] = abs(x[base + 16 * j + l])
            if fused:
                scale, minimum, ok = affine_search_fused(x[base:base + SUPER], 16 * j, 16, weights, 3,
                                                         np.float32(-0.5), np.float32(0.1), 15, ABSOLUTE_ERROR, codes,
                                                         trial)
            else:
                scale, minimum, ok = affine_search(x[base:base + SUPER], 16 * j, 16, weights, 3, np.float32(-0.5),
                                                   np.float32(0.1), 15, True, codes, trial)
            defined = defined and ok
            scales[j] = scale
            minimums[j] = minimum
            if scale > max_scale:
                max_scale = scale
            if minimum > max_min:
                max_min = minimum
        if max_scale > 0:
            iscale = np.float32(15.0) / max_scale
            for j in range(16):
                l, ok = nearest_int_of_product(iscale, scales[j]) if fused else nearest_int(iscale * scales[j])
                defined = defined and ok
                out[o + j] = l & 0xFF
            store_half(out, o + 80, half_pattern(max_scale / np.float32(15.0)))
        else:
            for j in range(16):
                out[o + j] = 0
            store_half(out, o + 80, 0)
        if max_min > 0:
            iscale = np.float32(15.0) / max_min
            for j in range(16):
                l, ok = nearest_int_of_product(iscale, minimums[j]) if fused else nearest_int(iscale * minimums[j])
                defined = defined and ok
                out[o + j] = (np.int64(out[o + j]) | (l << 4)) & 0xFF
            store_half(out, o + 82, half_pattern(max_min / np.float32(15.0)))
        else:
            store_half(out, o + 82, 0)
        defined = store_q2_k_codes(x, base, out, o, codes) and defined
        if not defined:
            undefined[b] = 1


@kernel
def q3_k_scale(scales, offset, j):
    """The 6-bit scale ``j`` of a Q3_K block, less 32: low nibbles in bytes 0-7, high pairs in bytes 8-11."""
    if j < 8:
        low = np.int64(scales[offset + j]) & 0xF
    else:
        low = np.int64(scales[offset + j - 8]) >> 4
    high = (np.int64(scales[offset + 8 + j % 4]) >> (2 * (j // 4))) & 3
    return (low | (high << 4)) - 32


@kernel
def put_q3_k_scale(out, o, j, l):
    """Store the 6-bit scale code ``l`` (0..63) of sub-block ``j`` as :func:`q3_k_scale` reads it: the low
    nibble in bytes 96-103, the high pair in bytes 104-107 (which the caller zeroed)."""
    if j < 8:
        out[o + 96 + j] = l & 0xF
    else:
        out[o + 96 + j - 8] |= (l & 0xF) << 4
    out[o + 96 + 8 + j % 4] |= (l >> 4) << (2 * (j // 4))


@kernel
def store_q3_k_codes(x, base, out, o, codes):
    """GGF-3.5's last steps, once the 6-bit scales and ``d`` are stored: every element requantized with
    its stored scale (a sub-block whose scale is 0 keeps its search codes), the high bits to the mask,
    the low two bits packed. Returns whether every ``nearest_int`` was defined."""
    defined = True
    d_all = half_value(out[o + 108], out[o + 109])
    block = x[base:base + SUPER]  # a view indexed from 0: no wrap-around check per element
    for j in range(16):
        d = d_all * np.float32(q3_k_scale(out, o + 96, j))
        if d == 0:
            continue
        for i in range(16):
            l, ok = nearest_int(block[16 * j + i] / d)
            defined = defined and ok
            codes[16 * j + i] = clamp(l, -4, 3) + 4
    for k in range(32):
        out[o + k] = 0
    for j in range(SUPER):
        # The high bit of element j (its code 4..7) goes to bit j // 32 of mask byte j % 32; without a
        # branch, whose outcome would follow the data.
        high = codes[j] >> 2
        out[o + j % 32] |= high << (j // 32)
        codes[j] -= high << 2
    pack_two_bit_planes(codes, out, o + 32)
    return defined


@kernel
def quantize_q3_k(x, out, undefined, fused):
    """GGF-3.5: Q3_K, 16 sub-blocks of 16: 3-bit codes (2 low bits, a high-bit mask) and 6-bit scales;
    ``fused``: gcc's fused multiply-adds (GGF-4.2)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    scales = np.zeros(16, dtype=np.float32)
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 110
        defined = True
        max_scale = ZERO
        largest = ZERO
        for j in range(16):
            if fused:
                scale, ok = iterative_search_fused(x[base:base + SUPER], 16 * j, 16, 4, codes)
            else:
                scale, ok = iterative_search(x[base:base + SUPER], 16 * j, 16, 4, codes)
            defined = defined and ok
            scales[j] = scale
            if abs(scale) > largest:
                largest = abs(scale)
                max_scale = scale
        for k in range(96, 108):
            out[o + k] = 0
        if max_scale != 0:
            iscale = np.float32(-32.0) / max_scale
            for j in range(16):
                l, ok = nearest_int_of_product(iscale, scales[j]) if fused else nearest_int(iscale * scales[j])
                defined = defined and ok
                put_q3_k_scale(out, o, j, clamp(wrap_int8(l), -32, 31) + 32)
            store_half(out, o + 108, half_pattern(quotient(np.float32(1.0), iscale)))
        else:
            store_half(out, o + 108, 0)
        defined = store_q3_k_codes(x, base, out, o, codes) and defined
        if not defined:
            undefined[b] = 1


@kernel
def scale_min_k4(scales, offset, j):
    """GGF-3.6: the 6-bit scale and minimum of sub-block ``j`` from the 12 packed bytes of Q4_K/Q5_K."""
    if j < 4:
        return scales[offset + j] & 63, scales[offset + j + 4] & 63
    scale = (scales[offset + j + 4] & 0xF) | ((scales[offset + j - 4] >> 6) << 4)
    minimum = (scales[offset + j + 4] >> 4) | ((scales[offset + j] >> 6) << 4)
    return scale, minimum


@kernel
def put_scale_min_k4(out, packed, j, ls, lm):
    """Store sub-block ``j``'s 6-bit scale and minimum codes where :func:`scale_min_k4` reads them: whole
    bytes for ``j < 4``, else a nibble each in bytes 8-11 and the top two bits over bytes 0-7 (bits
    beyond a byte dropped, as C's ``uint8_t`` stores drop them)."""
    if j < 4:
        out[packed + j] = ls
        out[packed + j + 4] = lm
    else:
        out[packed + j + 4] = ((ls & 0xF) | ((lm & 0xF) << 4)) & 0xFF
        out[packed + j - 4] |= ((ls >> 4) << 6) & 0xFF
        out[packed + j] |= ((lm >> 4) << 6) & 0xFF


@kernel
def store_affine_k_codes(x, base, out, o, codes, levels):
    """GGF-3.7 and GGF-3.8's last steps, once the packed scales and ``d``, ``dmin`` are stored: every
    element requantized as ``nearest_int((x + fp16(dmin) m) / (fp16(d) sc))`` in 0..``levels`` (a
    sub-block whose scale is 0 keeps its search codes), then packed (Q5_K's fifth bits in ``qh``).
    Returns whether every ``nearest_int`` was defined."""
    defined = True
    packed = o + 4
    d_all = half_value(out[o], out[o + 1])
    m_all = half_value(out[o + 2], out[o + 3])
    for j in range(8):
        sc, m = scale_min_k4(out, packed, j)
        d = d_all * np.float32(sc)
        if d == 0:
            continue
        dm = m_all * np.float32(m)
        for i in range(32):
            l, ok = nearest_int((x[base + 32 * j + i] + dm) / d)
            defined = defined and ok
            codes[32 * j + i] = clamp(l, 0, levels)
    if levels == 15:
        for j in range(0, SUPER, 64):
            for l in range(32):
                out[o + 16 + j // 2 + l] = codes[j + l] | (codes[j + l + 32] << 4)
    else:
        for k in range(32):
            out[o + 16 + k] = 0
        low_mask = 1
        high_mask = 2
        for n in range(0, SUPER, 64):
            for j in range(32):
                first = codes[n + j]
                if first > 15:
                    first -= 16
                    out[o + 16 + j] |= low_mask
                second = codes[n + j + 32]
                if second > 15:
                    second -= 16
                    out[o + 16 + j] |= high_mask
                out[o + 48 + n // 2 + j] = first | (second << 4)
            low_mask <<= 2
            high_mask <<= 2
    return defined


@kernel
def quantize_affine_k(x, out, undefined, levels, rmin, steps, block_bytes, fused):
    """GGF-3.7 (Q4_K: ``levels`` 15, ``rmin`` -1, 20 steps) and GGF-3.8 (Q5_K: 31, -0.5, 15):
    8 sub-blocks of 32, weights ``sqrt(mean(x^2)) + |x|``, 6-bit scales and minimums; ``fused``:
    gcc's fused multiply-adds (GGF-4.2)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    trial = np.zeros(SUPER, dtype=np.int32)
    weights = np.zeros(32, dtype=np.float32)
    scales = np.zeros(8, dtype=np.float32)
    minimums = np.zeros(8, dtype=np.float32)
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * block_bytes
        defined = True
        max_scale = ZERO
        max_min = ZERO
        for j in range(8):
            sum_x2 = ZERO
            for l in range(32):
                sum_x2 = sum_x2 + x[base + 32 * j + l] * x[base + 32 * j + l]
            # The float64 square root of a float32, rounded to float32, is sqrtf's correctly rounded result.
            mean_magnitude = np.float32(math.sqrt(sum_x2 / np.float32(32.0)))
            for l in range(32):
                weights[l] = mean_magnitude + abs(x[base + 32 * j + l])
            if fused:
                scale, minimum, ok = affine_search_fused(x[base:base + SUPER], 32 * j, 32, weights, levels, rmin,
                                                         np.float32(0.1), steps, SQUARED_ERROR, codes, trial)
            else:
                scale, minimum, ok = affine_search(x[base:base + SUPER], 32 * j, 32, weights, levels, rmin,
                                                   np.float32(0.1), steps, SQUARED_ERROR, codes, trial)
            defined = defined and ok
            scales[j] = scale
            minimums[j] = minimum
            if scale > max_scale:
                max_scale = scale
            if minimum > max_min:
                max_min = minimum
        inverse_scale = np.float32(63.0) / max_scale if max_scale > 0 else ZERO
        inverse_min = np.float32(63.0) / max_min if max_min > 0 else ZERO
        packed = o + 4
        for j in range(8):
            if fused:
                ls, ok_scale = nearest_int_of_product(inverse_scale, scales[j])
                lm, ok_min = nearest_int_of_product(inverse_min, minimums[j])
            else:
                ls, ok_scale = nearest_int(inverse_scale * scales[j])
                lm, ok_min = nearest_int(inverse_min * minimums[j])
            defined = defined and ok_scale and ok_min
            put_scale_min_k4(out, packed, j, min(63, ls & 0xFF), min(63, lm & 0xFF))
        store_half(out, o, half_pattern(max_scale / np.float32(63.0)))
        store_half(out, o + 2, half_pattern(max_min / np.float32(63.0)))
        defined = store_affine_k_codes(x, base, out, o, codes, levels) and defined
        if not defined:
            undefined[b] = 1


@kernel
def store_q6_k(x, base, out, o, codes, scales, max_scale, max_abs_scale, fused):
    """GGF-3.9's steps after the searches: the int8 scales against ``d = fp16(1 / iscale)``,
    ``iscale = -128 / max_scale``, every element requantized with its stored scale, the codes packed;
    a super-block whose scales are all below GROUP_MAX_EPS is all zero bytes. Returns whether every
    ``nearest_int`` was defined."""
    defined = True
    if max_abs_scale < GROUP_MAX_EPS:
        for k in range(210):
            out[o + k] = 0
        return defined
    iscale = np.float32(-128.0) / max_scale
    store_half(out, o + 208, half_pattern(quotient(np.float32(1.0), iscale)))
    for j in range(16):
        l, ok = nearest_int_of_product(iscale, scales[j]) if fused else nearest_int(iscale * scales[j])
        defined = defined and ok
        out[o + 192 + j] = wrap_int8(min(127, l)) & 0xFF
    d_all = half_value(out[o + 208], out[o + 209])
    block = x[base:base + SUPER]  # a view indexed from 0: no wrap-around check per element
    for j in range(16):
        d = d_all * np.float32(wrap_int8(out[o + 192 + j]))
        if d == 0:
            continue
        for i in range(16):
            l, ok = nearest_int(block[16 * j + i] / d)
            defined = defined and ok
            codes[16 * j + i] = clamp(l, -32, 31) + 32
    for j in range(0, SUPER, 128):
        low = o + j // 2
        high = o + 128 + j // 4
        for l in range(32):
            out[low + l] = (codes[j + l] & 0xF) | ((codes[j + l + 64] & 0xF) << 4)
            out[low + l + 32] = (codes[j + l + 32] & 0xF) | ((codes[j + l + 96] & 0xF) << 4)
            out[high + l] = ((codes[j + l] >> 4) | ((codes[j + l + 32] >> 4) << 2)
                             | ((codes[j + l + 64] >> 4) << 4) | ((codes[j + l + 96] >> 4) << 6))
    return defined


@kernel
def quantize_q6_k(x, out, undefined, fused):
    """GGF-3.9: Q6_K, 16 sub-blocks of 16: 6-bit codes (4 low bits, 2 high bits) and int8 scales;
    ``fused``: gcc's fused multiply-adds (GGF-4.2)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    scales = np.zeros(16, dtype=np.float32)
    lanes = search_lanes(16)
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 210
        defined = True
        max_scale = ZERO
        max_abs_scale = ZERO
        for j in range(16):
            if fused:
                scale, ok = symmetric_search_fused(x[base:base + SUPER], 16 * j, 16, 32, codes)
            else:
                scale, ok = symmetric_search(x[base:base + SUPER], 16 * j, 16, 32, codes, lanes)
            defined = defined and ok
            scales[j] = scale
            if abs(scale) > max_abs_scale:
                max_abs_scale = abs(scale)
                max_scale = scale
        defined = store_q6_k(x, base, out, o, codes, scales, max_scale, max_abs_scale, fused) and defined
        if not defined:
            undefined[b] = 1


@kernel
def quantize_q8_k(x, out, scales, undefined, fused):
    """GGF-3.10: Q8_K, int8 codes ``nearest_int(-127 / max * x)`` (capped at 127), a float32 scale
    ``1 / iscale``, and the int16 sums of each 16 codes. The sums of an all-zero block are not written
    by ggml (unpredictable)."""
    for b in range(x.size // SUPER):
        base = b * SUPER
        o = b * 292
        largest = ZERO
        chosen = ZERO
        for j in range(SUPER):
            if abs(x[base + j]) > largest:
                largest = abs(x[base + j])
                chosen = x[base + j]
        if largest == 0:
            scales[b] = ZERO
            for k in range(4, 292):
                out[o + k] = 0
            undefined[b] = 1
            continue
        iscale = np.float32(-127.0) / chosen
        defined = True
        for j in range(SUPER):
            v, ok = nearest_int_of_product(iscale, x[base + j]) if fused else nearest_int(iscale * x[base + j])
            defined = defined and ok
            out[o + 4 + j] = wrap_int8(min(127, v)) & 0xFF
        for j in range(16):
            total = 0
            for i in range(16):
                total += wrap_int8(out[o + 4 + 16 * j + i])
            out[o + 260 + 2 * j] = total & 0xFF
            out[o + 261 + 2 * j] = (total >> 8) & 0xFF
        scales[b] = quotient(np.float32(1.0), iscale)
        if not defined:
            undefined[b] = 1


@kernel
def dequantize_q2_k(blocks, out):
    """GGF-3.11: Q2_K: ``y = (d * sc) * q - (dmin * m)``, sub-block by sub-block."""
    # The 16 elements of a sub-block, read from the sizes: a loop of a constant 16 is unrolled into
    # scalar code before the compiler could vectorise it (legacy.dequantize_bytes).
    sub_block = out.size // max(1, blocks.size // 84) // 16
    for b in range(blocks.size // 84):
        o = b * 84
        d = half_value(blocks[o + 80], blocks[o + 81])
        minimum = half_value(blocks[o + 82], blocks[o + 83])
        y = b * SUPER
        sub = 0
        for n in range(0, SUPER, 128):
            q = o + 16 + n // 4
            for shift in range(0, 8, 2):
                for half in range(2):
                    sc = blocks[o + sub]
                    sub += 1
                    dl = d * np.float32(sc & 0xF)
                    ml = minimum * np.float32(sc >> 4)
                    codes = q + 16 * half
                    for l in range(sub_block):
                        out[y + l] = dl * np.float32((blocks[codes + l] >> shift) & 3) - ml
                    y += 16


@kernel(inline=True)
def q3_k_code(low_bits, high_bits, plane):
    """The signed code ``q_low - 4 (1 - h)`` (-4..3) in plane ``plane`` (0-7) of a Q3_K column: bits
    ``2 plane`` of ``low_bits`` (a column's two qs bytes, the second's from bit 8) and bit ``plane`` of
    ``high_bits`` (its hmask byte); no branch, so that a loop over columns vectorises."""
    return ((low_bits >> (2 * plane)) & 3) + 4 * ((high_bits >> plane) & 1) - 4


@kernel
def dequantize_q3_k(blocks, out):
    """GGF-3.11: Q3_K: ``y = (d * (sc - 32)) * (q - 4 * (1 - h))`` with the mask bit ``h``."""
    # The 16 columns of a half, read from the sizes, as in dequantize_q2_k.
    sixteen = out.size // max(1, blocks.size // 110) // 16
    for b in range(blocks.size // 110):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[110 * b:110 * (b + 1)]
        values = out[SUPER * b:SUPER * (b + 1)]
        d_all = half_value(block[108], block[109])
        # Element 128 n + 32 j + 16 half + l (plane p = 4 n + j) has its low bits at bits 2 j of
        # qs[32 n + 16 half + l], its high bit at bit p of hmask[16 half + l], and the scale 2 p + half.
        # One loop over the 16 columns l of a half writes all eight planes, each scale hoisted: eight
        # loops of 16, one per sub-block, cost more in loop overhead than their stores.
        for half in range(2):
            d0 = d_all * np.float32(q3_k_scale(block, 96, half))
            d1 = d_all * np.float32(q3_k_scale(block, 96, 2 + half))
            d2 = d_all * np.float32(q3_k_scale(block, 96, 4 + half))
            d3 = d_all * np.float32(q3_k_scale(block, 96, 6 + half))
            d4 = d_all * np.float32(q3_k_scale(block, 96, 8 + half))
            d5 = d_all * np.float32(q3_k_scale(block, 96, 10 + half))
            d6 = d_all * np.float32(q3_k_scale(block, 96, 12 + half))
            d7 = d_all * np.float32(q3_k_scale(block, 96, 14 + half))
            first = block[32 + 16 * half:48 + 16 * half]
            second = block[64 + 16 * half:80 + 16 * half]
            high = block[16 * half:16 * (half + 1)]
            columns = values[16 * half:16 * half + SUPER - 16]
            for l in range(sixteen):
                low_bits = np.int64(first[l]) | (np.int64(second[l]) << 8)
                high_bits = np.int64(high[l])
                columns[l] = d0 * np.float32(q3_k_code(low_bits, high_bits, 0))
                columns[32 + l] = d1 * np.float32(q3_k_code(low_bits, high_bits, 1))
                columns[64 + l] = d2 * np.float32(q3_k_code(low_bits, high_bits, 2))
                columns[96 + l] = d3 * np.float32(q3_k_code(low_bits, high_bits, 3))
                columns[128 + l] = d4 * np.float32(q3_k_code(low_bits, high_bits, 4))
                columns[160 + l] = d5 * np.float32(q3_k_code(low_bits, high_bits, 5))
                columns[192 + l] = d6 * np.float32(q3_k_code(low_bits, high_bits, 6))
                columns[224 + l] = d7 * np.float32(q3_k_code(low_bits, high_bits, 7))


@kernel
def dequantize_affine_k(blocks, out, levels, block_bytes):
    """GGF-3.11: Q4_K and Q5_K: ``y = (d * sc) * q - (dmin * m)``."""
    # The 32 elements of a sub-block, read from the sizes: a loop of a constant 32 is unrolled into
    # scalar code before the compiler could vectorise it (legacy.dequantize_bytes).
    sub_block = out.size // max(1, blocks.size // block_bytes) // 8

    def decode(block_bytes):
        for b in range(blocks.size // block_bytes):
            o = b * block_bytes
            d = half_value(blocks[o], blocks[o + 1])
            minimum = half_value(blocks[o + 2], blocks[o + 3])
            codes = o + block_bytes - 128
            y = b * SUPER
            sub = 0
            high_first = 1
            high_second = 2
            for j in range(0, SUPER, 64):
                sc, m = scale_min_k4(blocks, o + 4, sub)
                d1 = d * np.float32(sc)
                m1 = minimum * np.float32(m)
                sc, m = scale_min_k4(blocks, o + 4, sub + 1)
                d2 = d * np.float32(sc)
                m2 = minimum * np.float32(m)
                q = codes + j // 2
                for l in range(sub_block):
                    code = blocks[q + l] & 0xF
                    if levels == 31 and blocks[o + 16 + l] & high_first:
                        code += 16
                    out[y + l] = d1 * np.float32(code) - m1
                for l in range(sub_block):
                    code = blocks[q + l] >> 4
                    if levels == 31 and blocks[o + 16 + l] & high_second:
                        code += 16
                    out[y + 32 + l] = d2 * np.float32(code) - m2
                y += 64
                sub += 2
                high_first <<= 2
                high_second <<= 2

    # The block size as a constant: with a stride it knows, the compiler vectorises the loops
    # (legacy.dequantize_nibbles).
    if block_bytes == 144:
        decode(144)
    elif block_bytes == 176:
        decode(176)
    else:
        decode(block_bytes)


@kernel
def dequantize_q6_k(blocks, out):
    """GGF-3.11: Q6_K: ``y = (d * sc) * (q - 32)``."""
    # The 16 elements of a scale, read from the sizes, as in dequantize_q2_k.
    sixteen = out.size // max(1, blocks.size // 210) // 16
    for b in range(blocks.size // 210):
        o = b * 210
        d = half_value(blocks[o + 208], blocks[o + 209])
        for n in range(0, SUPER, 128):
            scales = o + 192 + n // 16
            for sub in range(2):
                # Elements l, l + 32, l + 64 and l + 96 of the half, for the 16 values of l that share
                # their four scales: d * sc once, then times q - 32, as C groups it.
                d1 = d * np.float32(wrap_int8(blocks[scales + sub]))
                d2 = d * np.float32(wrap_int8(blocks[scales + sub + 2]))
                d3 = d * np.float32(wrap_int8(blocks[scales + sub + 4]))
                d4 = d * np.float32(wrap_int8(blocks[scales + sub + 6]))
                low = o + n // 2 + 16 * sub
                high = o + 128 + n // 4 + 16 * sub
                y = b * SUPER + n + 16 * sub
                for l in range(sixteen):
                    first = np.int64(blocks[low + l])
                    second = np.int64(blocks[low + l + 32])
                    bits = np.int64(blocks[high + l])
                    q1 = ((first & 0xF) | (((bits >> 0) & 3) << 4)) - 32
                    q2 = ((second & 0xF) | (((bits >> 2) & 3) << 4)) - 32
                    q3 = ((first >> 4) | (((bits >> 4) & 3) << 4)) - 32
                    q4 = ((second >> 4) | (((bits >> 6) & 3) << 4)) - 32
                    out[y + l] = d1 * np.float32(q1)
                    out[y + l + 32] = d2 * np.float32(q2)
                    out[y + l + 64] = d3 * np.float32(q3)
                    out[y + l + 96] = d4 * np.float32(q4)


@kernel
def dequantize_q8_k(blocks, scales, out):
    """GGF-3.11: Q8_K: ``y = d * q`` with the float32 ``d``."""
    for b in range(blocks.size // 292):
        o = b * 292
        for j in range(SUPER):
            out[b * SUPER + j] = scales[b] * np.float32(wrap_int8(blocks[o + 4 + j]))


def _quantize_q8_k(flat, out, undefined, fused=False):
    scales = np.zeros(flat.size // SUPER, dtype=np.float32)
    quantize_q8_k(flat, out, scales, undefined, fused)
    out.reshape(-1, 292)[:, :4] = scales.view(np.uint8).reshape(-1, 4)


def _dequantize_q8_k(data, out):
    scales = np.ascontiguousarray(data.reshape(-1, 292)[:, :4]).view(np.float32).reshape(-1)
    dequantize_q8_k(data, scales, out)


QUANTIZERS = {
    # ``fused`` always given: a kernel's default argument is not kept when it is compiled.
    "Q2_K": lambda x, out, undefined: quantize_q2_k(x, out, undefined, False),
    "Q3_K": lambda x, out, undefined: quantize_q3_k(x, out, undefined, False),
    "Q4_K": lambda x, out, undefined: quantize_affine_k(x, out, undefined, 15, np.float32(-1.0), 20, 144, False),
    "Q5_K": lambda x, out, undefined: quantize_affine_k(x, out, undefined, 31, np.float32(-0.5), 15, 176, False),
    "Q6_K": lambda x, out, undefined: quantize_q6_k(x, out, undefined, False),
    "Q8_K": _quantize_q8_k,
}
#: GGF-4.2: the K types with gcc's fused multiply-adds (``gguf_contraction=gcc_x86_64``).
FUSED_QUANTIZERS = {
    "Q2_K": lambda x, out, undefined: quantize_q2_k(x, out, undefined, True),
    "Q3_K": lambda x, out, undefined: quantize_q3_k(x, out, undefined, True),
    "Q4_K": lambda x, out, undefined: quantize_affine_k(x, out, undefined, 15, np.float32(-1.0), 20, 144, True),
    "Q5_K": lambda x, out, undefined: quantize_affine_k(x, out, undefined, 31, np.float32(-0.5), 15, 176, True),
    "Q6_K": lambda x, out, undefined: quantize_q6_k(x, out, undefined, True),
    "Q8_K": lambda x, out, undefined: _quantize_q8_k(x, out, undefined, True),
}
DEQUANTIZERS = {
    "Q2_K": dequantize_q2_k,
    "Q3_K": dequantize_q3_k,
    "Q4_K": lambda data, out: dequantize_affine_k(data, out, 15, 144),
    "Q5_K": lambda data, out: dequantize_affine_k(data, out, 31, 176),
    "Q6_K": dequantize_q6_k,
    "Q8_K": _dequantize_q8_k,
}
