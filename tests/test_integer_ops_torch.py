"""INT-4 against PyTorch's quantized linear and conv2d on the FBGEMM engine: refq under the
``pytorch`` profile's requantization variants gives the same bits. The same on the QNNPACK engine
(``pytorch-qnnpack``) and through PT2E's reference quantized representation (``pytorch-pt2e``), below.

Weights stay in [-64, 63]: AVX2 CPUs without VNNI add adjacent uint8 x int8 products in int16
with saturation (vpmaddubsw), and 2 * 255 * 64 still fits in int16, so these results do not depend
on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul
from refq.registry.profiles import PROFILES_BY_NAME

torch = pytest.importorskip("torch")
if "fbgemm" not in torch.backends.quantized.supported_engines:
    pytest.skip("torch without the FBGEMM engine", allow_module_level=True)

from refq.backends.torch import TorchBackend  # noqa: E402

WEIGHT_LOW, WEIGHT_HIGH = -64, 64


def pytorch_variants() -> dict[str, str]:
    """The ``pytorch`` profile's REQ-1 values, as keyword arguments of the QLinear operations."""
    values = PROFILES_BY_NAME["pytorch"].requantize
    assert values["requantize_form"] == "float_multiplier"
    return {"precision": values["requantize_precision"], "zero_point_placement": values["requantize_zero_point"]}


@pytest.fixture(scope="module")
def backend():
    return TorchBackend()


def weight_parameters(rng, channels: int, per_channel: bool):
    if per_channel:
        return (rng.uniform(0.001, 0.1, channels).astype(np.float32),
                rng.integers(-8, 8, channels).astype(np.int8))
    return np.float32(rng.uniform(0.001, 0.1)), np.int8(rng.integers(-8, 8))


def matmul_case(rng, per_channel: bool):
    rows, depth, columns = (int(v) for v in rng.integers(1, 24, 3))
    a = rng.integers(0, 256, (rows, depth)).astype(np.uint8)
    b = rng.integers(WEIGHT_LOW, WEIGHT_HIGH, (depth, columns)).astype(np.int8)
    b_scale, b_zero_point = weight_parameters(rng, columns, per_channel)
    a_scale = np.float32(rng.uniform(0.001, 0.1))
    # An output scale that keeps most results inside [0, 255] and some outside.
    y_scale = np.float32(a_scale * np.max(b_scale) * 64 * np.sqrt(depth) * rng.uniform(0.5, 8))
    return (a, a_scale, np.uint8(rng.integers(0, 256)), b, b_scale, b_zero_point, y_scale,
            np.uint8(rng.integers(0, 256)))


@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_matmul(backend, per_channel):
    rng = np.random.default_rng(61 + per_channel)
    checked = 0
    for _ in range(150):
        case = matmul_case(rng, per_channel)
        expected = qlinear_matmul(*case, **pytorch_variants())
        np.testing.assert_array_equal(backend.qlinear_matmul(*case), expected)
        checked += expected.size
    assert checked > 5000


def test_qlinear_matmul_ties(backend):
    """Multipliers 2^-k put many products on .5: ties go to even and the zero point joins after rounding."""
    rng = np.random.default_rng(62)
    cases = []
    for _ in range(100):
        a = rng.integers(0, 256, (4, int(rng.integers(1, 16)))).astype(np.uint8)
        b = rng.integers(WEIGHT_LOW, WEIGHT_HIGH, (a.shape[1], 8)).astype(np.int8)
        cases.append((a, np.float32(1), np.uint8(rng.integers(0, 256)), b, np.float32(1), np.int8(0),
                      np.float32(2.0 ** int(rng.integers(1, 8))), np.uint8(rng.integers(0, 256))))
    differing = 0
    for case in cases:
        expected = qlinear_matmul(*case, **pytorch_variants())
        np.testing.assert_array_equal(backend.qlinear_matmul(*case), expected)
        differing += int((qlinear_matmul(*case, **{**pytorch_variants(), "zero_point_placement": "before_rounding"})
                          != expected).sum())
        differing += int((qlinear_matmul(*case, **pytorch_variants(), rounding="half_away_from_zero")
                          != expected).sum())
    assert differing > 0


def exact_products(total: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 row and an int8 column in [0, 63] whose dot product is exactly ``total``."""
    a = np.zeros(depth, np.int64)
    b = np.zeros(depth, np.int64)
    remaining, index = total, 0
    while remaining > 0:
        b[index] = min(63, remaining)
        a[index] = min(255, remaining // b[index])
        remaining -= a[index] * b[index]
        index += 1
    return a.astype(np.uint8), b.astype(np.int8)


def test_qlinear_matmul_float32_accumulator(backend):
    """Accumulators past 2^24 are rounded to float32 before the multiplication (requantize_precision float32):
    odd sums just above a tie of a * 2^-k land on the tie."""
    rng = np.random.default_rng(63)
    differing = 0
    for exponent in (25, 26):
        shift = exponent - 7
        for _ in range(40):
            total = 2**exponent + int(rng.integers(0, 64)) * 2 ** (shift - 1) + int(rng.integers(-3, 4))
            row, column = exact_products(total, 8192)
            case = (np.stack([row, row]), np.float32(1), np.uint8(0), np.stack([column, -column], axis=1),
                    np.float32(1), np.int8(0), np.float32(2.0**shift), np.uint8(128 if exponent == 25 else 0))
            expected = qlinear_matmul(*case, **pytorch_variants())
            np.testing.assert_array_equal(backend.qlinear_matmul(*case), expected)
            differing += int((qlinear_matmul(*case, **{**pytorch_variants(), "precision": "float64"})
                              != expected).sum())
    assert differing > 0


def test_qlinear_matmul_accumulator_wraps(backend):
    """A sum past 2^31 - 1 wraps in int32 (accumulator_overflow wrap): 200 * 63 * 2^18 becomes negative."""
    depth = 2**18
    case = (np.full((1, depth), 200, np.uint8), np.float32(1), np.uint8(0), np.full((depth, 1), 63, np.int8),
            np.float32(1), np.int8(0), np.float32(2.0**24), np.uint8(128))
    expected = qlinear_matmul(*case, **pytorch_variants())
    wrapped = 200 * 63 * depth - 2**32
    assert expected[0, 0] == 128 + round(wrapped / 2**24)
    np.testing.assert_array_equal(backend.qlinear_matmul(*case), expected)


def test_qlinear_matmul_multiplier(backend):
    """The multiplier is fl32(fl32(s_a * s_b) / s_y) (REQ-1.1): for scales where another order of the
    operations (float64 throughout, s_a * (s_b / s_y), (s_a * s_b) * (1 / s_y)) gives another float32
    multiplier, an accumulator on which the two round apart follows refq's."""
    rng = np.random.default_rng(65)
    f32 = np.float32
    separated = 0
    while separated < 60:
        a_scale, b_scale = f32(rng.uniform(0.001, 0.1)), f32(rng.uniform(0.001, 0.1))
        y_scale = f32(a_scale * b_scale * rng.uniform(50, 3000))
        multiplier = f32(f32(a_scale * b_scale) / y_scale)
        others = {f32(np.float64(a_scale) * np.float64(b_scale) / np.float64(y_scale)),
                  f32(a_scale * f32(b_scale / y_scale)), f32(f32(a_scale * b_scale) * f32(f32(1) / y_scale))}
        accumulators = np.arange(1, int(127 / multiplier), dtype=np.int32).astype(f32)
        rounded = np.rint(accumulators * multiplier)
        for other in others - {multiplier}:
            apart = np.flatnonzero(np.rint(accumulators * other) != rounded)
            if apart.size == 0:
                continue
            row, column = exact_products(int(accumulators[apart[0]]), 64)
            case = (row[None], a_scale, np.uint8(0), column[:, None], b_scale, np.int8(0), y_scale, np.uint8(0))
            expected = qlinear_matmul(*case, **pytorch_variants())
            assert expected[0, 0] == rounded[apart[0]]
            np.testing.assert_array_equal(backend.qlinear_matmul(*case), expected)
            separated += 1


def conv_case(rng, per_channel: bool, ties: bool):
    group = int(rng.integers(1, 4))
    channels, outputs = group * int(rng.integers(1, 3)), group * int(rng.integers(1, 3))
    x = rng.integers(0, 256, (int(rng.integers(1, 3)), channels, int(rng.integers(5, 9)),
                              int(rng.integers(5, 9)))).astype(np.uint8)
    w = rng.integers(WEIGHT_LOW, WEIGHT_HIGH, (outputs, channels // group, int(rng.integers(1, 4)),
                                               int(rng.integers(1, 4)))).astype(np.int8)
    attributes = dict(group=group, pads=[int(rng.integers(0, 2)), int(rng.integers(0, 2))] * 2,
                      strides=[int(v) for v in rng.integers(1, 3, 2)], dilations=[int(v) for v in rng.integers(1, 3, 2)])
    if ties:
        operands = (x, np.float32(1), np.uint8(rng.integers(0, 256)), w, np.float32(1), np.int8(0),
                    np.float32(2.0 ** int(rng.integers(3, 9))), np.uint8(rng.integers(0, 256)))
    else:
        w_scale, w_zero_point = weight_parameters(rng, outputs, per_channel)
        x_scale = np.float32(rng.uniform(0.001, 0.1))
        y_scale = np.float32(x_scale * np.max(w_scale) * 64 * np.sqrt(w[0].size) * rng.uniform(0.5, 8))
        operands = (x, x_scale, np.uint8(rng.integers(0, 256)), w, w_scale, w_zero_point, y_scale,
                    np.uint8(rng.integers(0, 256)))
    return operands, attributes


@pytest.mark.parametrize("per_channel, ties", [(False, False), (True, False), (False, True)])
def test_qlinear_conv(backend, per_channel, ties):
    rng = np.random.default_rng(64 + 2 * per_channel + ties)
    checked = differing = 0
    for _ in range(60):
        operands, attributes = conv_case(rng, per_channel, ties)
        expected = qlinear_conv(*operands, **attributes, **pytorch_variants())
        np.testing.assert_array_equal(backend.qlinear_conv(*operands, **attributes), expected)
        checked += expected.size
        if ties:
            differing += int((qlinear_conv(*operands, **attributes, **{**pytorch_variants(),
                                                                       "zero_point_placement": "before_rounding"})
                              != expected).sum())
    assert checked > 2000
    assert differing > 0 or not ties


def test_pytorch_requantize_profile():
    assert PROFILES_BY_NAME["pytorch"].requantize == {
        "requantize_form": "float_multiplier", "requantize_multiplier_order": "product_then_quotient",
        "requantize_precision": "float32",
        "requantize_zero_point": "after_rounding", "accumulator": "int32", "accumulator_overflow": "wrap",
        # INT-5.4: FBGEMM sums uint8 x int8 exactly with VNNI and in int16 pairs without.
        "u8s8_products": "unpredictable", "u8s8_conv_pairs": "input_channels_last"}


def test_qlinear_unsupported(backend):
    """Only the ONNX signatures FBGEMM has: uint8 activations, int8 weights, uint8 output, no int32 bias."""
    a = np.zeros((2, 3), np.uint8)
    b = np.zeros((3, 4), np.int8)
    one, zero_u8, zero_i8 = np.float32(1), np.uint8(0), np.int8(0)
    with pytest.raises(NotImplementedError):
        backend.qlinear_matmul(a.astype(np.int8), one, zero_i8, b, one, zero_i8, one, zero_u8)
    with pytest.raises(NotImplementedError):
        backend.qlinear_matmul(a, one, zero_u8, b.astype(np.uint8), one, zero_u8, one, zero_u8)
    with pytest.raises(NotImplementedError):
        backend.qlinear_matmul(a, one, zero_u8, b, one, zero_i8, one, zero_i8)
    x = np.zeros((1, 1, 4, 4), np.uint8)
    w = np.zeros((1, 1, 3, 3), np.int8)
    with pytest.raises(NotImplementedError):
        backend.qlinear_conv(x, one, zero_u8, w, one, zero_i8, one, zero_u8, np.zeros(1, np.int32))
    with pytest.raises(NotImplementedError):
        backend.qlinear_conv(x, one, zero_u8, w, one, zero_i8, one, zero_u8, pads=[0, 0, 1, 1])


# --- QNNPACK engine (TorchQnnpackBackend, profile pytorch-qnnpack) and PT2E's reference representation
# (TorchPT2EBackend, profile pytorch-pt2e) -------------------------------------------------------------------

from refq.backends.torch import TorchPT2EBackend, TorchQnnpackBackend  # noqa: E402
from refq.integer_ops.profiles import integer_profile, qlinear_conv_outcomes, qlinear_matmul_outcomes  # noqa: E402
from refq.registry.profiles import EVERY_PROFILE_BY_NAME  # noqa: E402

needs_qnnpack = pytest.mark.skipif("qnnpack" not in torch.backends.quantized.supported_engines,
                                   reason="torch without the QNNPACK engine")


def profile_variants(name: str) -> dict[str, str]:
    """A profile's REQ-1 values as keyword arguments of the QLinear operations (INT-5.1)."""
    return integer_profile(name).requantize


@pytest.fixture(scope="module")
def qnnpack():
    return TorchQnnpackBackend()


@pytest.fixture(scope="module")
def pt2e():
    return TorchPT2EBackend()


def full_range_matmul_case(rng, per_channel: bool, a_type=np.uint8, b_type=np.int8, y_type=np.uint8):
    """Weights over the whole int8 range: QNNPACK subtracts zero points in int16 before multiplying,
    so nothing saturates on any CPU."""
    rows, depth, columns = (int(v) for v in rng.integers(1, 24, 3))
    a_info, b_info, y_info = np.iinfo(a_type), np.iinfo(b_type), np.iinfo(y_type)
    a = rng.integers(a_info.min, a_info.max + 1, (rows, depth)).astype(a_type)
    b = rng.integers(b_info.min, b_info.max + 1, (depth, columns)).astype(b_type)
    if per_channel:
        b_scale = rng.uniform(0.001, 0.1, columns).astype(np.float32)
        b_zero_point = rng.integers(-20, 20, columns).astype(b_type)
    else:
        b_scale = np.float32(rng.uniform(0.001, 0.1))
        b_zero_point = b_type(rng.integers(b_info.min // 8, b_info.max // 8 + 1))
    a_scale = np.float32(rng.uniform(0.001, 0.1))
    y_scale = np.float32(a_scale * np.max(b_scale) * 128 * np.sqrt(depth) * rng.uniform(0.3, 4))
    return (a, a_scale, a_type(rng.integers(a_info.min, a_info.max + 1)), b, b_scale, b_zero_point, y_scale,
            y_type(rng.integers(y_info.min, y_info.max + 1)))


@needs_qnnpack
@pytest.mark.parametrize("per_channel", [False, True])
def test_qnnpack_qlinear_matmul(qnnpack, per_channel):
    rng = np.random.default_rng(71 + per_channel)
    checked = 0
    for _ in range(150):
        case = full_range_matmul_case(rng, per_channel)
        expected = qlinear_matmul(*case, **profile_variants("pytorch-qnnpack"))
        np.testing.assert_array_equal(qnnpack.qlinear_matmul(*case), expected)
        checked += expected.size
    assert checked > 5000


def test_qnnpack_qlinear_matmul_ties(qnnpack):
    """Multipliers 2^-k: ties go to even and the zero point joins after rounding."""
    rng = np.random.default_rng(72)
    differing = 0
    for _ in range(100):
        a = rng.integers(0, 256, (4, int(rng.integers(1, 16)))).astype(np.uint8)
        b = rng.integers(-128, 128, (a.shape[1], 8)).astype(np.int8)
        case = (a, np.float32(1), np.uint8(rng.integers(0, 256)), b, np.float32(1), np.int8(rng.integers(-5, 5)),
                np.float32(2.0 ** int(rng.integers(1, 8))), np.uint8(rng.integers(0, 256)))
        variants = profile_variants("pytorch-qnnpack")
        expected = qlinear_matmul(*case, **variants)
        np.testing.assert_array_equal(qnnpack.qlinear_matmul(*case), expected)
        differing += int((qlinear_matmul(*case, **{**variants, "zero_point_placement": "before_rounding"})
                          != expected).sum())
        differing += int((qlinear_matmul(*case, **{**variants, "rounding": "toward_zero"}) != expected).sum())
    assert differing > 0


def test_qnnpack_qlinear_matmul_multiplier_order(qnnpack):
    """REQ-1.1/REQ-1.7: QNNPACK's multiplier is fl32(fl32(s_w s_x) * fl32(1 / s_y)) (``reciprocal``): on
    scales where FBGEMM's quotient gives another float32 multiplier, an accumulator on which the two round
    apart follows the reciprocal."""
    rng = np.random.default_rng(73)
    f32 = np.float32
    separated = 0
    while separated < 60:
        a_scale, b_scale = f32(rng.uniform(0.001, 0.1)), f32(rng.uniform(0.001, 0.1))
        y_scale = f32(a_scale * b_scale * rng.uniform(50, 3000))
        quotient = f32(f32(a_scale * b_scale) / y_scale)
        reciprocal = f32(f32(a_scale * b_scale) * f32(f32(1) / y_scale))
        if quotient == reciprocal:
            continue
        accumulators = np.arange(1, int(127 / quotient), dtype=np.int32).astype(f32)
        apart = np.flatnonzero(np.rint(accumulators * quotient) != np.rint(accumulators * reciprocal))
        if apart.size == 0:
            continue
        row, column = exact_products(int(accumulators[apart[0]]), 64)
        case = (row[None], a_scale, np.uint8(0), column[:, None], b_scale, np.int8(0), y_scale, np.uint8(0))
        expected = qlinear_matmul(*case, **profile_variants("pytorch-qnnpack"))
        assert expected[0, 0] == np.rint(accumulators[apart[0]] * reciprocal)
        assert expected[0, 0] != qlinear_matmul(*case, **profile_variants("pytorch"))[0, 0]
        np.testing.assert_array_equal(qnnpack.qlinear_matmul(*case), expected)
        separated += 1


def test_qnnpack_qlinear_matmul_accumulators(qnnpack):
    """Accumulators past 2^24 round to float32 before the multiplication; past 2^31 - 1 they wrap."""
    rng = np.random.default_rng(74)
    differing = 0
    for index in range(40):
        exponent = 25 + index % 2
        shift = exponent - 7
        total = 2**exponent + int(rng.integers(0, 64)) * 2 ** (shift - 1) + int(rng.integers(-3, 4))
        row, column = exact_products(total, 8192)
        case = (np.stack([row, row]), np.float32(1), np.uint8(0), np.stack([column, -column], axis=1),
                np.float32(1), np.int8(0), np.float32(2.0**shift), np.uint8(128 if exponent == 25 else 0))
        expected = qlinear_matmul(*case, **profile_variants("pytorch-qnnpack"))
        np.testing.assert_array_equal(qnnpack.qlinear_matmul(*case), expected)
        differing += int((qlinear_matmul(*case, **{**profile_variants("pytorch-qnnpack"), "precision": "float64"})
                          != expected).sum())
    assert differing > 0
    depth = 2**18
    case = (np.full((1, depth), 200, np.uint8), np.float32(1), np.uint8(0), np.full((depth, 1), 63, np.int8),
            np.float32(1), np.int8(0), np.float32(2.0**24), np.uint8(128))
    expected = qlinear_matmul(*case, **profile_variants("pytorch-qnnpack"))
    assert expected[0, 0] == 128 + round((200 * 63 * depth - 2**32) / 2**24)
    np.testing.assert_array_equal(qnnpack.qlinear_matmul(*case), expected)


def full_range_conv_case(rng, per_channel: bool, ties: bool, depthwise: bool, x_type=np.uint8, y_type=np.uint8,
                         dilated: bool = True):
    if depthwise:
        channels = outputs = group = int(rng.integers(1, 9))
        kernel = (int(rng.choice([3, 5])),) * 2
    else:
        group = int(rng.integers(1, 4))
        channels, outputs = group * int(rng.integers(1, 3)), group * int(rng.integers(1, 3))
        kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
    strides = [int(v) for v in rng.integers(1, 3, 2)]
    dilations = [int(v) for v in rng.integers(1, 3, 2)] if dilated else [1, 1]
    pad = [int(v) for v in rng.integers(0, 2, 2)]
    # Large enough for a non-empty output.
    spatial = [max(int(rng.integers(5, 9)), (k - 1) * d + 1 - 2 * p) for k, d, p in zip(kernel, dilations, pad)]
    x_info, y_info = np.iinfo(x_type), np.iinfo(y_type)
    x = rng.integers(x_info.min, x_info.max + 1, (int(rng.integers(1, 3)), channels, *spatial)).astype(x_type)
    w = rng.integers(-128, 128, (outputs, channels // group, *kernel)).astype(np.int8)
    attributes = dict(group=group, pads=pad * 2, strides=strides, dilations=dilations)
    x_zero_point = x_type(rng.integers(x_info.min, x_info.max + 1))
    y_zero_point = y_type(rng.integers(y_info.min, y_info.max + 1))
    if ties:
        return (x, np.float32(1), x_zero_point, w, np.float32(1), np.int8(0), np.float32(2.0 ** int(rng.integers(3, 9))),
                y_zero_point), attributes
    if per_channel:
        w_scale = rng.uniform(0.001, 0.1, outputs).astype(np.float32)
        w_zero_point = rng.integers(-10, 10, outputs).astype(np.int8)
    else:
        w_scale, w_zero_point = np.float32(rng.uniform(0.001, 0.1)), np.int8(rng.integers(-10, 10))
    x_scale = np.float32(rng.uniform(0.001, 0.1))
    y_scale = np.float32(x_scale * np.max(w_scale) * 128 * np.sqrt(w[0].size) * rng.uniform(0.3, 4))
    return (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point), attributes


@needs_qnnpack
@pytest.mark.parametrize("per_channel, ties, depthwise",
                         [(False, False, False), (True, False, False), (False, True, False), (True, False, True),
                          (False, True, True)])
def test_qnnpack_qlinear_conv(qnnpack, per_channel, ties, depthwise):
    """Including QNNPACK's depthwise kernels (3 x 3 and 5 x 5 with group = channels)."""
    rng = np.random.default_rng(75 + 2 * per_channel + ties + 4 * depthwise)
    checked = 0
    for _ in range(40):
        operands, attributes = full_range_conv_case(rng, per_channel, ties, depthwise)
        expected = qlinear_conv(*operands, **attributes, **profile_variants("pytorch-qnnpack"))
        np.testing.assert_array_equal(qnnpack.qlinear_conv(*operands, **attributes), expected)
        checked += expected.size
    assert checked > 1000


def test_qnnpack_conversion_overflow(qnnpack, pt2e):
    """REQ-1.6: a multiplier above 1 can scale an accumulator past int32. refq saturates it but marks it
    unpredictable under pytorch-qnnpack and pytorch-pt2e; every element where torch differs from
    saturation is among the marked ones (on x86 torch gives INT32_MIN, hence q_min)."""
    depth = 2**13
    a = np.full((1, depth), 255, np.uint8)
    b = np.full((depth, 3), 127, np.int8)
    b[:, 1] = -128
    b[:, 2] = 1
    case = (a, np.float32(1), np.uint8(0), b, np.float32(1), np.int8(0), np.float32(2.0**-9), np.uint8(0))
    for name, backend in (("pytorch-qnnpack", qnnpack), ("pytorch-pt2e", pt2e)):
        expected, unpredictable = qlinear_matmul_outcomes(*case, profile=name)
        assert unpredictable is not None and unpredictable[0].tolist() == [True, True, False]
        got = backend.qlinear_matmul(*case) if name == "pytorch-qnnpack" else \
            backend.qlinear_matmul(*case[:-1], np.uint8(0))
        assert not (got != expected)[~unpredictable].any()
    assert qlinear_matmul_outcomes(*case, profile="pytorch")[1] is None


def test_qnnpack_rejects(qnnpack):
    """uint8 x int8 only; an empty convolution output is an error raised before QNNPACK runs (it does not
    check and would crash the process)."""
    one, zero_u8, zero_i8 = np.float32(1), np.uint8(0), np.int8(0)
    with pytest.raises(NotImplementedError):
        qnnpack.qlinear_matmul(np.zeros((2, 3), np.int8), one, zero_i8, np.zeros((3, 4), np.int8), one, zero_i8,
                               one, zero_u8)
    with pytest.raises(ValueError):
        qnnpack.qlinear_conv(np.zeros((1, 3, 6, 9), np.uint8), one, zero_u8, np.zeros((3, 1, 5, 5), np.int8), one,
                             zero_i8, one, zero_u8, group=3, pads=[1, 1, 1, 1], strides=[2, 2], dilations=[2, 2])


@pytest.mark.parametrize("types", [(np.uint8, np.int8, np.uint8), (np.int8, np.int8, np.int8),
                                   (np.uint8, np.uint8, np.int8)])
def test_pt2e_qlinear_matmul(pt2e, types):
    """REQ-1.5: the reference representation truncates v toward zero; the rest is ONNX Runtime's."""
    rng = np.random.default_rng(76)
    checked = truncated = 0
    for _ in range(120):
        case = full_range_matmul_case(rng, False, *types)
        expected = qlinear_matmul(*case, **profile_variants("pytorch-pt2e"))
        np.testing.assert_array_equal(pt2e.qlinear_matmul(*case), expected)
        checked += expected.size
        truncated += int((qlinear_matmul(*case, **profile_variants("pytorch")) != expected).sum())
    assert checked > 5000 and truncated > checked // 10


@pytest.mark.parametrize("ties", [False, True])
def test_pt2e_qlinear_conv(pt2e, ties):
    rng = np.random.default_rng(77 + ties)
    checked = 0
    for index in range(40):
        x_type = (np.uint8, np.int8)[index % 2]
        # torch has no int32 dilated convolution ("slow_conv_dilated" not implemented for 'Int').
        operands, attributes = full_range_conv_case(rng, False, ties, index % 3 == 0, x_type, x_type, dilated=False)
        expected = qlinear_conv(*operands, **attributes, **profile_variants("pytorch-pt2e"))
        np.testing.assert_array_equal(pt2e.qlinear_conv(*operands, **attributes), expected)
        checked += expected.size
    assert checked > 1000


def test_pt2e_qlinear_rejects(pt2e):
    """The reference representation is per tensor and takes a float bias: per-column scales and an
    int32 B have no counterpart."""
    one, zero_u8, zero_i8 = np.float32(1), np.uint8(0), np.int8(0)
    with pytest.raises(NotImplementedError):
        pt2e.qlinear_matmul(np.zeros((2, 3), np.uint8), one, zero_u8, np.zeros((3, 4), np.int8),
                            np.ones(4, np.float32), zero_i8, one, zero_u8)
    with pytest.raises(NotImplementedError):
        pt2e.qlinear_conv(np.zeros((1, 1, 4, 4), np.uint8), one, zero_u8, np.zeros((1, 1, 3, 3), np.int8), one,
                          zero_i8, one, zero_u8, np.zeros(1, np.int32))


def test_torch_requantize_profiles():
    """QNNPACK differs from FBGEMM in the multiplier order, PT2E in the rounding, and both sum uint8 x int8 exactly; both leave a
    scaled accumulator beyond int32 unpredictable."""
    fbgemm = {**EVERY_PROFILE_BY_NAME["pytorch"].requantize, "u8s8_products": "exact"}
    del fbgemm["u8s8_conv_pairs"]  # QNNPACK is uint8 x uint8; PT2E's reference ops sum exactly (measured)
    assert EVERY_PROFILE_BY_NAME["pytorch-qnnpack"].requantize == {
        **fbgemm, "requantize_multiplier_order": "reciprocal", "requantize_rounding": "half_to_even",
        "requantize_conversion_overflow": "unpredictable"}
    assert EVERY_PROFILE_BY_NAME["pytorch-pt2e"].requantize == {
        **fbgemm, "requantize_rounding": "toward_zero", "requantize_conversion_overflow": "unpredictable"}


def test_torch_adapters_conform_on_vectors(tmp_path):
    """The adapters through the conformance harness on the level-1 and level-2 QLinear vectors, each
    judged against its own profile: every case passes or is unsupported, and some pass."""
    from refq.conformance.case import iter_case_paths
    from refq.conformance.generate.build import build
    from refq.conformance.harness import run_cases

    ops = ("qlinear_matmul", "qlinear_conv")
    build(level=2, out=tmp_path, ops=ops)
    paths = [*iter_case_paths(level=1, ops=set(ops)), *iter_case_paths(tmp_path, level=2, ops=set(ops))]
    for name in ("torch", "torch-qnnpack", "torch-pt2e"):
        results = run_cases(name, paths)
        statuses = {result.status for result in results}
        assert statuses <= {"pass", "unsupported"}, [(r.id, r.status, r.detail) for r in results
                                                     if r.status not in ("pass", "unsupported")]
        assert sum(result.status == "pass" for result in results) >= 7, name
