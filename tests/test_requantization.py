"""REQ: requantization, against the exact oracle (tests/oracle/requantize.py) and real backends."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.requantize import requantize_float, requantize_multiplier
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
