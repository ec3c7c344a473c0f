"""Exact oracle for BLK-7 (bitsandbytes' NF4 and FP4), written apart from refq.

The tables are typed here again from bitsandbytes' get_4bit_type and ONNX Runtime's
blockwise_quant_block_bnb4.h. Every float32 step is a Fraction rounded to float32 by integer arithmetic
on its numerator and denominator; infinities and NaNs follow IEEE 754's rules written out case by case
(``INF``, ``NAN`` below), never Python float arithmetic. Codes are chosen by comparing Fractions with
the thresholds one by one, without the position arithmetic refq uses for the tree.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

NAN = "nan"
#: An infinity is ("inf", sign): sign +1 or -1.
INF = "inf"

NF4 = ["-1.0", "-0.6961928009986877", "-0.5250730514526367", "-0.39491748809814453", "-0.28444138169288635",
       "-0.18477343022823334", "-0.09105003625154495", "0.0", "0.07958029955625534", "0.16093020141124725",
       "0.24611230194568634", "0.33791524171829224", "0.44070982933044434", "0.5626170039176941",
       "0.7229568362236023", "1.0"]
FP4_MAGNITUDES = [Fraction(0), Fraction(1, 192), Fraction(8, 12), Fraction(1), Fraction(4, 12), Fraction(6, 12),
                  Fraction(2, 12), Fraction(3, 12)]
#: ONNX Runtime's QuantizeOneNF4 literals, as its source lists them (root first), and QuantizeOneFP4's.
NF4_TREE = ["0.03979014977812767", "0.3893125355243683", "0.6427869200706482", "0.8614784181118011",
            "0.5016634166240692", "0.2035212516784668", "0.2920137718319893", "0.1202552504837513",
            "-0.33967943489551544", "-0.13791173323988914", "-0.045525018125772476", "-0.23460740596055984",
            "-0.6106329262256622", "-0.4599952697753906", "-0.8480964004993439"]
FP4_TREE = ["0.29166667", "0.583333", "0.8333333", "0.4166667", "0.0859375", "0.20833333", "0.00260417"]
#: QuantizeOneFP4's magnitude codes, from the smallest magnitude up.
FP4_MAGNITUDE_CODES = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011]
BNB_FLOOR_DECIMAL = Fraction("1e-38")


def f32(value: Fraction):
    """The float32 nearest to a finite Fraction, ties to even, by integer arithmetic on its numerator and
    denominator: a Fraction, or an infinity where it overflows."""
    if value == 0:
        return Fraction(0)
    magnitude = abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    while Fraction(2) ** exponent > magnitude:
        exponent -= 1
    while Fraction(2) ** (exponent + 1) <= magnitude:
        exponent += 1
    quantum = max(exponent, -126) - 23  # below 2^-126 the spacing stays 2^-149
    scaled = magnitude / Fraction(2) ** quantum
    steps, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest > scaled.denominator or (2 * rest == scaled.denominator and steps % 2):
        steps += 1
    rounded = steps * Fraction(2) ** quantum
    if rounded >= Fraction(2) ** 128:
        return (INF, -1 if value < 0 else 1)
    return -rounded if value < 0 else rounded


def from_float(x: float):
    if math.isnan(x):
        return NAN
    if math.isinf(x):
        return (INF, 1 if x > 0 else -1)
    return Fraction(x)


@functools.cache
def table_values(quant_type: str) -> tuple[Fraction, ...]:
    if quant_type == "nf4":
        return tuple(f32(Fraction(text)) for text in NF4)
    return tuple([f32(m) for m in FP4_MAGNITUDES] + [-f32(m) for m in FP4_MAGNITUDES])


@functools.cache
def midpoint_bounds(quant_type: str) -> tuple[tuple[int, ...], tuple[Fraction, ...]]:
    """The codes in increasing order of value (equal values by code) and the float32 midpoints between them."""
    values = table_values(quant_type)
    order = tuple(sorted(range(16), key=lambda code: (values[code], code)))
    return order, tuple(f32((values[low] + values[high]) / 2) for low, high in zip(order, order[1:]))


@functools.cache
def tree_literals(quant_type: str) -> tuple[Fraction, ...]:
    return tuple(sorted(f32(Fraction(text)) for text in (NF4_TREE if quant_type == "nf4" else FP4_TREE)))


def _is_inf(value) -> bool:
    return isinstance(value, tuple)


def multiply(a, b):
    """IEEE 754 product of two extended values, rounded to float32 (zero signs are not tracked: no code
    depends on them)."""
    if a == NAN or b == NAN:
        return NAN
    if _is_inf(a) or _is_inf(b):
        if (not _is_inf(a) and a == 0) or (not _is_inf(b) and b == 0):
            return NAN
        sign = (a[1] if _is_inf(a) else (1 if a > 0 else -1)) * (b[1] if _is_inf(b) else (1 if b > 0 else -1))
        return (INF, sign)
    return f32(a * b)


def divide(a, b):
    """IEEE 754 quotient a / b for a positive finite b, rounded to float32."""
    if a == NAN or b == NAN:
        return NAN
    if _is_inf(a):
        return a
    return f32(a / b)


def less(a, b) -> bool:
    """a < b for a Fraction threshold a and an extended value b (a NaN compares false)."""
    if b == NAN:
        return False
    if _is_inf(b):
        return b[1] > 0
    return a < b


def absmax(block: list, nan_rule: str):
    largest = Fraction(0)
    for x in block:
        if x == NAN:
            if nan_rule == "propagates":
                return NAN
            continue
        if _is_inf(x):
            largest = (INF, 1)
            continue
        if not _is_inf(largest):
            largest = max(largest, abs(x))
    return largest


def reciprocal(a, rule: str):
    """BLK-7.3's r for an absmax ``a``."""
    floor = f32(BNB_FLOOR_DECIMAL)
    if a == NAN:
        return NAN
    if _is_inf(a):
        return Fraction(0)
    if rule == "clamped":
        return f32(1 / max(a, floor))
    if a == 0:
        return Fraction(0)
    return f32(1 / a)


def select(v, quant_type: str, thresholds: str, nan_code: str) -> int:
    values = table_values(quant_type)
    largest = max(range(16), key=lambda code: (values[code], code))
    if v == NAN:
        return largest if nan_code == "largest" else 0
    if thresholds == "float32_midpoints":
        order, bounds = midpoint_bounds(quant_type)
        return order[sum(1 for bound in bounds if less(bound, v))]
    literals = tree_literals(quant_type)
    if quant_type == "nf4":
        return sum(1 for literal in literals if less(literal, v))
    negative = _is_inf(v) and v[1] < 0 or (not _is_inf(v) and v < 0)
    magnitude = (INF, 1) if _is_inf(v) else abs(v)
    code = FP4_MAGNITUDE_CODES[sum(1 for literal in literals if less(literal, magnitude))]
    return code + (8 if negative else 0)


def quantize(x: list[float], quant_type: str, block_size: int, variants: dict) -> tuple[list, list[int]]:
    """(absmax per block as extended values, one code per element plus the padding code for an odd count)."""
    values = [from_float(float(value)) for value in x]
    absmaxes, codes = [], []
    for start in range(0, len(values), block_size):
        block = values[start:start + block_size]
        a = absmax(block, variants["bnb4_absmax_nan"])
        absmaxes.append(a)
        partial = len(block) < block_size
        for element in block:
            if partial and variants["bnb4_tail"] == "divide":
                floor = f32(BNB_FLOOR_DECIMAL)
                divisor = a if a == NAN or _is_inf(a) or a >= floor else floor
                if divisor == NAN:
                    v = NAN
                elif _is_inf(divisor):
                    v = NAN if _is_inf(element) or element == NAN else Fraction(0)
                else:
                    v = divide(element, divisor)
            else:
                v = multiply(element, reciprocal(a, variants["bnb4_reciprocal"]))
            codes.append(select(v, quant_type, variants["bnb4_thresholds"], variants["bnb4_nan_code"]))
    if len(codes) % 2:
        codes.append(select(Fraction(0), quant_type, variants["bnb4_thresholds"], variants["bnb4_nan_code"]))
    return absmaxes, codes


def dequantize(codes: list[int], absmax: list[float], quant_type: str, block_size: int, variants: dict) -> list:
    """Each value as (sign, extended magnitude) with sign +1/-1 for zeros too; NaN as NAN."""
    values = table_values(quant_type)
    results = []
    for i, code in enumerate(codes):
        a = float(absmax[i // block_size])
        t = values[code]
        t_sign = -1 if t < 0 or (code == 8 and quant_type == "fp4"
                                 and variants["bnb4_fp4_code8"] == "negative_zero") else 1
        if math.isnan(a):
            results.append(NAN)
            continue
        a_sign = -1 if math.copysign(1.0, a) < 0 else 1
        if math.isinf(a):
            results.append(NAN if t == 0 else (INF, t_sign * a_sign))
            continue
        product = f32(t * Fraction(a))
        if _is_inf(product):
            results.append(product)
            continue
        sign = t_sign * a_sign if product == 0 else (1 if product > 0 else -1)
        if product == 0 and variants["bnb4_zero_sign"] == "positive":
            sign = 1
        results.append((sign, product))
    return results
