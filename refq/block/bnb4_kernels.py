"""BLK-7.2 to BLK-7.6: bitsandbytes' 4-bit formats one block at a time: the absmax, the scaled values, the
selection of a code, the packing of two codes per byte, and dequantize.

Every float32 step is computed in float64 and rounded to float32 once: a product of two float32 values is
exact in float64, and a float64 quotient rounded to float32 is the correctly rounded float32 quotient (53
bits are more than 2 * 24 + 2).
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
#: The sign bit of an FP4 code.
FP4_SIGN = 8


@kernel
def block_absmax(x, start, stop, nan_rule):
    """BLK-7.2: the largest magnitude of x[start:stop] as a float32 (+0 for a block of zeros); a NaN makes it
    NaN (``propagates``) or is passed over (``ignored``, C's fmaxf)."""
    largest = 0.0
    for i in range(start, stop):
        magnitude = abs(np.float64(x[i]))
        if magnitude != magnitude:
            if nan_rule == ABSMAX_PROPAGATES:
                return np.float32(np.nan)
            continue
        largest = max(largest, magnitude)
    return np.float32(largest)


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
def select_code(v, rule, nan_code, bounds, positions, tree, tree_codes, on_magnitude, largest_code):
    """BLK-7.4: the code of the scaled float32 ``v``: the position among the table's sorted values that counts
    the ``bounds`` below v (``float32_midpoints``: a value equal to a bound takes the lower position), or the
    decision tree's code for the count of its thresholds below v (or below |v|, the sign bit added for v < 0);
    a NaN takes the code of the largest value or code 0."""
    if v != v:
        return largest_code if nan_code == NAN_LARGEST else 0
    if rule == FLOAT32_MIDPOINTS:
        count = 0
        for i in range(bounds.shape[0]):
            count += bounds[i] < v
        return np.int64(positions[count])
    compared = abs(v) if on_magnitude else v
    count = 0
    for i in range(tree.shape[0]):
        count += tree[i] < compared
    sign = FP4_SIGN if (on_magnitude and v < 0.0) else 0
    return sign | np.int64(tree_codes[count])


@kernel
def quantize_bnb4(x, block_size, absmax, packed, rule, nan_code, absmax_nan, reciprocal_rule, tail_rule, bounds,
                  positions, tree, tree_codes, on_magnitude, largest_code):
    """BLK-7.2 to BLK-7.5: the absmax of every block of ``block_size`` consecutive elements of the flat float32
    ``x`` (the last block may be shorter) into ``absmax``; every element's code, two per byte, the first
    element of a pair in the high nibble, into ``packed``; an odd count's last low nibble the code of +0."""
    n = x.shape[0]
    blocks = absmax.shape[0]
    padding = select_code(np.float32(0.0), rule, nan_code, bounds, positions, tree, tree_codes, on_magnitude,
                          largest_code)
    for block in range(blocks):
        start = block * block_size
        stop = min(start + block_size, n)
        amax = block_absmax(x, start, stop, absmax_nan)
        absmax[block] = amax
        divide = tail_rule == TAIL_DIVIDE and stop - start < block_size
        divisor = tail_divisor(amax)
        factor = np.float64(block_reciprocal(amax, reciprocal_rule))
        for i in range(start, stop):
            if divide:
                v = np.float32(np.float64(x[i]) / divisor)
            else:
                v = np.float32(np.float64(x[i]) * factor)
            code = select_code(v, rule, nan_code, bounds, positions, tree, tree_codes, on_magnitude, largest_code)
            if i % 2 == 0:
                packed[i // 2] = (code << 4) | padding
            else:
                packed[i // 2] = (np.int64(packed[i // 2]) & 0xF0) | code


@kernel
def dequantize_bnb4(packed, absmax, block_size, values, positive_zero, out):
    """BLK-7.6: element i is fl32(values[code] * absmax[i // block_size]), its code the high nibble of byte
    i // 2 for even i and the low nibble for odd i; with ``positive_zero`` a zero result is +0 (the rounded
    product added to +0)."""
    for i in range(out.shape[0]):
        byte = np.int64(packed[i // 2])
        code = (byte >> 4) if i % 2 == 0 else (byte & 0xF)
        value = np.float32(np.float64(values[code]) * np.float64(absmax[i // block_size]))
        if positive_zero and value == 0.0:
            value = np.float32(0.0)
        out[i] = value
