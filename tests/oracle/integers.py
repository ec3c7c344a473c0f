"""Oracle for NUM-1: integers computed bit by bit from lists of 0/1 digits.

Pure Python ints only; no numpy, no refq. Definitions here go through explicit
bit lists (least-significant first) so that they share no arithmetic shortcut
with refq's implementation.
"""

from __future__ import annotations


def bits_of(pattern: int, width: int) -> list[int]:
    """The ``width`` binary digits of a non-negative ``pattern``, least significant first."""
    assert 0 <= pattern < 2**width
    return [(pattern // 2**i) % 2 for i in range(width)]


def pattern_of(bits: list[int]) -> int:
    return sum(bit * 2**i for i, bit in enumerate(bits))


def unsigned_value(pattern: int, width: int) -> int:
    return sum(bit * 2**i for i, bit in enumerate(bits_of(pattern, width)))


def twos_complement_value(pattern: int, width: int) -> int:
    """Weight of bit i is 2^i, except the top bit which weighs -2^(width-1)."""
    digits = bits_of(pattern, width)
    weights = [2**i for i in range(width - 1)] + [-(2 ** (width - 1))]
    return sum(bit * weight for bit, weight in zip(digits, weights))


def sign_magnitude_value(pattern: int, width: int) -> int:
    digits = bits_of(pattern, width)
    magnitude = sum(bit * 2**i for i, bit in enumerate(digits[:-1]))
    return -magnitude if digits[-1] else magnitude


def value_range(width: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest value over the extreme patterns (0...0, 01...1, 10...0, 1...1)."""
    ones = 2**width - 1
    candidates = [0, ones, ones // 2, ones // 2 + 1]
    read = twos_complement_value if signed else unsigned_value
    values = [read(p, width) for p in candidates]
    return min(values), max(values)


def encode_twos_complement(value: int, width: int) -> int:
    """The pattern whose two's-complement reading is ``value``: invert-and-add-one for negatives."""
    if value >= 0:
        return value
    magnitude_bits = bits_of(-value, width)
    inverted = [1 - bit for bit in magnitude_bits]
    return (pattern_of(inverted) + 1) % 2**width


def wrap(value: int, width: int, signed: bool) -> int:
    """Keep the low ``width`` bits of value's (infinitely sign-extended) pattern, read them back."""
    low_bits = []
    remaining = value
    for _ in range(width):
        low_bits.append(remaining % 2)  # Python's % gives 0/1 for negatives too
        remaining = (remaining - low_bits[-1]) // 2
    pattern = pattern_of(low_bits)
    return twos_complement_value(pattern, width) if signed else pattern


def saturate(value: int, width: int, signed: bool, narrow: bool = False) -> int:
    lowest, highest = value_range(width, signed)
    if narrow:
        lowest += 1
    if value < lowest:
        return lowest
    if value > highest:
        return highest
    return value


def pack(values: list[int], width: int, signed: bool) -> list[int]:
    """Concatenate each value's bits, least significant first, into one bit stream; cut into bytes."""
    stream: list[int] = []
    for value in values:
        pattern = encode_twos_complement(value, width) if signed else value
        stream.extend(bits_of(pattern, width))
    while len(stream) % 8:
        stream.append(0)
    return [pattern_of(stream[i : i + 8]) for i in range(0, len(stream), 8)]


def unpack(packed: list[int], width: int, signed: bool, count: int) -> list[int]:
    stream: list[int] = []
    for byte in packed:
        stream.extend(bits_of(byte, 8))
    read = twos_complement_value if signed else unsigned_value
    return [read(pattern_of(stream[i * width : (i + 1) * width]), width) for i in range(count)]
