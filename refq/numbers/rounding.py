"""NUM-2: rounding to an integer, of exact rationals and of floats."""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from refq._jit import kernel
from refq.errors import RefqValueError, wrong_type
from refq.registry import ROUNDING_MODES, RoundingMode, rounding_mode

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
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, Fraction)):
        # A float is refused rather than converted: Fraction(0.1) is not 1/10, and
        # the caller should see that conversion happen.
        raise wrong_type("value", "an int or fractions.Fraction (use Fraction(x) for a float x)", value)
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
    that are already integral are returned unchanged (so -0.0 stays -0.0), and a
    result of zero keeps the sign of ``x`` (-0.4 becomes -0.0), as IEEE 754's
    roundToIntegral does. Every operation below is exact in binary floating point:
    ``x - trunc(x)`` has at most as many significant bits as ``x``, and the
    comparisons with 1/2 are exact.
    """
    if mode < HALF_TO_EVEN or mode > CEIL:
        raise RefqValueError("mode: must be a rounding-mode code 0..6 from refq.registry.ROUNDING_MODES")
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
        # A tie needs a spacing of at most 1/2 between floats, so |x| < 2^52 and
        # the integral part converts to int64 exactly.
        return toward if np.int64(toward) % 2 == 0 else away
    if mode == HALF_AWAY_FROM_ZERO:
        return away
    if mode == HALF_TOWARD_POSITIVE:
        return np.ceil(x)
    return toward  # HALF_TOWARD_ZERO


@kernel
def round_elements(values, mode, out):
    """NUM-2.4: NUM-2.3 applied to each element of ``values``, written to ``out``."""
    for index in range(values.size):
        out[index] = round_to_integral(values[index], mode)


def _float_argument(x: object) -> np.floating:
    if isinstance(x, (np.float32, np.float64)):
        return x
    if isinstance(x, float):
        return np.float64(x)
    raise wrong_type("x", "a float (Python float, numpy float32 or float64)", x)


def round_float(x: float, mode: str = "half_to_even") -> float:
    """Validate ``mode`` by name and round one float with :func:`round_to_integral`.

    A Python float is rounded as binary64; numpy float32 and float64 keep their type.
    """
    code = rounding_mode(mode, "mode").code
    value = _float_argument(x)
    if value != value:
        # A NaN rounds to itself, payload and all: the compiled kernel returns a Python float, and
        # widening a signalling float32 NaN to float64 quiets it (x86 cvtss2sd), so it never goes there.
        rounded = value
    else:
        # Numba returns every float as a Python float; a non-NaN float32 converts back exactly.
        rounded = value.dtype.type(round_to_integral(value, code))
    return float(rounded) if isinstance(x, float) and not isinstance(x, np.floating) else rounded


def round_array(values: np.ndarray, mode: str | RoundingMode = "half_to_even") -> np.ndarray:
    """Round every element of a float32 or float64 array (NUM-2.4); a new array of the same dtype and shape."""
    code = rounding_mode(mode, "mode").code
    if not isinstance(values, np.ndarray):
        raise wrong_type("values", "a float32 or float64 numpy array", values)
    if values.dtype not in (np.float32, np.float64):
        raise wrong_type("values", "a float32 or float64 numpy array", f"array of {values.dtype}")
    flat = np.ascontiguousarray(values).reshape(-1)
    out = np.empty_like(flat)
    round_elements(flat, code, out)
    return out.reshape(values.shape)


#: The values the worked example rounds: the ties where the nearest modes disagree,
#: and one non-tie of each sign.
ROUNDING_EXAMPLE_VALUES = (
    Fraction(5, 2), Fraction(7, 2), Fraction(-5, 2), Fraction(-1, 2), Fraction(13, 10), Fraction(-13, 10),
)


def rounding_examples_table() -> str:
    """Markdown table: each value of ``ROUNDING_EXAMPLE_VALUES`` rounded under each mode, by NUM-2.2."""

    def shown(number: Fraction | int) -> str:
        text = str(float(number)) if isinstance(number, Fraction) else str(number)
        return text.replace("-", "−")

    header = "| mode | " + " | ".join(shown(v) for v in ROUNDING_EXAMPLE_VALUES) + " |"
    rule = "|:--|" + "--:|" * len(ROUNDING_EXAMPLE_VALUES)
    rows = [
        f"| `{mode.name}` | " + " | ".join(shown(round_rational(v, mode)) for v in ROUNDING_EXAMPLE_VALUES) + " |"
        for mode in ROUNDING_MODES
    ]
    return "\n".join([header, rule, *rows]) + "\n"
