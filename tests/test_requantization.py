"""REQ: requantization, against the exact oracle (tests/oracle/requantize.py) and real backends."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refq._jit import kernel, pure_python
from refq.backends import cpu
from refq.integer_ops.pairs import matmul_pair_losses, wrap_loss
from refq.errors import RefqTypeError, RefqValueError
from refq.requantize import requantize_float, requantize_multiplier
from refq.requantize import accumulator as acc_module
from refq.requantize import fixed_point as fp
from refq.requantize.fixed_point import (
    apply_scale_32,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_round,
)
from tests.oracle import requantize as oracle

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# --- REQ-1: float multiplier ---------------------------------------------------------------

positive_float32 = st.floats(min_value=2.0**-40, max_value=2.0**20, width=32, allow_subnormal=False)
accumulators = st.one_of(st.integers(INT32_MIN, INT32_MAX), st.integers(-(2**25), 2**25),
                         st.sampled_from([INT32_MIN, INT32_MAX, 0, 2**24 + 1, -(2**24) - 3]))


@given(a=positive_float32, b=positive_float32, y=positive_float32, precision=st.sampled_from(["float32", "float64"]))
def test_requantize_multiplier(a, b, y, precision):
    got = requantize_multiplier(np.float32(a), np.float32(b), np.float32(y), precision)
    expected = oracle.float_multiplier(Fraction(a), Fraction(b), Fraction(y), precision)
    assert got.dtype == (np.float32 if precision == "float32" else np.float64)
    if expected == float("inf"):
        assert np.isinf(got)
    else:
        assert Fraction(float(got)) == expected


def test_requantize_multiplier_order_matters():
    """REQ-1.1: fl32(fl32(a*b)/y) is not fl32(a*fl32(b/y)); the spec says which one ORT computes."""
    rng = np.random.default_rng(1)
    differ = 0
    for a, y in rng.uniform(1e-3, 1, (100, 2)).astype(np.float32):
        b = rng.uniform(1e-3, 1, 100).astype(np.float32)  # one weight scale per output channel
        ours = requantize_multiplier(a, b, y)
        assert np.array_equal(ours, (a * b) / y)
        differ += int((ours != a * (b / y)).sum())
    assert differ > 100


@settings(max_examples=400)
@given(accumulator=accumulators, multiplier=positive_float32, zero_point=st.integers(-128, 127),
       precision=st.sampled_from(["float32", "float64"]),
       placement=st.sampled_from(["after_rounding", "before_rounding"]),
       rounding=st.sampled_from(["half_to_even", "half_away_from_zero", "floor"]))
def test_requantize_float(accumulator, multiplier, zero_point, precision, placement, rounding):
    m = np.float32(multiplier)
    got = requantize_float(np.array([accumulator], np.int32), m, zero_point, dtype="int8", precision=precision,
                           zero_point_placement=placement, rounding=rounding)
    expected = oracle.requantize_float(accumulator, Fraction(float(m)), zero_point, -128, 127, precision=precision,
                                       rounding=rounding, zero_point_placement=placement)
    assert int(got[0]) == expected


def test_requantize_float_ties_and_large_accumulators():
    """Exact ties (a*m = n + 1/2) and accumulators past 2^24, where float32 conversion rounds."""
    accumulators = np.array([1, 3, 5, -1, -3, -5, 2**24 + 1, 2**24 + 3, -(2**24) - 1, 2**31 - 1, -(2**31),
                             33554433, 100_000_001], np.int32)
    for multiplier in (np.float32(0.5), np.float32(2.0**-20), np.float32(0.25), np.float32(1.5)):
        for precision in ("float32", "float64"):
            for placement in ("after_rounding", "before_rounding"):
                got = requantize_float(accumulators, multiplier, 3, dtype="int16", precision=precision,
                                       zero_point_placement=placement)
                expected = [oracle.requantize_float(int(a), Fraction(float(multiplier)), 3, -(2**15), 2**15 - 1,
                                                    precision=precision, zero_point_placement=placement)
                            for a in accumulators]
                assert got.tolist() == expected


def test_requantize_float_per_channel_and_out():
    rng = np.random.default_rng(2)
    accumulator = rng.integers(-(2**20), 2**20, (2, 5, 3, 4)).astype(np.int32)
    multiplier = rng.uniform(1e-5, 1e-3, 5).astype(np.float32)
    zero_point = rng.integers(0, 256, 5)
    out = np.empty(accumulator.shape, np.uint8)
    got = requantize_float(accumulator, multiplier, zero_point, dtype="uint8", axis=1, out=out)
    assert got is out
    for index in np.ndindex(accumulator.shape):
        c = index[1]
        assert got[index] == oracle.requantize_float(int(accumulator[index]), Fraction(float(multiplier[c])),
                                                     int(zero_point[c]), 0, 255)


def test_requantize_float_jit_equals_pure_python():
    rng = np.random.default_rng(3)
    accumulator = rng.integers(INT32_MIN, INT32_MAX, 3000, endpoint=True).astype(np.int32)
    accumulator[:1000] //= 4096
    multiplier = rng.uniform(1e-9, 1e-2, 3).astype(np.float32)
    for precision in ("float32", "float64"):
        for placement in ("after_rounding", "before_rounding"):
            kwargs = dict(dtype="int8", axis=0, precision=precision, zero_point_placement=placement)
            compiled = requantize_float(accumulator.reshape(3, 1000), multiplier, [-3, 0, 7], **kwargs)
            with pure_python():
                interpreted = requantize_float(accumulator.reshape(3, 1000), multiplier, [-3, 0, 7], **kwargs)
            assert np.array_equal(compiled, interpreted)


@pytest.mark.parametrize(("kwargs", "error"), [
    (dict(multiplier=np.float32(0)), RefqValueError),
    (dict(multiplier=np.float32(np.inf)), RefqValueError),
    (dict(multiplier="x"), RefqTypeError),
    (dict(accumulator=np.array([2**31])), RefqValueError),
    (dict(accumulator=np.array([1.5])), RefqTypeError),
    (dict(precision="float16"), RefqValueError),
    (dict(zero_point_placement="fused"), RefqValueError),
    (dict(dtype="int32"), RefqValueError),
    (dict(zero_point=200), RefqValueError),
    (dict(multiplier=np.ones(3, np.float32)), RefqValueError),  # per-channel needs an axis
])
def test_requantize_float_rejects(kwargs, error):
    arguments = dict(accumulator=np.zeros((2, 3), np.int32), multiplier=np.float32(0.5), zero_point=0)
    arguments.update(kwargs)
    accumulator, multiplier, zero_point = (arguments.pop(k) for k in ("accumulator", "multiplier", "zero_point"))
    with pytest.raises(error):
        requantize_float(accumulator, multiplier, zero_point, **arguments)


def _qlinear_matmul_model(m: int, k: int, n: int, per_column: bool, signed: bool):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    element = TensorProto.INT8 if signed else TensorProto.UINT8
    channel_shape = [n] if per_column else []
    inputs = [("a", element, [m, k]), ("a_scale", TensorProto.FLOAT, []), ("a_zero_point", element, []),
              ("b", TensorProto.INT8, [k, n]), ("b_scale", TensorProto.FLOAT, channel_shape),
              ("b_zero_point", TensorProto.INT8, channel_shape), ("y_scale", TensorProto.FLOAT, []),
              ("y_zero_point", element, [])]
    node = helper.make_node("QLinearMatMul", [name for name, _, _ in inputs], ["y"])
    graph = helper.make_graph([node], "qlinear_matmul",
                              [helper.make_tensor_value_info(*spec) for spec in inputs],
                              [helper.make_tensor_value_info("y", element, [m, n])])
    return onnx, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


@pytest.mark.parametrize("backend", ["onnxruntime", "onnx-reference"])
def test_requantize_float_backends(backend):
    """REQ-1: QLinearMatMul's output is requantize_float of the exact int32 accumulator, with the
    multiplier of REQ-1.1: ORT with the defaults, onnx.reference with float64 and the zero point
    before rounding. Each profile is also checked to *differ* from the other one here, so the
    cases reach the variants."""
    rng = np.random.default_rng(4)
    m, k, n = 32, 700, 24
    checked = differing = 0
    for trial in range(16):
        per_column, signed = trial % 2 == 1, trial % 4 >= 2
        dtype = np.int8 if signed else np.uint8
        info = np.iinfo(dtype)
        onnx, model = _qlinear_matmul_model(m, k, n, per_column, signed)
        a = rng.integers(info.min, info.max, (m, k), endpoint=True).astype(dtype)
        b = rng.integers(-128, 127, (k, n), endpoint=True).astype(np.int8)
        a_zero_point = dtype(rng.integers(info.min, info.max, endpoint=True))
        b_zero_point = np.zeros(n if per_column else (), np.int8)
        a_scale = np.float32(rng.uniform(1e-3, 0.1))
        b_scale = rng.uniform(1e-3, 0.1, n if per_column else ()).astype(np.float32)
        y_scale = np.float32(rng.uniform(2, 60))
        y_zero_point = dtype(rng.integers(info.min, info.max, endpoint=True))
        if trial % 8 < 4:
            # m = 2^-10 exactly: a*m is an exact tie for 1 accumulator in 1024, and with an odd zero point
            # round(v) + z and round(v + z) differ there (ties to even).
            a_scale, b_scale, y_scale = np.float32(2.0**-6), np.full_like(b_scale, 2.0**-4), np.float32(1)
            y_zero_point = dtype(y_zero_point | 1)
        feeds = {"a": a, "a_scale": np.array(a_scale), "a_zero_point": np.array(a_zero_point), "b": b,
                 "b_scale": np.array(b_scale), "b_zero_point": b_zero_point, "y_scale": np.array(y_scale),
                 "y_zero_point": np.array(y_zero_point)}
        if backend == "onnxruntime":
            ort = pytest.importorskip("onnxruntime")
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            y = session.run(None, feeds)[0]
        else:
            from onnx.reference import ReferenceEvaluator

            y = ReferenceEvaluator(model).run(None, feeds)[0]
        accumulator = ((a.astype(np.int64) - int(a_zero_point)) @ b.astype(np.int64)).astype(np.int32)
        if backend == "onnxruntime" and not signed and cpu.mlas_u8s8_products() == "int16_pairs":
            # INT-2.6: this CPU's MLAS sums uint8 x int8 in int16-saturating pairs.
            accumulator = wrap_loss(accumulator, matmul_pair_losses(a, b, ()))
        multiplier = requantize_multiplier(a_scale, b_scale, y_scale)
        ort_variants = dict(precision="float32", zero_point_placement="after_rounding")
        reference_variants = dict(precision="float64", zero_point_placement="before_rounding")
        ours, other = ((ort_variants, reference_variants) if backend == "onnxruntime"
                       else (reference_variants, ort_variants))
        kwargs = dict(dtype=np.dtype(dtype).name, axis=1 if per_column else None)
        assert np.array_equal(requantize_float(accumulator, multiplier, int(y_zero_point), **kwargs, **ours), y)
        differing += int((requantize_float(accumulator, multiplier, int(y_zero_point), **kwargs, **other) != y).sum())
        checked += y.size
    assert checked == 16 * m * n
    assert differing > 0


# --- REQ-2: fixed-point multiplier and shift -------------------------------------------------

float64_multipliers = st.one_of(
    st.floats(min_value=0, max_value=2.0**28, allow_nan=False, allow_infinity=False),
    st.floats(min_value=2.0**-70, max_value=2.0**-25),
    # float64 values with bits below 2^-31 of the fraction: exact ties of f * 2^31 exist among them
    st.builds(lambda m, e: (2 * m + 1) * 2.0**e, st.integers(2**30, 2**31 - 1), st.integers(-40, -20)),
    st.builds(lambda e: (1 - 2.0**-33) * 2.0**e, st.integers(-40, 20)),  # rounds up to 1.0: renormalised
)


@settings(max_examples=600)
@given(real=float64_multipliers, bits=st.sampled_from([16, 32]),
       rounding=st.sampled_from(["half_away_from_zero", "half_to_even"]),
       limits=st.sampled_from(["tosa", "tflite", "tflite_single_round"]))
def test_fixed_point_multiplier(real, bits, rounding, limits):
    if bits == 16 and limits != "tosa":
        with pytest.raises(RefqValueError):
            fp.fixed_point_multiplier(real, bits=bits, rounding=rounding, shift_limits=limits)
        return
    expected = oracle.fixed_point_multiplier(Fraction(real), bits, rounding, limits)
    if expected is None:
        with pytest.raises(RefqValueError):
            fp.fixed_point_multiplier(real, bits=bits, rounding=rounding, shift_limits=limits)
        return
    assert fp.fixed_point_multiplier(real, bits=bits, rounding=rounding, shift_limits=limits) == expected
    multiplier, shift = expected
    assert 0 <= multiplier < 2 ** (bits - 1)


def test_fixed_point_multiplier_boundaries():
    """Ties-even vs ties-away on an exact tie, and the renormalisation at 2^31."""
    tie = (2**31 + 1) * 2.0**-32  # f * 2^31 = 2^30 + 1/2: a tie between 2^30 and 2^30 + 1
    assert fp.fixed_point_multiplier(tie, rounding="half_away_from_zero") == (2**30 + 1, 31)
    assert fp.fixed_point_multiplier(tie, rounding="half_to_even") == (2**30, 31)
    below_one = 1 - 2.0**-40  # f * 2^31 rounds to 2^31: renormalised to 2^30 with one shift less
    assert fp.fixed_point_multiplier(below_one) == (2**30, 30)
    assert fp.fixed_point_multiplier(0.0) == (0, 31)
    assert fp.fixed_point_multiplier(2.0**-40, shift_limits="tflite") == (0, 31)  # flushed
    assert fp.fixed_point_multiplier(2.0**-40, shift_limits="tosa") == (2**30 >> 8, 62)  # kept, 8 bits fewer
    assert fp.fixed_point_multiplier(2.0**31, shift_limits="tflite_single_round") == (2**31 - 1, 1)
    for limits in ("tosa", "tflite"):
        with pytest.raises(RefqValueError):
            fp.fixed_point_multiplier(2.0**31, shift_limits=limits)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(RefqValueError):
            fp.fixed_point_multiplier(bad)
    with pytest.raises(RefqTypeError):
        fp.fixed_point_multiplier("0.5")


@kernel
def _count_single_round_mismatches(values, multipliers, shifts):
    """TOSA SINGLE_ROUND against TFLite's single-rounding build on every (value, M, s) triple."""
    mismatches = 0
    for s in shifts:
        for m in multipliers:
            for v in values:
                if apply_scale_32(v, m, s, False) != multiply_by_quantized_multiplier_single_round(v, m, 31 - s):
                    mismatches += 1
    return mismatches


@kernel
def _count_double_round_mismatches(values, multipliers, shifts):
    """TOSA DOUBLE_ROUND against gemmlowp (TFLite's default build) where gemmlowp is defined:
    the left shift of v by 31 - s fits int32."""
    mismatches = 0
    compared = 0
    for i in range(values.size):
        v, m, s = values[i], multipliers[i], shifts[i]
        if s < 31 and (v >= (np.int64(1) << (s)) or v < -(np.int64(1) << (s))):
            continue
        compared += 1
        if apply_scale_32(v, m, s, True) != multiply_by_quantized_multiplier(v, m, 31 - s):
            mismatches += 1
    return mismatches, compared


# Accumulators: the extremes, around zero, and around the rounding boundaries of every shift.
_EDGE_VALUES = np.array(sorted({INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1, -1, 2, -2,
                                *(sign * ((1 << k) + d) for k in range(0, 31) for d in (-1, 0, 1) for sign in (1, -1))}),
                        dtype=np.int64)


def test_single_round_tosa_equals_tflite():
    """REQ-2.4, REQ-2.5: every 16-bit-wide multiplier (M = k * 2^16 + 0x8000 for all k < 2^15, plus
    all M < 2^15) x every shift 1..62 x 190 boundary accumulators: 760 million triples, no mismatch."""
    multipliers = np.unique(np.concatenate([np.arange(2**15, dtype=np.int64) * 2**16 + 0x8000,
                                            np.arange(2**15, dtype=np.int64)]))
    shifts = np.arange(1, 63, dtype=np.int64)
    values = _EDGE_VALUES
    assert _count_single_round_mismatches(values, multipliers, shifts) == 0
    assert values.size * multipliers.size * shifts.size > 7 * 10**8


def test_double_round_tosa_equals_gemmlowp():
    """REQ-2.5: 4 million random triples (uniform values, multipliers in [2^30, 2^31), shifts 1..62)
    and the boundary accumulators against every shift: TOSA DOUBLE_ROUND = gemmlowp wherever the
    latter is defined."""
    rng = np.random.default_rng(5)
    n = 4_000_000
    values = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    values[: n // 4] >>= rng.integers(0, 31, n // 4)  # small accumulators too
    multipliers = rng.integers(0, 2**31 - 1, n, endpoint=True)
    multipliers[n // 2:] |= 1 << 30  # normalised ones, as derivation gives
    shifts = rng.integers(1, 63, n)
    mismatches, compared = _count_double_round_mismatches(values, multipliers, shifts)
    assert mismatches == 0 and compared > 2_000_000
    edge_values = np.repeat(_EDGE_VALUES, 62)
    edge_shifts = np.tile(np.arange(1, 63, dtype=np.int64), _EDGE_VALUES.size)
    for multiplier in (0, 1, 2**30, 2**30 + 1, 1518500250, 2**31 - 1):
        mismatches, compared = _count_double_round_mismatches(
            edge_values, np.full(edge_values.size, multiplier, np.int64), edge_shifts)
        assert mismatches == 0 and compared > 5000


@settings(max_examples=500)
@given(value=st.one_of(st.integers(INT32_MIN, INT32_MAX), st.sampled_from([INT32_MIN, INT32_MAX, 0, -1])),
       multiplier=st.integers(0, 2**31 - 1), shift=st.integers(1, 62))
def test_apply_scale_32(value, multiplier, shift):
    """REQ-2.4 against the oracle's two-step definitions, and gemmlowp's primitives against theirs."""
    assert fp.apply_scale_32(value, multiplier, shift, False) == oracle.apply_single_round(value, multiplier, shift)
    assert fp.apply_scale_32(value, multiplier, shift, True) == oracle.apply_double_round(value, multiplier, shift)
    assert fp.saturating_rounding_doubling_high_mul(value, multiplier) == oracle.gemmlowp_high_mul(value, multiplier)
    exponent = shift % 32
    assert fp.rounding_divide_by_power_of_two(value, exponent) == oracle.gemmlowp_divide_by_power_of_two(value, exponent)


def test_saturating_high_mul_corner():
    """REQ-2.5: (-2^31) * (-2^31) / 2^31 = 2^31 does not fit int32: the one saturating case."""
    assert fp.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert fp.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX) == -INT32_MAX
    assert fp.saturating_rounding_doubling_high_mul(INT32_MIN + 1, INT32_MIN) == INT32_MAX
    assert fp.saturating_rounding_doubling_high_mul(-(2**15), 2**15) == 0  # -2^30 / 2^31 = -1/2: toward +inf
    assert fp.saturating_rounding_doubling_high_mul(-(2**15), 3 * 2**15) == -1  # -3/2 -> -1
    with pure_python():
        assert fp.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX


def test_apply_scale_16():
    """REQ-2.4: the 16-bit form on int48 accumulators, every multiplier < 2^15 at sampled shifts."""
    rng = np.random.default_rng(6)
    values = rng.integers(-(2**47), 2**47 - 1, 40, endpoint=True).tolist() + [-(2**47), 2**47 - 1, -1, 0, 1]
    for multiplier in range(0, 2**15, 97):
        for shift in (2, 15, 31, 47, 62):
            for value in values[:: 1 + (multiplier % 5)]:
                assert fp.apply_scale_16(value, multiplier, shift) == oracle.apply_single_round(value, multiplier, shift)


@pytest.mark.parametrize("rounding", ["single_round", "double_round"])
def test_requantize_fixed_point(rounding):
    """REQ-2.6 per channel on an NCHW accumulator, against the oracle; unpredictable where TOSA's REQUIRE fails."""
    rng = np.random.default_rng(7)
    accumulator = rng.integers(INT32_MIN, INT32_MAX, (2, 4, 5, 6), endpoint=True)
    accumulator[0] >>= 12
    reals = [0.000123, 0.75, 2.0**-35, 3.5e-6]
    pairs = [fp.fixed_point_multiplier(r) for r in reals]
    multipliers, shifts = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    zero_points = np.array([-128, -5, 0, 127])
    q, unpredictable = fp.requantize_fixed_point_with_outcomes(accumulator, multipliers, shifts, zero_points,
                                                               axis=1, rounding=rounding)
    assert q.dtype == np.int8
    for index in np.ndindex(accumulator.shape):
        c, value = index[1], int(accumulator[index])
        expected = oracle.rescale(value, int(multipliers[c]), int(shifts[c]), int(zero_points[c]), -128, 127,
                                  rounding == "double_round")
        assert q[index] == expected
        assert unpredictable[index] == (not -(2 ** (shifts[c] - 1)) <= value < 2 ** (shifts[c] - 1))
    assert unpredictable.any() and not unpredictable.all()
    assert np.array_equal(fp.requantize_fixed_point(accumulator, multipliers, shifts, zero_points, axis=1,
                                                    rounding=rounding), q)
    with pure_python():
        interpreted = fp.requantize_fixed_point_with_outcomes(accumulator, multipliers, shifts, zero_points, axis=1,
                                                              rounding=rounding)
    assert np.array_equal(interpreted[0], q) and np.array_equal(interpreted[1], unpredictable)


def test_requantize_fixed_point_16_bit():
    rng = np.random.default_rng(8)
    accumulator = rng.integers(-(2**40), 2**40, 500)
    multiplier, shift = fp.fixed_point_multiplier(1.3e-9, bits=16)
    q = fp.requantize_fixed_point(accumulator, multiplier, shift, 3, dtype="int16", rounding="single_round", bits=16)
    expected = [oracle.rescale(int(v), multiplier, shift, 3, -(2**15), 2**15 - 1, False) for v in accumulator]
    assert q.tolist() == expected


@pytest.mark.parametrize(("kwargs", "error"), [
    (dict(multiplier=2**31), RefqValueError),
    (dict(multiplier=-1), RefqValueError),
    (dict(shift=0), RefqValueError),
    (dict(shift=63), RefqValueError),
    (dict(accumulator=np.array([2**31])), RefqValueError),
    (dict(accumulator=np.array([0.5])), RefqTypeError),
    (dict(rounding="inexact_round"), RefqValueError),
    (dict(bits=8), RefqValueError),
    (dict(bits=16, multiplier=2**15), RefqValueError),
    (dict(bits=16), RefqValueError),  # double rounding has no 16-bit form
    (dict(shift=[3, 4]), RefqValueError),
])
def test_requantize_fixed_point_rejects(kwargs, error):
    arguments = dict(accumulator=np.zeros(3, np.int64), multiplier=2**30, shift=40)
    arguments.update(kwargs)
    with pytest.raises(error):
        fp.requantize_fixed_point(arguments.pop("accumulator"), arguments.pop("multiplier"), arguments.pop("shift"),
                                  **arguments)


def test_fixed_point_kernels_jit_equals_pure_python():
    rng = np.random.default_rng(9)
    cases = zip(rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True).tolist(),
                rng.integers(0, 2**31 - 1, 2000, endpoint=True).tolist(), rng.integers(1, 63, 2000).tolist())
    for value, multiplier, shift in cases:
        compiled = (fp.apply_scale_32(value, multiplier, shift, True), fp.apply_scale_32(value, multiplier, shift, False),
                    fp.multiply_by_quantized_multiplier(value, multiplier, 31 - max(shift, 1)),
                    fp.saturating_rounding_doubling_high_mul(value, multiplier),
                    fp.rounding_divide_by_power_of_two(value, shift % 32))
        with pure_python():
            interpreted = (fp.apply_scale_32(value, multiplier, shift, True),
                           fp.apply_scale_32(value, multiplier, shift, False),
                           fp.multiply_by_quantized_multiplier(value, multiplier, 31 - max(shift, 1)),
                           fp.saturating_rounding_doubling_high_mul(value, multiplier),
                           fp.rounding_divide_by_power_of_two(value, shift % 32))
        assert compiled == interpreted


# --- REQ-2.7: TensorFlow Lite's fixed-point requantization ----------------------------------

TFLITE_APPLY = {"single_round": oracle.apply_single_round, "double_round": oracle.apply_double_round,
                "double_round_ties_up": oracle.apply_double_round_ties_up}


@settings(max_examples=300)
@given(value=st.one_of(st.integers(INT32_MIN, INT32_MAX), st.integers(-(2**12), 2**12)),
       multiplier=st.one_of(st.integers(2**30, 2**31 - 1), st.sampled_from([2**30, 2**30 + 1, 2**31 - 1])),
       shift=st.integers(31, 62))
def test_tflite_forms_against_the_oracle(value, multiplier, shift):
    """REQ-2.7 for right shifts (e <= 0): each fixed_point_rounding form of MultiplyByQuantizedMultiplier equals
    the oracle's exact rational roundings."""
    exponent = 31 - shift
    assert fp.multiply_by_quantized_multiplier(value, multiplier, exponent) == \
        oracle.apply_double_round(value, multiplier, shift)
    assert fp.multiply_by_quantized_multiplier_ties_up(value, multiplier, exponent) == \
        oracle.apply_double_round_ties_up(value, multiplier, shift)
    assert fp.multiply_by_quantized_multiplier_single_round(value, multiplier, exponent) == \
        oracle.apply_single_round(value, multiplier, shift)


def test_ties_up_shift_examples():
    """m = 1/4 (M = 2^30, e = -1): 1 -> 1 and -10 -> -2, where gemmlowp's shift gives 1 and -3 and one
    rounding 0 and -2."""
    assert [int(fp.multiply_by_quantized_multiplier_ties_up(v, 2**30, -1)) for v in (1, -10)] == [1, -2]
    assert [int(fp.multiply_by_quantized_multiplier(v, 2**30, -1)) for v in (1, -10)] == [1, -3]
    assert [int(fp.multiply_by_quantized_multiplier_single_round(v, 2**30, -1)) for v in (1, -10)] == [0, -2]
    assert [int(fp.rounding_shift_ties_up(v, 1)) for v in (-5, -3, 3, 5, 4)] == [-2, -1, 2, 3, 2]


@pytest.mark.parametrize("rounding", list(TFLITE_APPLY))
def test_requantize_tflite_per_channel(rounding):
    """REQ-2.7 on an NCHW accumulator with float64 multipliers per channel: QuantizeMultiplier (the oracle's
    REQ-2.2 / REQ-2.3) and the form, + z, clamped; the JIT and the interpreter agree."""
    rng = np.random.default_rng(27)
    accumulator = rng.integers(-(2**20), 2**20, (2, 4, 3, 5)).astype(np.int32)
    accumulator[0, :, 0, :3] = [[2**12, -(2**12), -3 * 2**12]] * 4  # ties at the final shift under 2^-13
    multipliers = np.array([2.0**-13, 1e-4 * 1.000123, 3.7e-5, 0.0091], np.float64)
    zero_points = np.array([-3, 0, 5, 127])
    got = fp.requantize_tflite(accumulator, multipliers, zero_points, axis=1, rounding=rounding)
    with pure_python():
        interpreted = fp.requantize_tflite(accumulator, multipliers, zero_points, axis=1, rounding=rounding)
    np.testing.assert_array_equal(got, interpreted)
    for index in np.ndindex(accumulator.shape):
        channel = index[1]
        multiplier, shift = oracle.fixed_point_multiplier(Fraction(multipliers[channel]), 32, "half_away_from_zero",
                                                          "tflite")
        scaled = TFLITE_APPLY[rounding](int(accumulator[index]), multiplier, shift)
        assert int(got[index]) == min(max(scaled + int(zero_points[channel]), -128), 127), index


def test_requantize_tflite_rejects():
    with pytest.raises(RefqValueError, match="^shift_limits: "):
        fp.requantize_tflite(np.zeros(2, np.int32), 0.5, shift_limits="tosa")
    with pytest.raises(RefqValueError, match="^rounding: "):
        fp.requantize_tflite(np.zeros(2, np.int32), 0.5, rounding="nearest")
    with pytest.raises(RefqValueError, match="^rounding: "):
        fp.requantize_fixed_point(np.zeros(2, np.int32), 2**30, 40, rounding="double_round_ties_up")
    with pytest.raises(RefqValueError, match="^accumulator: "):
        fp.requantize_tflite(np.array([2**31]), 0.5)


# --- REQ-3: accumulators --------------------------------------------------------------------


def test_accumulator_range():
    assert acc_module.accumulator_range("int32") == (INT32_MIN, INT32_MAX)
    assert acc_module.accumulator_range("int48") == (-(2**47), 2**47 - 1)
    assert acc_module.accumulator_range("int64") == (-(2**63), 2**63 - 1)
    with pytest.raises(RefqValueError):
        acc_module.accumulator_range("int16")


@settings(max_examples=300)
@given(total=st.integers(-(2**63), 2**63 - 1), term=st.integers(-(2**63), 2**63 - 1), bits=st.sampled_from([32, 48, 64]))
def test_add_to_accumulator(total, term, bits):
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    total = max(min(total, high), low)
    term = max(min(term, high), low)
    exact = total + term
    expected = ((exact - low) % 2**bits) + low
    for run in (lambda: acc_module.add_to_accumulator(total, term, bits, acc_module.OVERFLOW_WRAP),):
        got, overflowed = run()
        assert (got, overflowed) == (expected, not low <= exact <= high)
        with pure_python():
            assert run() == (got, overflowed)


def test_dot_product_overflow_policies():
    """REQ-3.3: 2^17 products of (-128) * (-128) = 2^14 sum to 2^31: one past int32."""
    a = np.full(2**17, -128, np.int8)
    assert acc_module.dot_product(a, a, accumulator="int32", overflow="wrap") == (INT32_MIN, False)
    assert acc_module.dot_product(a, a, accumulator="int32", overflow="unpredictable") == (INT32_MIN, True)
    assert acc_module.dot_product(a, a, accumulator="int48", overflow="error") == (2**31, False)
    with pytest.raises(RefqValueError):
        acc_module.dot_product(a, a, accumulator="int32", overflow="error")
    # numpy's int32 matmul (onnx.reference) wraps the same way
    assert int(np.matmul(a.astype(np.int32), a.astype(np.int32))) == INT32_MIN
    with pytest.raises(RefqValueError):
        acc_module.dot_product(a, a, overflow="saturate")
