"""conformance/fingerprint_elementwise.py: fingerprinting the ELT operations' float32 evaluation orders."""

from __future__ import annotations

import numpy as np
import pytest

from refq.conformance import fingerprint_elementwise as fe
from refq.conformance.fingerprint_engine import every_combination as combinations
from refq.elementwise.binary import qlinear_add, qlinear_mul
from refq.elementwise.lookup import qlinear_sigmoid
from refq.elementwise.pooling import qlinear_global_average_pool
from refq.elementwise.windows import qlinear_average_pool

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
    from refq.errors import RefqValueError

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
    """The fingerprint's own arithmetic under ONNX Runtime's values equals refq's ELT functions."""
    for probe in fe.probes_for(operation):
        expected = REFQ[operation](*probe.inputs, **probe.attributes)
        np.testing.assert_array_equal(fe.predict(probe, fe.ONNXRUNTIME[operation]), expected, err_msg=probe.name)


def test_fma32_is_one_rounding():
    """fma32 rounds a*b + c once, where the float64 sum lands on a float32 midpoint and rounding it again
    to even would go the wrong way."""
    a = np.float32(1 + 2**-12)  # a*a = 1 + 2^-11 + 2^-24: the midpoint of two float32 neighbours
    assert fe.fma32(a, a, np.float32(2**-60)) == np.float32(1 + 2**-11 + 2**-23)
    assert fe.fma32(a, a, np.float32(-(2**-60))) == np.float32(1 + 2**-11)
    assert fe.fma32(np.float32(3), np.float32(5), np.float32(7)) == np.float32(22)


def test_fingerprint_onnxruntime():
    pytest.importorskip("onnxruntime")
    from refq.backends import BUILTIN

    for result in fe.fingerprint_elementwise(BUILTIN["onnxruntime"]()):
        assert result.status == "ok", result.detail
        assert result.consistent == [fe.ONNXRUNTIME[result.operation]], result.operation
        assert result.declared_consistent is True


def test_fingerprint_reports_missing_operations():
    assert {r.status for r in fe.fingerprint_elementwise(object())} == {"unsupported"}
