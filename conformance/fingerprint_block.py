"""Fingerprint of BLK's ``block_quantize`` and ``nvfp4_quantize``: which MX scale rule, and which NVFP4
scale arithmetic and rules, an implementation computes.

Six registry variants separate the implementations measured, each probed by blocks built for it:
``block_scale_rule`` (amaxes just above and below powers of two and of ``max_elem * 2^k``, where
floor, ceil, even, rceil and the float32-logarithm rceil part), ``block_infinity`` (a block holding an
infinity), ``block_nan`` (a block holding a NaN), ``block_tiny_scale`` (blocks of code 0 with non-zero
elements), ``block_element_ties`` (elements on the midpoints of the element grid) and ``block_zero_code``
(zeros, and elements whose quotient underflows to zero). Each probe is one tensor of blocks, compared
whole, for FP8 E4M3 and for FP4; every prediction is refq's ``block_quantize_outcomes`` under the
combination's values. Element codes of a NaN-scale block are open under every combination (BLK-3.4); an
``unpredictable`` value explains every output by opening more, so the fingerprint's answer is the consistent
combination that opens fewest (:attr:`Result.variants`).
A second chapter does the same for BLK-8's ``nvfp4_quantize``: one tensor per NVFP4 variant, since the tensor
scale is one per tensor.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from refq.block.api import block_quantize_outcomes
from refq.block.elements import ELEMENT_FORMATS, element_values
from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import registry_values
from refq.registry.profiles import EVERY_PROFILE_BY_NAME

OPERATION = "block_quantize"
DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in (
    "block_scale_rule", "block_infinity", "block_nan", "block_tiny_scale", "block_element_ties",
    "block_zero_code")}
#: The profiles naming BLK variants, by their values of :data:`DIMENSIONS`.
PROFILES = {name: {variant: profile.block[variant] for variant in DIMENSIONS}
            for name, profile in EVERY_PROFILE_BY_NAME.items() if profile.block}
FORMATS = ("float8_e4m3fn", "float4_e2m1fn")
SEED = 1577
F32 = np.float32


def _scale_rule_blocks(fmt, rng: np.random.Generator) -> np.ndarray:
    """Per binary exponent k: amax 2^k and its neighbours, max_elem * 2^k one ulp above, and the top of
    the binade below 2^k (where even rounds up)."""
    mantissa_bits = fmt.mantissa_bits
    amaxes = []
    for k in range(-120, 120, 3):
        power = F32(math.ldexp(1.0, k))
        amaxes += [power, np.nextafter(power, F32(np.inf)), np.nextafter(power, F32(0)),
                   np.nextafter(F32(math.ldexp(fmt.max_normal, k)), F32(np.inf)),
                   F32(math.ldexp(2.0 - math.ldexp(1.0, -(mantissa_bits + 2)), k - 1))]
    blocks = (rng.uniform(-0.5, 0.5, (len(amaxes), 32)) * np.array(amaxes, dtype=np.float64)[:, None]).astype(F32)
    blocks[:, 7] = np.array(amaxes, dtype=F32)
    return blocks


def _tie_blocks(fmt, rng: np.random.Generator) -> np.ndarray:
    values = element_values(fmt).astype(np.float64)
    positive = np.unique(np.abs(values[np.isfinite(values) & (values >= 0)]))  # one zero, whatever the CPU sorts
    midpoints = (positive[:-1] + positive[1:]) / 2
    blocks = rng.choice(midpoints, (16, 32)) * np.where(rng.random((16, 32)) < 0.5, -1.0, 1.0)
    blocks[:, 0] = fmt.max_normal
    return blocks.astype(F32)


@lru_cache(maxsize=None)
def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    """The probes of one element format: each format is a granularity of its own, so that an engine with one
    element format (modelopt's MXFP4) is fingerprinted on it and unsupported on the other."""
    rng = np.random.default_rng([SEED, FORMATS.index(granularity)])
    probes = []
    for name in (granularity,):
        fmt = ELEMENT_FORMATS[name]
        attributes = {"format": name, "axis": -1, "block_size": 32}
        infinity = rng.standard_normal((2, 32)).astype(F32)
        infinity[0, 4], infinity[1, 9] = np.inf, -np.inf
        # Scale code 0 with elements that code 0 does not flatten: FP4's smallest step is 2^-128 there.
        tiny = (rng.uniform(-1, 1, (4, 32)) * 2.0 ** (-129 if fmt.bits == 8 else -125)).astype(F32)
        nan = rng.standard_normal((1, 32)).astype(F32)
        nan[0, 6] = np.nan
        # +0 and -0, and elements beside 2^100 whose quotients underflow to zero (2^-150 exactly among them).
        zeros = (np.where(rng.random((2, 32)) < 0.5, -1.0, 1.0) * np.exp2(rng.integers(-149, -40, (2, 32))))
        zeros[:, 0], zeros[:, 1:3] = 2.0 ** 100, (0.0, -0.0)
        for family, x, variant in (("scale-rule", _scale_rule_blocks(fmt, rng), "block_scale_rule"),
                                   ("infinity", infinity, "block_infinity"),
                                   ("nan", nan, "block_nan"),
                                   ("tiny", tiny, "block_tiny_scale"),
                                   ("ties", _tie_blocks(fmt, rng), "block_element_ties"),
                                   ("zeros", zeros.astype(F32), "block_zero_code")):
            probes.append(engine.Probe(f"{name}-{family}", OPERATION, (x,), attributes, variant))
    return tuple(probes)


def _flat(record: np.ndarray) -> np.ndarray:
    return np.concatenate([record["scales"].reshape(-1), record["codes"].reshape(-1)])


def predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's scales and codes (flattened, scales first) for ``probe`` under ``combination``, and the codes
    it leaves open."""
    result, mask = block_quantize_outcomes(probe.inputs[0], profile="ocp-mx", **probe.attributes, **combination)
    return _flat(result), (None if mask is None else _flat(mask))


# BLK's ``block_quantize`` for the engine: one probe per call, compared whole.
CHAPTER = engine.WholeProbeChapter(OPERATION, FORMATS, DIMENSIONS, PROFILES, probes_for, predict, _flat)


def fingerprint_block(backend) -> list[engine.Result]:
    """``backend``'s ``block_quantize`` against every combination, one result per element format of
    :data:`FORMATS`; a backend without it, or without that format, is unsupported there."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, granularity)
            for granularity in CHAPTER.granularities]


# --- BLK-8: NVFP4 ---
#: BLK-8's quantize variants, each probed by a tensor built for it (the tensor scale is one per tensor).
NVFP4_OPERATION = "nvfp4_quantize"
NVFP4_DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in (
    "nvfp4_scale_arithmetic", "nvfp4_scale_floor", "nvfp4_zero_scale", "nvfp4_scale_ceiling", "nvfp4_element_nan",
    "nvfp4_negative_zero")}
NVFP4_PROFILES = {name: {variant: profile.nvfp4[variant] for variant in NVFP4_DIMENSIONS}
                  for name, profile in EVERY_PROFILE_BY_NAME.items() if profile.nvfp4}


@lru_cache(maxsize=None)
def nvfp4_probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    """One tensor per variant: near-ties under a tensor amax of 2048 (the arithmetic order); rows 2^-60 to 1 of
    the amax (the floor); zero blocks beside others (a zero scale); an amax whose scale amax / 2688 is float32's
    smallest subnormal (the ceiling); an infinity, whose block's elements are NaN, and a NaN, which makes every
    element NaN (the NaN code); -0 beside ones (the sign of zero). ``payload`` leaves NaN codes open, so it is
    consistent wherever another NaN rule is."""
    from refq.conformance.generate.nvfp4 import tie_blocks

    rng = np.random.default_rng(SEED + 8)
    ties = np.concatenate([np.full((1, 16), 2048, F32), tie_blocks()])
    floor = (rng.standard_normal((8, 32)) * np.exp2(-np.arange(0, 64, 8))[:, None]).astype(F32)
    zeros = rng.standard_normal((2, 32)).astype(F32)
    zeros[1] = 0.0
    tiny = F32(2688 * 1.4 * 2.0 ** -149)
    ceiling = (rng.uniform(-1, 1, (2, 32)) * tiny).astype(F32)
    ceiling[0, 0] = tiny
    infinity = rng.standard_normal((2, 32)).astype(F32)
    infinity[1, 3] = np.inf
    nan = rng.standard_normal((1, 32)).astype(F32)
    nan[0, 5] = np.nan
    negative_zero = np.ones((1, 32), F32)
    negative_zero[0, 1::2] = -0.0
    return tuple(engine.Probe(f"nvfp4-{name}", NVFP4_OPERATION, (x,), {}, variant) for name, x, variant in (
        ("ties", ties, "nvfp4_scale_arithmetic"), ("floor", floor, "nvfp4_scale_floor"),
        ("zero-block", zeros, "nvfp4_zero_scale"), ("subnormal-scale", ceiling, "nvfp4_scale_ceiling"),
        ("infinity", infinity, "nvfp4_element_nan"), ("nan", nan, "nvfp4_element_nan"),
        ("negative-zero", negative_zero, "nvfp4_negative_zero")))


def _nvfp4_flat(record: np.ndarray) -> np.ndarray:
    """The tensor scale's bits, then the block scales and the code bytes, as one int64 array."""
    return np.concatenate([engine.bits(record["tensor_scale"]).reshape(-1),
                           engine.bits(record["block_scales"]).reshape(-1), engine.bits(record["codes"]).reshape(-1)])


def _nvfp4_mask(mask: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(mask[field]).reshape(-1) for field in ("tensor_scale", "block_scales", "codes")])


def nvfp4_predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's record for ``probe`` under ``combination`` (flattened) and the bytes it leaves open."""
    from refq.block.nvfp4 import nvfp4_quantize_outcomes

    result, mask = nvfp4_quantize_outcomes(probe.inputs[0], profile="torchao-nvfp4", **combination)
    return _nvfp4_flat(result), (None if mask is None else _nvfp4_mask(mask))


# BLK-8's ``nvfp4_quantize`` for the engine: one tensor per probe, compared whole.
NVFP4_CHAPTER = engine.WholeProbeChapter(NVFP4_OPERATION, ("nvfp4",), NVFP4_DIMENSIONS, NVFP4_PROFILES,
                                         nvfp4_probes_for, nvfp4_predict, _nvfp4_flat)


def fingerprint_nvfp4(backend) -> list[engine.Result]:
    """``backend``'s ``nvfp4_quantize`` against every combination of BLK-8's variants; a backend without it is
    unsupported."""
    return [engine.fingerprint_operation(backend, NVFP4_CHAPTER, NVFP4_OPERATION, granularity)
            for granularity in NVFP4_CHAPTER.granularities]
