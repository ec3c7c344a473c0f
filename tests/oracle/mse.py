"""Oracle for OBS-4.7 and OBS-4.8: the MSE-optimal range search, written apart from refq.

Exact ``Fraction`` arithmetic; float32/float64 roundings are the AFF oracle's ``round32`` and
``round64``, rounding to an integer the NUM-2 oracle's ``round_fraction``, the parameters of each
candidate the OBS-1 oracle's. Transcribed from the spec text. Finite inputs whose intermediates
stay finite only (``None`` otherwise). Two errors per candidate: the spec's float64 left-to-right
sum (emulated step by step) and the exact sum of squares, so a test can check both the bits of
the specified error and that the exact error picks the same candidate.
"""

from __future__ import annotations

from fractions import Fraction

from tests.oracle.affine import round32, round64
from tests.oracle.observers import affine, symmetric
from tests.oracle.rounding import round_fraction

EPS = Fraction(1, 2**23)


def _finite(*values) -> bool:
    return all(isinstance(value, Fraction) for value in values)


def shrink(bound: Fraction, k: int, n: int):
    """fl32(fl64(k * bound / n)); k * bound is exact in float64 for the sizes tested."""
    return round32(round64(k * bound / n))


def round_trip(x: Fraction, scale: Fraction, zero_point: int, quant_min: int, quant_max: int):
    """The dequantized value of x, or None when an intermediate is infinite."""
    quotient = round32(x / scale)
    if not _finite(quotient):
        level = quant_max if quotient > 0 else quant_min
    else:
        level = min(max(round_fraction(quotient, "half_to_even") + zero_point, quant_min), quant_max)
    difference = round32(Fraction(level - zero_point))
    restored = round32(difference * scale)
    return restored if _finite(restored) else None


def errors(values: list[Fraction], scale: Fraction, zero_point: int, quant_min: int, quant_max: int):
    """(float64 left-to-right sum as the spec rounds it, exact sum), or None."""
    rounded, exact = Fraction(0), Fraction(0)
    for x in values:
        restored = round_trip(x, scale, zero_point, quant_min, quant_max)
        if restored is None:
            return None
        step = round64(restored - x)
        rounded = round64(rounded + round64(step * step))
        exact += (restored - x) ** 2
    return rounded, exact


def search(values: list[Fraction], n: int, quant_min: int, quant_max: int, is_symmetric: bool,
           symmetric_zero_point: int = 0):
    """A list of (k, low, high, scale, zero_point, rounded_error, exact_error) for k = 1..n, or None."""
    low_seen, high_seen = min(values), max(values)
    table = []
    for k in range(1, n + 1):
        if is_symmetric:
            bound = shrink(max(-low_seen, high_seen), k, n)
            low, high = -bound, bound
            qparams = symmetric(low, high, quant_min, quant_max, EPS, symmetric_zero_point)
        else:
            low, high = shrink(low_seen, k, n), shrink(high_seen, k, n)
            qparams = affine(low, high, quant_min, quant_max, EPS)
        if qparams is None:
            return None
        scale, zero_point = qparams
        result = errors(values, scale, zero_point, quant_min, quant_max)
        if result is None:
            return None
        table.append((k, low, high, scale, zero_point) + result)
    return table


def choice(table, column: int) -> int:
    """The k of least error in ``column`` (5: float64 sum, 6: exact), ties to the larger k."""
    least = min(row[column] for row in table)
    return max(row[0] for row in table if row[column] == least)
