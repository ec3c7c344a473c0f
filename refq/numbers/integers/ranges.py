"""NUM-1.2, NUM-1.3: the values an integer format holds, and the numpy type that carries them."""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type
from refq.numbers.integers._arguments import resolve_format
from refq.registry import IntegerFormat


def integer_range(format: str | IntegerFormat, *, narrow: bool = False) -> tuple[int, int]:
    """NUM-1.2: the smallest and largest value of ``format``, both included.

    A signed $n$-bit format holds $[-2^{n-1},\\ 2^{n-1}-1]$, an unsigned one
    $[0,\\ 2^n-1]$. The *narrow* range gives up the lowest value: $[-(2^{n-1}-1),\\ 2^{n-1}-1]$
    for signed formats (symmetric about 0) and $[1,\\ 2^n-1]$ for unsigned ones
    (symmetric about the zero point $2^{n-1}$).
    """
    format = resolve_format(format)
    if not isinstance(narrow, bool):
        raise wrong_type("narrow", "True or False", narrow)
    bits = format.bits
    if format.signed:
        lowest, highest = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lowest, highest = 0, (1 << bits) - 1
    if narrow:
        if bits == 1:
            # Dropping one of two values leaves a single value: nothing left to quantize to.
            raise invalid("narrow", f"False for the 1-bit format {format.name}", narrow)
        lowest += 1
    return lowest, highest


def storage_dtype(format: str | IntegerFormat) -> np.dtype:
    """NUM-1.3: the smallest numpy integer type that holds every value of ``format``.

    Signedness is kept: int1..int8 in int8, int9..int16 in int16, and so on;
    uint4 in uint8. Sub-byte formats live one value per byte until packed (NUM-1.9).
    """
    format = resolve_format(format)
    for container_bits in (8, 16, 32, 64):
        if format.bits <= container_bits:
            return np.dtype(f"{'int' if format.signed else 'uint'}{container_bits}")
    raise AssertionError("unreachable: widths stop at 64")
