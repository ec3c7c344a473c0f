"""LiteRT (ai-edge-litert) against refq's tflite profile: single-operator models run by the reference kernels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert.interpreter")

from refq.affine import dequantize, quantize  # noqa: E402
from refq.conformance.harness import case_paths, run_cases  # noqa: E402
from refq.conformance.runner import load_backend  # noqa: E402
from refq.integer_ops.profiles import qlinear_matmul_outcomes  # noqa: E402
from refq.integer_ops.qlinear import qlinear_matmul  # noqa: E402

TFLITE_OPS = ("quantize_linear", "dequantize_linear")


@pytest.fixture(scope="module")
def tflite():
    with load_backend("tflite") as backend:
        yield backend


def test_tflite_conforms_on_every_level1_case_it_supports(tflite):
    results = run_cases(tflite, case_paths(ops=TFLITE_OPS))
    assert {result.status for result in results} <= {"pass", "unsupported"}, [
        (r.id, r.status, r.detail) for r in results if r.status not in ("pass", "unsupported")]
    compared = {op: sum(r.total for r in results if r.op == op and r.status == "pass")
                for op in ("quantize_linear", "dequantize_linear")}
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
    """Measured, not yet a refq rule (the tflite profile names the fixed-point multiplier): see findings.md."""
    rng = np.random.default_rng(16 + per_channel)
    compared = differ_from_ties_to_even = 0
    for _ in range(12):
        operands = _tie_operands(rng, int(rng.integers(1, 24)), per_channel)
        got = tflite.method("qlinear_matmul")(*operands)
        np.testing.assert_array_equal(got, _reference_fully_connected(*operands))
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
               np.uint8(0))
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
