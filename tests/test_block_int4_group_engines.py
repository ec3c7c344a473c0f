"""BLK-9 against the real engines: compressed-tensors 0.20.0 (the compressed-tensors profile), HQQ 0.2.8.post1's
Quantizer with optimize=False (hqq) and ONNX Runtime 1.32's MLAS blockwise quantizer with GatherBlockQuantized
(onnxruntime-mlas-int4). Every unmasked scale, zero point and code of random groups at several group sizes and
of adversarial groups (exact ties, degenerate, signed-zero, NaN and infinite, subnormal and huge groups, HQQ's
1e-4 and 2e4 thresholds, random bit patterns, MLAS's partial last groups), bit for bit; each engine's dequantize
of its own codes equals refq's int4_group_dequantize; and the profiles part where they say they do."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from refq.block.int4_group import int4_group_dequantize_outcomes, int4_group_quantize_outcomes
from refq.conformance.harness import case_paths, run_cases

F32 = np.float32
OPS = ("int4_group_quantize", "int4_group_dequantize")


@functools.cache
def _compressed_tensors():
    pytest.importorskip("compressed_tensors")
    from refq.backends.compressed_tensors import CompressedTensorsBackend

    return CompressedTensorsBackend()


@functools.cache
def _hqq():
    pytest.importorskip("hqq")
    from refq.backends.hqq import HqqBackend

    return HqqBackend()


@functools.cache
def _mlas():
    pytest.importorskip("onnxruntime")
    from refq.backends.onnxruntime_mlas_int4 import OnnxRuntimeMlasInt4Backend

    return OnnxRuntimeMlasInt4Backend()


BACKENDS = {"compressed-tensors": _compressed_tensors, "hqq": _hqq, "onnxruntime-mlas-int4": _mlas}
#: The (profile, symmetric) pairs the engines have: HQQ has no symmetric mode.
MODES = [("compressed-tensors", True), ("compressed-tensors", False), ("hqq", False),
         ("onnxruntime-mlas-int4", True), ("onnxruntime-mlas-int4", False)]
MODE_IDS = [f"{profile}-{'sym' if symmetric else 'asym'}" for profile, symmetric in MODES]
MAX = np.finfo(F32).max
TINY = np.finfo(F32).smallest_subnormal


def _backend(profile):
    try:
        return BACKENDS[profile]()
    except pytest.skip.Exception:
        raise
    except ImportError as error:  # an engine whose own imports fail is missing here
        pytest.skip(f"{profile}: {error}")


def _float_bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=F32).view(np.uint32)


def assert_quantize_matches(profile: str, x: np.ndarray, group_size: int, symmetric: bool) -> tuple[int, int]:
    """The engine's record against refq's under ``profile``, every unmasked element of the three fields;
    returns the number of groups and of unmasked elements compared."""
    engine = _backend(profile).int4_group_quantize(x, group_size=group_size, symmetric=symmetric)
    result, mask = int4_group_quantize_outcomes(x, group_size=group_size, symmetric=symmetric, profile=profile)
    compared = 0
    for field in ("scales", "zero_points", "codes"):
        want, got = result[field], engine[field]
        assert got.shape == want.shape and got.dtype == want.dtype, (field, got.shape, got.dtype)
        open_ = np.zeros(want.shape, bool) if mask is None else mask[field]
        differ = (_float_bits(want) != _float_bits(got)) if want.dtype.kind == "f" else (want != got)
        differ &= ~open_
        where = np.argwhere(differ)[:5]
        assert not differ.any(), (profile, symmetric, group_size, field, int(differ.sum()),
                                  [(tuple(i), want[tuple(i)], got[tuple(i)]) for i in where])
        compared += int((~open_).sum())
    return result["scales"].size, compared


# --- (a) random groups ---------------------------------------------------------------------------------------


def random_rows(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    """Normal, uniform, Laplace and heavy-tailed rows, each at a scale from 2^-60 to 2^60."""
    kinds = rng.integers(0, 4, rows)[:, None]
    base = np.where(kinds == 0, rng.standard_normal((rows, columns)),
                    np.where(kinds == 1, rng.uniform(-1, 1, (rows, columns)),
                             np.where(kinds == 2, rng.laplace(size=(rows, columns)),
                                      rng.standard_cauchy((rows, columns)))))
    return (base * np.exp2(rng.integers(-60, 60, (rows, 1)))).astype(F32)


@pytest.mark.parametrize(("profile", "symmetric"), MODES, ids=MODE_IDS)
@pytest.mark.parametrize("group_size", [16, 32, 64, 128])
def test_random_groups_equal_the_engine(profile, symmetric, group_size):
    """2^20 values a group size: 122,880 groups each (profile, symmetric) over the four."""
    rng = np.random.default_rng([9, group_size])
    x = random_rows(rng, 1024, 1024)
    x[:8] = rng.standard_normal((8, 1024)).astype(F32)  # and plain normal rows, unscaled
    groups, compared = assert_quantize_matches(profile, x, group_size, symmetric)
    assert groups == x.size // group_size and compared > 0.99 * (x.size + 2 * groups)


@pytest.mark.parametrize(("profile", "symmetric"), MODES, ids=MODE_IDS)
def test_other_ranks_equal_the_engine(profile, symmetric):
    """A 1-D and a 3-D input: rows are the leading dimensions' product, groups run along the last axis."""
    rng = np.random.default_rng(3)
    for shape in ((256,), (3, 5, 64)):
        assert_quantize_matches(profile, rng.standard_normal(shape).astype(F32), 32, symmetric)


# --- (b) adversarial groups ----------------------------------------------------------------------------------


def _fill(rng, count, size, low, high):
    """``count`` groups of ``size`` float32 values in [low, high] (each row's own bounds), both bounds present."""
    low = np.broadcast_to(np.asarray(low, F32).reshape(-1, 1), (count, 1))
    high = np.broadcast_to(np.asarray(high, F32).reshape(-1, 1), (count, 1))
    t = rng.uniform(0, 1, (count, size))
    values = (low.astype(np.float64) + t * (high.astype(np.float64) - low)).astype(F32)
    values = np.minimum(np.maximum(values, low), high)
    for group in range(count):
        a, b = rng.choice(size, 2, replace=False)
        values[group, a], values[group, b] = low[group, 0], high[group, 0]
    return values


def tie_groups(rng, size: int, count: int = 64) -> np.ndarray:
    """Groups whose scale is a power of two u for each profile (extremes 7.5u, -8u, [-8u, 7u], [0, 15u], and
    HQQ's range 16u), filled with multiples of u / 16: x / s + z lands exactly on halves."""
    u = np.exp2(rng.integers(-20, 20, (count, 1))).astype(np.float64)
    multiples = rng.integers(-128, 128, (count, size)).astype(np.float64) / 16
    ends = [(-7.5, 7.5), (-8.0, 7.0), (-8.0, 7.0), (0.0, 15.0), (-8.0, 8.0), (-7.0, 8.0), (0.0, 7.5)]
    out = np.empty((count, size))
    for group in range(count):
        low, high = ends[group % len(ends)]
        values = np.clip(np.round(multiples[group] * 2) / 2 if group % 2 else multiples[group], low, high)
        values[0], values[1] = low, high
        if group % 3 == 0:
            values = -values
        out[group] = values * u[group]
    return out.astype(F32)


def special_groups(rng, size: int) -> np.ndarray:
    """Degenerate, signed-zero, non-finite, subnormal, huge and threshold groups, and random bit patterns."""
    groups = []

    def add(values):
        groups.append(np.resize(np.asarray(values, F32), size))

    for value in (0.0, -0.0, 1.0, -1.0, 3.0, -2.5, TINY, -TINY, 1e-38, MAX, -MAX, 1e30, 7.5e-4, 1e-4):
        add(np.full(size, value))
    add(np.where(rng.random(size) < 0.5, F32(0.0), F32(-0.0)))
    add(np.concatenate([[-0.0, 0.0], np.zeros(size - 2)]))
    add(np.concatenate([[0.0, -0.0], np.full(size - 2, -0.0)]))
    mixed = np.where(rng.random(size) < 0.5, F32(0.0), F32(-0.0))
    mixed[::5] = 1.5
    add(mixed)
    mixed = mixed.copy()
    mixed[::5] = -1.5
    add(mixed)
    normal = rng.standard_normal(size).astype(F32)
    for special in (np.nan, np.inf, -np.inf):
        for where in (0, size // 2, size - 1):
            values = normal.copy()
            values[where] = special
            add(values)
    values = normal.copy()
    values[:2] = np.inf, -np.inf
    add(values)
    add(np.full(size, np.nan))
    add(np.full(size, np.inf))
    add(np.full(size, -np.inf))
    add(np.where(rng.random(size) < 0.5, np.nan, np.inf))
    values = normal.copy()
    values[rng.random(size) < 0.3] = np.nan
    add(values)
    # Subnormal groups: scales and inverse scales out of range, quotients that overflow.
    add(rng.integers(-(1 << 23), 1 << 23, size) * TINY)
    add(rng.integers(-16, 16, size) * TINY)
    add(rng.integers(0, 16, size) * TINY)
    add(np.concatenate([[TINY, -TINY], np.zeros(size - 2)]))
    # Huge groups: a range that overflows to infinity, extremes at float32's largest.
    add(np.concatenate([[MAX, -MAX], rng.uniform(-1, 1, size - 2) * 1e38]))
    add(np.concatenate([[MAX], rng.uniform(0, 1, size - 1) * MAX]))
    add(np.concatenate([[-MAX], rng.uniform(-1, 0, size - 1) * MAX]))
    add(rng.uniform(-1, 1, size) * 1e36)
    # HQQ's thresholds: ranges at and around float32(1e-4) (r = 1 below it) and around 7.5e-4 (r clamped to 2e4).
    for edge in (F32(1e-4), F32(15 / 2e4), F32(7.5e-4)):
        for steps in (-2, -1, 0, 1, 2):
            spread = edge
            for _ in range(abs(steps)):
                spread = np.nextafter(spread, F32(np.inf if steps > 0 else 0))
            for low in (F32(0.0), F32(-0.25), F32(3.0), F32(-spread)):
                high = F32(low + spread)
                add(_fill(rng, 1, size, low, high)[0])
    # Ranges spanning many magnitudes, and random float32 bit patterns (NaNs, infinities, subnormals included).
    for _ in range(8):
        add((rng.standard_normal(size) * np.exp2(rng.integers(-149, 127, size))).astype(F32))
    for _ in range(16):
        add(rng.integers(0, 1 << 32, size, dtype=np.uint64).astype(np.uint32).view(F32))
    # Constant groups but for one element, and groups entirely on one side of zero.
    for value in (1.0, -1.0, 1e-3):
        values = np.full(size, F32(value))
        values[size // 3] = F32(value) * F32(1.0000001)
        add(values)
    add(rng.uniform(5, 6, size))
    add(rng.uniform(-6, -5, size))
    return np.stack(groups)


def adversarial(size: int, seed: int = 21) -> np.ndarray:
    rng = np.random.default_rng([seed, size])
    groups = np.concatenate([tie_groups(rng, size), special_groups(rng, size)])
    # Rows of four groups (the group count padded with all-equal groups), so groups never cross rows.
    pad = (-len(groups)) % 4
    groups = np.concatenate([groups, np.ones((pad, size), F32)])
    return groups.reshape(-1, 4 * size)


@pytest.mark.parametrize(("profile", "symmetric"), MODES, ids=MODE_IDS)
@pytest.mark.parametrize("group_size", [16, 32, 128])
def test_adversarial_groups_equal_the_engine(profile, symmetric, group_size):
    x = adversarial(group_size)
    groups, _ = assert_quantize_matches(profile, x, group_size, symmetric)
    assert groups == x.size // group_size


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize(("group_size", "columns"), [(16, 40), (32, 100), (64, 65), (128, 300), (256, 257),
                                                     (16, 7), (32, 31)])
def test_mlas_partial_last_groups_equal_the_engine(symmetric, group_size, columns):
    """MLAS's blocks, a last one shorter where the group size does not divide the row."""
    rng = np.random.default_rng([columns, group_size])
    special = special_groups(rng, group_size).reshape(-1)
    rows = 64
    x = random_rows(rng, rows, columns).reshape(-1)
    x[: min(special.size, x.size)] = special[: x.size]
    x = x.reshape(rows, columns)
    x[-1, -1] = np.nan
    x[-2, -(columns % group_size or group_size):] = 0.0
    groups, _ = assert_quantize_matches("onnxruntime-mlas-int4", x, group_size, symmetric)
    assert groups == rows * -(-columns // group_size)


def test_adversarial_groups_have_ties_and_open_elements():
    """The adversarial groups reach what they are for: exact ties (half_away and half_even codes differ under
    every profile) and masked elements (NaN groups, signed zeros)."""
    x = adversarial(32)
    for profile, symmetric in MODES:
        even = int4_group_quantize_outcomes(x, group_size=32, symmetric=symmetric, profile=profile,
                                            int4_rounding="half_even")[0]
        away = int4_group_quantize_outcomes(x, group_size=32, symmetric=symmetric, profile=profile,
                                            int4_rounding="half_away")[0]
        assert (even["codes"] != away["codes"]).sum() > 10, (profile, symmetric)
        mask = int4_group_quantize_outcomes(x, group_size=32, symmetric=symmetric, profile=profile)[1]
        assert mask is not None and mask["codes"].any(), (profile, symmetric)
    # HQQ's two thresholds are met on both sides: r = 1 (a range up to float32(1e-4)), r = 2e4 (clamped, a
    # range just over 1e-4 or 7.5e-4) and r just under 2e4.
    scales = int4_group_quantize_outcomes(x, group_size=32, symmetric=False, profile="hqq")[0]["scales"]
    unit, clamped = scales == 1.0, scales == F32(1 / F32(2e4))
    assert unit.sum() > 4 and clamped.sum() > 4
    inverse = 1 / scales.astype(np.float64)
    assert ((inverse > 19990) & (inverse < 2e4)).any()  # just under the clamp, around a range of 7.5e-4


@pytest.mark.parametrize("profile", ["compressed-tensors", "hqq"])
def test_group_sizes_that_do_not_divide_the_row_are_declined(profile):
    with pytest.raises(NotImplementedError, match="does not divide"):
        _backend(profile).int4_group_quantize(np.ones((2, 48), F32), group_size=32, symmetric=False)


def test_declined_inputs():
    with pytest.raises(NotImplementedError, match="symmetric"):
        _hqq().int4_group_quantize(np.ones((2, 32), F32), group_size=32, symmetric=True)
    with pytest.raises(NotImplementedError, match="group_size 48"):
        _mlas().int4_group_quantize(np.ones((2, 96), F32), group_size=48)
    with pytest.raises(NotImplementedError, match="group_size 512"):
        _mlas().int4_group_quantize(np.ones((2, 512), F32), group_size=512)
    ones, zeros = np.ones((2, 1), F32), np.zeros((2, 1), F32)
    with pytest.raises(NotImplementedError, match="signed codes"):
        _mlas().int4_group_dequantize(ones, zeros, np.full((2, 32), -1, np.int8), group_size=32)
    with pytest.raises(NotImplementedError, match="zero points"):
        _mlas().int4_group_dequantize(ones, ones / 2, np.zeros((2, 32), np.int8), group_size=32)
    with pytest.raises(NotImplementedError, match="zero points"):
        _compressed_tensors().int4_group_dequantize(ones, ones * 8, np.zeros((2, 32), np.int8), group_size=32)
    with pytest.raises(NotImplementedError, match="zero points"):
        _compressed_tensors().int4_group_dequantize(ones, ones * np.nan, np.zeros((2, 32), np.int8), group_size=32)


# --- (c) dequantize ------------------------------------------------------------------------------------------


def assert_dequantize_matches(profile, scales, zero_points, codes, group_size) -> int:
    engine = _backend(profile).int4_group_dequantize(scales, zero_points, codes, group_size=group_size)
    result, nan = int4_group_dequantize_outcomes(scales, zero_points, codes, group_size=group_size)
    assert engine.shape == result.shape and engine.dtype == F32
    if nan is not None:
        assert np.array_equal(np.isnan(engine), nan), profile
    keep = ~np.isnan(result)
    differ = (_float_bits(result) != _float_bits(engine)) & keep
    assert not differ.any(), (profile, int(differ.sum()),
                              [(tuple(i), result[tuple(i)], engine[tuple(i)]) for i in np.argwhere(differ)[:5]])
    return int(keep.sum())


@pytest.mark.parametrize(("profile", "symmetric"), MODES, ids=MODE_IDS)
@pytest.mark.parametrize("group_size", [16, 128])
def test_dequantize_of_the_engines_own_codes_equals_refq(profile, symmetric, group_size):
    rng = np.random.default_rng([5, group_size])
    special = adversarial(group_size)
    x = np.concatenate([random_rows(rng, 256, special.shape[1]), special])
    engine = _backend(profile).int4_group_quantize(x, group_size=group_size, symmetric=symmetric)
    compared = assert_dequantize_matches(profile, engine["scales"], engine["zero_points"], engine["codes"],
                                         group_size)
    assert compared > 0.9 * x.size


#: Scales of every kind: both signs, zeros, subnormals, the largest, infinities, NaN.
def _scales(rng, shape):
    scales = (rng.uniform(1, 2, shape) * np.exp2(rng.integers(-149, 128, shape))).astype(F32)
    scales[rng.random(shape) < 0.5] *= -1
    flat = scales.reshape(-1)
    flat[:9] = [0.0, -0.0, np.inf, -np.inf, np.nan, TINY, -TINY, MAX, 1.0]
    return scales


@pytest.mark.parametrize("profile", list(BACKENDS))
def test_dequantize_equals_refq_on_every_code_and_many_scales(profile):
    """Each code each engine stores, under 4,096 groups of scales of every exponent and zero points of its
    kind (compressed-tensors: int8 from -8 to 7; HQQ: any float32; MLAS: 0 to 15)."""
    rng = np.random.default_rng(11)
    rows, size = 64, 16
    scales = _scales(rng, (rows, 64))
    low, high = (-8, 7) if profile == "compressed-tensors" else (0, 15)
    codes = np.tile(np.arange(low, high + 1, dtype=np.int8), (rows, 64 * size // 16))
    rng.shuffle(codes, axis=1)
    if profile == "hqq":
        zero_points = (rng.standard_normal((rows, 64)) * 8).astype(F32)
        zero_points.reshape(-1)[:6] = [np.nan, np.inf, -np.inf, -0.0, 1e30, TINY]
    else:
        zero_points = rng.integers(low, high, (rows, 64), endpoint=True).astype(F32)
    assert assert_dequantize_matches(profile, scales, zero_points, codes, size) > 0.9 * codes.size


# --- (d) the profiles differ ---------------------------------------------------------------------------------


def test_symmetric_scales_differ_between_compressed_tensors_and_mlas():
    """A group whose extreme is positive: compressed-tensors' scale is max|x| / 7.5, MLAS's is the extreme over
    -8, negative; each engine agrees with its own profile and not with the other's."""
    x = np.array([[4.0, -1.0, 0.5, 3.0] * 8], F32)
    ct = _compressed_tensors().int4_group_quantize(x, group_size=32, symmetric=True)
    mlas = _mlas().int4_group_quantize(x, group_size=32, symmetric=True)
    assert ct["scales"][0, 0] == F32(F32(4.0) / F32(7.5)) and mlas["scales"][0, 0] == F32(-0.5)
    for engine, profile, other in ((ct, "compressed-tensors", "onnxruntime-mlas-int4"),
                                   (mlas, "onnxruntime-mlas-int4", "compressed-tensors")):
        own = int4_group_quantize_outcomes(x, group_size=32, symmetric=True, profile=profile)[0]
        theirs = int4_group_quantize_outcomes(x, group_size=32, symmetric=True, profile=other)[0]
        assert own["scales"].tobytes() == engine["scales"].tobytes()
        assert theirs["scales"].tobytes() != engine["scales"].tobytes()


def test_ties_round_half_even_in_compressed_tensors_and_away_in_mlas():
    """A group on [-8, 7] has scale 1 in both (asymmetric); 0.5, 2.5 and -1.5 are exact ties: compressed-tensors
    rounds x / s + z half to even, MLAS roundf(x * r + z) away from zero (z = 8, so the ties stay ties)."""
    x = np.zeros((1, 32), F32)
    x[0, :5] = [-8.0, 7.0, 0.5, 2.5, -1.5]
    ct = _compressed_tensors().int4_group_quantize(x, group_size=32, symmetric=False)
    mlas = _mlas().int4_group_quantize(x, group_size=32, symmetric=False)
    assert ct["scales"][0, 0] == mlas["scales"][0, 0] == 1.0
    ct_levels = ct["codes"][0, 2:5].astype(int) - int(ct["zero_points"][0, 0])
    mlas_levels = mlas["codes"][0, 2:5].astype(int) - int(mlas["zero_points"][0, 0])
    assert ct_levels.tolist() == [0, 2, -2] and mlas_levels.tolist() == [1, 3, -1]
    for engine, profile in ((ct, "compressed-tensors"), (mlas, "onnxruntime-mlas-int4")):
        assert engine.tobytes() == int4_group_quantize_outcomes(x, group_size=32, symmetric=False,
                                                                profile=profile)[0].tobytes()
    swapped = int4_group_quantize_outcomes(x, group_size=32, symmetric=False, profile="compressed-tensors",
                                           int4_rounding="half_away")[0]
    assert swapped["codes"].tobytes() != ct["codes"].tobytes()


def test_hqq_keeps_its_zero_point_unrounded_where_the_others_round():
    """A group on [-0.3, 1.2]: HQQ's zero point -m * r is 3 (0.3 * 10) as a float, MLAS's and
    compressed-tensors' are integers; asymmetric scales differ too (1 / r against (M - m) / 15)."""
    x = np.zeros((1, 32), F32)
    x[0, :3] = [-0.3, 1.2, 0.1]
    hqq = _hqq().int4_group_quantize(x, group_size=32, symmetric=False)
    result = int4_group_quantize_outcomes(x, group_size=32, symmetric=False, profile="hqq")[0]
    assert hqq.tobytes() == result.tobytes()
    for other in ("compressed-tensors", "onnxruntime-mlas-int4"):
        theirs = int4_group_quantize_outcomes(x, group_size=32, symmetric=False, profile=other)[0]
        assert theirs["zero_points"][0, 0] == np.round(theirs["zero_points"][0, 0])
    x[0, 0] = -0.31
    hqq = _hqq().int4_group_quantize(x, group_size=32, symmetric=False)
    assert hqq["zero_points"][0, 0] != np.round(hqq["zero_points"][0, 0])


# --- the level-1 vectors through the harness -----------------------------------------------------------------


@pytest.mark.parametrize("profile", list(BACKENDS))
def test_each_backend_conforms_to_its_profile(profile):
    """The built-in backend on the level-1 vectors of its profile, through the harness (a worker process):
    every case passes or is one the engine cannot run (compressed-tensors and HQQ: a partial last group;
    compressed-tensors: zero points that are not int8 integers; MLAS: a group size of 24)."""
    _backend(profile)  # skips where the engine is not installed
    results = run_cases(profile, case_paths(ops=OPS))
    assert results and all(result.status in ("pass", "unsupported") for result in results), \
        [(r.id, r.status, r.detail) for r in results if r.status not in ("pass", "unsupported")]
    assert sum(result.status == "pass" and result.op == "int4_group_quantize" for result in results) >= 2
    unsupported = [result.detail for result in results if result.status == "unsupported"]
    assert all("NotImplementedError" in detail for detail in unsupported), unsupported


def test_each_profile_fails_the_other_engines():
    """Judged under another engine's profile, each backend fails quantize cases."""
    for profile in BACKENDS:
        _backend(profile)
    pairs = (("compressed-tensors", "onnxruntime-mlas-int4"), ("onnxruntime-mlas-int4", "compressed-tensors"),
             ("hqq", "compressed-tensors"), ("hqq", "onnxruntime-mlas-int4"))
    for backend, other in pairs:
        results = run_cases(backend, case_paths(ops=["int4_group_quantize"]), profile=other)
        assert any(result.status == "fail" for result in results), (backend, other)
