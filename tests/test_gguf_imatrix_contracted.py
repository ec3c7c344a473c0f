"""GGF-4.2 with GGF-8: the importance-weighted searches under ``gguf_contraction = gcc_x86_64``, against
``refq ggml build``'s fused library (``ggml_quantize_chunk`` with the same importance matrix), byte for
byte, for every weighted type; the compiled path against the interpreted one. The inputs tell the fused build
from the unfused one (the check would fail on the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.backends import ggml_build
from refq.gguf import block_type
from refq.gguf.api import (FUSED_WEIGHTED_TYPES, WEIGHTED_TYPES, gguf_quantize_outcomes,
                           gguf_quantize_with_outcomes)
from tests import gguf_ggml as ggml
from tests.test_gguf_contracted import near_ties, q3_k_near_ties
from tests.test_gguf_imatrix import importance, rows

needs_fused_build = [
    pytest.mark.skipif(ggml.unavailable_reason() is not None, reason=str(ggml.unavailable_reason())),
    pytest.mark.skipif(bool(ggml_build.missing_cpu_flags()),
                       reason=f"the fused build (x86-64-v3) cannot run here: the CPU lacks "
                              f"{', '.join(ggml_build.missing_cpu_flags())}"),
]


def mixed(name: str, count: int, seed: int) -> np.ndarray:
    """``count`` values: Gaussian blocks at scales from 1e-4 to 1e3, Laplace blocks, near-tie blocks
    (on or one ulp beside the midpoints of their own grid) and one Gaussian stretch at a single scale."""
    rng = np.random.default_rng(seed)
    quarter = count // 4
    gaussian = rng.standard_normal(quarter) * (10.0 ** rng.uniform(-4, 3, quarter // 32)).repeat(32)
    laplace = rng.laplace(size=quarter) * (10.0 ** rng.uniform(-2, 2, quarter // 32)).repeat(32)
    if name == "Q3_K":
        ties = q3_k_near_ties(quarter // 256, seed)
    else:
        ties = near_ties(name if name in ("Q4_0", "Q5_0", "Q4_1", "Q5_1") else "Q4_0", quarter // 32, seed)
    plain = rng.standard_normal(quarter) * 10.0 ** rng.uniform(-3, 3)
    return np.concatenate([gaussian, laplace, ties, plain]).astype(np.float32)


def imatrices(seed: int, n_per_row: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"lognormal": rng.lognormal(0.0, 2.0, n_per_row).astype(np.float32),
            "with zeros": np.where(rng.random(n_per_row) < 0.3, 0.0, rng.random(n_per_row)).astype(np.float32),
            "constant": np.full(n_per_row, 0.75, np.float32),
            "signed": rng.uniform(-1.0, 1.0, n_per_row).astype(np.float32)}


def fused_weighted(name: str, x: np.ndarray, imatrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """refq's bytes and unpredictable blocks under gcc_x86_64 with ``imatrix``."""
    return gguf_quantize_with_outcomes(x, type=name, imatrix=imatrix, contraction="gcc_x86_64")


def compare_with_fused_build(name: str, x: np.ndarray, imatrix: np.ndarray) -> tuple[int, int, int]:
    """(blocks compared, blocks where the fused build differs from the unfused one, mismatches)."""
    size = block_type(name).block_bytes
    with np.errstate(all="ignore"):
        ours, unpredictable = fused_weighted(name, x, imatrix)
        fused = ggml.backend("fused").gguf_quantize(x, imatrix, type=name).reshape(-1, size)
        unfused = ggml.backend("unfused").gguf_quantize(x, imatrix, type=name).reshape(-1, size)
    ours = ours.reshape(-1, size)
    differs = (fused != unfused).any(axis=1) & ~unpredictable
    mismatched = (ours != fused).any(axis=1) & ~unpredictable
    return int((~unpredictable).sum()), int(differs.sum()), int(mismatched.sum())


@needs_fused_build[0]
@needs_fused_build[1]
@pytest.mark.parametrize("name", WEIGHTED_TYPES)
def test_weighted_fused_matches_the_fused_build(name):
    """2^18 values of mixed distributions, rows of 256 and 4096, four importance matrices each: every
    predictable block is the fused build's, and some of them differ from the unfused build's."""
    x = mixed(name, 1 << 18, 91)
    compared = differs = 0
    for n_per_row in (256, 4096):
        for label, imatrix in imatrices(92 + n_per_row, n_per_row).items():
            seen, differing, mismatched = compare_with_fused_build(name, x, imatrix)
            assert mismatched == 0, f"{name}, rows of {n_per_row}, {label} weights: {mismatched} blocks differ"
            compared += seen
            differs += differing
    assert compared > 0.99 * 8 * x.size // block_type(name).block_elements
    assert differs > 0, "these inputs do not tell the builds apart"


@needs_fused_build[0]
@needs_fused_build[1]
@pytest.mark.parametrize("name", WEIGHTED_TYPES)
def test_weighted_fused_matches_the_fused_build_on_adversarial_rows(name):
    """The imatrix tests' rows (random blocks, then test_gguf's adversarial ones: huge, tiny, subnormal,
    constant, one-element blocks) under their five importance matrices (one column alone, negative
    weights among them)."""
    rng = np.random.default_rng(93)
    for n_per_row in (256, 512):
        x = rows(rng, 16 * 512 // n_per_row, n_per_row)
        for kind in range(5):
            _, _, mismatched = compare_with_fused_build(name, x, importance(rng, kind, n_per_row))
            assert mismatched == 0, f"{name}, rows of {n_per_row}, importance {kind}: {mismatched} blocks differ"


@needs_fused_build[0]
@needs_fused_build[1]
def test_ggml_native_profile_takes_the_fused_weighted_search():
    x = mixed("Q4_1", 1 << 14, 94)
    imatrix = imatrices(95, 512)["lognormal"]
    ours, unpredictable = gguf_quantize_outcomes(x, imatrix, type="Q4_1", profile="ggml-native")
    fused = ggml.backend("fused").gguf_quantize(x, imatrix, type="Q4_1")
    assert np.array_equal(ours[~unpredictable], fused[~unpredictable])


@pytest.mark.parametrize("name", WEIGHTED_TYPES)
def test_weighted_fused_compiled_equals_interpreted(name):
    values = mixed(name, 1 << 12, 96)
    x = np.concatenate([values[:512], values[2048:2560]])  # Gaussian blocks, then near-tie ones
    for imatrix in (imatrices(97, 256)["lognormal"], imatrices(97, 256)["signed"]):
        with np.errstate(all="ignore"):
            compiled = fused_weighted(name, x, imatrix)
            with pure_python():
                interpreted = fused_weighted(name, x, imatrix)
        assert np.array_equal(compiled[0], interpreted[0]) and np.array_equal(compiled[1], interpreted[1])


def test_every_weighted_type_is_placed():
    """GGF-4.2 places the FMAs of every importance-weighted search: none is refused under gcc_x86_64."""
    assert set(FUSED_WEIGHTED_TYPES) == set(WEIGHTED_TYPES)
    for name in WEIGHTED_TYPES:
        gguf_quantize_with_outcomes(np.linspace(-1, 1, 256, dtype=np.float32), type=name,
                                    imatrix=np.ones(256, np.float32), contraction="gcc_x86_64")
