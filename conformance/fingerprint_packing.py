"""Fingerprint of BLK-10's ``pack_codes``: which field, order, unit and stream rules a code packer follows.

Every engine refq knows packs non-negative 4-bit codes, so the probes are int8 arrays of codes 0 to 7, which
every ``code_field`` takes: rows of 8 codes 0 to 7 and 7 to 0, and rows of 16 random ones. They part
``code_field = offset`` (its fields are the codes plus 8) from the other two, each ``code_order`` from the others
(where the first code goes, and whether the row is cut in halves), ``code_unit = int32`` from the byte units,
and ``code_extent``'s rows from one stream (the result's shape). A probe's output is compared whole, its item
size and shape first, then its units' values.

Two pairs of values compute one function on such codes (:func:`equivalent`): ``unsigned`` and ``modular`` differ
only on negative codes, which ``unsigned`` refuses and not every engine refuses (HQQ's and torchao's shifts wrap
them into other fields); ``uint8`` and ``uint8_or_int32`` differ only at widths that do not divide 8, which
torchao and ONNX do not pack. The fingerprint names both members of each pair.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from refq.block.packing import VARIANTS, pack_codes
from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import registry_values
from refq.errors import RefqError
from refq.registry.profiles import PACKING_PROFILES

OPERATION = "pack_codes"
DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in VARIANTS}
#: The profiles that pack codes, by their values of :data:`DIMENSIONS`.
PROFILES = {profile.name: {variant: profile.packing[variant] for variant in DIMENSIONS} for profile in PACKING_PROFILES}
BITS = 4
SEED = 2711
#: The profile whose values every combination overrides (all four of them).
_BASE = "onnx"
#: The values that compute one function on non-negative codes of 4 bits.
_ALIKE = ({"unsigned", "modular"}, {"uint8", "uint8_or_int32"})


@lru_cache(maxsize=None)
def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    """Rows of codes 0 to 7 (and 7 to 0), then rows of random codes 0 to 7, all int8 at 4 bits."""
    ordered = np.array([np.arange(8), np.arange(8)[::-1]], np.int8)
    random = np.random.default_rng(SEED).integers(0, 8, (4, 16)).astype(np.int8)
    return (engine.Probe("ordered-rows", OPERATION, (ordered,), {"bits": BITS}, "code_order"),
            engine.Probe("random-rows", OPERATION, (random,), {"bits": BITS}, "code_extent"))


def _flat(units) -> np.ndarray:
    """The units' item size, rank and shape, then their values (int32 words as signed integers), one array."""
    array = np.asarray(units)
    return np.concatenate([[array.dtype.itemsize, array.ndim, *array.shape], engine.bits(array).reshape(-1)])


def predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's units for ``probe`` under ``combination``; every unit predictable."""
    (codes,) = probe.inputs
    try:
        return _flat(pack_codes(codes, profile=_BASE, **probe.attributes, **combination)), None
    except RefqError:
        return engine.REFUSED


def equivalent(combination: dict[str, str]) -> list[dict[str, str]]:
    """The combinations that pack what ``combination`` packs from the probes' codes, ``combination`` first: its
    ``code_field`` swapped within {unsigned, modular} and its ``code_unit`` within {uint8, uint8_or_int32}."""
    alike = [combination]
    for variant in ("code_field", "code_unit"):
        for group in _ALIKE:
            if combination[variant] in group:
                alike += [{**other, variant: value} for other in list(alike)
                          for value in sorted(group - {combination[variant]})]
    return alike


# BLK-10's ``pack_codes`` for the engine: one array of codes per probe, its units compared whole.
CHAPTER = engine.WholeProbeChapter(OPERATION, ("rows",), DIMENSIONS, PROFILES, probes_for, predict, _flat)


def fingerprint_packing(backend) -> list[engine.Result]:
    """``backend``'s ``pack_codes`` against every combination of BLK-10's variants; a backend without it is
    unsupported."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, granularity)
            for granularity in CHAPTER.granularities]
