"""GGF-4.3 against ggml itself: ggml-cpu's x86 AVX2 ``quantize_row_q8_0`` / ``quantize_row_q8_1`` (the
``ggml-cpu-x86`` backend, ``refq ggml build``'s x86-simd library) and ggml-quants.c's ``_ref`` (the
``ggml`` backend). Skips, naming the command, where the libraries are not built or the CPU lacks
x86-64-v3."""

from __future__ import annotations

import numpy as np
import pytest

from refq.backends import ggml_build
from refq.conformance.generate.gguf_activation import activation_blocks
from refq.gguf import gguf_quantize, gguf_quantize_with_outcomes


def _unavailable() -> str | None:
    missing = ggml_build.missing_cpu_flags()
    if missing:
        return "ggml-cpu's x86 activation quantizer needs x86-64-v3; this CPU lacks " + ", ".join(missing)
    try:
        for build in ("unfused", "x86-simd"):
            ggml_build.built_library(build)
    except ggml_build.GgmlUnavailable as error:
        return str(error)
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable()))
SIZES = {"Q8_0": 34, "Q8_1": 36}


@pytest.fixture(scope="module")
def engines():
    from refq.backends import GgmlBackend, GgmlCpuX86Backend

    return GgmlCpuX86Backend(), GgmlBackend()


def _blocks(data: np.ndarray, type_name: str) -> np.ndarray:
    return np.asarray(data).reshape(-1, SIZES[type_name])


@pytest.mark.parametrize("type_name", SIZES)
def test_gaussian_blocks_match_the_simd_build(engines, type_name):
    """2^16 N(0,1) blocks: refq's x86_simd gives the SIMD library's bytes, and differs from the
    reference exactly where the two C functions differ."""
    simd_engine, reference_engine = engines
    x = np.random.default_rng(0).standard_normal(32 * 65536).astype(np.float32)
    theirs = _blocks(simd_engine.gguf_quantize(x, type=type_name), type_name)
    ours = _blocks(gguf_quantize(x, type=type_name, activation_quantizer="x86_simd"), type_name)
    assert np.flatnonzero((ours != theirs).any(axis=1)).tolist() == []
    c_reference = _blocks(reference_engine.gguf_quantize(x, type=type_name), type_name)
    refq_reference = _blocks(gguf_quantize(x, type=type_name), type_name)
    c_differ = np.flatnonzero((theirs != c_reference).any(axis=1))
    assert c_differ.size > 0
    assert c_differ.tolist() == np.flatnonzero((ours != refq_reference).any(axis=1)).tolist()


@pytest.mark.parametrize("type_name", SIZES)
def test_adversarial_blocks_match_the_simd_build(engines, type_name):
    """Level 2's blocks (16 of each family: ties, the reciprocal's overflow edge, subnormal, tiny, infinite,
    zero, fp16-overflowing and NaN blocks, then 64 N(0,1) blocks the reciprocals separate): every byte
    refq predicts (all but the NaN blocks') is the library's."""
    simd_engine, _ = engines
    x = activation_blocks(2, np.random.default_rng(47), type_name)
    with np.errstate(all="ignore"):
        theirs = _blocks(simd_engine.gguf_quantize(x, type=type_name), type_name)
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=type_name, nan="unpredictable",
                                                      activation_quantizer="x86_simd")
    differ = (_blocks(ours, type_name) != theirs).any(axis=1)
    assert np.flatnonzero(differ & ~unpredictable).tolist() == []
    assert unpredictable.sum() == 16  # the NaN family's blocks only


def test_measured_differences_from_the_reference(engines):
    """The issue's measurements, on the C builds themselves: every block of exact ties differs, and a
    subnormal block stores -128 against _ref's 0."""
    simd_engine, reference_engine = engines
    rng = np.random.default_rng(48)
    ties = (rng.integers(-127, 127, (256, 32)) + np.float32(0.5)).astype(np.float32)
    ties[:, 0] = np.float32(127.0)
    simd_ties = _blocks(simd_engine.gguf_quantize(ties, type="Q8_0"), "Q8_0")
    assert (simd_ties != _blocks(reference_engine.gguf_quantize(ties, type="Q8_0"), "Q8_0")).any(axis=1).all()
    subnormal = (rng.uniform(-1, 1, 32 * 16) * np.float32(2.0**-140)).astype(np.float32)
    assert (simd_engine.gguf_quantize(subnormal, type="Q8_0").reshape(-1, 34)[:, 2:] == 0x80).all()
    assert not reference_engine.gguf_quantize(subnormal, type="Q8_0").reshape(-1, 34).any()


def test_backend_refuses_what_it_lacks(engines):
    simd_engine, _ = engines
    with pytest.raises(NotImplementedError):
        simd_engine.gguf_quantize(np.ones(32, np.float32), type="Q4_0")
    with pytest.raises(NotImplementedError):
        simd_engine.gguf_quantize(np.ones(32, np.float32), np.ones(32, np.float32), type="Q8_0")
    with pytest.raises(ValueError, match="^x: "):
        simd_engine.gguf_quantize(np.ones(33, np.float32), type="Q8_0")
    with pytest.raises(ValueError, match="type 'Q4_2'"):
        simd_engine.gguf_quantize(np.ones(32, np.float32), type="Q4_2")
    assert not hasattr(simd_engine, "gguf_dequantize")


def test_backends_conform_under_their_profiles_and_not_each_others():
    """The level-1 activation cases pass for ggml-cpu-x86 under its profile and for ggml under its own,
    and fail for each under the other's: the vectors tell the two quantizers apart."""
    from refq.conformance.harness import case_paths, run_cases

    paths = [path for path in case_paths(ops=["gguf_quantize"]) if "-activation" in str(path)]
    for backend, own, other in (("ggml-cpu-x86", "ggml-cpu-x86", "ggml"), ("ggml", "ggml", "ggml-cpu-x86")):
        assert [r.status for r in run_cases(backend, paths, profile=own)] == ["pass", "pass"], backend
        assert [r.status for r in run_cases(backend, paths, profile=other)] == ["fail", "fail"], backend
    results = run_cases("ggml-cpu-x86", case_paths(ops=["gguf_quantize", "gguf_dequantize"]))
    assert sorted(r.id for r in results) == ["gguf_quantize/q8_0-activation/ggml-cpu-x86",
                                             "gguf_quantize/q8_1-activation/ggml-cpu-x86"]


def test_fingerprint_names_the_activation_quantizer(engines):
    """The fingerprint's activation probes (Q8_0 ties, subnormal blocks) name x86_simd for ggml-cpu's
    library and reference for ggml-quants.c's and for gguf-py."""
    from refq.backends import GgufPyBackend
    from refq.conformance import fingerprint_engine
    from refq.conformance.fingerprint_gguf import CHAPTER, OPERATION, fingerprint_gguf

    def named(backend):
        result = fingerprint_engine.fingerprint_operation(backend, CHAPTER, OPERATION, "activation")
        assert result.status == "ok", backend.name
        return result.variants["gguf_activation_quantizer"]

    simd_engine, reference_engine = engines
    assert named(simd_engine) == ["x86_simd"]
    assert named(reference_engine) == ["reference"]
    assert named(GgufPyBackend()) == ["reference"]
    # It quantizes no legacy or K type: those groups are unsupported, the activation group names it.
    assert [r.status for r in fingerprint_gguf(simd_engine)] == ["unsupported", "unsupported", "ok"]
