"""Chapter QAT: fake quantization forward and backward, bit-exact against PyTorch's autograd
and against the exact oracle (tests/oracle/qat.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.qat import (
    fake_quantize,
    fake_quantize_backward,
    fake_quantize_mask,
    learnable_fake_quantize,
    learnable_fake_quantize_backward,
)
from refq.qat.learnable import element_gradients
from refq.registry import integer_format
from refq.numbers.integers import integer_range
from tests.oracle import qat as oracle
from tests.oracle.affine import float32_value

torch = pytest.importorskip("torch")

F32 = np.float32
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 3e38], dtype=F32)


@pytest.fixture
def one_thread():
    """Sums above ATen's grain size are split across threads; one thread fixes their order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def same_bits(a, b) -> int:
    """The number of elements whose float32 bit patterns differ (NaN patterns included)."""
    a = np.ascontiguousarray(np.asarray(a, dtype=F32))
    b = np.ascontiguousarray(np.asarray(b, dtype=F32))
    assert a.shape == b.shape
    return int(np.count_nonzero(a.view(np.uint32) != b.view(np.uint32)))


def same_sums(a, b) -> int:
    """Like :func:`same_bits`, but any NaN equals any NaN: which NaN operand a sum of NaNs of
    both signs propagates depends on operand order inside a vector add (QAT-2.4)."""
    a, b = np.asarray(a, dtype=F32), np.asarray(b, dtype=F32)
    both_nan = np.isnan(a) & np.isnan(b)
    return same_bits(np.where(both_nan, F32(np.nan), a), np.where(both_nan, F32(np.nan), b))


def near_ties(rng, scale, count, spread=150):
    """Inputs whose x / s lands within a few ulps of a half-integer: where rounding decides."""
    halves = rng.integers(-spread, spread, count) + 0.5
    x = (halves * np.float64(scale)).astype(F32)
    return (x.view(np.int32) + rng.integers(-2, 3, count).astype(np.int32)).view(F32)


def random_inputs(rng, shape, scale):
    count = int(np.prod(shape))
    x = (rng.standard_normal(count) * rng.choice([1.0, 30.0, 300.0]) * scale).astype(F32)
    ties = near_ties(rng, scale, count)
    x = np.where(rng.random(count) < 0.3, ties, x)
    x[rng.choice(count, min(len(SPECIALS), count), replace=False)] = SPECIALS[:min(len(SPECIALS), count)]
    grad = rng.standard_normal(count).astype(F32)
    grad[rng.choice(count, 4, replace=False)] = [np.nan, np.inf, -np.inf, -0.0]
    return x.reshape(shape), grad.reshape(shape)


def quant_range(dtype):
    return integer_range(integer_format(dtype))


def torch_fake_quantize(x, grad, scale, zero_point, axis, dtype):
    """Forward output and x.grad of torch.fake_quantize_per_{tensor,channel}_affine."""
    qmin, qmax = quant_range(dtype)
    X = torch.tensor(x, requires_grad=True)
    if axis is None:
        y = torch.fake_quantize_per_tensor_affine(X, float(scale), int(zero_point), qmin, qmax)
    else:
        y = torch.fake_quantize_per_channel_affine(X, torch.tensor(scale), torch.tensor(zero_point, dtype=torch.int32),
                                                   axis, qmin, qmax)
    y.backward(torch.tensor(grad))
    return y.detach().numpy(), X.grad.numpy()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4", "int16"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_fake_quantize(dtype, axis):
    """Forward, mask and straight-through backward equal torch's, bit for bit (NaN, ±inf,
    ties, signed zeros in x and in the gradient included)."""
    rng = np.random.default_rng(6 + (axis or 0))
    qmin, qmax = quant_range(dtype)
    checked = 0
    for _ in range(12):
        shape = (7, 43)
        if axis is None:
            scale = F32(rng.uniform(0.005, 3.0))
            zero_point = int(rng.integers(qmin, qmax + 1))
        else:
            scale = rng.uniform(0.005, 3.0, shape[axis]).astype(F32)
            zero_point = rng.integers(qmin, qmax + 1, shape[axis])
        x, grad = random_inputs(rng, shape, float(np.max(scale)))
        expected, expected_grad = torch_fake_quantize(x, grad, scale, zero_point, axis, dtype)
        assert same_bits(fake_quantize(x, scale, zero_point, dtype=dtype, axis=axis), expected) == 0
        mask = fake_quantize_mask(x, scale, zero_point, dtype=dtype, axis=axis)
        assert same_bits(fake_quantize_backward(grad, mask), expected_grad) == 0
        checked += x.size
    assert checked == 12 * 7 * 43


def test_fake_quantize_mask():
    """QAT-1.2 against the oracle: the rounded value decides, ties to even."""
    rng = np.random.default_rng(12)
    qmin, qmax = -128, 127
    for _ in range(40):
        scale = F32(rng.uniform(0.01, 2.0))
        zero_point = int(rng.integers(-20, 21))
        x = np.concatenate([near_ties(rng, scale, 60, spread=140), SPECIALS])
        mask = fake_quantize_mask(x, scale, zero_point)
        for value, flag in zip(x, mask):
            exact = float32_value(value) if np.isfinite(value) else float(value)
            assert flag == oracle.mask(exact, float32_value(scale), zero_point, qmin, qmax), (value, scale, zero_point)


def test_fake_quantize_mask_edges():
    """Half a step beyond the range still passes the gradient when it rounds into the range."""
    # x / s = 127.5 rounds to 128 (even): outside; 126.5 rounds to 126: inside; -128.5 to -128: inside.
    mask = fake_quantize_mask(np.array([127.5, 126.5, -128.5, -129.5, 127.49998], F32), F32(1.0), 0)
    assert mask.tolist() == [False, True, True, False, True]


def torch_learnable(x, grad, scale, zero_point, axis, dtype, grad_factor):
    qmin, qmax = quant_range(dtype)
    X = torch.tensor(x, requires_grad=True)
    S = torch.tensor(np.atleast_1d(scale), requires_grad=True)
    Z = torch.tensor(np.atleast_1d(zero_point), requires_grad=True)
    if axis is None:
        y = torch._fake_quantize_learnable_per_tensor_affine(X, S, Z, qmin, qmax, grad_factor)
    else:
        y = torch._fake_quantize_learnable_per_channel_affine(X, S, Z, axis, qmin, qmax, grad_factor)
    y.backward(torch.tensor(grad))
    return y.detach().numpy(), X.grad.numpy(), S.grad.numpy(), Z.grad.numpy()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4"])
@pytest.mark.parametrize("axis", [None, 0, 2])
def test_learnable_fake_quantize(dtype, axis, one_thread):
    """LSQ forward and all three gradients equal torch's bit for bit where refq says the
    summation order is known; elsewhere the element gradients still agree exactly."""
    rng = np.random.default_rng(31 + (axis or 0))
    qmin, qmax = quant_range(dtype)
    for trial in range(10):
        shape = (6, 5, 41)
        channels = 1 if axis is None else shape[axis]
        scale = rng.uniform(0.005, 3.0, channels).astype(F32)
        # Halves and values beyond the range exercise QAT-2.1's rounding and clamping.
        zero_point = np.where(rng.random(channels) < 0.4, rng.integers(qmin, qmax + 1, channels) + 0.5,
                              rng.uniform(qmin - 3, qmax + 3, channels)).astype(F32)
        grad_factor = [1.0, 0.1, 1 / 3, 2.0 ** -7][trial % 4]
        x, grad = random_inputs(rng, shape, float(scale.max()))
        if axis is None:
            scale, zero_point = scale[0], zero_point[0]
        y, dx, dscale, dzero_point = torch_learnable(x, grad, scale, zero_point, axis, dtype, grad_factor)
        forward = learnable_fake_quantize(x, scale, zero_point, axis=axis, dtype=dtype, grad_factor=grad_factor)
        result = learnable_fake_quantize_backward(grad, x, scale, zero_point, axis=axis, dtype=dtype,
                                                  grad_factor=grad_factor)
        assert same_bits(forward, y) == 0
        assert same_bits(result.x, dx) == 0
        known = ~result.unpredictable
        assert known.all() == (axis != 2)
        assert same_sums(result.scale[known], dscale[known]) == 0
        assert same_sums(result.zero_point[known], dzero_point[known]) == 0


def test_learnable_fake_quantize_large(one_thread):
    """Per tensor, 100 000 elements: torch sums them in one cascade on one thread."""
    rng = np.random.default_rng(5)
    x, grad = random_inputs(rng, (100_000,), 0.05)
    scale, zero_point = F32(0.05), F32(-3.5)
    _, dx, dscale, dzero_point = torch_learnable(x, grad, scale, zero_point, None, "int8", 1.0)
    result = learnable_fake_quantize_backward(grad, x, scale, zero_point)
    assert result.unpredictable.tolist() == [True]  # torch may use several threads
    assert same_bits(result.x, dx) == 0
    assert same_sums(result.scale, dscale) == 0 and same_sums(result.zero_point, dzero_point) == 0


def test_learnable_zero_points_differ():
    """QAT-2.1: a zero point of 2.5 is 2 in the forward pass and 3 in the per-tensor backward."""
    x = np.array([2.6], F32)  # x / s + z: 2.6 + 2 -> 5 forward; fma(2.6, 1, 3) = 5.6 -> 6 backward
    assert learnable_fake_quantize(x, F32(1.0), F32(2.5)).tolist() == [3.0]
    result = learnable_fake_quantize_backward(np.array([1.0], F32), x, F32(1.0), F32(2.5))
    # In range: dscale = (n - z) * s - x = (6 - 3) - 2.6
    assert result.scale[0] == F32(F32(3.0) - F32(2.6))


def test_element_gradients():
    """QAT-2.3 against the exact oracle on finite inputs (near ties, beyond the range, huge)."""
    rng = np.random.default_rng(23)
    qmin, qmax = -128, 127
    checked = 0
    for _ in range(30):
        scale = F32(rng.uniform(0.001, 4.0))
        zero_point = int(rng.integers(-10, 11))
        grad_factor = F32(rng.choice([1.0, 0.3, 1e-3]))
        x = np.concatenate([near_ties(rng, scale, 30, spread=140), np.array([1e30, -1e30, 3e38], F32),
                            (rng.standard_normal(10) * 300 * scale).astype(F32)])
        grads = rng.standard_normal(x.size).astype(F32)
        for value, grad in zip(x, grads):
            got = element_gradients(value, grad, scale, F32(zero_point), qmin, qmax, grad_factor)
            want = oracle.element_gradients(float32_value(value), float32_value(grad), float32_value(scale),
                                            zero_point, qmin, qmax, float32_value(grad_factor))
            assert [Fraction(float(v)) for v in got] == list(want), (value, grad, scale, zero_point)
            checked += 1
    assert checked == 30 * 43


def test_learnable_backward_zero_point_oracle():
    for value in [2.5, 3.5, -2.5, -3.5, -0.5, -0.6, 0.49999997, 200.0, -200.0, 126.6]:
        for per_channel in (False, True):
            from refq.qat.learnable import learnable_zero_point

            got = learnable_zero_point(np.array([value], F32), -128, 127, per_channel=per_channel, forward=False)[0]
            assert got == oracle.backward_zero_point(float32_value(F32(value)), -128, 127, per_channel)


def test_qat_pure_python():
    """The compiled kernels and the interpreted source give the same bits."""
    rng = np.random.default_rng(3)
    x, grad = random_inputs(rng, (4, 9), 0.1)
    scale, zero_point = rng.uniform(0.05, 0.2, 4).astype(F32), rng.uniform(-5, 5, 4).astype(F32)
    compiled = learnable_fake_quantize_backward(grad, x, scale, zero_point, axis=0)
    mask = fake_quantize_mask(x, scale, np.rint(zero_point).astype(int), axis=0)
    compiled_pass = fake_quantize_backward(grad, mask)
    with pure_python(), np.errstate(all="ignore"):  # NaN and infinity inputs are on purpose
        interpreted = learnable_fake_quantize_backward(grad, x, scale, zero_point, axis=0)
        assert (fake_quantize_mask(x, scale, np.rint(zero_point).astype(int), axis=0) == mask).all()
        assert same_bits(fake_quantize_backward(grad, mask), compiled_pass) == 0
    for got, want in zip(compiled[:3], interpreted[:3]):
        assert same_bits(got, want) == 0


def test_qat_arguments():
    x = np.zeros(3, F32)
    with pytest.raises(RefqValueError, match="^zero_point: must be finite"):
        learnable_fake_quantize(x, 1.0, np.nan)
    with pytest.raises(RefqValueError, match="^scale: "):
        learnable_fake_quantize(x, [1.0, 2.0], 0.0)
    with pytest.raises(RefqValueError, match="^grad_output: "):
        learnable_fake_quantize_backward(np.zeros(2, F32), x, 1.0, 0.0)
    with pytest.raises(RefqTypeError, match="^grad_factor: "):
        learnable_fake_quantize(x, 1.0, 0.0, grad_factor="1")
    with pytest.raises(RefqTypeError, match="^mask: "):
        fake_quantize_backward(x, np.ones(3, np.int8))
    with pytest.raises(RefqValueError, match="^mask: "):
        fake_quantize_backward(x, np.ones(2, bool))
    with pytest.raises(RefqValueError, match="^zero_point: "):
        fake_quantize_mask(x, 1.0, 300)
