"""refq.strategies: they generate what they promise, shrink to simple patterns, and the
invalid parameters are rejected by refq."""

from __future__ import annotations

from fractions import Fraction

import hypothesis.errors
import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from refq import strategies as rst
from refq.affine import dequantize, quantize
from refq.errors import RefqError
from refq.numbers.floats import encode_array
from refq.registry import FLOAT_FORMATS

FORMATS = [fmt.name for fmt in FLOAT_FORMATS]


def bits32(value) -> int:
    return int(np.array(value, np.float32).view(np.uint32))


@pytest.mark.parametrize("name", FORMATS)
def test_format_values(name):
    """Every drawn value is a value of the format (encoding it back is exact)."""
    fmt = next(f for f in FLOAT_FORMATS if f.name == name)

    @settings(max_examples=60)
    @given(rst.format_values(name))
    def check(value):
        assert isinstance(value, np.float32)
        if np.isnan(value):
            assert fmt.has_nan
            return
        if np.isinf(value):
            assert fmt.has_infinity
        if name != "binary32":
            from refq.numbers.floats import decode_array

            pattern = encode_array(np.array([value], np.float32), name)
            assert bits32(decode_array(pattern, name)[0]) == bits32(value)

    check()


@pytest.mark.parametrize("name", ["binary32", "bfloat16", "float8_e4m3fn", "float8_e5m2fnuz", "float4_e2m1fn"])
def test_format_values_reach_every_class(name):
    fmt = next(f for f in FLOAT_FORMATS if f.name == name)
    strategy = rst.format_values(name)
    tiny = np.float32(2.0) ** (1 - fmt.bias)
    find(strategy, lambda v: v != 0 and abs(v) < tiny)  # subnormal
    find(strategy, lambda v: abs(v) >= tiny and np.isfinite(v))
    find(strategy, lambda v: v == 0)
    if fmt.has_nan:
        find(strategy, np.isnan)
    if fmt.has_infinity:
        find(strategy, np.isinf)
    if fmt.has_negative_zero:
        find(strategy, lambda v: v == 0 and np.signbit(v))


def test_float32_values_shrink_to_simple_patterns():
    assert bits32(find(rst.float32_values(), lambda v: v > 1)) == 0x3F800001
    assert find(rst.float32_values(), lambda v: True) == 0
    assert find(rst.scales(), lambda s: True) == np.float32(1)
    nan = find(rst.float32_values(), np.isnan)
    assert np.isnan(nan)


@settings(max_examples=100, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_float32_values_respect_bounds(data):
    # Bounds drawn as float32 values, so rounding them cannot cross (float32(1e30) > 1e30).
    bound = float(np.float32(1e30))
    low = float(data.draw(st.floats(-bound, bound, width=32)))
    high = float(data.draw(st.floats(low, bound, width=32)))
    value = data.draw(rst.float32_values(min_value=low, max_value=high))
    assert low <= value <= high
    normal = data.draw(rst.float32_values(min_value=-1, max_value=high if high > 0 else 1, allow_subnormal=False))
    assert normal == 0 or abs(normal) >= np.finfo(np.float32).tiny


@settings(max_examples=80)
@given(rst.scales())
def test_scales(scale):
    assert isinstance(scale, np.float32) and np.isfinite(scale) and scale > 0


@pytest.mark.parametrize("granularity", rst.GRANULARITIES)
@pytest.mark.parametrize("dtype", ["int8", "uint4", "int16", "uint1"])
def test_quantization_parameters(dtype, granularity):
    """Valid parameters: refq quantizes and dequantizes with them."""

    @settings(max_examples=25)
    @given(rst.quantization_parameters(dtype=dtype, granularity=granularity))
    def check(params):
        x = np.zeros(params.shape, np.float32)
        q = quantize(x, params.scale, params.zero_point, **params.attributes)
        assert q.shape == params.shape
        dequantize(q, params.scale, params.zero_point, **params.attributes)
        assert params.granularity == granularity

    check()


@pytest.mark.parametrize("granularity", rst.GRANULARITIES)
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4", "uint16"])
def test_invalid_quantization_parameters(dtype, granularity):
    """Invalid parameters: refq rejects them, in quantize and in dequantize."""
    seen = set()

    @settings(max_examples=60)
    @given(rst.invalid_quantization_parameters(dtype=dtype, granularity=granularity))
    def check(params):
        seen.add(params.reason)
        with pytest.raises(RefqError):
            quantize(np.zeros(params.shape, np.float32), params.scale, params.zero_point, **params.attributes)
        with pytest.raises(RefqError):
            dequantize(np.zeros(params.shape, np.int8 if dtype == "int8" else np.int64), params.scale,
                       params.zero_point, **params.attributes)

    check()
    assert len(seen) >= 5


@settings(max_examples=200)
@given(st.data())
def test_near_ties(data):
    """Each value is within max_ulps float32 steps of fl32((k + 1/2) s)."""
    scale = data.draw(rst.scales(min_value=1e-30, max_value=1e30))
    dtype = data.draw(st.sampled_from(["int8", "uint8", "int4", "int16"]))
    zero_point = data.draw(rst.integer_values(dtype))
    ulps = data.draw(st.integers(0, 3))
    x = data.draw(rst.near_ties(scale, zero_point, dtype, max_ulps=ulps))
    if not np.isfinite(x):
        return
    quotient = Fraction(float(x)) / Fraction(float(scale))
    candidates = [quotient.__floor__() - 1, quotient.__floor__(), quotient.__floor__() + 1]
    ties = [np.float32((k + 0.5) * float(scale)) for k in candidates]

    def key(v):
        b = bits32(v)
        return b if b < 0x80000000 else -(b - 0x80000000)

    assert min(abs(key(x) - key(t)) for t in ties) <= ulps


def test_near_ties_exact_with_simple_scale():
    x = find(rst.near_ties(0.25, 0, "int8", max_ulps=0), lambda v: v > 1)
    assert x == np.float32(1.125)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4"])
def test_saturation_edges_reach_both_ends(dtype):
    strategy = rst.saturation_edges(0.1, 1, dtype)
    qmin = -(2 ** (int(dtype[-1]) - 1)) if not dtype.startswith("u") else 0
    find(strategy, lambda v: quantize(np.array([v]), 0.1, 1, dtype=dtype)[0] == qmin)
    find(strategy, lambda v: np.isinf(v))
    find(strategy, lambda v: quantize(np.array([v]), 0.1, 1, dtype=dtype)[0] == quantize(np.float32(1e30), 0.1, 1,
                                                                                         dtype=dtype))


@settings(max_examples=40)
@given(rst.quantize_problems(dtypes=rst.QUANTIZE_DTYPES, granularities=rst.GRANULARITIES))
def test_quantize_problems(problem):
    q = quantize(problem.x, problem.scale, problem.zero_point, **problem.attributes)
    assert q.shape == problem.x.shape


@settings(max_examples=40)
@given(rst.dequantize_problems(dtypes=rst.DEQUANTIZE_DTYPES, granularities=rst.GRANULARITIES))
def test_dequantize_problems(problem):
    y = dequantize(problem.q, problem.scale, problem.zero_point, **problem.attributes)
    assert y.dtype == np.float32 and y.shape == problem.q.shape


@settings(max_examples=30)
@given(rst.tensors(format="float8_e5m2", shape=(2, 3), allow_nan=False))
def test_tensors(x):
    assert x.shape == (2, 3) and x.dtype == np.float32 and not np.isnan(x).any()


@settings(max_examples=30)
@given(rst.observer_batches(min_batches=2, max_batches=5, min_value=-4, max_value=4))
def test_observer_batches(batches):
    assert 2 <= len(batches) <= 5
    assert len({batch.shape for batch in batches}) == 1
    assert all(np.all(np.abs(batch) <= 4) for batch in batches)


@settings(max_examples=40)
@given(rst.matmul_problems(a_dtype="uint8", b_dtype="int4", max_side=5))
def test_matmul_problems(problem):
    assert problem.a.shape[-1] == problem.b.shape[-2]
    assert problem.a.dtype == np.uint8 and problem.b.dtype == np.int8
    assert problem.b.min() >= -8 and problem.b.max() <= 7
    if problem.a_zero_point is not None:
        assert problem.a_zero_point.shape in ((), (problem.a.shape[-2],))
    if problem.b_zero_point is not None:
        assert problem.b_zero_point.shape in ((), (problem.b.shape[-1],))


@pytest.mark.parametrize("build, argument", [
    (lambda: rst.format_values("float9"), "format"),
    (lambda: rst.format_values("binary32", min_value=2, max_value=1), "max_value"),
    (lambda: rst.format_values("float8_e4m3fn", allow_infinity=True), "allow_infinity"),
    (lambda: rst.format_values("float4_e2m1fn", allow_nan=True), "allow_nan"),
    (lambda: rst.float32_values(min_value=0, allow_nan=True), "allow_nan"),
    (lambda: rst.float32_values(min_value=float("nan")), "min_value"),
    (lambda: rst.float32_values(allow_subnormal="yes"), "allow_subnormal"),
    (lambda: rst.scales(min_value=-2, max_value=-1), "max_value"),
    (lambda: rst.integer_values("int4", min_value=-9), "min_value"),
    (lambda: rst.quantization_parameters(dtype="int17"), "dtype"),
    (lambda: rst.quantization_parameters(granularity="per_row"), "granularity"),
    (lambda: rst.quantization_parameters(shape=(), granularity="per_axis"), "shape"),
    (lambda: rst.quantization_parameters(shape=(2, 3), granularity="per_axis", axis=2), "axis"),
    (lambda: rst.quantization_parameters(granularity="per_axis", block_size=2), "block_size"),
    (lambda: rst.invalid_quantization_parameters(kinds=["scale_purple"]), "kinds"),
    (lambda: rst.near_ties(0.0, 0, "int8"), "scale"),
    (lambda: rst.near_ties(1.0, 300, "int8"), "zero_point"),
    (lambda: rst.saturation_edges(1.0, 0, "int8", max_ulps=-1), "max_ulps"),
    (lambda: rst.quantize_problems(dtypes="int8"), "dtypes"),
    (lambda: rst.dequantize_problems(granularities=()), "granularities"),
    (lambda: rst.observer_batches(min_batches=3, max_batches=2), "max_batches"),
    (lambda: rst.matmul_problems(a_dtype="float8"), "a_dtype"),
    (lambda: rst.tensors(shape=(2, -1)), "shape"),
])
def test_arguments_are_validated(build, argument):
    """A bad argument fails when the strategy is built, naming the argument."""
    with pytest.raises(rst.InvalidArgument) as caught:
        build()
    assert isinstance(caught.value, RefqError)
    assert isinstance(caught.value, hypothesis.errors.InvalidArgument)
    assert str(caught.value).startswith(argument)
