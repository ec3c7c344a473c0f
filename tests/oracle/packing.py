"""BLK-10's layouts, computed another way: each stream as one Python integer (low bits first) or one string of
'0' and '1' (high bits first), cut into units; the planes by their formula. Codes and fields are Python ints."""

from __future__ import annotations

import math


def field(code: int, bits: int, rule: str) -> int:
    if rule == "offset":
        return code + 2 ** (bits - 1)
    return code % 2 ** bits  # Python's modulo is the mathematical one: -1 % 16 == 15


def code(value: int, bits: int, rule: str, signed: bool) -> int:
    if rule == "offset":
        return value - 2 ** (bits - 1)
    return value - 2 ** bits if signed and value >= 2 ** (bits - 1) else value


def unit_bits(bits: int, unit: str) -> int:
    return 8 if unit == "uint8" or (unit == "uint8_or_int32" and 8 % bits == 0) else 32


def stream_units(fields: list[int], bits: int, width: int, order: str) -> list[int]:
    """The unsigned units of one stream of fields."""
    n = len(fields)
    if order == "planes":
        k = width // bits
        s = math.ceil(n / k)
        padded = fields + [0] * (k * s - n)
        return [sum(padded[p * s + j] << ((k - 1 - p) * bits) for p in range(k)) for j in range(s)]
    count = math.ceil(n * bits / width)
    if order == "stream_low_first":
        stream = sum(value << (i * bits) for i, value in enumerate(fields))
        return [(stream >> (j * width)) % 2 ** width for j in range(count)]
    text = "".join(format(value, f"0{bits}b") for value in fields).ljust(count * width, "0")
    return [int(text[j * width:(j + 1) * width], 2) for j in range(count)]


def stream_fields(units: list[int], n: int, bits: int, width: int, order: str) -> list[int]:
    """The first ``n`` fields of one stream of unsigned units."""
    if order == "planes":
        k = width // bits
        s = math.ceil(n / k)
        return [(units[i % s] >> ((k - 1 - i // s) * bits)) % 2 ** bits for i in range(n)]
    if order == "stream_low_first":
        stream = sum(value << (j * width) for j, value in enumerate(units))
        return [(stream >> (i * bits)) % 2 ** bits for i in range(n)]
    text = "".join(format(value, f"0{width}b") for value in units)
    return [int(text[i * bits:(i + 1) * bits], 2) for i in range(n)]


def signed_unit(value: int, width: int) -> int:
    """An int32 word's value from its 32 bits."""
    return value - 2 ** 32 if width == 32 and value >= 2 ** 31 else value
