"""Oracle for NUM-2: rounding exact rationals and binary floats to integers.

Pure Python ints and fractions.Fraction; no numpy, no refq. A rational is
rounded by comparing its distances to the two neighbouring integers; a float is
decoded from its bit pattern into an exact dyadic rational, rounded, and the
integer result encoded back into a bit pattern.
"""

from __future__ import annotations

import math
from fractions import Fraction

MODES = (
    "half_to_even",
    "half_away_from_zero",
    "half_toward_positive",
    "half_toward_zero",
    "toward_zero",
    "floor",
    "ceil",
)


def round_fraction(value: Fraction, mode: str) -> int:
    """Round an exact rational: directed modes pick a side; nearest modes compare distances."""
    below, above = math.floor(value), math.ceil(value)
    if below == above:
        return below
    if mode == "floor":
        return below
    if mode == "ceil":
        return above
    if mode == "toward_zero":
        return math.trunc(value)
    distance_below, distance_above = value - below, above - value
    if distance_below != distance_above:
        return below if distance_below < distance_above else above
    if mode == "half_to_even":
        return below if below % 2 == 0 else above
    if mode == "half_away_from_zero":
        return above if value > 0 else below
    if mode == "half_toward_positive":
        return above
    if mode == "half_toward_zero":
        return below if value > 0 else above
    raise ValueError(mode)


class BinaryFormat:
    """An IEEE-754-style binary format: 1 sign bit, ``exponent_bits``, ``fraction_bits``."""

    def __init__(self, exponent_bits: int, fraction_bits: int) -> None:
        self.exponent_bits = exponent_bits
        self.fraction_bits = fraction_bits
        self.bias = 2 ** (exponent_bits - 1) - 1
        self.sign_bit = 2 ** (exponent_bits + fraction_bits)

    def decode(self, pattern: int) -> tuple[int, str | tuple[int, int]]:
        """(sign, "nan" | "inf" | (integer significand, power of two))."""
        sign = pattern // self.sign_bit
        biased = (pattern // 2**self.fraction_bits) % 2**self.exponent_bits
        fraction = pattern % 2**self.fraction_bits
        if biased == 2**self.exponent_bits - 1:
            return sign, ("inf" if fraction == 0 else "nan")
        if biased == 0:  # subnormal or zero: no implicit leading 1
            return sign, (fraction, 1 - self.bias - self.fraction_bits)
        return sign, (fraction + 2**self.fraction_bits, biased - self.bias - self.fraction_bits)

    def encode_integer(self, sign: int, magnitude: int) -> int:
        """The pattern of the integer ±magnitude, which must be exactly representable."""
        if magnitude == 0:
            return sign * self.sign_bit
        top = magnitude.bit_length() - 1
        assert top <= self.fraction_bits or magnitude % 2 ** (top - self.fraction_bits) == 0
        significand = magnitude * 2**self.fraction_bits // 2**top
        biased = top + self.bias
        return sign * self.sign_bit + biased * 2**self.fraction_bits + significand - 2**self.fraction_bits


BINARY32 = BinaryFormat(8, 23)
BINARY64 = BinaryFormat(11, 52)


def round_float_pattern(pattern: int, mode: str, fmt: BinaryFormat = BINARY32) -> int:
    """roundToIntegral on a bit pattern: NaN, infinity and integral values come back unchanged;
    a zero result carries the operand's sign (IEEE 754-2019 5.9)."""
    sign, payload = fmt.decode(pattern)
    if isinstance(payload, str):
        return pattern
    significand, power = payload
    value = Fraction(significand * 2**power) if power >= 0 else Fraction(significand, 2**-power)
    if sign:
        value = -value
    if value.denominator == 1:
        return pattern
    rounded = round_fraction(value, mode)
    return fmt.encode_integer(sign, abs(rounded))


def round_float_pattern_all_modes(pattern: int, fmt: BinaryFormat = BINARY32) -> tuple[int, ...]:
    """The same as :func:`round_float_pattern` for every mode of ``MODES`` at once, with ints only.

    Faster for bulk checks: the value m * 2^p (p < 0) has integer part m >> -p and the
    remainder is compared with half of 2^-p, with no Fraction built.
    """
    sign, payload = fmt.decode(pattern)
    if isinstance(payload, str) or payload[1] >= 0:
        return (pattern,) * len(MODES)
    significand, power = payload
    scale = 2**-power
    whole, remainder = divmod(significand, scale)
    if remainder == 0:
        return (pattern,) * len(MODES)
    # Work on the magnitude; "down" is toward zero, "up" away from it.
    down = fmt.encode_integer(sign, whole)
    up = fmt.encode_integer(sign, whole + 1)
    twice = 2 * remainder
    if twice < scale:
        nearest = {m: down for m in MODES[:4]}
    elif twice > scale:
        nearest = {m: up for m in MODES[:4]}
    else:
        nearest = {
            "half_to_even": down if whole % 2 == 0 else up,
            "half_away_from_zero": up,
            "half_toward_positive": down if sign else up,
            "half_toward_zero": down,
        }
    directed = {
        "toward_zero": down,
        "floor": up if sign else down,
        "ceil": down if sign else up,
    }
    table = {**nearest, **directed}
    return tuple(table[m] for m in MODES)
