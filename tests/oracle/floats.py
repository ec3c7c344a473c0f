"""Exact oracle for NUM-3 (binary floating point), written apart from refq.

The format parameters are typed here again from the standards (IEEE 754-2019
table 3.5, OCP OFP8 1.0, OCP MX 1.0, ONNX FNUZ types) instead of read from refq's
registry, so a wrong registry entry shows up as a mismatch. Decoding reads the
fields from the pattern's binary digits as a string; encoding searches the
ordered positive patterns for the two values around the input and picks the
nearer, ties to the even pattern. No part of it shares an algorithm with refq.
"""

from __future__ import annotations

from fractions import Fraction

# name: (exponent bits, mantissa bits, bias, convention)
FORMATS = {
    "binary32": (8, 23, 127, "ieee"),
    "binary16": (5, 10, 15, "ieee"),
    "bfloat16": (8, 7, 127, "ieee"),
    "float8_e4m3fn": (4, 3, 7, "fn"),
    "float8_e5m2": (5, 2, 15, "ieee"),
    "float8_e4m3fnuz": (4, 3, 8, "fnuz"),
    "float8_e5m2fnuz": (5, 2, 16, "fnuz"),
    "float6_e3m2fn": (3, 2, 3, "finite"),
    "float6_e2m3fn": (2, 3, 1, "finite"),
    "float4_e2m1fn": (2, 1, 1, "finite"),
}

# Largest finite values as the format documents state them.
DOCUMENTED_MAX = {
    "binary32": Fraction((2**24 - 1) * 2**104),
    "binary16": Fraction(65504),
    "bfloat16": Fraction((2**8 - 1) * 2**120),
    "float8_e4m3fn": Fraction(448),
    "float8_e5m2": Fraction(57344),
    "float8_e4m3fnuz": Fraction(240),
    "float8_e5m2fnuz": Fraction(57344),
    "float6_e3m2fn": Fraction(28),
    "float6_e2m3fn": Fraction(15, 2),
    "float4_e2m1fn": Fraction(6),
}


def width(name: str) -> int:
    exponent_bits, mantissa_bits, _, _ = FORMATS[name]
    return 1 + exponent_bits + mantissa_bits


def decode(pattern: int, name: str) -> tuple[str, int, Fraction | None]:
    """(class, sign, exact value or None) of ``pattern``."""
    exponent_bits, mantissa_bits, bias, convention = FORMATS[name]
    digits = format(pattern, f"0{width(name)}b")
    sign = int(digits[0])
    exponent_digits = digits[1 : 1 + exponent_bits]
    mantissa_digits = digits[1 + exponent_bits :]
    exponent = int(exponent_digits, 2)
    mantissa = int(mantissa_digits, 2)
    if convention == "ieee" and set(exponent_digits) == {"1"}:
        return ("infinity" if mantissa == 0 else "nan"), sign, None
    if convention == "fn" and set(exponent_digits + mantissa_digits) == {"1"}:
        return "nan", sign, None
    if convention == "fnuz" and digits == "1" + "0" * (width(name) - 1):
        return "nan", sign, None
    if exponent == 0:
        magnitude = Fraction(mantissa, 2**mantissa_bits) * Fraction(2) ** (1 - bias)
        kind = "zero" if mantissa == 0 else "subnormal"
    else:
        magnitude = Fraction(2**mantissa_bits + mantissa, 2**mantissa_bits) * Fraction(2) ** (exponent - bias)
        kind = "normal"
    return kind, sign, (-magnitude if sign else magnitude)


def largest_finite(name: str) -> int:
    """The positive pattern of the largest finite value.

    Special values sit at the top of the positive patterns: none, the single
    all-ones pattern, or the whole all-ones exponent. So the answer is the
    largest finite one of: all ones; all ones less one; all ones with the
    exponent's lowest bit cleared.
    """
    _, mantissa_bits, _, _ = FORMATS[name]
    all_ones = 2 ** (width(name) - 1) - 1
    candidates = (all_ones, all_ones - 1, all_ones - 2**mantissa_bits)
    return next(p for p in candidates if decode(p, name)[2] is not None)


def _pattern_value(pattern: int, name: str) -> Fraction:
    return decode(pattern, name)[2]


def encode(negative: bool, magnitude: Fraction, name: str, overflow: str) -> int:
    """Round ``magnitude`` (>= 0) with the given sign, to nearest with ties to even."""
    _, _, _, convention = FORMATS[name]
    sign_bit = 2 ** (width(name) - 1) if negative else 0
    top = largest_finite(name)
    top_value = _pattern_value(top, name)

    def overflowed() -> int:
        if overflow == "infinity" and convention == "ieee":
            return sign_bit | (top + 1)
        if overflow == "infinity" and convention == "fn":
            return sign_bit | (2 ** (width(name) - 1) - 1)
        if overflow == "infinity" and convention == "fnuz":
            return 2 ** (width(name) - 1)
        return sign_bit | top

    if magnitude > top_value:
        # The next value with an unlimited exponent lies one spacing above the top.
        beyond = top_value + (top_value - _pattern_value(top - 1, name))
        if magnitude - top_value < beyond - magnitude:
            return sign_bit | top
        if magnitude - top_value > beyond - magnitude:
            return overflowed()
        return sign_bit | top if top % 2 == 0 else overflowed()
    low, high = 0, top  # invariant: value(low) <= magnitude <= value(high)
    while high - low > 1:
        middle = (low + high) // 2
        if _pattern_value(middle, name) <= magnitude:
            low = middle
        else:
            high = middle
    below, above = _pattern_value(low, name), _pattern_value(high, name)
    if magnitude == below:
        chosen = low
    elif magnitude == above:
        chosen = high
    elif magnitude - below < above - magnitude:
        chosen = low
    elif magnitude - below > above - magnitude:
        chosen = high
    else:
        chosen = low if low % 2 == 0 else high
    if chosen == 0 and convention == "fnuz":
        return 0
    return sign_bit | chosen
