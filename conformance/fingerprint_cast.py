"""Fingerprint of ``cast``'s engine variants: NUM-3.20's ``float8_conversion``, NUM-3.22's
``e8m0_conversion`` and NUM-3.23's ``finite_format_nan``, one probe each.

Each probe moves one variant only, so each is a chapter of its own: a backend that cannot cast into
one target (ONNX Runtime has no float4 kernel, ml_dtypes no E8M0 range rule) is unsupported on that
probe alone.

- ``float8_window``: $\\pm 480$, 484 and 495 into float8_e4m3fn without saturation: NaN by NUM-3.15,
  448 by ONNX Runtime's conversion.
- ``e8m0_range``: $2^{-128}$, $-2$ and $1.2 \\times 2^{127}$ into E8M0 under ``round_mode='nearest'``
  without saturation: ``0x00, 0xff, 0xfe`` (``nearest_value``), all NaN (``range_first``),
  ``0x00, 0x80, 0xfe`` (``exponent_field``).
- ``finite_nan``: NaNs of both signs into float4_e2m1fn: refused (``error``), ``0x7`` (``largest``),
  ``0x8`` and ``0x0`` (``opposite_sign_zero``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from refq.conformance import fingerprint_engine as engine
from refq.errors import RefqError
from refq.numbers.floats.cast import cast
from refq.registry.profiles import EVERY_PROFILE_BY_NAME, cast_values

OPERATION = "cast"
#: granularity -> (the variant it separates, the target, the inputs).
PROBES: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "float8_window": ("float8_conversion", "float8_e4m3fn", (480.0, -480.0, 484.0, 495.0)),
    "e8m0_range": ("e8m0_conversion", "float8_e8m0fnu", (2.0**-128, -2.0, 1.2 * 2.0**127)),
    "finite_nan": ("finite_format_nan", "float4_e2m1fn", (float("nan"), -float("nan"), 1.0)),
}


def declared_profiles(variant: str) -> dict[str, dict[str, str]]:
    """Profile -> its value of ``variant`` (a profile naming none has NUM-3's)."""
    return {name: {variant: cast_values(profile)[variant]} for name, profile in EVERY_PROFILE_BY_NAME.items()}


def _chapter(granularity: str) -> engine.WholeProbeChapter:
    variant, target, values = PROBES[granularity]

    @lru_cache(maxsize=None)
    def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
        x = np.array(values, dtype=np.float32)
        return (engine.Probe(granularity, OPERATION, (x,), {"to": target, "saturate": False}, variant),)

    def predict(probe: engine.Probe, combination: dict[str, str]):
        try:
            return cast(probe.inputs[0], target, saturate=False, **combination), None
        except RefqError:
            return engine.REFUSED

    return engine.WholeProbeChapter(OPERATION, (granularity,), {variant: engine.registry_values(variant)},
                                    declared_profiles(variant), probes_for, predict)


#: One chapter per probe, in :data:`PROBES`' order.
CHAPTERS = tuple(_chapter(granularity) for granularity in PROBES)


def fingerprint_cast(backend) -> list[engine.Result]:
    """``backend``'s ``cast`` on each probe; a probe it cannot run is unsupported on its own."""
    return [engine.fingerprint_operation(backend, chapter, OPERATION, chapter.granularities[0])
            for chapter in CHAPTERS]
