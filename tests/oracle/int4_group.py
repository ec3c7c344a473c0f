"""Exact oracle for BLK-9 (weight-only int4 groups), written apart from refq.

A float32 is NAN, or (sign, magnitude) with sign +1 or -1 and magnitude a non-negative Fraction or INF, so
zeros and infinities carry their sign. Every float32 step is the exact rational result rounded to float32 by
:func:`tests.oracle.bnb4.f32` (integer arithmetic on numerator and denominator); IEEE 754's infinities, NaNs
and signed zeros are written out case by case (x - x is +0, a product or quotient has the XOR of the signs).
Integer rounding is :func:`tests.oracle.rounding.round_fraction` on Fractions.

BLK-9.2's zero-sign rule is applied by enumeration: where a group holds zeros of both signs and its minimum or
maximum is a zero, the group is worked out under each sign that minimum and maximum may have, and every result
that is not the same under all of them is unpredictable.
"""

from __future__ import annotations

import itertools
import math
import struct
from fractions import Fraction

from tests.oracle.bnb4 import f32
from tests.oracle.rounding import round_fraction

NAN = "nan"
INF = "inf"
F32_MAX = Fraction((2 ** 24 - 1) * 2 ** 104)
ROUNDING = {"half_even": "half_to_even", "half_away": "half_away_from_zero"}


# --- float32 values -------------------------------------------------------------------------------------------

def const(value) -> tuple:
    value = Fraction(value)
    return (-1 if value < 0 else 1, abs(value))


ZERO, ONE = const(0), const(1)


def from_float(x: float):
    if math.isnan(x):
        return NAN
    sign = -1 if math.copysign(1.0, x) < 0 else 1
    return (sign, INF) if math.isinf(x) else (sign, abs(Fraction(x)))


def to_float(value) -> float:
    """The Python float of a float32 value (exact: float32 values are doubles); a value off the float32 grid is
    rounded to float32 first."""
    if value == NAN:
        return math.nan
    value = round32(value[0], value[0] * value[1]) if value[1] != INF else value
    sign, magnitude = value
    if magnitude == INF:
        return sign * math.inf
    return math.copysign(float(magnitude), sign)


def bits(value) -> int:
    return struct.unpack("<I", struct.pack("<f", to_float(value)))[0]


def is_nan(value) -> bool:
    return value == NAN


def is_inf(value) -> bool:
    return value != NAN and value[1] == INF


def is_zero(value) -> bool:
    return value != NAN and value[1] == 0


def round32(sign: int, exact: Fraction):
    """The float32 nearest the exact finite ``exact``; ``sign`` is the sign an exact zero has."""
    if exact == 0:
        return (sign, Fraction(0))
    rounded = f32(exact)
    if isinstance(rounded, tuple):
        return (rounded[1], INF)
    return (-1 if exact < 0 else 1, abs(rounded))


def signed(value) -> Fraction:
    return value[0] * value[1]


def neg(value):
    return NAN if value == NAN else (-value[0], value[1])


def magnitude(value):
    return NAN if value == NAN else (1, value[1])


def add(a, b):
    if a == NAN or b == NAN:
        return NAN
    if is_inf(a) and is_inf(b):
        return a if a[0] == b[0] else NAN
    if is_inf(a):
        return a
    if is_inf(b):
        return b
    exact = signed(a) + signed(b)
    # An exact zero sum is +0 under rounding to nearest, -0 only for (-0) + (-0).
    zero_sign = -1 if (a == (-1, 0) and b == (-1, 0)) else 1
    return round32(zero_sign, exact)


def sub(a, b):
    return add(a, neg(b))


def mul(a, b):
    if a == NAN or b == NAN:
        return NAN
    sign = a[0] * b[0]
    if is_inf(a) or is_inf(b):
        if is_zero(a) or is_zero(b):
            return NAN
        return (sign, INF)
    return round32(sign, sign * a[1] * b[1])


def div(a, b):
    if a == NAN or b == NAN:
        return NAN
    sign = a[0] * b[0]
    if is_inf(a) and is_inf(b):
        return NAN
    if is_inf(a):
        return (sign, INF)
    if is_inf(b):
        return (sign, Fraction(0))
    if b[1] == 0:
        return NAN if a[1] == 0 else (sign, INF)
    return round32(sign, sign * a[1] / b[1])


def key(value):
    """An order key of a non-NaN value: infinities outside every finite value, the zeros equal."""
    if is_inf(value):
        return (value[0], Fraction(0))
    return (0, signed(value))


def less(a, b) -> bool:
    if a == NAN or b == NAN:
        return False
    return key(a) < key(b)


# --- BLK-9.2: the range -----------------------------------------------------------------------------------------

def range_ignored(values: list):
    """MLAS: a scan from (F, -F) that takes v < m and v > M; a NaN never compares, of equal values (the two
    zeros included) the first is kept."""
    low, high = const(F32_MAX), const(-F32_MAX)
    for v in values:
        if less(v, low):
            low = v
        if less(high, v):
            high = v
    return low, high


def range_candidates(values: list, nan_rule: str) -> list[tuple]:
    """Every (m, M) the group may have: one pair, but under ``propagates`` a minimum or maximum that is a zero in
    a group with zeros of both signs may be either zero."""
    if nan_rule == "ignored":
        return [range_ignored(values)]
    if any(v == NAN for v in values):
        return [(NAN, NAN)]
    low = min(values, key=key)
    high = max(values, key=key)
    zero_signs = sorted({v[0] for v in values if is_zero(v)})
    lows = [(s, Fraction(0)) for s in zero_signs] if is_zero(low) else [low]
    highs = [(s, Fraction(0)) for s in zero_signs] if is_zero(high) else [high]
    return list(itertools.product(lows, highs))


# --- BLK-9.3 to BLK-9.5: one group under one range ------------------------------------------------------------

def round_integer(value, rule: str, qmin: int, qmax: int) -> int:
    """A non-NaN value clamped to [qmin, qmax] and rounded by ``rule`` (an infinity saturates)."""
    if is_inf(value):
        return qmax if value[0] > 0 else qmin
    rounded = round_fraction(signed(value), ROUNDING[rule])
    return min(max(rounded, qmin), qmax)


def group_outcome(values: list, low, high, symmetric: bool, variants: dict) -> dict:
    """scale, zero point (float32 values) and codes (int, or None where unpredictable) of a group with range
    [low, high]; ``zero_point_open`` where a rounded zero point's conversion is undefined."""
    qmin = -8 if variants["int4_codes"] == "signed" else 0
    qmax = qmin + 15
    degenerate = variants["int4_degenerate_scale"]
    inverse = None
    zero_point_open = False
    if symmetric:
        rule = variants["int4_symmetric_scale"]
        if rule == "unsupported":
            raise ValueError("symmetric")
        if rule == "amax_over_half_range":
            if low == NAN or high == NAN:
                scale = NAN
            else:
                amax = magnitude(high) if less(magnitude(low), magnitude(high)) else magnitude(low)
                scale = div(amax, const(Fraction(15, 2)))
        else:
            extreme = high if less(magnitude(low), magnitude(high)) else low
            scale = div(extreme, const(-8))
        zero_point = const(qmin + 8)
    else:
        if variants["int4_range"] == "with_zero":
            # min(m, 0) and max(M, 0): a NaN stays, and a zero m or M keeps its own sign.
            low = ZERO if less(ZERO, low) else low
            high = ZERO if less(high, ZERO) else high
        if variants["int4_asymmetric_scale"] == "inverse_range":
            spread = sub(high, low)
            inverse = mul(div(ONE, spread), const(15))
            if degenerate == "unit_inverse" and spread != NAN and not less(const(f32(Fraction("1e-4"))),
                                                                           magnitude(spread)):
                inverse = ONE
            if less(const(20000), inverse):
                inverse = const(20000)
            scale = div(ONE, inverse)
            unrounded = mul(neg(low), inverse)
            if qmin:
                unrounded = add(const(qmin), unrounded)
        else:
            scale = div(sub(high, low), const(15))
            if degenerate == "zero_reciprocal" and is_zero(scale):
                # q_min + m, exactly (the spec writes no fl32 here); m is finite since M - m rounded to 0.
                unrounded = const(qmin + signed(low))
            else:
                unrounded = sub(const(qmin), div(low, scale))
        if variants["int4_zero_point"] == "unrounded":
            zero_point = unrounded
        elif unrounded == NAN:
            zero_point, zero_point_open = NAN, True
        else:
            zero_point = const(round_integer(unrounded, variants["int4_zero_point"], qmin, qmax))
    if is_zero(scale) and degenerate == "epsilon":
        scale = const(Fraction(1, 2 ** 23))
    if is_zero(scale) and degenerate == "zero_reciprocal":
        inverse = ZERO
    elif inverse is None:
        inverse = div(ONE, scale)
    codes = []
    for x in values:
        if zero_point_open:
            codes.append(None)
            continue
        if variants["int4_element_scaling"] == "divide":
            scaled = div(x, scale)
        else:
            scaled = mul(x, inverse)
        total = add(scaled, zero_point)
        codes.append(None if total == NAN else round_integer(total, variants["int4_rounding"], qmin, qmax))
    return {"scale": scale, "zero_point": zero_point, "codes": codes, "zero_point_open": zero_point_open}


def quantize_group(elements: list[float], symmetric: bool, variants: dict) -> dict:
    """BLK-9.2 to BLK-9.5 on one group of float32 ``elements`` (Python floats) under ``variants`` (every BLK-9
    variant's value): ``scale`` and ``zero_point`` as Python floats (exact float32 values), ``codes`` as ints,
    and ``scale_open``, ``zero_point_open`` and ``codes_open`` (a list of bools): what the spec leaves
    unpredictable (a NaN scale or zero point, a rounded zero point of a NaN and its group's codes, a NaN sum's
    code, and whatever depends on the sign of a zero minimum or maximum)."""
    values = [from_float(float(x)) for x in elements]
    outcomes = [group_outcome(values, low, high, symmetric, variants)
                for low, high in range_candidates(values, variants["int4_minmax_nan"])]
    first = outcomes[0]
    scale_bits = {bits(o["scale"]) for o in outcomes}
    point_bits = {bits(o["zero_point"]) for o in outcomes}
    scale_open = first["scale"] == NAN or len(scale_bits) > 1
    zero_point_open = any(o["zero_point_open"] or o["zero_point"] == NAN for o in outcomes) or len(point_bits) > 1
    codes, codes_open = [], []
    for i in range(len(values)):
        column = [o["codes"][i] for o in outcomes]
        unknown = any(code is None for code in column) or len(set(column)) > 1
        codes.append(0 if unknown else column[0])
        codes_open.append(unknown)
    return {"scale": to_float(first["scale"]), "zero_point": to_float(first["zero_point"]), "codes": codes,
            "scale_open": scale_open, "zero_point_open": zero_point_open, "codes_open": codes_open}


def dequantize_value(code: int, scale: float, zero_point: float) -> tuple[float, bool]:
    """BLK-9.6: fl32(fl32(q - z) * s) as a Python float, and whether it is a NaN (unpredictable sign and
    payload)."""
    value = mul(sub(const(code), from_float(zero_point)), from_float(scale))
    return to_float(value), value == NAN
