"""Fingerprint of INT-2.6's ``u8s8_products``: does a backend sum uint8 x int8 products exactly, or in
int16-saturating pairs (x86 ``VPMADDUBSW`` without VNNI)?

One ``qlinear_matmul`` call. Each row of ``a`` starts with a pair of products that passes int16
(:data:`SATURATING`: $2 \\cdot 255 \\cdot 127 = 64770$) or does not (the control rows), then small
products that move the sum; the scales make the multiplier exactly $2^{-8}$ in every order of REQ-1.1,
and every accumulator, exact or paired, divided by 256 has a fraction in $[1/64, 1/2 - 1/64]$: far from
the ties and the integers, so that every requantization variant (REQ-1, REQ-2.7) gives the same code and
the probe separates the products alone (a test checks this). A profile that leaves the value to the CPU
(INT-5.4) is declared with the value :mod:`refq.backends.cpu` says this CPU's kernels take.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

from refq.backends import cpu
from refq.conformance import fingerprint_engine as engine
from refq.integer_ops.qlinear import qlinear_matmul
from refq.registry.profiles import EVERY_PROFILE_BY_NAME

OPERATION = "qlinear_matmul"
GRANULARITY = "u8s8_products"
DIMENSIONS: dict[str, tuple[str, ...]] = {"u8s8_products": ("exact", "int16_pairs")}
#: Which kernels each engine's CPU dispatch takes, for the profiles that leave the value to the CPU.
CPU_RULES = {"onnxruntime": cpu.mlas_u8s8_products, "pytorch": cpu.fbgemm_u8s8_products}
#: The first two codes of a saturating row and of the column: 255 * 127 twice.
SATURATING = (255, 127)
SCALES = (np.float32(1 / 16), np.float32(1 / 16), np.float32(1))
#: ONNX Runtime's requantization; the probe's codes do not depend on it.
REQUANTIZE = {"precision": "float32", "zero_point_placement": "after_rounding"}


def declared_profiles() -> dict[str, dict[str, str]]:
    """Profile -> its value: a profile's own, or for one that leaves it to the CPU, this CPU's (when known)."""
    profiles = {}
    for name, profile in EVERY_PROFILE_BY_NAME.items():
        value = profile.requantize.get("u8s8_products")
        if value == "unpredictable":
            value = CPU_RULES[name]() if name in CPU_RULES else None
        if value is not None:
            profiles[name] = {"u8s8_products": value}
    return profiles


def _clear_of_boundaries(total: int) -> bool:
    fraction = Fraction(total, 256) - (total // 256)
    return Fraction(1, 64) <= fraction <= Fraction(1, 2) - Fraction(1, 64)


def _rows() -> np.ndarray:
    """Three saturating and three control rows: the first pair, then a tail of small codes (against a
    column of ones) that keeps both sums clear of the boundaries."""
    rows = []
    for first in (SATURATING[0], 100):
        pair = 2 * first * SATURATING[1]
        tails = [tail for tail in range(1, 256)
                 if _clear_of_boundaries(pair + tail) and _clear_of_boundaries(min(pair, 32767) + tail)][:3]
        rows += [[first, first, tail // 2, tail - tail // 2] for tail in tails]
    return np.array(rows, dtype=np.uint8)


@lru_cache(maxsize=None)
def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    a = _rows()
    b = np.array([[SATURATING[1]], [SATURATING[1]], [1], [1]], dtype=np.int8)
    inputs = (a, SCALES[0], np.uint8(0), b, SCALES[1], np.int8(0), SCALES[2], np.uint8(0))
    return (engine.Probe("pairs", OPERATION, inputs, {}, "u8s8_products"),)


def predict(probe: engine.Probe, combination: dict[str, str]):
    return qlinear_matmul(*probe.inputs, **REQUANTIZE, **combination), None


CHAPTER = engine.WholeProbeChapter(OPERATION, (GRANULARITY,), DIMENSIONS, declared_profiles(), probes_for, predict)


def fingerprint_products(backend) -> list[engine.Result]:
    """``backend``'s ``qlinear_matmul`` on the pairs probe; a backend without it is unsupported."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, GRANULARITY)]
