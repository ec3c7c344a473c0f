"""Fingerprinting ggml block quantizers (GGF): which build, and whose zero signs?

Two registry variants of ``gguf_quantize`` separate the engines measured:

- ``gguf_zero_sign``: ``ggml`` (the C reference's sign of a zero ``d`` or ``m``) or
  ``unpredictable`` (gguf-py's numpy ``argmax`` and ``min`` pick another zero, GGF-2.1);
- ``gguf_contraction``: ``unfused`` (every float32 product and sum rounded on its own: ggml built
  with ``-ffp-contract=off``, gguf-py), ``gcc_x86_64`` (the FMAs gcc 12 ``-O2 -march=x86-64-v3
  -mtune=znver3`` forms, GGF-4.2) or ``contracted`` (another build that fuses them: its K-type bytes are
  unpredictable, GGF-4.1).

Probes come in two groups, reported as two "granularities": ``legacy`` holds Q4_0, Q4_1, Q5_0
and Q5_1 blocks of zeros of both signs (whatever the build), ``k_types`` random super-blocks of
Q2_K and Q5_K, where gcc's FMA contraction changes about a quarter of the super-blocks
(measured). A group a backend does not quantize (gguf-py has no K-type quantize) is unsupported.
Every prediction is refq's own ``gguf_quantize_outcomes`` under the combination's values.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import registry_values
from refq.gguf.api import gguf_quantize_outcomes
from refq.registry.profiles import EVERY_PROFILE_BY_NAME

OPERATION = "gguf_quantize"
DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in ("gguf_zero_sign",
                                                                                    "gguf_contraction")}
#: The profiles naming GGF variants, by their values of :data:`DIMENSIONS`.
PROFILES = {name: {variant: profile.gguf[variant] for variant in DIMENSIONS}
            for name, profile in EVERY_PROFILE_BY_NAME.items() if profile.gguf}
SEED = 4099


@lru_cache(maxsize=None)
def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    rng = np.random.default_rng(SEED)
    probes = []
    if granularity == "legacy":
        for name in ("Q4_0", "Q4_1", "Q5_0", "Q5_1"):
            # Zeros of both signs, a negative zero first (numpy's argmax picks it: d = -0 / -8 = +0, where
            # ggml's search from +0 keeps +0 and stores -0); then blocks whose minimum is a zero.
            zeros = np.where(rng.random((8, 32)) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
            zeros[:, 0] = -0.0
            minimum = np.abs(rng.standard_normal((8, 32))).astype(np.float32)
            minimum[:, 3], minimum[:, 9] = np.float32(-0.0), np.float32(0.0)
            x = np.concatenate([zeros, minimum]).reshape(-1)
            probes.append(engine.Probe(f"{name.lower()}-zero-signs", OPERATION, (x,), {"type": name},
                                       "gguf_zero_sign"))
    else:
        for name in ("Q2_K", "Q5_K"):
            x = rng.standard_normal(64 * 256).astype(np.float32)
            probes.append(engine.Probe(f"{name.lower()}-gaussian", OPERATION, (x,), {"type": name},
                                       "gguf_contraction"))
    return tuple(probes)


def predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's bytes for ``probe`` and the bytes the combination leaves open (under ``contracted``
    every byte of a K-type block; ``gcc_x86_64`` is computed, GGF-4.2)."""
    name = probe.attributes["type"]
    return gguf_quantize_outcomes(probe.inputs[0], type=name, profile="ggml",
                                  gguf_zero_sign=combination["gguf_zero_sign"],
                                  gguf_contraction=combination["gguf_contraction"])


# GGF's ``gguf_quantize`` for the engine: one probe per call, compared whole.
CHAPTER = engine.WholeProbeChapter(OPERATION, ("legacy", "k_types"), DIMENSIONS, PROFILES, probes_for, predict)


def fingerprint_gguf(backend) -> list[engine.Result]:
    """Both probe groups of ``backend``'s ``gguf_quantize``; a backend without it is reported unsupported."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, granularity)
            for granularity in CHAPTER.granularities]

