"""OBS-5: DynamicQuantizeLinear (ONNX Runtime, onnx.reference) and PyTorch's dynamic parameters."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqValueError
from refq.observers.dynamic import DYNAMIC_PROFILES, dynamic_quantize_linear, torch_dynamic_qparams
from tests.oracle import observers as oracle

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402


@pytest.fixture(scope="module")
def backends():
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [None]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("z", TensorProto.UINT8, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = ReferenceEvaluator(model)
    def run_reference(x):
        with np.errstate(all="ignore"):
            return reference.run(None, {"x": x})

    return {"onnxruntime": lambda x: session.run(None, {"x": x}), "onnx-reference": run_reference}


def random_inputs(rng, count):
    for index in range(count):
        size = int(rng.integers(1, 400))
        magnitude = 10.0 ** rng.uniform(-44, 38)
        with np.errstate(over="ignore"):
            x = (rng.standard_normal(size) * magnitude + rng.integers(-2, 3) * magnitude).astype(np.float32)
        if index % 5 == 1:
            x = np.abs(x)
        if index % 5 == 2:
            x = -np.abs(x)
        if index % 7 == 3:
            with np.errstate(over="ignore"):
                x = np.round(x * 4) / 4  # many exact ties x / s = k + 1/2
        if index % 11 == 4:
            x[rng.integers(size)] = rng.choice([np.inf, -np.inf])
        if index % 13 == 5:
            x[rng.integers(size)] = np.nan
        yield x


@pytest.mark.parametrize("profile", sorted(DYNAMIC_PROFILES))
def test_dynamic_quantize_linear_backends(backends, profile):
    """~1.2e5 elements in 600 inputs: scale bits, zero point and y bit-exact (except unpredictable ones)."""
    rng = np.random.default_rng(11)
    elements = 0
    for x in random_inputs(rng, 600):
        y, scale, zero_point = backends[profile](x)
        result = dynamic_quantize_linear(x, profile=profile)
        elements += x.size
        if result.parameters_unpredictable:
            continue
        assert np.float32(scale).view(np.uint32) == result.scale.view(np.uint32) or (
            np.isnan(scale) and np.isnan(result.scale))
        assert int(zero_point) == result.zero_point
        keep = ~result.unpredictable
        assert np.array_equal(y[keep], result.y[keep])
    assert elements >= 100_000


@pytest.mark.parametrize("profile", sorted(DYNAMIC_PROFILES))
def test_dynamic_quantize_linear_special_inputs(backends, profile):
    """The all-zero input (ORT: scale 1.0, onnx.reference: 1/255), subnormal, infinite, NaN inputs."""
    cases = [[0.0, 0.0], [-0.0], [1e-45, 0.0], [np.inf, 1.0], [-np.inf, 1.0], [-np.inf, np.inf], [3e38, -3e38],
             [np.nan, 1.0], [np.nan, np.nan]]
    for values in cases:
        x = np.array(values, np.float32)
        y, scale, zero_point = backends[profile](x)
        result = dynamic_quantize_linear(x, profile=profile)
        if result.parameters_unpredictable:
            assert profile == "onnxruntime" and np.isnan(x).any()
            continue
        assert np.float32(scale).view(np.uint32) == result.scale.view(np.uint32) or (
            np.isnan(scale) and np.isnan(result.scale)), values
        assert int(zero_point) == result.zero_point, values
        assert np.array_equal(y[~result.unpredictable], result.y[~result.unpredictable]), values
    zero = dynamic_quantize_linear(np.zeros(4, np.float32), profile=profile).scale
    assert zero == (np.float32(1.0) if profile == "onnxruntime" else np.float32(1) / np.float32(255))


def test_dynamic_quantize_linear_oracle():
    rng = np.random.default_rng(12)
    for x in random_inputs(rng, 150):
        if not np.isfinite(x).all():
            continue
        values = [Fraction(float(v)) for v in x]
        for profile in DYNAMIC_PROFILES:
            result = dynamic_quantize_linear(x, profile=profile)
            expected = oracle.dynamic_quantize_linear_parameters(values, profile == "onnxruntime")
            if expected is None:
                continue
            assert Fraction(float(result.scale)) == expected[0]
            assert result.zero_point == expected[1]
            assert result.y.tolist() == oracle.dynamic_quantize_linear_values(values, expected[0], expected[1])


def test_dynamic_quantize_linear_empty_and_pure_python():
    empty = dynamic_quantize_linear(np.empty(0, np.float32), profile="onnxruntime")
    assert (empty.scale, empty.zero_point, empty.y.shape) == (np.float32(1.0), 0, (0,))
    with pytest.raises(RefqValueError, match="non-empty"):
        dynamic_quantize_linear(np.empty(0, np.float32), profile="onnx-reference")
    with pytest.raises(RefqValueError, match="profile"):
        dynamic_quantize_linear(np.ones(2), profile="tflite")
    x = np.random.default_rng(13).standard_normal((4, 50)).astype(np.float32)
    x[0, 0] = np.nan
    for profile in DYNAMIC_PROFILES:
        compiled = dynamic_quantize_linear(x, profile=profile)
        with pure_python():
            interpreted = dynamic_quantize_linear(x, profile=profile)
        assert np.array_equal(compiled.y, interpreted.y) and compiled.zero_point == interpreted.zero_point
        assert compiled.scale.tobytes() == interpreted.scale.tobytes()


@pytest.mark.parametrize("reduce_range", [True, False])
def test_torch_dynamic_qparams(reduce_range):
    """torch._choose_qparams_per_tensor (FBGEMM's rule, used by quantized::linear_dynamic): float64 scale bits."""
    rng = np.random.default_rng(14 + reduce_range)
    checked = 0
    for x in random_inputs(rng, 800):
        if np.isnan(x).any():
            with pytest.raises(RefqValueError, match="NaN"):
                torch_dynamic_qparams(x, reduce_range=reduce_range)
            continue
        scale, zero_point = torch._choose_qparams_per_tensor(torch.from_numpy(x), reduce_range)
        result = torch_dynamic_qparams(x, reduce_range=reduce_range)
        assert np.float64(scale).view(np.uint64) == result.scale.view(np.uint64)
        assert zero_point == result.zero_point or result.unpredictable
        if np.isfinite(x).all():
            low, high = Fraction(float(x.min())), Fraction(float(x.max()))
            expected = oracle.fbgemm(low, high, 0, 127 if reduce_range else 255)
            assert (Fraction(float(result.scale)), result.zero_point) == expected
        checked += 1
    assert checked > 700


def test_torch_dynamic_bad_input():
    with pytest.raises(RefqValueError, match="non-empty"):
        torch_dynamic_qparams(np.empty(0, np.float32))
    infinite = torch_dynamic_qparams(np.array([1.0, np.inf], np.float32))
    assert infinite.scale == np.inf and infinite.unpredictable  # the zero point is NaN -> int32 (x86: -2^31)
