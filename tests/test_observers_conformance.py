"""Observers and DynamicQuantizeLinear in the conformance suite: records, level-1 vectors judged
against the real backends (torch, onnxruntime, onnx.reference), and the qparams fingerprint."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from refq._jit import pure_python
from refq.conformance import records, reference
from refq.conformance.case import load_case
from refq.conformance.fingerprint_observers import (
    PROBES,
    PYTORCH,
    VARIANTS,
    fingerprint_qparams,
    predict,
    probe_table,
)
from refq.conformance.generate.build import case_specs
from refq.conformance.generate.observers import OPERATION_PROFILES
from refq.conformance.harness import case_paths, judge, run_cases
from refq.conformance.worker import Outcome
from refq.errors import RefqError, RefqTypeError

OPS = tuple(OPERATION_PROFILES)
BACKENDS = {"torch": ("observe_minmax", "observe_moving_average", "observe_histogram"),
            "onnxruntime": ("dynamic_quantize_linear",), "onnx-reference": ("dynamic_quantize_linear",)}


def cases(op: str, name: str | None = None):
    loaded = [load_case(path) for path in case_paths(level=1, ops=[op])]
    return [case for case in loaded if name is None or case.path.parent.name == name]


# --- records ----------------------------------------------------------------------------------


def test_record():
    output = records.record(y=np.arange(6, dtype=np.uint8).reshape(2, 3), y_scale=np.float32(0.5),
                            y_zero_point=np.uint8(3))
    assert output.shape == () and output.dtype.names == ("y", "y_scale", "y_zero_point")
    assert output["y"].shape == (2, 3) and output["y_scale"].dtype == np.float32
    mask = records.mask_like(output, y_scale=True)
    assert mask["y_scale"] and not mask["y"].any() and records.any_set(mask)
    assert records.mask_like(output, y=np.zeros((2, 3), bool)) is None
    with pytest.raises(RefqTypeError, match="y_scale"):
        records.record(y_scale=0.5)


def test_record_compare_field_by_field_and_bit_by_bit():
    """A one-ulp scale, a NaN with another payload and -0 for +0 are each a mismatch, named by field;
    elements the mask marks unpredictable are skipped."""
    case = cases("observe_minmax", "per-tensor-uint8-affine-0")[0]
    expected = case.expected
    assert judge(case, Outcome("returned", value=expected.copy())).status == "pass"
    nudged = expected.copy()
    nudged["scale"] = np.nextafter(expected["scale"], np.float32(1))
    result = judge(case, Outcome("returned", value=nudged))
    assert result.status == "fail" and result.mismatches == 1
    assert result.first_mismatches[0].index == ("scale",)
    assert result.first_mismatches[0].expected_bits != result.first_mismatches[0].actual_bits
    wrong_type = records.record(min_val=expected["min_val"], max_val=expected["max_val"], scale=expected["scale"],
                                zero_point=expected["zero_point"].astype(np.int32))
    assert judge(case, Outcome("returned", value=wrong_type)).status == "error"
    degenerate = cases("observe_minmax", "per-channel-degenerate")[0]
    assert degenerate.unpredictable is not None
    # channel 9 has -0 and +0 at its minimum: either zero passes; the NaN channels' patterns are open.
    other = degenerate.expected.copy()
    other["min_val"][9] = np.float32(0.0) if np.signbit(other["min_val"][9]) else np.float32(-0.0)
    other["min_val"][8] = np.uint32(0xFFFFFFFF).view(np.float32)
    assert judge(degenerate, Outcome("returned", value=other)).status == "pass"
    other["max_val"][2] = np.float32(-0.0)
    assert judge(degenerate, Outcome("returned", value=other)).status == "fail"


# --- the vectors ------------------------------------------------------------------------------


def test_observer_cases_cover_the_degenerate_inputs():
    specs = [spec for spec in case_specs(1, OPS)]
    names = Counter(spec.op for spec in specs)
    # The calibrators have one level-1 case each (level 1 is full); tests/test_calibrators_conformance.py
    # checks their degenerate and error cases at level 2.
    assert set(names) == set(OPS)
    assert min(count for op, count in names.items() if not op.startswith("calibrate_")) >= 7
    errors = {(spec.op, spec.name) for spec in specs if spec.outcome == "error"}
    assert ("dynamic_quantize_linear", "empty-onnx-reference") in errors
    assert ("observe_histogram", "error-nan") in errors
    assert ("observe_moving_average", "error-min-above-max") in errors
    dynamic = {spec.name for spec in specs if spec.op == "dynamic_quantize_linear"}
    assert {"all-zero", "tiny-range", "negative-infinity", "nan", "ties", "empty-onnxruntime"} <= dynamic


def test_error_cases_raise_in_the_reference_with_their_reason():
    for op in OPS:
        for case in cases(op):
            if not case.expects_error:
                continue
            with pytest.raises(RefqError) as raised:
                reference.run(op, case.inputs, case.attributes, case.profile)
            assert str(raised.value) == case.reason


def test_all_zero_dynamic_scale_per_profile():
    """The all-zero input: ONNX Runtime's scale is 1.0, onnx.reference's fl32(1/255) (OBS-5.2)."""
    scales = {case.profile: case.expected["y_scale"] for case in cases("dynamic_quantize_linear", "all-zero")}
    assert scales == {"onnxruntime": np.float32(1.0), "onnx-reference": np.float32(1) / np.float32(255)}


def test_reference_jit_equals_pure_python():
    """The observer and dynamic reference answers, compiled and interpreted, bit for bit (the histogram
    observer is left to tests/test_observers_histogram.py: interpreted, its search takes minutes)."""
    checked = 0
    for op in ("dynamic_quantize_linear", "observe_minmax", "observe_moving_average"):
        for case in cases(op):
            if case.expects_error:
                continue
            compiled, _ = reference.run(op, case.inputs, case.attributes, case.profile)
            with pure_python(), np.errstate(all="ignore"):
                interpreted, _ = reference.run(op, case.inputs, case.attributes, case.profile)
            assert compiled.tobytes() == interpreted.tobytes(), case.id
            checked += 1
    assert checked >= 20


# --- real backends ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_real_backends_pass_their_profiles(backend):
    """Every level-1 case of the backend's operations passes under its profile (pytorch, onnxruntime,
    onnx-reference): records bit-identical outside the unpredictable elements, errors rejected."""
    pytest.importorskip("torch" if backend == "torch" else "onnx")
    results = run_cases(backend, case_paths(level=1, ops=BACKENDS[backend]), progress=False)
    statuses = Counter(result.status for result in results)
    problems = [(result.id, result.status, result.detail) for result in results if result.status != "pass"]
    assert not problems, problems
    assert statuses["pass"] >= 8


def test_a_wrong_observer_fails():
    """A backend dividing the symmetric range by 127 instead of 127.5 fails the int8 symmetric cases."""
    case = cases("observe_minmax", "per-tensor-int8-symmetric-1")[0]
    wrong = case.expected.copy()
    bound = max(-min(wrong["min_val"], 0), max(wrong["max_val"], 0))
    wrong["scale"] = np.float32(np.float32(bound) / np.float32(127))
    assert judge(case, Outcome("returned", value=wrong)).status == "fail"


# --- fingerprint --------------------------------------------------------------------------------


def test_probes_separate_their_variant():
    """On each probe, the variant it is named for changes the result when the others keep torch's values."""
    for probe in PROBES:
        for value in VARIANTS[probe.separates]:
            if value != PYTORCH[probe.separates]:
                assert predict(probe, PYTORCH) != predict(probe, {**PYTORCH, probe.separates: value}), probe.name
    assert "qmax:" in probe_table() and len(probe_table().splitlines()) == len(PROBES) + 2


def test_fingerprint_torch():
    """torch's MinMaxObserver: exactly the pytorch rule (divisor 127.5, eps floor, reduce_range, ties to
    even, range widened to 0)."""
    pytest.importorskip("torch")
    from refq.backends.torch import TorchBackend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fingerprint_qparams(TorchBackend())
    assert result.consistent == [PYTORCH]
    assert result.values == {name: [value] for name, value in PYTORCH.items()}
    assert not result.unexplained


class NarrowDivisorObserver:
    """refq's observer with the symmetric scale divided by q_max and no epsilon floor: a different rule."""

    def observe_minmax(self, batches, *, dtype="uint8", qscheme="affine", reduce_range=False, ch_axis=None):
        output, _ = reference.observe_minmax(batches, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                                             ch_axis=ch_axis)
        low, high = min(output["min_val"], 0), max(output["max_val"], 0)
        if qscheme == "symmetric":
            output["scale"] = np.float32(max(-low, high) / np.float32(127 if dtype == "int8" else 255))
        elif output["scale"] == np.float32(2.0**-23):
            output["scale"] = np.float32(np.float32(high - low) / np.float32(255 if dtype == "uint8" else 255))
        return output


def test_fingerprint_names_another_rule():
    result = fingerprint_qparams(NarrowDivisorObserver())
    assert result.values["scale_floor"] == ["none"]
    assert "qmax" in result.values["symmetric_divisor"] or "symmetric-uint8" in result.unexplained
    assert result.nearest != PYTORCH


def test_fingerprint_rejects_a_backend_without_observers():
    with pytest.raises(RefqTypeError, match="backend"):
        fingerprint_qparams(object())


def test_observed_batches_must_be_an_array():
    with pytest.raises(RefqTypeError, match="batches"):
        reference.observe_minmax([[1.0, 2.0]])
    spec = next(spec for spec in case_specs(1, ["observe_minmax"]) if spec.name == "nan")
    assert replace(spec, name="copy").inputs["batches"].shape == (2, 4)
