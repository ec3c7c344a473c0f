"""INT-4 against PyTorch's quantized linear and conv2d on the FBGEMM engine: refq under the
``pytorch`` profile's requantization variants gives the same bits.

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
        "requantize_form": "float_multiplier", "requantize_precision": "float32",
        "requantize_zero_point": "after_rounding", "accumulator": "int32", "accumulator_overflow": "wrap"}


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
