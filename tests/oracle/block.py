"""Exact oracle for BLK (block-scaled formats, OCP MX), written apart from refq.

Every step is rational arithmetic on Fractions: the block maximum, the binary logarithm's floor
and ceiling by comparing with powers of two, the element rounding by searching the ordered
element values (:mod:`tests.oracle.floats`), float32 roundings by the same search over binary32.
``rceil_log2_float32``'s logarithm is computed with mpmath at 60 digits and rounded to float32 by
that search, instead of refq's bound on the fraction.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from tests.oracle import floats

E8M0_BIAS = 127
NAN_SCALE = 255
#: The element formats: (name, emax = the exponent of the largest normal, typed from OCP MX 1.0 table 1).
EMAX = {"float8_e4m3fn": 8, "float8_e5m2": 15, "float6_e3m2fn": 4, "float6_e2m3fn": 2, "float4_e2m1fn": 2}


def floor_log2(value: Fraction) -> int:
    k = value.numerator.bit_length() - value.denominator.bit_length()
    while Fraction(2) ** k > value:
        k -= 1
    while Fraction(2) ** (k + 1) <= value:
        k += 1
    return k


def ceil_log2(value: Fraction) -> int:
    k = floor_log2(value)
    return k if Fraction(2) ** k == value else k + 1


def round_float32(value: Fraction) -> Fraction:
    pattern = floats.encode(value < 0, abs(value), "binary32", "infinity")
    return floats.decode(pattern, "binary32")[2]


def float32_log2(value: Fraction) -> Fraction:
    """log2(value) rounded to the nearest float32, from a 60-digit logarithm."""
    with mpmath.workdps(60):
        logarithm = mpmath.log(mpmath.mpf(value.numerator) / value.denominator, 2)
        return round_float32(Fraction(str(mpmath.nstr(logarithm, 55, strip_zeros=False))))


def shared_exponent(amax: Fraction, rule: str, name: str) -> int:
    emax = EMAX[name]
    mantissa_bits = floats.FORMATS[name][1]
    largest = floats.DOCUMENTED_MAX[name]
    if rule == "floor":
        return floor_log2(amax) - emax
    if rule == "ceil":
        return ceil_log2(amax) - emax
    if rule == "even":
        quantum = Fraction(2) ** (floor_log2(amax) - mantissa_bits)
        rounded = math.floor(amax / quantum + Fraction(1, 2)) * quantum  # half up
        return floor_log2(rounded) - emax
    descale = round_float32(amax / largest)
    if descale == 0:
        return -127
    if rule == "rceil":
        return ceil_log2(descale)
    assert rule == "rceil_log2_float32", rule
    return math.ceil(float32_log2(descale))


def encode_element(value: Fraction, negative: bool, name: str, ties: str) -> int:
    code = floats.encode(negative, abs(value), name, "saturate")
    if ties == "half_toward_zero":
        sign = code & (1 << (floats.width(name) - 1))
        magnitude = code ^ sign
        if magnitude > 0:
            below = floats.decode(magnitude - 1, name)[2]
            chosen = floats.decode(magnitude, name)[2]
            if abs(value) - below == chosen - abs(value):
                return sign | (magnitude - 1)
    return code


def quantize_block(block: list[float], name: str, *, rule: str = "floor", infinity: str = "nan_scale",
                   nan: str = "nan_scale", tiny: str = "exact", ties: str = "half_to_even",
                   zero: str = "sign_bit") -> tuple[int | None, list[int | None]]:
    """(scale code, element codes) of one block of float32 values; None for an open scale or element code."""
    if any(math.isnan(x) for x in block):
        return (None if nan == "unpredictable" else NAN_SCALE), [None] * len(block)
    if any(math.isinf(x) for x in block):
        if infinity in ("nan_scale", "unpredictable"):
            return (NAN_SCALE if infinity == "nan_scale" else None), [None] * len(block)
        exponent = 127 if infinity == "largest_scale" else 128 - EMAX[name]
    else:
        amax = max(abs(Fraction(x)) for x in block)
        exponent = -127 if amax == 0 else shared_exponent(amax, rule, name)
    scale = min(max(exponent, -127), 127) + E8M0_BIAS
    divisor = scale - E8M0_BIAS
    if scale == 0 and tiny == "float32_min_normal":
        divisor = -126
    if scale == 0 and tiny == "unit":
        divisor = 0
    codes = []
    for x in block:
        negative = math.copysign(1.0, x) < 0
        if math.isinf(x):
            codes.append(floats.encode(negative, Fraction(0), name, "saturate") | floats.largest_finite(name))
            continue
        quotient = Fraction(x) / Fraction(2) ** divisor
        # The float32 quotient is zero when the exact one is at most half the smallest subnormal.
        if zero == "negative" and abs(quotient) <= Fraction(1, 2 ** 150):
            negative = True
        codes.append(encode_element(quotient, negative, name, ties))
    return scale, codes


def dequantize_bits(scale: int, code: int, name: str, nan_scale: str = "nan") -> int | None:
    """The float32 bit pattern of one dequantized element; None where it is a NaN (bits open)."""
    kind, sign, value = floats.decode(code, name)
    if scale == NAN_SCALE and (nan_scale == "nan" or kind == "nan" or value == 0):
        return None  # under power_of_two, 2^128 is +infinity in float32, and 0 times it NaN
    if scale == NAN_SCALE:
        return (sign << 31) | 0x7F800000
    if kind == "nan":
        return None
    if kind == "infinity":
        return (sign << 31) | 0x7F800000
    return floats.encode(bool(sign), abs(value) * Fraction(2) ** (scale - E8M0_BIAS), "binary32", "infinity")
