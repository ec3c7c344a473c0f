"""Cases for GGF-4.3, ggml-cpu's x86 SIMD activation quantizer: ``gguf_quantize`` of Q8_0 and Q8_1.

The blocks are those where ``gguf_activation_quantizer`` matters (:func:`activation_blocks`): exact
ties of the rounding (A = 127 with half-integers, so that r = 1 both ways and only the tie rule
separates them), N(0,1) blocks whose float32 reciprocals ``1 / (A / 127)`` and ``127 / A`` differ enough
to move a code, blocks at and one ulp below the largest magnitude whose ``127 / A`` overflows, float32
subnormal and tiny normal blocks (every SIMD code -128), infinities (one and two: Q8_1's ``s`` is -inf
or x86's NaN), zeros of both signs, float16 scale overflow, and one NaN (unpredictable). Each case runs
under ``ggml`` (the reference: its bytes differ from the SIMD ones on these blocks), ``ggml-cpu-x86``
and ``gguf-py`` (which quantizes Q8_0 as the reference; its Q8_1 is unsupported).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.gguf import gguf_quantize

TYPES = ("Q8_0", "Q8_1")
PROFILES = ("ggml", "ggml-cpu-x86", "gguf-py")
RANDOM_SEED = 4243
#: The smallest float32 largest magnitude whose ``127 / A`` is finite (the largest finite float32).
SMALLEST_FINITE_RECIPROCAL = np.float32(3.7321948e-37)
#: N(0,1) blocks whose SIMD and reference bytes differ, per case and level.
DIFFERING_GAUSSIAN = {1: 4, 2: 64}
#: Blocks of each other family per case and level.
BLOCKS_PER_FAMILY = {1: 1, 2: 16}
FAMILIES = ("half_ties", "scaled_ties", "reciprocal_edge", "below_reciprocal_edge", "subnormal", "tiny_normal",
            "one_infinity", "two_infinities", "zeros", "scale_overflow", "nan")


def family_block(family: str, rng: np.random.Generator) -> np.ndarray:
    if family == "half_ties":
        block = (rng.integers(-127, 127, 32) + np.float32(0.5)).astype(np.float32)
        block[rng.integers(32)] = np.float32(127.0 if rng.random() < 0.5 else -127.0)
        return block
    if family == "scaled_ties":
        # A = 127 * 2^k: r = 2^-k exactly both ways, and (m + 1/2) * 2^k are ties.
        scale = np.float32(2.0 ** int(rng.integers(-20, 20)))
        block = ((rng.integers(-127, 127, 32) + np.float32(0.5)) * scale).astype(np.float32)
        block[rng.integers(32)] = np.float32(127.0) * scale
        return block
    if family in ("reciprocal_edge", "below_reciprocal_edge"):
        largest = SMALLEST_FINITE_RECIPROCAL
        if family == "below_reciprocal_edge":
            largest = np.nextafter(largest, np.float32(0.0))
        block = (rng.uniform(-1, 1, 32) * largest).astype(np.float32)
        block[rng.integers(32)] = largest
        return block
    if family == "subnormal":
        return (rng.standard_normal(32) * np.float32(2.0**-135)).astype(np.float32)
    if family == "tiny_normal":
        return (rng.standard_normal(32) * np.float32(2.0**-124)).astype(np.float32)
    if family in ("one_infinity", "two_infinities"):
        block = rng.standard_normal(32).astype(np.float32)
        positions = rng.choice(32, 1 if family == "one_infinity" else 2, replace=False)
        block[positions] = np.where(rng.random(positions.size) < 0.5, np.float32(np.inf), np.float32(-np.inf))
        return block
    if family == "zeros":
        return np.where(rng.random(32) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
    if family == "scale_overflow":
        return (rng.standard_normal(32) * np.float32(2.0**30)).astype(np.float32)
    if family == "nan":
        block = rng.standard_normal(32).astype(np.float32)
        block[rng.integers(32)] = np.float32(np.nan)
        return block
    raise AssertionError(family)


def differing_gaussian_blocks(count: int, rng: np.random.Generator, type_name: str = "Q8_0") -> np.ndarray:
    """The first ``count`` N(0,1) blocks of ``rng`` whose bytes differ between the two quantizers (about
    one in 13,000: the reciprocals differ and move one product across a half-integer)."""
    found: list[np.ndarray] = []
    size = 34 if type_name == "Q8_0" else 36
    while len(found) < count:
        x = rng.standard_normal(32 * 65536).astype(np.float32)
        reference = gguf_quantize(x, type=type_name).reshape(-1, size)
        simd = gguf_quantize(x, type=type_name, activation_quantizer="x86_simd").reshape(-1, size)
        for index in np.flatnonzero((reference != simd).any(axis=1)):
            found.append(x[32 * index:32 * (index + 1)])
    return np.concatenate(found[:count])


def activation_blocks(level: int, rng: np.random.Generator, type_name: str = "Q8_0") -> np.ndarray:
    """Each family's blocks, then the differing N(0,1) blocks."""
    parts = [family_block(family, rng) for _ in range(BLOCKS_PER_FAMILY[level]) for family in FAMILIES]
    parts.append(differing_gaussian_blocks(DIFFERING_GAUSSIAN[level], rng, type_name))
    return np.concatenate(parts).astype(np.float32)


def activation_cases(level: int) -> Iterator[CaseSpec]:
    for type_name in TYPES:
        rng = np.random.default_rng([RANDOM_SEED, level, TYPES.index(type_name)])
        x = activation_blocks(level, rng, type_name)
        yield CaseSpec(op="gguf_quantize", name=f"{type_name.lower()}-activation{'-random' if level == 2 else ''}",
                       inputs={"x": x, "imatrix": None}, attributes={"type": type_name}, clauses=("GGF-4.3",),
                       description=f"{type_name}, where ggml-cpu's x86 SIMD quantizer and the reference differ "
                                   f"(GGF-4.3): {BLOCKS_PER_FAMILY[level]} block(s) of each of "
                                   + ", ".join(FAMILIES).replace("_", " ")
                                   + f", then {DIFFERING_GAUSSIAN[level]} N(0,1) blocks whose reciprocals move a code",
                       generator="gguf_activation.activation_cases", seed=RANDOM_SEED, profiles=PROFILES)


GENERATORS = (activation_cases,)
