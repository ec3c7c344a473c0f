"""conformance/fingerprint_integer.py: fingerprinting requantization (REQ-1) through qlinear_matmul and
qlinear_conv, per tensor and per channel."""

from __future__ import annotations

import numpy as np
import pytest

from refq.conformance import fingerprint_integer as fi
from refq.errors import RefqTypeError
from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul
from refq.registry.profiles import PROFILES_BY_NAME, REQUANTIZE_PROFILES_BY_NAME
from refq.registry.variants import VARIANTS_BY_NAME


def test_variants_are_the_registry_values():
    for name in fi.REGISTRY_VARIANTS:
        assert fi.VARIANTS[name] == tuple(value.name for value in VARIANTS_BY_NAME[name].values)
    assert set(fi.MULTIPLIER_ORDERS) == set(fi.VARIANTS["requantize_multiplier_order"])


@pytest.mark.parametrize("operation", fi.OPERATIONS)
def test_probes_discriminate(operation):
    """Each probe separates the value of its variant from ONNX Runtime's, and every pair of
    combinations differs on some probe (a backend matching all probes pins one combination)."""
    table = fi.probes_for(operation)
    assert len(table) >= 20
    for probe in table:
        base = {name: fi.ONNXRUNTIME[name] for name in fi.combinations(operation)[0]}
        base["requantize_rounding"] = probe.rounding
        expected = fi.predict(probe, base)
        rivals = [value for value in fi.CONV_VARIANTS[probe.separates] if value != base[probe.separates]]
        assert any(not np.array_equal(fi.predict(probe, {**base, probe.separates: value}), expected)
                   for value in rivals), probe.name
    combinations = fi.combinations(operation)
    outputs = [b"".join(fi.predict(probe, combination).tobytes() for probe in table) for combination in combinations]
    assert len(set(outputs)) == len(combinations)
    for rounding in fi.VARIANTS.get("requantize_rounding", ()):
        assert not np.array_equal(*(fi.predict(table[0], {**base, "requantize_rounding": value})
                                    for value in ("half_to_even", rounding))) or rounding == "half_to_even"


@pytest.mark.parametrize("profile", ["onnxruntime", "onnx-reference", "pytorch"])
@pytest.mark.parametrize("order", fi.MULTIPLIER_ORDERS)
def test_predict_matches_refq(profile, order):
    """The fingerprint's own arithmetic (plain numpy) equals refq's qlinear_matmul and qlinear_conv
    (REQ-1 kernels) for each profile's precision and placement under every multiplier order."""
    values = PROFILES_BY_NAME[profile].requantize
    combination = {"requantize_multiplier_order": order, "requantize_precision": values["requantize_precision"],
                   "requantize_rounding": "half_to_even",
                   "requantize_zero_point": values["requantize_zero_point"], "conv_padding": "input_zero_point"}
    variants = {"precision": values["requantize_precision"], "zero_point_placement": values["requantize_zero_point"],
                "multiplier_order": order}
    for probe in fi.probes_for("qlinear_conv"):
        expected = fi.predict(probe, combination)
        if probe.pads is None:
            np.testing.assert_array_equal(qlinear_matmul(*probe.arguments(True), **variants), expected,
                                          err_msg=probe.name)
        inputs, attributes = probe.conv_arguments()
        got = fi.conv_output_as_matmul(probe, qlinear_conv(*inputs, **attributes, **variants))
        np.testing.assert_array_equal(got, expected, err_msg=probe.name)


def test_profiles_declare_a_multiplier_order():
    for profile in REQUANTIZE_PROFILES_BY_NAME.values():
        assert profile.requantize["requantize_multiplier_order"] in fi.VARIANTS["requantize_multiplier_order"]


def backend_or_skip(name):
    from refq.backends import BUILTIN

    pytest.importorskip({"onnxruntime": "onnxruntime", "onnx-reference": "onnx", "torch": "torch",
                         "torch-qnnpack": "torch"}[name])
    return BUILTIN[name]()


@pytest.mark.parametrize("backend_name", ["onnxruntime", "onnx-reference", "torch", "torch-qnnpack"])
def test_fingerprint_requantization(backend_name):
    """Each backend is consistent with exactly one combination, its profile's requantize values, for
    both operations at both granularities (and pads with the input zero point)."""
    backend = backend_or_skip(backend_name)
    profile = REQUANTIZE_PROFILES_BY_NAME[backend.profile].requantize
    expected = {name: profile.get(name, "half_to_even") for name in fi.REGISTRY_VARIANTS}
    result = fi.fingerprint_requantization(backend)
    assert not any(isinstance(value, str) for value in result.observed.values()), result.observed
    assert result.consistent == [expected]
    for operation in fi.fingerprint_integer(backend):
        assert operation.status == "ok", operation.detail
        assert operation.unexplained == []
        wanted = {**expected, "conv_padding": "input_zero_point"} if operation.operation == "qlinear_conv" else expected
        assert operation.consistent == [wanted], (operation.operation, operation.granularity)
        assert operation.declared_consistent is True


def test_fingerprint_reports_a_refusing_backend():
    class Refusing:
        def qlinear_matmul(self, *arguments):
            raise NotImplementedError("no")

    result = fi.fingerprint_requantization(Refusing())
    assert result.consistent == []
    assert set(result.unexplained) == {probe.name for probe in fi.probes()}
    assert all(value == "NotImplementedError: no" for value in result.observed.values())


def test_fingerprint_rejects_non_adapters():
    with pytest.raises(RefqTypeError, match="^backend: "):
        fi.fingerprint_requantization(object())


def test_probe_table():
    table = fi.probe_table().splitlines()
    assert len(table) == 2 + len(fi.probes_for("qlinear_conv"))
    assert all(line.count("|") == 7 for line in table)


def test_fingerprint_integer_reports_unsupported_operations():
    class MatmulOnly:
        profile = "onnxruntime"

        def qlinear_matmul(self, *arguments):
            return qlinear_matmul(*arguments)

    results = fi.fingerprint_integer(MatmulOnly())
    assert [r.status for r in results] == ["ok", "ok", "unsupported", "unsupported"]
    assert all(r.declared_consistent for r in results[:2])
