"""INT-3.5 and REQ-1.4's vectorized loop: the fast routes give the portable kernels' values.

The VNNI route is compared element for element with INT-3.4's kernels (which the other
integer-op tests compare with ONNX Runtime and the oracle); the tests of the route itself
skip on CPUs without AVX512-VNNI, where refq never takes it.
"""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.integer_ops import vnni
from refq.integer_ops.conv import conv_accumulator, conv_geometry, conv_operands, convolve
from refq.requantize import float_multiplier, requantize_float

needs_vnni = pytest.mark.skipif(not vnni.available(), reason="this CPU has no AVX512-VNNI: refq never takes the route")


def random_convolution(rng: np.random.Generator):
    group = int(rng.choice([1, 1, 2, 3]))
    channels, out_channels = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    if rng.random() < 0.15:  # depthwise
        group, channels, out_channels = int(rng.integers(1, 9)), 1, 1
    kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    x_type, w_type = (np.dtype(rng.choice(["int8", "uint8"])) for _ in range(2))
    x_info, w_info = np.iinfo(x_type), np.iinfo(w_type)
    x = rng.integers(x_info.min, x_info.max + 1,
                     (int(rng.integers(1, 3)), channels * group, int(rng.integers(kernel[0], 11)),
                      int(rng.integers(kernel[1], 11)))).astype(x_type)
    w = rng.integers(w_info.min, w_info.max + 1, (out_channels * group, channels) + kernel).astype(w_type)
    x_zero_point = np.array(rng.integers(x_info.min, x_info.max + 1), x_type)
    if rng.random() < 0.5:
        w_zero_point = rng.integers(w_info.min, w_info.max + 1, out_channels * group).astype(w_type)
    else:
        w_zero_point = np.array(rng.integers(w_info.min, w_info.max + 1), w_type)
    attributes = {"group": group, "strides": [int(v) for v in rng.integers(1, 3, 2)],
                  "dilations": [int(v) for v in rng.integers(1, 3, 2)],
                  "pads": [int(v) for v in rng.integers(0, 3, 4)]}
    bias = rng.integers(-2**31, 2**31, out_channels * group).astype(np.int32) if rng.random() < 0.5 else None
    return x, w, x_zero_point, w_zero_point, bias, attributes


@needs_vnni
def test_conv_vnni_route_equals_portable_kernel():
    rng = np.random.default_rng(2026)
    checked = 0
    for _ in range(400):
        x, w, x_zero_point, w_zero_point, bias, attributes = random_convolution(rng)
        try:
            conv_geometry(x.shape, w.shape, **attributes)
        except ValueError:
            continue  # the window does not fit: both routes reject it
        expected = convolve(conv_operands(x, w, x_zero_point, w_zero_point, **attributes), bias)
        got = conv_accumulator(x, w, x_zero_point, w_zero_point, bias, **attributes)
        assert got.dtype == np.int32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected, err_msg=str(attributes))
        checked += got.size
    assert checked > 20_000


@needs_vnni
@pytest.mark.parametrize("x_type, w_type", [("uint8", "uint8"), ("int8", "int8"), ("uint8", "int8"), ("int8", "uint8")])
def test_conv_vnni_route_wraps_like_int32(x_type, w_type):
    # 8192 channels x 3 x 3 products of magnitude up to 255^2 pass 2^31: the sums wrap.
    x_info, w_info = np.iinfo(x_type), np.iinfo(w_type)
    x = np.full((1, 8192, 3, 3), x_info.max, dtype=x_type)
    x[0, ::7] = x_info.min
    w = np.full((5, 8192, 3, 3), w_info.min, dtype=w_type)
    w[1] = w_info.max
    w[2, ::3] = w_info.max
    x_zero_point = np.array(x_info.min, x_type)
    w_zero_point = np.array([w_info.max, w_info.min, w_info.max, 0 if w_type == "int8" else 128, w_info.min], w_type)
    expected = convolve(conv_operands(x, w, x_zero_point, w_zero_point), None)
    exact = ((x.astype(np.int64) - int(x_zero_point)).reshape(1, -1)
             @ (w.astype(np.int64) - w_zero_point.astype(np.int64)[:, None, None, None]).reshape(5, -1).T)
    assert (np.abs(exact) > 2**31).any()
    np.testing.assert_array_equal(expected.reshape(-1), ((exact + 2**31) % 2**32 - 2**31).reshape(-1))
    np.testing.assert_array_equal(conv_accumulator(x, w, x_zero_point, w_zero_point), expected)


@needs_vnni
def test_conv_vnni_route_across_tile_edges():
    # Output channels and pixels on both sides of whole tiles (vnni.TILE_ROWS x vnni.TILE_PIXELS), channel
    # counts that do and do not fill whole words, every stride and dilation kind, groups, zero points.
    rng = np.random.default_rng(20261203)
    checked = 0
    for out_channels, channels, size in [(8, 4, 7), (7, 5, 8), (9, 32, 9), (16, 3, 12), (17, 13, 11), (24, 8, 14),
                                         (25, 1, 10), (33, 36, 13), (15, 64, 6)]:
        for strides, dilations, group in [([1, 1], [1, 1], 1), ([2, 1], [1, 2], 1), ([1, 2], [2, 1], 1),
                                          ([2, 2], [1, 1], 1), ([1, 1], [1, 1], 2)]:
            for x_type, w_type in [("uint8", "int8"), ("int8", "uint8")]:
                x_info, w_info = np.iinfo(x_type), np.iinfo(w_type)
                x = rng.integers(x_info.min, x_info.max + 1, (2, channels * group, size, size + 3)).astype(x_type)
                w = rng.integers(w_info.min, w_info.max + 1, (out_channels * group, channels, 3, 2)).astype(w_type)
                x_zero_point = np.array(rng.integers(x_info.min, x_info.max + 1), x_type)
                w_zero_point = rng.integers(w_info.min, w_info.max + 1, out_channels * group).astype(w_type)
                bias = rng.integers(-2**31, 2**31, out_channels * group).astype(np.int32)
                attributes = {"strides": strides, "dilations": dilations, "group": group, "pads": [1, 0, 2, 1]}
                expected = convolve(conv_operands(x, w, x_zero_point, w_zero_point, **attributes), bias)
                got = conv_accumulator(x, w, x_zero_point, w_zero_point, bias, **attributes)
                np.testing.assert_array_equal(got, expected, err_msg=f"{x.shape} {w.shape} {attributes}")
                symmetric = conv_accumulator(x, w, x_zero_point, None, None, **attributes)
                np.testing.assert_array_equal(symmetric, convolve(conv_operands(x, w, x_zero_point, None,
                                                                                **attributes)))
                checked += got.size
    assert checked > 100_000


@needs_vnni
def test_conv_vnni_route_on_the_benchmark_shape():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (1, 32, 56, 56)).astype(np.uint8)
    w = rng.integers(-128, 128, (64, 32, 3, 3)).astype(np.int8)
    bias = rng.integers(-5000, 5000, 64).astype(np.int32)
    expected = convolve(conv_operands(x, w, np.uint8(128), np.zeros(64, np.int8), pads=[1, 1, 1, 1]), bias)
    got = conv_accumulator(x, w, np.uint8(128), np.zeros(64, np.int8), bias, pads=[1, 1, 1, 1])
    np.testing.assert_array_equal(got, expected)


def test_pure_python_never_takes_the_vnni_route():
    with pure_python():
        assert not vnni.use_vnni()


def test_byte_operand_offsets():
    codes = np.arange(-128, 128, dtype=np.int8)
    unsigned, offset = vnni.unsigned_codes(codes)
    assert unsigned.dtype == np.uint8 and offset == 128
    np.testing.assert_array_equal(unsigned.astype(np.int64), codes.astype(np.int64) + 128)
    weights = np.arange(256, dtype=np.uint8)
    signed, offset = vnni.signed_codes(weights)
    assert signed.dtype == np.int8 and offset == -128
    np.testing.assert_array_equal(signed.astype(np.int64), weights.astype(np.int64) - 128)


def general_loop(accumulator3, multipliers, zero_points, dtype):
    target = float_multiplier.target_type(dtype)
    out = np.empty(accumulator3.shape, dtype=target.container)
    float_multiplier.requantize_float_channels(accumulator3, np.asarray(multipliers, np.float64).reshape(-1),
                                               np.asarray(zero_points, np.int64).reshape(-1), target.qmin,
                                               target.qmax, float_multiplier.FLOAT32, 0,
                                               float_multiplier.AFTER_ROUNDING, out)
    return out


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4", "uint16"])
def test_requantize_vectorized_loop_equals_general_loop(dtype):
    """REQ-1.4: the loop for ONNX Runtime's variants gives the general loop's codes, ties
    (multipliers 1/2 and 1/4) and saturation included; per tensor and per channel."""
    rng = np.random.default_rng(11)
    accumulator = np.concatenate([rng.integers(-2**31, 2**31, 20_000), rng.integers(-3000, 3000, 20_004),
                                  [-2**31, 2**31 - 1, 0, 1, -1, 2**24 + 1, -(2**24) - 3, 5]]).astype(np.int32)
    zero_point = 300 if dtype == "uint16" else 3 if dtype != "int4" else -2
    for multiplier in (0.5, 0.25, 1e-6, 3.0e38, 2.0**-30):
        for zero in (0, zero_point):
            fast = requantize_float(accumulator, np.float32(multiplier), zero, dtype=dtype)
            general = general_loop(accumulator.reshape(1, 1, -1), [np.float32(multiplier)], [zero], dtype)
            np.testing.assert_array_equal(fast, general.reshape(-1))
    grid = accumulator.reshape(-1, 7)
    per_channel = np.concatenate([[0.5, 0.25], rng.uniform(1e-6, 1e-2, 5)]).astype(np.float32)
    zero_points = rng.integers(0, 4, 7).astype(np.int64) + (0 if dtype != "int4" else -2)
    fast = requantize_float(grid, per_channel, zero_points.astype(float_multiplier.target_type(dtype).container),
                            dtype=dtype, axis=1)
    general = general_loop(grid.reshape(-1, 7, 1), per_channel, zero_points, dtype)
    np.testing.assert_array_equal(fast, general.reshape(grid.shape))
    with pure_python():
        slow = requantize_float(grid[:300], per_channel, zero_points.astype(fast.dtype), dtype=dtype, axis=1)
    np.testing.assert_array_equal(slow, fast[:300])
