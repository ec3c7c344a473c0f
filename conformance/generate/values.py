"""Input values placed where quantization decides something: ties, range ends, int32 limits.

Each function returns float32 values for a target type, zero point ``z`` and scale ``s``;
with an exact scale (:func:`~.parameters.exact_scale`) the ties are exact in float32.
"""

from __future__ import annotations

import numpy as np

from refq.affine.parameters import Target

#: Fractions of a step placed around an integer or a range end: below, at, above, and the ties.
SATURATION_OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def tie_steps(chosen: Target, zero_point: int, limit: int | None) -> np.ndarray:
    """The integers $k$ whose tie $k + 1/2$ lies in or just past $[q_{min} - z, q_{max} - z]$.

    Above ``limit`` of them (16-bit types), keep both ends, the ones around zero and an
    even spread in between."""
    steps = np.arange(chosen.qmin - zero_point - 2, chosen.qmax - zero_point + 2, dtype=np.int64)
    if limit is None or steps.size <= limit:
        return steps
    edge = limit // 8
    around_zero = steps[np.abs(steps) <= edge]
    spread = steps[np.linspace(0, steps.size - 1, limit - 2 * edge - around_zero.size, dtype=np.int64)]
    return np.unique(np.concatenate([steps[:edge], around_zero, spread, steps[-edge:]]))


def exact_product(multipliers: np.ndarray, scale: np.float32) -> np.ndarray:
    """``multipliers * scale`` in float32, asserting that no rounding happened (the cases
    depend on these values being exactly where they are meant to be)."""
    wide = np.asarray(multipliers, dtype=np.float64) * np.float64(scale)
    narrow = wide.astype(np.float32)
    if not np.array_equal(narrow.astype(np.float64), wide):
        raise AssertionError("a tie or edge value is not exact in float32; use an exact scale")
    return narrow


def ties(chosen: Target, zero_point: int, scale: np.float32, limit: int | None = None) -> np.ndarray:
    """$(k + 1/2) \\cdot s$ for the steps of :func:`tie_steps`, exact in float32."""
    return exact_product(tie_steps(chosen, zero_point, limit) + 0.5, scale)


def saturation_edges(chosen: Target, zero_point: int, scale: np.float32) -> np.ndarray:
    """$(q_{min} - z + d) \\cdot s$ and $(q_{max} - z + d) \\cdot s$ for $d \\in \\{-1, -1/2, 0, 1/2, 1\\}$."""
    ends = np.array([chosen.qmin - zero_point, chosen.qmax - zero_point], dtype=np.float64)
    return exact_product((ends[:, None] + np.array(SATURATION_OFFSETS)[None, :]).ravel(), scale)


def int32_edges(scale: np.float32) -> np.ndarray:
    """$\\pm 2^{31} s$ and $\\pm 2^{32} s$, where a conversion to int32 before clamping overflows,
    and the largest float32 values."""
    largest = np.finfo(np.float32).max
    magnitudes = np.array([np.ldexp(np.float64(scale), 31), np.ldexp(np.float64(scale), 32)], dtype=np.float64)
    magnitudes = magnitudes[magnitudes <= largest].astype(np.float32)
    magnitudes = np.concatenate([magnitudes, [largest]]).astype(np.float32)
    return np.concatenate([magnitudes, -magnitudes])


def specials() -> np.ndarray:
    """NaN, both infinities and both zeros."""
    return np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32)


def near_steps(rng: np.random.Generator, chosen: Target, scales: np.ndarray, zero_points: np.ndarray) -> np.ndarray:
    """One value per element, each element with its own scale and zero point: a random
    step $k$ from just below $q_{min} - z$ to just above $q_{max} - z$, then $k \\cdot s$, the tie
    $(k + 1/2) \\cdot s$, one ulp either side of the tie, or a random point of the step."""
    scales = np.asarray(scales, dtype=np.float32)
    zero_points = np.asarray(zero_points, dtype=np.int64)
    steps = rng.integers(chosen.qmin - zero_points - 2, chosen.qmax - zero_points + 3)
    kind = rng.integers(0, 5, size=scales.shape)
    fraction = rng.random(size=scales.shape)
    offset = np.where(kind == 0, 0.0, np.where(kind == 4, fraction, 0.5))
    values = ((steps + offset) * scales.astype(np.float64)).astype(np.float32)
    values = np.where(kind == 2, np.nextafter(values, np.float32(-np.inf)), values)
    values = np.where(kind == 3, np.nextafter(values, np.float32(np.inf)), values)
    return values.astype(np.float32)
