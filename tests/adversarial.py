"""Adversarial float32 inputs for quantize, built for one scale and zero point.

Every value is chosen because some backend could plausibly get it wrong: exact
ties of the scaled value (checked to be ties, not just near them), the float32
neighbours of every tie, the saturation boundaries, signed zeros, subnormals,
infinities, NaNs with several payloads, and values whose quotient by the scale
reaches or passes $2^{31}$ (where a conversion to int32 overflows) and $2^{63}$.

Ties depend on how the backend divides: ``x / s`` rounded to float32, or
``x * fl32(1 / s)``. Both kinds are generated, so the same input list probes
every profile, and a tie of one kind is a near-tie of the other.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
NAN_PATTERNS = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFBFFFFF], dtype=np.uint32)
#: Quotients around the int32 and int64 conversion limits, and far beyond.
HUGE_QUOTIENTS = (2.0**24, 2.0**31 - 256, 2.0**31 - 128, 2.0**31, 2.0**31 + 256, 2.0**32, 2.0**40, 2.0**62,
                  2.0**63 - 2**39, 2.0**63, 2.0**64, 2.0**100)


def float32_bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def neighbours(values: np.ndarray, steps: int = 1) -> np.ndarray:
    """The float32 values ``steps`` ulps above and below each value (infinities stay put)."""
    values = np.asarray(values, dtype=F32)
    up, down = values.copy(), values.copy()
    result = []
    for _ in range(steps):
        up = np.nextafter(up, F32(np.inf))
        down = np.nextafter(down, F32(-np.inf))
        result += [up, down]
    return np.concatenate(result) if result else np.empty(0, F32)


def scaled(values: np.ndarray, scale: np.float32, operation: str) -> np.ndarray:
    """The float32 quotient a backend sees: ``x / s`` or ``x * fl32(1 / s)``, each rounded once."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if operation == "divide":
            return values / scale
        return values * (F32(1) / scale)


def exact_ties(halves: np.ndarray, scale: np.float32, operation: str, search_ulps: int = 3) -> np.ndarray:
    """Float32 x with ``scaled(x) == k + 0.5`` exactly, one per target ``k + 0.5`` where one exists.

    Start from ``fl32((k + 0.5) * s)`` (computed in float64) and try the float32
    values up to ``search_ulps`` away; targets without a tie are dropped.
    """
    with np.errstate(over="ignore", under="ignore"):
        start = (halves.astype(np.float64) * np.float64(scale)).astype(F32)
    found = np.full(start.shape, np.nan, dtype=F32)
    candidates = [start]
    up, down = start, start
    for _ in range(search_ulps):
        up, down = np.nextafter(up, F32(np.inf)), np.nextafter(down, F32(-np.inf))
        candidates += [up, down]
    for candidate in candidates:
        hit = np.isnan(found) & np.isfinite(candidate) & (scaled(candidate, scale, operation) == halves)
        found[hit] = candidate[hit]
    return found[~np.isnan(found)]


def tie_targets(qmin: int, qmax: int, zero_point: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Half-integers ``k + 0.5`` around every integer the scaled value can round to
    (all of them for small types, ``limit`` of them for wide types), always including
    both saturation boundaries ``qmin - z - 0.5`` and ``qmax - z + 0.5`` and the ties next to them."""
    low, high = qmin - zero_point - 3, qmax - zero_point + 2
    integers = np.arange(low, high + 1)
    if integers.size > limit:
        ends = np.concatenate([integers[:8], integers[-8:], np.arange(-8, 8)])
        integers = np.unique(np.concatenate([ends, rng.choice(integers, limit, replace=False)]))
    return (integers + 0.5).astype(F32)


def special_values(scale: np.float32) -> np.ndarray:
    """Zeros, subnormals, infinities, NaNs, float32 extremes and huge quotients for this scale."""
    tiny = np.array([0.0, -0.0, 1e-45, -1e-45, 2.0**-140, -(2.0**-140), 1.1754942e-38, -1.1754942e-38,
                     1.1754944e-38, -1.1754944e-38, 3.4028235e38, -3.4028235e38, np.inf, -np.inf], dtype=F32)
    with np.errstate(over="ignore"):
        huge = (np.array(HUGE_QUOTIENTS) * np.float64(scale)).astype(F32)
    huge = huge[np.isfinite(huge)]
    huge = np.concatenate([huge, -huge])
    return np.concatenate([tiny, huge, neighbours(huge), NAN_PATTERNS.view(F32)])


def adversarial_inputs(scale, zero_point: int, qmin: int, qmax: int, *, limit: int = 400,
                       seed: int = 0) -> np.ndarray:
    """All adversarial inputs for one scale and zero point, as a float32 vector."""
    rng = np.random.default_rng(seed)
    scale = F32(scale)
    halves = tie_targets(qmin, qmax, zero_point, limit, rng)
    ties = np.concatenate([exact_ties(halves, scale, operation) for operation in ("divide", "multiply_reciprocal")])
    with np.errstate(over="ignore"):
        boundaries = (np.array([qmin - zero_point - 0.5, qmax - zero_point + 0.5]) * np.float64(scale)).astype(F32)
        parts = [ties, neighbours(ties), boundaries, neighbours(boundaries, 3), special_values(scale)]
    return np.concatenate(parts).astype(F32)


def random_inputs(size: int, scale, zero_point: int, qmin: int, qmax: int, rng: np.random.Generator) -> np.ndarray:
    """Random float32 values: a third spread over the representable range and a little past it,
    a third with log-uniform magnitudes, a third arbitrary bit patterns (NaNs and infinities included)."""
    scale = np.float64(F32(scale))
    third = size // 3
    span = rng.uniform(qmin - zero_point - 4, qmax - zero_point + 4, third) * scale
    magnitudes = np.exp2(rng.uniform(-149, 128, third)) * rng.choice([-1.0, 1.0], third)
    patterns = rng.integers(0, 2**32, size - 2 * third, dtype=np.uint64).astype(np.uint32).view(F32)
    with np.errstate(over="ignore"):
        return np.concatenate([span.astype(F32), magnitudes.astype(F32), patterns])
