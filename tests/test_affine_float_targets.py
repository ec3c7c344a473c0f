"""AFF-6: QuantizeLinear and DequantizeLinear with a float format as the quantized type, against an exact
oracle (Fractions: the float32 quotient, then NUM-3's encoding) and the real engines: ONNX Runtime's CPU
provider (float8, through refq's onnxruntime backend) and ONNX's reference evaluator (every float8, float6 and float4 type, through refq's onnx-reference backend)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import refq
from refq.affine.float_targets import FLOAT_TARGETS
from refq.backends.reference import dequantize_linear_float, quantize_linear_float
from refq.numbers.floats import decode_array
from refq.registry import float_format
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


@pytest.fixture(scope="module")
def onnx_reference():
    from refq.backends.onnx_reference import OnnxReferenceBackend

    return OnnxReferenceBackend()


def one_pattern(name: str) -> np.uint8:
    return np.uint8(refq.cast(np.array([1.0], np.float32), name)[0])


@pytest.mark.parametrize("name", FLOAT_TARGETS)
def test_onnx_reference_quantize(onnx_reference, name):
    """ONNX's reference QuantizeLinear-25, through refq's onnx-reference backend, against its profile: 2^14
    mixed values under five scales, with and without a zero point of 1.0 (ignored for float8, added for
    float6 and float4: ``float_zero_point = added_except_float8``), per axis and blocked."""
    x = mixed_values(1 << 14, seed=65)
    keep = ~np.isnan(x)
    for saturate in (False, True) if name.startswith("float8") else (True,):
        for scale in SCALES:
            for zero_point in (None, one_pattern(name)):
                got = onnx_reference.quantize_linear_float(x, np.float32(scale), zero_point, to=name,
                                                           saturate=saturate)
                expected, _ = quantize_linear_float(x, np.float32(scale), zero_point, to=name, saturate=saturate,
                                                    profile="onnx-reference")
                assert np.array_equal(got[keep], expected[keep]), (name, saturate, scale, zero_point)
    rows = x.reshape(16, -1)
    scales = np.array(SCALES * 4, np.float32)[:16]
    blocked = np.resize(scales, (16, rows.shape[1] // 32))
    for scale, layout in ((scales, {"axis": 0}), (blocked, {"axis": 1, "block_size": 32})):
        got = onnx_reference.quantize_linear_float(rows, scale, None, to=name, **layout)
        expected, _ = quantize_linear_float(rows, scale, None, to=name, profile="onnx-reference", **layout)
        assert np.array_equal(got[~np.isnan(rows)], expected[~np.isnan(rows)]), layout


@pytest.mark.parametrize("name", FLOAT_TARGETS)
def test_onnx_reference_dequantize(onnx_reference, name):
    """ONNX's reference DequantizeLinear-25 on every pattern under five scales; with a zero point
    (``float_dequantize_zero_point = by_width``): for float8 every finite pattern as the zero point, refused
    from 1 to 255 and ignored otherwise; 1.0 subtracted for float6 and ignored for float4."""
    every = np.arange(1 << float_format(name).total_bits, dtype=np.uint8)
    for scale in SCALES:
        got = onnx_reference.dequantize_linear_float(every, np.float32(scale), dtype=name)
        expected, nan = dequantize_linear_float(every, np.float32(scale), dtype=name, profile="onnx-reference")
        same = got.view(np.uint32) == expected.view(np.uint32)
        assert (same | (nan if nan is not None else False)).all(), (name, scale)
    one = one_pattern(name)
    if name.startswith("float8"):
        # Every finite pattern as the zero point: refused from 1 to 255, ignored otherwise (-1, 0.5, 256, ...).
        fmt = float_format(name)
        finite = np.flatnonzero(np.isfinite(decode_array(every, name)))
        refusals = 0
        for zero_point in map(np.uint8, finite):
            try:
                got = onnx_reference.dequantize_linear_float(every, np.float32(2), zero_point, dtype=name)
            except Exception:
                refusals += 1
                with pytest.raises(refq.RefqError, match="zero_point"):
                    dequantize_linear_float(every, np.float32(2), zero_point, dtype=name, profile="onnx-reference")
                continue
            expected, nan = dequantize_linear_float(every, np.float32(2), zero_point, dtype=name,
                                                    profile="onnx-reference")
            same = got.view(np.uint32) == expected.view(np.uint32)
            assert (same | (nan if nan is not None else False)).all(), (name, int(zero_point))
        assert 0 < refusals < len(finite), fmt.name
        return
    got = onnx_reference.dequantize_linear_float(every, np.float32(2), one, dtype=name)
    expected, nan = dequantize_linear_float(every, np.float32(2), one, dtype=name, profile="onnx-reference")
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    subtracted = dequantize_linear_float(every, np.float32(2), one, dtype=name, profile="onnx")[0]
    assert np.array_equal(got, subtracted) == (float_format(name).total_bits == 6)


# --- AFF-6.5: E8M0 scales ----------------------------------------------------------------------------------

E8M0_EXPONENTS = (-127, -126, -64, -1, 0, 1, 64, 127)


def e8m0_block_scales(rows: int) -> np.ndarray:
    return np.exp2(np.resize(np.array(E8M0_EXPONENTS), (rows, 2))).astype(np.float32)


@pytest.mark.parametrize("name", FLOAT_TARGETS)
def test_e8m0_scales_equal_the_same_float32_scales_and_onnx_reference(onnx_reference, name):
    """AFF-6.5: an E8M0 scale computes as its float32 value, in refq and in ONNX's reference evaluator (fed a
    FLOAT8E8M0 tensor): blocks of 32, scales from 2^-127 to 2^127, quantize and dequantize."""
    x = mixed_values(16 * 64, seed=66).reshape(16, 64)
    scales = e8m0_block_scales(16)
    layout = {"axis": 1, "block_size": 32}
    keep = ~np.isnan(x)
    e8m0, _ = quantize_linear_float(x, scales, None, to=name, scale_type="float8_e8m0fnu", profile="onnx-reference",
                                    **layout)
    plain, _ = quantize_linear_float(x, scales, None, to=name, profile="onnx-reference", **layout)
    assert np.array_equal(e8m0, plain)
    got = onnx_reference.quantize_linear_float(x, scales, None, to=name, scale_type="float8_e8m0fnu", **layout)
    assert np.array_equal(got[keep], e8m0[keep])
    every = np.resize(np.arange(1 << float_format(name).total_bits, dtype=np.uint8), (16, 64))
    expected, nan = dequantize_linear_float(every, scales, dtype=name, scale_type="float8_e8m0fnu",
                                            profile="onnx-reference", **layout)
    got = onnx_reference.dequantize_linear_float(every, scales, dtype=name, scale_type="float8_e8m0fnu", **layout)
    same = got.view(np.uint32) == expected.view(np.uint32)
    assert (same | (nan if nan is not None else False)).all()


@pytest.mark.parametrize("scale", [3.0, 0.75, 2.0 ** -128, 2.0 ** -149, 1e38])
def test_a_scale_e8m0_does_not_hold_is_an_error(scale):
    """AFF-6.5: refq does not round a scale into E8M0; not a power of two, or below 2^-127, is an error."""
    x = np.ones(4, np.float32)
    with pytest.raises(refq.RefqError, match="^scale: .*E8M0"):
        refq.quantize_to_float(x, np.float32(scale), scale_type="float8_e8m0fnu")
    with pytest.raises(refq.RefqError, match="^scale: .*E8M0"):
        refq.dequantize_from_float(np.zeros(4, np.uint8), np.float32(scale), scale_type="float8_e8m0fnu")
    with pytest.raises(refq.RefqError, match="^scale_type: "):
        refq.quantize_to_float(x, np.float32(2), scale_type="e8m0")


def test_onnxruntime_has_no_e8m0_scale_kernel(onnxruntime):
    """ONNX Runtime 1.32's CPU provider: a FLOAT8E8M0 scale makes the session fail (NOT_IMPLEMENTED), so the
    backend declines it; the failure itself is checked on a raw session."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    with pytest.raises(NotImplementedError, match="float8_e8m0fnu scale"):
        onnxruntime.quantize_linear_float(np.ones(4, np.float32), np.float32(1), scale_type="float8_e8m0fnu")
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], output_dtype=TensorProto.FLOAT8E4M3FN)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None),
                                            helper.make_tensor_value_info("s", TensorProto.FLOAT8E8M0, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT8E4M3FN, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)], ir_version=11)
    with pytest.raises(Exception, match="NOT_IMPLEMENTED"):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_refq_onnx_backend_takes_an_e8m0_scale(onnx_reference):
    """refq as an ONNX backend runs QuantizeLinear and DequantizeLinear with a FLOAT8E8M0 scale (MXFP8's layout)
    as AFF-6.5 says, equal to the onnx-reference backend."""
    import ml_dtypes
    from onnx import TensorProto, helper

    from refq.backends.onnx_graph import run_node

    x = mixed_values(4 * 64, seed=67).reshape(4, 64)
    x = np.where(np.isnan(x), np.float32(0), x)
    scales = e8m0_block_scales(4)
    e8m0 = scales.astype(ml_dtypes.float8_e8m0fnu)
    quantize = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], axis=1, block_size=32,
                                output_dtype=TensorProto.FLOAT8E4M3FN)
    (y,) = run_node(quantize, [x, e8m0], profile="onnx-reference")
    expected = onnx_reference.quantize_linear_float(x, scales, None, to="float8_e4m3fn", axis=1, block_size=32,
                                                    scale_type="float8_e8m0fnu")
    assert np.array_equal(np.asarray(y).view(np.uint8), expected)
    dequantize = helper.make_node("DequantizeLinear", ["q", "s"], ["z"], axis=1, block_size=32,
                                  output_dtype=TensorProto.FLOAT)
    (z,) = run_node(dequantize, [y, e8m0], profile="onnx-reference")
    back = onnx_reference.dequantize_linear_float(expected, scales, dtype="float8_e4m3fn", axis=1, block_size=32,
                                                  scale_type="float8_e8m0fnu")
    assert np.array_equal(z.view(np.uint32), back.view(np.uint32))
