"""ONNX Runtime's calibrators as conformance operations (OBS-4): the vectors (level 1 shipped, level 2
built here) judged against onnxruntime.quantization.calibrate.HistogramCollector through the adapter,
bit for bit, plus the reference's arguments and the deviation the spec records."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections import Counter

import numpy as np
import pytest

from refq.conformance import records, reference
from refq.conformance.generate.build import build, case_specs
from refq.conformance.case import load_case
from refq.conformance.harness import case_paths, judge, run_cases
from refq.conformance.worker import Outcome
from refq.errors import RefqError, RefqTypeError, RefqValueError

OPS = ("calibrate_percentile", "calibrate_entropy")
F32 = np.float32


def test_calibrator_cases_cover_degenerate_and_error_inputs():
    level1 = Counter(spec.op for spec in case_specs(1, OPS))
    assert set(level1) == set(OPS)
    specs = case_specs(2, OPS)
    names = {(spec.op, spec.name) for spec in specs}
    for op in OPS:
        assert {(op, "all-zero"), (op, "constant"), (op, "signed-zeros"), (op, "nan-ignored"),
                (op, "error-no-batches"), (op, "error-all-nan"), (op, "error-infinity")} <= names
    assert all(spec.profiles == ("onnxruntime",) for spec in specs)
    assert {spec.name for spec in specs if spec.outcome == "error"} >= {"error-percentile-above-100",
                                                                        "error-nan-first-symmetric"}


def test_calibrate_percentile_record():
    batches = np.stack([np.linspace(-1, 1, 101, dtype=F32), np.linspace(-3, 2, 101, dtype=F32)])
    output, mask = reference.calibrate_percentile(batches, num_bins=32, percentile=100.0)
    assert output.dtype.names == ("lowest", "highest", "hist", "hist_edges") and mask is None
    assert output["hist"].dtype == np.int64 and output["hist_edges"].dtype == F32
    assert output["hist"].sum() == 202 and output["hist_edges"].size == output["hist"].size + 1
    # percentile 100 keeps the observed extremes
    assert (output["lowest"], output["highest"]) == (F32(-3), F32(2))


def test_error_cases_raise_in_the_reference_with_their_reason():
    for path in case_paths(level=1, ops=OPS):
        case = load_case(path)
        assert not case.expects_error
    for spec in case_specs(2, OPS):
        if spec.outcome != "error":
            continue
        with pytest.raises(RefqError), np.errstate(all="ignore"):
            reference.run(spec.op, dict(spec.inputs), dict(spec.attributes), "onnxruntime")


def test_calibrator_arguments():
    batches = np.ones((1, 4), F32)
    with pytest.raises(RefqTypeError, match="symmetric"):
        reference.calibrate_percentile(batches, symmetric="yes")
    with pytest.raises(RefqTypeError, match="batches"):
        reference.calibrate_entropy([[1.0, 2.0]])
    with pytest.raises(RefqValueError, match="batches"):
        reference.calibrate_entropy(np.zeros((0, 4), F32))
    with pytest.raises(RefqValueError, match="batch"):
        reference.calibrate_percentile(np.array([[np.nan, 1.0]], F32), symmetric=True)
    with pytest.raises(RefqValueError, match="quantized_bins"):
        reference.calibrate_entropy(batches, num_bins=16, num_quantized_bins=64)


def test_signed_zero_bound_is_unpredictable():
    batches = np.array([[-0.0, 0.0, 1.0, 2.0]], F32)
    output, mask = reference.calibrate_entropy(batches, num_bins=16, num_quantized_bins=4)
    assert output["lowest"] == 0 and mask is not None and mask["lowest"] and not mask["highest"]
    case = next(load_case(path) for path in case_paths(level=1, ops=["calibrate_entropy"]))
    assert judge(case, Outcome("returned", value=case.expected.copy())).status == "pass"
    wrong = case.expected.copy()
    wrong["highest"] = np.nextafter(wrong["highest"], F32(np.inf))
    assert judge(case, Outcome("returned", value=wrong)).status == "fail"


@pytest.mark.parametrize("level", [1, 2])
def test_onnxruntime_passes_the_calibrator_vectors(level, tmp_path):
    """Every case, through the harness and the ORT adapter (HistogramCollector): records bit-identical,
    errors rejected."""
    pytest.importorskip("onnxruntime.quantization.calibrate")
    root = None
    if level == 2:
        build(2, tmp_path, OPS)
        root = tmp_path
    paths = case_paths(level=level, ops=OPS, root=root)
    results = run_cases("onnxruntime", paths, progress=False)
    problems = [(result.id, result.status, result.detail) for result in results if result.status != "pass"]
    assert not problems, problems
    assert len(results) == len(case_specs(level, OPS))


def test_onnxruntime_empty_percentile_deviation():
    """OBS-4.5's recorded deviation: without ``symmetric``, ORT turns an empty histogram into the
    inverted range (0, -0.5); refq refuses it."""
    calibrate = pytest.importorskip("onnxruntime.quantization.calibrate")
    collector = calibrate.HistogramCollector("percentile", False, 16, 128, 99.999, "same")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collector.collect({"t": np.zeros(0, F32)})
        lowest, highest = collector.compute_collection_result()["t"][:2]
    assert (records.differ(np.asarray(lowest, F32), np.asarray(F32(0.0))).any(),
            records.differ(np.asarray(highest, F32), np.asarray(F32(-0.5))).any()) == (False, False)
    with pytest.raises(RefqValueError, match="histogram"):
        reference.calibrate_percentile(np.zeros((1, 0), F32), num_bins=16)


def test_reference_jit_equals_pure_python():
    from refq._jit import pure_python

    checked = 0
    for spec in case_specs(1, OPS) + [spec for spec in case_specs(2, OPS) if spec.outcome == "valid"][:8]:
        arguments = (spec.op, dict(spec.inputs), dict(spec.attributes), "onnxruntime")
        compiled, _ = reference.run(*arguments)
        with pure_python(), np.errstate(all="ignore"):
            interpreted, _ = reference.run(*arguments)
        assert compiled.tobytes() == interpreted.tobytes(), spec.name
        checked += 1
    assert checked == 10
