"""Fingerprinting ggml block quantizers (GGF): which build, whose zero signs, which activation quantizer?

Three registry variants of ``gguf_quantize`` separate the engines measured:

- ``gguf_zero_sign``: ``ggml`` (the C reference's sign of a zero ``d`` or ``m``) or
  ``unpredictable`` (gguf-py's numpy ``argmax`` and ``min`` pick another zero, GGF-2.1);
- ``gguf_contraction``: ``unfused`` (every float32 product and sum rounded on its own: ggml built
  with ``-ffp-contract=off``, gguf-py), ``gcc_x86_64`` (the FMAs gcc 12 ``-O2 -march=x86-64-v3
  -mtune=znver3`` forms, GGF-4.2) or ``contracted`` (another build that fuses them: its K-type bytes are
  unpredictable, GGF-4.1);
- ``gguf_activation_quantizer``: ``reference`` (``quantize_row_q8_0_ref``) or ``x86_simd`` (ggml-cpu's
  AVX2 ``quantize_row_q8_0``, GGF-4.3).

Probes come in three groups, reported as three "granularities": ``legacy`` holds Q4_0, Q4_1, Q5_0
and Q5_1 blocks of zeros of both signs (whatever the build), ``k_types`` random super-blocks of
Q2_K and Q5_K, where gcc's FMA contraction changes about a quarter of the super-blocks
(measured), ``activation`` two Q8_0 tensors: blocks of exact .5 ties (``roundf`` rounds them away
from zero, the SIMD code to even) and float32 subnormal blocks (the reference stores codes 0, the
SIMD quantizer -128). A group a backend does not quantize (gguf-py has no K-type quantize, ggml-cpu's
activation quantizer only Q8_0 and Q8_1) is unsupported.
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
DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in (
    "gguf_zero_sign", "gguf_contraction", "gguf_activation_quantizer")}
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
    elif granularity == "activation":
        # Largest magnitude 127, so r = 1 both ways: only the rounding of the ties k + 1/2 differs.
        ties = (rng.integers(-127, 127, (8, 32)) + np.float32(0.5)).astype(np.float32)
        ties[:, 0] = np.float32(127.0)
        probes.append(engine.Probe("q8_0-ties", OPERATION, (ties.reshape(-1),), {"type": "Q8_0"},
                                   "gguf_activation_quantizer"))
        # Below 2^-126 every 127 / A overflows: the SIMD codes are all -128; the reference's d rounds to 0
        # (A < 127 * 2^-150, codes 0), which also keeps the block defined in C.
        subnormal = (rng.uniform(-1, 1, (8, 32)) * np.float32(2.0**-144)).astype(np.float32)
        probes.append(engine.Probe("q8_0-subnormal", OPERATION, (subnormal.reshape(-1),), {"type": "Q8_0"},
                                   "gguf_activation_quantizer"))
    else:
        for name in ("Q2_K", "Q5_K"):
            x = rng.standard_normal(64 * 256).astype(np.float32)
            probes.append(engine.Probe(f"{name.lower()}-gaussian", OPERATION, (x,), {"type": name},
                                       "gguf_contraction"))
    return tuple(probes)


#: Predictions by probe name and the values that reach its bytes.
_PREDICTED: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
#: The types gguf_activation_quantizer applies to (GGF-4.3); it leaves every other type's bytes alone.
ACTIVATION_TYPES = ("Q8_0", "Q8_1")


def predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's bytes for ``probe`` and the bytes the combination leaves open (under ``contracted``
    every byte of a K-type block; ``gcc_x86_64`` is computed, GGF-4.2)."""
    name = probe.attributes["type"]
    # The activation quantizer reaches Q8_0 and Q8_1 only: the other probes are computed once for both values.
    activation = combination["gguf_activation_quantizer"] if name in ACTIVATION_TYPES else "reference"
    key = (probe.name, combination["gguf_zero_sign"], combination["gguf_contraction"], activation)
    if key not in _PREDICTED:
        _PREDICTED[key] = gguf_quantize_outcomes(probe.inputs[0], type=name, profile="ggml",
                                                 gguf_zero_sign=combination["gguf_zero_sign"],
                                                 gguf_contraction=combination["gguf_contraction"],
                                                 gguf_activation_quantizer=activation)
    return _PREDICTED[key]


# GGF's ``gguf_quantize`` for the engine: one probe per call, compared whole.
CHAPTER = engine.WholeProbeChapter(OPERATION, ("legacy", "k_types", "activation"), DIMENSIONS, PROFILES, probes_for,
                                   predict)


def fingerprint_gguf(backend) -> list[engine.Result]:
    """The three probe groups of ``backend``'s ``gguf_quantize``; a backend without it is reported unsupported."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, granularity)
            for granularity in CHAPTER.granularities]

