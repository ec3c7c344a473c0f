"""AFF: affine quantize and dequantize.

Every result is checked against the exact oracle in tests/oracle/affine.py (Fractions
and from-scratch float rounding, no refq code), element by element, on the compiled
path and on the interpreted one (``refq._jit.pure_python``), whose bits must agree.
The element-to-scale mapping of per-axis and blocked layouts is checked against a plain
numpy broadcast; every kind of bad argument against the error it must raise.
The fused multiply-add (AFF-3.7) has its own module, tests/test_affine_fma.py.
"""

from __future__ import annotations

import contextlib

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from refq._jit import pure_python
from refq.affine import dequantize, quantize, quantize_with_outcomes
from refq.errors import RefqTypeError, RefqValueError
from refq.registry.profiles import PROFILES, PROFILES_BY_NAME
from refq.registry.variants import VARIANTS
from tests.oracle import affine as oracle

PROFILE_NAMES = [profile.name for profile in PROFILES]
QUANTIZE_VARIANTS = {v.name: [value.name for value in v.values] for v in VARIANTS if v.operation == "quantize"}
DEQUANTIZE_VARIANTS = {v.name: [value.name for value in v.values] for v in VARIANTS if v.operation == "dequantize"}
DTYPES = [f"{kind}{bits}" for kind in ("int", "uint") for bits in range(1, 17)]
LARGEST = float(np.finfo(np.float32).max)


def dtype_range(dtype: str, narrow: bool) -> tuple[int, int]:
    signed = dtype.startswith("int")
    return oracle.integer_range(int(dtype.removeprefix("u").removeprefix("int")), signed, narrow)


def container(dtype: str) -> np.dtype:
    bits = int(dtype.removeprefix("u").removeprefix("int"))
    return np.dtype(("int" if dtype.startswith("int") else "uint") + str(8 if bits <= 8 else 16))


def profile_variants(profile: str, per_axis: bool, overrides: dict[str, str]) -> dict[str, str]:
    """The variant values a profile names (read from the registry, the data refq is specified by)."""
    chosen = PROFILES_BY_NAME[profile]
    values = dict(chosen.quantize)
    if per_axis:
        values.update(chosen.quantize_per_axis)
    values.update(overrides)
    return values


def describes_computation(variants: dict[str, str]) -> bool:
    """AFF-5.1: a fused zero point and flushed subnormals need a float32 reciprocal product; nan=converted needs an
    int32 conversion."""
    reciprocal_in_float32 = (variants["scale_operation"], variants["precision"]) == ("multiply_reciprocal", "float32")
    if variants["zero_point_placement"] == "before_rounding_fused" and not reciprocal_in_float32:
        return False
    if variants["subnormals"] == "flushed" and not reciprocal_in_float32:
        return False
    return variants["nan"] != "converted" or variants["saturation"] != "clamp_then_convert"


def float32_of(pattern: int) -> np.float32:
    return np.array([pattern], dtype=np.uint32).view(np.float32)[0]


def expanded(parameter: np.ndarray, shape: tuple[int, ...], axis: int | None, block_size: int | None) -> np.ndarray:
    """The parameter each element of an array of ``shape`` uses, by plain numpy broadcasting."""
    if axis is None:
        return np.broadcast_to(np.asarray(parameter).reshape(()), shape)
    axis %= len(shape)
    if block_size is None:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(np.asarray(parameter).reshape(view), shape)
    repeated = np.repeat(parameter, block_size, axis=axis)
    return np.take(repeated, np.arange(shape[axis]), axis=axis)


def bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


# --- hypothesis: quantize against the oracle -------------------------------------------

SPECIAL_INPUTS = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, LARGEST, -LARGEST, 1e-45, -1e-45, 2.0**31, -(2.0**31),
                  2.0**31 + 2**8, 2.0**24 + 2, 0.5, -0.5, 1.5, -2.5]

# Positive finite float32 patterns: any (subnormal scales make 1/s overflow to inf), typical
# quantization scales, and subnormal ones on purpose.
scale_patterns = st.one_of(
    st.integers(1, 0x7F7FFFFF),
    st.integers(0x33000000, 0x40800000),
    st.integers(1, 0x007FFFFF),
)


@st.composite
def element(draw, scale: np.float32, zero_point: int, qmin: int, qmax: int) -> np.float32:
    """One float32 input: any bit pattern, an exact or near tie (k + 1/2) * s, a special value."""
    kind = draw(st.sampled_from(["pattern", "tie", "tie", "near_tie", "special"]))
    if kind == "pattern":
        return float32_of(draw(st.integers(0, 2**32 - 1)))
    if kind == "special":
        return np.float32(draw(st.sampled_from(SPECIAL_INPUTS)))
    k = draw(st.integers(qmin - zero_point - 3, qmax - zero_point + 2) | st.integers(-(2**26), 2**26))
    with np.errstate(over="ignore"):
        value = np.float32((k + 0.5) * np.float64(scale))
    if kind == "near_tie" and np.isfinite(value):
        value = np.nextafter(value, np.float32(draw(st.sampled_from([-np.inf, np.inf]))))
    return value


@st.composite
def quantize_cases(draw):
    profile = draw(st.sampled_from(PROFILE_NAMES))
    names = draw(st.sets(st.sampled_from(sorted(QUANTIZE_VARIANTS)), max_size=4))
    overrides = {name: draw(st.sampled_from(QUANTIZE_VARIANTS[name])) for name in sorted(names)}
    dtype = draw(st.sampled_from(DTYPES))
    narrow = draw(st.booleans()) if not dtype.endswith("t1") else False
    qmin, qmax = dtype_range(dtype, narrow)
    rows, columns = draw(st.integers(1, 3)), draw(st.integers(1, 10))
    shape = (rows, columns)
    layout = draw(st.sampled_from(["per_tensor", "per_tensor", "per_axis", "blocked"]))
    axis = block_size = None
    scale_shape: tuple[int, ...] = ()
    if layout != "per_tensor":
        axis = draw(st.sampled_from([0, 1, -1, -2]))
        if layout == "per_axis":
            scale_shape = (shape[axis],)
        else:
            block_size = draw(st.integers(1, shape[axis] + 1))
            scale_shape = list(shape)
            scale_shape[axis] = -(-shape[axis] // block_size)
            scale_shape = tuple(scale_shape)
    count = int(np.prod(scale_shape))
    scale = np.array([float32_of(draw(scale_patterns)) for _ in range(count)], dtype=np.float32).reshape(scale_shape)
    zero_point = np.array([draw(st.integers(qmin, qmax)) for _ in range(count)], dtype=np.int64).reshape(scale_shape)
    element_scale = expanded(scale, shape, axis, block_size)
    element_zero_point = expanded(zero_point, shape, axis, block_size)
    x = np.array([draw(element(element_scale[index], int(element_zero_point[index]), qmin, qmax))
                  for index in np.ndindex(shape)], dtype=np.float32).reshape(shape)
    variants = profile_variants(profile, layout != "per_tensor", overrides)
    assume(describes_computation(variants))
    return dict(x=x, scale=scale, zero_point=zero_point, dtype=dtype, narrow=narrow, axis=axis,
                block_size=block_size, profile=profile, overrides=overrides, variants=variants)


def check_against_oracle(case: dict, values: np.ndarray, unpredictable: np.ndarray) -> None:
    qmin, qmax = dtype_range(case["dtype"], case["narrow"])
    shape = case["x"].shape
    scales = expanded(case["scale"], shape, case["axis"], case["block_size"])
    zero_points = expanded(case["zero_point"], shape, case["axis"], case["block_size"])
    assert values.dtype == container(case["dtype"]) and values.shape == shape
    for index in np.ndindex(shape):
        expected, expected_unpredictable = oracle.oracle_quantize(
            case["x"][index], scales[index], int(zero_points[index]), qmin, qmax, case["variants"])
        where = (index, case["x"][index], scales[index], int(zero_points[index]))
        assert bool(unpredictable[index]) == expected_unpredictable, where
        if not expected_unpredictable:
            assert int(values[index]) == expected, where
        else:
            assert qmin <= int(values[index]) <= qmax, where


def run_quantize(case: dict) -> tuple[np.ndarray, np.ndarray]:
    return quantize_with_outcomes(case["x"], case["scale"], case["zero_point"], dtype=case["dtype"],
                                  narrow=case["narrow"], axis=case["axis"], block_size=case["block_size"],
                                  profile=case["profile"], **case["overrides"])


@settings(max_examples=300)
@given(quantize_cases())
def test_quantize_matches_oracle(case):
    values, unpredictable = run_quantize(case)
    check_against_oracle(case, values, unpredictable)
    # The interpreted kernels give the same bits, unpredictable elements included.
    with pure_python(), np.errstate(all="ignore"):
        interpreted, interpreted_unpredictable = run_quantize(case)
    assert interpreted.dtype == values.dtype
    assert interpreted.tolist() == values.tolist()
    assert interpreted_unpredictable.tolist() == unpredictable.tolist()
    plain = quantize(case["x"], case["scale"], case["zero_point"], dtype=case["dtype"], narrow=case["narrow"],
                     axis=case["axis"], block_size=case["block_size"], profile=case["profile"], **case["overrides"])
    assert plain.tolist() == values.tolist()


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_quantize_profile_ties_and_specials(profile):
    """Every profile on exact ties of every sign and range position, with both scale operations' favourites."""
    for dtype, narrow, zero_point in (("int8", False, 0), ("int8", True, -3), ("uint8", False, 128),
                                      ("int4", False, 2), ("uint16", False, 40000), ("int16", False, -32768)):
        qmin, qmax = dtype_range(dtype, narrow)
        for scale in (np.float32(1), np.float32(0.1), np.float32(2.0**-10), np.float32(0.00214854861),
                      np.float32(3.0e-39), np.float32(7e37)):
            k = np.arange(qmin - zero_point - 3, qmax - zero_point + 3)[:: max(1, (qmax - qmin) // 200)]
            with np.errstate(over="ignore"):
                ties = ((k + 0.5) * np.float64(scale)).astype(np.float32)
            x = np.concatenate([ties, np.array(SPECIAL_INPUTS, dtype=np.float32)])
            case = dict(x=x, scale=scale, zero_point=zero_point, dtype=dtype, narrow=narrow, axis=None,
                        block_size=None, profile=profile, overrides={},
                        variants=profile_variants(profile, False, {}))
            check_against_oracle(case, *run_quantize(case))


# --- subnormal scales: the reciprocal overflows ------------------------------------------


def test_quantize_subnormal_scale():
    """fl32(1/s) = inf for s = 1e-45: x * inf is +-inf, and NaN for x = 0, which then follows
    the nan variant like a NaN input (AFF-3.2, AFF-3.6) — as measured on torch 2.13 CPU:
    fake_quantize_per_tensor_affine gives qmin for 0 (its NaN rule), quantize_per_tensor gives
    qmax, quantize_per_channel gives 0."""
    x = np.array([0.0, -0.0, 1.0, -1.0, 1e-45, np.nan], dtype=np.float32)
    scale = np.float32(1e-45)
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(1) / scale)
    measured = {
        "pytorch-fake-quant": [-128, -128, 127, -128, 127, -128],
        "pytorch": [127, 127, 127, -128, 127, 127],
    }
    for profile in PROFILE_NAMES:
        for overrides in ({}, {"scale_operation": "multiply_reciprocal"}, {"precision": "float64"},
                          {"rounding": "floor"}, {"precision": "exact"}):
            variants = profile_variants(profile, False, overrides)
            if not describes_computation(variants):
                continue
            case = dict(x=x, scale=scale, zero_point=0, dtype="int8", narrow=False, axis=None, block_size=None,
                        profile=profile, overrides=overrides, variants=variants)
            values, unpredictable = run_quantize(case)
            check_against_oracle(case, values, unpredictable)
            with pure_python(), np.errstate(all="ignore"):
                assert run_quantize(case)[0].tolist() == values.tolist()
            if profile in measured and not overrides:
                assert values.tolist() == measured[profile]
    per_channel = quantize(x.reshape(6, 1), np.full(6, scale), dtype="int8", axis=0, profile="pytorch")
    assert per_channel.ravel().tolist() == [0, 0, 127, -128, 127, 0]  # torch.quantize_per_channel, measured


def test_quantize_subnormal_scale_unpredictable_mask():
    # The onnx profile leaves NaN open; 0 * inf is such a NaN, on the specialised kernel too.
    x = np.array([0.0, 2.0, np.nan], dtype=np.float32)
    values, unpredictable = quantize_with_outcomes(x, np.float32(1e-45), dtype="uint8", profile="onnx",
                                                   scale_operation="multiply_reciprocal")
    assert unpredictable.tolist() == [True, False, True]
    assert values[1] == 255
    blocked, blocked_unpredictable = quantize_with_outcomes(
        np.zeros((2, 3), np.float32), np.array([[1e-45], [1.0]], np.float32), dtype="int8", axis=1, block_size=3,
        profile="onnx", scale_operation="multiply_reciprocal")
    assert blocked_unpredictable.tolist() == [[True] * 3, [False] * 3]


# --- convert_then_clamp: int32 conversion and wraparound ----------------------------------


def test_quantize_convert_then_clamp_wraparound():
    # -2^31 (integer indefinite) plus a negative zero point wraps to near 2^31: qmax.
    x = np.array([np.inf, -np.inf, np.nan, 3e9, -3e9, 2.0**31 - 128, 100.0], dtype=np.float32)
    for zero_point in (-5, 0, 5):
        for conversion_overflow in QUANTIZE_VARIANTS["conversion_overflow"]:
            overrides = {"conversion_overflow": conversion_overflow}
            case = dict(x=x, scale=np.float32(1), zero_point=zero_point, dtype="int8", narrow=False, axis=None,
                        block_size=None, profile="onnx-reference", overrides=overrides,
                        variants=profile_variants("onnx-reference", False, overrides))
            values, unpredictable = run_quantize(case)
            check_against_oracle(case, values, unpredictable)
            if conversion_overflow == "integer_indefinite":
                expected_overflow = 127 if zero_point < 0 else -128
                assert values[:5].tolist() == [expected_overflow] * 5
                assert not unpredictable.any()
            else:
                assert unpredictable.tolist() == [True] * 5 + [False, False]
    # 2^31 - 128, the largest float32 below 2^31, converts; adding 1000 overflows int32 and wraps negative.
    for conversion_overflow, expected in (("integer_indefinite", [0]), ("unpredictable", None)):
        values, unpredictable = quantize_with_outcomes(
            np.array([2.0**31 - 128], np.float32), np.float32(1), 1000, dtype="uint16", profile="onnx-reference",
            conversion_overflow=conversion_overflow)
        assert unpredictable.tolist() == [expected is None]
        if expected is not None:
            assert values.tolist() == expected
        assert oracle.oracle_quantize(np.float32(2.0**31 - 128), np.float32(1), 1000, 0, 65535, profile_variants(
            "onnx-reference", False, {"conversion_overflow": conversion_overflow})) == (
            (expected[0], False) if expected else (None, True))


# --- precision = exact -------------------------------------------------------------------


def test_quantize_exact_precision():
    """AFF-3.8 against the oracle's exact mode, on ties and near ties where float32 rounding decides."""
    rng = np.random.default_rng(3)
    scale = rng.uniform(1e-3, 1e-1, 40).astype(np.float32)
    k = rng.integers(-140, 140, 40)
    ties = ((k + 0.5) * scale.astype(np.float64)).astype(np.float32)
    near = (ties.view(np.int32) + rng.integers(-2, 3, 40).astype(np.int32)).view(np.float32)
    differs_from_float32 = 0
    for index in range(40):
        x = np.array([ties[index], near[index], 0.273939937, np.inf, -np.inf, np.nan], dtype=np.float32)
        for rounding in QUANTIZE_VARIANTS["rounding"]:
            for scale_operation in QUANTIZE_VARIANTS["scale_operation"]:
                for placement in ("after_rounding", "before_rounding"):
                    overrides = dict(precision="exact", rounding=rounding, scale_operation=scale_operation,
                                     zero_point_placement=placement)
                    case = dict(x=x, scale=scale[index], zero_point=7, dtype="int8", narrow=False, axis=None,
                                block_size=None, profile="onnxruntime", overrides=overrides,
                                variants=profile_variants("onnxruntime", False, overrides))
                    values, unpredictable = run_quantize(case)
                    check_against_oracle(case, values, unpredictable)
                    float32 = quantize(x, scale[index], 7, dtype="int8", profile="onnxruntime",
                                       **{**overrides, "precision": "float32"})
                    differs_from_float32 += values.tolist() != float32.tolist()
    assert differs_from_float32 > 0  # the exact mode is not float32 in disguise


# --- layouts: which scale each element uses --------------------------------------------------

LAYOUT_SHAPE = (2, 5, 3)


def layout_parameters(shape, axis, block_size, seed):
    rng = np.random.default_rng(seed)
    if block_size is None:
        parameter_shape = (shape[axis],)
    else:
        parameter_shape = list(shape)
        parameter_shape[axis] = -(-shape[axis] // block_size)
    scale = rng.uniform(0.01, 0.2, parameter_shape).astype(np.float32)
    zero_point = rng.integers(-20, 20, parameter_shape)
    return scale, zero_point


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("block_size", [None, 1, 2, 3, 4, 7])
@pytest.mark.parametrize("overrides", [{}, {"saturation": "convert_then_clamp"}], ids=["specialised", "general"])
def test_quantize_layout(axis, block_size, overrides):
    shape = LAYOUT_SHAPE
    scale, zero_point = layout_parameters(shape, axis, block_size, seed=abs(axis) * 10 + (block_size or 0))
    x = np.random.default_rng(1).normal(0, 3, shape).astype(np.float32)
    got = quantize(x, scale, zero_point, dtype="int8", axis=axis, block_size=block_size, profile="onnx",
                   **overrides)
    element_scale = expanded(scale, shape, axis, block_size)
    element_zero_point = expanded(zero_point, shape, axis, block_size)
    # numpy's float32 division and rint are IEEE's: the onnx profile's formula, written directly.
    expected = np.clip(np.rint(x / element_scale) + element_zero_point, -128, 127)
    assert got.tolist() == expected.astype(np.int8).tolist()
    with pure_python():
        assert quantize(x, scale, zero_point, dtype="int8", axis=axis, block_size=block_size, profile="onnx",
                        **overrides).tolist() == got.tolist()


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("block_size", [None, 1, 2, 4, 7])
@pytest.mark.parametrize("overrides", [{}, {"dequantize_precision": "float64"}], ids=["specialised", "general"])
def test_dequantize_layout(axis, block_size, overrides):
    shape = LAYOUT_SHAPE
    scale, zero_point = layout_parameters(shape, axis, block_size, seed=7 + abs(axis) + (block_size or 0))
    q = np.random.default_rng(2).integers(-128, 128, shape).astype(np.int8)
    got = dequantize(q, scale, zero_point, dtype="int8", axis=axis, block_size=block_size, **overrides)
    element_scale = expanded(scale, shape, axis, block_size)
    element_zero_point = expanded(zero_point, shape, axis, block_size)
    expected = (q.astype(np.int64) - element_zero_point).astype(np.float32) * element_scale
    assert bits(got).tolist() == bits(expected).tolist()


def test_quantize_layout_partial_last_block():
    # Length 5, blocks of 2: elements 0-1, 2-3 and the lone 4 take scales 1, 10, 100.
    x = np.full((1, 5), 1000.0, np.float32)
    got = quantize(x, np.array([[1.0, 10.0, 100.0]], np.float32), dtype="int16", axis=1, block_size=2)
    assert got.tolist() == [[1000, 1000, 100, 100, 10]]


# --- dequantize against the oracle -------------------------------------------------------------

DEQUANTIZE_COMBINATIONS = [dict(dequantize_formula=f, dequantize_precision=p, dequantize_difference=d)
                           for f in DEQUANTIZE_VARIANTS["dequantize_formula"]
                           for p in DEQUANTIZE_VARIANTS["dequantize_precision"]
                           for d in (DEQUANTIZE_VARIANTS["dequantize_difference"]
                                     if f == "subtract_then_multiply" else ["exact"])]
DEQUANTIZE_SCALES = [np.float32(0.0123), np.float32(1.0), np.float32(2.0**-15), np.float32(0.1),
                     np.float32(1e-44), np.float32(3.0e36), np.float32(0.3333333)]


def check_dequantize(dtype: str, narrow: bool, scale: np.float32, zero_point: int, variants: dict[str, str],
                     stride: int = 1, interpreted: bool = True) -> None:
    qmin, qmax = dtype_range(dtype, narrow)
    q = np.arange(qmin, qmax + 1, stride).astype(container(dtype))
    got = bits(dequantize(q, scale, zero_point, dtype=dtype, narrow=narrow, **variants))
    expected = [oracle.oracle_dequantize(int(value), scale, zero_point, variants) for value in q]
    # inf - inf (multiply_then_subtract with both products overflowing) is NaN; IEEE 754 leaves the
    # sign and payload of a generated NaN to the platform (x86 sets the sign), so only NaN-ness counts.
    mismatches = [(int(q[i]), hex(got[i]), hex(expected[i])) for i in range(q.size) if got[i] != expected[i]
                  and not (oracle.is_float32_nan_bits(int(got[i])) and oracle.is_float32_nan_bits(expected[i]))]
    assert not mismatches, (dtype, scale, zero_point, variants, mismatches[:5])
    if interpreted:
        with pure_python(), np.errstate(all="ignore"):
            again = bits(dequantize(q, scale, zero_point, dtype=dtype, narrow=narrow, **variants))
        assert again.tolist() == got.tolist()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4", "uint4", "int1", "uint2"])
@pytest.mark.parametrize("variants", DEQUANTIZE_COMBINATIONS, ids=lambda v: "-".join(v.values()))
def test_dequantize_every_value(dtype, variants):
    for index, scale in enumerate(DEQUANTIZE_SCALES):
        for narrow in ((False, True) if not dtype.endswith("t1") else (False,)):
            qmin, qmax = dtype_range(dtype, narrow)
            for zero_point in sorted({qmin, qmax, (qmin + qmax) // 2, min(max(0, qmin), qmax)}):
                check_dequantize(dtype, narrow, scale, zero_point, variants, interpreted=index < 2)


@pytest.mark.parametrize("variants", DEQUANTIZE_COMBINATIONS, ids=lambda v: "-".join(v.values()))
def test_dequantize_every_int16(variants):
    # Every int16 value for the standard formula; every 17th for the others (all of them: -m slow).
    standard = variants == DEQUANTIZE_COMBINATIONS[0]
    pairs = [(np.float32(0.0123), -77), (np.float32(3.0e36), 32767)] if standard else [(np.float32(0.3333333), 5)]
    for scale, zero_point in pairs:
        check_dequantize("int16", False, scale, zero_point, variants, stride=1 if standard else 17, interpreted=False)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["int16", "uint16"])
@pytest.mark.parametrize("variants", DEQUANTIZE_COMBINATIONS, ids=lambda v: "-".join(v.values()))
def test_dequantize_every_16_bit_value(dtype, variants):
    qmin, qmax = dtype_range(dtype, False)
    for scale in DEQUANTIZE_SCALES:
        for zero_point in (qmin, qmax, (qmin + qmax) // 2):
            check_dequantize(dtype, False, scale, zero_point, variants, interpreted=False)


def test_dequantize_formulas_differ():
    # q * s - z * s rounds three times: for some q it lands one ulp away from (q - z) * s.
    q = np.arange(-128, 128).astype(np.int8)
    one = dequantize(q, np.float32(0.3333333), 17, dtype="int8")
    three = dequantize(q, np.float32(0.3333333), 17, dtype="int8", dequantize_formula="multiply_then_subtract")
    assert (bits(one) != bits(three)).any()


# --- bad input: one test each; the message names the argument --------------------------------


def raises(error: type, argument: str):
    return pytest.raises(error, match="^" + re.escape(argument) + ":")


X = np.array([0.5, -1.0, 2.0], dtype=np.float32)


@pytest.mark.parametrize("scale", [0.0, -0.0, -1.0, np.float32(-1e-45), 1e-50])
def test_quantize_scale_not_positive(scale):
    with raises(RefqValueError, "scale"):
        quantize(X, scale)
    with raises(RefqValueError, "scale"):
        dequantize(np.array([1], np.int8), scale)


@pytest.mark.parametrize("scale", [np.nan, np.inf, -np.inf, 1e39])
def test_quantize_scale_not_finite(scale):
    with raises(RefqValueError, "scale"):
        quantize(X, scale)


@pytest.mark.parametrize("scale", ["0.1", None, [0.1, "a"], {"s": 1}, True, np.array([True])])
def test_quantize_scale_not_numeric(scale):
    with raises(RefqTypeError, "scale"):
        quantize(X, scale)


@pytest.mark.parametrize("dtype, narrow, zero_point", [
    ("int8", False, 128), ("int8", False, -129), ("int8", True, -128), ("uint8", False, -1), ("uint8", False, 256),
    ("uint8", True, 0), ("int4", False, 8), ("uint4", False, 16), ("int16", False, 40000), ("int1", False, 1),
])
def test_quantize_zero_point_out_of_range(dtype, narrow, zero_point):
    with raises(RefqValueError, "zero_point"):
        quantize(X, 0.1, zero_point, dtype=dtype, narrow=narrow)
    with raises(RefqValueError, "zero_point"):
        dequantize(np.array([dtype_range(dtype, narrow)[1]]), 0.1, zero_point, dtype=dtype, narrow=narrow)


@pytest.mark.parametrize("zero_point", [1.5, np.nan, np.float32(0.25)])
def test_quantize_zero_point_not_integer(zero_point):
    with raises(RefqValueError, "zero_point"):
        quantize(X, 0.1, zero_point)


@pytest.mark.parametrize("zero_point", ["1", True, [1, "a"]])
def test_quantize_zero_point_wrong_type(zero_point):
    with raises(RefqTypeError, "zero_point"):
        quantize(X, 0.1, zero_point)


def test_quantize_zero_point_shape():
    with raises(RefqValueError, "zero_point"):
        quantize(np.zeros((2, 3), np.float32), np.ones(3, np.float32), np.zeros(2, np.int64), axis=1)


@pytest.mark.parametrize("scale", [np.float32(0.5), np.array([0.5], np.float32), np.full(3, 0.5, np.float32)],
                         ids=["scalar", "shape-1", "per-axis"])
@pytest.mark.parametrize("zero_point_shape", [(1,), (1, 1)])
def test_one_zero_point_value_serves_every_scale(scale, zero_point_shape):
    """AFF-1.3: a zero point of one element, whatever its rank, is that value for every scale
    (ONNX's own DequantizeLinear int4/int2 node tests give zero point [1] beside a scalar scale)."""
    x = np.linspace(-3, 3, 6, dtype=np.float32).reshape(2, 3)
    axis = 1 if scale.ndim and scale.size == 3 else None
    zero_point = np.full(zero_point_shape, -2, np.int8)
    q = quantize(x, scale, zero_point, dtype="int4", axis=axis)
    assert np.array_equal(q, quantize(x, scale, np.full(scale.shape, -2, np.int8), dtype="int4", axis=axis))
    assert np.array_equal(dequantize(q, scale, zero_point, dtype="int4", axis=axis),
                          dequantize(q, scale, np.full(scale.shape, -2, np.int8), dtype="int4", axis=axis))


@pytest.mark.parametrize("dtype", ["int", "int0", "float8", "foo", "int65", "INT8 "])
def test_quantize_dtype_unknown(dtype):
    with pytest.raises((RefqValueError, RefqTypeError), match="^dtype:"):
        quantize(X, 0.1, dtype=dtype)


@pytest.mark.parametrize("dtype", [8, None, np.int8])
def test_quantize_dtype_wrong_type(dtype):
    with pytest.raises((RefqValueError, RefqTypeError), match="^dtype:"):
        quantize(X, 0.1, dtype=dtype)


@pytest.mark.parametrize("dtype", ["int17", "uint17", "int32", "uint32"])
def test_quantize_dtype_too_wide(dtype):
    with raises(RefqValueError, "dtype"):
        quantize(X, 0.1, dtype=dtype)


def test_dequantize_dtype_too_wide():
    with raises(RefqValueError, "dtype"):
        dequantize(np.array([1], np.int64), 0.1, dtype="int33")


@pytest.mark.parametrize("narrow", [1, "yes", None])
def test_quantize_narrow_not_bool(narrow):
    with raises(RefqTypeError, "narrow"):
        quantize(X, 0.1, narrow=narrow)


def test_quantize_narrow_one_bit():
    with raises(RefqValueError, "narrow"):
        quantize(X, 0.1, dtype="int1", narrow=True)


@pytest.mark.parametrize("axis", [2, -3, 100])
def test_quantize_axis_out_of_range(axis):
    with raises(RefqValueError, "axis"):
        quantize(np.zeros((2, 3), np.float32), np.ones(3, np.float32), axis=axis)


@pytest.mark.parametrize("axis", [1.0, "1", True, [1]])
def test_quantize_axis_not_integer(axis):
    with raises(RefqTypeError, "axis"):
        quantize(np.zeros((2, 3), np.float32), np.ones(3, np.float32), axis=axis)


@pytest.mark.parametrize("block_size", [0, -1])
def test_quantize_block_size_not_positive(block_size):
    with raises(RefqValueError, "block_size"):
        quantize(np.zeros((2, 3), np.float32), np.ones((2, 1), np.float32), axis=1, block_size=block_size)


@pytest.mark.parametrize("block_size", [2.0, "2", True])
def test_quantize_block_size_not_integer(block_size):
    with raises(RefqTypeError, "block_size"):
        quantize(np.zeros((2, 3), np.float32), np.ones((2, 2), np.float32), axis=1, block_size=block_size)


def test_quantize_block_size_without_axis():
    with raises(RefqValueError, "block_size"):
        quantize(X, np.float32(0.1), block_size=2)


@pytest.mark.parametrize("scale_shape", [(2,), (4,), (1, 3), ()])
def test_quantize_scale_shape_per_axis(scale_shape):
    with raises(RefqValueError, "scale"):
        quantize(np.zeros((2, 3), np.float32), np.ones(scale_shape, np.float32), axis=1)


@pytest.mark.parametrize("scale_shape", [(2, 1), (2, 3), (3, 2), (2,), (1, 2)])
def test_quantize_scale_shape_blocked(scale_shape):
    # Length 3 in blocks of 2 needs ceil(3/2) = 2 scales along axis 1: shape (2, 2).
    with raises(RefqValueError, "scale"):
        quantize(np.zeros((2, 3), np.float32), np.ones(scale_shape, np.float32), axis=1, block_size=2)


def test_quantize_scale_shape_per_tensor():
    with raises(RefqValueError, "scale"):
        quantize(X, np.ones(3, np.float32))


def test_dequantize_scale_shape():
    with raises(RefqValueError, "scale"):
        dequantize(np.zeros((2, 3), np.int8), np.ones((2, 3), np.float32), axis=1, block_size=2)


@pytest.mark.parametrize("dtype, narrow, q", [
    ("int8", False, [0, 200]), ("int8", True, [-128]), ("int4", False, [8]), ("int4", False, [-9]),
    ("uint4", False, [16]), ("uint8", True, [0]), ("int1", False, [1]),
])
def test_dequantize_q_out_of_range(dtype, narrow, q):
    with raises(RefqValueError, "q"):
        dequantize(np.array(q, np.int64), 0.1, dtype=dtype, narrow=narrow)


@pytest.mark.parametrize("q", [np.array([1.0]), np.array([True]), "1", [1.5]])
def test_dequantize_q_not_integer(q):
    with raises(RefqTypeError, "q"):
        dequantize(q, 0.1)


@pytest.mark.parametrize("profile", ["onnx-runtime", "torch", ""])
def test_quantize_profile_unknown(profile):
    with raises(RefqValueError, "profile"):
        quantize(X, 0.1, profile=profile)
    with raises(RefqValueError, "profile"):
        dequantize(np.array([1], np.int8), 0.1, profile=profile)


def test_quantize_profile_wrong_type():
    with raises(RefqTypeError, "profile"):
        quantize(X, 0.1, profile=3)


@pytest.mark.parametrize("name", ["rounding_mode", "dequantize_formula", "Rounding"])
def test_quantize_variant_unknown(name):
    with raises(RefqValueError, name):
        quantize(X, 0.1, **{name: "half_to_even"})


def test_dequantize_variant_unknown():
    with raises(RefqValueError, "rounding"):
        dequantize(np.array([1], np.int8), 0.1, rounding="half_to_even")


@pytest.mark.parametrize("name, value", [("rounding", "bankers"), ("precision", "float16"), ("nan", None),
                                         ("saturation", "clamp"), ("scale_operation", 1)])
def test_quantize_variant_value_invalid(name, value):
    with raises(RefqValueError, name):
        quantize(X, 0.1, **{name: value})


def test_dequantize_variant_value_invalid():
    with raises(RefqValueError, "dequantize_precision"):
        dequantize(np.array([1], np.int8), 0.1, dequantize_precision="exact")


@pytest.mark.parametrize("overrides", [
    dict(profile="pytorch", scale_operation="divide"),
    dict(profile="pytorch", precision="float64"),
    dict(profile="onnx", zero_point_placement="before_rounding_fused"),
])
def test_quantize_fused_needs_float32_reciprocal(overrides):
    with raises(RefqValueError, "zero_point_placement"):
        quantize(X, 0.1, **overrides)


@pytest.mark.parametrize("profile", ["onnx", "pytorch", "onnxruntime"])
def test_quantize_nan_converted_needs_convert_then_clamp(profile):
    with raises(RefqValueError, "nan"):
        quantize(X, 0.1, profile=profile, nan="converted")
    with raises(RefqValueError, "nan"):
        quantize(X, 0.1, profile="onnx-reference", saturation="clamp_then_convert")


@pytest.mark.parametrize("x", ["abc", None, [0.5, "a"], {"x": 1}, np.array(["1.0"]), np.array([True])])
def test_quantize_x_not_numeric(x):
    with raises(RefqTypeError, "x"):
        quantize(x, 0.1)


def test_quantize_exact_precision_infinite_input():
    # v = inf + z is inf: the zero point is spent before rounding even for infinities, so the
    # int32 conversion's -2^31 gets no negative zero point to wrap it around to qmax.
    x = np.array([np.inf, -np.inf, 0.0], dtype=np.float32)
    for precision in ("exact", "float32", "float64"):
        for placement in ("after_rounding", "before_rounding"):
            overrides = dict(precision=precision, zero_point_placement=placement)
            case = dict(x=x, scale=np.float32(0.5), zero_point=-5, dtype="int8", narrow=False, axis=None,
                        block_size=None, profile="onnx-reference", overrides=overrides,
                        variants=profile_variants("onnx-reference", False, overrides))
            values, unpredictable = run_quantize(case)
            check_against_oracle(case, values, unpredictable)
            assert values[:2].tolist() == ([127, 127] if placement == "after_rounding" else [-128, -128])


@pytest.mark.parametrize("variants", DEQUANTIZE_COMBINATIONS, ids=lambda v: "-".join(v.values()))
def test_dequantize_int32_every_variant(variants):
    """int32 inputs, where q - z needs more than 24 bits: each difference variant rounds where it says."""
    rng = np.random.default_rng(11)
    q = np.concatenate([np.array([2**24 + 1, 2**30 + 3, -(2**31) + 5, -(2**31), 2**31 - 1], dtype=np.int32),
                        rng.integers(-(2**31), 2**31, 2000).astype(np.int32)])
    for scale, zero_point in ((np.float32(0.0123), 0), (np.float32(3.0), -(2**31)), (np.float32(0.1), 2**31 - 1)):
        for interpreted in (False, True):
            with pure_python() if interpreted else contextlib.nullcontext():
                got = bits(dequantize(q[:200] if interpreted else q, scale, zero_point, dtype="int32", **variants))
            expected = [oracle.oracle_dequantize(int(v), scale, zero_point, variants) for v in (q[:200] if interpreted else q)]
            assert got.tolist() == expected
