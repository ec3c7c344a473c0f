"""Oracle for REQ (requantization), written apart from refq.

Pure Python ints and fractions; no numpy, no refq. Float steps reuse the AFF
oracle's from-scratch rounding to float32/float64 (``round32``, ``round64``) and
the NUM-2 oracle's ``round_fraction``. Fixed-point steps are stated as exact
rational roundings of $a \\cdot M / 2^s$, not as the shifts and nudges the
backends use, so that a test comparing the two checks the bit tricks.
"""

from __future__ import annotations

from fractions import Fraction

from tests.oracle.affine import round32, round64
from tests.oracle.rounding import round_fraction

INFINITY = float("inf")


def float_multiplier(a_scale: Fraction, b_scale: Fraction, y_scale: Fraction, precision: str) -> Fraction:
    """REQ-1.1: fl(fl(s_a * s_b) / s_y)."""
    rounder = round32 if precision == "float32" else round64
    return rounder(rounder(a_scale * b_scale) / y_scale)


def requantize_float(accumulator: int, multiplier: Fraction, zero_point: int, qmin: int, qmax: int, *,
                     precision: str = "float32", rounding: str = "half_to_even",
                     zero_point_placement: str = "after_rounding") -> int:
    """REQ-1.2, REQ-1.3: scale in the working precision, round, add the zero point, saturate."""
    rounder = round32 if precision == "float32" else round64
    converted = rounder(Fraction(accumulator))  # exact in float64, rounded past 2^24 in float32
    value = rounder(converted * multiplier)
    if zero_point_placement == "before_rounding":
        value = value if value in (INFINITY, -INFINITY) else rounder(value + zero_point)
        pending = 0
    else:
        pending = zero_point
    if value == INFINITY:
        return qmax
    if value == -INFINITY:
        return qmin
    return min(max(round_fraction(value, rounding) + pending, qmin), qmax)
