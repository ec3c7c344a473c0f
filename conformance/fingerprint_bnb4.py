"""Fingerprint of BLK-7's ``bnb4_quantize``: which thresholds, NaN rules, reciprocal and tail rule an NF4/FP4
implementation computes.

The five quantize variants of BLK-7 are probed by blocks of 64 built for them, for NF4 and for FP4 (each a
granularity of its own): every float32 midpoint and every decision-tree threshold, and their neighbours, in a
block of absmax 1 (``bnb4_thresholds``); a block holding a NaN (``bnb4_nan_code``, ``bnb4_absmax_nan``); blocks
whose absmax lies below 2^-128 and below 1e-38 (``bnb4_reciprocal``); and a last, partial block of absmax 3 whose
elements lie where a division by 3 and a product by fl32(1/3) fall on two sides of a threshold (``bnb4_tail``). Each
probe is one call, compared whole (absmax bits, then code bytes); every prediction is refq's
``bnb4_quantize_outcomes`` under the combination's values, which leaves nothing open.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from refq.block.bnb4 import bnb4_quantize_outcomes
from refq.block.bnb4_tables import bnb4_table
from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import registry_values
from refq.registry.profiles import EVERY_PROFILE_BY_NAME

OPERATION = "bnb4_quantize"
DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in (
    "bnb4_thresholds", "bnb4_nan_code", "bnb4_absmax_nan", "bnb4_reciprocal", "bnb4_tail")}
#: The profiles naming BLK-7 variants, by their values of :data:`DIMENSIONS`.
PROFILES = {name: {variant: profile.bnb4[variant] for variant in DIMENSIONS}
            for name, profile in EVERY_PROFILE_BY_NAME.items() if profile.bnb4}
QUANT_TYPES = ("nf4", "fp4")
BLOCK = 64
SEED = 1578
F32 = np.float32


def _with_neighbours(values: np.ndarray) -> np.ndarray:
    values = values.astype(F32)
    return np.concatenate([values, np.nextafter(values, F32(np.inf)), np.nextafter(values, F32(-np.inf))])


def _straddling(bounds: np.ndarray, absmax: np.float32) -> np.ndarray:
    """The float32 v within 200 steps of each bound times ``absmax`` for which v / absmax and v * fl32(1 /
    absmax) fall on different sides of that bound (or one on it): where ``bnb4_tail`` shows."""
    reciprocal = F32(1) / absmax
    found = []
    for bound in np.unique(np.abs(bounds[bounds != 0])).astype(F32):
        steps = (bound * absmax).astype(F32).view(np.int32) + np.arange(-200, 200, dtype=np.int32)
        values = steps.view(F32)
        divided, multiplied = (values / absmax).astype(F32), (values * reciprocal).astype(F32)
        parts = ((divided > bound) != (multiplied > bound)) | ((divided >= bound) != (multiplied >= bound))
        found.append(values[parts])
    straddling = np.concatenate(found)
    return np.concatenate([straddling, -straddling])


def _blocks_of(values: np.ndarray, lead: float, rng: np.random.Generator) -> np.ndarray:
    """``values`` in blocks of 63 behind ``lead`` (which sets each block's absmax), padded with random ones."""
    rows = -(-values.size // (BLOCK - 1))
    filler = rng.uniform(-0.9, 0.9, rows * (BLOCK - 1)).astype(F32) * F32(abs(lead))
    filler[:values.size] = values
    return np.concatenate([np.full((rows, 1), lead, F32), filler.reshape(rows, BLOCK - 1)], axis=1)


@lru_cache(maxsize=None)
def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    """The probes of one code table: ``granularity`` is its quant_type."""
    table = bnb4_table(granularity)
    rng = np.random.default_rng([SEED, QUANT_TYPES.index(granularity)])
    bounds = np.concatenate([table.midpoints, table.tree])
    thresholds = _blocks_of(_with_neighbours(np.concatenate([bounds, -bounds])), 1.0, rng)
    nan = rng.standard_normal((1, BLOCK)).astype(F32)
    nan[0, 7] = np.nan
    tiny = (rng.uniform(-1, 1, (2, BLOCK)) * np.array([[2.0 ** -130], [2.0 ** -126 * 1e-6]])).astype(F32)
    tiny[:, 0] = (F32(2.0 ** -130), F32(5e-39))
    tiny[0, 1:5] = 0.0  # zeros times an infinite reciprocal
    tail = _blocks_of(_straddling(bounds, F32(3)), 3.0, rng).reshape(-1)
    tail = np.concatenate([np.full(BLOCK, 3.0, F32), tail[:tail.size - 1]])  # the last block one short
    attributes = {"quant_type": granularity, "block_size": BLOCK}
    return tuple(engine.Probe(f"{granularity}-{name}", OPERATION, (x,), attributes, variant) for name, x, variant in (
        ("thresholds", thresholds, "bnb4_thresholds"), ("nan", nan, "bnb4_nan_code"),
        ("tiny-absmax", tiny, "bnb4_reciprocal"), ("partial-tail", tail, "bnb4_tail")))


def _flat(record: np.ndarray) -> np.ndarray:
    return np.concatenate([engine.bits(record["absmax"]).reshape(-1), engine.bits(record["codes"]).reshape(-1)])


def predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's absmax bits and code bytes for ``probe`` under ``combination``; nothing is open."""
    result, _ = bnb4_quantize_outcomes(probe.inputs[0], profile="bitsandbytes-cpu", **probe.attributes,
                                       **combination)
    return _flat(result), None


# BLK-7's ``bnb4_quantize`` for the engine: one probe per call, compared whole.
CHAPTER = engine.WholeProbeChapter(OPERATION, QUANT_TYPES, DIMENSIONS, PROFILES, probes_for, predict, _flat)


def fingerprint_bnb4(backend) -> list[engine.Result]:
    """``backend``'s ``bnb4_quantize`` against every combination of BLK-7's variants, one result per code table;
    a backend without it is unsupported."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, granularity)
            for granularity in CHAPTER.granularities]
