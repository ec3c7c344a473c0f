"""Oracle for GGF-4.3 (ggml-cpu's x86 SIMD Q8_0 and Q8_1), written apart from refq: exact rationals.

Each float32 operation is the exact result rounded to float32 by the affine oracle's ``round32``
(ties to even, overflow to infinity, IEEE's specials by its ``multiply``); the int32 conversion is
round-half-even of the exact product, -2^31 for a NaN or infinity; the sum wraps modulo 2^32; the
float16 fields are rounded by hand to binary16. Blocks must be free of NaN (GGF-5.1 leaves those
open). A zero element is +0 here: a Fraction has no sign, and no zero's sign reaches the bytes
(``-0 * r`` converts to the code 0; ``d`` and ``s`` get their signs from ``A >= 0`` and the sum).
"""

from __future__ import annotations

from fractions import Fraction

from tests.oracle.affine import INFINITY, float32_value, is_infinite, is_nan, multiply, round32, round_to_float
from tests.oracle.gguf import FLOAT16, half_bytes, half_even

INT32_MIN = -(2**31)


def half_field(value, negative: bool) -> list[int]:
    """The little-endian binary16 bytes of the float32 value ``value`` (ties to even); infinities and
    x86's default NaN (0xFE00) by their patterns."""
    if is_nan(value):
        return [0x00, 0xFE]
    if is_infinite(value):
        return [0x00, 0xFC if value < 0 else 0x7C]
    rounded = round_to_float(value, FLOAT16)
    if is_infinite(rounded):
        return [0x00, 0xFC if rounded < 0 else 0x7C]
    return half_bytes(rounded, negative)


def conversion(product) -> int:
    """cvtps2dq of the (already rounded) float32 product: the nearest int32, ties to even."""
    if is_nan(product) or is_infinite(product):
        return INT32_MIN
    converted = half_even(product)
    return converted if -(2**31) <= converted < 2**31 else INT32_MIN


def quantize_block(block, with_sum: bool) -> list[int]:
    """The bytes of one Q8_0 (or Q8_1, ``with_sum``) block as GGF-4.3 defines them."""
    x = [float32_value(v) for v in block]
    assert not any(is_nan(v) for v in x), "the oracle covers NaN-free blocks"
    largest = max((INFINITY if is_infinite(v) else abs(v)) for v in x)
    d = INFINITY if is_infinite(largest) else round32(largest / 127)
    if largest == 0 or is_infinite(largest):  # 127 / inf is +0
        multiplier = Fraction(0)
    else:
        multiplier = round32(Fraction(127) / largest)
    converted = [conversion(round32(multiply(v, multiplier))) for v in x]
    codes = [min(127, max(-128, c)) for c in converted]
    out = half_field(d, negative=False)
    if with_sum:
        total = ((sum(converted) + 2**31) % 2**32) - 2**31
        out += half_field(round32(multiply(round32(Fraction(total)), d)), negative=total < 0)
    return out + [c & 0xFF for c in codes]
