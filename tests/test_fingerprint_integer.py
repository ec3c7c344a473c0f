"""conformance/fingerprint_integer.py: fingerprinting requantization (REQ-1) through qlinear_matmul and
qlinear_conv, per tensor and per channel."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from refq.conformance import fingerprint_integer as fi
from refq.errors import RefqTypeError
from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul
from refq.registry.profiles import PROFILES_BY_NAME, REQUANTIZE_PROFILES_BY_NAME
from refq.registry.variants import VARIANTS_BY_NAME
from tests.oracle import requantize as requantize_oracle


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
        base.update({"requantize_rounding": probe.rounding, **dict(probe.under)})
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


MULTIPLIER_ORDERS = {
    "product_then_quotient": lambda a, b, y: np.float32(np.float32(a * b) / y),
    "float64_quotient": lambda a, b, y: np.float32(np.float64(a) * np.float64(b) / np.float64(y)),
    "reciprocal": lambda a, b, y: np.float32(np.float32(a * b) * np.float32(np.float32(1) / y)),
    "ratio_first": lambda a, b, y: np.float32(a * np.float32(b / y)),
}


def numpy_accumulator(probe, padding: str = "input_zero_point") -> np.ndarray:
    """The exact int64 sums, written apart from refq: the convolution's padded positions hold ``z_x``
    (``input_zero_point``) or 0 (``zero``)."""
    centred = probe.a.astype(np.int64) - probe.a_zero_point
    if probe.pads is None:
        return centred @ probe.b.astype(np.int64)
    top, left, bottom, right = probe.pads
    fill = 0 if padding == "input_zero_point" else -probe.a_zero_point
    padded = np.pad(centred, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    weights = probe.b.astype(np.int64)
    out_channels, _, kernel_h, kernel_w = weights.shape
    height, width = padded.shape[2] - kernel_h + 1, padded.shape[3] - kernel_w + 1
    sums = np.zeros((padded.shape[0], out_channels, height, width), np.int64)
    for i in range(kernel_h):
        for j in range(kernel_w):
            sums += np.einsum("nchw,mc->nmhw", padded[:, :, i:i + height, j:j + width], weights[:, :, i, j])
    return sums


def fixed_point_predict(probe, sums, rounding: str) -> np.ndarray:
    """TensorFlow Lite's QuantizeMultiplier and MultiplyByQuantizedMultiplier from the exact oracle
    (tests/oracle/requantize.py): rational roundings, none of refq's shifts."""
    real = Fraction(float(probe.a_scale)) * Fraction(float(probe.b_scale)) / Fraction(float(probe.y_scale))
    multiplier, shift = requantize_oracle.fixed_point_multiplier(Fraction(float(real)), 32, "half_away_from_zero",
                                                                 "tflite")
    apply = {"single_round": requantize_oracle.apply_single_round,
             "double_round": requantize_oracle.apply_double_round,
             "double_round_ties_up": requantize_oracle.apply_double_round_ties_up}[rounding]
    scaled = np.array([apply(int(total), multiplier, shift) for total in sums.ravel()]).reshape(sums.shape)
    return np.clip(scaled + probe.y_zero_point, 0, 255).astype(np.uint8)


def half_away(values):
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def numpy_predict(probe, variants) -> np.ndarray:
    """An independent oracle of the fingerprint's predictions: plain numpy, none of refq's REQ kernels."""
    sums = numpy_accumulator(probe, variants.get("conv_padding", "input_zero_point"))
    if variants.get("requantize_form", "float_multiplier") == "fixed_point":
        return fixed_point_predict(probe, sums, variants["fixed_point_rounding"])
    order = variants["requantize_multiplier_order"]
    multiplier = MULTIPLIER_ORDERS[order](np.float32(probe.a_scale), np.float32(probe.b_scale),
                                          np.float32(probe.y_scale))
    if order == "float64_quotient" and variants["requantize_precision"] == "float64":
        multiplier = np.float64(probe.a_scale) * np.float64(probe.b_scale) / np.float64(probe.y_scale)
    zero_point = probe.y_zero_point
    with np.errstate(over="ignore"):
        if variants["requantize_precision"] == "float32":
            scaled = sums.astype(np.float32) * multiplier
            shifted = scaled + np.float32(zero_point)
        else:
            scaled = sums.astype(np.float64) * np.float64(multiplier)
            shifted = scaled + np.float64(zero_point)
    rounding = {"half_to_even": np.rint, "toward_zero": np.trunc,
                "half_away_from_zero": half_away}[variants.get("requantize_rounding", "half_to_even")]
    if variants["requantize_zero_point"] == "after_rounding":
        result = rounding(scaled.astype(np.float64)) + zero_point
    else:
        result = rounding(shifted.astype(np.float64))
    return np.clip(result, 0, 255).astype(np.uint8)


def test_multiplier_orders_match_the_oracle():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a, b, y = (np.float32(v) for v in rng.uniform(0.001, 0.5, 3))
        for order, oracle in MULTIPLIER_ORDERS.items():
            assert fi.MULTIPLIER_ORDERS[order](a, b, y).view(np.uint32) == oracle(a, b, y).view(np.uint32), order


@pytest.mark.parametrize("operation", fi.OPERATIONS)
def test_predict_matches_the_oracle(operation):
    """The fingerprint's predictions (refq's qlinear_matmul / qlinear_conv under the variant values) equal an
    independent numpy oracle for every combination on every probe, conv_padding = zero included."""
    for combination in fi.combinations(operation):
        for probe in fi.probes_for(operation):
            np.testing.assert_array_equal(fi.predict(probe, combination), numpy_predict(probe, combination),
                                          err_msg=f"{probe.name} {combination}")


@pytest.mark.parametrize("profile", ["onnxruntime", "onnx-reference", "pytorch"])
@pytest.mark.parametrize("order", fi.MULTIPLIER_ORDERS)
def test_predict_matches_refq(profile, order):
    """The oracle equals refq's qlinear_matmul and qlinear_conv (REQ-1 kernels) called directly with each
    profile's precision and placement under every multiplier order."""
    values = PROFILES_BY_NAME[profile].requantize
    combination = {"requantize_multiplier_order": order, "requantize_precision": values["requantize_precision"],
                   "requantize_rounding": "half_to_even",
                   "requantize_zero_point": values["requantize_zero_point"], "conv_padding": "input_zero_point"}
    variants = {"precision": values["requantize_precision"], "zero_point_placement": values["requantize_zero_point"],
                "multiplier_order": order}
    for probe in fi.probes_for("qlinear_conv"):
        expected = numpy_predict(probe, combination)
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
    expected = fi.declared_combination(backend.profile, "qlinear_matmul")
    assert expected["requantize_form"] == "float_multiplier"
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
