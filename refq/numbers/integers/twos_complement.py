"""NUM-1.4 to NUM-1.6: two's complement, the encoding of every signed integer format.

An $n$-bit pattern is handled as the non-negative Python int whose binary digits
are the bits, $b_{n-1} \\dots b_1 b_0$. These scalar functions use Python's
unbounded ints, so they are exact at every width up to 64 bits.
"""

from __future__ import annotations

from refq.errors import invalid
from refq.numbers.integers._arguments import exact_integer, pattern_of_width, width


def from_twos_complement(pattern: int, bits: int) -> int:
    """NUM-1.4: the value of the ``bits``-bit two's-complement ``pattern``.

    $$v = -b_{n-1}\\,2^{n-1} + \\sum_{i=0}^{n-2} b_i\\,2^i$$

    The top bit weighs $-2^{n-1}$ instead of $+2^{n-1}$, so a pattern with the top
    bit set reads $2^n$ less than its unsigned reading.
    """
    bits = width(bits)
    pattern = pattern_of_width(pattern, bits)
    top_bit = pattern >> (bits - 1)
    return pattern - (top_bit << bits)


def to_twos_complement(value: int, bits: int) -> int:
    """NUM-1.5: the ``bits``-bit two's-complement pattern of ``value``.

    ``value`` must lie in $[-2^{n-1},\\ 2^{n-1}-1]$; the pattern is
    $v \\bmod 2^n$, the one pattern that NUM-1.4 reads back as $v$.
    """
    bits = width(bits)
    value = exact_integer(value, "value")
    lowest, highest = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not lowest <= value <= highest:
        raise invalid("value", f"in the int{bits} range {lowest}..{highest}", value)
    return value % (1 << bits)  # Python's % is never negative for a positive modulus


def sign_extend(pattern: int, from_bits: int, to_bits: int) -> int:
    """NUM-1.6: widen a ``from_bits``-bit two's-complement pattern to ``to_bits`` bits.

    The new high bits are copies of the old top (sign) bit, which keeps the value:
    the widened pattern reads, under NUM-1.4, as the same integer.
    """
    from_bits = width(from_bits, "from_bits")
    to_bits = width(to_bits, "to_bits")
    if to_bits < from_bits:
        raise invalid("to_bits", f"at least from_bits ({from_bits})", to_bits)
    pattern = pattern_of_width(pattern, from_bits)
    if pattern >> (from_bits - 1):
        new_high_bits = ((1 << to_bits) - 1) ^ ((1 << from_bits) - 1)
        return pattern | new_high_bits
    return pattern


def sign_magnitude_value(pattern: int, bits: int) -> int:
    """The sign-magnitude reading of a pattern: NOT how refq's signed integers are encoded.

    The top bit is a sign and the other bits an unsigned magnitude:
    $v = (-1)^{b_{n-1}} \\sum_{i=0}^{n-2} b_i\\,2^i$. Two patterns read as zero
    (``0...0`` and ``10...0``), and the range is symmetric. Provided to contrast
    with two's complement (NUM-1.4): the two agree on every pattern whose top bit
    is 0, but with the top bit set only on ``110...0`` (both read $-2^{n-2}$).
    """
    bits = width(bits)
    pattern = pattern_of_width(pattern, bits)
    magnitude = pattern & ((1 << (bits - 1)) - 1)
    return -magnitude if pattern >> (bits - 1) else magnitude
