"""OBS-1: quantization parameters from a range — against the Fraction oracle and torch."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.observers.qparams import DTYPE_RANGES, FLOAT32_EPS, qparams_from_range, quantization_range
from tests.oracle import observers as oracle

torch = pytest.importorskip("torch")
from torch.ao.quantization.observer import PerChannelMinMaxObserver  # noqa: E402

TORCH_DTYPES = {"int8": torch.qint8, "uint8": torch.quint8, "int32": torch.qint32, "int16": torch.int16,
                "uint16": torch.uint16}
TORCH_SCHEMES = {"affine": torch.per_channel_affine, "symmetric": torch.per_channel_symmetric,
                 "affine_float_qparams": torch.per_channel_affine_float_qparams}


def bits(value) -> np.ndarray:
    return np.asarray(value, np.float32).view(np.uint32)


def float32s(draw_bits) -> np.float32:
    return np.array([draw_bits], np.uint32).view(np.float32)[0]


finite_float32 = st.integers(0, 2**32 - 1).map(float32s).filter(np.isfinite)
nice_float32 = st.floats(-1e6, 1e6, width=32)
any_float32 = st.one_of(finite_float32, nice_float32, st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38]))


def torch_qparams(low, high, dtype, qscheme, reduce_range=False, quant_min=None, quant_max=None):
    """torch's PerChannelMinMaxObserver.calculate_qparams on the given channel ranges."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observer = PerChannelMinMaxObserver(dtype=TORCH_DTYPES[dtype], qscheme=TORCH_SCHEMES[qscheme],
                                            reduce_range=reduce_range, quant_min=quant_min, quant_max=quant_max)
        observer.min_val = torch.tensor(low, dtype=torch.float32)
        observer.max_val = torch.tensor(high, dtype=torch.float32)
        scale, zero_point = observer.calculate_qparams()
    return scale.numpy(), zero_point.numpy()


def test_quantization_range():
    assert (quantization_range("int8").quant_min, quantization_range("int8").quant_max) == (-128, 127)
    assert quantization_range("int8", reduce_range=True).quant_min == -64
    assert quantization_range("uint8", reduce_range=True).quant_max == 127
    assert quantization_range("int16", reduce_range=True).quant_max == 2**15 - 1  # only 8-bit types reduce
    narrow = quantization_range("int8", narrow=True)
    assert (narrow.quant_min, narrow.quant_max, narrow.customized) == (-127, 127, True)
    custom = quantization_range("int8", quant_min=-7, quant_max=7, reduce_range=True)
    assert (custom.quant_min, custom.quant_max) == (-4, 3)  # floor division, as torch
    for kwargs in ({"quant_min": 1, "quant_max": 5}, {"quant_min": 0, "quant_max": 0},
                   {"quant_min": -200, "quant_max": 100}, {"quant_min": -1}, {"narrow": True, "quant_min": -1,
                                                                                "quant_max": 1}):
        with pytest.raises(RefqValueError):
            quantization_range("int8", **kwargs)
    with pytest.raises(RefqValueError, match="narrow"):
        quantization_range("uint8", narrow=True)
    with pytest.raises(RefqValueError, match="dtype"):
        quantization_range("float8")
    with pytest.raises(RefqTypeError, match="quant_min"):
        quantization_range("int8", quant_min=-1.0, quant_max=1)


@pytest.mark.parametrize("dtype", sorted(set(DTYPE_RANGES) - {"uint4"}))
@pytest.mark.parametrize("qscheme", ["affine", "symmetric"])
@given(low=any_float32, high=any_float32)
def test_qparams_from_range_oracle(dtype, qscheme, low, high):
    low, high = min(low, high), max(low, high)
    target = quantization_range(dtype)
    result = qparams_from_range(np.float32(low), np.float32(high), dtype=dtype, qscheme=qscheme)
    exact_low, exact_high = Fraction(float(low)), Fraction(float(high))
    eps = Fraction(float(FLOAT32_EPS))
    if qscheme == "affine":
        expected = oracle.affine(exact_low, exact_high, target.quant_min, target.quant_max, eps)
    else:
        zero_point = {"uint8": 128, "uint16": 2**15}.get(dtype, 0)
        expected = oracle.symmetric(exact_low, exact_high, target.quant_min, target.quant_max, eps, zero_point)
    if expected is None:
        assert not np.isfinite(result.scale) or result.unpredictable
        return
    assert Fraction(float(result.scale)) == expected[0]
    assert result.zero_point == expected[1]


def random_ranges(rng, count):
    magnitudes = 10.0 ** rng.uniform(-44, 38.5, count)
    kinds = rng.integers(0, 5, count)
    a = rng.standard_normal(count) * magnitudes
    b = rng.standard_normal(count) * magnitudes
    a = np.where(kinds == 1, np.abs(a), np.where(kinds == 2, -np.abs(a), a))
    b = np.where(kinds == 1, np.abs(b), np.where(kinds == 2, -np.abs(b), b))
    b = np.where(kinds == 3, a * (1 + 1e-6), b)  # tiny ranges
    with np.errstate(over="ignore"):
        low = np.minimum(a, b).astype(np.float32)
        high = np.maximum(a, b).astype(np.float32)
    specials = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-45, 3.4e38], np.float32)
    low[:20] = rng.choice(specials, 20)
    high[:20] = rng.choice(specials, 20)
    swap = low > high
    low[swap], high[swap] = high[swap], low[swap]
    return low, high


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int16", "uint16"])
@pytest.mark.parametrize("qscheme", ["affine", "symmetric", "affine_float_qparams"])
@pytest.mark.parametrize("reduce_range", [False, True])
def test_qparams_from_range_torch(dtype, qscheme, reduce_range):
    """2,000 ranges per combination, per channel, bit-exact with torch (x86) incl. NaN/inf bounds."""
    if qscheme == "symmetric" and reduce_range and dtype == "uint8":
        with pytest.raises(RefqValueError, match="reduce_range"):
            qparams_from_range(np.float32(0), np.float32(1), dtype=dtype, qscheme=qscheme, reduce_range=True)
        return
    rng = np.random.default_rng(sum(map(ord, dtype + qscheme)) + reduce_range)
    low, high = random_ranges(rng, 2000)
    expected_scale, expected_zero_point = torch_qparams(low, high, dtype, qscheme, reduce_range)
    result = qparams_from_range(low, high, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range)
    assert np.array_equal(bits(result.scale), bits(expected_scale)) or np.array_equal(
        result.scale, expected_scale, equal_nan=True)
    if qscheme == "affine_float_qparams":
        assert np.array_equal(result.zero_point, expected_zero_point, equal_nan=True)
    else:
        assert np.array_equal(result.zero_point, expected_zero_point)
    with pure_python():
        again = qparams_from_range(low[:300], high[:300], dtype=dtype, qscheme=qscheme, reduce_range=reduce_range)
    assert np.array_equal(bits(again.scale), bits(result.scale[:300]))
    assert np.array_equal(again.zero_point, result.zero_point[:300], equal_nan=True)
    assert np.array_equal(again.unpredictable, result.unpredictable[:300])


@pytest.mark.parametrize("quant_range", [(-127, 127), (0, 15), (-8, 7), (-3, 100)])
@pytest.mark.parametrize("qscheme", ["affine", "symmetric"])
def test_qparams_custom_range_torch(quant_range, qscheme):
    rng = np.random.default_rng(quant_range[1])
    low, high = random_ranges(rng, 1000)
    for dtype in ("int8", "uint8"):
        quant_min, quant_max = quant_range
        expected = torch_qparams(low, high, dtype, qscheme, False, quant_min, quant_max)
        result = qparams_from_range(low, high, dtype=dtype, qscheme=qscheme, quant_min=quant_min, quant_max=quant_max)
        assert np.array_equal(bits(result.scale), bits(expected[0])) or np.array_equal(result.scale, expected[0],
                                                                                       equal_nan=True)
        assert np.array_equal(result.zero_point, expected[1])


def test_qparams_symmetric_divisor_is_half_the_steps():
    """int8 symmetric divides by 127.5, not 127; narrow int8 divides by 127; uint8 zero point 128."""
    result = qparams_from_range(np.float32(-1), np.float32(1), dtype="int8", qscheme="symmetric")
    assert result.scale == np.float32(1) / np.float32(127.5) and result.zero_point == 0
    narrow = qparams_from_range(np.float32(-1), np.float32(1), dtype="int8", qscheme="symmetric", narrow=True)
    assert narrow.scale == np.float32(1) / np.float32(127)
    assert qparams_from_range(np.float32(-1), np.float32(1), dtype="uint8", qscheme="symmetric").zero_point == 128
    custom = qparams_from_range(np.float32(-1), np.float32(1), dtype="uint8", qscheme="symmetric", quant_min=0,
                                quant_max=15)
    assert custom.zero_point == 7


def test_qparams_degenerate_ranges():
    """Unobserved range: (1.0, 0). min > max: error. Zero range: the eps floor. NaN/inf: torch's values."""
    unobserved = qparams_from_range(np.float32(np.inf), np.float32(-np.inf))
    assert (unobserved.scale, unobserved.zero_point) == (np.float32(1.0), 0)
    with pytest.raises(RefqValueError, match="min_val"):
        qparams_from_range(np.float32(2), np.float32(1))
    with pytest.raises(RefqValueError, match=r"min_val\[1\]"):
        qparams_from_range(np.float32([0, 2]), np.float32([1, 1]))
    empty = qparams_from_range(np.empty(0, np.float32), np.empty(0, np.float32))
    assert empty.scale.tolist() == [1.0] and empty.zero_point.tolist() == [0]
    zero = qparams_from_range(np.float32(0), np.float32(0))
    assert zero.scale == FLOAT32_EPS and zero.zero_point == 0
    infinite = qparams_from_range(np.float32(1), np.float32(np.inf), dtype="int8")
    assert infinite.scale == np.inf and infinite.zero_point == -128 and not infinite.unpredictable
    nan = qparams_from_range(np.float32(np.nan), np.float32(np.nan), dtype="int8")
    assert np.isnan(nan.scale) and nan.zero_point == 127 and nan.unpredictable  # x86: NaN -> -2^31
    nan_symmetric = qparams_from_range(np.float32(np.nan), np.float32(np.nan), dtype="int8", qscheme="symmetric")
    assert np.isnan(nan_symmetric.scale) and nan_symmetric.zero_point == 0 and not nan_symmetric.unpredictable


def test_qparams_bad_arguments():
    with pytest.raises(RefqValueError, match="qscheme"):
        qparams_from_range(0.0, 1.0, qscheme="per_tensor_affine")
    with pytest.raises(RefqValueError, match="eps"):
        qparams_from_range(0.0, 1.0, eps=-1.0)
    with pytest.raises(RefqTypeError, match="min_val"):
        qparams_from_range("0", 1.0)
    with pytest.raises(RefqValueError, match="max_val"):
        qparams_from_range(np.zeros(2), np.zeros(3))
