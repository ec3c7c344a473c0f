"""OBS-3: refq's histogram observer against torch.ao.quantization.HistogramObserver, bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.observers.histogram import histogram_init, histogram_qparams, histogram_update
from refq.observers.torch_reductions import cascade_sum_float32, cumsum_float32, histc_accumulate, linspace_float32

torch = pytest.importorskip("torch")
from torch.ao.quantization import HistogramObserver  # noqa: E402

F32 = np.float32


def bits(value) -> int:
    return int(np.asarray(value, dtype=np.float32).view(np.uint32))


def batch_sequence(rng, kind):
    batches = []
    for index in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 3000))
        values = {
            "normal": lambda: rng.standard_normal(n),
            "uniform": lambda: rng.uniform(-1, 3, n),
            "heavy": lambda: rng.standard_t(2, n),
            "positive": lambda: rng.exponential(1, n),
            "growing": lambda: rng.standard_normal(n) * (index + 1) ** 2 + index,
            "constant": lambda: np.full(n, 0.75 * (index % 2 + 1)),
        }[kind]()
        batches.append(values.astype(F32))
    return batches


def run_both(batches, dtype="uint8", qscheme="affine"):
    torch_dtype = {"uint8": torch.quint8, "int8": torch.qint8}[dtype]
    torch_scheme = {"affine": torch.per_tensor_affine, "symmetric": torch.per_tensor_symmetric}[qscheme]
    observer = HistogramObserver(dtype=torch_dtype, qscheme=torch_scheme)
    state = histogram_init()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in batches:
            observer(torch.from_numpy(batch))
            state = histogram_update(state, batch)
        assert np.array_equal(observer.histogram.numpy().view(np.uint32), state.histogram.view(np.uint32))
        assert bits(observer.min_val.item()) == bits(state.min_val)
        assert bits(observer.max_val.item()) == bits(state.max_val)
        new_min, new_max = observer._non_linear_param_search()
        scale, zero_point = observer.calculate_qparams()
    qparams, searched, unpredictable = histogram_qparams(state, dtype=dtype, qscheme=qscheme)
    assert not unpredictable
    assert (bits(new_min.item()), bits(new_max.item())) == (bits(searched[0]), bits(searched[1]))
    assert bits(scale.item()) == bits(qparams.scale)
    assert int(zero_point.item()) == int(qparams.zero_point)
    return state


KINDS = ("normal", "uniform", "heavy", "positive", "growing", "constant")


@pytest.mark.parametrize("kind", KINDS)
def test_histogram_observer(kind):
    rng = np.random.default_rng(sum(map(ord, kind)))
    for trial in range(4):
        scheme = "symmetric" if trial % 2 else "affine"
        run_both(batch_sequence(rng, kind), dtype="int8" if trial == 3 else "uint8", qscheme=scheme)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_histogram_observer_sweep(kind):
    rng = np.random.default_rng(1000 + sum(map(ord, kind)))
    for _ in range(100):
        run_both(batch_sequence(rng, kind))


def test_histogram_observer_pure_python():
    rng = np.random.default_rng(7)
    batches = [(rng.standard_normal(200) * s).astype(F32) for s in (1, 3)]
    compiled = histogram_init(64)
    for batch in batches:
        compiled = histogram_update(compiled, batch)
    with pure_python():
        interpreted = histogram_init(64)
        for batch in batches:
            interpreted = histogram_update(interpreted, batch)
        qp_interpreted, range_interpreted, _ = histogram_qparams(interpreted)
    qp_compiled, range_compiled, _ = histogram_qparams(compiled)
    assert np.array_equal(compiled.histogram.view(np.uint32), interpreted.histogram.view(np.uint32))
    assert tuple(map(bits, range_compiled)) == tuple(map(bits, range_interpreted))
    assert bits(qp_compiled.scale) == bits(qp_interpreted.scale)


def test_torch_primitives():
    rng = np.random.default_rng(3)
    for trial in range(60):
        n = int(rng.choice([1, 31, 100, 2047, 2048, 2049, 5000, 32767]))
        values = (rng.random(n) ** 3 * rng.choice([1, 1e5])).astype(F32)
        assert bits(torch.from_numpy(values).sum().item()) == bits(cascade_sum_float32(values))
        out = np.empty(n, F32)
        cumsum_float32(values, out)
        assert np.array_equal(torch.from_numpy(values).cumsum(0).numpy(), out)
        start, end = sorted((rng.standard_normal(2) * 10.0 ** rng.integers(-4, 5)).astype(F32))
        steps = int(rng.choice([2, 3, 2049, 32769]))
        out = np.empty(steps, F32)
        linspace_float32(start, end, out)
        assert np.array_equal(torch.linspace(float(start), float(end), steps).numpy().view(np.uint32),
                              out.view(np.uint32))
        sample = (rng.standard_normal(500) * 3).astype(F32)
        counts = np.zeros(2048, F32)
        histc_accumulate(sample, sample.min(), sample.max(), counts)
        assert np.array_equal(torch.histc(torch.from_numpy(sample), 2048, float(sample.min()),
                                          float(sample.max())).numpy(), counts)


def test_histogram_bad_input():
    state = histogram_init()
    assert histogram_update(state, np.zeros(0, F32)) is state
    assert histogram_update(state, np.array([np.inf, -np.inf], F32)) is state
    with pytest.raises(RefqValueError, match="batch"):
        histogram_update(state, np.array([1.0, np.nan], F32))
    with pytest.raises(RefqTypeError, match="batch"):
        histogram_update(state, np.zeros(3, np.float64))
    with pytest.raises(RefqValueError, match="bins"):
        histogram_init(0)
    with pytest.raises(RefqValueError, match="qscheme"):
        histogram_qparams(state, qscheme="affine_float_qparams")
    qparams, searched, _ = histogram_qparams(state)
    assert (float(qparams.scale), int(qparams.zero_point), searched) == (1.0, 0, None)
    # infinities are dropped like torch drops them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_both([np.array([1.0, np.inf, -2.0], F32), np.array([-np.inf], F32), np.array([5.0], F32)])
    observer = HistogramObserver()
    observer(torch.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError):
        observer(torch.tensor([5.0, float("nan")]))
