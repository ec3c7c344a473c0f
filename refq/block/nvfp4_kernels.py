"""BLK-8.2 to BLK-8.6: NVIDIA's NVFP4 one step at a time: the tensor amax and its scale, the E4M3 block
scales, the scaled elements and their E2M1 codes, the packing, and dequantize.

Every step is one IEEE 754 float32 operation, as the engines compute them with torch on float32 tensors:
a float32 product or quotient of float32 operands is correctly rounded, so computing it in float32 gives
the engines' bits. Division by zero follows IEEE 754 (:func:`quotient32`), which Numba's Python error
model would otherwise turn into an exception.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel

#: ``nvfp4_scale_arithmetic`` codes.
DIVIDE_THEN_RECIPROCAL, DIVIDE_BY_PRODUCT, ENCODE_SCALE = range(3)
#: ``nvfp4_scale_floor`` codes.
FLOOR_MIN_NORMAL, FLOOR_MIN_SUBNORMAL, FLOOR_NONE = range(3)
#: ``nvfp4_zero_scale`` codes.
ZERO_SCALE_KEPT, ZERO_SCALE_ONE = range(2)
#: ``nvfp4_scale_ceiling`` codes.
CEILING_CLAMPED, CEILING_NONE = range(2)
#: ``nvfp4_element_nan`` codes.
NAN_PAYLOAD, NAN_LARGEST, NAN_ZERO = range(3)
#: ``nvfp4_negative_zero`` codes.
NEGATIVE_ZERO_KEPT, NEGATIVE_ZERO_POSITIVE = range(2)
#: ``nvfp4_dequantize_scale`` codes.
DEQUANTIZE_PRODUCT, DEQUANTIZE_AMAX_FACTOR = range(2)

BLOCK = 16
#: How many blocks quantize scales before it codes their elements.
CHUNK = 256
#: 6 * 448: E2M1's largest value times E4M3's.
TENSOR_DIVISOR = np.float32(2688.0)
E2M1_MAX = np.float32(6.0)
E4M3_MAX = np.float32(448.0)
FLOAT32_MAX = np.float32(3.4028234663852886e38)
#: torch.reciprocal(6.0) in float32, TransformerEngine's multiplier.
ONE_SIXTH = np.float32(1.0 / 6.0)
#: 1.0 / (6.0 * 448.0) rounded to float32 (TransformerEngine's constexpr factor_inv).
AMAX_FACTOR = np.float32(1.0 / 2688.0)
#: E4M3's smallest normal (torchao's E4M3_EPS) and smallest subnormal (modelopt's 2**-9).
MIN_NORMAL = np.float32(2.0 ** -6)
MIN_SUBNORMAL = np.float32(2.0 ** -9)
#: The E4M3 (float8_e4m3fn) NaN code, and the magnitude above which a cast to it overflows to NaN (the
#: midpoint of 448 and the 480 the format lacks; 464 itself ties to 448, whose mantissa is even).
E4M3_NAN = 0x7F
E4M3_OVERFLOW = np.float32(464.0)
#: The bits of 464 and of E4M3's smallest normal, 2^-6, as float32.
E4M3_OVERFLOW_BITS = np.uint32(0x43E80000)
MIN_NORMAL_BITS = np.uint32(0x3C800000)
E2M1_SIGN = 8
E2M1_LARGEST = 7
#: The E2M1 midpoints, as float32: a magnitude above one goes up, and on one it goes to the even code (up at
#: 0.75, 1.75 and 3.5, whose upper neighbours 1, 2 and 4 have even codes).
THRESHOLDS = (np.float32(0.25), np.float32(0.75), np.float32(1.25), np.float32(1.75), np.float32(2.5),
              np.float32(3.5), np.float32(5.0))


@kernel
def quotient32(a, b):
    """BLK-8.2: fl32(a / b) with IEEE 754's rules for a zero divisor: ±inf for a nonzero a, NaN for 0 / 0 or
    NaN / 0."""
    if b == 0.0:
        if a != a or a == 0.0:
            return np.float32(np.nan)
        negative = (a < 0.0) != (math.copysign(1.0, b) < 0.0)
        return np.float32(-np.inf) if negative else np.float32(np.inf)
    return np.float32(np.float32(a) / np.float32(b))


@kernel
def minimum_nan(a, b):
    """BLK-8.2: torch.min(a, b): the smaller, a NaN if either is."""
    if a != a or b != b:
        return np.float32(np.nan)
    return a if a < b else b


@kernel(inline=True)
def magnitude_value(top):
    """The float32 whose bits are the uint32 ``top`` (the sign bit clear), NaN for a NaN's pattern: the value of
    an integer maximum of magnitudes' bit patterns."""
    if top > np.uint32(0x7F800000):
        return np.float32(np.nan)
    return np.uint32(top).view(np.float32)


@kernel
def tensor_amax(x, bits):
    """BLK-8.2: max |x| over the whole tensor as a float32, NaN if any element is NaN (torch's max). ``bits`` is
    x viewed as uint32: a magnitude's pattern orders like the magnitude, NaNs above the infinity, so one integer
    maximum finds both (and vectorises)."""
    top = np.uint32(0)
    for i in range(bits.shape[0]):
        top = max(top, np.uint32(bits[i] & np.uint32(0x7FFFFFFF)))
    return magnitude_value(top)


@kernel
def tensor_factors(amax, arithmetic):
    """BLK-8.2: ``(stored, first, second)``: the float32 the record stores for the tensor, and the two factors
    the block scales and the elements use. ``divide_then_reciprocal``: s = fl32(amax / 2688), stored, with
    fl32(1 / s); ``divide_by_product``: s, stored, with fl32(6 s); ``encode_scale``: e = min(fl32(2688 / amax),
    float32 max), 1 where that is 0; the amax is stored, with fl32(1 / e) and fl32(e * fl32(1/6))."""
    if arithmetic == ENCODE_SCALE:
        encode = minimum_nan(quotient32(TENSOR_DIVISOR, amax), FLOAT32_MAX)
        if encode == 0.0:
            encode = np.float32(1.0)
        return amax, quotient32(np.float32(1.0), encode), np.float32(encode * ONE_SIXTH)
    scale = quotient32(amax, TENSOR_DIVISOR)
    if arithmetic == DIVIDE_THEN_RECIPROCAL:
        return scale, scale, quotient32(np.float32(1.0), scale)
    return scale, scale, np.float32(np.float32(6.0) * scale)


@kernel
def block_scale_value(block_amax, arithmetic, first, second, floor_rule, zero_rule, ceiling_rule):
    """BLK-8.3: the float32 a block's E4M3 scale is cast from: fl32(fl32(a / 6) / s) (``divide_then_reciprocal``),
    fl32(a / fl32(6 s)) (``divide_by_product``) or min(fl32(a * m), float32 max) (``encode_scale``); a 0 made 1
    (``nvfp4_zero_scale = one``); raised to the floor; lowered to 448 (``clamped``). A NaN stays NaN."""
    if arithmetic == DIVIDE_THEN_RECIPROCAL:
        value = quotient32(quotient32(block_amax, E2M1_MAX), first)
    elif arithmetic == DIVIDE_BY_PRODUCT:
        value = quotient32(block_amax, second)
    else:
        value = minimum_nan(np.float32(block_amax * second), FLOAT32_MAX)
    if zero_rule == ZERO_SCALE_ONE and value == 0.0:
        value = np.float32(1.0)
    if floor_rule == FLOOR_MIN_NORMAL and value < MIN_NORMAL:
        value = MIN_NORMAL
    elif floor_rule == FLOOR_MIN_SUBNORMAL and value < MIN_SUBNORMAL:
        value = MIN_SUBNORMAL
    if ceiling_rule == CEILING_CLAMPED and value > E4M3_MAX:
        value = E4M3_MAX
    return value


@kernel
def e4m3_code(value):
    """BLK-8.3: the float8_e4m3fn code of a float32 (torch's cast): to nearest, ties to even; a magnitude above
    464 (an infinity included) overflows to the NaN code, with the sign; a NaN gives 0x7F (its sign open).
    On the float32's bits: a normal result keeps the exponent (rebiased from 127 to 7) and the top three
    mantissa bits, rounded to nearest even by adding 2^19 - 1 and the lowest bit kept; a subnormal one, a
    multiple of 2^-9, is fl32(|value| * 512) rounded to an integer (the product is exact)."""
    bits = np.float32(value).view(np.uint32)
    magnitude = bits & np.uint32(0x7FFFFFFF)
    if magnitude > np.uint32(0x7F800000):
        return E4M3_NAN
    sign = np.int64(bits >> np.uint32(24)) & 0x80
    if magnitude > E4M3_OVERFLOW_BITS:
        return sign | E4M3_NAN
    if magnitude < MIN_NORMAL_BITS:
        # The subnormal codes 0..7 are multiples of 2^-9; 8 steps round up into the smallest normal, code 8.
        return sign | np.int64(np.rint(abs(np.float32(value)) * np.float32(512.0)))
    rounded = np.int64(magnitude) + 0x7FFFF + ((np.int64(magnitude) >> 20) & 1)
    return sign | ((rounded >> 20) - (120 << 3))


@kernel
def element_codes(scaled, bits, nan_rule, zero_rule, codes):
    """BLK-8.4: the E2M1 codes of the scaled float32 values ``scaled`` into ``codes``: each clamped to [-6, 6]
    and rounded to nearest, ties to even (the thresholds 0.25, 0.75, ..., 5 go to the even code), the sign bit
    8 from the sign bit of x (``nvfp4_negative_zero = kept``; ``bits`` is x viewed as uint32, and y's sign bit is
    x's: every factor of BLK-8.2 is +0, positive or +inf, or NaN, and then y is NaN) or from y < 0
    (``positive``: -0 gets code 0). A NaN gets 0 under ``payload`` (the caller marks it open), the largest
    code 7, or 0. Without branches, in float32 and uint8, so that the loop vectorises: a NaN fails every
    comparison."""
    nan_code = np.uint8(E2M1_LARGEST) if nan_rule == NAN_LARGEST else np.uint8(0)
    kept = zero_rule == NEGATIVE_ZERO_KEPT
    for j in range(scaled.shape[0]):
        y = scaled[j]
        magnitude = min(abs(y), E2M1_MAX)
        code = (np.uint8(magnitude > THRESHOLDS[0]) + np.uint8(magnitude >= THRESHOLDS[1])
                + np.uint8(magnitude > THRESHOLDS[2]) + np.uint8(magnitude >= THRESHOLDS[3])
                + np.uint8(magnitude > THRESHOLDS[4]) + np.uint8(magnitude >= THRESHOLDS[5])
                + np.uint8(magnitude > THRESHOLDS[6]))
        negative = np.uint8(bits[j] >> 31) if kept else np.uint8(y < np.float32(0.0))
        signed = code | (np.uint8(E2M1_SIGN) * negative)
        codes[j] = nan_code if y != y else signed


@kernel
def quotients(x, divisors, out):
    """out = fl32(x / d) elementwise, IEEE 754's quotient (x / +0 is x * +inf, 0 / 0 NaN), as ``np.divide``. (A
    function of its own: inlined into quantize's loop, the division does not vectorise.)"""
    np.divide(x, divisors, out)


@kernel
def block_products(rows, factors, out):
    """Row i of ``out`` = fl32(x * factors[i]) for every x of row i of ``rows``: one block's factor for its
    elements, read once (a copy of it for every element, and an elementwise product, cost a seventh more)."""
    for block in range(rows.shape[0]):
        row, product, factor = rows[block], out[block], factors[block]
        for j in range(row.shape[0]):
            product[j] = np.float32(row[j] * factor)


@kernel
def pack_codes(codes, packed):
    """Two codes a byte: codes[2j] in the low nibble of byte j, codes[2j + 1] in the high one."""
    for j in range(packed.shape[0]):
        packed[j] = codes[2 * j] | (codes[2 * j + 1] << 4)


@kernel
def nan_pairs(scaled, pair_open):
    """Whether either value of each pair of ``scaled`` is a NaN (without branches, so that it vectorises)."""
    for j in range(pair_open.shape[0]):
        pair_open[j] = (scaled[2 * j] != scaled[2 * j]) | (scaled[2 * j + 1] != scaled[2 * j + 1])


@kernel(inline=True)
def block_amax(bits):
    """BLK-8.3: max |x| over one block, NaN if one element is NaN (the integer maximum of the block's ``bits``, as
    in :func:`tensor_amax`)."""
    top = np.uint32(0)
    # The view's length, not the constant 16: a loop of known count is unrolled into a chain of scalar maxima.
    # np.uint32 keeps the maximum 32 bits wide (Numba widens integer arithmetic to 64 bits, half the lanes).
    for j in range(bits.shape[0]):
        top = max(top, np.uint32(bits[j] & np.uint32(0x7FFFFFFF)))
    return magnitude_value(top)


@kernel
def block_scales(amaxes, e4m3_values, arithmetic, first, second, floor_rule, zero_rule, ceiling_rule, scales,
                 scale_open, factors):
    """The E4M3 code of the scale of each block whose amax is in ``amaxes`` into ``scales`` (a NaN one marked in
    ``scale_open``), and the factor its elements are multiplied by (divided by, under ``divide_by_product``)
    into ``factors``."""
    for i in range(amaxes.shape[0]):
        value = block_scale_value(amaxes[i], arithmetic, first, second, floor_rule, zero_rule, ceiling_rule)
        code = e4m3_code(value)
        scales[i] = code
        scale_open[i] = value != value
        decoded = e4m3_values[code]
        if arithmetic == DIVIDE_BY_PRODUCT:
            factors[i] = np.float32(decoded * first)
        elif arithmetic == DIVIDE_THEN_RECIPROCAL:
            factors[i] = quotient32(second, decoded)
        else:
            factors[i] = minimum_nan(quotient32(np.float32(1.0), np.float32(decoded * first)), FLOAT32_MAX)


@kernel
def quantize_nvfp4(blocks, bits, e4m3_values, arithmetic, floor_rule, zero_rule, ceiling_rule, nan_rule, sign_rule,
                   scales, packed, scale_open, code_open):
    """BLK-8.2 to BLK-8.5: the tensor's stored float32 (returned), every block's E4M3 code into ``scales`` (a
    NaN one marked in ``scale_open``: its sign is open), every element's code, two per byte, element 2j in the
    low nibble, into ``packed`` (a byte holding a NaN element's code under ``payload`` marked in ``code_open``).
    ``blocks`` is the float32 input as rows of 16, ``bits`` the same viewed as uint32; ``e4m3_values`` the value
    of every E4M3 code. The blocks are taken :data:`CHUNK` at a time: first their scales and the factor each
    block's elements are multiplied or divided by, then the scaled elements (a quotient as one array
    operation, the factor repeated for each element), their codes and the packing, each a loop that
    vectorises. ``np.divide`` is IEEE 754's quotient: x / +0 is x * +inf, 0 / 0 and 0 * inf both NaN (the
    divisor is never -0)."""
    amax = tensor_amax(blocks.reshape(-1), bits.reshape(-1))
    stored, first, second = tensor_factors(amax, arithmetic)
    values, value_bits = blocks.reshape(-1), bits.reshape(-1)
    packed_pairs, open_pairs = packed.reshape(-1), code_open.reshape(-1)
    divisors = np.empty(CHUNK * BLOCK, dtype=np.float32)
    scaled_rows = np.empty((CHUNK, BLOCK), dtype=np.float32)
    scaled = scaled_rows.reshape(-1)
    codes = np.empty(CHUNK * BLOCK, dtype=np.uint8)
    amaxes = np.empty(CHUNK, dtype=np.float32)
    block_factors = np.empty(CHUNK, dtype=np.float32)
    for chunk in range(0, blocks.shape[0], CHUNK):
        count = min(CHUNK, blocks.shape[0] - chunk)
        for offset in range(count):
            amaxes[offset] = block_amax(bits[chunk + offset])
        block_scales(amaxes[:count], e4m3_values, arithmetic, first, second, floor_rule, zero_rule, ceiling_rule,
                     scales[chunk:chunk + count], scale_open[chunk:chunk + count], block_factors[:count])
        start, size = chunk * BLOCK, count * BLOCK
        y = scaled[:size]
        if arithmetic == DIVIDE_BY_PRODUCT:
            for offset in range(count):
                divisors[offset * BLOCK:(offset + 1) * BLOCK] = block_factors[offset]
            quotients(values[start:start + size], divisors[:size], y)
        else:
            block_products(blocks[chunk:chunk + count], block_factors[:count], scaled_rows[:count])
        element_codes(y, value_bits[start:start + size], nan_rule, sign_rule, codes[:size])
        pack_codes(codes[:size], packed_pairs[start // 2:(start + size) // 2])
        if nan_rule == NAN_PAYLOAD:
            nan_pairs(y, open_pairs[start // 2:(start + size) // 2])
    return stored


@kernel
def dequantize_nvfp4(scales, packed, stored, formula, e4m3_values, e2m1_values, out):
    """BLK-8.6: element 2j of a block is the low nibble of byte j, 2j + 1 the high; its value is
    fl32(v * fl32(s * t)) (``product``) or fl32(v * fl32(fl32(s * t) * fl32(1 / 2688))) (``amax_factor``), v the
    code's E2M1 value, s the block's E4M3 value, t the stored tensor float32. Returns whether a factor is NaN or
    infinite: only then can an element be NaN (the E2M1 values are finite, and one is 0)."""
    unbounded = False
    for block in range(scales.shape[0]):
        factor = np.float32(e4m3_values[scales[block]] * stored)
        if formula == DEQUANTIZE_AMAX_FACTOR:
            factor = np.float32(factor * AMAX_FACTOR)
        unbounded |= not abs(factor) <= FLOAT32_MAX
        for pair in range(BLOCK // 2):
            byte = np.int64(packed[block, pair])
            out[block, 2 * pair] = np.float32(e2m1_values[byte & 0xF] * factor)
            out[block, 2 * pair + 1] = np.float32(e2m1_values[byte >> 4] * factor)
    return unbounded
