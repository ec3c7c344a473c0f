"""BLK-7 against the real engines: bitsandbytes 0.50.2 on the CPU (the bitsandbytes-cpu profile) and ONNX
Runtime's bnb4 quantizer and MatMulBnb4 (the onnxruntime-bnb4 profile). Every code of 2^20 values of mixed
distributions, every threshold with its neighbours and the special blocks, every code under many absmax
values, and the level-1 vectors through the harness. The two engines' own disagreement is the one the two
profiles predict."""

from __future__ import annotations

import numpy as np
import pytest

from refq.block.bnb4 import bnb4_dequantize_outcomes, bnb4_quantize_outcomes
from refq.conformance.generate.bnb4 import special_blocks, threshold_blocks
from refq.conformance.harness import case_paths, run_cases

F32 = np.float32
QUANT_TYPES = ("nf4", "fp4")
OPS = ("bnb4_quantize", "bnb4_dequantize")


def _bitsandbytes():
    pytest.importorskip("bitsandbytes")
    from refq.backends.bitsandbytes import BitsandbytesBackend

    return BitsandbytesBackend()


def _onnxruntime():
    pytest.importorskip("onnxruntime")
    from refq.backends.onnxruntime_bnb4 import OnnxRuntimeBnb4Backend

    return OnnxRuntimeBnb4Backend()


BACKENDS = {"bitsandbytes-cpu": _bitsandbytes, "onnxruntime-bnb4": _onnxruntime}


def mixed_values(quant_type: str, count: int = 1 << 20, seed: int = 15) -> np.ndarray:
    """``count`` values in blocks of 64: Gaussian, uniform, Laplace and heavy-tailed blocks at scales from
    2^-140 to 2^120, blocks with NaNs and infinities sprinkled in, then every threshold block and the special
    blocks (the tail of the array)."""
    rng = np.random.default_rng(seed)
    blocks = count // 64
    kinds = rng.integers(0, 4, blocks)
    base = np.where((kinds == 0)[:, None], rng.standard_normal((blocks, 64)),
                    np.where((kinds == 1)[:, None], rng.uniform(-1, 1, (blocks, 64)),
                             np.where((kinds == 2)[:, None], rng.laplace(size=(blocks, 64)),
                                      rng.standard_cauchy((blocks, 64)))))
    x = (base * np.exp2(rng.integers(-140, 120, (blocks, 1)))).astype(F32).reshape(-1)
    x[rng.integers(0, x.size, 64)] = np.nan
    x[rng.integers(0, x.size, 64)] = np.inf
    x[rng.integers(0, x.size, 64)] = -np.inf
    tail = np.concatenate([threshold_blocks(quant_type).reshape(-1), special_blocks(rng).reshape(-1)])
    x[-tail.size:] = tail
    return x


def _unpacked(packed: np.ndarray) -> np.ndarray:
    return np.stack([packed >> 4, packed & 0xF], axis=1).reshape(-1)


@pytest.mark.parametrize("profile", BACKENDS)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_quantize_equals_the_engine_on_every_code(quant_type, profile):
    backend = BACKENDS[profile]()
    x = mixed_values(quant_type)
    engine = backend.bnb4_quantize(x, quant_type=quant_type, block_size=64)
    result = bnb4_quantize_outcomes(x, quant_type=quant_type, block_size=64, profile=profile)[0]
    assert engine["absmax"].tobytes() == result["absmax"].tobytes()
    differ = np.flatnonzero(_unpacked(engine["codes"]) != _unpacked(result["codes"]))
    assert differ.size == 0, [(int(i), float(x[i])) for i in differ[:5]]


@pytest.mark.parametrize("profile", BACKENDS)
@pytest.mark.parametrize("block_size, size", [(32, 1000), (128, 64 * 5 + 3), (256, 511)])
def test_quantize_equals_the_engine_with_partial_last_blocks(profile, block_size, size):
    backend = BACKENDS[profile]()
    rng = np.random.default_rng(size)
    x = (rng.standard_normal(size) * np.exp2(rng.integers(-30, 30))).astype(F32)
    x[-3:] = [np.float32(5e-39), -0.0, np.float32(1e-39)]
    for quant_type in QUANT_TYPES:
        engine = backend.bnb4_quantize(x, quant_type=quant_type, block_size=block_size)
        result = bnb4_quantize_outcomes(x, quant_type=quant_type, block_size=block_size, profile=profile)[0]
        assert engine.tobytes() == result.tobytes()


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_the_engines_disagree_where_the_profiles_do(quant_type):
    """bitsandbytes and ONNX Runtime part on the codes the profiles predict, and on no others."""
    x = mixed_values(quant_type)
    bnb = _unpacked(_bitsandbytes().bnb4_quantize(x, quant_type=quant_type)["codes"])
    ort = _unpacked(_onnxruntime().bnb4_quantize(x, quant_type=quant_type)["codes"])
    predicted_bnb = _unpacked(bnb4_quantize_outcomes(x, quant_type=quant_type, profile="bitsandbytes-cpu")[0]["codes"])
    predicted_ort = _unpacked(bnb4_quantize_outcomes(x, quant_type=quant_type, profile="onnxruntime-bnb4")[0]["codes"])
    assert np.array_equal(bnb != ort, predicted_bnb != predicted_ort)
    assert (bnb != ort).any()


@pytest.mark.parametrize("profile", BACKENDS)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_dequantize_equals_the_engine_on_every_code_and_many_absmax(quant_type, profile):
    """Every byte under 4,096 absmax values (every float32 exponent, both signs, zeros, subnormals, infinities,
    NaN): bit for bit, NaNs included (x86 gives both engines and refq the same default NaN)."""
    backend = BACKENDS[profile]()
    rng = np.random.default_rng(4)
    absmax = (rng.uniform(1, 2, 4096) * np.exp2(rng.integers(-150, 128, 4096))).astype(F32)
    absmax[::7] *= -1
    absmax[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.4e-45, np.finfo(F32).max, 1.0]
    codes = np.tile(np.arange(256, dtype=np.uint8), absmax.size // 8)
    engine = backend.bnb4_dequantize(absmax, codes, quant_type=quant_type, block_size=64)
    result, _ = bnb4_dequantize_outcomes(absmax, codes, quant_type=quant_type, block_size=64, profile=profile)
    differ = np.flatnonzero(engine.view(np.uint32) != result.view(np.uint32))
    assert differ.size == 0, [(int(i), engine[i], result[i]) for i in differ[:5]]


@pytest.mark.parametrize("profile", BACKENDS)
def test_each_backend_conforms_to_its_profile(profile):
    """The built-in backend on the level-1 vectors of its profile, through the harness (a worker process)."""
    BACKENDS[profile]()  # skips where the engine is not installed
    results = run_cases(profile, case_paths(ops=OPS))
    assert results and all(result.status == "pass" for result in results), \
        [(r.id, r.status, r.detail) for r in results if r.status != "pass"]
    assert {result.op for result in results} == set(OPS)


def test_each_profile_fails_the_other_engine():
    """Judged under the other engine's profile, each backend fails quantize cases: the profiles are not
    interchangeable on the vectors."""
    _bitsandbytes(), _onnxruntime()
    for backend, other in (("bitsandbytes-cpu", "onnxruntime-bnb4"), ("onnxruntime-bnb4", "bitsandbytes-cpu")):
        results = run_cases(backend, case_paths(ops=["bnb4_quantize"]), profile=other)
        assert any(result.status == "fail" for result in results), backend


@pytest.mark.parametrize("name", ["bitsandbytes-cpu", "onnxruntime-bnb4"])
def test_fingerprint_names_each_engine(name):
    """refq fingerprint's BLK-7 chapter: of the 32 combinations of the five quantize variants, each engine's
    outputs on the NF4 and on the FP4 probes leave exactly one, its profile's."""
    from refq.conformance.fingerprint_bnb4 import PROFILES, fingerprint_bnb4

    results = fingerprint_bnb4(_bitsandbytes() if name == "bitsandbytes-cpu" else _onnxruntime())
    assert [result.granularity for result in results] == ["nf4", "fp4"]
    for result in results:
        assert result.status == "ok", result.detail
        assert result.consistent == [PROFILES[name]], (name, result.granularity, result.consistent)
