"""Chapter ELT, window pooling (ELT-6): MaxPool on int8 / uint8 and com.microsoft
QLinearAveragePool, bit-exact against ONNX Runtime's CPU kernels on random windows
(1 to 3 spatial axes, strides, pads, auto_pad, dilations, ceil_mode, count_include_pad,
channels_last); the integer averages of TensorFlow Lite and TOSA against an exact oracle;
and concatenation (ELT-7, com.microsoft QLinearConcat)."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.elementwise import (max_pool, pooled_size, qlinear_average_pool, qlinear_concat, qlinear_global_average_pool,
                              requantize_codes)
from refq.elementwise.windows import automatic_pads, reciprocal_scale, rounded_integer_quotient
from refq.errors import RefqError, RefqTypeError, RefqValueError
from refq.requantize.fixed_point import apply_scale_32
from tests.oracle import average_pool as oracle

DTYPES = (np.int8, np.uint8)


@pytest.fixture(scope="module")
def ort():
    onnxruntime = pytest.importorskip("onnxruntime")
    onnxruntime.set_default_logger_severity(3)
    from refq.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend()


def random_window(rng, dtype, max_size=12, dilated=True):
    """A random int8/uint8 input and window attributes, some windows longer than the padded input."""
    info = np.iinfo(dtype)
    rank = int(rng.integers(1, 4))
    spatial = tuple(int(rng.integers(1, max_size + 1)) for _ in range(rank))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + spatial
    x = rng.integers(info.min, info.max + 1, shape).astype(dtype)
    kernel = [int(rng.integers(1, min(size, 5) + 1)) for size in spatial]
    attributes = {
        "kernel_shape": kernel,
        "strides": [int(rng.integers(1, 4)) for _ in spatial],
        "pads": [int(rng.integers(0, k)) for k in kernel] + [int(rng.integers(0, k)) for k in kernel],
        "ceil_mode": int(rng.integers(0, 2)),
    }
    if dilated:
        attributes["dilations"] = [int(rng.integers(1, 3)) for _ in spatial]
    return x, attributes


AUTO_PADS = ("SAME_UPPER", "SAME_LOWER", "VALID")


def random_auto_window(rng, dtype, dilated=True):
    """A random input and window attributes with ``auto_pad``; strides up to 4, so kernels shorter
    than the stride give negative SAME padding."""
    x, attributes = random_window(rng, dtype, dilated=dilated)
    del attributes["pads"]
    attributes["strides"] = [int(rng.integers(1, 5)) for _ in attributes["strides"]]
    attributes["auto_pad"] = AUTO_PADS[int(rng.integers(0, 3))]
    return x, attributes


def outcome(function, *args, **kwargs):
    """The result, or the marker "error" for a rejected call (refq and ONNX Runtime must agree)."""
    try:
        return function(*args, **kwargs)
    except (RefqError, Exception):  # ONNX Runtime raises its own exception types
        return "error"


def assert_same(got, expected):
    if isinstance(expected, str) or isinstance(got, str):
        assert isinstance(expected, str) and isinstance(got, str), (got, expected)
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool(ort, dtype):
    rng = np.random.default_rng(61)
    checked = 0
    for _ in range(300):
        x, attributes = random_window(rng, dtype)
        expected = outcome(ort.max_pool, x, **attributes)
        got = outcome(max_pool, x, **attributes)
        assert_same(got, expected)
        checked += 0 if isinstance(got, str) else got.size
    return checked


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_average_pool(ort, dtype):
    assert check_average_pools_against_ort(ort, np.random.default_rng(62), dtype, random_window) > 5000


def random_scales(rng, dtype):
    info = np.iinfo(dtype)
    x_scale = np.float32(np.exp2(rng.uniform(-8, 0)) * rng.uniform(1.0, 2.0))
    # Output scales from 1/64 to 16 times the input scale: rounding ties, rescaling and saturation.
    y_scale = np.float32(x_scale * np.float32(np.exp2(rng.uniform(-6, 4))))
    x_zero = dtype(rng.integers(info.min, info.max + 1))
    y_zero = dtype(info.min if rng.random() < 0.1 else rng.integers(info.min, info.max + 1))
    return x_scale, x_zero, y_scale, y_zero


def check_average_pools_against_ort(ort, rng, dtype, window) -> int:
    """300 random windows from ``window(rng, dtype, dilated=False)`` with random scales,
    count_include_pad and layout: refq equals ONNX Runtime; returns the elements compared."""
    checked = 0
    for _ in range(300):
        x, attributes = window(rng, dtype, dilated=False)
        x_scale, x_zero, y_scale, y_zero = random_scales(rng, dtype)
        attributes["count_include_pad"] = int(rng.integers(0, 2))
        attributes["channels_last"] = int(rng.integers(0, 2))
        if attributes["channels_last"]:
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        expected = outcome(ort.qlinear_average_pool, x, x_scale, x_zero, y_scale, y_zero, **attributes)
        got = outcome(qlinear_average_pool, x, x_scale, x_zero, y_scale, y_zero, **attributes)
        assert_same(got, expected)
        checked += 0 if isinstance(got, str) else got.size
    return checked


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_average_pool(ort, dtype):
    assert check_average_pools_against_ort(ort, np.random.default_rng(62), dtype, random_window) > 5000


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_average_pool_whole_input(ort, dtype):
    """ELT-6.4: a kernel covering the whole input without pads is the global average (ELT-4.2),
    whose integer rule differs from the float32 window rule (ELT-6.5) on some inputs."""
    rng = np.random.default_rng(63)
    for _ in range(60):
        spatial = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, (2, 3) + spatial).astype(dtype)
        x_scale, x_zero, y_scale, y_zero = random_scales(rng, dtype)
        for count_include_pad in (0, 1):
            attributes = {"kernel_shape": list(spatial), "count_include_pad": count_include_pad}
            expected = ort.qlinear_average_pool(x, x_scale, x_zero, y_scale, y_zero, **attributes)
            got = qlinear_average_pool(x, x_scale, x_zero, y_scale, y_zero, **attributes)
            assert_same(got, expected)
            assert_same(got, qlinear_global_average_pool(x, x_scale, x_zero, y_scale, y_zero))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_auto_pad(ort, dtype):
    """ELT-6.7: SAME_UPPER, SAME_LOWER and VALID with dilations and ceil_mode."""
    rng = np.random.default_rng(65)
    checked = 0
    for _ in range(300):
        x, attributes = random_auto_window(rng, dtype)
        expected = outcome(ort.max_pool, x, **attributes)
        got = outcome(max_pool, x, **attributes)
        assert_same(got, expected)
        checked += 0 if isinstance(got, str) else got.size
    assert checked > 3000


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_average_pool_auto_pad(ort, dtype):
    assert check_average_pools_against_ort(ort, np.random.default_rng(66), dtype, random_auto_window) > 3000


def test_automatic_pads():
    # 7 positions, kernel 3, stride 2: 4 outputs need 2 pads, split evenly; 8 positions need 1,
    # at the end (UPPER) or the start (LOWER). A kernel of 1 with stride 4 on 7 positions needs
    # -2: ONNX Runtime moves the windows right (UPPER) or shortens the end (LOWER).
    assert automatic_pads(7, 3, 2, "SAME_UPPER") == (1, 1)
    assert automatic_pads(8, 3, 2, "SAME_UPPER") == (0, 1)
    assert automatic_pads(8, 3, 2, "SAME_LOWER") == (1, 0)
    assert automatic_pads(7, 1, 4, "SAME_UPPER") == (-1, -1)
    assert automatic_pads(7, 1, 4, "SAME_LOWER") == (0, -2)
    assert automatic_pads(7, 3, 2, "VALID") == (0, 0)
    for size in range(1, 20):
        for kernel in range(1, 6):
            for stride in range(1, 6):
                for auto_pad in AUTO_PADS:
                    assert automatic_pads(size, kernel, stride, auto_pad) == \
                        oracle.automatic_pads(size, kernel, stride, auto_pad)


def integer_rule_case(rng, dtype, rule):
    """A random window (explicit or automatic pads) and a scale and zero points the rule accepts."""
    x, attributes = (random_auto_window if rng.random() < 0.5 else random_window)(rng, dtype, dilated=False)
    info = np.iinfo(dtype)
    x_zero = int(rng.integers(info.min, info.max + 1))
    y_zero = x_zero if rule == "rounded_integer_division" else int(rng.integers(info.min, info.max + 1))
    return x, attributes, np.float32(0.05), x_zero, y_zero


def oracle_average_pool(x, attributes, x_zero, y_zero, dtype, rule):
    spatial = x.shape[2:]
    rank = len(spatial)
    kernel, strides = attributes["kernel_shape"], attributes.get("strides", [1] * rank)
    if "auto_pad" in attributes:
        pads = [oracle.automatic_pads(n, k, s, attributes["auto_pad"]) for n, k, s in zip(spatial, kernel, strides)]
        begin, end = [p[0] for p in pads], [p[1] for p in pads]
    else:
        begin, end = attributes["pads"][:rank], attributes["pads"][rank:]
    info = np.iinfo(dtype)
    # TensorFlow Lite divides the raw codes; TOSA subtracts the input zero point and adds the output's.
    offsets = (0, 0) if rule == "rounded_integer_division" else (x_zero, y_zero)
    return oracle.integer_average_pool(x.tolist(), *offsets, int(info.min), int(info.max), kernel, strides, begin,
                                       end, attributes["ceil_mode"], rule)


@pytest.mark.parametrize("dtype, rule", [(np.int8, "rounded_integer_division"), (np.uint8, "rounded_integer_division"),
                                         (np.int8, "tosa_reciprocal")])
def test_qlinear_average_pool_integer_rules(dtype, rule):
    """ELT-6.9, ELT-6.10 against the oracle: random windows, explicit or automatic pads, ceil_mode."""
    rng = np.random.default_rng(67)
    checked = 0
    for _ in range(150):
        x, attributes, scale, x_zero, y_zero = integer_rule_case(rng, dtype, rule)
        got = outcome(qlinear_average_pool, x, scale, dtype(x_zero), scale, dtype(y_zero), average_division=rule,
                      **attributes)
        if isinstance(got, str):
            continue
        assert got.tolist() == oracle_average_pool(x, attributes, x_zero, y_zero, dtype, rule)
        checked += got.size
    assert checked > 2000


def test_integer_rules_differ_from_float32():
    """The three rules part on ties: the float32 average rounds half to even, TensorFlow Lite half
    away from zero on the codes, TOSA half away from zero on q - z_x."""
    x = np.int8([[[2, 3, -3, -2]]])
    scale = np.float32(0.5)
    ort_rule = qlinear_average_pool(x, scale, np.int8(0), scale, np.int8(0), kernel_shape=[2], strides=[2])
    tflite_rule = qlinear_average_pool(x, scale, np.int8(0), scale, np.int8(0), kernel_shape=[2], strides=[2],
                                       average_division="rounded_integer_division")
    assert ort_rule.tolist() == [[[2, -2]]] and tflite_rule.tolist() == [[[3, -3]]]
    # A zero point of 1 moves TOSA's tie (2 + 3 - 2) / 2 = 1.5 -> 2, + 1 = 3; TensorFlow Lite rounds
    # (2 + 3) / 2 = 2.5 -> 3 on the codes; (-3 - 2 - 2) / 2 = -3.5 -> -4, + 1 = -3 vs -2.5 -> -3.
    tosa_rule = qlinear_average_pool(x, scale, np.int8(1), scale, np.int8(1), kernel_shape=[2], strides=[2],
                                     average_division="tosa_reciprocal")
    assert tosa_rule.tolist() == [[[3, -3]]]
    tosa_rule = qlinear_average_pool(np.int8([[[2, 2, -3, -3]]]), scale, np.int8(1), scale, np.int8(1),
                                     kernel_shape=[2], strides=[2], average_division="tosa_reciprocal")
    tflite_rule = qlinear_average_pool(np.int8([[[2, 2, -3, -3]]]), scale, np.int8(1), scale, np.int8(1),
                                       kernel_shape=[2], strides=[2], average_division="rounded_integer_division")
    assert tosa_rule.tolist() == tflite_rule.tolist() == [[[2, -3]]]


def test_rounded_integer_quotient():
    """ELT-6.9: the exact quotient rounded half away from zero, for sums of every sign and size,
    ties included (TensorFlow Lite's uint8 kernel, (a + c / 2) / c, is the same for a >= 0)."""
    rng = np.random.default_rng(68)
    pairs = [(int(rng.integers(-2**31 + 2**20, 2**31 - 2**20)), int(rng.integers(1, 2**20))) for _ in range(3000)]
    pairs += [(count * k + count // 2, count) for count in range(1, 200) for k in range(-3, 3)]
    pairs += [(total, count) for count in range(1, 40) for total in range(-255 * count, 255 * count + 1, 7)]
    for total, count in pairs:
        expected = oracle.round_half_away(oracle.Fraction(total, count))
        assert rounded_integer_quotient(total, count) == expected
        if total >= 0:
            assert (total + count // 2) // count == expected


def test_reciprocal_scale():
    """ELT-6.10: refq's (multiplier, shift) equals TOSA's for every count up to 2^16, and the
    multiplier lies in [2^30, 2^31)."""
    for count in range(1, 2**16 + 1):
        multiplier, shift = reciprocal_scale(count)
        assert (multiplier, shift) == oracle.tosa_reciprocal_scale(count)
        assert 2**30 <= multiplier < 2**31


def tosa_matches_rounded_division(counts) -> int:
    """For every count and every window sum of 8-bit q - z_x (|a| <= 255 c), TOSA's reciprocal
    rule equals a / c rounded half away from zero (the oracle's integer form, vectorised)."""
    checked = 0
    for count in counts:
        multiplier, shift = oracle.tosa_reciprocal_scale(count)
        total = np.arange(-255 * count, 255 * count + 1, dtype=np.int64)
        tosa = (total * multiplier + (1 << (shift - 1))) >> shift
        away = np.where(total >= 0, (2 * total + count) // (2 * count), -((count - 2 * total) // (2 * count)))
        assert np.array_equal(tosa, away), count
        checked += total.size
    return checked


def test_tosa_reciprocal_equals_rounded_division():
    assert tosa_matches_rounded_division(range(1, 257)) > 16_000_000


@pytest.mark.slow
def test_tosa_reciprocal_equals_rounded_division_every_count():
    """Every count up to 4096 (a 64 x 64 window): about 4.3 billion sums."""
    assert tosa_matches_rounded_division(range(1, 4097)) > 4_000_000_000


def test_tosa_reciprocal_large_sums():
    """The reciprocal multiplier is (2^30 + 1) 2^k / c truncated: it errs by less than |a| / (c 2^30)
    toward larger magnitudes, so the two rules agree for |a| < 2^29 and may part above. TOSA
    allows |a| up to 2^(29 + k); a sum of 2^30 + 3 over 3 positions is 357913942.33..., which
    TOSA rounds to 357913943. refq follows TOSA's formula there too."""
    multiplier, shift = reciprocal_scale(3)
    total = 2**30 + 3
    assert oracle.round_half_away(oracle.Fraction(total, 3)) == 357913942
    assert apply_scale_32(total, multiplier, shift, False) == 357913943 == \
        oracle.tosa_apply_scale_single_round(total, *oracle.tosa_reciprocal_scale(3))
    rng = np.random.default_rng(69)
    differences = 0
    for _ in range(20000):
        count = int(rng.integers(2, 4097))
        multiplier, shift = oracle.tosa_reciprocal_scale(count)
        # apply_scale_32 takes an int32 value, within +-2^(shift - 1).
        limit = min(2 ** (shift - 1), 2**31)
        total = int(rng.integers(-limit, limit))
        tosa = apply_scale_32(total, *reciprocal_scale(count), False)
        assert tosa == oracle.tosa_apply_scale_single_round(total, multiplier, shift)
        if tosa != oracle.round_half_away(oracle.Fraction(total, count)):
            differences += 1
            assert abs(total) >= 2**29
    assert differences > 0


def litert_average_pool_model(schema, shape, dtype, scale, zero_point, kernel, strides, padding) -> bytes:
    """A one-operator TFLite flatbuffer: int8 / uint8 AVERAGE_POOL_2D on NHWC input, one scale and zero point."""
    import flatbuffers

    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.AVERAGE_POOL_2D
    code.version = 2
    model.operatorCodes, model.buffers = [code], [schema.BufferT() for _ in range(3)]
    if padding == "SAME":
        out = [-(-shape[1 + a] // strides[a]) for a in range(2)]
    else:
        out = [(shape[1 + a] - kernel[a]) // strides[a] + 1 for a in range(2)]
    tensors = []
    for index, tensor_shape in enumerate((shape, (shape[0], *out, shape[3]))):
        tensor = schema.TensorT()
        tensor.shape, tensor.buffer, tensor.name = list(tensor_shape), index + 1, f"t{index}"
        tensor.type = schema.TensorType.INT8 if dtype == np.int8 else schema.TensorType.UINT8
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = [scale], [zero_point]
        tensors.append(tensor)
    options = schema.Pool2DOptionsT()
    options.padding = schema.Padding.SAME if padding == "SAME" else schema.Padding.VALID
    options.filterHeight, options.filterWidth = kernel
    options.strideH, options.strideW = strides
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0], [1]
    operator.builtinOptionsType, operator.builtinOptions = schema.BuiltinOptions.Pool2DOptions, options
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [1], [operator]
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_average_pool_litert():
    """ELT-6.9 against TensorFlow Lite itself, when the optional ``ai-edge-litert`` wheel is installed
    (not a refq dependency): the reference and the default kernels, int8 and uint8, SAME and VALID.
    TFLite's SAME padding is INT-3.1's, so kernels shorter than the stride get explicit pads."""
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from refq.integer_ops.conv import same_pads

    rng = np.random.default_rng(70)
    checked = 0
    for resolver in (OpResolverType.BUILTIN_REF, OpResolverType.BUILTIN):
        for _ in range(100):
            dtype = DTYPES[int(rng.integers(0, 2))]
            info = np.iinfo(dtype)
            shape = (1, int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 4)))
            kernel = [int(rng.integers(1, min(shape[1 + a], 5) + 1)) for a in range(2)]
            strides = [int(rng.integers(1, 4)) for _ in range(2)]
            padding = ("SAME", "VALID")[int(rng.integers(0, 2))]
            zero_point, scale = int(rng.integers(info.min, info.max + 1)), np.float32(0.05)
            x = rng.integers(info.min, info.max + 1, shape).astype(dtype)
            interpreter = Interpreter(model_content=litert_average_pool_model(
                schema, shape, dtype, float(scale), zero_point, kernel, strides, padding),
                experimental_op_resolver_type=resolver)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
            interpreter.invoke()
            expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
            if padding == "VALID":
                geometry = {"auto_pad": "VALID"}
            else:
                (top, bottom), (left, right) = (same_pads(shape[1 + a], strides[a], kernel[a], True) for a in range(2))
                geometry = {"pads": [top, left, bottom, right]}
            got = qlinear_average_pool(x, scale, dtype(zero_point), scale, dtype(zero_point), channels_last=1,
                                       kernel_shape=kernel, strides=strides, average_division="rounded_integer_division",
                                       **geometry)
            assert_same(got, expected)
            checked += got.size
    assert checked > 2000


def test_pooled_size():
    # ELT-6.1 by hand: 7 positions, kernel 3, stride 2: 3 windows; ceil mode with pad 1 at the
    # end adds a fourth; a last window that would start in the end padding is dropped.
    assert pooled_size(7, 3, 2, 0, 0, 1, 0) == 3
    assert pooled_size(8, 3, 2, 0, 1, 1, 1) == 4
    assert pooled_size(5, 2, 2, 0, 1, 1, 1) == 3
    assert pooled_size(4, 2, 3, 0, 1, 1, 1) == 2
    assert pooled_size(3, 3, 2, 0, 1, 2, 0) == 1  # m = -1: C's truncating division gives 0
    with pytest.raises(RefqValueError):
        pooled_size(2, 3, 1, 0, 0, 2, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_windows_jit_equals_pure_python(dtype):
    rng = np.random.default_rng(64)
    for _ in range(20):
        x, attributes = random_window(rng, dtype, max_size=6)
        scales = random_scales(rng, dtype)
        average_attributes = {k: v for k, v in attributes.items() if k != "dilations"}
        average_attributes["count_include_pad"] = int(rng.integers(0, 2))
        integer_attributes = dict(average_attributes, count_include_pad=0)
        tosa_input = (x.astype(np.int16) - 128).astype(np.int8) if dtype == np.uint8 else x
        tosa_zero_points = np.int8(rng.integers(-128, 128)), np.int8(rng.integers(-128, 128))
        auto_x, auto_attributes = random_auto_window(rng, dtype)

        def run():
            return (outcome(max_pool, x, **attributes),
                    outcome(qlinear_average_pool, x, *scales, **average_attributes),
                    outcome(qlinear_average_pool, x, scales[0], scales[1], scales[0], scales[1],
                            average_division="rounded_integer_division", **integer_attributes),
                    outcome(qlinear_average_pool, tosa_input, scales[0], tosa_zero_points[0], scales[0],
                            tosa_zero_points[1], average_division="tosa_reciprocal", **integer_attributes),
                    outcome(max_pool, auto_x, **auto_attributes))
        compiled = run()
        with pure_python():
            interpreted = run()
        for got, expected in zip(interpreted, compiled):
            assert_same(got, expected)


@pytest.mark.parametrize("call, error", [
    (lambda: max_pool([[[1, 2]]], kernel_shape=[1]), RefqTypeError),
    (lambda: max_pool(np.uint8([[1, 2]]), kernel_shape=[1]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]])), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[1, 1]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], pads=[2, 0]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], strides=[0]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], auto_pad="SAME"), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], auto_pad="VALID", pads=[1, 0]), RefqValueError),
    (lambda: qlinear_average_pool(np.int8([[[1, 2]]]), 0.1, 0, 0.1, 0, kernel_shape=[1], average_division="int"),
     RefqValueError),
    (lambda: qlinear_average_pool(np.int8([[[1, 2]]]), 0.1, 0, 0.1, 0, kernel_shape=[2], pads=[1, 1],
                                  count_include_pad=1, average_division="tosa_reciprocal"), RefqValueError),
    (lambda: qlinear_average_pool(np.int8([[[1, 2]]]), 0.1, 0, 0.2, 0, kernel_shape=[1],
                                  average_division="rounded_integer_division"), RefqValueError),
    (lambda: qlinear_average_pool(np.int8([[[1, 2]]]), 0.1, 0, 0.1, 1, kernel_shape=[1],
                                  average_division="rounded_integer_division"), RefqValueError),
    (lambda: qlinear_average_pool(np.uint8([[[1, 2]]]), 0.1, 0, 0.1, 0, kernel_shape=[1],
                                  average_division="tosa_reciprocal"), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], ceil_mode=2), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], dilations=[3]), RefqValueError),
    (lambda: qlinear_average_pool(np.int16([[[1, 2]]]), 0.1, 0, 0.1, 0, kernel_shape=[1]), RefqValueError),
    (lambda: qlinear_average_pool(np.uint8([[[1, 2]]]), 0.0, 0, 0.1, 0, kernel_shape=[1]), RefqValueError),
    (lambda: qlinear_average_pool(np.uint8([[[1, 2]]]), 0.1, 300, 0.1, 0, kernel_shape=[1]), RefqValueError),
    (lambda: qlinear_average_pool(np.uint8([[[1, 2]]]), 0.1, 0, 0.1, 0, kernel_shape=[1], channels_last=2),
     RefqValueError),
    (lambda: qlinear_average_pool(np.uint8([[[1, 2]]]), 0.1, 0, 0.1, 0, kernel_shape=[1], count_include_pad=True),
     RefqValueError),
])
def test_invalid_arguments(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_concat(ort, dtype):
    """Random shapes and axes, 1 to 3 inputs, a quarter of them already in the output's scale."""
    rng = np.random.default_rng(71)
    info = np.iinfo(dtype)
    checked = 0
    for _ in range(150):
        rank = int(rng.integers(1, 4))
        base = [int(rng.integers(1, 5)) for _ in range(rank)]
        axis = int(rng.integers(-rank, rank))
        y_scale = np.float32(np.exp2(rng.uniform(-8, 0)) * rng.uniform(1.0, 2.0))
        y_zero = dtype(rng.integers(info.min, info.max + 1))
        inputs = []
        for _ in range(int(rng.integers(1, 4))):
            shape = list(base)
            shape[axis] = int(rng.integers(1, 5))
            x = rng.integers(info.min, info.max + 1, shape).astype(dtype)
            if rng.random() < 0.25:
                inputs.append((x, y_scale, y_zero))
            else:
                inputs.append((x, np.float32(y_scale * np.float32(np.exp2(rng.uniform(-4, 4)))),
                               dtype(rng.integers(info.min, info.max + 1))))
        expected = ort.qlinear_concat(y_scale, y_zero, inputs, axis=axis)
        got = qlinear_concat(y_scale, y_zero, inputs, axis=axis)
        assert_same(got, expected)
        checked += got.size
    assert checked > 1000


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_concat_every_code(ort, dtype):
    """ELT-7.1 on all 256 codes for 100 random scale and zero-point pairs (ties and saturation included)."""
    rng = np.random.default_rng(72)
    info = np.iinfo(dtype)
    codes = np.arange(info.min, info.max + 1).astype(dtype)
    for _ in range(100):
        y_scale = np.float32(np.exp2(rng.uniform(-8, 0)) * rng.uniform(1.0, 2.0))
        ratio = np.float32(np.exp2(float(rng.integers(-3, 4))) * rng.choice([1.0, 1.5, 0.75]))
        x_scale = np.float32(y_scale * ratio)
        x_zero, y_zero = dtype(rng.integers(info.min, info.max + 1)), dtype(rng.integers(info.min, info.max + 1))
        expected = ort.qlinear_concat(y_scale, y_zero, [(codes, x_scale, x_zero)], axis=0)
        assert_same(requantize_codes(codes, x_scale, x_zero, y_scale, y_zero), expected)


@pytest.mark.parametrize("call, error", [
    (lambda: qlinear_concat(0.1, np.uint8(0), [], axis=0), RefqValueError),
    (lambda: qlinear_concat(0.1, 0, [(np.uint8([1]), 0.1, np.uint8(0))], axis=0), RefqValueError),
    (lambda: qlinear_concat(0.1, np.uint8(0), [(np.int8([1]), 0.1, np.int8(0))], axis=0), RefqValueError),
    (lambda: qlinear_concat(0.1, np.uint8(0), [(np.uint8([1]), 0.1)], axis=0), RefqTypeError),
    (lambda: qlinear_concat(0.1, np.uint8(0), [(np.uint8([1]), 0.1, np.uint8(0))], axis=1), RefqValueError),
    (lambda: qlinear_concat(0.1, np.uint8(0), [(np.uint8([[1]]), 0.1, np.uint8(0)),
                                               (np.uint8([[1, 2]]), 0.1, np.uint8(0))], axis=0), RefqValueError),
    (lambda: qlinear_concat(0.0, np.uint8(0), [(np.uint8([1]), 0.1, np.uint8(0))], axis=0), RefqValueError),
    (lambda: qlinear_concat(0.1, np.uint8(0), np.uint8([1]), axis=0), RefqTypeError),
])
def test_qlinear_concat_invalid_arguments(call, error):
    with pytest.raises(error):
        call()
