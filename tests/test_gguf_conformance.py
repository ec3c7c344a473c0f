"""GGF through the conformance suite: the gguf_quantize / gguf_dequantize operations, their golden
vectors under the ggml and gguf-py profiles, and gguf-py (the real engine) judged on them."""

from __future__ import annotations

import numpy as np
import pytest

from refq.backends import GgufPyBackend
from refq.cli import main
from refq.conformance.case import load_case
from refq.conformance.harness import case_paths, run_cases
from refq.gguf import BLOCK_TYPES, gguf_dequantize
from refq.gguf.api import gguf_quantize_outcomes, zero_sign_open_blocks
from refq.gguf.types import block_type

pytest.importorskip("gguf")

OPS = ("gguf_quantize", "gguf_dequantize")


def _cases(op: str, profile: str):
    return [load_case(path) for path in case_paths(ops=[op]) if path.stem == profile]


def test_every_type_has_level1_cases():
    quantized = {case.attributes["type"] for case in _cases("gguf_quantize", "ggml") if not case.expects_error}
    dequantized = {case.attributes["type"] for case in _cases("gguf_dequantize", "ggml") if not case.expects_error}
    assert quantized == {kind.name for kind in BLOCK_TYPES if kind.quantize}
    assert dequantized == {kind.name for kind in BLOCK_TYPES}


def test_gguf_py_conforms_to_its_profile():
    """gguf-py 0.19 on every level-1 case of its profile: the types it quantizes pass, the others are unsupported."""
    results = run_cases("gguf-py", case_paths(ops=OPS))
    by_status = {}
    for result in results:
        by_status.setdefault(result.status, []).append(result)
    assert not by_status.get("fail") and not by_status.get("error"), [r.detail for r in results
                                                                      if r.status in ("fail", "error")]
    passed = {(r.op, r.id.split("/")[1]) for r in by_status["pass"]}
    for name in ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "tq1_0", "tq2_0", "mxfp4"):
        assert ("gguf_quantize", f"{name}-families") in passed
    unsupported = {r.id.split("/")[1] for r in by_status["unsupported"]}
    assert "q4_k-families" in unsupported and "q8_1-bytes" in unsupported  # gguf-py lacks them


def test_gguf_py_deviates_from_ggml_exactly_on_the_zero_sign_byte():
    """Judged under the ggml profile, gguf-py fails the legacy types whose vectors hold zero blocks,
    and only on the sign byte GGF-2.1 leaves open under gguf-py's profile."""
    results = run_cases("gguf-py", case_paths(ops=["gguf_quantize"]), profile="ggml")
    failed = {r.id.split("/")[1]: r for r in results if r.status == "fail"}
    assert set(failed) == {"q4_0-families", "q4_1-families", "q5_0-families", "q5_1-families"}
    for name, result in failed.items():
        sign_byte = 1 if name in ("q4_0-families", "q5_0-families") else 3
        kind = block_type(name.split("-")[0].upper())
        for mismatch in result.first_mismatches:
            assert mismatch.index[0] % kind.block_bytes == sign_byte
            assert int(mismatch.expected) ^ int(mismatch.actual) == 0x80  # the float16 sign bit


def test_zero_sign_mask_is_the_only_difference_from_gguf_py():
    """On blocks built to leave the sign open, refq's mask covers every byte gguf-py changes, and gguf-py
    does change some of them (the mask is not vacuous)."""
    from gguf import GGMLQuantizationType, quants

    rng = np.random.default_rng(7)
    for name in ("Q4_0", "Q4_1", "Q5_0", "Q5_1"):
        zeros = np.where(rng.random((400, 32)) < 0.5, np.float32(0.0), np.float32(-0.0))
        positive = np.abs(rng.standard_normal((400, 32))).astype(np.float32)
        positive[:, 5] = -0.0
        x = np.concatenate([zeros, positive]).astype(np.float32).reshape(-1)
        ours, mask = gguf_quantize_outcomes(x, type=name, profile="gguf-py")
        with np.errstate(all="ignore"):
            theirs = quants.quantize(x.reshape(1, -1), GGMLQuantizationType[name]).reshape(-1)
        differ = ours != theirs
        assert not (differ & ~mask).any() and differ.any(), name
        assert mask.sum() == zero_sign_open_blocks(x, block_type(name)).sum()


def test_q8_1_dequantize_against_its_definition():
    """Q8_1 (no gguf-py or ggml dequantizer): value = fp16(d) * q, exact in float32 (11 x 8 bits)."""
    rng = np.random.default_rng(3)
    kind = block_type("Q8_1")
    data = rng.integers(0, 256, (64, kind.block_bytes), dtype=np.uint8)
    data[:, 1] &= 0x7B  # finite d: the float16 exponent is never all ones
    d = data[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = data[:, 4:].view(np.int8).astype(np.float32)
    assert np.array_equal(gguf_dequantize(data.reshape(-1), type="Q8_1"), (d * q).reshape(-1))


def test_cli_conform_gguf_py(capsys):
    assert main(["conform", "--backend", "gguf-py", "--ops", "gguf_quantize,gguf_dequantize"]) == 0
    assert "gguf-py" in capsys.readouterr().out


def test_refq_conforms_under_both_gguf_profiles():
    for profile in ("ggml", "gguf-py"):
        results = run_cases("refq", case_paths(ops=OPS), profile=profile)
        assert results and all(r.status == "pass" for r in results), profile


def test_gguf_quantize_outcomes_rejects_a_profile_without_gguf_variants():
    with pytest.raises(Exception, match="^profile: "):
        gguf_quantize_outcomes(np.zeros(32, np.float32), type="Q4_0", profile="onnx")


def test_backend_reports_its_version():
    backend = GgufPyBackend()
    assert backend.version and backend.profile == "gguf-py"


def test_fingerprint_of_gguf_py(capsys):
    """refq fingerprint reaches GGF: gguf-py's zero signs are its profile's (unpredictable), its K-type
    quantize is unsupported, and the run exits 0 (consistent with the declared profile)."""
    assert main(["fingerprint", "--backend", "gguf-py"]) == 0
    out = capsys.readouterr().out
    assert "gguf_quantize legacy" in out and "gguf_quantize k-types: unsupported" in out
    section = out[out.index("gguf_quantize legacy"):]
    assert "gguf_zero_sign                 unpredictable" in section.splitlines()[1]
