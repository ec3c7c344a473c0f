"""End to end (refq.demo): small models trained for a few epochs; the pipeline must be exact where
it must be — refq's integer inference equals ONNX Runtime's QOperator graph bit for bit at every
layer on all 1,797 images, and every other difference is explained by a named variant."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

from refq.demo import report as demo_report  # noqa: E402
from refq.demo.compare import UNEXPLAINED, same_bits  # noqa: E402
from refq.demo.quantized import quantize_bias  # noqa: E402


@pytest.fixture(scope="module")
def report():
    return demo_report.build_report(demo_report.Settings.quick())


def test_qoperator_bit_exact(report):
    """QOperator graphs hold only integer kernels: every image agrees at every layer."""
    for model in report.models:
        for bits in demo_report.WEIGHT_BITS:
            comparison = model.comparisons[(bits, "QOperator")]
            assert comparison.images == 1797
            assert comparison.identical == 1797, (model.architecture, bits, comparison.explanations())


def test_every_disagreement_explained(report):
    for model in report.models:
        for (bits, form), comparison in model.comparisons.items():
            assert comparison.identical + len(comparison.disagreements) == comparison.images
            for disagreement in comparison.disagreements:
                assert disagreement.explanation != UNEXPLAINED, (model.architecture, bits, form, disagreement)


def test_accuracy(report):
    for model in report.models:
        accuracy = {variant: value for variant, _, value in model.rows}
        assert accuracy["float32"] > 0.85, model.architecture
        assert accuracy["int8"] > accuracy["float32"] - 0.05, model.architecture
        assert accuracy["int4 weights, int8 activations"] > 0.75, model.architecture
        assert all(value > 0.75 for value in accuracy.values()), accuracy


def test_model_bytes(report):
    """The MLP's bytes by hand: 64x64 + 64x10 weights (no bias), 74 channel scales and zero points,
    3 activation scales (4 bytes) and zero points (1 byte)."""
    mlp = next(model for model in report.models if model.architecture == "mlp")
    sizes = {variant: size for variant, size, _ in mlp.rows}
    weights = 64 * 64 + 64 * 10
    assert sizes["float32"] == 4 * weights
    assert sizes["int8"] == weights + 74 * 5 + 3 * 5
    assert sizes["int4 weights, int8 activations"] == weights // 2 + 74 * 5 + 3 * 5


def test_quantize_bias():
    """round(b / fl32(s_x s_w)) with ties to even, checked against exact rationals."""
    input_scale = np.float32(0.25)
    weight_scale = np.array([0.5, 0.1, 3.0], dtype=np.float32)
    bias = np.array([0.1875, -1.0, 2.0**40], dtype=np.float32)
    expected = []
    for b, s in zip(bias, (input_scale * weight_scale).astype(np.float32)):
        quotient = np.float32(b) / np.float32(s)  # one float32 division, as the tool does
        exact = Fraction(float(quotient))
        floor = exact.numerator // exact.denominator
        rest = exact - floor
        rounded = floor + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2) else 0)
        expected.append(min(max(rounded, -(2**31)), 2**31 - 1))
    assert quantize_bias(bias, input_scale, weight_scale).tolist() == expected
    assert expected[0] == 2  # 0.1875 / 0.125 = 1.5 -> 2 (ties to even)


def test_same_bits():
    a = np.array([[0.0, 1.0], [np.nan, 2.0]], dtype=np.float32)
    b = np.array([[-0.0, 1.0], [np.nan, 2.0]], dtype=np.float32)
    assert same_bits(a, b).tolist() == [False, True]


def test_format_report(report):
    text = demo_report.format_report(report)
    assert "1,797 / 1,797" in text
    for heading in ("test accuracy", "identical at every layer", "ONNX Runtime int8", "refq int8"):
        assert heading in text


def test_demo_command_parses():
    from refq.cli import build_parser

    args = build_parser("demo").parse_args(["demo", "--quick", "--model", "mlp"])
    assert args.quick and args.model == ["mlp"]
