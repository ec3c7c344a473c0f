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
#: What :func:`threshold_position` adds for a negative value counted on its magnitude, and gives a NaN.
NEGATIVE_POSITION = 16
NAN_POSITION = 32
#: About how many elements quantize scales before it finds their positions, and dequantize looks up before it
#: scales them.
CHUNK = 4096


@kernel
def block_absmax(bits, nan_rule):
    """BLK-7.2: the largest magnitude of one block as a float32 (+0 for a block of zeros); a NaN makes it NaN
    (``propagates``) or is passed over (``ignored``, C's fmaxf). ``bits`` is the block viewed as uint32: the
    pattern of a magnitude (the sign bit cleared) orders as the magnitude does, a NaN's above the infinity's, so
    one integer maximum finds the absmax (and vectorises, where a float maximum with NaN rules does not)."""
    top = np.uint32(0)
    nan = False
    for i in range(bits.shape[0]):
        magnitude = bits[i] & np.uint32(0x7FFFFFFF)
        unordered = magnitude > np.uint32(0x7F800000)
        nan |= unordered
        top = max(top, np.uint32(0) if unordered else magnitude)
    if nan and nan_rule == ABSMAX_PROPAGATES:
        return np.float32(np.nan)
    return np.uint32(top).view(np.float32)


@kernel
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


@kernel
def tail_divisor(absmax):
    """BLK-7.3: bitsandbytes' divisor of a last, partial block: the absmax clamped to 1e-38 (NaN kept)."""
    floor = np.float64(ABSMAX_FLOOR)
    return np.float64(absmax) if not np.float64(absmax) < floor else floor


@kernel
def threshold_position(v, thresholds, on_magnitude):
    """Where the float32 ``v`` falls among ``thresholds`` (:data:`THRESHOLD_SLOTS` of them, padded with +inf):
    the number below v (below |v| with ``on_magnitude``, plus :data:`NEGATIVE_POSITION` for v < 0), or
    :data:`NAN_POSITION` for a NaN. Without branches, in float32 and uint8, so that a loop of it vectorises."""
    compared = abs(v) if on_magnitude else v
    count = np.uint8(0)
    for i in range(THRESHOLD_SLOTS):
        count += np.uint8(thresholds[i] < compared)
    negative = np.uint8(NEGATIVE_POSITION) if (on_magnitude and v < np.float32(0.0)) else np.uint8(0)
    return np.uint8(NAN_POSITION) if v != v else count | negative


@kernel
def position_code(position, codes, nan_code):
    """The code of a :func:`threshold_position`: ``nan_code`` for a NaN, else ``codes[count]`` with the sign
    bit 8 for a negative position."""
    if position == NAN_POSITION:
        return nan_code
    sign = FP4_SIGN if position & NEGATIVE_POSITION else 0
    return sign | np.int64(codes[position & (NEGATIVE_POSITION - 1)])


@kernel
def select_code(v, thresholds, codes, on_magnitude, nan_code):
    """BLK-7.4: the code of the scaled float32 ``v``: ``codes[k]``, k the number of ``thresholds`` below v (below
    |v| with ``on_magnitude``, the sign bit 8 added for v < 0), so that a value equal to a threshold takes the
    lower code; a NaN takes ``nan_code``. ``float32_midpoints`` counts the midpoints of the sorted table and
    reads the codes in sorted order; ``decision_tree`` counts the tree's literals. ``thresholds`` holds
    :data:`THRESHOLD_SLOTS` values, the unused ones +inf (which no value is above)."""
    return position_code(threshold_position(v, thresholds, on_magnitude), codes, nan_code)


@kernel
def scaled_positions(values, factors, thresholds, on_magnitude, positions):
    """:func:`threshold_position` of fl32(x * f) for every x of ``values`` and f of ``factors``. (A loop of its
    own over views, so that the compiler keeps the element function inline and vectorises it.)"""
    for i in range(values.shape[0]):
        positions[i] = threshold_position(values[i] * factors[i], thresholds, on_magnitude)


@kernel
def quantize_bnb4(x, block_size, absmax, packed, thresholds, codes, on_magnitude, nan_code, absmax_nan,
                  reciprocal_rule, tail_rule):
    """BLK-7.2 to BLK-7.5: the absmax of every block of ``block_size`` consecutive elements of the flat float32
    ``x`` (the last block may be shorter) into ``absmax``; every element's code (:func:`select_code`), two per
    byte, the first element of a pair in the high nibble, into ``packed``; an odd count's last low nibble the
    code of +0. The thresholds are padded to :data:`THRESHOLD_SLOTS` with +inf. The blocks are taken about
    :data:`CHUNK` elements at a time: their absmax and reciprocal first (repeated for each element), then the
    elements' positions (:func:`threshold_position`) in one long loop, which vectorises where a short block's
    does not; a last partial block under ``bnb4_tail = divide`` is done again, dividing. The positions are then
    read as codes (:func:`position_code`, once for every position) two at a time (:func:`pack_positions`)."""
    n = x.shape[0]
    bits = x.view(np.uint32)
    bounds = np.full(THRESHOLD_SLOTS, np.inf, dtype=np.float32)
    bounds[:thresholds.shape[0]] = thresholds
    # The code of every position a value can take (a count up to the number of codes less one).
    code_of = np.zeros(NAN_POSITION + 1, dtype=np.uint8)
    code_of[NAN_POSITION] = position_code(NAN_POSITION, codes, nan_code)
    for count in range(codes.shape[0]):
        code_of[count] = position_code(count, codes, nan_code)
        code_of[count | NEGATIVE_POSITION] = position_code(count | NEGATIVE_POSITION, codes, nan_code)
    zero = threshold_position(np.float32(0.0), bounds, on_magnitude)
    # An even number of blocks a chunk, so that every chunk starts on a byte.
    per_chunk = max(2, CHUNK // block_size)
    per_chunk += per_chunk & 1
    factors = np.empty(per_chunk * block_size, dtype=np.float32)
    positions = np.empty(per_chunk * block_size + 1, dtype=np.uint8)
    tail = n % block_size
    for first in range(0, absmax.shape[0], per_chunk):
        start = first * block_size
        stop = min((first + per_chunk) * block_size, n)
        size = stop - start
        for block in range(first, min(first + per_chunk, absmax.shape[0])):
            low = block * block_size
            high = min(low + block_size, n)
            amax = block_absmax(bits[low:high], absmax_nan)
            absmax[block] = amax
            factors[low - start:high - start] = block_reciprocal(amax, reciprocal_rule)
        scaled_positions(x[start:stop], factors[:size], bounds, on_magnitude, positions[:size])
        if tail_rule == TAIL_DIVIDE and tail and stop == n:
            divisor = tail_divisor(absmax[absmax.shape[0] - 1])
            for i in range(size - tail, size):
                positions[i] = threshold_position(np.float32(np.float64(x[start + i]) / divisor), bounds,
                                                  on_magnitude)
        # The padding of an odd count: the position of +0.
        positions[size] = zero
        pack_positions(positions, code_of, packed[start >> 1:(stop + 1) >> 1])


@kernel
def pack_positions(positions, code_of, packed):
    """The codes (``code_of`` each position) of positions 2j and 2j + 1 into the high and low nibbles of byte j."""
    for j in range(packed.shape[0]):
        packed[j] = (code_of[positions[2 * j]] << 4) | code_of[positions[2 * j + 1]]


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
