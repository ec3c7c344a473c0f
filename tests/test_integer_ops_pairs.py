"""INT-2.6, INT-3.6, INT-5.4: uint8 x int8 products in int16-saturating pairs (``u8s8_products``).

refq against the Python-integer oracle of the kernels' own route, on both code paths; then
each engine against refq under the value its CPU selects (refq.backends.cpu), element for
element, with a check that the cases reach the variant."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.backends import cpu
from refq.errors import RefqValueError
from refq.integer_ops import conv_integer, matmul_integer, qlinear_conv, qlinear_matmul
from refq.integer_ops.profiles import integer_profile, product_outcomes
from tests.oracle import int16_pairs as oracle

ORDERS = ("input_channels_last", "weights_channels_first")


def extreme_codes(rng, shape, signed: bool) -> np.ndarray:
    """Codes near both ends of the range, so that adjacent pairs pass int16."""
    choices = [-128, 127, -100, 90, 0] if signed else [0, 255, 200, 30]
    return rng.choice(choices, shape).astype(np.int8 if signed else np.uint8)


def test_worked_example():
    """INT-2.6's example: 255 * 127 + 255 * 127 = 64770 saturates to 32767."""
    a, b = np.array([[255, 255]], np.uint8), np.array([[127], [127]], np.int8)
    assert matmul_integer(a, b)[0, 0] == 64770
    assert matmul_integer(a, b, u8s8_products="int16_pairs")[0, 0] == 32767
    # Another pairing of types is summed exactly under either value.
    assert matmul_integer(a.view(np.int8), b, u8s8_products="int16_pairs")[0, 0] == -2 * 127


@pytest.mark.parametrize("path", ["jit", "python"])
def test_matmul_against_the_oracle(path):
    rng = np.random.default_rng(11)
    differ = 0
    for trial in range(40):
        m, k, n = (int(v) for v in rng.integers(1, 12, 3))
        k += trial % 5 * 7
        a, b = extreme_codes(rng, (m, k), False), extreme_codes(rng, (k, n), True)
        a_zero_point, b_zero_point = np.uint8(rng.integers(0, 256)), rng.integers(-128, 128, n).astype(np.int8)
        if path == "python":
            with pure_python():
                ours = matmul_integer(a, b, a_zero_point, b_zero_point, u8s8_products="int16_pairs")
        else:
            ours = matmul_integer(a, b, a_zero_point, b_zero_point, u8s8_products="int16_pairs")
        expected = oracle.matmul(a.tolist(), b.tolist(), int(a_zero_point), b_zero_point.tolist())
        assert ours.tolist() == expected
        differ += not np.array_equal(ours, matmul_integer(a, b, a_zero_point, b_zero_point))
    assert differ > 20


def test_batched_matmul_pairs_per_matrix():
    rng = np.random.default_rng(3)
    a, b = extreme_codes(rng, (2, 3, 5, 9), False), extreme_codes(rng, (3, 9, 4), True)
    ours = matmul_integer(a, b, u8s8_products="int16_pairs")
    for i in range(2):
        for j in range(3):
            assert ours[i, j].tolist() == oracle.matmul(a[i, j].tolist(), b[j].tolist(), 0, [0] * 4)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("path", ["jit", "python"])
def test_conv_against_the_oracle(order, path):
    rng = np.random.default_rng(12)
    differ = 0
    for trial in range(24):
        group = (1, 2, "depthwise")[trial % 3]
        channels = int(rng.integers(1, 4)) * (2 if group == 2 else 1)
        group = channels if group == "depthwise" else group
        out_channels = channels if trial % 3 == 2 else int(rng.integers(1, 3)) * group
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        size = (int(rng.integers(kernel[0], 7)), int(rng.integers(kernel[1], 7)))
        pads = tuple(int(v) for v in rng.integers(0, 2, 4))
        strides = (1, int(rng.integers(1, 3)))
        input_unsigned = order == "input_channels_last"
        x = extreme_codes(rng, (2, channels, *size), signed=not input_unsigned)
        w = extreme_codes(rng, (out_channels, channels // group, *kernel), signed=input_unsigned)
        x_zero_point = x.dtype.type(rng.integers(0, 256) if input_unsigned else rng.integers(-128, 128))
        w_zero_point = w.dtype.type(0 if input_unsigned else rng.integers(0, 256))
        attributes = dict(pads=list(pads), strides=list(strides), group=group)
        arguments = (x, w, x_zero_point, w_zero_point)
        if path == "python":
            with pure_python():
                ours = conv_integer(*arguments, **attributes, u8s8_products="int16_pairs", u8s8_conv_pairs=order)
        else:
            ours = conv_integer(*arguments, **attributes, u8s8_products="int16_pairs", u8s8_conv_pairs=order)
        expected = oracle.conv2d(x.tolist(), w.tolist(), int(x_zero_point), [int(w_zero_point)] * out_channels,
                                 pads=pads, strides=strides, group=group, channels_last=input_unsigned)
        assert ours.tolist() == expected, trial
        differ += not np.array_equal(ours, conv_integer(*arguments, **attributes))
    assert differ > 8


def test_conv_types_the_order_does_not_pair_are_exact():
    rng = np.random.default_rng(5)
    x, w = extreme_codes(rng, (1, 3, 5, 5), False), extreme_codes(rng, (2, 3, 3, 3), True)
    exact = conv_integer(x, w, np.uint8(9))
    assert np.array_equal(conv_integer(x, w, np.uint8(9), u8s8_products="int16_pairs",
                                       u8s8_conv_pairs="weights_channels_first"), exact)
    assert not np.array_equal(conv_integer(x, w, np.uint8(9), u8s8_products="int16_pairs"), exact)


def test_bad_variant_values_name_the_argument():
    a, b = np.zeros((1, 2), np.uint8), np.zeros((2, 1), np.int8)
    with pytest.raises(RefqValueError, match="u8s8_products"):
        matmul_integer(a, b, u8s8_products="saturating")
    with pytest.raises(RefqValueError, match="u8s8_conv_pairs"):
        conv_integer(np.zeros((1, 1, 2, 2), np.uint8), np.zeros((1, 1, 1, 1), np.int8), u8s8_products="int16_pairs",
                     u8s8_conv_pairs="nhwc")


def test_profiles_that_leave_the_value_to_the_cpu_mark_the_differences():
    """INT-5.4: under onnxruntime and pytorch the elements where exact and int16_pairs differ are unpredictable;
    under onnx-reference the result is exact and nothing is marked."""
    rng = np.random.default_rng(8)
    a, b = extreme_codes(rng, (6, 40), False), extreme_codes(rng, (40, 5), True)
    exact, pairs = matmul_integer(a, b), matmul_integer(a, b, u8s8_products="int16_pairs")
    assert (exact != pairs).any()
    for name in ("onnxruntime", "pytorch"):
        rules = integer_profile(name, "matmul_integer")
        assert rules.u8s8_products == "unpredictable"
    output, mask = product_outcomes(lambda products: (matmul_integer(a, b, u8s8_products=products), None),
                                    integer_profile("onnxruntime", "matmul_integer"))
    assert np.array_equal(output, exact) and np.array_equal(mask, exact != pairs)
    assert integer_profile("onnx-reference").u8s8_products == "exact"
    assert integer_profile("onnxruntime", "conv_integer").u8s8_conv_pairs == "weights_channels_first"


# --- the engines, under the value their CPU selects -------------------------------------------------------------


def engine_or_skip(name: str, selected):
    from refq.backends import BUILTIN

    if selected is None:
        pytest.skip("refq does not know which kernels this CPU takes (no AVX2, or not x86)")
    try:
        return BUILTIN[name]()
    except ImportError:
        pytest.skip(f"{name} is not installed")


def test_onnxruntime_on_this_cpu():
    """MatMulInteger, QLinearMatMul, QLinearConv and ConvInteger (both type orders) equal refq under
    mlas_u8s8_products(), and the cases reach the variant."""
    selected = cpu.mlas_u8s8_products()
    backend = engine_or_skip("onnxruntime", selected)
    rng = np.random.default_rng(21)
    requantize = integer_profile("onnxruntime", "qlinear_matmul").requantize
    scales = (np.float32(2.0**-4), np.float32(2.0**-5), np.float32(8.0))
    compared = reached = 0

    def check(actual, compute):
        nonlocal compared, reached
        ours = compute(selected)
        assert np.array_equal(actual, ours)
        compared += 1
        reached += not np.array_equal(compute("exact"), compute("int16_pairs"))

    for trial in range(24):
        m, k, n = (int(v) for v in rng.integers(1, 16, 3))
        k += 9 * (trial % 4)
        a, b = extreme_codes(rng, (m, k), False), extreme_codes(rng, (k, n), True)
        a_zero_point, y_zero_point = np.uint8(rng.integers(0, 256)), np.uint8(rng.integers(0, 256))
        b_zero_point = np.int8(0)
        check(backend.matmul_integer(a, b, a_zero_point, b_zero_point),
              lambda p: matmul_integer(a, b, a_zero_point, b_zero_point, u8s8_products=p))
        check(backend.qlinear_matmul(a, scales[0], a_zero_point, b, scales[1], b_zero_point, scales[2], y_zero_point),
              lambda p: qlinear_matmul(a, scales[0], a_zero_point, b, scales[1], b_zero_point, scales[2], y_zero_point,
                                       **requantize, u8s8_products=p))
        group = (1, 2, 3)[trial % 3]
        channels = group * int(rng.integers(1, 3))
        out_channels = group * (1 if trial % 2 else int(rng.integers(1, 3)))
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        attributes = dict(pads=[int(v) for v in rng.integers(0, 2, 4)], strides=[1, 1 + trial % 2], group=group)
        x, w = extreme_codes(rng, (1, channels, 6, 6), False), extreme_codes(rng, (out_channels, channels // group,
                                                                                   *kernel), True)
        check(backend.qlinear_conv(x, scales[0], a_zero_point, w, scales[1], b_zero_point, scales[2], y_zero_point,
                                   **attributes),
              lambda p: qlinear_conv(x, scales[0], a_zero_point, w, scales[1], b_zero_point, scales[2], y_zero_point,
                                     **attributes, **requantize, u8s8_products=p))
        check(backend.conv_integer(x, w, a_zero_point, b_zero_point, **attributes),
              lambda p: conv_integer(x, w, a_zero_point, b_zero_point, **attributes, u8s8_products=p,
                                     u8s8_conv_pairs="weights_channels_first"))
        signed_x = extreme_codes(rng, x.shape, True)
        unsigned_w = extreme_codes(rng, w.shape, False)
        x_zero_point, w_zero_point = np.int8(rng.integers(-128, 128)), np.uint8(rng.integers(0, 256))
        check(backend.conv_integer(signed_x, unsigned_w, x_zero_point, w_zero_point, **attributes),
              lambda p: conv_integer(signed_x, unsigned_w, x_zero_point, w_zero_point, **attributes, u8s8_products=p,
                                     u8s8_conv_pairs="weights_channels_first"))
    assert compared == 24 * 5 and reached > 40


def test_pytorch_on_this_cpu():
    """torch.ops.quantized.linear and conv2d (FBGEMM, not depthwise) equal refq under fbgemm_u8s8_products()."""
    selected = cpu.fbgemm_u8s8_products()
    backend = engine_or_skip("torch", selected)
    rng = np.random.default_rng(22)
    requantize = integer_profile("pytorch", "qlinear_matmul").requantize
    scales = (np.float32(2.0**-4), np.float32(2.0**-5), np.float32(8.0))
    reached = 0
    for trial in range(12):
        m, k, n = (int(v) for v in rng.integers(1, 16, 3))
        k += 9 * (trial % 4)
        a, b = extreme_codes(rng, (m, k), False), extreme_codes(rng, (k, n), True)
        a_zero_point, y_zero_point = np.uint8(rng.integers(0, 256)), np.uint8(rng.integers(0, 256))
        actual = backend.qlinear_matmul(a, scales[0], a_zero_point, b, scales[1], np.int8(0), scales[2], y_zero_point)
        results = {p: qlinear_matmul(a, scales[0], a_zero_point, b, scales[1], np.int8(0), scales[2], y_zero_point,
                                     **requantize, u8s8_products=p) for p in ("exact", "int16_pairs")}
        assert np.array_equal(actual, results[selected])
        reached += not np.array_equal(results["exact"], results["int16_pairs"])
        x = extreme_codes(rng, (1, 4, 6, 6), False)
        w = extreme_codes(rng, (3, 4, 3, 2), True)
        attributes = dict(pads=[1, 1, 1, 1])
        actual = backend.qlinear_conv(x, scales[0], a_zero_point, w, scales[1], np.int8(0), scales[2], y_zero_point,
                                      **attributes)
        results = {p: qlinear_conv(x, scales[0], a_zero_point, w, scales[1], np.int8(0), scales[2], y_zero_point,
                                   **attributes, **requantize, u8s8_products=p) for p in ("exact", "int16_pairs")}
        assert np.array_equal(actual, results[selected])
        reached += not np.array_equal(results["exact"], results["int16_pairs"])
    assert reached > 10
