"""conformance/fingerprint_integer.py: fingerprinting requantization (REQ-1) through qlinear_matmul."""

from __future__ import annotations

import numpy as np
import pytest

from refq.conformance import fingerprint_integer as fi
from refq.errors import RefqTypeError
from refq.integer_ops.qlinear import qlinear_matmul
from refq.registry.profiles import PROFILES_BY_NAME
from refq.registry.variants import VARIANTS_BY_NAME


def test_variants_are_the_registry_values():
    for name in ("requantize_precision", "requantize_zero_point"):
        assert fi.VARIANTS[name] == tuple(value.name for value in VARIANTS_BY_NAME[name].values)


def test_probes_discriminate():
    """Each probe separates the value of its variant from ONNX Runtime's, and every pair of
    combinations differs on some probe (a backend matching all probes pins one combination)."""
    table = fi.probes()
    assert len(table) >= 20
    for probe in table:
        expected = fi.predict(probe, fi.ONNXRUNTIME)
        rivals = [value for value in fi.VARIANTS[probe.separates] if value != fi.ONNXRUNTIME[probe.separates]]
        assert any(not np.array_equal(fi.predict(probe, {**fi.ONNXRUNTIME, probe.separates: value}), expected)
                   for value in rivals), probe.name
    combinations = fi.combinations()
    outputs = [b"".join(fi.predict(probe, combination).tobytes() for probe in table) for combination in combinations]
    assert len(set(outputs)) == len(combinations)


@pytest.mark.parametrize("profile", ["onnxruntime", "onnx-reference", "pytorch"])
def test_predict_matches_refq(profile):
    """The fingerprint's own arithmetic (plain numpy) equals refq's qlinear_matmul (REQ-1 kernels) under
    the product-then-quotient multiplier, for each profile's variant values."""
    values = PROFILES_BY_NAME[profile].requantize
    combination = {"requantize_precision": values["requantize_precision"],
                   "requantize_zero_point": values["requantize_zero_point"],
                   "multiplier_order": "product_then_quotient"}
    for probe in fi.probes():
        expected = qlinear_matmul(*probe.arguments(), precision=values["requantize_precision"],
                                  zero_point_placement=values["requantize_zero_point"])
        np.testing.assert_array_equal(fi.predict(probe, combination), expected, err_msg=probe.name)


def backend_or_skip(name):
    from refq.backends import BUILTIN

    pytest.importorskip({"onnxruntime": "onnxruntime", "onnx-reference": "onnx", "torch": "torch"}[name])
    return BUILTIN[name]()


@pytest.mark.parametrize("backend_name", ["onnxruntime", "onnx-reference", "torch"])
def test_fingerprint_requantization(backend_name):
    """Each backend is consistent with exactly one combination: its profile's requantize values and
    the multiplier fl32(fl32(s_a s_b) / s_y)."""
    backend = backend_or_skip(backend_name)
    result = fi.fingerprint_requantization(backend)
    assert not any(isinstance(value, str) for value in result.observed.values()), result.observed
    assert result.unexplained == []
    profile = PROFILES_BY_NAME[backend.profile].requantize
    expected = {"requantize_precision": profile["requantize_precision"],
                "requantize_zero_point": profile["requantize_zero_point"],
                "multiplier_order": "product_then_quotient"}
    assert result.consistent == [expected]
    assert result.values == {name: [value] for name, value in expected.items()}


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
    assert len(table) == 2 + len(fi.probes())
    assert all(line.count("|") == 7 for line in table)
