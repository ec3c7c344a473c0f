"""Chapter ELT: quantized elementwise, table and pooling operations, bit-exact against
ONNX Runtime's CPU kernels (com.microsoft contrib operators) on many random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.elementwise import (FIRST_SCALAR, GENERAL, SECOND_SCALAR, clamp_output, fused_activation_bounds, logistic,
                              qlinear_add, qlinear_global_average_pool, qlinear_leaky_relu, qlinear_mul,
                              qlinear_sigmoid, span_role)
from refq.errors import RefqTypeError, RefqValueError

DTYPES = (np.int8, np.uint8)


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnxruntime")
    from refq.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend()


def random_scale(rng, low=-10.0, high=3.0) -> np.float32:
    return np.float32(np.exp2(rng.uniform(low, high)) * rng.uniform(1.0, 2.0))


def zero_point(rng, dtype, edges: bool = True):
    info = np.iinfo(dtype)
    if edges and rng.random() < 0.25:
        return dtype(info.min if rng.random() < 0.5 else info.max)
    return dtype(rng.integers(info.min, info.max + 1))


def all_pairs(dtype):
    """Every (a, b) pair of 8-bit codes: 65,536 elements."""
    info = np.iinfo(dtype)
    codes = np.arange(info.min, info.max + 1).astype(dtype)
    return np.repeat(codes, 256), np.tile(codes, 256)


@pytest.mark.parametrize("first, second, role", [
    ((4,), (4,), GENERAL), ((2, 3), (3,), GENERAL), ((2, 3), (2, 1), SECOND_SCALAR), ((1,), (5,), FIRST_SCALAR),
    ((), (), FIRST_SCALAR), ((5,), (), SECOND_SCALAR), ((3, 1), (3, 1), GENERAL), ((5, 1), (1,), FIRST_SCALAR),
    ((2, 1, 4), (3, 1), SECOND_SCALAR), ((1, 4), (3, 1), SECOND_SCALAR),
])
def test_span_role(first, second, role):
    assert span_role(first, second) == role


@pytest.mark.parametrize("operation", ["qlinear_add", "qlinear_mul"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_all_codes_against_onnxruntime(ort, operation, dtype):
    """Every pair of codes under 30 random scale/zero-point sets each: 2 million elements per case."""
    rng = np.random.default_rng(11 if operation == "qlinear_add" else 12)
    a, b = all_pairs(dtype)
    ours, theirs = {"qlinear_add": qlinear_add, "qlinear_mul": qlinear_mul}[operation], getattr(ort, operation)
    for _ in range(30):
        args = (a, random_scale(rng), zero_point(rng, dtype), b, random_scale(rng), zero_point(rng, dtype),
                random_scale(rng), zero_point(rng, dtype))
        expected = theirs(*args)
        got = ours(*args)
        assert got.dtype == expected.dtype
        mismatches = np.flatnonzero(got != expected)
        assert mismatches.size == 0, (args[1:3], args[4:], mismatches[:5], got[mismatches[:5]], expected[mismatches[:5]])


@pytest.mark.parametrize("shapes", [((256,), (1,)), ((1,), (256,)), ((2, 256), (2, 1)), ((2, 1), (2, 256)),
                                    ((3, 1, 256), (1, 4, 256)), ((7,), ()), ((), (7,)), ((1,), (1,))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_broadcasting_against_onnxruntime(ort, shapes, dtype):
    """Scalar spans swap the operands of QLinearAdd (ELT-1.3): checked with broadcast shapes."""
    rng = np.random.default_rng(13)
    info = np.iinfo(dtype)
    for _ in range(40):
        a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
        b = rng.integers(info.min, info.max + 1, shapes[1]).astype(dtype)
        args = (a, random_scale(rng), zero_point(rng, dtype), b, random_scale(rng), zero_point(rng, dtype),
                random_scale(rng), zero_point(rng, dtype))
        for ours, theirs in ((qlinear_add, ort.qlinear_add), (qlinear_mul, ort.qlinear_mul)):
            expected = theirs(*args)
            got = ours(*args)
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)


def test_qlinear_add_operand_order_matters(ort):
    """The swap of ELT-1.3 is observable: with A the per-span scalar, computing A as the first
    operand gives another code at index 203 for these parameters (found by random search);
    ONNX Runtime gives the swapped result."""
    codes = np.arange(-128, 128).astype(np.int8)
    sa, sb, sc = (np.uint32(bits).view(np.float32) for bits in (1041058097, 999173153, 1072704774))
    scalar = np.array([41], np.int8)
    args = (sa, np.int8(-49), codes, sb, np.int8(126), sc, np.int8(-49))
    swapped = qlinear_add(scalar, *args)
    unswapped = qlinear_add(np.repeat(scalar, 256), *args)
    assert np.flatnonzero(swapped != unswapped).tolist() == [203]
    np.testing.assert_array_equal(ort.qlinear_add(scalar, *args), swapped)


def test_qlinear_mul_extreme_ratio(ort):
    """A multiplier so large that the float32 result leaves int32: x86 converts it to -2^31 (qmin)."""
    a, b = all_pairs(np.uint8)
    args = (a, np.float32(2.0**60), np.uint8(0), b, np.float32(2.0**60), np.uint8(0), np.float32(2.0**-60), np.uint8(7))
    np.testing.assert_array_equal(qlinear_mul(*args), ort.qlinear_mul(*args))
    assert qlinear_mul(*args)[-1] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_lookup_tables_against_onnxruntime(ort, dtype):
    rng = np.random.default_rng(14)
    codes = np.arange(256).astype(np.uint8).view(dtype)
    for _ in range(60):
        x_scale, y_scale = random_scale(rng, -8, 0), random_scale(rng, -12, -5)
        x_zero, y_zero = zero_point(rng, dtype), zero_point(rng, dtype)
        np.testing.assert_array_equal(qlinear_sigmoid(codes, x_scale, x_zero, y_scale, y_zero),
                                      ort.qlinear_sigmoid(codes, x_scale, x_zero, y_scale, y_zero))
        alpha = float(rng.choice([0.01, 0.1, 0.2, 0.3333, -0.5, 1.5]))
        np.testing.assert_array_equal(qlinear_leaky_relu(codes, x_scale, x_zero, y_scale, y_zero, alpha=alpha),
                                      ort.qlinear_leaky_relu(codes, x_scale, x_zero, y_scale, y_zero, alpha=alpha))


def test_logistic_against_onnxruntime_sigmoid():
    """ONNX Runtime's float Sigmoid runs the same MLAS logistic kernel: compare float32 bit patterns."""
    onnxruntime = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    rng = np.random.default_rng(15)
    x = np.concatenate([(rng.standard_normal(20000) * 8).astype(np.float32),
                        rng.uniform(-20, 20, 20000).astype(np.float32),
                        np.array([0.0, -0.0, 18.0, -18.0, 1e-30, -1e-30, 100.0, -100.0], np.float32)])
    node = helper.make_node("Sigmoid", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [x.size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 10
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"x": x})
    got = np.array([logistic(v) for v in x], dtype=np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_average_pool_against_onnxruntime(ort, dtype):
    rng = np.random.default_rng(16)
    info = np.iinfo(dtype)
    checked = 0
    for _ in range(120):
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        x = rng.integers(info.min, info.max + 1, shape).astype(dtype)
        x_scale = random_scale(rng, -8, 0)
        y_scale = np.float32(x_scale * np.float32(np.exp2(rng.uniform(-4, 2))))
        x_zero, y_zero = zero_point(rng, dtype), zero_point(rng, dtype)
        for channels_last in (0, 1):
            expected = ort.qlinear_global_average_pool(x, x_scale, x_zero, y_scale, y_zero,
                                                       channels_last=channels_last)
            got = qlinear_global_average_pool(x, x_scale, x_zero, y_scale, y_zero, channels_last=channels_last)
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
            checked += got.size
    assert checked > 1000


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "relu6"])
def test_fused_activation_against_onnxruntime_float_graph(ort, dtype, activation):
    """Clamping the quantized codes to the quantized bounds equals DequantizeLinear -> Relu/Clip(0, 6) ->
    QuantizeLinear, run in ONNX Runtime, for every code."""
    onnxruntime = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    element = TensorProto.INT8 if dtype == np.int8 else TensorProto.UINT8
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"])]
    if activation == "relu":
        nodes.append(helper.make_node("Relu", ["x"], ["r"]))
    else:
        nodes.append(helper.make_node("Clip", ["x", "lo", "hi"], ["r"]))
    nodes.append(helper.make_node("QuantizeLinear", ["r", "s", "z"], ["y"]))
    inputs = [helper.make_tensor_value_info("q", element, [256]), helper.make_tensor_value_info("s", TensorProto.FLOAT, []),
              helper.make_tensor_value_info("z", element, [])]
    initializers = [helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]), helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])] \
        if activation == "relu6" else []
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", element, [256])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(17)
    codes = np.arange(256).astype(np.uint8).view(dtype)
    for _ in range(200):
        scale, zero = random_scale(rng, -8, 0), zero_point(rng, dtype)
        (expected,) = session.run(None, {"q": codes, "s": np.array(scale, np.float32), "z": np.array(zero, dtype)})
        lower, upper = fused_activation_bounds(activation, scale, zero, dtype=np.dtype(dtype).name)
        np.testing.assert_array_equal(clamp_output(codes, lower, upper), expected)


def test_fused_activation_bounds():
    assert fused_activation_bounds("relu", 0.1, 5, dtype="int8") == (5, 127)
    assert fused_activation_bounds("relu6", 0.1, 5, dtype="int8") == (5, 65)
    assert fused_activation_bounds("relu6", 0.01, 0, dtype="uint8") == (0, 255)
    assert fused_activation_bounds("clamp", 0.5, 10, dtype="uint8", lower=-1.0, upper=2.25) == (8, 14)
    assert fused_activation_bounds("none", 0.5, 10, dtype="uint8") == (0, 255)


def test_jit_matches_pure_python():
    rng = np.random.default_rng(18)
    a = rng.integers(-128, 128, (3, 50)).astype(np.int8)
    b = rng.integers(-128, 128, (50,)).astype(np.int8)
    x = rng.integers(0, 256, (2, 3, 7, 5)).astype(np.uint8)
    cases = [
        lambda: qlinear_add(a, 0.02, np.int8(-3), b, 0.5, np.int8(100), 0.07, np.int8(-128)),
        lambda: qlinear_mul(a, 0.02, np.int8(-3), b, 0.5, np.int8(100), 0.07, np.int8(-128)),
        lambda: qlinear_sigmoid(a, 0.05, np.int8(1), 1 / 256, np.int8(-128)),
        lambda: qlinear_leaky_relu(a, 0.05, np.int8(1), 0.03, np.int8(0), alpha=0.2),
        lambda: qlinear_global_average_pool(x, 0.02, np.uint8(128), 0.01, np.uint8(3)),
    ]
    compiled = [case() for case in cases]
    with pure_python():
        interpreted = [case() for case in cases]
    for one, other in zip(compiled, interpreted):
        np.testing.assert_array_equal(one, other)


@pytest.mark.parametrize("call, error", [
    (lambda: qlinear_add([1, 2], 0.1, 0, np.int8([1, 2]), 0.1, 0, 0.1, 0), RefqTypeError),
    (lambda: qlinear_add(np.int16([1]), 0.1, 0, np.int16([1]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_add(np.int8([1]), 0.1, 0, np.uint8([1]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_add(np.int8([1, 2]), 0.1, 0, np.int8([1, 2, 3]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_add(np.int8([1]), -0.1, 0, np.int8([1]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_add(np.int8([1]), [0.1, 0.2], 0, np.int8([1]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_mul(np.int8([1]), 0.1, 200, np.int8([1]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_mul(np.int8([1]), 0.1, 0.5, np.int8([1]), 0.1, 0, 0.1, 0), RefqTypeError),
    (lambda: qlinear_sigmoid(np.int8([1]), 0.1, 0, float("nan"), 0), RefqValueError),
    (lambda: qlinear_leaky_relu(np.int8([1]), 0.1, 0, 0.1, 0, alpha="big"), RefqTypeError),
    (lambda: qlinear_global_average_pool(np.uint8([[1, 2]]), 0.1, 0, 0.1, 0), RefqValueError),
    (lambda: qlinear_global_average_pool(np.uint8([[[1, 2]]]), 0.1, 0, 1e-12, 0), RefqValueError),
    (lambda: qlinear_global_average_pool(np.uint8([[[1, 2]]]), 0.1, 0, 0.1, 0, channels_last=2), RefqValueError),
    (lambda: fused_activation_bounds("gelu", 0.1, 0, dtype="int8"), RefqValueError),
    (lambda: fused_activation_bounds("clamp", 0.1, 0, dtype="int8", lower=1.0, upper=0.0), RefqValueError),
])
def test_bad_input_errors(call, error):
    with pytest.raises(error) as info:
        call()
    assert ":" in str(info.value)
