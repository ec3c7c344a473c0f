"""BLK-9, weight-only int4 groups: refq against the exact oracle (tests/oracle/int4_group.py) on the generator's
adversarial rows and its partial last group under every profile, symmetric and asymmetric, and under every value
of each variant as an override of each profile; every unmasked bit of the scales, zero points and codes and every
mask; the compiled kernels against the pure-Python path of the same source; that every pair of values of each
variant gives a different result on some input; dequantize of every code under special scales and zero points;
bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refq._jit import pure_python
from refq.block.int4_group import (VARIANTS as REFQ_VARIANTS, int4_group_dequantize, int4_group_dequantize_outcomes,
                                   int4_group_quantize, int4_group_quantize_outcomes)
from refq.conformance.generate.int4_group import (DEQUANTIZE_SCALES, DEQUANTIZE_ZERO_POINTS, PROFILES,
                                                  dequantize_cases, quantize_cases)
from refq.errors import RefqTypeError, RefqValueError
from refq.registry.profiles import EVERY_PROFILE_BY_NAME
from refq.registry.variants import VARIANTS
from tests.oracle import int4_group as oracle

F32 = np.float32
VALUES = {variant.name: tuple(value.name for value in variant.values) for variant in VARIANTS
          if variant.operation == "block_int4"}
#: The generator's level-1 quantize inputs: (name, x, group_size, symmetric, profiles).
CASES = [(case.name, case.inputs["x"], case.attributes["group_size"], case.attributes["symmetric"], case.profiles)
         for case in quantize_cases(1)]
#: The smaller inputs the override sweep runs on: the groups of 32 and the partial last group.
SMALL = [(name, x, size) for name, x, size, symmetric, _ in CASES if size == 32 and not symmetric]


def profile_variants(profile: str, **overrides) -> dict:
    return {**EVERY_PROFILE_BY_NAME[profile].int4_group, **overrides}


def allows_symmetric(profile: str, **overrides) -> bool:
    return profile_variants(profile, **overrides)["int4_symmetric_scale"] != "unsupported"


def bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, F32).view(np.uint32)


def masks(result: np.ndarray, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if mask is None:
        return (np.zeros(result["scales"].shape, bool), np.zeros(result["zero_points"].shape, bool),
                np.zeros(result["codes"].shape, bool))
    return mask["scales"], mask["zero_points"], mask["codes"]


def assert_matches_oracle(x: np.ndarray, group_size: int, symmetric: bool, profile: str, **overrides) -> int:
    """refq's outcome of ``x`` against the oracle's, group by group; the number of groups checked."""
    result, mask = int4_group_quantize_outcomes(x, group_size=group_size, symmetric=symmetric, profile=profile,
                                                **overrides)
    variants = profile_variants(profile, **overrides)
    columns = x.shape[-1]
    rows = x.reshape(-1, columns)
    scales, zero_points = result["scales"].reshape(rows.shape[0], -1), result["zero_points"].reshape(rows.shape[0], -1)
    codes = result["codes"].reshape(rows.shape)
    scale_open, point_open, code_open = (m.reshape(shape) for m, shape in
                                         zip(masks(result, mask), (scales.shape, scales.shape, codes.shape)))
    checked = 0
    for row, group in itertools.product(range(rows.shape[0]), range(scales.shape[1])):
        where = slice(group * group_size, (group + 1) * group_size)
        elements = [float(v) for v in rows[row, where]]
        want = oracle.quantize_group(elements, symmetric, variants)
        context = (profile, overrides, symmetric, row, group, elements[:4])
        assert scale_open[row, group] == want["scale_open"], context
        if not want["scale_open"]:
            assert bits(scales[row, group]) == bits(want["scale"]), (*context, scales[row, group], want["scale"])
        assert point_open[row, group] == want["zero_point_open"], context
        if not want["zero_point_open"]:
            assert bits(zero_points[row, group]) == bits(want["zero_point"]), (
                *context, zero_points[row, group], want["zero_point"])
        assert code_open[row, where].tolist() == want["codes_open"], context
        got = codes[row, where].tolist()
        wrong = [(i, elements[i], got[i], want["codes"][i]) for i in range(len(got))
                 if not want["codes_open"][i] and got[i] != want["codes"][i]]
        assert not wrong, (*context, wrong[:5])
        checked += 1
    return checked


def test_the_variants_are_the_registry_variants():
    assert set(REFQ_VARIANTS) == set(VALUES)
    for profile in PROFILES:
        assert set(profile_variants(profile)) == set(VALUES)


@pytest.mark.parametrize("profile", PROFILES)
def test_quantize_equals_oracle_under_each_profile(profile):
    """Every level-1 case of the generator the profile runs: groups of 32 and 128 and the partial last group."""
    checked = expected = 0
    for name, x, group_size, symmetric, profiles in CASES:
        if profile in profiles:
            checked += assert_matches_oracle(x, group_size, symmetric, profile)
            expected += x.size // x.shape[-1] * -(-x.shape[-1] // group_size)
    assert checked == expected > 0


@pytest.mark.parametrize("variant", sorted(VALUES))
@pytest.mark.parametrize("profile", PROFILES)
def test_quantize_equals_oracle_under_every_value_of_each_variant(profile, variant):
    """Each value of ``variant`` overriding the profile's, symmetric and asymmetric, on the groups of 32 and the
    partial last group; a symmetric call where the result has no symmetric mode is refused."""
    for value, symmetric, (name, x, group_size) in itertools.product(VALUES[variant], (True, False), SMALL):
        if symmetric and not allows_symmetric(profile, **{variant: value}):
            with pytest.raises(RefqValueError, match="^symmetric: "):
                int4_group_quantize_outcomes(x, group_size=group_size, symmetric=True, profile=profile,
                                             **{variant: value})
            continue
        assert_matches_oracle(x, group_size, symmetric, profile, **{variant: value})


FLOATS = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-4, -1e-4, 3.4e38, -3.4e38, 2.0 ** -149, 0.5, -0.5, 7.5, -8.0, 1.5]),
    st.integers(-30, 30).map(lambda k: k / 2))


@settings(max_examples=300, deadline=None)
@given(group=st.lists(FLOATS, min_size=1, max_size=12), size=st.integers(1, 8), symmetric=st.booleans(),
       choice=st.tuples(*(st.sampled_from(VALUES[name]) for name in sorted(VALUES))))
def test_quantize_equals_oracle_on_drawn_groups(group, size, symmetric, choice):
    """Drawn rows (special values, ties and any float32) under drawn values of every variant."""
    overrides = dict(zip(sorted(VALUES), choice))
    if symmetric and overrides["int4_symmetric_scale"] == "unsupported":
        symmetric = False
    assert_matches_oracle(np.array(group, F32).reshape(1, -1), size, symmetric, "compressed-tensors", **overrides)


def test_zero_sign_of_torch_reductions_is_open_where_it_shows():
    """A group of zeros of both signs: HQQ's zero point -m * r is a zero of either sign, its codes are not
    affected; MLAS's scan keeps the first zero, so nothing is open there."""
    x = np.array([[0.0, -0.0, 0.0, -0.0]], F32)
    result, mask = int4_group_quantize_outcomes(x, group_size=4, symmetric=False, profile="hqq")
    assert mask["zero_points"].all() and not mask["codes"].any() and not mask["scales"].any()
    result, mask = int4_group_quantize_outcomes(x, group_size=4, symmetric=True, profile="onnxruntime-mlas-int4")
    assert mask is None and np.signbit(result["scales"][0, 0])  # +0 / -8 = -0
    result, mask = int4_group_quantize_outcomes(x, group_size=4, symmetric=True, profile="onnxruntime-mlas-int4",
                                                int4_minmax_nan="propagates")
    assert mask["scales"].all()
    # m = +0 with M = -0 makes d = -0 and r = -inf (s = -0, then 2^-23): under the inverse range without HQQ's unit
    # inverse, the scale, zero point and codes all depend on the zeros' signs.
    result, mask = int4_group_quantize_outcomes(x, group_size=4, symmetric=False,
                                                int4_asymmetric_scale="inverse_range")
    assert mask["scales"].all() and mask["zero_points"].all() and mask["codes"].all()
    # compressed-tensors' scale of a zero group is 0 / 7.5 = +0 whatever the zero (0 / 0 makes its codes open).
    result, mask = int4_group_quantize_outcomes(x, group_size=4, symmetric=True,
                                                int4_degenerate_scale="zero_reciprocal")
    assert not mask["scales"].any() and not mask["zero_points"].any() and mask["codes"].all()
    assert int4_group_quantize_outcomes(x, group_size=4, symmetric=True, int4_degenerate_scale="zero_reciprocal",
                                        int4_element_scaling="reciprocal")[1] is None


def test_range_scan_ignoring_nan():
    """BLK-9.2 ``ignored``: an all-NaN group has m = FLT_MAX and M = -FLT_MAX; NaNs are passed over."""
    top = float(np.finfo(F32).max)
    assert oracle.range_ignored([oracle.NAN] * 3) == (oracle.const(oracle.F32_MAX), oracle.const(-oracle.F32_MAX))
    low, high = oracle.range_ignored([oracle.from_float(v) for v in (math.nan, -0.0, 0.0, 2.0, math.nan)])
    assert low == (-1, 0) and high == (1, 2)  # the first zero is kept
    x = np.full((1, 4), np.nan, F32)
    result, _ = int4_group_quantize_outcomes(x, group_size=4, symmetric=True, profile="onnxruntime-mlas-int4")
    assert result["scales"][0, 0] == F32(top / -8)
    result, _ = int4_group_quantize_outcomes(x, group_size=4, symmetric=True, int4_minmax_nan="ignored")
    assert result["scales"][0, 0] == F32(top / 7.5)


def interpreted(call, *args, **kwargs):
    with pure_python(), np.errstate(all="ignore"):
        return call(*args, **kwargs)


def same_outcome(first, second) -> bool:
    (a, a_mask), (b, b_mask) = first, second
    return a.tobytes() == b.tobytes() and (a_mask is None) == (b_mask is None) and (
        a_mask is None or a_mask.tobytes() == b_mask.tobytes())


@pytest.mark.parametrize("profile", PROFILES)
def test_jit_equals_pure_python(profile):
    for name, x, group_size, symmetric, profiles in CASES:
        if profile not in profiles or group_size == 128:
            continue
        for variant, value in [(None, None), *((v, value) for v in sorted(VALUES) for value in VALUES[v])]:
            overrides = {} if variant is None else {variant: value}
            if symmetric and not allows_symmetric(profile, **overrides):
                continue
            kwargs = dict(group_size=group_size, symmetric=symmetric, profile=profile, **overrides)
            assert same_outcome(int4_group_quantize_outcomes(x, **kwargs),
                                interpreted(int4_group_quantize_outcomes, x, **kwargs)), (name, overrides)
    x = next(case[1] for case in CASES if case[2] == 128)
    kwargs = dict(group_size=128, symmetric=False, profile=profile)
    assert same_outcome(int4_group_quantize_outcomes(x, **kwargs),
                        interpreted(int4_group_quantize_outcomes, x, **kwargs))
    scales, zero_points, codes = dequantize_input()
    assert same_outcome(int4_group_dequantize_outcomes(scales, zero_points, codes, group_size=24),
                        interpreted(int4_group_dequantize_outcomes, scales, zero_points, codes, group_size=24))


def observably_different(first, second) -> bool:
    """Two outcomes (or error messages) differ: an error against a result, a different mask, or a bit that both
    leave predictable."""
    if isinstance(first, str) or isinstance(second, str):
        return first != second
    (a, a_mask), (b, b_mask) = first, second
    for field, open_a, open_b in zip(("scales", "zero_points", "codes"), masks(a, a_mask), masks(b, b_mask)):
        if not np.array_equal(open_a, open_b):
            return True
        left = a[field].view(np.uint32 if a[field].dtype == F32 else np.int8)
        right = b[field].view(np.uint32 if b[field].dtype == F32 else np.int8)
        if (left != right)[~open_a].any():
            return True
    return False


def outcome_or_error(x, group_size, symmetric, profile, **overrides):
    try:
        return int4_group_quantize_outcomes(x, group_size=group_size, symmetric=symmetric, profile=profile,
                                            **overrides)
    except RefqValueError as error:
        return str(error)


PAIRS = [(name, first, second) for name in sorted(VALUES) for first, second in itertools.combinations(VALUES[name], 2)]


@pytest.mark.parametrize("variant, first, second", PAIRS, ids=[f"{n}-{a}-{b}" for n, a, b in PAIRS])
def test_each_pair_of_variant_values_is_observable(variant, first, second):
    """Some profile, symmetric or not, on the generator's groups of 32, where the two values give results that
    differ in a predictable bit or a mask (or one is refused)."""
    for (name, x, group_size), profile, symmetric in itertools.product(SMALL[:1], PROFILES, (False, True)):
        if observably_different(outcome_or_error(x, group_size, symmetric, profile, **{variant: first}),
                                outcome_or_error(x, group_size, symmetric, profile, **{variant: second})):
            return
    pytest.fail(f"no input of the generator tells {variant} = {first} from {second}")


def test_examples_of_each_variant():
    """Small groups where each variant's values part, worked by hand."""
    def one(values, symmetric=False, profile="compressed-tensors", **overrides):
        result, _ = int4_group_quantize_outcomes(np.array(values, F32), group_size=len(values), symmetric=symmetric,
                                                 profile=profile, **overrides)
        return float(result["scales"][0]), float(result["zero_points"][0]), result["codes"].tolist()

    # [-6.5, 8.5]: s = 1, z^ = 6.5 (unsigned): ties to 6 or away to 7.
    assert one([-6.5, 8.5], int4_codes="unsigned")[1] == 6.0
    assert one([-6.5, 8.5], int4_codes="unsigned", int4_zero_point="half_away")[1] == 7.0
    # An all-positive group: its range starts at 0, or at m (the zero point below the codes, unrounded).
    assert one([2.0, 17.0], profile="hqq")[1] == -2.0
    assert one([2.0, 17.0], profile="hqq", int4_range="with_zero")[1] == 0.0
    # MLAS's signed extreme: a positive extreme gives a negative scale and codes that run the other way.
    assert one([-1.0, 2.0], True, profile="onnxruntime-mlas-int4") == (-0.25, 8.0, [12, 0])
    assert one([-1.0, 2.0], True, profile="onnxruntime-mlas-int4", int4_symmetric_scale="amax_over_half_range") \
        == (float(F32(2 / 7.5)), 8.0, [4, 15])
    # A zero group: epsilon, zero with every code the zero point, or HQQ's unit inverse.
    assert one([0.0, 0.0], True)[0] == 2.0 ** -23
    assert one([0.0, 0.0], True, int4_degenerate_scale="zero_reciprocal")[0] == 0.0
    assert one([0.0, 0.0], profile="hqq") == (1.0, 0.0, [0, 0])


def dequantize_input() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every code -8..15 in a group of 24 under every pair of special scales and zero points (rows of two groups,
    the second one partial: 24 + 10)."""
    scales = list(DEQUANTIZE_SCALES) + [-np.inf, -3.4e38, -2.0 ** -149, 0.5]
    points = list(DEQUANTIZE_ZERO_POINTS) + [np.inf, -np.inf, 2.0 ** -149, -15.0, 0.5]
    pairs = list(itertools.product(scales, points))
    codes = np.tile(np.concatenate([np.arange(-8, 16), np.arange(-8, 16, 3)[:-1]]).astype(np.int8),
                    (len(pairs), 1))
    grid = np.array(pairs, F32)
    both = np.stack([grid, np.roll(grid, 1, axis=0)], axis=1)
    return both[:, :, 0].copy(), both[:, :, 1].copy(), codes


def test_dequantize_equals_oracle_on_every_code():
    scales, zero_points, codes = dequantize_input()
    assert codes.shape[1] == 31
    for case in dequantize_cases(1):
        inputs = case.inputs
        assert_dequantize_matches(inputs["scales"], inputs["zero_points"], inputs["codes"],
                                  case.attributes["group_size"])
    assert_dequantize_matches(scales, zero_points, codes, 24)


def assert_dequantize_matches(scales, zero_points, codes, group_size):
    values, mask = int4_group_dequantize_outcomes(scales, zero_points, codes, group_size=group_size)
    mask = np.zeros(values.shape, bool) if mask is None else mask
    for row, column in itertools.product(range(codes.shape[0]), range(codes.shape[1])):
        group = column // group_size
        want, nan = oracle.dequantize_value(int(codes[row, column]), float(scales[row, group]),
                                            float(zero_points[row, group]))
        assert mask[row, column] == nan, (row, column)
        if not nan:
            assert bits(values[row, column]) == bits(want), (codes[row, column], scales[row, group],
                                                             zero_points[row, group], values[row, column], want)


def test_quantize_returns_the_arrays_of_its_record():
    x = np.arange(-40, 40, dtype=F32).reshape(2, 40) / 3
    scales, zero_points, codes = int4_group_quantize(x, group_size=16, symmetric=False, profile="hqq")
    assert scales.shape == zero_points.shape == (2, 3) and scales.dtype == zero_points.dtype == F32
    assert codes.shape == x.shape and codes.dtype == np.int8
    values = int4_group_dequantize(scales, zero_points, codes, group_size=16)
    assert values.shape == x.shape and values.dtype == F32


X = np.ones((2, 64), F32)
S, Z, C = np.ones((2, 2), F32), np.zeros((2, 2), F32), np.zeros((2, 64), np.int8)


@pytest.mark.parametrize("call, argument", [
    (lambda: int4_group_quantize_outcomes(X, int4_rounding="half_up"), "int4_rounding"),
    (lambda: int4_group_quantize_outcomes(X, int4_colour="red"), "int4_colour"),
    (lambda: int4_group_quantize(X, profile="bitsandbytes-cpu"), "profile"),
    (lambda: int4_group_quantize(X, profile="nope"), "profile"),
    (lambda: int4_group_quantize(X, profile="hqq"), "symmetric"),
    (lambda: int4_group_quantize(X, group_size=0), "group_size"),
    (lambda: int4_group_quantize(X, group_size=-32), "group_size"),
    (lambda: int4_group_quantize(X, group_size=True), "group_size"),
    (lambda: int4_group_quantize(X, group_size=1.5), "group_size"),
    (lambda: int4_group_quantize(X, group_size="32"), "group_size"),
    (lambda: int4_group_quantize(X, symmetric="yes"), "symmetric"),
    (lambda: int4_group_quantize(X, symmetric=1), "symmetric"),
    (lambda: int4_group_quantize(np.ones((2, 64), np.int32)), "x"),
    (lambda: int4_group_quantize([[1, 2, 3]]), "x"),
    (lambda: int4_group_quantize(np.ones(0, F32)), "x"),
    (lambda: int4_group_quantize(np.ones((3, 0), F32)), "x"),
    (lambda: int4_group_quantize(np.float32(1.0)), "x"),
    (lambda: int4_group_dequantize(S, Z, C.astype(np.uint8), group_size=32), "codes"),
    (lambda: int4_group_dequantize(S, Z, C.astype(np.int32), group_size=32), "codes"),
    (lambda: int4_group_dequantize(S, Z, np.full((2, 64), 16, np.int8), group_size=32), "codes"),
    (lambda: int4_group_dequantize(S, Z, np.full((2, 64), -9, np.int8), group_size=32), "codes"),
    (lambda: int4_group_dequantize(S[:, :1], Z[:, :1], np.zeros((2, 0), np.int8), group_size=32), "codes"),
    (lambda: int4_group_dequantize(S, Z, np.int8(0), group_size=32), "codes"),
    (lambda: int4_group_dequantize(S[:, :1], Z, C, group_size=32), "scales"),
    (lambda: int4_group_dequantize(S.reshape(-1), Z, C, group_size=32), "scales"),
    (lambda: int4_group_dequantize(S.astype(np.float64), Z, C, group_size=32), "scales"),
    (lambda: int4_group_dequantize(S, Z.astype(np.float16), C, group_size=32), "zero_points"),
    (lambda: int4_group_dequantize(S, Z[:1], C, group_size=32), "zero_points"),
    (lambda: int4_group_dequantize(S, Z, C, group_size=0), "group_size"),
    (lambda: int4_group_dequantize(S, Z, C, group_size=32.0), "group_size"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises((RefqValueError, RefqTypeError), match=f"^{argument}: "):
        call()
