"""NUM-2: rounding to an integer, of exact rationals and of floats."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from refq._jit import kernel
from refq.registry import rounding_mode

HALF_TO_EVEN = 0
HALF_AWAY_FROM_ZERO = 1
HALF_TOWARD_POSITIVE = 2
HALF_TOWARD_ZERO = 3
TOWARD_ZERO = 4
FLOOR = 5
CEIL = 6


def round_rational(value: Fraction | int, mode: str = "half_to_even") -> int:
    """NUM-2.2: round the exact rational ``value`` to an integer under ``mode``.

    With $\\lfloor v \\rfloor$ the floor and $f = v - \\lfloor v \\rfloor$ the
    fraction, a nearest mode returns $\\lfloor v \\rfloor$ when $f < 1/2$ and
    $\\lfloor v \\rfloor + 1$ when $f > 1/2$; only at $f = 1/2$ do the nearest
    modes differ.
    """
    code = rounding_mode(mode, "mode").code
    value = Fraction(value)
    lower = value.numerator // value.denominator  # floor, exact for negative values too
    fraction = value - lower
    if fraction == 0:
        return lower
    if code == FLOOR:
        return lower
    if code == CEIL:
        return lower + 1
    if code == TOWARD_ZERO:
        return lower if value > 0 else lower + 1
    if fraction < Fraction(1, 2):
        return lower
    if fraction > Fraction(1, 2):
        return lower + 1
    # An exact tie between lower and lower + 1.
    if code == HALF_TO_EVEN:
        return lower if lower % 2 == 0 else lower + 1
    if code == HALF_AWAY_FROM_ZERO:
        return lower + 1 if value > 0 else lower
    if code == HALF_TOWARD_POSITIVE:
        return lower + 1
    return lower if value > 0 else lower + 1  # HALF_TOWARD_ZERO


@kernel
def round_to_integral(x, mode):
    """NUM-2.3: round the float ``x`` to an integral value of the same float type.

    ``mode`` is a rounding-mode code from the registry. NaN, infinities and values
    that are already integral are returned unchanged (so -0.0 stays -0.0). Every
    operation below is exact in binary floating point: ``x - trunc(x)`` has at
    most as many significant bits as ``x``, and the comparisons with 1/2 are exact.
    """
    toward = np.trunc(x)
    if toward == x or x != x:
        return x
    if mode == FLOOR:
        return np.floor(x)
    if mode == CEIL:
        return np.ceil(x)
    if mode == TOWARD_ZERO:
        return toward
    away = np.ceil(x) if x > 0 else np.floor(x)
    fraction = np.abs(x - toward)
    if fraction < 0.5:
        return toward
    if fraction > 0.5:
        return away
    if mode == HALF_TO_EVEN:
        return toward if np.floor(toward * 0.5) * 2.0 == toward else away
    if mode == HALF_AWAY_FROM_ZERO:
        return away
    if mode == HALF_TOWARD_POSITIVE:
        return np.ceil(x)
    return toward  # HALF_TOWARD_ZERO


def round_float(x: float, mode: str = "half_to_even") -> float:
    """Validate ``mode`` by name and round one float with :func:`round_to_integral`."""
    return round_to_integral(x, rounding_mode(mode, "mode").code)
