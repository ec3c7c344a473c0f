"""Exact oracle for BLK-8 (NVIDIA's NVFP4), written apart from refq.

A float32 is a Fraction, or ("inf", sign), or NAN; zeros carry their sign as ("zero", sign) only where a rule
reads it (the scaled elements' -0). Every step is an exact rational operation rounded to float32 by
:func:`tests.oracle.bnb4.f32` (integer arithmetic on numerator and denominator), with IEEE 754's infinities
and NaNs written out case by case. E4M3 codes come from :func:`tests.oracle.floats.encode` (ties to even, NaN
beyond the largest value), E2M1 codes by comparing |y| with each value's distance, ties to the even code.
"""

from __future__ import annotations

import math
from fractions import Fraction

from tests.oracle.bnb4 import f32
from tests.oracle.floats import decode, encode

NAN = "nan"
INF = "inf"
F32_MAX = Fraction((2 ** 24 - 1) * 2 ** 104)
E2M1 = [Fraction(v) for v in ("0", "1/2", "1", "3/2", "2", "3", "4", "6")]


def is_inf(value) -> bool:
    return isinstance(value, tuple)


def sign_of(value) -> int:
    if is_inf(value):
        return value[1]
    return -1 if value < 0 else 1


def from_float(x: float):
    """A float32 input (a Python float) as an extended value; -0 as Fraction 0 with its sign kept aside."""
    if math.isnan(x):
        return NAN
    if math.isinf(x):
        return (INF, 1 if x > 0 else -1)
    return Fraction(x)


def round32(value: Fraction):
    return f32(value)


def mul(a, b):
    if a == NAN or b == NAN:
        return NAN
    if is_inf(a) or is_inf(b):
        if (not is_inf(a) and a == 0) or (not is_inf(b) and b == 0):
            return NAN
        return (INF, sign_of(a) * sign_of(b))
    return round32(a * b)


def div(a, b):
    if a == NAN or b == NAN:
        return NAN
    if is_inf(a) and is_inf(b):
        return NAN
    if is_inf(a):
        return (INF, a[1] * sign_of(b))
    if is_inf(b):
        return Fraction(0)
    if b == 0:
        return NAN if a == 0 else (INF, sign_of(a))
    return round32(a / b)


def minimum(a, b):
    if a == NAN or b == NAN:
        return NAN
    return a if less(a, b) else b


def less(a, b) -> bool:
    if a == NAN or b == NAN:
        return False
    if is_inf(a) and is_inf(b):
        return a[1] < b[1]
    if is_inf(a):
        return a[1] < 0
    if is_inf(b):
        return b[1] > 0
    return a < b


def magnitude(value):
    if value == NAN:
        return NAN
    if is_inf(value):
        return (INF, 1)
    return abs(value)


def amax(values: list):
    largest = Fraction(0)
    for value in values:
        if value == NAN:
            return NAN
        if less(largest, magnitude(value)):
            largest = magnitude(value)
    return largest


def e4m3(value) -> int | None:
    """The E4M3 code of a non-negative extended value; None for NaN (whose code's sign is open)."""
    if value == NAN:
        return None
    if is_inf(value):
        return 0x7F
    return encode(False, value, "float8_e4m3fn", "infinity")


def e4m3_value(code: int):
    kind, sign, value = decode(code, "float8_e4m3fn")
    return NAN if value is None else value


def e2m1_code(y, negative_zero: bool, variants: dict) -> int | None:
    """The E2M1 code of scaled value ``y`` (``negative_zero``: y is -0); None where it is unpredictable."""
    if y == NAN:
        return {"payload": None, "largest": 7, "zero": 0}[variants["nvfp4_element_nan"]]
    size = Fraction(6) if is_inf(y) else min(abs(y), Fraction(6))
    best = min(range(8), key=lambda code: (abs(E2M1[code] - size), code % 2))
    if variants["nvfp4_negative_zero"] == "kept":
        negative = negative_zero or sign_of(y) < 0
    else:
        negative = less(y, Fraction(0))
    return best | (8 if negative else 0)


def quantize(rows: list[list[float]], variants: dict):
    """``(tensor value, block codes or None, element codes or None)`` of every block of 16 of ``rows``."""
    values = [[from_float(x) for x in row] for row in rows]
    signs = [[math.copysign(1.0, x) < 0 for x in row] for row in rows]
    tensor_amax = amax([v for row in values for v in row])
    arithmetic = variants["nvfp4_scale_arithmetic"]
    if arithmetic == "encode_scale":
        encode_scale = minimum(div(Fraction(2688), tensor_amax), F32_MAX)
        if encode_scale == 0:
            encode_scale = Fraction(1)
        stored = tensor_amax
        decode_scale = div(Fraction(1), encode_scale)
        multiplier = mul(encode_scale, round32(Fraction(1, 6)))
    else:
        stored = div(tensor_amax, Fraction(2688))
    scales, codes = [], []
    for row, row_signs in zip(values, signs):
        for start in range(0, len(row), 16):
            block = row[start:start + 16]
            block_amax = amax(block)
            if arithmetic == "divide_then_reciprocal":
                q = div(div(block_amax, Fraction(6)), stored)
            elif arithmetic == "divide_by_product":
                q = div(block_amax, mul(Fraction(6), stored))
            else:
                q = minimum(mul(block_amax, multiplier), F32_MAX)
            if variants["nvfp4_zero_scale"] == "one" and q == Fraction(0):
                q = Fraction(1)
            floor = {"min_normal": Fraction(1, 64), "min_subnormal": Fraction(1, 512), "none": None}[
                variants["nvfp4_scale_floor"]]
            if floor is not None and less(q, floor):
                q = floor
            if variants["nvfp4_scale_ceiling"] == "clamped" and less(Fraction(448), q):
                q = Fraction(448)
            code = e4m3(q)
            scales.append(code)
            s8 = NAN if code is None else e4m3_value(code)
            for offset, x in enumerate(block):
                if arithmetic == "divide_then_reciprocal":
                    y = mul(x, div(div(Fraction(1), stored), s8))
                elif arithmetic == "divide_by_product":
                    y = div(x, mul(s8, stored))
                else:
                    y = mul(x, minimum(div(Fraction(1), mul(s8, decode_scale)), F32_MAX))
                # Every factor is positive (or NaN), so a zero y has x's sign: -0, or a negative x that underflowed.
                negative_zero = y != NAN and not is_inf(y) and y == 0 and row_signs[start + offset]
                codes.append(e2m1_code(y, negative_zero, variants))
    return stored, scales, codes


def dequantize(stored, scale_codes: list[int], codes: list[int], variants: dict) -> list:
    """Every element's value: an extended value (a zero's sign is not tracked)."""
    out = []
    for block, scale_code in enumerate(scale_codes):
        factor = mul(e4m3_value(scale_code), stored)
        if variants["nvfp4_dequantize_scale"] == "amax_factor":
            factor = mul(factor, round32(Fraction(1, 2688)))
        for code in codes[16 * block:16 * block + 16]:
            value = E2M1[code & 7]
            out.append(mul(-value if code & 8 else value, factor))
    return out
