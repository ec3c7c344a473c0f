"""BLK-9.2 to BLK-9.7: weight-only int4 groups one group at a time: the group's range, its scale, its zero
point, the codes, and dequantize.

Every float32 step is computed in float64 and rounded to float32 once: a sum, product or quotient of two
float32 values rounded once from float64 is the correctly rounded float32 result (53 bits are more than
2 * 24 + 2).
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel

#: ``int4_codes`` codes.
SIGNED, UNSIGNED = range(2)
#: ``int4_range`` codes.
RANGE_WITH_ZERO, RANGE_OF_DATA = range(2)
#: ``int4_minmax_nan`` codes.
MINMAX_PROPAGATES, MINMAX_IGNORES = range(2)
#: ``int4_symmetric_scale`` codes.
AMAX_OVER_HALF_RANGE, EXTREME_OVER_MINUS_HALF, SYMMETRIC_UNSUPPORTED = range(3)
#: ``int4_asymmetric_scale`` codes.
RANGE_OVER_LEVELS, INVERSE_RANGE = range(2)
#: ``int4_zero_point`` codes.
ZERO_POINT_HALF_EVEN, ZERO_POINT_HALF_AWAY, ZERO_POINT_UNROUNDED = range(3)
#: ``int4_degenerate_scale`` codes.
DEGENERATE_EPSILON, DEGENERATE_ZERO_RECIPROCAL, DEGENERATE_UNIT_INVERSE = range(3)
#: ``int4_element_scaling`` codes.
SCALING_DIVIDE, SCALING_RECIPROCAL = range(2)
#: ``int4_rounding`` codes.
HALF_EVEN, HALF_AWAY = range(2)

#: float32's largest finite value: MLAS starts its scan of a group from it.
FLOAT32_MAX = np.float64(np.finfo(np.float32).max)
#: compressed-tensors' replacement of a zero scale: float32's machine epsilon, 2^-23.
EPSILON = np.float64(2.0 ** -23)
#: HQQ's bound on the range below which the inverse scale is 1: the float32 nearest 1e-4, as torch compares a
#: float32 tensor with a Python float.
SMALL_RANGE = np.float64(np.float32(1e-4))
#: HQQ's upper clamp of the inverse scale, 2e4 (a float32 exactly).
INVERSE_CEILING = np.float64(2e4)
#: The number of steps between the smallest and the largest code (16 codes).
LEVELS = np.float64(15.0)
#: Half the number of codes: the symmetric scale's divisor in compressed-tensors (7.5 is 15 / 2) and MLAS (8).
HALF_LEVELS = np.float64(7.5)
HALF_CODES = np.float64(8.0)
#: float32 constants of the element loop: a float32 combined with a float64 is computed in float64, which gives the
#: same bits here but half as many vector lanes.
ZERO32, HALF32, ONE32, LEVELS32 = np.float32(0.0), np.float32(0.5), np.float32(1.0), np.float32(LEVELS)
#: :func:`order_key` of the bounds the range scans start from and of the values that stop nothing: +inf and
#: -inf (``propagates``: a NaN's key lies beyond them), FLT_MAX and -FLT_MAX (``ignored``), and the int32 extremes.
KEY_INFINITY, KEY_MINUS_INFINITY = np.int32(0x7F800000), np.int32(-0x7F800001)
KEY_LARGEST, KEY_MINUS_LARGEST = np.int32(0x7F7FFFFF), np.int32(-0x7F7FFFFF - 1)
KEY_TOP, KEY_BOTTOM = np.int32(0x7FFFFFFF), np.int32(-0x80000000)


@kernel(inline=True)
def fl32(value):
    """One rounding of a float64 to float32, back in float64 so the next step can use it exactly."""
    return np.float64(np.float32(value))


@kernel(inline=True)
def float32_quotient(a, b):
    """fl32(a / b) of two float32 values, with IEEE 754's results for a zero divisor (Numba would raise): ±inf for
    a nonzero a, NaN for 0 / 0 or NaN / 0. (Inline: in a loop over one divisor the test of b is made once, and the
    division vectorises.)"""
    if b == 0.0:
        if a != a or a == 0.0:
            return np.float32(np.nan)
        return np.float32(np.inf) if (a < 0.0) == (np.signbit(b)) else np.float32(-np.inf)
    return np.float32(np.float32(a) / np.float32(b))


@kernel(inline=True)
def quotient(a, b):
    """fl32(a / b) of two float32 values (held exactly in float64), back in float64."""
    return np.float64(float32_quotient(a, b))


@kernel(inline=True)
def order_key(bits):
    """The int32 bits of a float32 turned into an int32 that orders as the value does (-0 just below +0, a NaN
    beyond the infinities: a positive NaN above +inf, a negative one below -inf): integer minima and maxima
    vectorise where float32 ones, with their NaN and zero rules, do not. The map is its own inverse. (Held in
    int32, the loops over keys run 16 lanes wide, not Numba's 8 of int64.)"""
    return np.int32(bits ^ ((bits >> 31) & 0x7FFFFFFF))


@kernel(inline=True)
def float32_value(key):
    """The value, in float64, of the float32 whose :func:`order_key` is ``key``."""
    return np.float64(np.int32(order_key(key)).view(np.float32))


@kernel(inline=True)
def scan_range(values, low, high):
    """C's scan of ``values`` from ``(low, high)``: ``v < low`` and ``v > high`` replace them, so a NaN is passed
    over and the first of equal values is kept."""
    for i in range(values.shape[0]):
        v = values[i]
        low = v if v < low else low
        high = v if v > high else high
    return low, high


@kernel(inline=True)
def key_range(bits, low, high):
    """``(least key, greatest key)`` of the float32 bits ``bits`` (:func:`order_key`) and the keys ``low`` and
    ``high``. A NaN takes part: its key lies beyond an infinity's, so the keys say whether there is one."""
    for i in range(bits.shape[0]):
        key = order_key(bits[i])
        low = min(low, key)
        high = max(high, key)
    return low, high


@kernel(inline=True)
def ordered_key_range(bits, low, high):
    """``(least key, greatest key)`` of the float32 bits ``bits`` (:func:`order_key`) and the keys ``low`` and
    ``high``, a NaN passed over."""
    for i in range(bits.shape[0]):
        unordered = np.int32(bits[i] & 0x7FFFFFFF) > KEY_INFINITY
        key = order_key(bits[i])
        low = min(low, KEY_TOP if unordered else key)
        high = max(high, KEY_BOTTOM if unordered else key)
    return low, high


@kernel(inline=True)
def group_range(x, bits, start, stop, nan_rule):
    """BLK-9.2: ``(minimum, maximum, zero_sign_open)`` of x[start:stop] (``bits``: the same float32 values as
    int32). ``propagates``: a NaN makes both NaN (torch's amin and amax); which zero a minimum or maximum of zero
    is, with zeros of both signs in the group, depends on the lanes of torch's vectorised reduction, so
    ``zero_sign_open`` says so. ``ignores``: C's scan from (FLT_MAX, -FLT_MAX) with ``v < min`` and ``v > max``,
    which skips a NaN and keeps the first of equal values (an all-NaN group gives FLT_MAX and -FLT_MAX). The
    values are ordered by their keys, in which only the two zeros part from the float order (-0 < +0): a zero
    result is looked at again."""
    # Views: their indices are known to be nonnegative, so no wraparound test keeps the loops from vectorising.
    values, group_bits = x[start:stop], bits[start:stop]
    low_key, high_key = key_range(group_bits, KEY_INFINITY, KEY_MINUS_INFINITY)
    nan = low_key < KEY_MINUS_INFINITY or high_key > KEY_INFINITY
    if nan_rule == MINMAX_IGNORES:
        if nan:
            # A second loop: the one above, which keeps no NaN out, vectorises, and this one might not.
            low_key, high_key = ordered_key_range(group_bits, KEY_LARGEST, KEY_MINUS_LARGEST)
        low = float32_value(min(low_key, KEY_LARGEST))
        high = float32_value(max(high_key, KEY_MINUS_LARGEST))
        if low == 0.0 or high == 0.0:
            # The first zero of the group is the one C keeps.
            first_low, first_high = scan_range(values, np.float32(FLOAT32_MAX), -np.float32(FLOAT32_MAX))
            low, high = np.float64(first_low), np.float64(first_high)
        return low, high, False
    if nan:
        return np.nan, np.nan, False
    low, high = float32_value(low_key), float32_value(high_key)
    if low != 0.0 and high != 0.0:
        return low, high, False
    positive_zero = False
    negative_zero = False
    for i in range(values.shape[0]):
        if values[i] == 0.0:
            negative_zero = negative_zero or np.signbit(values[i])
            positive_zero = positive_zero or not np.signbit(values[i])
    return low, high, positive_zero and negative_zero


@kernel(inline=True)
def round_half_away(v):
    """C's roundf on a float32 (held in float32 or exactly in float64): the nearest integer, ties away from zero;
    NaN and infinities are kept (trunc keeps them, and their difference from it is no half). (float32 constants:
    a float32 stays float32, and a float64 computes exactly in float64.)"""
    whole = np.trunc(v)
    # 1 or 0 with v's sign, added without a branch (one on the fraction is mispredicted half the time, and the
    # compiler makes one of a choice between two sums); a zero of v's sign keeps the sign of a zero trunc(v).
    return whole + np.copysign(np.float32(abs(v - whole) >= HALF32), v)


@kernel(inline=True)
def round_to_integer(v, rounding):
    """BLK-9.4 and BLK-9.5: the integer nearest v by ``int4_rounding`` or ``int4_zero_point`` (NaN and infinities
    are kept)."""
    return round_half_away(v) if rounding == HALF_AWAY else np.rint(v)


@kernel
def group_parameters(low, high, symmetric, codes_rule, range_rule, symmetric_rule, asymmetric_rule,
                     zero_point_rule, degenerate_rule):
    """BLK-9.3 and BLK-9.4: ``(scale, inverse, zero_point, zero_point_open)`` of a group whose range is
    [low, high]: the stored float32 scale s, the inverse r that BLK-9.5's ``reciprocal`` multiplies by, and the
    float32 zero point; ``zero_point_open`` where C or torch leaves its conversion undefined (a NaN)."""
    qmin = -HALF_CODES if codes_rule == SIGNED else np.float64(0.0)
    qmax = qmin + LEVELS
    if range_rule == RANGE_WITH_ZERO and not symmetric:
        # min(low, 0) and max(high, 0) as torch.minimum / torch.maximum and std::min / std::max give them: a
        # NaN stays, and of two zeros the first operand is kept. (A symmetric scale reads the range as it is.)
        low = low if not (0.0 < low) else 0.0
        high = high if not (high < 0.0) else 0.0
    inverse = np.nan
    if symmetric:
        if symmetric_rule == AMAX_OVER_HALF_RANGE:
            amax = max(abs(low), abs(high)) if low == low and high == high else np.nan
            scale = fl32(amax / HALF_LEVELS)
        else:
            extreme = high if abs(high) > abs(low) else low
            scale = fl32(extreme / -HALF_CODES)
        zero_point = qmin + HALF_CODES
        unrounded = zero_point
    elif asymmetric_rule == INVERSE_RANGE:
        spread = fl32(high - low)
        inverse = fl32(quotient(1.0, spread) * LEVELS)
        if degenerate_rule == DEGENERATE_UNIT_INVERSE and abs(spread) <= SMALL_RANGE:
            inverse = 1.0
        if inverse > INVERSE_CEILING:
            inverse = INVERSE_CEILING
        scale = quotient(1.0, inverse)
        # HQQ's -min * r, its sign kept; codes that start below 0 are offset by qmin.
        unrounded = fl32(-low * inverse)
        if qmin != 0.0:
            unrounded = fl32(qmin + unrounded)
        zero_point = unrounded
    else:
        scale = fl32(fl32(high - low) / LEVELS)
        if degenerate_rule == DEGENERATE_ZERO_RECIPROCAL and scale == 0.0:
            unrounded = qmin + low
        else:
            unrounded = fl32(qmin - quotient(low, scale))
        zero_point = unrounded
    open_point = False
    if not symmetric and zero_point_rule != ZERO_POINT_UNROUNDED:
        if unrounded != unrounded:
            open_point = True
            unrounded = qmin
        clamped = min(max(unrounded, qmin), qmax)
        # + 0.0: an integer zero point is stored as an integer, with no sign of zero.
        zero_point = round_to_integer(clamped, HALF_AWAY if zero_point_rule == ZERO_POINT_HALF_AWAY
                                      else HALF_EVEN) + 0.0
    if degenerate_rule == DEGENERATE_EPSILON and scale == 0.0:
        scale = EPSILON
    if inverse != inverse:
        if degenerate_rule == DEGENERATE_ZERO_RECIPROCAL and scale == 0.0:
            inverse = 0.0
        else:
            inverse = quotient(1.0, scale)
    return scale, inverse, zero_point, open_point


@kernel(inline=True)
def element_code(x, scale, inverse, zero_point, qmin, scaling_rule, rounding):
    """BLK-9.5: ``(code, open)`` of the float32 x, with the group's float32 ``scale``, ``inverse``, ``zero_point``
    and ``qmin``: fl32(fl32(x / s) + z) or fl32(fl32(x * r) + z) (float32 operations), rounded by
    ``int4_rounding`` and clamped to the codes; a NaN sum's conversion is undefined (``open``, its code 0)."""
    scaled = float32_quotient(x, scale) if scaling_rule == SCALING_DIVIDE else x * inverse
    value = scaled + zero_point
    # Clamped before it is rounded, which gives the same integer (rounding is monotone and the bounds are
    # integers) and keeps the value in float32's exact integers; a NaN stays.
    top = qmin + LEVELS32
    clamped = qmin if value < qmin else (top if value > top else value)
    code = round_to_integer(clamped, rounding)
    unknown = value != value
    return (np.int8(0) if unknown else np.int8(code)), unknown


@kernel(inline=True)
def group_codes(values, scale, inverse, zero_point, qmin, scaling_rule, rounding, codes):
    """BLK-9.5 on ``values``, one group: their codes, and whether any of them is unpredictable."""
    unknown = False
    for i in range(values.shape[0]):
        code, open_code = element_code(values[i], scale, inverse, zero_point, qmin, scaling_rule, rounding)
        codes[i] = code
        unknown |= open_code
    return unknown


@kernel(inline=True)
def quantize_elements(x, start, stop, scale, inverse, zero_point, qmin, scaling_rule, rounding, codes):
    """BLK-9.5 on x[start:stop], one group: its codes, and whether any of them is unpredictable."""
    # Views, so that every index is known to be nonnegative: no wraparound test keeps the loop from vectorising.
    values, group = x[start:stop], codes[start:stop]
    # One loop for each scaling and rounding rule, given them as constants, and one for a zero divisor: so
    # that no test is left in the loop that the compiler vectorises.
    if scaling_rule == SCALING_DIVIDE and scale == 0.0:
        unknown = group_codes(values, scale, inverse, zero_point, qmin, scaling_rule, rounding, group)
    elif scaling_rule == SCALING_DIVIDE:
        if rounding == HALF_EVEN:
            unknown = group_codes(values, scale, inverse, zero_point, qmin, SCALING_DIVIDE, HALF_EVEN, group)
        else:
            unknown = group_codes(values, scale, inverse, zero_point, qmin, SCALING_DIVIDE, HALF_AWAY, group)
    elif rounding == HALF_EVEN:
        unknown = group_codes(values, scale, inverse, zero_point, qmin, SCALING_RECIPROCAL, HALF_EVEN, group)
    else:
        unknown = group_codes(values, scale, inverse, zero_point, qmin, SCALING_RECIPROCAL, HALF_AWAY, group)
    return unknown


@kernel
def mark_open_codes(x, start, stop, scale, inverse, zero_point, qmin, scaling_rule, rounding, code_open):
    """BLK-9.5: the unpredictable codes of x[start:stop] marked in ``code_open``. (They are rare: the loops of
    :func:`quantize_elements` only note whether there is one.)"""
    for i in range(start, stop):
        code_open[i] = element_code(x[i], scale, inverse, zero_point, qmin, scaling_rule, rounding)[1]


@kernel(inline=True)
def opened(code_open, size):
    """``code_open``, or where it is still empty a new mask of ``size`` codes, all predictable: the mask is made
    when the first unpredictable code is found, and most calls have none."""
    return code_open if code_open.shape[0] == size else np.zeros(size, np.bool_)


@kernel
def quantize_groups(x, bits, columns, group_size, symmetric, codes_rule, range_rule, nan_rule, symmetric_rule,
                    asymmetric_rule, zero_point_rule, degenerate_rule, scaling_rule, rounding,
                    scales, zero_points, codes, scale_open, zero_point_open):
    """BLK-9.2 to BLK-9.5 on the rows of the flat float32 ``x`` (``columns`` each), in groups of
    ``group_size`` consecutive columns, the last one shorter where ``group_size`` does not divide them. Returns
    the mask of the unpredictable codes, empty where there is none."""
    rows = x.shape[0] // columns
    groups = scales.shape[0] // rows
    qmin = np.float32(-HALF_CODES if codes_rule == SIGNED else 0.0)
    # A row's groups in three passes: their ranges, their parameters, their codes. A group's parameters wait for
    # its range, and its codes for its parameters, through a chain of divisions; group after group in one pass,
    # the chains of different groups overlap. (The row stays in the cache from one pass to the next.)
    lows, highs = np.empty(groups), np.empty(groups)
    zero_signs_open = np.empty(groups, np.bool_)
    row_scales, inverses, row_points = np.empty(groups), np.empty(groups), np.empty(groups)
    open_points = np.empty(groups, np.bool_)
    code_open = np.zeros(0, np.bool_)
    for row in range(rows):
        for group in range(groups):
            start = row * columns + group * group_size
            stop = row * columns + min((group + 1) * group_size, columns)
            lows[group], highs[group], zero_signs_open[group] = group_range(x, bits, start, stop, nan_rule)
        for group in range(groups):
            scale, inverse, zero_point, open_point = group_parameters(
                lows[group], highs[group], symmetric, codes_rule, range_rule, symmetric_rule, asymmetric_rule,
                zero_point_rule, degenerate_rule)
            index = row * groups + group
            scales[index] = scale
            zero_points[index] = 0.0 if open_point else zero_point
            zero_point_open[index] = open_point or zero_point != zero_point
            scale_open[index] = scale != scale
            row_scales[group], inverses[group], row_points[group], open_points[group] = (scale, inverse, zero_point,
                                                                                        open_point)
        for group in range(groups):
            start = row * columns + group * group_size
            stop = row * columns + min((group + 1) * group_size, columns)
            index = row * groups + group
            low, high, scale, zero_point = lows[group], highs[group], row_scales[group], row_points[group]
            if open_points[group]:
                codes[start:stop] = 0
                code_open = opened(code_open, x.shape[0])
                code_open[start:stop] = True
            elif quantize_elements(x, start, stop, np.float32(scale), np.float32(inverses[group]),
                                   np.float32(zero_point), qmin, scaling_rule, rounding, codes):
                code_open = opened(code_open, x.shape[0])
                mark_open_codes(x, start, stop, np.float32(scale), np.float32(inverses[group]),
                                np.float32(zero_point), qmin, scaling_rule, rounding, code_open)
            if not zero_signs_open[group]:
                continue
            # BLK-9.2: a zero minimum or maximum may be either zero; whatever is not the same under every choice
            # of their signs is unpredictable.
            for choice in range(4):
                other_low = (-0.0 if choice & 1 else 0.0) if low == 0.0 else low
                other_high = (-0.0 if choice & 2 else 0.0) if high == 0.0 else high
                other_scale, other_inverse, other_point, other_open = group_parameters(
                    other_low, other_high, symmetric, codes_rule, range_rule, symmetric_rule, asymmetric_rule,
                    zero_point_rule, degenerate_rule)
                if other_scale != scale or np.signbit(other_scale) != np.signbit(scale):
                    scale_open[index] = True
                if other_open or other_point != zero_point or np.signbit(other_point) != np.signbit(zero_point):
                    zero_point_open[index] = True
                for i in range(start, stop):
                    if other_open:
                        code_open = opened(code_open, x.shape[0])
                        code_open[i] = True
                        continue
                    code, unknown = element_code(x[i], np.float32(other_scale), np.float32(other_inverse),
                                                 np.float32(other_point), qmin, scaling_rule, rounding)
                    if unknown or code != codes[i]:
                        code_open = opened(code_open, x.shape[0])
                        code_open[i] = True
    return code_open


@kernel
def dequantize_groups(codes, columns, group_size, scales, zero_points, out):
    """BLK-9.6: element i of a row is fl32(fl32(q - z) * s), with its group's scale s and zero point z."""
    rows = codes.shape[0] // columns
    groups = scales.shape[0] // rows
    for row in range(rows):
        for group in range(groups):
            index = row * groups + group
            scale = scales[index]
            zero_point = zero_points[index]
            start = row * columns + group * group_size
            stop = row * columns + min((group + 1) * group_size, columns)
            # Views: their indices are known to be nonnegative, so the loop vectorises.
            group_codes, group_out = codes[start:stop], out[start:stop]
            for i in range(group_codes.shape[0]):
                group_out[i] = (np.float32(group_codes[i]) - zero_point) * scale
