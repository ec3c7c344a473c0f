"""conformance/fingerprint_elementwise.py: fingerprinting the ELT operations' float32 evaluation orders."""

from __future__ import annotations

import numpy as np
import pytest

from refq.conformance import fingerprint_elementwise as fe
from refq.errors import RefqValueError
from refq.conformance.fingerprint_engine import every_combination as combinations
from refq.elementwise.binary import qlinear_add, qlinear_mul
from refq.elementwise.lookup import qlinear_sigmoid
from refq.elementwise.pooling import qlinear_global_average_pool
from refq.elementwise.windows import qlinear_average_pool
from tests.oracle import fingerprint_elementwise as oracle

REFQ = {"qlinear_add": qlinear_add, "qlinear_mul": qlinear_mul, "qlinear_sigmoid": qlinear_sigmoid,
        "qlinear_global_average_pool": qlinear_global_average_pool, "qlinear_average_pool": qlinear_average_pool}


@pytest.mark.parametrize("operation", list(fe.OPERATION_VARIANTS))
def test_probes_discriminate(operation):
    """Every pair of valid combinations of the operation's dimensions differs on some probe."""
    table = fe.probes_for(operation)
    every = fe.combinations_for(operation)
    assert every == [c for c in combinations(fe.OPERATION_VARIANTS[operation]) if fe.valid(c)]
    outputs = [b"|".join(fe._output(probe, combination) for probe in table) for combination in every]
    assert len(set(outputs)) == len(every)


def test_average_division_combinations():
    """The integer rules go with integer sums only; each refuses the unequal-scale probe (a backend's
    error matches that) and computes the one-scale probe."""
    every = fe.combinations_for("qlinear_average_pool")
    assert len(every) == 4 and fe.ONNXRUNTIME["qlinear_average_pool"] == {"average_sum": "float32_window_sum",
                                                                         "average_division": "float32"}
    unequal, one_scale = fe.probes_for("qlinear_average_pool")
    for rule in ("rounded_integer_division", "tosa_reciprocal"):
        combination = {"average_sum": "integer_sum", "average_division": rule}
        assert fe.predict(unequal, combination) is None
        assert fe.predict(one_scale, combination).dtype == np.int8


def test_fingerprint_matches_refusals():
    """A backend following TensorFlow Lite's rule (refq's function with rounded_integer_division) that
    rejects the probe it cannot compute is fingerprinted as that rule."""
    class IntegerAverage:
        def qlinear_average_pool(self, *inputs, **attributes):
            return qlinear_average_pool(*inputs, **attributes, average_division="rounded_integer_division")

    result = fe.fingerprint_operation(IntegerAverage(), "qlinear_average_pool")
    assert result.consistent == [{"average_sum": "integer_sum", "average_division": "rounded_integer_division"}]
    assert result.declared is None
    with pytest.raises(RefqValueError):
        IntegerAverage().qlinear_average_pool(*fe.probes_for("qlinear_average_pool")[0].inputs,
                                              kernel_shape=[2, 2], strides=[2, 2])


@pytest.mark.parametrize("operation", list(fe.OPERATION_VARIANTS))
def test_predict_matches_refq(operation):
    """Under ONNX Runtime's values the predictions are refq's ELT functions with their defaults."""
    for probe in fe.probes_for(operation):
        expected = REFQ[operation](*probe.inputs, **probe.attributes)
        np.testing.assert_array_equal(fe.predict(probe, fe.ONNXRUNTIME[operation]), expected, err_msg=probe.name)


@pytest.mark.parametrize("operation", list(fe.OPERATION_VARIANTS))
def test_predict_matches_the_oracle_under_every_combination(operation):
    """refq's ELT kernels under every combination of the variant values (float32 average division) equal
    the independent numpy oracle on every probe, output type included."""
    checked = 0
    for combination in fe.combinations_for(operation):
        if combination.get("average_division", "float32") != "float32":
            continue  # the integer rules: tests/test_elementwise_pooling.py against tests/oracle/average_pool.py
        for probe in fe.probes_for(operation):
            expected = oracle.predict(probe, combination)
            got = fe.predict(probe, combination)
            assert got.dtype == expected.dtype, (probe.name, combination)
            np.testing.assert_array_equal(got, expected, err_msg=f"{probe.name} {combination}")
            checked += 1
    assert checked >= len(fe.probes_for(operation)) * 2


def test_variants_reject_unknown_values():
    probe = fe.probes_for("qlinear_add")[0]
    for function, name in ((qlinear_add, "add_fixed_part"), (qlinear_add, "add_operand_order"),
                           (qlinear_mul, "mul_zero_point")):
        with pytest.raises(RefqValueError, match=f"^{name}: "):
            function(*probe.inputs, **{name: "nope"})
    with pytest.raises(RefqValueError, match="^average_sum: "):
        qlinear_average_pool(*fe.probes_for("qlinear_average_pool")[-1].inputs, kernel_shape=[2, 2], strides=[2, 2],
                             average_sum="float32_window_sum", average_division="rounded_integer_division")


def test_fma32_is_one_rounding():
    """fma32 rounds a*b + c once, where the float64 sum lands on a float32 midpoint and rounding it again
    to even would go the wrong way."""
    a = np.float32(1 + 2**-12)  # a*a = 1 + 2^-11 + 2^-24: the midpoint of two float32 neighbours
    assert oracle.fma32(a, a, np.float32(2**-60)) == np.float32(1 + 2**-11 + 2**-23)
    assert oracle.fma32(a, a, np.float32(-(2**-60))) == np.float32(1 + 2**-11)
    assert oracle.fma32(np.float32(3), np.float32(5), np.float32(7)) == np.float32(22)


def test_fingerprint_onnxruntime():
    pytest.importorskip("onnxruntime")
    from refq.backends import BUILTIN

    for result in fe.fingerprint_elementwise(BUILTIN["onnxruntime"]()):
        assert result.status == "ok", result.detail
        assert result.consistent == [fe.ONNXRUNTIME[result.operation]], result.operation
        assert result.declared_consistent is True


def test_fingerprint_reports_missing_operations():
    assert {r.status for r in fe.fingerprint_elementwise(object())} == {"unsupported"}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_average_sum_variants_match_the_oracle_on_random_pools(dtype):
    """Both average_sum values of the global pool and of non-overlapping windowed pools (2x2, 2x3, 1x3)
    equal the oracle on 40 random inputs each."""
    rng = np.random.default_rng(29)
    info = np.iinfo(dtype)
    for _ in range(40):
        x = rng.integers(info.min, info.max + 1, (2, 3, 4, 6)).astype(dtype)
        inputs = (x, np.float32(rng.uniform(0.005, 0.2)), dtype(rng.integers(info.min, info.max + 1)),
                  np.float32(rng.uniform(0.005, 0.2)), dtype(rng.integers(info.min, info.max + 1)))
        for average_sum in ("integer_sum", "float32_window_sum"):
            np.testing.assert_array_equal(qlinear_global_average_pool(*inputs, average_sum=average_sum),
                                          oracle.predict_global_average_pool(*inputs, average_sum=average_sum))
            for kernel in ([2, 2], [2, 3], [1, 3]):
                np.testing.assert_array_equal(
                    qlinear_average_pool(*inputs, kernel_shape=kernel, strides=kernel, average_sum=average_sum),
                    oracle.predict_average_pool(*inputs, kernel_shape=kernel, strides=kernel, average_sum=average_sum))
