"""BLK against torchao 0.18.0, the real engine: each torchao-* profile equals its ScaleCalculationMode on
random and adversarial blocks of every element format, and on the level-1 vectors through the harness;
the profiles differ from one another where the issue measured it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refq.block import ELEMENT_FORMATS, block_quantize
from refq.block.api import block_dequantize_outcomes, block_quantize_outcomes
from refq.conformance.case import load_case
from refq.conformance.harness import case_paths, run_cases

pytest.importorskip("torchao")

from refq.backends.torchao import (TorchaoCeilBackend, TorchaoEvenBackend, TorchaoMxBackend,  # noqa: E402
                                   TorchaoRceilBackend)

F32 = np.float32
BACKENDS = {"torchao-floor": TorchaoMxBackend, "torchao-ceil": TorchaoCeilBackend,
            "torchao-even": TorchaoEvenBackend, "torchao-rceil": TorchaoRceilBackend}
OPS = ("block_quantize", "block_dequantize")


def _blocks(rng: np.random.Generator, count: int) -> np.ndarray:
    """Gaussian blocks from 2^-150 to 2^120; blocks whose amax is max_elem * 2^k one ulp above, for each
    element format's max; zeros, an infinity, a NaN; subnormal and near-overflow blocks."""
    parts = [(rng.standard_normal((count, 32)) * np.exp2(rng.integers(-150, 120, (count, 1)))).astype(F32)]
    exponents = rng.integers(-140, 110, count)
    for fmt in ELEMENT_FORMATS.values():
        block = (rng.uniform(-1, 1, (count, 32)) * np.exp2(exponents[:, None])).astype(F32)
        top = np.array([math.ldexp(fmt.max_normal, int(k)) for k in exponents], dtype=F32)
        block[:, 0] = np.nextafter(top, F32(np.inf)) * np.where(rng.random(count) < 0.5, F32(-1), F32(1))
        parts.append(block)
    special = np.zeros((4, 32), F32)
    special[1] = -0.0
    special[2, 3] = np.inf
    special[3, 5] = np.nan
    parts += [special, (rng.standard_normal((count, 32)) * 2.0 ** -140).astype(F32),
              (rng.uniform(-1, 1, (count, 32)) * 3.4e38).astype(F32)]
    return np.concatenate(parts)


@pytest.mark.parametrize("profile", BACKENDS)
def test_quantize_equals_torchao(profile):
    backend = BACKENDS[profile]()
    x = _blocks(np.random.default_rng(15), 256)
    for fmt in ELEMENT_FORMATS:
        engine = backend.block_quantize(x, format=fmt)
        result, mask = block_quantize_outcomes(x, format=fmt, profile=profile)
        assert np.array_equal(engine["scales"], result["scales"]), fmt
        predictable = ~mask["codes"] if mask is not None else np.ones(x.shape, bool)
        assert np.array_equal(engine["codes"][predictable], result["codes"][predictable]), fmt


@pytest.mark.parametrize("fmt", ELEMENT_FORMATS)
def test_dequantize_equals_torchao_on_every_scale_and_code(fmt):
    bits = ELEMENT_FORMATS[fmt].bits
    codes = np.tile(np.resize(np.arange(1 << bits, dtype=np.uint8), max(32, 1 << bits)), 256).reshape(-1, 32)
    scales = np.repeat(np.arange(256, dtype=np.uint8), codes.shape[0] // 256).reshape(-1, 1)
    engine = TorchaoMxBackend().block_dequantize(scales, codes, format=fmt)
    values, mask = block_dequantize_outcomes(scales, codes, format=fmt, profile="torchao-floor")
    assert mask is None
    assert engine.view(np.uint32).tolist() == values.view(np.uint32).tolist()


def test_scale_modes_disagree_where_measured():
    """The four modes part on e4m3 blocks: CEIL against FLOOR on most blocks, RCEIL against FLOOR on many,
    and the exact rceil against torchao's float32 logarithm just above powers of two."""
    x = _blocks(np.random.default_rng(16), 1024)
    scales = {name: block_quantize(x, profile=name)[0] for name in BACKENDS}
    assert (scales["torchao-ceil"] != scales["torchao-floor"]).mean() > 0.5
    assert 0 < (scales["torchao-even"] != scales["torchao-floor"]).mean() < 0.5
    assert (scales["torchao-rceil"] != scales["torchao-floor"]).mean() > 0.2
    exact = block_quantize_outcomes(x, profile="torchao-rceil", block_scale_rule="rceil")[0]["scales"]
    engine = TorchaoRceilBackend().block_quantize(x)["scales"]
    assert np.array_equal(engine, scales["torchao-rceil"]) and (engine != exact).sum() > 100


def test_every_format_has_level1_cases():
    formats = {load_case(path).attributes["format"] for path in case_paths(ops=list(OPS))
               if path.stem == "ocp-mx" and not load_case(path).expects_error}
    assert formats == set(ELEMENT_FORMATS)


@pytest.mark.parametrize("backend", [pytest.param(name, marks=() if name == "torchao-rceil" else pytest.mark.slow)
                                     for name in BACKENDS])
def test_torchao_conforms_to_its_profile(backend):
    """Each backend on the level-1 vectors of its profile, through the harness (a worker process each, whose
    start-up imports torch: the three others are slow; test_quantize_equals_torchao runs every mode in-process)."""
    results = run_cases(backend, case_paths(ops=list(OPS)))
    assert results and all(result.status == "pass" for result in results), \
        [(r.id, r.status, r.detail) for r in results if r.status != "pass"]
    assert {result.op for result in results} == set(OPS)


@pytest.mark.slow
def test_ocp_profile_fails_torchao_where_it_deviates():
    """Judged under ocp-mx, torchao FLOOR fails the quantize cases holding an infinity or a tiny block."""
    results = run_cases("torchao-floor", case_paths(ops=["block_quantize"]), profile="ocp-mx")
    failed = {r.id.split("/")[1] for r in results if r.status == "fail"}
    assert failed and all(name.endswith("-families") for name in failed)


def test_fingerprint_names_each_modes_scale_rule():
    """refq fingerprint's BLK chapter: of the 480 combinations of the six variants, the one of each mode's
    profile is the only one that explains torchao's outputs on the probes without declaring more of them
    unpredictable (the others consistent take block_infinity or block_nan = unpredictable)."""
    from refq.conformance.fingerprint_block import PROFILES, fingerprint_block

    for profile, backend in BACKENDS.items():
        for result in fingerprint_block(backend()):  # E4M3, then FP4
            assert result.status == "ok", result.detail
            assert result.variants == {name: [value] for name, value in PROFILES[profile].items()}, profile
            assert PROFILES[profile] in result.consistent
            assert all(combination == PROFILES[profile] or "unpredictable" in combination.values()
                       for combination in result.consistent), profile
