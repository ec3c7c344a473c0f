"""ELT-3.7, ELT-3.8: MLAS's tanh and the 8-bit tanh table, bit-exact against ONNX Runtime's
float ``Tanh`` and its ``DequantizeLinear`` → ``Tanh`` → ``QuantizeLinear`` graph."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.elementwise.lookup import hyperbolic_tangent_elements, qlinear_tanh, table_inputs
from refq.errors import RefqTypeError, RefqValueError

onnxruntime = pytest.importorskip("onnxruntime")

DTYPES = (np.int8, np.uint8)


def session(model):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def float_tanh():
    """ONNX Runtime's float Tanh on a 1-D float32 array of any length."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Tanh", ["x"], ["y"])], "tanh",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 10
    runner = session(model)
    return lambda x: runner.run(None, {"x": x})[0]


@pytest.fixture(scope="module")
def ort():
    from refq.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend()


def refq_tanh(values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    hyperbolic_tangent_elements(values, out)
    return out


def random_parameters(rng, dtype):
    info = np.iinfo(dtype)
    x_scale = np.float32(10.0 ** rng.uniform(-3.5, 0.5))
    y_scale = np.float32(10.0 ** rng.uniform(-3, -1))
    return x_scale, dtype(rng.integers(info.min, info.max + 1)), y_scale, dtype(rng.integers(info.min, info.max + 1))


def patterns(step: int, start: int = 0, stop: int = 0x41180000) -> np.ndarray:
    """Every ``step``-th float32 bit pattern from 0 to 9.5 (the clamp is at 9), both signs."""
    positive = np.arange(start, stop, step, dtype=np.uint32)
    return np.concatenate([positive, positive | np.uint32(0x80000000)]).view(np.float32)


def test_tanh_on_dequantized_codes(float_tanh):
    """Every float32 a table sees: the 256 dequantized codes of 400 scale / zero point sets."""
    rng = np.random.default_rng(91)
    values = np.concatenate([table_inputs(*random_parameters(rng, DTYPES[i % 2])[:2], DTYPES[i % 2])
                             for i in range(400)])
    assert values.size == 400 * 256
    np.testing.assert_array_equal(refq_tanh(values).view(np.uint32), float_tanh(values).view(np.uint32))


def test_tanh_sweep(float_tanh):
    """Every 1021st float32 pattern up to 9.5 in both signs (2.1 million values), the clamp ends
    and their neighbours, zeros, infinities and the largest values."""
    special = np.array([9.0, -9.0, 0.0, -0.0, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-45, -1e-45], np.float32)
    values = np.concatenate([patterns(1021), special, np.nextafter(special[:2], np.float32(0)),
                             np.nextafter(special[:2], np.float32(100) * special[:2])])
    assert values.size > 2_000_000
    np.testing.assert_array_equal(refq_tanh(values).view(np.uint32), float_tanh(values).view(np.uint32))
    few = values[::5000]
    with pure_python():
        interpreted = refq_tanh(few)
    np.testing.assert_array_equal(interpreted.view(np.uint32), float_tanh(few).view(np.uint32))


@pytest.mark.slow
def test_tanh_every_pattern(float_tanh):
    """Every float32 pattern up to 9.5 in both signs, in slices of 2^24 patterns."""
    for start in range(0, 0x41180000, 2**24):
        values = patterns(1, start, min(start + 2**24, 0x41180000))
        np.testing.assert_array_equal(refq_tanh(values).view(np.uint32), float_tanh(values).view(np.uint32))


def test_tanh_exceeds_one():
    """ELT-3.7: nothing clamps the quotient; just below the clamp at 9 it reaches 1 + 2^-22."""
    values = np.linspace(8.0, 9.0, 100001, dtype=np.float32)
    results = refq_tanh(values)
    assert results.max() == np.float32(1 + 2.0**-22)
    assert refq_tanh(np.array([9.0, 1e9], np.float32)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_tanh_against_onnxruntime(ort, dtype):
    """The whole table (every code) against the DequantizeLinear → Tanh → QuantizeLinear graph,
    300 random scale / zero point sets, compiled and interpreted."""
    rng = np.random.default_rng(92 if dtype == np.int8 else 93)
    every = np.arange(256, dtype=np.uint8).view(dtype)
    for index in range(300):
        parameters = random_parameters(rng, dtype)
        expected = ort.qlinear_tanh(every, *parameters)
        np.testing.assert_array_equal(qlinear_tanh(every, *parameters), expected)
        if index % 30 == 0:
            with pure_python():
                np.testing.assert_array_equal(qlinear_tanh(every, *parameters), expected)
    # Other shapes, the usual output parameters (1/128 around the middle code), omitted zero points.
    x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, (3, 5, 7)).astype(dtype)
    middle = dtype(0 if dtype == np.int8 else 128)
    np.testing.assert_array_equal(qlinear_tanh(x, 0.05, middle, 1 / 128, middle),
                                  ort.qlinear_tanh(x, 0.05, middle, 1 / 128, middle))
    np.testing.assert_array_equal(qlinear_tanh(x, 0.05, None, 1 / 128), ort.qlinear_tanh(x, 0.05, None, 1 / 128))


def test_onnxruntime_runs_the_graph_unfused(tmp_path):
    """ELT-3.8: ONNX Runtime's optimizer keeps DequantizeLinear, Tanh and QuantizeLinear as they are."""
    import onnx

    from refq.backends.onnx_contrib_model import build_qdq_model

    for dtype in DTYPES:
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"{np.dtype(dtype).name}.onnx")
        onnxruntime.InferenceSession(build_qdq_model("Tanh", np.dtype(dtype), (256,)).SerializeToString(), options,
                                     providers=["CPUExecutionProvider"])
        optimized = onnx.load(options.optimized_model_filepath)
        assert [node.op_type for node in optimized.graph.node] == ["DequantizeLinear", "Tanh", "QuantizeLinear"]


@pytest.mark.parametrize("call, error", [
    (lambda: qlinear_tanh([1, 2], 0.1, 0, 0.1, 0), RefqTypeError),
    (lambda: qlinear_tanh(np.int16([1]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_tanh(np.int8([1]), 0.1, 0, float("nan"), 0), RefqValueError),
    (lambda: qlinear_tanh(np.int8([1]), 0.1, 200, 0.1, 0), RefqValueError),
])
def test_qlinear_tanh_errors(call, error):
    with pytest.raises(error) as info:
        call()
    assert ":" in str(info.value)
