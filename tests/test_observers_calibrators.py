"""OBS-4: refq's calibrators against onnxruntime.quantization.calibrate.HistogramCollector, bit for bit."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.observers.calibrators import (
    collect_absolute_values,
    collect_values,
    entropy_range,
    percentile_range,
)

calibrate = pytest.importorskip("onnxruntime.quantization.calibrate")

F32 = np.float32
METHODS = (("percentile", False), ("percentile", True), ("entropy", False))


def bits(value) -> int:
    return int(np.asarray(value, dtype=np.float32).view(np.uint32))


def batches_for(rng, trial):
    batches = []
    for index in range(int(rng.integers(1, 4))):
        n = int(rng.integers(5, 2000))
        kind = trial % 4
        values = [rng.standard_normal(n), rng.standard_t(2, n), rng.exponential(1, n) + 0.5,
                  rng.uniform(-1, 1, n) * (index + 1)][kind]
        batches.append(values.astype(F32))
    return batches


def compare(batches, method, symmetric, percentile=99.9):
    bins = 2048 if method == "percentile" else 128
    collector = calibrate.HistogramCollector(method, symmetric, bins, 128, percentile, "same")
    state = None
    with contextlib.redirect_stdout(io.StringIO()):
        for batch in batches:
            collector.collect({"t": batch})
            state = collect_absolute_values(state, batch, bins) if symmetric else collect_values(state, batch, bins)
        expected = collector.compute_collection_result()["t"]
    counts, edges = collector.histogram_dict["t"][:2]
    assert np.array_equal(counts, state.counts)
    assert np.array_equal(edges.astype(F32).view(np.uint32), state.edges.view(np.uint32))
    if method == "entropy":
        low, high = entropy_range(state, 128)
    else:
        low, high = percentile_range(state, percentile, symmetric)
    assert (bits(expected[0]), bits(expected[1])) == (bits(low), bits(high))


@pytest.mark.parametrize("method,symmetric", METHODS)
def test_calibrator(method, symmetric):
    rng = np.random.default_rng(11 + symmetric + len(method))
    for trial in range(12):
        compare(batches_for(rng, trial), method, symmetric)


@pytest.mark.slow
@pytest.mark.parametrize("method,symmetric", METHODS)
def test_calibrator_sweep(method, symmetric):
    rng = np.random.default_rng(500 + symmetric + len(method))
    for trial in range(150):
        compare(batches_for(rng, trial), method, symmetric, percentile=float(rng.choice([99.0, 99.9, 99.999])))


def test_calibrator_pure_python():
    rng = np.random.default_rng(2)
    batch = rng.standard_normal(500).astype(F32)
    compiled = collect_values(None, batch, 128)
    with pure_python():
        interpreted = collect_values(None, batch, 128)
    assert np.array_equal(compiled.counts, interpreted.counts)


def test_calibrator_bad_input():
    with pytest.raises(RefqValueError, match="batch"):
        collect_values(None, np.array([np.nan, np.nan], F32))
    with pytest.raises(RefqValueError, match="batch"):
        collect_values(None, np.array([1.0, np.inf], F32))
    with pytest.raises(RefqTypeError, match="batch"):
        collect_values(None, [1.0, 2.0])
    state = collect_values(None, np.array([1.0, -2.0, np.nan], F32))
    assert (float(state.min_val), float(state.max_val)) == (-2.0, 1.0)
    empty = collect_values(None, np.zeros(0, F32), 128)
    with pytest.raises(RefqValueError, match="histogram"):
        percentile_range(empty)
    with pytest.raises(RefqValueError, match="percentile"):
        percentile_range(state, 101.0)
    with pytest.raises(RefqValueError, match="quantized_bins"):
        entropy_range(state, 4096)
