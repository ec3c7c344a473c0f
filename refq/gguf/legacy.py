"""GGF-2: the blocks of 32 (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1), quantized and dequantized.

Every kernel takes the float32 input as one flat array of whole blocks, writes the bytes of
block ``b`` at ``out[b * bytes:(b + 1) * bytes]`` and sets ``undefined[b]`` when one of its
float-to-integer conversions is undefined in C (GGF-1.3 to GGF-1.5). All arithmetic is float32,
every operation rounded on its own, in the order ggml's ``quantize_row_*_ref`` writes it.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.contracted import fma32
from refq.gguf.conversions import round_half_away, truncate
from refq.gguf.half import half_pattern, half_value, store_half

BLOCK = 32
HALF_BLOCK = 16


#: A float32's bit pattern without its sign orders as its magnitude (and integers are compared many
#: lanes at once, where a chain of float comparisons waits on each element); above this one it is a NaN.
INFINITY_BITS = 0x7F800000
#: As int32: the patterns of +0 and -0, and of -inf (above it, up to -1, the negative NaNs).
POSITIVE_ZERO_BITS = np.int32(0)
NEGATIVE_ZERO_BITS = np.int32(-0x80000000)
NEGATIVE_INFINITY_BITS = -0x80000000 + 0x7F800000
MAGNITUDE_BITS = 0x7FFFFFFF
#: value_order of FLT_MAX and of -FLT_MAX (bit patterns 0x7F7FFFFF and 0xFF7FFFFF): C's starting minimum
#: and maximum.
FLOAT32_MAX_ORDER = 0x7F7FFFFF
NEGATIVE_FLOAT32_MAX_ORDER = -0x7F800000


@kernel
def float_of(pattern):
    """The float32 whose bit pattern is the int32 ``pattern``."""
    return np.int32(pattern).view(np.float32)


@kernel
def signed_maximum(bits, start, count):
    """GGF-2.1: the element of largest magnitude, the first of equal magnitudes, +0 for a block of zeros.
    ``bits``: the float32 input's bit patterns as int32 (``x.view(np.int32)``, viewed once by the caller);
    the block is ``bits[start:start + count]``."""
    # The bit patterns compared as int32 (a view indexed from 0, its size the count: a loop the
    # compiler vectorises, 16 lanes where int64 arithmetic would give 8): a positive float's pattern
    # orders as its magnitude, and so does a negative one's, from -0 (-2^31) up to -inf. The largest
    # positive and the largest negative magnitude, a NaN of either sign left out as C's strict ``<``
    # leaves it. Only where the two are equal does the order of the elements decide, and the block is
    # scanned as C scans it; otherwise the sign is chosen without a branch, which random data would
    # mispredict every other block. (One array passed, not the floats beside their bits: a call with
    # two arrays, and a view of the floats per block, cost more than the scan.)
    block_bits = bits[start:start + count]
    positive = POSITIVE_ZERO_BITS
    negative = NEGATIVE_ZERO_BITS
    for j in range(block_bits.size):
        pattern = block_bits[j]
        positive = max(positive, pattern if (pattern >= 0) & (pattern <= INFINITY_BITS) else POSITIVE_ZERO_BITS)
        negative = max(negative,
                       pattern if (pattern < 0) & (pattern <= NEGATIVE_INFINITY_BITS) else NEGATIVE_ZERO_BITS)
    negative_magnitude = np.int64(negative) - np.int64(NEGATIVE_ZERO_BITS)
    largest = np.uint32(max(np.int64(positive), negative_magnitude)).view(np.float32)
    chosen = largest if positive > negative_magnitude else -largest
    if positive == negative_magnitude:
        chosen = np.float32(0.0)
        if positive != 0:
            for j in range(block_bits.size):
                value = float_of(block_bits[j])
                if abs(value) == largest:
                    chosen = value
                    break
    # One return: a function with several is not inlined into the caller's loop (a call per block).
    return chosen


@kernel
def largest_magnitude(bits, start, count):
    """GGF-2.1: ``amax = MAX(amax, fabsf(v))`` from +0: the largest magnitude (``bits`` as in
    :func:`signed_maximum`)."""
    # Without a NaN this is the largest magnitude in any order, found as the largest bit pattern
    # without its sign; a NaN's is larger than any other. C's MAX keeps a NaN only until the next
    # element, which depends on the order: a block with a NaN takes the elements one by one, as C does.
    block_bits = bits[start:start + count]
    largest = 0
    for j in range(block_bits.size):
        largest = max(largest, block_bits[j] & MAGNITUDE_BITS)
    # One return, as in signed_maximum.
    amax = float_of(largest)
    if largest > INFINITY_BITS:
        amax = np.float32(0.0)
        for j in range(block_bits.size):
            magnitude = abs(float_of(block_bits[j]))
            amax = amax if amax > magnitude else magnitude
    return amax


@kernel
def value_order(pattern):
    """A float32's bit pattern (as a signed integer) mapped to an integer that orders as its value:
    a negative one's magnitude bits flipped. -0 comes just below +0, where C finds them equal."""
    return pattern if pattern >= 0 else pattern ^ MAGNITUDE_BITS


@kernel
def first_zero(bits, start, count):
    zero = np.float32(0.0)
    for j in range(start, start + count):
        if bits[j] & MAGNITUDE_BITS == 0:
            zero = float_of(bits[j])
            break
    return zero


@kernel
def minimum_and_maximum(bits, start, count):
    """GGF-2.1: the smallest and largest element, from +-FLT_MAX, replaced only by a strictly smaller
    (larger) one (``bits`` as in :func:`signed_maximum`)."""
    # Compared as integers of the same order (value_order), many lanes at once, a NaN left out (it
    # never compares smaller or larger). Only the sign of a zero depends on the order: C keeps the
    # first zero it meets, and a smallest (largest) element that is a zero is the block's first zero.
    block_bits = bits[start:start + count]
    smallest = FLOAT32_MAX_ORDER
    largest = NEGATIVE_FLOAT32_MAX_ORDER
    for j in range(block_bits.size):
        order = value_order(block_bits[j])
        is_nan = (block_bits[j] & MAGNITUDE_BITS) > INFINITY_BITS
        smallest = min(smallest, FLOAT32_MAX_ORDER if is_nan else order)
        largest = max(largest, NEGATIVE_FLOAT32_MAX_ORDER if is_nan else order)
    if smallest == 0 or smallest == -1:
        low = first_zero(bits, start, count)
    else:
        low = float_of(value_order(smallest))
    if largest == 0 or largest == -1:
        high = first_zero(bits, start, count)
    else:
        high = float_of(value_order(largest))
    return low, high


@kernel
def reciprocal(d):
    """``d ? 1.0f / d : 0.0f``."""
    return np.float32(1.0) / d if d != 0 else np.float32(0.0)


@kernel
def quantize_symmetric_nibbles(x, out, undefined, levels, block_bytes, fused):
    """GGF-2.2 (Q4_0, ``levels`` 16) and GGF-2.4 (Q5_0, ``levels`` 32).

    ``d = max / -(levels/2)``; ``q = MIN(levels - 1, (int8_t)(x / d + levels/2 + 0.5))``: truncation
    after adding one half, so ties round up. Codes 0..15 of the first 16 elements fill the low
    nibbles, those of the last 16 the high nibbles; Q5_0's fifth bits go to a 32-bit little-endian
    mask (bit ``j`` for element ``j``). ``fused``: ``x * id + offset`` in one FMA, as gcc
    -march=native compiles it (GGF-4.2).
    """
    # One loop, not one specialised copy per type in a nested function: the compiler kept a nested
    # function's loop scalar (1.8 GB/s, against 5.8 here). Half a block, read from the sizes: a loop of
    # a constant 16 is unrolled into scalar code before the compiler could vectorise it (dequantize_bytes).
    half_block = x.size // max(1, x.size // BLOCK) // 2
    bits = x.view(np.int32)
    half_levels = levels // 2
    offset = np.float32(half_levels + 0.5)
    blocks = x.size // BLOCK
    # Every block's scale first, in a loop of its own: in the loop that quantizes, each block waited on
    # its own chain (the search, then two divisions), where here the chains of many blocks overlap.
    scales = np.empty(blocks, dtype=np.float32)
    inverses = np.empty(blocks, dtype=np.float32)
    for b in range(blocks):
        scales[b] = signed_maximum(bits, b * BLOCK, BLOCK) / np.float32(-half_levels)
        inverses[b] = reciprocal(scales[b])
    for b in range(blocks):
        start = b * BLOCK
        d = scales[b]
        inverse = inverses[b]
        o = b * block_bytes
        store_half(out, o, half_pattern(d))
        # Views indexed from 0: indices that need no wrap-around check, in a loop the compiler vectorises.
        block = x[start:start + BLOCK]
        codes = out[o + block_bytes - HALF_BLOCK:o + block_bytes]
        high_bits = 0
        defined = True
        for j in range(half_block):
            if fused:
                first_scaled = fma32(block[j], inverse, offset)
                second_scaled = fma32(block[j + HALF_BLOCK], inverse, offset)
            else:
                first_scaled = block[j] * inverse + offset
                second_scaled = block[j + HALF_BLOCK] * inverse + offset
            first, defined_first = truncate(first_scaled, -128, 127)
            second, defined_second = truncate(second_scaled, -128, 127)
            # One flag per block, written after the loop: a store inside it keeps the loop scalar.
            defined = defined & defined_first & defined_second
            first = min(levels - 1, first) & 0xFF
            second = min(levels - 1, second) & 0xFF
            codes[j] = ((first & 0x0F) | (second << 4)) & 0xFF
            if levels == 32:
                high_bits |= (np.int64(first & 0x10) >> 4) << j
                high_bits |= (np.int64(second & 0x10) >> 4) << (j + HALF_BLOCK)
        if not defined:
            undefined[b] = 1
        if levels == 32:
            for k in range(4):
                out[o + 2 + k] = (high_bits >> (8 * k)) & 0xFF


@kernel
def quantize_asymmetric_nibbles(x, out, undefined, levels, block_bytes, fused):
    """GGF-2.3 (Q4_1, ``levels`` 16) and GGF-2.5 (Q5_1, ``levels`` 32).

    ``d = (max - min) / (levels - 1)``, ``m = min``; ``q = (x - min) / d + 0.5`` truncated (Q4_1
    capped at 15 after an int8 cast, Q5_1 cast to uint8 without a cap). ``fused``: ``(x - min) * id
    + 0.5`` in one FMA, as gcc -march=native compiles it (GGF-4.2).
    """
    # One loop and half a block read from the sizes, as in quantize_symmetric_nibbles.
    half_block = x.size // max(1, x.size // BLOCK) // 2
    bits = x.view(np.int32)
    for b in range(x.size // BLOCK):
        start = b * BLOCK
        smallest, largest = minimum_and_maximum(bits, start, BLOCK)
        d = (largest - smallest) / np.float32(levels - 1)
        inverse = reciprocal(d)
        o = b * block_bytes
        store_half(out, o, half_pattern(d))
        store_half(out, o + 2, half_pattern(smallest))
        # Views indexed from 0, as in quantize_symmetric_nibbles.
        block = x[start:start + BLOCK]
        codes = out[o + block_bytes - HALF_BLOCK:o + block_bytes]
        high_bits = 0
        defined = True
        for j in range(half_block):
            if fused:
                first_scaled = fma32(block[j] - smallest, inverse, np.float32(0.5))
                second_scaled = fma32(block[j + HALF_BLOCK] - smallest, inverse, np.float32(0.5))
            else:
                first_scaled = (block[j] - smallest) * inverse + np.float32(0.5)
                second_scaled = (block[j + HALF_BLOCK] - smallest) * inverse + np.float32(0.5)
            if levels == 16:
                first, defined_first = truncate(first_scaled, -128, 127)
                second, defined_second = truncate(second_scaled, -128, 127)
                first = min(15, first) & 0xFF
                second = min(15, second) & 0xFF
            else:
                first, defined_first = truncate(first_scaled, 0, 255)
                second, defined_second = truncate(second_scaled, 0, 255)
            defined = defined & defined_first & defined_second
            codes[j] = ((first & 0x0F) | (second << 4)) & 0xFF
            if levels == 32:
                high_bits |= (np.int64(first & 0x10) >> 4) << j
                high_bits |= (np.int64(second & 0x10) >> 4) << (j + HALF_BLOCK)
        if not defined:
            undefined[b] = 1
        if levels == 32:
            for k in range(4):
                out[o + 4 + k] = (high_bits >> (8 * k)) & 0xFF


@kernel
def quantize_bytes(x, out, undefined, with_sum, block_bytes):
    """GGF-2.6 (Q8_0) and GGF-2.7 (Q8_1, ``with_sum``): ``d = amax / 127``, ``q = roundf(x / d)``
    (ties away from zero); Q8_1 also stores ``s = fp16(sum(q) * d)``."""
    # The block's 32 elements, read from the sizes: a loop of a constant 32 is unrolled into scalar
    # code before the compiler could vectorise it (dequantize_bytes).
    elements = x.size // max(1, x.size // BLOCK)
    bits = x.view(np.int32)
    blocks = x.size // BLOCK
    # Every block's scale first, as in quantize_symmetric_nibbles.
    scales = np.empty(blocks, dtype=np.float32)
    inverses = np.empty(blocks, dtype=np.float32)
    for b in range(blocks):
        scales[b] = largest_magnitude(bits, b * BLOCK, BLOCK) / np.float32(127.0)
        inverses[b] = reciprocal(scales[b])
    for b in range(blocks):
        start = b * BLOCK
        d = scales[b]
        inverse = inverses[b]
        o = b * block_bytes
        store_half(out, o, half_pattern(d))
        # Views indexed from 0, as in quantize_symmetric_nibbles.
        block = x[start:start + BLOCK]
        codes = out[o + block_bytes - BLOCK:o + block_bytes]
        total = 0
        defined = True
        for j in range(elements):
            q, defined_q = round_half_away(block[j] * inverse, -128, 127)
            defined = defined & defined_q
            codes[j] = q & 0xFF
            total += q
        if not defined:
            undefined[b] = 1
        if with_sum:
            store_half(out, o + 2, half_pattern(np.float32(total) * d))


@kernel
def dequantize_nibbles(blocks, out, levels, asymmetric, block_bytes):
    """GGF-2.8: ``y = (q - levels/2) * d`` (Q4_0, Q5_0) or ``y = q * d + m`` (Q4_1, Q5_1), in float32."""

    def decode(block_bytes):
        for b in range(blocks.size // block_bytes):
            o = b * block_bytes
            d = half_value(blocks[o], blocks[o + 1])
            m = half_value(blocks[o + 2], blocks[o + 3]) if asymmetric else np.float32(0.0)
            codes = o + block_bytes - HALF_BLOCK
            high_bits = 0
            if levels == 32:
                mask = codes - 4
                for k in range(4):
                    high_bits |= np.int64(blocks[mask + k]) << (8 * k)
            for j in range(HALF_BLOCK):
                packed = np.int64(blocks[codes + j])
                first = (packed & 0x0F) | (((high_bits >> j) & 1) << 4)
                second = (packed >> 4) | (((high_bits >> (j + HALF_BLOCK)) & 1) << 4)
                if asymmetric:
                    out[b * BLOCK + j] = np.float32(first) * d + m
                    out[b * BLOCK + j + HALF_BLOCK] = np.float32(second) * d + m
                else:
                    out[b * BLOCK + j] = np.float32(first - levels // 2) * d
                    out[b * BLOCK + j + HALF_BLOCK] = np.float32(second - levels // 2) * d

    # Each type's block size as a constant: with a stride it knows, the compiler vectorises the loop
    # (checking once that out and blocks do not overlap) where a variable stride keeps it scalar.
    if block_bytes == 18:
        decode(18)
    elif block_bytes == 20:
        decode(20)
    elif block_bytes == 22:
        decode(22)
    elif block_bytes == 24:
        decode(24)
    else:
        decode(block_bytes)


@kernel
def dequantize_bytes(blocks, out, block_bytes):
    """GGF-2.8: Q8_0 and Q8_1: ``y = q * d`` with the int8 code ``q``."""
    # BLOCK, read from the sizes: a loop of a constant 32 is unrolled into scalar code before the
    # compiler could vectorise it.
    elements = out.size // max(1, blocks.size // block_bytes)

    def decode(block_bytes):
        for b in range(blocks.size // block_bytes):
            o = b * block_bytes
            d = half_value(blocks[o], blocks[o + 1])
            codes = o + block_bytes - BLOCK
            for j in range(elements):
                code = np.int64(blocks[codes + j])
                signed = code - 256 if code >= 128 else code
                out[b * BLOCK + j] = np.float32(signed) * d

    # The block size as a constant, as in dequantize_nibbles.
    if block_bytes == 34:
        decode(34)
    else:
        decode(block_bytes)
