"""AFF-6: QuantizeLinear and DequantizeLinear with a float format as the quantized type, against an exact
oracle (Fractions: the float32 quotient, then NUM-3's encoding) and the real engines: ONNX Runtime's CPU
provider (float8, through refq's onnxruntime backend) and ONNX's reference evaluator (float8 and float4)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import refq
from refq.affine.float_targets import FLOAT_TARGETS
from refq.backends.reference import dequantize_linear_float, quantize_linear_float
from tests.oracle import floats as float_oracle

FLOAT8 = tuple(name for name in FLOAT_TARGETS if name.startswith("float8"))
SCALES = (1.0, 0.1, 3.0, 2.0 ** -100, 7e30)


def mixed_values(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(count) * np.exp2(rng.integers(-40, 40, count))).astype(np.float32)
    x[: count // 8] = rng.integers(0, 1 << 32, count // 8, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return x


def fl32(value: Fraction) -> Fraction:
    """The float32 nearest ``value`` (ties to even), exactly."""
    pattern = float_oracle.encode(value < 0, abs(value), "binary32", "infinity")
    return float_oracle.decode(pattern, "binary32")[2]  # signed; None past float32's range


def oracle_quantize(x: np.float32, scale: np.float32, zero: Fraction | None, name: str, saturate: bool) -> int | None:
    """AFF-6.2 on one element with Fractions; None for a NaN (open, AFF-6.3)."""
    if np.isnan(x):
        return None
    if np.isinf(x):
        value = Fraction(2) ** 400 * (-1 if x < 0 else 1)
        negative = x < 0
    else:
        value = fl32(Fraction(float(x)) / Fraction(float(scale)))
        if value is None:  # the quotient overflows float32
            value, negative = Fraction(2) ** 400 * (-1 if x < 0 else 1), x < 0
        else:
            negative = value < 0 or (value == 0 and np.signbit(x))
        if zero is not None and abs(value) < Fraction(2) ** 300:
            value = fl32(value + zero)
            negative = value < 0 if value != 0 else (negative and zero == 0 and np.signbit(x))
    policy = "saturate" if saturate or not name.startswith("float8") else "infinity"
    return float_oracle.encode(bool(negative), abs(value), name, policy)


@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("name", FLOAT_TARGETS)
def test_quantize_equals_the_oracle(name, saturate):
    x = mixed_values(600, seed=61)
    for scale in SCALES:
        scale = np.float32(scale)
        got, open_ = quantize_linear_float(x, scale, None, to=name, saturate=saturate)
        for value, pattern in zip(x, got):
            expected = oracle_quantize(value, scale, None, name, saturate)
            assert expected is None or expected == pattern, (name, scale, float(value), expected, int(pattern))
        with np.errstate(over="ignore", invalid="ignore"):
            nan = np.isnan(x / scale)
        assert np.array_equal(open_ if open_ is not None else np.zeros(x.shape, bool), nan)


@pytest.mark.parametrize("name", FLOAT_TARGETS)
def test_a_zero_point_is_added_under_onnx_and_ignored_under_onnxruntime(name):
    x = mixed_values(800, seed=62)
    x = x[np.isfinite(x) & (np.abs(x) < 100)]
    one = refq.cast(np.array([1.0], np.float32), name).astype(np.uint8)[0]
    added, _ = quantize_linear_float(x, np.float32(1), one, to=name, profile="onnx")
    for value, pattern in zip(x, added):
        assert oracle_quantize(value, np.float32(1), Fraction(1), name, True) == pattern
    ignored, _ = quantize_linear_float(x, np.float32(1), one, to=name, profile="onnxruntime")
    assert np.array_equal(ignored, quantize_linear_float(x, np.float32(1), None, to=name)[0])
    assert (added != ignored).any()


@pytest.mark.parametrize("name", FLOAT_TARGETS)
def test_dequantize_is_one_rounding_of_the_exact_product(name):
    from refq.registry import float_format

    patterns = np.arange(1 << float_format(name).total_bits, dtype=np.uint8)
    for scale in SCALES:
        y, nan = dequantize_linear_float(patterns, np.float32(scale), dtype=name)
        for pattern, value in zip(patterns, y):
            kind, sign, signed_value = float_oracle.decode(int(pattern), name)
            if kind == "nan":
                assert np.isnan(value)
                continue
            if kind == "infinity":
                assert value == (-np.inf if sign else np.inf)
                continue
            exact = signed_value * Fraction(float(np.float32(scale)))
            expected = np.float32(float(fl32(exact))) if fl32(exact) is not None else np.float32(np.inf) * (
                -1 if sign else 1)
            if exact == 0:
                expected = np.float32(-0.0 if sign else 0.0)
            assert expected.view(np.uint32) == value.view(np.uint32), (name, scale, int(pattern))


@pytest.fixture(scope="module")
def onnxruntime():
    from refq.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend()


@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("name", FLOAT8)
def test_onnxruntime_quantize_and_dequantize(onnxruntime, name, saturate):
    """ONNX Runtime's float8 QuantizeLinear and DequantizeLinear, per tensor, per axis and blocked, against the
    onnxruntime profile: 2^14 mixed values under five scales, every pattern under five scales."""
    x = mixed_values(1 << 14, seed=63)
    keep = ~np.isnan(x)
    for scale in SCALES:
        scale = np.float32(scale)
        got = onnxruntime.quantize_linear_float(x, scale, None, to=name, saturate=saturate)
        expected, _ = quantize_linear_float(x, scale, None, to=name, saturate=saturate, profile="onnxruntime")
        assert np.array_equal(got[keep], expected[keep]), (name, scale)
    rows = x.reshape(16, -1)
    scales = np.array(SCALES * 4, np.float32)[:16]
    got = onnxruntime.quantize_linear_float(rows, scales, None, to=name, axis=0, saturate=saturate)
    expected, _ = quantize_linear_float(rows, scales, None, to=name, axis=0, saturate=saturate, profile="onnxruntime")
    assert np.array_equal(got[~np.isnan(rows)], expected[~np.isnan(rows)])
    blocked = np.resize(scales, (16, rows.shape[1] // 32))
    got = onnxruntime.quantize_linear_float(rows, blocked, None, to=name, axis=1, block_size=32, saturate=saturate)
    expected, _ = quantize_linear_float(rows, blocked, None, to=name, axis=1, block_size=32, saturate=saturate,
                                        profile="onnxruntime")
    assert np.array_equal(got[~np.isnan(rows)], expected[~np.isnan(rows)])
    every = np.arange(256, dtype=np.uint8)
    for scale in SCALES:
        got = onnxruntime.dequantize_linear_float(every, np.float32(scale), dtype=name)
        expected, nan = dequantize_linear_float(every, np.float32(scale), dtype=name, profile="onnxruntime")
        same = got.view(np.uint32) == expected.view(np.uint32)
        assert (same | (nan if nan is not None else False)).all(), (name, scale)


def test_onnxruntime_refuses_a_nonzero_dequantize_zero_point(onnxruntime):
    one = np.uint8(0x38)  # 1.0 in float8_e4m3fn
    with pytest.raises(Exception, match="zero point"):
        onnxruntime.dequantize_linear_float(np.arange(8, dtype=np.uint8), np.float32(1), one, dtype="float8_e4m3fn")
    with pytest.raises(refq.RefqError if hasattr(refq, "RefqError") else Exception, match="zero_point"):
        dequantize_linear_float(np.arange(8, dtype=np.uint8), np.float32(1), one, dtype="float8_e4m3fn",
                                profile="onnxruntime")


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn"])
def test_onnx_reference_evaluator(name):
    """ONNX's reference QuantizeLinear (it ignores a float8 zero point and adds a float4 one) and
    DequantizeLinear, on 4,096 mixed finite values and every pattern."""
    import ml_dtypes
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from refq.registry import float_format

    fmt = float_format(name)
    dtype = getattr(ml_dtypes, fmt.ml_dtypes_name)
    code = {"float8_e4m3fn": TensorProto.FLOAT8E4M3FN, "float8_e5m2": TensorProto.FLOAT8E5M2,
            "float4_e2m1fn": TensorProto.FLOAT4E2M1}[name]
    zero = refq.cast(np.array([0.0], np.float32), name).astype(np.uint8)
    graph = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", code, None)],
                              initializer=[numpy_helper.from_array(zero.view(dtype).reshape(()), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)], ir_version=11)
    x = mixed_values(4096, seed=64)
    x = x[np.isfinite(x)]
    for scale in (1.0, 0.1, 3.0):
        with np.errstate(over="ignore", invalid="ignore"):
            (y,) = ReferenceEvaluator(model).run(None, {"x": x, "s": np.array(scale, np.float32)})
        expected, _ = quantize_linear_float(x, np.float32(scale), None, to=name)
        assert np.array_equal(np.asarray(y).view(np.uint8), expected), (name, scale)
    every = np.arange(1 << fmt.total_bits, dtype=np.uint8)
    graph = helper.make_graph([helper.make_node("DequantizeLinear", ["q", "s"], ["y"])], "g",
                              [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(every.view(dtype), "q")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)], ir_version=11)
    for scale in SCALES:
        (y,) = ReferenceEvaluator(model).run(None, {"s": np.array(scale, np.float32)})
        expected, nan = dequantize_linear_float(every, np.float32(scale), dtype=name)
        same = np.asarray(y, np.float32).view(np.uint32) == expected.view(np.uint32)
        assert (same | (nan if nan is not None else False)).all(), (name, scale)
