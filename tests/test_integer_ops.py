"""Chapter INT: integer matmul and convolution, and their QLinear forms.

The kernels are checked against the pure-integer oracle (tests/oracle/integer_ops.py)
and numpy int64 einsum, on the compiled and the interpreted path, and against ONNX
Runtime and onnx.reference through the adapters on every generated case.
"""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.conformance.generate import integer_ops as generator
from refq.conformance.reference import run
from refq.errors import RefqError, RefqTypeError, RefqValueError
from refq.integer_ops import conv_integer, matmul_integer, qlinear_conv, qlinear_matmul
from refq.integer_ops.matmul import matmul_overflow_mask
from refq.integer_ops.profiles import INTEGER_PROFILES, integer_profile
from refq.registry.operations import OPERATIONS_BY_NAME
from tests.oracle import integer_ops as oracle

TYPES = (np.uint8, np.int8)
RNG_SEED = 20


def random(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def einsum_matmul(a, b, a_zero_point, b_zero_point):
    """numpy int64 oracle with matmul broadcasting; zero points broadcast against a and b."""
    centred_a = a.astype(np.int64) - np.asarray(a_zero_point, dtype=np.int64)
    centred_b = b.astype(np.int64) - np.asarray(b_zero_point, dtype=np.int64)
    exact = np.matmul(centred_a, centred_b)
    return ((exact + 2**31) % 2**32 - 2**31).astype(np.int32)


@pytest.mark.parametrize("a_type", TYPES)
@pytest.mark.parametrize("b_type", TYPES)
def test_matmul_integer(a_type, b_type):
    rng = np.random.default_rng(RNG_SEED)
    for rows, inner, columns in ((1, 1, 1), (3, 7, 5), (8, 33, 17), (2, 64, 9)):
        a, b = random(rng, a_type, (rows, inner)), random(rng, b_type, (inner, columns))
        a_zero_points = random(rng, a_type, (rows, 1))
        b_zero_points = random(rng, b_type, (columns,))
        expected = oracle.matmul(a.tolist(), b.tolist(), a_zero_points[:, 0].tolist(), b_zero_points.tolist())
        result = matmul_integer(a, b, a_zero_points, b_zero_points)
        assert result.dtype == np.int32
        assert result.tolist() == expected


def test_matmul_integer_range_ends():
    """Zero points at one end of the range and values at the other: every product is ±255²."""
    for a_type in TYPES:
        for b_type in TYPES:
            a_info, b_info = np.iinfo(a_type), np.iinfo(b_type)
            for a_zero, b_zero in ((a_info.min, b_info.max), (a_info.max, b_info.min)):
                a = np.full((2, 300), a_info.max if a_zero == a_info.min else a_info.min, a_type)
                b = np.full((300, 3), b_info.max if b_zero == b_info.min else b_info.min, b_type)
                result = matmul_integer(a, b, a_type(a_zero), b_type(b_zero))
                assert np.all(result == -300 * 255 * 255)
                assert result.tolist() == oracle.matmul(a.tolist(), b.tolist(), [int(a_zero)] * 2, [int(b_zero)] * 3)


def test_matmul_integer_broadcasting():
    rng = np.random.default_rng(RNG_SEED)
    cases = [((2, 1, 3, 8), (4, 8, 5), np.int8(-7), random(rng, np.uint8, (4, 1, 5))),
             ((3, 8), (2, 8, 4), np.int8(1), np.uint8(9)),
             ((8,), (8, 4), np.int8(3), np.uint8(200)),
             ((2, 3, 8), (8,), np.int8(-128), np.uint8(255)),
             ((8,), (8,), np.int8(0), np.uint8(0))]
    for a_shape, b_shape, a_zero_point, b_zero_point in cases:
        a, b = random(rng, np.int8, a_shape), random(rng, np.uint8, b_shape)
        result = matmul_integer(a, b, a_zero_point, b_zero_point)
        expected = einsum_matmul(a, b, a_zero_point, b_zero_point)
        assert result.shape == expected.shape and np.array_equal(result, expected)


def test_matmul_integer_wraps_on_overflow():
    count = 34000
    a = np.full((1, count), 255, np.uint8)
    b = np.tile(np.array([[0, 255]], np.uint8), (count, 1))
    result = matmul_integer(a, b, None, np.uint8(255))
    assert result.tolist() == [[oracle.wrap_int32(-count * 255 * 255), 0]]
    assert matmul_overflow_mask(a, b, None, np.uint8(255)).tolist() == [[True, False]]
    assert matmul_overflow_mask(a[:, :100], b[:100], None, np.uint8(255)) is None
    output, unpredictable = run("matmul_integer", {"a": a, "b": b, "a_zero_point": np.uint8(0),
                                                   "b_zero_point": np.uint8(255)}, {}, "onnx")
    assert unpredictable.tolist() == [[True, False]]
    assert run("matmul_integer", {"a": a, "b": b, "a_zero_point": np.uint8(0), "b_zero_point": np.uint8(255)}, {},
               "onnxruntime")[1] is None


def test_matmul_overflow_mask_is_exact():
    """Overflow possible exactly when the positive or the negative products alone leave int32."""
    count = 33100  # 33025 products of 255² reach 2^31 - 1 + ...
    a = np.full((1, count), 255, np.uint8)
    b = np.zeros((count, 3), np.uint8)
    b[:33025, 0] = 255  # positive part 33025 * 65025 > 2^31 - 1
    b[:33000, 1] = 255
    b[:, 2] = np.where(np.arange(count) % 2 == 0, 255, 0)  # alternating signs centred at 128: +-127*255
    mask = matmul_overflow_mask(a, b, np.uint8(0), np.array([0, 0, 128], np.uint8))
    positive = [33025 * 65025, 33000 * 65025, (count // 2) * 255 * 127]
    assert mask.tolist() == [[value > 2**31 - 1 for value in positive]]


CONV_CASES = [
    ((1, 3, 6, 6), (4, 3, 3, 3), dict(pads=(1, 1, 1, 1))),
    ((2, 4, 9, 8), (4, 2, 3, 2), dict(group=2, pads=(1, 0, 2, 1), strides=(2, 1), dilations=(1, 2))),
    ((1, 4, 6, 5), (4, 1, 3, 3), dict(group=4, pads=(1, 1, 1, 1), strides=(2, 2))),
    ((1, 5, 4, 4), (3, 5, 1, 1), {}),
    ((1, 2, 7, 7), (2, 2, 3, 3), dict(strides=(3, 2), dilations=(2, 2), pads=(2, 2, 2, 2))),
]


@pytest.mark.parametrize("x_type", TYPES)
@pytest.mark.parametrize("w_type", TYPES)
def test_conv_integer(x_type, w_type):
    rng = np.random.default_rng(RNG_SEED)
    for x_shape, w_shape, attributes in CONV_CASES:
        x, w = random(rng, x_type, x_shape), random(rng, w_type, w_shape)
        x_zero_point = random(rng, x_type, ())
        w_zero_points = random(rng, w_type, (w_shape[0],))
        result = conv_integer(x, w, x_zero_point, w_zero_points,
                              **{key: list(value) if isinstance(value, tuple) else value
                                 for key, value in attributes.items()})
        expected = oracle.conv2d(x.tolist(), w.tolist(), int(x_zero_point), w_zero_points.tolist(), **attributes)
        assert result.dtype == np.int32
        assert result.tolist() == expected


def test_conv_integer_auto_pad():
    rng = np.random.default_rng(RNG_SEED)
    x, w = random(rng, np.uint8, (1, 2, 6, 7)), random(rng, np.int8, (2, 2, 2, 3))
    # Output ceil(6/2) x ceil(7/2) = 3 x 4; padding needed (3-1)*2+2-6 = 0 rows, (4-1)*2+3-7 = 2 columns.
    for auto_pad, pads in (("SAME_UPPER", (0, 1, 0, 1)), ("SAME_LOWER", (0, 1, 0, 1)), ("VALID", (0, 0, 0, 0))):
        result = conv_integer(x, w, np.uint8(5), np.int8(-2), auto_pad=auto_pad, strides=[2, 2])
        expected = oracle.conv2d(x.tolist(), w.tolist(), 5, [-2, -2], pads=pads, strides=(2, 2))
        assert result.tolist() == expected
    x = random(rng, np.uint8, (1, 1, 5, 5))
    w = random(rng, np.int8, (1, 1, 2, 2))
    # 5 + 1 - 2 = 4 needs one unit of padding: after (UPPER) or before (LOWER).
    upper = conv_integer(x, w, auto_pad="SAME_UPPER")
    lower = conv_integer(x, w, auto_pad="SAME_LOWER")
    assert upper.tolist() == oracle.conv2d(x.tolist(), w.tolist(), 0, [0], pads=(0, 0, 1, 1))
    assert lower.tolist() == oracle.conv2d(x.tolist(), w.tolist(), 0, [0], pads=(1, 1, 0, 0))


def test_jit_matches_pure_python():
    rng = np.random.default_rng(RNG_SEED)
    a, b = random(rng, np.uint8, (2, 3, 9)), random(rng, np.int8, (9, 4))
    x, w = random(rng, np.int8, (1, 4, 5, 5)), random(rng, np.int8, (4, 2, 3, 3))
    scales = np.array([0.01, 0.02, 0.015, 0.03], np.float32)
    bias = np.array([-100, 7, 2**31 - 1, 0], np.int32)

    def compute():
        return [matmul_integer(a, b, np.uint8(255), np.int8(-128)),
                conv_integer(x, w, np.int8(-128), np.int8(127), group=2, pads=[1, 1, 1, 1]),
                qlinear_matmul(a[0], np.float32(0.02), np.uint8(3), b, scales, np.zeros(4, np.int8),
                               np.float32(0.1), np.uint8(100)),
                qlinear_conv(x, np.float32(0.03), np.int8(1), w, scales, np.zeros(4, np.int8), np.float32(0.2),
                             np.int8(-5), bias, group=2, strides=[2, 1], precision="float64",
                             zero_point_placement="before_rounding")]

    compiled = compute()
    with pure_python():
        interpreted = compute()
    for left, right in zip(compiled, interpreted):
        assert left.dtype == right.dtype and np.array_equal(left, right)


def test_qlinear_matmul_requantizes():
    """Multiplier 1/2 exactly: each accumulator lands on a tie or an integer."""
    a = np.arange(-12, 12, dtype=np.int8).reshape(24, 1)
    one = np.ones((1, 1), np.int8)
    after = qlinear_matmul(a, np.float32(1), np.int8(0), one, np.float32(0.5), np.int8(0), np.float32(1), np.int8(3))
    before = qlinear_matmul(a, np.float32(1), np.int8(0), one, np.float32(0.5), np.int8(0), np.float32(1),
                            np.int8(3), precision="float64", zero_point_placement="before_rounding")
    values = np.arange(-12, 12)
    half_even = np.round(values / 2)  # numpy rounds half to even
    assert after[:, 0].tolist() == (half_even + 3).astype(int).tolist()
    assert before[:, 0].tolist() == np.round(values / 2 + 3).astype(int).tolist()


def test_qlinear_conv_bias_and_saturation():
    x = np.zeros((1, 1, 2, 2), np.uint8)
    w = np.zeros((3, 1, 1, 1), np.int8)
    bias = np.array([-4, 12, 2**31 - 1], np.int32)
    result = qlinear_conv(x, np.float32(0.5), np.uint8(0), w, np.float32(0.25), np.int8(0), np.float32(1.0),
                          np.uint8(100), bias)
    assert result.dtype == np.uint8
    assert result[0, :, 0, 0].tolist() == [100, 102, 255]


def backend_or_skip(name):
    from refq.backends import BUILTIN

    try:
        return BUILTIN[name]()
    except ImportError:
        pytest.skip(f"{name} is not installed")


GENERATED = [spec for level in (1, 2) for spec in generator.by_level(level)]


@pytest.mark.parametrize("backend_name", ["onnxruntime", "onnx-reference"])
def test_generated_cases_against_backend(backend_name):
    """Every generated case, through the adapter, equals refq under the backend's profile
    (unpredictable elements skipped); error cases are rejected; unsupported ones raise
    NotImplementedError and are counted."""
    backend = backend_or_skip(backend_name)
    compared = unsupported = 0
    for spec in GENERATED:
        method = getattr(backend, spec.op)
        inputs, attributes = list(spec.inputs.values()), dict(spec.attributes)
        if spec.outcome == "error":
            with pytest.raises(RefqError):
                method(*inputs, **attributes)
            continue
        expected, unpredictable = run(spec.op, dict(spec.inputs), attributes, backend.profile)
        try:
            actual = method(*inputs, **attributes)
        except NotImplementedError:
            unsupported += 1
            continue
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, spec.name
        differ = actual != expected
        if unpredictable is not None:
            differ &= ~unpredictable
        assert not differ.any(), f"{spec.op}/{spec.name}: {int(differ.sum())} elements differ"
        compared += 1
    assert compared >= 30
    assert unsupported <= 8


def test_profiles_cover_generated_cases():
    assert set(generator.ONNX_PROFILES) <= set(generator.PROFILES) & set(generator.QLINEAR_PROFILES)
    assert set(generator.PROFILES) | set(generator.QLINEAR_PROFILES) <= set(INTEGER_PROFILES)
    assert integer_profile("pytorch").requantize == integer_profile("onnxruntime").requantize
    assert integer_profile("onnx").accumulator_overflow == "unpredictable"
    assert integer_profile("onnx").requantize is None
    assert integer_profile("onnxruntime").requantize == {"precision": "float32", "zero_point_placement": "after_rounding",
                                                         "multiplier_order": "product_then_quotient",
                                                         "rounding": "half_to_even"}
    assert integer_profile("onnx-reference").accumulator_overflow == "wrap"
    assert integer_profile("tflite", "qlinear_matmul").requantize == {
        "precision": "float64", "zero_point_placement": "after_rounding", "multiplier_order": "float64_quotient",
        "rounding": "half_away_from_zero"}
    assert integer_profile("tflite", "qlinear_conv").requantize == {
        "form": "fixed_point", "multiplier_order": "float64_quotient", "multiplier_rounding": "half_away_from_zero",
        "shift_limits": "tflite", "fixed_point_rounding": "double_round"}
    assert integer_profile("tflite-optimized", "qlinear_matmul").requantize["fixed_point_rounding"] == \
        "double_round_ties_up"
    tosa = integer_profile("tosa")
    assert tosa.accumulator_overflow == "unpredictable" and tosa.u8s8_products == "exact"
    assert tosa.requantize["form"] == "fixed_point" and tosa.requantize["shift_limits"] == "tosa"
    with pytest.raises(RefqValueError, match="^profile: "):
        integer_profile("ggml")
    for name in ("matmul_integer", "qlinear_matmul", "conv_integer", "qlinear_conv"):
        assert OPERATIONS_BY_NAME[name].reference == f"refq.integer_ops.profiles:{name}_outcomes"


def test_bad_inputs():
    a, b = np.zeros((2, 3), np.uint8), np.zeros((3, 4), np.int8)
    with pytest.raises(RefqValueError, match="^b: "):
        matmul_integer(a, np.zeros((4, 2), np.int8))
    with pytest.raises(RefqValueError, match="^a_zero_point: .*uint8"):
        matmul_integer(a, b, np.int8(0))
    with pytest.raises(RefqValueError, match="^a_zero_point: "):
        matmul_integer(a, b, 300)
    with pytest.raises(RefqValueError, match="^a: .*int8 or uint8"):
        matmul_integer(a.astype(np.int16), b)
    with pytest.raises(RefqValueError, match="^b_zero_point: must be one value or one per column"):
        matmul_integer(a, b, None, np.zeros(3, np.int8))
    with pytest.raises(RefqValueError, match="^b: must be batch dimensions"):
        matmul_integer(np.zeros((2, 2, 3), np.int8), np.zeros((3, 3, 2), np.int8))
    with pytest.raises(RefqTypeError, match="^a_zero_point: "):
        matmul_integer(a, b, True)
    x, w = np.zeros((1, 4, 3, 3), np.uint8), np.zeros((2, 2, 1, 1), np.int8)
    with pytest.raises(RefqValueError, match="^w: "):
        conv_integer(x, w)
    with pytest.raises(RefqValueError, match="^x: must be a 4-D NCHW"):
        conv_integer(x[0], w)
    with pytest.raises(RefqValueError, match="^pads: "):
        conv_integer(x, w, group=2, pads=[1, 1])
    with pytest.raises(RefqValueError, match="^strides: "):
        conv_integer(x, w, group=2, strides=[0, 1])
    with pytest.raises(RefqValueError, match="^auto_pad: "):
        conv_integer(x, w, group=2, auto_pad="SAME")
    with pytest.raises(RefqValueError, match="^x: must be spatial size"):
        conv_integer(x, np.zeros((2, 2, 5, 5), np.int8), group=2)
    with pytest.raises(RefqValueError, match="^w_zero_point: must be one value or one per output channel"):
        conv_integer(x, w, None, np.zeros(3, np.int8), group=2)
    with pytest.raises(RefqValueError, match="^kernel_shape: "):
        conv_integer(x, w, group=2, kernel_shape=[3, 3])
    scale = np.float32(0.5)
    with pytest.raises(RefqValueError, match="^B: must be an int32"):
        qlinear_conv(x, scale, np.uint8(0), w, scale, np.int8(0), scale, np.uint8(0), np.zeros(2, np.int64), group=2)
    with pytest.raises(RefqValueError, match="^w_scale: "):
        qlinear_conv(x, scale, np.uint8(0), w, np.ones(3, np.float32), np.int8(0), scale, np.uint8(0), group=2)
    with pytest.raises(RefqValueError, match="^b_scale: "):
        qlinear_matmul(a, scale, np.uint8(0), b, np.ones(3, np.float32), np.int8(0), scale, np.uint8(0))
    with pytest.raises(RefqValueError, match="^y_zero_point: "):
        qlinear_matmul(a, scale, np.uint8(0), b, scale, np.int8(0), scale, np.int32(0))
    with pytest.raises(RefqValueError, match="^y_scale: "):
        qlinear_matmul(a, scale, np.uint8(0), b, scale, np.int8(0), np.float32(0), np.uint8(0))
