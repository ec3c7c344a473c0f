"""How many bytes a model's parameters take at a given bit width (informative, no clause).

The arithmetic is exact: sizes are integers of bytes, and gigabytes are decimal
(1 GB = 10^9 bytes, as disk and memory vendors count) beside binary gibibytes
(1 GiB = 2^30 bytes, as most tools report memory). Sub-byte widths are counted
packed (NUM-1.9): two int4 values share a byte.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

from refq.errors import invalid, wrong_type

GB = 10**9
GIB = 2**30

#: Bits a scale (with its zero point, if any) may be stored in.
SCALE_BITS = (8, 16, 32)


@dataclass(frozen=True)
class ModelSize:
    """The storage of ``parameters`` values of ``bits`` bits each, plus their scales.

    With ``block_size`` set, every block of that many parameters carries one scale
    of ``scale_bits`` bits (blocked quantization, AFF-1.4); without it the scales of
    a per-tensor or per-channel model are few enough to leave out.
    """

    parameters: int
    bits: int
    block_size: int | None
    scale_bits: int
    weight_bytes: int
    scale_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.scale_bytes

    @property
    def bits_per_parameter(self) -> Fraction:
        """Storage bits per parameter, scales included: 4 + 16/128 = 4.125 for int4 in blocks of 128."""
        return Fraction(8 * self.total_bytes, self.parameters)

    @property
    def gigabytes(self) -> Fraction:
        return Fraction(self.total_bytes, GB)

    @property
    def gibibytes(self) -> Fraction:
        return Fraction(self.total_bytes, GIB)


def _positive_integer(value: object, argument: str) -> int:
    """An integer >= 1; an integral float such as ``70e9`` is accepted, it is exact."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise wrong_type(argument, "a positive integer", value)
    if isinstance(value, float) and not value.is_integer():
        raise invalid(argument, "a positive integer", value)
    exact = Fraction(value)
    if exact.denominator != 1 or exact < 1:
        raise invalid(argument, "a positive integer", value)
    return int(exact)


def model_size(parameters: int | float, bits: int, *, block_size: int | None = None,
               scale_bits: int = 16) -> ModelSize:
    """The bytes ``parameters`` values of ``bits`` bits take, packed, with one scale per block.

    $$\\text{bytes} = \\left\\lceil \\frac{N \\cdot b}{8} \\right\\rceil
      + \\left\\lceil \\frac{N}{B} \\right\\rceil \\cdot \\frac{b_s}{8}$$

    for $N$ parameters of $b$ bits in blocks of $B$ with $b_s$-bit scales (the second
    term only with ``block_size``). The block count assumes the blocks tile the
    parameters; rows that are not a multiple of $B$ add a partial block each.

    :param parameters: the number of parameters, e.g. ``70e9`` or ``70 * 10**9``
    :param bits: bits per parameter, 1 to 64 (32 for float32, 16 for float16/bfloat16)
    :param block_size: parameters sharing one scale, or None for no per-block scales
    :param scale_bits: bits of each block's scale: 8, 16 or 32
    :raises RefqValueError: a count that is not a positive integer, ``bits`` outside 1..64,
        ``scale_bits`` not 8, 16 or 32
    """
    count = _positive_integer(parameters, "parameters")
    width = _positive_integer(bits, "bits")
    if width > 64:
        raise invalid("bits", "an integer from 1 to 64", bits)
    if isinstance(scale_bits, bool) or scale_bits not in SCALE_BITS:
        raise invalid("scale_bits", "one of 8, 16, 32", scale_bits)
    block = None if block_size is None else _positive_integer(block_size, "block_size")
    weight_bytes = -(-count * width // 8)
    scale_bytes = 0 if block is None else -(-count // block) * (scale_bits // 8)
    return ModelSize(count, width, block, scale_bits, weight_bytes, scale_bytes)


def decimal_text(value: Fraction, places: int | None = None) -> str:
    """``value`` in decimal: exact when its expansion ends (any number of bytes / 10^9 does),
    else rounded half to even to ``places`` digits; trailing zeros dropped."""
    if places is None:
        denominator = value.denominator
        for prime in (2, 5):
            while denominator % prime == 0:
                denominator //= prime
        if denominator != 1:
            raise invalid("value", "a fraction with a terminating decimal expansion, or places", value)
        places = 0
        while (value * 10**places).denominator != 1:
            places += 1
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places:]
    fraction = fraction.rstrip("0")
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"
