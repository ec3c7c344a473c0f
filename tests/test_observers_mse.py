"""OBS-4.7, OBS-4.8: refq's MSE-optimal range search — against the Fraction oracle, JIT against pure Python."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.observers import operations
from refq.observers.mse import candidate_bound, mse_search, round_trip_error
from refq.observers.qparams import DTYPE_RANGES
from tests.oracle import mse as oracle

TARGETS = [("int8", "symmetric"), ("int8", "affine"), ("uint8", "affine"), ("uint8", "symmetric"),
           ("uint4", "affine"), ("uint4", "symmetric")]


def bits(value) -> int:
    return int(np.float32(value).view(np.uint32))


def small_batch(rng) -> np.ndarray:
    """A few values of one scale and sign mix, some exactly on the grid, some outliers."""
    size = int(rng.integers(1, 24))
    magnitude = 10.0 ** rng.uniform(-6, 6)
    values = rng.laplace(size=size) * magnitude
    kind = rng.integers(0, 5)
    if kind == 1:
        values = np.abs(values)
    elif kind == 2:
        values = -np.abs(values)
    elif kind == 3:
        values = np.round(values / magnitude * 4) * magnitude / 4
    elif kind == 4:
        values[0] *= 50
    return values.astype(np.float32)


def symmetric_zero_point(dtype: str) -> int:
    return 128 if dtype == "uint8" else 0


def test_search_mse_matches_oracle():
    rng = np.random.default_rng(47)
    picked_smaller = 0
    for case in range(150):
        dtype, qscheme = TARGETS[case % len(TARGETS)]
        candidates = int(rng.choice([1, 3, 16]))
        batches = [small_batch(rng) for _ in range(int(rng.integers(1, 3)))]
        result = operations.search_mse(batches, candidates=candidates, dtype=dtype, qscheme=qscheme)
        values = [Fraction(float(x)) for batch in batches for x in batch]
        quant_min, quant_max = DTYPE_RANGES[dtype]
        table = oracle.search(values, candidates, quant_min, quant_max, qscheme == "symmetric",
                              symmetric_zero_point(dtype))
        assert table is not None
        k = oracle.choice(table, 5)
        _, low, high, scale, zero_point, rounded, exact = table[k - 1]
        assert result["candidate"] == k, case
        assert (float(result["clip_min"]), float(result["clip_max"])) == (float(low), float(high)), case
        assert bits(result["scale"]) == bits(float(scale)) and result["zero_point"] == zero_point, case
        assert result["error"] == float(rounded), case
        # The float64 sum is a means of computing; on these batches it picks what exact arithmetic picks.
        assert oracle.choice(table, 6) == k, case
        picked_smaller += k < candidates
    assert picked_smaller > 10


@pytest.mark.parametrize("dtype,qscheme", TARGETS)
def test_search_mse_jit_equals_pure_python(dtype, qscheme):
    rng = np.random.default_rng(len(dtype) + len(qscheme))
    batches = [small_batch(rng) for _ in range(3)]
    batches.append(np.array([np.inf, -np.inf, 1e-45, -3e38, 3e38, -0.0], np.float32))
    compiled = operations.search_mse(batches, candidates=7, dtype=dtype, qscheme=qscheme)
    with pure_python():
        interpreted = operations.search_mse(batches, candidates=7, dtype=dtype, qscheme=qscheme)
    assert compiled["candidate"] == interpreted["candidate"]
    assert np.float64(compiled["error"]).view(np.uint64) == np.float64(interpreted["error"]).view(np.uint64)
    assert bits(compiled["scale"]) == bits(interpreted["scale"])
    assert compiled["zero_point"] == interpreted["zero_point"]


def test_round_trip_error_jit_equals_pure_python():
    rng = np.random.default_rng(3)
    for _ in range(40):
        values = (rng.standard_normal(50) * 10.0 ** rng.uniform(-40, 38)).astype(np.float32)
        values[rng.integers(50)] = np.float32(rng.choice([np.inf, -np.inf, 0.0]))
        scale = np.float32(10.0 ** rng.uniform(-40, 36))
        zero_point = np.int64(rng.integers(-128, 128))
        arguments = (values, scale, zero_point, np.int64(-128), np.int64(127))
        compiled = round_trip_error(*arguments)
        with pure_python(), np.errstate(over="ignore"):
            interpreted = round_trip_error(*arguments)
        assert np.float64(compiled).view(np.uint64) == np.float64(interpreted).view(np.uint64)


def test_candidate_bound():
    rng = np.random.default_rng(5)
    for _ in range(500):
        bound = np.float32(rng.standard_normal() * 10.0 ** rng.uniform(-45, 38))
        candidates = int(rng.integers(1, 1000))
        k = int(rng.integers(1, candidates + 1))
        expected = oracle.shrink(Fraction(float(bound)), k, candidates)
        assert float(candidate_bound(bound, k, candidates)) == float(expected)
        with pure_python():
            assert bits(candidate_bound(bound, k, candidates)) == bits(candidate_bound(bound, k, candidates))
    assert bits(candidate_bound(np.float32(-3.4e38), 100, 100)) == bits(np.float32(-3.4e38))


@pytest.mark.parametrize("dtype,qscheme", TARGETS)
def test_search_mse_last_candidate_is_minmax(dtype, qscheme):
    batch = np.array([-0.7, 0.1, 2.5, 1.25], np.float32)
    result = operations.search_mse([batch], candidates=1, dtype=dtype, qscheme=qscheme)
    minmax = operations.observe_minmax([batch], dtype=dtype, qscheme=qscheme)
    assert bits(result["scale"]) == bits(minmax["scale"]) and result["zero_point"] == minmax["zero_point"]


def test_search_mse_infinite_scale_never_wins():
    batch = np.array([-3e38, 3e38, 1.0], np.float32)
    assert not np.isfinite(operations.observe_minmax([batch])["scale"])
    result = operations.search_mse([batch], candidates=4)
    assert result["candidate"] < 4 and np.isfinite(result["scale"])
    assert not np.isfinite(operations.search_mse([batch], candidates=1)["error"])


def test_search_mse_ties_go_to_the_larger_range():
    # Every candidate of an all-zero batch is the range [0, 0] and loses nothing.
    result = operations.search_mse([np.zeros(5, np.float32)], candidates=10)
    assert result["candidate"] == 10 and result["error"] == 0.0


def test_search_mse_ignores_infinities():
    batch = np.array([-1.5, 0.25, 3.0, 0.5], np.float32)
    plain = operations.search_mse([batch], candidates=20, dtype="uint4")
    with_inf = operations.search_mse([batch, np.array([np.inf, -np.inf], np.float32)], candidates=20, dtype="uint4")
    assert plain == with_inf


@pytest.mark.parametrize("dtype,qscheme", [("uint4", "affine"), ("uint4", "symmetric"), ("int8", "symmetric")])
def test_search_mse_clips_heavy_tails(dtype, qscheme):
    rng = np.random.default_rng(11)
    batch = rng.standard_t(3, size=5000).astype(np.float32)
    result = operations.search_mse([batch], dtype=dtype, qscheme=qscheme)
    minmax = operations.observe_minmax([batch], dtype=dtype, qscheme=qscheme)
    minmax_error = round_trip_error(batch, np.float32(minmax["scale"]), np.int64(minmax["zero_point"]),
                                    np.int64(DTYPE_RANGES[dtype][0]), np.int64(DTYPE_RANGES[dtype][1]))
    assert result["candidate"] < 100
    assert result["scale"] < minmax["scale"]
    assert result["error"] < minmax_error


@pytest.mark.parametrize("batches,error", [
    ([np.array([1.0, np.nan], np.float32)], RefqValueError),
    ([], RefqValueError),
    ([np.zeros(0, np.float32)], RefqValueError),
    ([np.array([np.inf, -np.inf], np.float32)], RefqValueError),
    (np.zeros(3, np.float32), RefqTypeError),
    (["abc"], RefqTypeError),
    ([np.array(["a"])], RefqTypeError),
    (3.0, RefqTypeError),
])
def test_search_mse_bad_batches(batches, error):
    with pytest.raises(error, match="batches"):
        operations.search_mse(batches)


@pytest.mark.parametrize("options,error,argument", [
    ({"candidates": 0}, RefqValueError, "candidates"),
    ({"candidates": 2**20 + 1}, RefqValueError, "candidates"),
    ({"candidates": True}, RefqTypeError, "candidates"),
    ({"candidates": 2.0}, RefqTypeError, "candidates"),
    ({"qscheme": "affine_float_qparams"}, RefqValueError, "qscheme"),
    ({"dtype": "float8"}, RefqValueError, "dtype"),
    ({"dtype": "uint8", "qscheme": "symmetric", "reduce_range": True}, RefqValueError, "reduce_range"),
])
def test_search_mse_bad_options(options, error, argument):
    with pytest.raises(error, match=argument):
        mse_search([np.ones(3, np.float32)], **options)
