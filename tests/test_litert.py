"""LiteRT (ai-edge-litert) against refq's tflite profile: single-operator models run by the reference kernels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert.interpreter")

from refq.affine import dequantize, quantize  # noqa: E402
from refq.conformance.harness import case_paths, run_cases  # noqa: E402
from refq.conformance.runner import load_backend  # noqa: E402
from refq.integer_ops.profiles import qlinear_conv_outcomes, qlinear_matmul_outcomes  # noqa: E402
from refq.integer_ops.qlinear import qlinear_matmul  # noqa: E402
from tests.oracle import requantize as requantize_oracle  # noqa: E402

TFLITE_OPS = ("quantize_linear", "dequantize_linear", "qlinear_matmul", "qlinear_conv")


@pytest.fixture(scope="module")
def tflite():
    with load_backend("tflite") as backend:
        yield backend


def test_tflite_conforms_on_every_level1_case_it_supports(tflite):
    results = run_cases(tflite, case_paths(ops=TFLITE_OPS))
    assert {result.status for result in results} <= {"pass", "unsupported"}, [
        (r.id, r.status, r.detail) for r in results if r.status not in ("pass", "unsupported")]
    compared = {op: sum(r.total for r in results if r.op == op and r.status == "pass") for op in TFLITE_OPS}
    assert all(compared.values()), compared


def _reference_fully_connected(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero) -> np.ndarray:
    """The measured rule, independently of refq: round(double(acc) * (double(s_x) * s_w / s_y)) half away from
    zero (std::round), + z_y, clamped to int8."""
    accumulator = (a.astype(np.int64) - int(a_zero)) @ b.astype(np.int64)
    multiplier = float(a_scale) * np.asarray(b_scale, np.float64) / float(y_scale)
    scaled = accumulator * multiplier
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + int(y_zero), -128, 127).astype(np.int8)


def _tie_operands(rng, columns: int, per_channel: bool):
    """int8 FULLY_CONNECTED operands whose scales are powers of two: the multiplier is one, and many
    accumulators scale to a tie."""
    depth = int(rng.integers(1, 48))
    a = rng.integers(-128, 128, (32, depth)).astype(np.int8)
    b = rng.integers(-128, 128, (depth, columns)).astype(np.int8)
    powers = rng.integers(-9, -2, columns if per_channel else ())
    b_scale = np.ldexp(np.float32(1), powers).astype(np.float32)
    return (a, np.float32(2.0 ** -4), np.int8(rng.integers(-128, 128)), b, b_scale, np.zeros(b_scale.size, np.int8),
            np.float32(2.0 ** -9), np.int8(rng.integers(-128, 128)))


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_fully_connected_is_the_float64_multiplier_rounded_half_away(tflite, per_channel):
    """The tflite profile's qlinear_matmul (REQ-1.5 half_away_from_zero on the float64 quotient) is the engine's
    and the independent rule's on a tie grid."""
    rng = np.random.default_rng(16 + per_channel)
    compared = differ_from_ties_to_even = 0
    for _ in range(12):
        operands = _tie_operands(rng, int(rng.integers(1, 24)), per_channel)
        got = tflite.method("qlinear_matmul")(*operands)
        np.testing.assert_array_equal(got, _reference_fully_connected(*operands))
        expected, unpredictable = qlinear_matmul_outcomes(*operands, profile="tflite")
        assert unpredictable is None
        np.testing.assert_array_equal(got, expected)
        compared += got.size
        differ_from_ties_to_even += int((qlinear_matmul(*operands, precision="float64", multiplier_order=
                                                        "float64_quotient") != got).sum())
    assert compared > 2000
    assert differ_from_ties_to_even  # the grid's ties separate half away from half to even


def test_the_issues_tie_gives_2_where_the_fixed_point_multiplier_gives_3(tflite):
    from refq.requantize.fixed_point import fixed_point_multiplier, requantize_fixed_point

    a_scale, b_scale, y_scale = np.float32(0.0001080121), np.float32(1.0000023), np.float32(1)
    multiplier = float(a_scale) * float(b_scale) / float(y_scale)
    assert fixed_point_multiplier(multiplier, shift_limits="tflite") == (1900173264, 44)
    a = np.array([[127] * 182 + [31]], np.int8)  # accumulator 23145
    b = np.ones((183, 1), np.int8)
    operands = (a, a_scale, np.int8(0), b, b_scale, np.int8(0), y_scale, np.int8(0))
    assert tflite.method("qlinear_matmul")(*operands).tolist() == [[2]]
    assert _reference_fully_connected(*operands).tolist() == [[2]]
    assert qlinear_matmul_outcomes(*operands, profile="tflite")[0].tolist() == [[2]]
    assert int(requantize_fixed_point(np.array([23145], np.int32), 1900173264, 44)[0]) == 3


def test_quantize_and_dequantize_ties_and_edges(tflite):
    halves = (np.arange(-300, 300, dtype=np.float32) + np.float32(0.5))
    x = np.concatenate([halves, np.nextafter(halves, np.float32(0)), np.float32([0, -0.0, 1e9, -1e9])])
    for dtype, zero_point in (("int8", -3), ("uint8", 130), ("int16", 0)):
        for scale in (np.float32(1), np.float32(0.5), np.float32(0.1)):
            got = tflite.method("quantize_linear")(x, scale, np.array(zero_point).astype(dtype), dtype=dtype)
            np.testing.assert_array_equal(got, quantize(x, scale, zero_point, dtype=dtype, profile="tflite"))
            q = got
            np.testing.assert_array_equal(tflite.method("dequantize_linear")(q, scale, np.array(zero_point).astype(
                dtype), dtype=dtype), dequantize(q, scale, zero_point, dtype=dtype, profile="tflite"))


def test_what_tflite_cannot_express_is_not_implemented(tflite):
    method = tflite.method("qlinear_matmul")
    a = np.zeros((2, 3), np.uint8)
    with pytest.raises(NotImplementedError):
        method(a, np.float32(1), np.uint8(0), np.zeros((3, 2), np.int8), np.float32(1), np.int8(0), np.float32(1),
               np.int8(0))
    with pytest.raises(NotImplementedError):
        method(a.astype(np.int8), np.float32(1), np.int8(0), np.zeros((3, 2), np.int8), np.float32(1), np.int8(1),
               np.float32(1), np.int8(0))
    with pytest.raises(NotImplementedError):
        tflite.method("quantize_linear")(np.zeros(3, np.float32), np.float32(1), np.int16(1), dtype="int16")


@pytest.mark.parametrize("name", ["tflite-optimized", "xnnpack"])
def test_optimized_and_xnnpack_quantize_and_dequantize_are_their_profiles(name):
    from refq.backends import BUILTIN

    backend = BUILTIN[name]()
    rng = np.random.default_rng(5)
    for _ in range(6):
        scale, zero_point = np.float32(rng.uniform(1e-3, 2)), int(rng.integers(-128, 128))
        ties = (rng.integers(-300, 300, 2000) + rng.choice([0, 0.5, -0.5], 2000)) * scale
        x = np.concatenate([ties, rng.uniform(-200, 200, 2000)]).astype(np.float32)
        q = backend.quantize_linear(x, scale, np.int8(zero_point))
        np.testing.assert_array_equal(q, quantize(x, scale, zero_point, dtype="int8", profile=name))
        np.testing.assert_array_equal(backend.dequantize_linear(q, scale, np.int8(zero_point)).view(np.int32),
                                      dequantize(q, scale, zero_point, dtype="int8", profile=name).view(np.int32))


def test_xnnpack_fully_connected_is_onnx_runtimes_rule():
    from refq.backends import BUILTIN

    backend = BUILTIN["xnnpack"]()
    rng = np.random.default_rng(7)
    for per_channel in (False, True):
        for _ in range(6):
            operands = _tie_operands(rng, int(rng.integers(1, 24)), per_channel)
            expected, _ = qlinear_matmul_outcomes(*operands, profile="xnnpack")
            np.testing.assert_array_equal(backend.qlinear_matmul(*operands), expected)


def test_fingerprint_of_quantize_tells_the_three_apart():
    from refq.backends import BUILTIN

    # Eight values: the optimized QUANTIZE vectorises blocks of 8 and quantizes a tail by the reference rule.
    x = np.float32([0.5, 2.5, -0.5, 0, 0, 0, 0, 0])
    codes = {name: tuple(BUILTIN[name]().quantize_linear(x, np.float32(1), np.int8(0)).tolist())
             for name in ("tflite", "tflite-optimized", "xnnpack")}
    dequantized = {name: BUILTIN[name]().dequantize_linear(np.full(8, -124, np.int8), np.float32(0.1), np.int8(3)).view(np.int32)[0]
                   for name in ("tflite", "tflite-optimized", "xnnpack")}
    assert codes["tflite"][:3] == (1, 3, -1) and codes["tflite-optimized"][:3] == codes["xnnpack"][:3] == (0, 2, 0)
    assert dequantized["tflite"] == dequantized["xnnpack"] != dequantized["tflite-optimized"]


@pytest.mark.parametrize("name", ["tflite-optimized", "xnnpack"])
def test_optimized_and_xnnpack_conform_on_every_level1_case_they_support(name):
    with load_backend(name) as backend:
        results = run_cases(backend, case_paths(ops=TFLITE_OPS))
    assert {result.status for result in results} <= {"pass", "unsupported"}, [
        (r.id, r.status, r.detail) for r in results if r.status not in ("pass", "unsupported")]
    assert sum(r.total for r in results if r.status == "pass") > 0


def _fixed_point_oracle(accumulator, a_scale, b_scale, y_scale, y_zero, apply) -> np.ndarray:
    """TensorFlow Lite's QuantizeMultiplier and MultiplyByQuantizedMultiplier from the exact oracle's rational
    roundings (tests/oracle/requantize.py), per output channel along the last axis, clamped to int8."""
    from fractions import Fraction

    scales = np.broadcast_to(np.asarray(b_scale, np.float32), (accumulator.shape[-1],))
    result = np.empty(accumulator.shape, np.int64)
    for channel, scale in enumerate(scales):
        real = Fraction(float(np.float64(a_scale) * np.float64(scale) / np.float64(y_scale)))
        multiplier, shift = requantize_oracle.fixed_point_multiplier(real, 32, "half_away_from_zero", "tflite")
        for index in np.ndindex(accumulator.shape[:-1]):
            value = apply(int(accumulator[(*index, channel)]), multiplier, shift)
            result[(*index, channel)] = min(max(value + int(y_zero), -128), 127)
    return result.astype(np.int8)


def _conv_tie_operands(rng, per_channel: bool, depthwise: bool):
    """int8 CONV_2D / DEPTHWISE_CONV_2D operands with power-of-two scales (many ties), SAME padding."""
    channels = int(rng.integers(1, 5))
    out_channels = channels * int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 5))
    kernel = int(rng.choice([1, 3]))
    x = rng.integers(-128, 128, (1, channels, 6, 5)).astype(np.int8)
    w = rng.integers(-128, 128, (out_channels, 1 if depthwise else channels, kernel, kernel)).astype(np.int8)
    powers = rng.integers(-9, -2, out_channels if per_channel else ())
    w_scale = np.ldexp(np.float32(1), powers).astype(np.float32)
    bias = rng.integers(-3000, 3000, out_channels).astype(np.int32)
    operands = (x, np.float32(2.0 ** -4), np.int8(rng.integers(-128, 128)), w, w_scale,
                np.zeros(w_scale.size, np.int8), np.float32(2.0 ** -9), np.int8(rng.integers(-128, 128)), bias)
    pads = [kernel // 2] * 4 if kernel > 1 else None
    return operands, {"group": channels if depthwise else 1, "pads": pads}


def _conv_oracle(operands, attributes, apply) -> np.ndarray:
    """The convolution's exact int64 sums from tests/oracle/integer_ops.py, requantized by the fixed-point oracle."""
    from tests.oracle import integer_ops as integer_oracle

    x, x_scale, x_zero, w, w_scale, _, y_scale, y_zero, bias = operands
    pads = tuple(attributes["pads"] or (0, 0, 0, 0))
    sums = np.array(integer_oracle.conv2d(x.astype(int).tolist(), w.astype(int).tolist(), int(x_zero),
                                          [0] * w.shape[0], pads=pads, group=attributes["group"],
                                          bias=bias.astype(int).tolist()))
    channels_last = np.moveaxis(sums, 1, -1)
    return np.moveaxis(_fixed_point_oracle(channels_last, x_scale, w_scale, y_scale, y_zero, apply), -1, 1)


ENGINE_RULES = {"tflite": requantize_oracle.apply_double_round,
                "tflite-optimized": requantize_oracle.apply_double_round_ties_up}


@pytest.mark.parametrize("name", ["tflite", "tflite-optimized"])
def test_convolutions_are_the_fixed_point_rule(name):
    """CONV_2D (and, for the reference kernels, DEPTHWISE_CONV_2D) per tensor and per channel on tie grids: the
    engine, the profile's qlinear_conv (REQ-2.7) and the exact oracle agree; the other rounding differs."""
    from refq.backends import BUILTIN

    backend = BUILTIN[name]()
    rng = np.random.default_rng(31)
    compared = differ_from_the_other = 0
    other = ENGINE_RULES["tflite-optimized" if name == "tflite" else "tflite"]
    for depthwise in (False, True) if name == "tflite" else (False,):
        for per_channel in (False, True):
            for _ in range(5 if name == "tflite" else 10):
                operands, attributes = _conv_tie_operands(rng, per_channel, depthwise)
                got = backend.qlinear_conv(*operands, **attributes)
                expected, unpredictable = qlinear_conv_outcomes(*operands, profile=name, **attributes)
                assert unpredictable is None
                np.testing.assert_array_equal(got, expected)
                np.testing.assert_array_equal(got, _conv_oracle(operands, attributes, ENGINE_RULES[name]))
                compared += got.size
                differ_from_the_other += int((_conv_oracle(operands, attributes, other) != got).sum())
    assert compared > 1000
    assert differ_from_the_other  # the grid's ties separate the two fixed-point roundings


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_optimized_fully_connected_is_the_ties_up_shift(per_channel):
    """The optimized FULLY_CONNECTED on a tie grid: the doubling high multiply, then a rounding shift whose ties
    go up (REQ-2.7 double_round_ties_up), against the engine and the exact oracle."""
    from refq.backends import BUILTIN

    backend = BUILTIN["tflite-optimized"]()
    rng = np.random.default_rng(41 + per_channel)
    compared = differ_from_double_round = 0
    for _ in range(8):
        a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = operands = \
            _tie_operands(rng, int(rng.integers(1, 24)), per_channel)
        got = backend.qlinear_matmul(*operands)
        expected, unpredictable = qlinear_matmul_outcomes(*operands, profile="tflite-optimized")
        assert unpredictable is None
        np.testing.assert_array_equal(got, expected)
        accumulator = (a.astype(np.int64) - int(a_zero)) @ b.astype(np.int64)
        np.testing.assert_array_equal(got, _fixed_point_oracle(accumulator, a_scale, b_scale, y_scale, y_zero,
                                                               requantize_oracle.apply_double_round_ties_up))
        compared += got.size
        differ_from_double_round += int((_fixed_point_oracle(accumulator, a_scale, b_scale, y_scale, y_zero,
                                                             requantize_oracle.apply_double_round) != got).sum())
    assert compared > 1000
    assert differ_from_double_round


def test_the_briefs_ties_up_examples():
    """m = 1/4: the accumulator 1 gives 1 and -10 gives -2 under the optimized kernels, 0 and -3 under the
    reference CONV_2D's rule, which rounds 1 the same way."""
    from refq.backends import BUILTIN

    a = np.array([[1], [-10]], np.int8)
    operands = (a, np.float32(1), np.int8(0), np.ones((1, 1), np.int8), np.float32(0.25), np.int8(0),
                np.float32(1), np.int8(0))
    assert BUILTIN["tflite-optimized"]().qlinear_matmul(*operands).ravel().tolist() == [1, -2]
    assert qlinear_matmul_outcomes(*operands, profile="tflite-optimized")[0].ravel().tolist() == [1, -2]
    x, w = a.reshape(1, 1, 2, 1), np.ones((1, 1, 1, 1), np.int8)
    conv = (x, np.float32(1), np.int8(0), w, np.float32(0.25), np.int8(0), np.float32(1), np.int8(0))
    assert BUILTIN["tflite"]().qlinear_conv(*conv).ravel().tolist() == [1, -3]
    assert qlinear_conv_outcomes(*conv, profile="tflite")[0].ravel().tolist() == [1, -3]


@pytest.mark.parametrize(("name", "matmul", "conv"), [
    ("tflite", {"requantize_form": "float_multiplier", "requantize_rounding": "half_away_from_zero",
                "requantize_precision": "float64", "requantize_multiplier_order": "float64_quotient"},
     {"requantize_form": "fixed_point", "fixed_point_rounding": "double_round"}),
    ("tflite-optimized", {"requantize_form": "fixed_point", "fixed_point_rounding": "double_round_ties_up"},
     {"requantize_form": "fixed_point", "fixed_point_rounding": "double_round_ties_up"}),
])
def test_integer_fingerprint_names_the_rules(name, matmul, conv):
    from refq.backends import BUILTIN
    from refq.conformance import fingerprint_integer

    for result in fingerprint_integer.fingerprint_integer(BUILTIN[name]()):
        assert result.status == "ok" and len(result.consistent) == 1, (result.operation, result.detail)
        wanted = matmul if result.operation == "qlinear_matmul" else conv
        assert {key: result.consistent[0][key] for key in wanted} == wanted, result.operation
        assert result.declared_consistent is True


def test_convolution_padding_is_valid_or_same(tflite):
    """ONNX pads map onto TFLite's VALID and SAME (the odd row or column after, SAME_UPPER); other pads are refused."""
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (1, 2, 6, 6)).astype(np.int8)
    w = rng.integers(-128, 128, (3, 2, 3, 3)).astype(np.int8)
    operands = (x, np.float32(0.02), np.int8(3), w, np.float32(0.01), np.int8(0), np.float32(0.3), np.int8(-4))
    method = tflite.method("qlinear_conv")
    for attributes in ({"pads": [1, 1, 1, 1]}, {}, {"pads": [0, 0, 1, 1], "strides": [2, 2]},
                       {"auto_pad": "SAME_UPPER", "strides": [2, 2]}):
        np.testing.assert_array_equal(method(*operands, **attributes),
                                      qlinear_conv_outcomes(*operands, profile="tflite", **attributes)[0])
    for pads in ([2, 2, 2, 2], [1, 0, 1, 0]):
        with pytest.raises(NotImplementedError):
            method(*operands, pads=pads)
