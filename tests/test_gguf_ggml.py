"""GGF against ggml itself: ``ggml-quants.c`` built unfused (the reference) and fused (gcc -march=x86-64-v3 -mtune=znver3).

Skips unless ggml's sources are present (see tests/gguf_ggml.py). The unfused build must give
refq's bytes on every predictable block; the fused build shows the ``gguf_contraction`` variant.
"""

from __future__ import annotations

import numpy as np
import pytest

from refq.gguf import BLOCK_TYPES, block_type, gguf_dequantize, gguf_quantize, gguf_quantize_with_outcomes
from tests import gguf_ggml as ggml
from tests.test_gguf import adversarial_blocks, random_blocks, same_floats

pytestmark = pytest.mark.skipif(ggml.unavailable_reason() is not None, reason=str(ggml.unavailable_reason()))

QUANTIZED = tuple(t.name for t in BLOCK_TYPES if t.quantize)
DEQUANTIZED = tuple(t.name for t in BLOCK_TYPES if t.name != "Q8_1")
K_SEARCHED = ("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")


def inputs(name: str, seed: int, blocks_of_32: int = 16_384) -> np.ndarray:
    size = block_type(name).block_elements
    rng = np.random.default_rng(seed)
    blocks = blocks_of_32 * 32 // size
    adversarial = adversarial_blocks(rng, size)
    return np.concatenate([random_blocks(rng, blocks, size), adversarial])


def cpu_has_fma() -> bool:
    """Whether this CPU runs the fused build (x86-64-v3: AVX2, FMA and the rest)."""
    from refq.backends.ggml_build import missing_cpu_flags

    return not missing_cpu_flags()


@pytest.mark.parametrize("name", [t.name for t in BLOCK_TYPES])
def test_block_sizes_match_ggml(name):
    kind = block_type(name)
    assert ggml.type_size(name) == (kind.block_elements, kind.block_bytes)


@pytest.mark.parametrize("name", QUANTIZED)
def test_quantize_matches_unfused_ggml(name):
    """GGF-2, GGF-3: byte-identical to ``quantize_row_*_ref`` on every predictable block (signed zeros
    included: refq's default is ``gguf_zero_sign = ggml``)."""
    x = inputs(name, 20)
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name)
    theirs = ggml.quantize("unfused", name, x)
    rows = block_type(name).block_bytes
    differ = (ours.reshape(-1, rows) != theirs.reshape(-1, rows)).any(axis=1)
    assert np.flatnonzero(differ & ~unpredictable).tolist() == []
    # Past about 2^20 a K type's float16 scale overflows and nearest_int meets NaN (GGF-1.4).
    assert unpredictable.mean() < 0.06


@pytest.mark.parametrize("name", QUANTIZED)
def test_nan_blocks_leave_the_others_alone(name):
    size = block_type(name).block_elements
    rng = np.random.default_rng(21)
    x = random_blocks(rng, 16, size)
    x[3 * size + 7] = np.nan
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name, nan="unpredictable")
    assert np.flatnonzero(unpredictable).tolist() == [3]
    theirs = ggml.quantize("unfused", name, x).reshape(16, -1)
    assert np.array_equal(np.delete(ours.reshape(16, -1), 3, axis=0), np.delete(theirs, 3, axis=0))


@pytest.mark.parametrize("build", ["unfused", "fused"])
@pytest.mark.parametrize("name", DEQUANTIZED)
def test_dequantize_matches_ggml(name, build):
    """GGF-2.8, GGF-3.11: every byte pattern, and refq's own blocks, in both builds."""
    kind = block_type(name)
    rng = np.random.default_rng(22)
    random_bytes = rng.integers(0, 256, 4096 * kind.block_bytes, dtype=np.uint8)
    quantized = [gguf_quantize(inputs(name, 23, 4096), type=name)] if kind.quantize else []
    for blocks in (random_bytes, *quantized):
        assert same_floats(gguf_dequantize(blocks, type=name), ggml.dequantize(build, name, blocks)).all()


@pytest.mark.skipif(not cpu_has_fma(), reason="the fused build needs x86-64-v3 (AVX2, FMA)")
@pytest.mark.parametrize("name", K_SEARCHED)
def test_fused_build_changes_k_searches(name):
    """GGF-4.1: the contracted build gives other bytes for some super-blocks of every searched K type,
    and the unfused build none."""
    x = inputs(name, 24, 32_768)
    rows = block_type(name).block_bytes
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name)
    fused = ggml.quantize("fused", name, x).reshape(-1, rows)
    changed = (fused != ours.reshape(-1, rows)).any(axis=1) & ~unpredictable
    assert changed.sum() > 0
    assert changed.mean() < 0.5


@pytest.mark.slow
@pytest.mark.parametrize("name", QUANTIZED)
def test_quantize_matches_unfused_ggml_many_blocks(name):
    x = inputs(name, 25, 1 << 17)
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name)
    rows = block_type(name).block_bytes
    theirs = ggml.quantize("unfused", name, x).reshape(-1, rows)
    differ = (ours.reshape(-1, rows) != theirs).any(axis=1)
    assert np.flatnonzero(differ & ~unpredictable).tolist() == []


# --- ggml as a conformance backend ------------------------------------------------------------------


def test_ggml_backend_conforms_on_the_vectors():
    """The ggml backend (unfused build) on every level-1 GGF case of its profile: every type refq
    quantizes passes byte for byte, every type dequantizes bit for bit; ggml lacks IQ2_XXS's
    quantize_row_*_ref and Q8_1's dequantize_row_*, reported unsupported."""
    from refq.conformance.harness import case_paths, run_cases

    results = run_cases("ggml", case_paths(ops=["gguf_quantize", "gguf_dequantize"]))
    assert [r.id for r in results if r.status not in ("pass", "unsupported")] == []
    assert sorted(r.id.split("/")[1] for r in results if r.status == "unsupported") == [
        "error-dequantize-only-type", "q8_1-bytes"]
    # 49 without an importance matrix, 9 types with one and its error case (GGF-8), Q8_0's and Q8_1's
    # activation cases (GGF-4.3, the reference's bytes).
    assert sum(r.status == "pass" for r in results) == 61


def test_fingerprint_names_the_build():
    """The fingerprint tells ggml's unfused build from the fused (x86-64-v3) one by its K-type bytes (it
    names gcc's placements exactly, GGF-4.2), and both from gguf-py by the zero signs."""
    from refq.backends import GgufPyBackend
    from refq.conformance.fingerprint_gguf import fingerprint_gguf

    def named(backend):
        return {result.granularity: result.variants for result in fingerprint_gguf(backend) if result.status == "ok"}

    unfused = named(ggml.backend("unfused"))
    assert unfused["legacy"]["gguf_zero_sign"] == ["ggml"]
    assert unfused["k_types"]["gguf_contraction"] == ["unfused"]
    if cpu_has_fma():
        assert named(ggml.backend("fused"))["k_types"]["gguf_contraction"] == ["gcc_x86_64"]
    assert named(GgufPyBackend())["legacy"]["gguf_zero_sign"] == ["unpredictable"]


def test_ggml_and_gguf_py_conform_on_level2(tmp_path):
    """Level 2 (24 blocks of each family per type, 512 random blocks per dequantize case), built here:
    ggml passes every case it has a function for, gguf-py every case of the types it implements."""
    from refq.conformance.generate.build import build
    from refq.conformance.harness import case_paths, run_cases

    ops = ["gguf_quantize", "gguf_dequantize"]
    build(2, tmp_path, ops)
    paths = [path for path in case_paths(level=2, ops=ops, root=tmp_path) if "level2" in str(path)]
    # gguf-py: 16 types it lacks, the 9 importance-matrix cases (its quantize takes none), Q8_1's activation case.
    for backend, unsupported in (("ggml", 1), ("gguf-py", 26)):
        results = run_cases(backend, paths)
        assert [r.id for r in results if r.status not in ("pass", "unsupported")] == [], backend
        assert sum(r.status == "unsupported" for r in results) == unsupported, backend
