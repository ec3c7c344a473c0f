"""BLK-7.2 to BLK-7.6: bitsandbytes' 4-bit formats one block at a time: the absmax, the scaled values, the
selection of a code, the packing of two codes per byte, and dequantize.

A float32 product is computed in float32, which is correctly rounded: the bits of the exact product rounded
once. A quotient is computed in float64 and rounded to float32 once, which is the correctly rounded float32
quotient (53 bits are more than 2 * 24 + 2).
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel

#: ``bnb4_thresholds`` codes.
FLOAT32_MIDPOINTS, DECISION_TREE = range(2)
#: ``bnb4_nan_code`` codes.
NAN_LARGEST, NAN_ZERO = range(2)
#: ``bnb4_absmax_nan`` codes.
ABSMAX_PROPAGATES, ABSMAX_IGNORES = range(2)
#: ``bnb4_reciprocal`` codes.
RECIPROCAL_CLAMPED, RECIPROCAL_ZERO_GUARDED = range(2)
#: ``bnb4_tail`` codes.
TAIL_RECIPROCAL, TAIL_DIVIDE = range(2)
#: bitsandbytes' lower clamp of the absmax (torch's clamp(min=1e-38) on float32: 1e-38 rounded to a float32
#: subnormal, 0x006CE3EE).
ABSMAX_FLOOR = np.float32(1e-38)
#: float32's largest finite value.
FLOAT32_MAX = np.float32(np.finfo(np.float32).max)
#: The sign bit of an FP4 code.
FP4_SIGN = 8
#: The most thresholds a table has (the fifteen between sixteen values); a shorter list is padded with +inf.
THRESHOLD_SLOTS = 15
#: About how many elements dequantize looks up before it scales them.
CHUNK = 4096
#: About how many elements quantize scales before it selects their codes: few enough that their values, factors
#: and codes (9 bytes an element) stay in a 32 KiB first-level data cache between the passes.
QUANTIZE_CHUNK = 1024


@kernel(inline=True)
def block_absmax(bits, nan_rule):
    """BLK-7.2: the largest magnitude of one block as a float32 (+0 for a block of zeros); a NaN makes it NaN
    (``propagates``) or is passed over (``ignored``, C's fmaxf). ``bits`` is the block viewed as uint32: the
    pattern of a magnitude (the sign bit cleared) orders as the magnitude does, a NaN's above the infinity's, so
    one integer maximum finds the absmax (and vectorises, where a float maximum with NaN rules does not). The
    same maximum says whether the block holds a NaN; only then is it read again, without its NaNs."""
    top = np.uint32(0)
    for i in range(bits.shape[0]):
        top = max(top, np.uint32(bits[i] & np.uint32(0x7FFFFFFF)))
    if top <= np.uint32(0x7F800000):
        return np.uint32(top).view(np.float32)
    if nan_rule == ABSMAX_PROPAGATES:
        return np.float32(np.nan)
    finite = np.uint32(0)
    for i in range(bits.shape[0]):
        magnitude = np.uint32(bits[i] & np.uint32(0x7FFFFFFF))
        finite = max(finite, np.uint32(0) if magnitude > np.uint32(0x7F800000) else magnitude)
    return np.uint32(finite).view(np.float32)


@kernel(inline=True)
def block_reciprocal(absmax, rule):
    """BLK-7.3: the float32 the block's elements are multiplied by."""
    if rule == RECIPROCAL_CLAMPED:
        # torch.clamp keeps a NaN; a NaN absmax gives a NaN reciprocal.
        floor = np.float64(ABSMAX_FLOOR)
        guarded = np.float64(absmax) if not np.float64(absmax) < floor else floor
        return np.float32(1.0 / guarded)
    if absmax == 0.0:
        return np.float32(0.0)
    # 1 / absmax overflows to infinity for an absmax below 2^-128.
    return np.float32(1.0 / np.float64(absmax))


@kernel(inline=True)
def tail_divisor(absmax):
    """BLK-7.3: bitsandbytes' divisor of a last, partial block: the absmax clamped to 1e-38 (NaN kept)."""
    floor = np.float64(ABSMAX_FLOOR)
    return np.float64(absmax) if not np.float64(absmax) < floor else floor


@kernel
def slots(values):
    """The :data:`THRESHOLD_SLOTS` entries of ``values`` as a tuple. A loop reads a tuple's entries from registers;
    the entries of an array it would read again for every element, as the compiler cannot tell that the loop's
    stores leave the array alone."""
    return (values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7], values[8],
            values[9], values[10], values[11], values[12], values[13], values[14])


@kernel
def code_steps(codes, steps, jumps):
    """What :func:`select_code` adds to the code of the lowest position: ``steps[i]`` is codes[i + 1] - codes[i]
    (0 past the last code), ``jumps[g]`` codes[4g + 4] - codes[4g], each modulo 16; returns codes[0]."""
    steps[:] = 0
    for i in range(codes.shape[0] - 1):
        steps[i] = np.uint8((np.int64(codes[i + 1]) - np.int64(codes[i])) & 15)
    for g in range(3):
        jump = 0
        for i in range(4 * g, 4 * g + 4):
            jump += np.int64(steps[i])
        jumps[g] = np.uint8(jump & 15)
    return np.uint8(codes[0])


@kernel(inline=True)
def select_code(v, thresholds, steps, jumps, first, on_magnitude, nan_code):
    """BLK-7.4: the code of the scaled float32 ``v``: ``codes[k]``, k the number of ``thresholds`` below v (below
    |v| with ``on_magnitude``, the sign bit 8 added for v < 0), so that a value equal to a threshold takes the
    lower code; a NaN takes ``nan_code``. ``float32_midpoints`` counts the midpoints of the sorted table and
    reads the codes in sorted order; ``decision_tree`` counts the tree's literals. ``thresholds`` holds
    :data:`THRESHOLD_SLOTS` values in increasing order, the unused ones +inf (which no value is above).

    The thresholds increase, so the ones below v are the first k. Thresholds 3, 7 and 11 split the other twelve
    into four groups of three (0 to 2, 4 to 6, 8 to 10, 12 to 14): the number of those three below v is the
    group g of v, and k is 4g plus the number of group g's three below v. The code is found the same way, without looking it up: codes[0] (``first``), plus
    codes[4g] - codes[0] (the ``jumps``, :func:`code_steps`), plus codes[i + 1] - codes[i] (``steps``) for each
    threshold i of the group below v, all modulo 16 (no sum of them overflows a byte). That is six float32
    comparisons, each group's threshold and step chosen by comparisons already made, without branches or table
    look-ups, so that a loop of this function vectorises."""
    compared = abs(v) if on_magnitude else v
    above_3 = thresholds[3] < compared
    above_7 = thresholds[7] < compared
    above_11 = thresholds[11] < compared
    code = np.uint8(first + jumps[0] * np.uint8(above_3) + jumps[1] * np.uint8(above_7)
                    + jumps[2] * np.uint8(above_11))
    for j in range(3):
        t0, t1, t2, t3 = thresholds[j], thresholds[4 + j], thresholds[8 + j], thresholds[12 + j]
        s0, s1, s2, s3 = steps[j], steps[4 + j], steps[8 + j], steps[12 + j]
        bound = t3 if above_11 else t2 if above_7 else t1 if above_3 else t0
        step = s3 if above_11 else s2 if above_7 else s1 if above_3 else s0
        code = np.uint8(code + step * np.uint8(bound < compared))
    sign = np.uint8(FP4_SIGN) if (on_magnitude and v < np.float32(0.0)) else np.uint8(0)
    return np.uint8(nan_code) if v != v else np.uint8((code & np.uint8(15)) | sign)


@kernel
def scaled_codes(values, factors, thresholds, steps, jumps, first, on_magnitude, nan_code, out):
    """:func:`select_code` of fl32(x * f) for every x of ``values`` and f of ``factors``. (A loop of its own over
    views, so that the compiler keeps the element function inline and vectorises it; one loop for each value of
    ``on_magnitude``, so that the comparisons hold no branch.)"""
    if on_magnitude:
        for i in range(values.shape[0]):
            out[i] = select_code(values[i] * factors[i], thresholds, steps, jumps, first, True, nan_code)
    else:
        for i in range(values.shape[0]):
            out[i] = select_code(values[i] * factors[i], thresholds, steps, jumps, first, False, nan_code)


@kernel
def pack_codes(codes, packed):
    """BLK-7.5: the codes 2j and 2j + 1 of ``codes`` into the high and low nibbles of byte j of ``packed``."""
    for j in range(packed.shape[0]):
        packed[j] = np.uint8((codes[2 * j] << np.uint8(4)) | codes[2 * j + 1])


@kernel
def quantize_bnb4(x, block_size, absmax, packed, thresholds, codes, on_magnitude, nan_code, absmax_nan,
                  reciprocal_rule, tail_rule):
    """BLK-7.2 to BLK-7.5: the absmax of every block of ``block_size`` consecutive elements of the flat float32
    ``x`` (the last block may be shorter) into ``absmax``; every element's code (:func:`select_code`), two per
    byte, the first element of a pair in the high nibble, into ``packed``; an odd count's last low nibble the
    code of +0. The thresholds are padded to :data:`THRESHOLD_SLOTS` with +inf. The blocks are taken about
    :data:`QUANTIZE_CHUNK` elements at a time: their absmax and reciprocal first (repeated for each element),
    then the elements' codes (:func:`scaled_codes`) in one long loop, which vectorises where a short block's
    does not; a last partial block under ``bnb4_tail = divide`` is done again, dividing. The codes are then
    packed two to a byte (:func:`pack_codes`)."""
    n = x.shape[0]
    bits = x.view(np.uint32)
    bound_array = np.full(THRESHOLD_SLOTS, np.inf, dtype=np.float32)
    bound_array[:thresholds.shape[0]] = thresholds
    step_array = np.zeros(THRESHOLD_SLOTS, dtype=np.uint8)
    jump_array = np.zeros(3, dtype=np.uint8)
    first = code_steps(codes, step_array, jump_array)
    bounds, steps, jumps = slots(bound_array), slots(step_array), (jump_array[0], jump_array[1], jump_array[2])
    zero = select_code(np.float32(0.0), bounds, steps, jumps, first, on_magnitude, nan_code)
    # An even number of blocks a chunk, so that every chunk starts on a byte.
    per_chunk = max(2, QUANTIZE_CHUNK // block_size)
    per_chunk += per_chunk & 1
    factors = np.empty(per_chunk * block_size, dtype=np.float32)
    chunk_codes = np.empty(per_chunk * block_size + 1, dtype=np.uint8)
    tail = n % block_size
    for first_block in range(0, absmax.shape[0], per_chunk):
        start = first_block * block_size
        stop = min((first_block + per_chunk) * block_size, n)
        size = stop - start
        for block in range(first_block, min(first_block + per_chunk, absmax.shape[0])):
            low = block * block_size
            high = min(low + block_size, n)
            amax = block_absmax(bits[low:high], absmax_nan)
            absmax[block] = amax
            factors[low - start:high - start] = block_reciprocal(amax, reciprocal_rule)
        scaled_codes(x[start:stop], factors[:size], bounds, steps, jumps, first, on_magnitude, nan_code,
                     chunk_codes[:size])
        if tail_rule == TAIL_DIVIDE and tail and stop == n:
            divisor = tail_divisor(absmax[absmax.shape[0] - 1])
            for i in range(size - tail, size):
                chunk_codes[i] = select_code(np.float32(np.float64(x[start + i]) / divisor), bounds, steps, jumps,
                                             first, on_magnitude, nan_code)
        # The padding of an odd count: the code of +0.
        chunk_codes[size] = zero
        pack_codes(chunk_codes, packed[start >> 1:(stop + 1) >> 1])


@kernel
def lookup_pairs(pairs, pair_values, out):
    """Each byte of ``pairs`` into the two float32 values of its codes, high nibble first, in one 64-bit move:
    ``pair_values`` holds them for every byte and ``out`` is the float32 output viewed as uint64."""
    for j in range(pairs.shape[0]):
        out[j] = pair_values[pairs[j]]


@kernel
def scale_block(values, scale, positive_zero):
    """fl32(v * scale) in place for every v of ``values`` (one block), plus +0 with ``positive_zero``. A float32
    product is correctly rounded, the same bits as the exact product rounded once."""
    zero = np.float32(0.0)
    for i in range(values.shape[0]):
        value = values[i] * scale
        values[i] = value + zero if positive_zero else value


@kernel
def dequantize_bnb4(packed, absmax, block_size, values, positive_zero, out):
    """BLK-7.6: element i is fl32(values[code] * absmax[i // block_size]), its code the high nibble of byte
    i // 2 for even i and the low nibble for odd i; with ``positive_zero`` the rounded product is added to +0
    (which turns -0 into +0 and changes nothing else). About :data:`CHUNK` elements at a time (an even number
    of blocks, so that every chunk starts on a byte), the codes are first looked up two per byte
    (:func:`lookup_pairs`), an odd count's last one on its own, and then each block is scaled
    (:func:`scale_block`). Returns whether an absmax is NaN or infinite: only then can an element be NaN (the
    table's values are finite)."""
    n = out.shape[0]
    pair_values = np.empty(512, dtype=np.float32)
    for byte in range(256):
        pair_values[2 * byte] = values[byte >> 4]
        pair_values[2 * byte + 1] = values[byte & 0xF]
    pair_bits = pair_values.view(np.uint64)
    out_pairs = out[:n - (n & 1)].view(np.uint64)
    per_chunk = max(2, CHUNK // block_size)
    per_chunk += per_chunk & 1
    unbounded = False
    for first in range(0, absmax.shape[0], per_chunk):
        last = min(first + per_chunk, absmax.shape[0])
        start = first * block_size
        stop = min(last * block_size, n)
        lookup_pairs(packed[start >> 1:stop >> 1], pair_bits, out_pairs[start >> 1:stop >> 1])
        if stop & 1:
            out[stop - 1] = values[np.int64(packed[stop >> 1]) >> 4]
        for block in range(first, last):
            unbounded |= not abs(absmax[block]) <= FLOAT32_MAX
            low = block * block_size
            scale_block(out[low:min(low + block_size, n)], absmax[block], positive_zero)
    return unbounded
