"""Chapter ELT, window pooling (ELT-6): MaxPool on int8 / uint8 and com.microsoft
QLinearAveragePool, bit-exact against ONNX Runtime's CPU kernels on random windows
(1 to 3 spatial axes, strides, pads, dilations, ceil_mode, count_include_pad, channels_last);
and concatenation (ELT-7, com.microsoft QLinearConcat)."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.elementwise import (max_pool, pooled_size, qlinear_average_pool, qlinear_concat, qlinear_global_average_pool,
                              requantize_codes)
from refq.errors import RefqError, RefqTypeError, RefqValueError

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
    assert checked > 5000


def random_scales(rng, dtype):
    info = np.iinfo(dtype)
    x_scale = np.float32(np.exp2(rng.uniform(-8, 0)) * rng.uniform(1.0, 2.0))
    # Output scales from 1/64 to 16 times the input scale: rounding ties, rescaling and saturation.
    y_scale = np.float32(x_scale * np.float32(np.exp2(rng.uniform(-6, 4))))
    x_zero = dtype(rng.integers(info.min, info.max + 1))
    y_zero = dtype(info.min if rng.random() < 0.1 else rng.integers(info.min, info.max + 1))
    return x_scale, x_zero, y_scale, y_zero


@pytest.mark.parametrize("dtype", DTYPES)
def test_qlinear_average_pool(ort, dtype):
    rng = np.random.default_rng(62)
    checked = 0
    for _ in range(300):
        x, attributes = random_window(rng, dtype, dilated=False)
        x_scale, x_zero, y_scale, y_zero = random_scales(rng, dtype)
        attributes["count_include_pad"] = int(rng.integers(0, 2))
        attributes["channels_last"] = int(rng.integers(0, 2))
        if attributes["channels_last"]:
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        expected = outcome(ort.qlinear_average_pool, x, x_scale, x_zero, y_scale, y_zero, **attributes)
        got = outcome(qlinear_average_pool, x, x_scale, x_zero, y_scale, y_zero, **attributes)
        assert_same(got, expected)
        checked += 0 if isinstance(got, str) else got.size
    assert checked > 5000


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
        compiled = (outcome(max_pool, x, **attributes),
                    outcome(qlinear_average_pool, x, *scales, **average_attributes))
        with pure_python():
            interpreted = (outcome(max_pool, x, **attributes),
                           outcome(qlinear_average_pool, x, *scales, **average_attributes))
        for got, expected in zip(interpreted, compiled):
            assert_same(got, expected)


@pytest.mark.parametrize("call, error", [
    (lambda: max_pool([[[1, 2]]], kernel_shape=[1]), RefqTypeError),
    (lambda: max_pool(np.uint8([[1, 2]]), kernel_shape=[1]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]])), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[1, 1]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], pads=[2, 0]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], strides=[0]), RefqValueError),
    (lambda: max_pool(np.uint8([[[1, 2]]]), kernel_shape=[2], auto_pad="SAME_UPPER"), RefqValueError),
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
