"""GGF-6.4 to GGF-6.8: the non-uniform 4-bit types IQ4_NL, IQ4_XS (a fixed table of 16 levels) and
MXFP4 (FP4 E2M1 values with a power-of-two E8M0 scale).

The tables are facts of the formats: IQ4_NL's 16 int8 levels, and the E2M1 values doubled
(ggml's ``kvalues_fp4``, so that ``d = 2^(e - 128)`` is half the OCP scale ``2^(e - 127)``).
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.gguf.contracted import fma32, nearest_int_of_product
from refq.gguf.conversions import nearest_int, truncate
from refq.gguf.half import half_pattern, half_value, store_half
from refq.gguf.search import GROUP_MAX_EPS, ZERO, clamp

#: IQ4_NL's levels, in increasing order (ggml's ``kvalues_iq4nl``).
IQ4_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.int8)


def _doubled_e2m1() -> np.ndarray:
    """Code c of FP4 E2M1 (sign bit 3, exponent bits 1-2, mantissa bit 0) times 2."""
    values = []
    for code in range(16):
        exponent, mantissa = (code >> 1) & 3, code & 1
        magnitude = mantissa if exponent == 0 else (2 + mantissa) << (exponent - 1)
        values.append(-magnitude if code & 8 else magnitude)
    return np.array(values, dtype=np.int8)


#: 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, ..., -12: E2M1's 0, 0.5, 1, 1.5, 2, 3, 4, 6 doubled.
FP4_LEVELS = _doubled_e2m1()


@kernel
def nearest_level(levels, value):
    """GGF-6.4: the index of the level nearest to ``value`` (ggml's ``best_index_int8``): a binary
    search over the increasing levels; a tie between two levels goes to the upper one."""
    if value <= levels[0]:
        return 0
    if value >= levels[15]:
        return 15
    low = 0
    high = 15
    while high - low > 1:
        middle = (low + high) // 2
        if value < levels[middle]:
            high = middle
        else:
            low = middle
    below = value - np.float32(levels[high - 1])
    above = np.float32(levels[high]) - value
    return high - 1 if below < above else high


@kernel
def pack_nibble_pairs(codes, out, offset, count):
    """Byte ``16i + j`` holds codes ``32i + j`` (low nibble) and ``32i + 16 + j`` (high nibble)."""
    for i in range(count // 32):
        for j in range(16):
            out[offset + 16 * i + j] = codes[32 * i + j] | (codes[32 * i + 16 + j] << 4)


@kernel
def nearest_levels(values, inverse, codes):
    """``codes[j] = nearest_level(IQ4_LEVELS, inverse * values[j])`` for every ``j``, without a branch:
    the count of the consecutive levels ``(a, b)`` whose test ``(v - a) < (b - v)`` fails. Below ``v``'s
    pair it fails (``b - v <= 0 <= v - a``), above it it holds, and at the pair it is the bisection's
    own test (a tie goes up); a NaN fails every test, 15 as the bisection gives."""
    for j in range(codes.size):
        v = inverse * values[j]
        code = 0
        for k in range(1, IQ4_LEVELS.size):
            code += not (v - np.float32(IQ4_LEVELS[k - 1]) < np.float32(IQ4_LEVELS[k]) - v)
        codes[j] = code


@kernel
def level_sums(x, start, inverse, codes, fused):
    """``sum((w q) x)`` and ``sum((w q) q)`` with ``w = x^2`` and ``q`` the level nearest to ``inverse * x``
    (its index in ``codes``), over the ``codes.size`` elements from ``start``.
    ``fused`` (GGF-4.2): each sum one FMA, ``fma(x, w q, sum)`` and ``fma(q, w q, sum)``, ``w q`` rounded."""
    nearest_levels(x[start:start + codes.size], inverse, codes)
    sum_qx = ZERO
    sum_q2 = ZERO
    for j in range(codes.size):
        value = x[start + j]
        q = np.float32(IQ4_LEVELS[codes[j]])
        w = value * value
        if fused:
            wq = w * q
            sum_qx = fma32(value, wq, sum_qx)
            sum_q2 = fma32(q, wq, sum_q2)
        else:
            sum_qx = sum_qx + w * q * value
            sum_q2 = sum_q2 + w * q * q
    return sum_qx, sum_q2


@kernel
def largest_element(x, start, count):
    largest = ZERO
    chosen = ZERO
    for j in range(start, start + count):
        if abs(x[j]) > largest:
            largest = abs(x[j])
            chosen = x[j]
    return largest, chosen


@kernel
def quantize_iq4_nl(x, out, undefined, fused):
    """GGF-6.5: IQ4_NL, blocks of 32 in 18 bytes (``d``, ``qs[16]``): codes of the level nearest to
    ``x / (max / -127)``; ``d`` the least-squares scale ``sum(w q x) / sum(w q^2)`` of those codes.
    A block below ``GROUP_MAX_EPS`` stores ``d = 0`` and unpredictable codes (ggml leaves them unset).
    ``fused``: the sums as gcc fuses them (GGF-4.2)."""
    codes = np.zeros(32, dtype=np.int64)
    for b in range(x.size // 32):
        start = b * 32
        o = b * 18
        largest, chosen = largest_element(x, start, 32)
        if largest < GROUP_MAX_EPS:
            store_half(out, o, 0)
            for j in range(16):
                out[o + 2 + j] = 0
            undefined[b] = 1
            continue
        d = chosen / np.float32(IQ4_LEVELS[0])
        sum_qx, sum_q2 = level_sums(x, start, np.float32(1.0) / d, codes, fused)
        d = sum_qx / sum_q2 if sum_q2 > 0 else ZERO
        store_half(out, o, half_pattern(d))
        pack_nibble_pairs(codes, out, o + 2, 32)


@kernel
def quantize_iq4_xs(x, out, undefined, fused):
    """GGF-6.6: IQ4_XS, super-blocks of 256 in 136 bytes (``d``, ``scales_h`` (16 bits), ``scales_l[4]``,
    ``qs[128]``): each sub-block of 32 searches 15 trial scales ``(k - 127) / max`` (k = -7..7) after
    ``max / 127``; the scales are quantized to 6 bits against ``d = -S / 32`` (S the scale of largest
    magnitude) and every element requantized with ``d * l`` (the float32 ``d``). ``fused``: the sums and
    the 6-bit scales' ``nearest_int`` as gcc fuses them (GGF-4.2)."""
    codes = np.zeros(256, dtype=np.int64)
    scratch = np.zeros(32, dtype=np.int64)
    scales = np.zeros(8, dtype=np.float32)
    for b in range(x.size // 256):
        base = b * 256
        o = b * 136
        max_scale = ZERO
        largest_scale = ZERO
        for ib in range(8):
            start = base + 32 * ib
            largest, chosen = largest_element(x, start, 32)
            if largest < GROUP_MAX_EPS:
                scales[ib] = ZERO
                continue
            d = -chosen / np.float32(IQ4_LEVELS[0])
            sum_qx, sum_q2 = level_sums(x, start, np.float32(1.0) / d, scratch, fused)
            d = sum_qx / sum_q2 if sum_q2 > 0 else ZERO
            best = d * sum_qx
            for step in range(-7, 8):
                inverse = np.float32(step + np.int64(IQ4_LEVELS[0])) / chosen
                sum_qx, sum_q2 = level_sums(x, start, inverse, scratch, fused)
                if sum_q2 > 0 and sum_qx * sum_qx > best * sum_q2:
                    d = sum_qx / sum_q2
                    best = d * sum_qx
            scales[ib] = d
            if abs(d) > largest_scale:
                largest_scale = abs(d)
                max_scale = d
        d = -max_scale / np.float32(32.0)
        store_half(out, o, half_pattern(d))
        inverse = np.float32(1.0) / d if d != 0 else ZERO
        high = 0
        defined = True
        for ib in range(8):
            if fused:
                l, ok = nearest_int_of_product(inverse, scales[ib])
            else:
                l, ok = nearest_int(inverse * scales[ib])
            defined = defined and ok
            l = clamp(l, -32, 31)
            dl = d * np.float32(l)
            inverse_l = np.float32(1.0) / dl if dl != 0 else ZERO
            nearest_levels(x[base + 32 * ib:base + 32 * ib + 32], inverse_l, codes[32 * ib:32 * ib + 32])
            l += 32
            if ib % 2 == 0:
                out[o + 4 + ib // 2] = l & 0xF
            else:
                out[o + 4 + ib // 2] |= (l & 0xF) << 4
            high |= (l >> 4) << (2 * ib)
        out[o + 2] = high & 0xFF
        out[o + 3] = (high >> 8) & 0xFF
        pack_nibble_pairs(codes, out, o + 8, 256)
        if not defined:
            undefined[b] = 1


#: ``fused`` always given: a kernel's default argument is not kept when it is compiled.
QUANTIZERS = {
    "IQ4_NL": lambda x, out, undefined: quantize_iq4_nl(x, out, undefined, False),
    "IQ4_XS": lambda x, out, undefined: quantize_iq4_xs(x, out, undefined, False),
}
#: GGF-4.2: IQ4_NL and IQ4_XS with gcc's fused multiply-adds (``gguf_contraction=gcc_x86_64``).
FUSED_QUANTIZERS = {
    "IQ4_NL": lambda x, out, undefined: quantize_iq4_nl(x, out, undefined, True),
    "IQ4_XS": lambda x, out, undefined: quantize_iq4_xs(x, out, undefined, True),
}


@kernel
def e8m0_half(e):
    """``2^(e - 128)``: ggml's ``GGML_E8M0_TO_FP32_HALF``, exact (subnormal for e = 0, 1)."""
    return np.float32(math.ldexp(1.0, int(e) - 128))


@kernel
def nearest_fp4(value, d):
    """The index of the doubled E2M1 level ``k`` with the smallest ``|k d - value|`` (float32), the first
    of equal errors: ties go toward zero (``+0`` before ``-0``)."""
    best = 0
    best_error = abs(np.float32(FP4_LEVELS[0]) * d - value)
    for i in range(1, 16):
        error = abs(np.float32(FP4_LEVELS[i]) * d - value)
        if error < best_error:
            best = i
            best_error = error
    return best


#: Halfway between consecutive doubled E2M1 magnitudes 0, 1, 2, 3, 4, 6, 8, 12.
FP4_MIDPOINTS = np.array([0.5, 1.5, 2.5, 3.5, 5.0, 7.0, 10.0], dtype=np.float32)


@kernel
def fp4_codes_by_midpoints(low, high, d, packed):
    """``nearest_fp4`` for a power of two ``d`` and elements of magnitude up to ``16 d``, packed:
    byte ``j`` holds the codes of ``low[j]`` and ``high[j]``. The magnitude's index is the count of
    midpoints ``m d`` (exact) below ``|x|``: for ``|x|`` between levels ``k d`` and ``k' d`` (``k >= 1``)
    both errors ``|x| - k d`` and ``k' d - |x|`` are exact (Sterbenz, ``k' <= 2 k``), and below ``d``
    an ``|x| < d / 2`` keeps 0; so ``|x| = m d`` is the only tie and goes to the lower level. A
    negative ``x`` takes the negative level's code unless that level is 0 (``+0`` first); a NaN
    gets 0, as every ``error < best_error`` is false."""
    for j in range(packed.size):
        first = 0
        second = 0
        for m in range(FP4_MIDPOINTS.size):
            midpoint = FP4_MIDPOINTS[m] * d
            first += abs(low[j]) > midpoint
            second += abs(high[j]) > midpoint
        nearest_zero = FP4_MIDPOINTS[0] * d
        first += 8 * (low[j] < -nearest_zero)
        second += 8 * (high[j] < -nearest_zero)
        packed[j] = first | (second << 4)


@kernel
def quantize_mxfp4(x, out, undefined):
    """GGF-6.7: MXFP4, blocks of 32 in 17 bytes (``e``, ``qs[16]``): ``e = floor(log2f(amax)) - 2 + 127``
    (0 for a block of zeros), codes of the nearest doubled E2M1 level times ``2^(e - 128)``, packed as Q4_0's."""
    for b in range(x.size // 32):
        start = b * 32
        o = b * 17
        amax = ZERO
        for j in range(start, start + 32):
            if amax < abs(x[j]):
                amax = abs(x[j])
        e = 0
        if amax > 0:
            # log2f correctly rounded to float32, then floored.
            exponent = np.float32(math.floor(np.float32(math.log2(float(amax))))) if amax < np.inf else np.float32(np.inf)
            e, defined = truncate(exponent - np.float32(2.0) + np.float32(127.0), 0, 255)
            if not defined:
                undefined[b] = 1
        out[o] = e
        d = e8m0_half(e)
        if amax <= np.float32(16.0) * d:
            fp4_codes_by_midpoints(x[start:start + 16], x[start + 16:start + 32], d, out[o + 1:o + 17])
        else:  # an infinite A (e = 0): the level-by-level search
            for j in range(16):
                first = nearest_fp4(x[start + j], d)
                second = nearest_fp4(x[start + j + 16], d)
                out[o + 1 + j] = first | (second << 4)


@kernel
def dequantize_iq4_nl(blocks, out):
    """GGF-6.8: IQ4_NL: ``y = d * level``."""
    for b in range(blocks.size // 18):
        o = b * 18
        d = half_value(blocks[o], blocks[o + 1])
        for j in range(16):
            packed = np.int64(blocks[o + 2 + j])
            out[32 * b + j] = d * np.float32(IQ4_LEVELS[packed & 0xF])
            out[32 * b + j + 16] = d * np.float32(IQ4_LEVELS[packed >> 4])


@kernel
def dequantize_iq4_xs(blocks, out):
    """GGF-6.8: IQ4_XS: ``y = (d * (ls - 32)) * level`` with the 6-bit sub-block scale ``ls``."""
    for b in range(blocks.size // 136):
        o = b * 136
        d = half_value(blocks[o], blocks[o + 1])
        high = np.int64(blocks[o + 2]) | (np.int64(blocks[o + 3]) << 8)
        for ib in range(8):
            ls = ((np.int64(blocks[o + 4 + ib // 2]) >> (4 * (ib % 2))) & 0xF) | (((high >> (2 * ib)) & 3) << 4)
            dl = d * np.float32(ls - 32)
            for j in range(16):
                packed = np.int64(blocks[o + 8 + 16 * ib + j])
                out[256 * b + 32 * ib + j] = dl * np.float32(IQ4_LEVELS[packed & 0xF])
                out[256 * b + 32 * ib + j + 16] = dl * np.float32(IQ4_LEVELS[packed >> 4])


@kernel
def dequantize_mxfp4(blocks, out):
    """GGF-6.8: MXFP4: ``y = level * 2^(e - 128)``."""
    for b in range(blocks.size // 17):
        o = b * 17
        d = e8m0_half(blocks[o])
        for j in range(16):
            packed = np.int64(blocks[o + 1 + j])
            out[32 * b + j] = np.float32(FP4_LEVELS[packed & 0xF]) * d
            out[32 * b + j + 16] = np.float32(FP4_LEVELS[packed >> 4]) * d
