"""refq sweep: exhaustive comparisons over ranges of bit patterns (partial sweeps here; the full
2^32 sweep is a slow test), input classes, shards and their merge, format casts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refq.cli import main
from refq.conformance import mutants, sweep
from refq.errors import RefqError


def quantize_spec(profile="onnx", range_text="0x3e000000:0x3e100000", scale=0.25, zero_point=0, dtype="int8",
                  chunk=1 << 18):
    return sweep.make_spec("quantize_linear", sweep.quantize_parameters(scale, zero_point, dtype), profile,
                           range_text=range_text, chunk=chunk)


def test_sweep_onnxruntime_partial():
    pytest.importorskip("onnxruntime")
    spec = quantize_spec("onnxruntime", "0x3f000000:0x3f400000", scale=0.0123, zero_point=3, chunk=1 << 20)
    result = sweep.sweep("onnxruntime", spec, progress=False)
    assert result.mismatches == 0 and not result.errors
    assert result.compared == result.inputs == 0x400000


def test_sweep_counts_ties():
    """Ties away from zero differs exactly on the ties: every (k + 1/2) * 0.25 with k even, in range."""
    spec = quantize_spec("onnx", "0x3e000000:0x43800000", chunk=1 << 22)  # 0.125 .. 256
    result = sweep.sweep(mutants.TiesAwayFromZero(), spec, progress=False)
    assert result.mismatches > 0
    assert result.by_class["tie"] == result.mismatches
    # Independently: the float32 values x = (k + 1/2) / 4 in [0.125, 256) with k even and round(x*4) <= 127.
    expected = sum(1 for k in range(0, 128) if k % 2 == 0 and k + 1 <= 127)
    assert result.mismatches == expected
    assert result.first[0].pattern == 0x3E000000 and result.first[0].expected == 0 and result.first[0].actual == 1
    assert "[AFF-3.4]" in result.first[0].trace


def test_sweep_classes_nan_and_saturation():
    spec = sweep.make_spec("quantize_linear", sweep.quantize_parameters(0.5, 0, "int8"), "onnxruntime",
                           range_text="0x7f000000:0x80000000", chunk=1 << 22)
    result = sweep.sweep(mutants.NaNToQmax(), spec, progress=False)
    assert result.by_class["nan"] == result.mismatches == (1 << 23) - 1
    spec = quantize_spec("onnx", "0x42000000:0x44000000", scale=1.0, dtype="uint8", chunk=1 << 22)
    result = sweep.sweep(mutants.UnsignedClampedAsSigned(), spec, progress=False)
    assert result.mismatches > 0 and result.by_class["saturating"] + result.by_class["other"] + \
        result.by_class["tie"] == result.mismatches
    assert result.by_class["saturating"] > 0


def test_sweep_unpredictable_nan_is_skipped():
    spec = quantize_spec("onnx", "0x7f800000:0x80000000", chunk=1 << 22)
    result = sweep.sweep(mutants.NaNToQmax(), spec, progress=False)  # qmax for NaN is allowed under onnx
    assert result.mismatches == 0 and result.unpredictable == (1 << 23) - 1


def test_sweep_general_kernel_profile():
    """tflite (ties away, convert then clamp) is not the specialised kernel: the general one answers."""
    spec = quantize_spec("tflite", "0x3e000000:0x3e040000", scale=0.25, zero_point=5)
    assert sweep.sweep(mutants.ReferenceAdapter(), spec, progress=False).mismatches == 0

    class OnnxOnly(mutants.ReferenceAdapter):
        configurable_profile = False

    assert sweep.sweep(OnnxOnly(), spec, progress=False).by_class["tie"] == 1  # 0.125 / 0.25: ties differ


def test_shards_merge(tmp_path):
    spec = quantize_spec("onnx", "0x3e000000:0x43800000", chunk=1 << 22)
    whole = sweep.sweep(mutants.TiesAwayFromZero(), spec, progress=False)
    paths = []
    for index in (1, 2, 3):
        part = sweep.sweep(mutants.TiesAwayFromZero(), spec, shard=(index, 3), progress=False)
        paths.append(tmp_path / f"shard{index}.json")
        sweep.write(part, paths[-1])
    merged = sweep.merge(paths)
    assert merged.mismatches == whole.mismatches and merged.by_class == whole.by_class
    assert merged.ranges == [[spec.start, spec.end]]
    assert [m.pattern for m in merged.first] == [m.pattern for m in whole.first]
    with pytest.raises(RefqError):
        sweep.merge([paths[0], paths[0]])  # overlapping


def test_sweep_jobs():
    spec = quantize_spec("onnx", "0x3e000000:0x3f000000", chunk=1 << 22)
    one = sweep.sweep(mutants.spec(mutants.TiesAwayFromZero), spec, progress=False)
    two = sweep.sweep(mutants.spec(mutants.TiesAwayFromZero), spec, jobs=2, progress=False)
    assert one.mismatches == two.mismatches > 0 and one.by_class == two.by_class


@pytest.mark.parametrize("source", ["binary16", "bfloat16", "float8_e5m2", "float8_e4m3fnuz", "float6_e2m3fn",
                                    "float4_e2m1fn"])
@pytest.mark.parametrize("to, saturate", [("float8_e4m3fn", False), ("float8_e5m2", True), ("float4_e2m1fn", True),
                                          ("float8_e5m2fnuz", False)])
def test_cast_sweep_every_pattern_against_ml_dtypes(source, to, saturate):
    pytest.importorskip("ml_dtypes")
    spec = sweep.make_spec("cast", sweep.cast_parameters(to, saturate), "onnx", source=source)
    result = sweep.sweep("ml_dtypes", spec, progress=False)
    assert result.complete and result.mismatches == 0 and not result.errors
    assert result.compared + result.unpredictable + result.rejected == result.inputs


def test_decoded_sources_match_ml_dtypes():
    """The sweep decodes source patterns with refq; ml_dtypes agrees on every pattern."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from refq.strategies import float_format_argument, pattern_values

    for name in ("binary16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                 "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn"):
        fmt = float_format_argument(name)
        patterns = np.arange(1 << fmt.total_bits, dtype=np.uint16 if fmt.total_bits > 8 else np.uint8)
        theirs = patterns.view(np.dtype(getattr(ml_dtypes, fmt.ml_dtypes_name, None) or fmt.ml_dtypes_name))
        theirs = theirs.astype(np.float32)
        ours = pattern_values(fmt)
        both_nan = np.isnan(ours) & np.isnan(theirs)
        assert np.array_equal(ours.view(np.uint32)[~both_nan], theirs.view(np.uint32)[~both_nan]), name
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), name


class CastTruncates:
    profile = "onnx"

    def cast(self, x, *, to="float8_e4m3fn", saturate=False):
        from refq.numbers.floats import encode_array

        truncated = (x.view(np.uint32) & np.uint32(0xFFF00000)).view(np.float32)
        return encode_array(truncated, to, overflow="saturate" if saturate else "infinity")


def test_cast_sweep_finds_ties():
    spec = sweep.make_spec("cast", sweep.cast_parameters("float8_e4m3fn", False), "onnx", source="binary16")
    result = sweep.sweep(CastTruncates(), spec, progress=False)
    assert result.mismatches > 0 and result.by_class["tie"] > 0
    assert result.by_class["nan"] == 0


def test_cli_sweep(capsys, tmp_path):
    argv = ["sweep", "--backend", "refq.conformance.mutants:TiesAwayFromZero", "--scale", "0.25",
            "--range", "0x3e000000:0x40000000", "--no-progress"]
    assert main(argv + ["--shard", "1/2", "--json", str(tmp_path / "a.json")]) == 1
    assert main(argv + ["--shard", "2/2", "--json", str(tmp_path / "b.json")]) == 1
    capsys.readouterr()
    assert main(["sweep", "--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    out = capsys.readouterr().out
    assert "by input class: tie" in out and "[AFF-3.4]" in out
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["format"] == sweep.RESULT_FORMAT and data["shard"] == "1/2"
    assert main(["sweep", "--backend", "refq", "--scale", "0.25", "--range", "0:0x100000", "--no-progress"]) == 0


@pytest.mark.parametrize("argv", [
    ["sweep", "--backend", "refq", "--scale", "0"],
    ["sweep", "--backend", "refq"],
    ["sweep", "--backend", "refq", "--scale", "1", "--zero-point", "200"],
    ["sweep", "--backend", "refq", "--scale", "1", "--range", "5:1"],
    ["sweep", "--backend", "refq", "--scale", "1", "--shard", "3/2"],
    ["sweep", "--backend", "refq", "--scale", "1", "--jobs", "0"],
    ["sweep", "--backend", "refq", "--op", "cast"],
    ["sweep", "--backend", "ml_dtypes", "--op", "cast", "--to", "float8_e4m3fn", "--source", "binary64"],
])
def test_cli_sweep_usage_errors(argv, capsys):
    assert main(argv + ["--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("refq")


@pytest.mark.slow
def test_full_sweep_onnxruntime():
    pytest.importorskip("onnxruntime")
    spec = sweep.make_spec("quantize_linear", sweep.quantize_parameters(0.0123, 3, "int8"), "onnxruntime")
    result = sweep.sweep("onnxruntime", spec, jobs=2, progress=False)
    assert result.complete and result.compared == 1 << 32 and result.mismatches == 0


def test_pattern_ranges_are_the_patterns():
    from refq.conformance.patterns import PatternRange, materialized

    top = PatternRange(2**32 - 16, 16).values()
    assert top.dtype == np.float32 and top.view(np.uint32).tolist() == list(range(2**32 - 16, 2**32))
    inputs = materialized({"x": PatternRange(0x3F800000, 3), "scale": np.float32(1)})
    assert inputs["x"].tolist() == [1.0, float(np.nextafter(np.float32(1), np.float32(2))),
                                    float(np.nextafter(np.nextafter(np.float32(1), np.float32(2)), np.float32(2)))]
    assert inputs["scale"] == np.float32(1)


def test_an_in_process_backend_is_given_the_values():
    """Only a worker process makes a PatternRange's values itself; any other runner gets the array."""
    from refq.conformance.patterns import PatternRange
    from refq.conformance.runner import load_backend

    backend = load_backend(mutants.TiesAwayFromZero(), "onnx")
    outcome = backend.call("quantize_linear", {"x": PatternRange(0x3E000000, 5), "scale": np.float32(0.25),
                                               "zero_point": np.int8(0)}, {"dtype": "int8"})
    assert outcome.kind == "returned" and outcome.value.tolist() == [1, 1, 1, 1, 1]


def test_an_isolated_sweep_finds_what_the_in_process_one_finds():
    """Isolated, the chunks travel to the worker as bounds (PatternRange): the same mismatches, classes and
    first patterns as the sweep in this process."""
    spec = quantize_spec("onnx", "0x3e000000:0x3e800000", chunk=1 << 21)
    alone = sweep.sweep(mutants.TiesAwayFromZero(), spec, progress=False)
    isolated = sweep.sweep("refq.conformance.mutants:TiesAwayFromZero", spec, progress=False, isolate=True)
    assert alone.mismatches > 0 and not isolated.errors
    assert (isolated.mismatches, isolated.by_class, isolated.compared) == (alone.mismatches, alone.by_class,
                                                                         alone.compared)
    assert [m.pattern for m in isolated.first] == [m.pattern for m in alone.first]
