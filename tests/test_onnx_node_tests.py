"""ONNX's own backend node tests (``onnx.backend.test.case.node``, shipped in the installed onnx) run
through refq's ONNX backend (:mod:`refq.backends.onnx_graph`), compared bit for bit.

Every node test whose graph holds an operator refq defines is listed here once, as one of:
- applicable: it must give ONNX's expected outputs, every bit (ONNX's own runner allows a tolerance);
- an expected failure, with the issue that will make it pass (strict: a pass fails the test, so the
  mark goes when that work lands);
- not applicable: refq must refuse it with :class:`UnsupportedNode` (an input form refq does not
  define), never answer it approximately.
A node test that ONNX adds later with one of these operators lands in the first group by default.
"""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pytest
from onnx import numpy_helper

from refq.backends.onnx_graph import RefqOnnxBackend, UnsupportedNode, operator_key

#: refq's operators in ONNX node tests: ONNX's own and those of com.microsoft.
OPERATORS = re.compile(r"^(QuantizeLinear|DequantizeLinear|DynamicQuantizeLinear|MatMulInteger|ConvInteger|"
                       r"QLinearMatMul|QLinearConv|Cast|MaxPool)$")
#: Expected failures: name pattern -> why.
EXPECTED_FAILURES = {
    r"^test_cast(like)?_(FLOAT|FLOAT16)_to_FLOAT4E2M1(_expanded)?$":
        "a NaN cast to float4_e2m1 (a format without NaN): ONNX's expected byte is ml_dtypes' 0x8 (-0), refq "
        "refuses the NaN (NUM-3.17); the ONNX text does not say which pattern",
    r"^test_cast(like)?_e8m0_(FLOAT|FLOAT16)_to_FLOAT8E8M0":
        "Cast to E8M0 under round_mode='up' (ONNX's default; refq rounds to nearest: 1.1 -> 1), and 0 -> 0x00 "
        "(refq, as ml_dtypes: NaN, NUM-3.14)",
}
#: Not applicable: name pattern -> the input form refq does not define.
NOT_APPLICABLE = {
    r"^test_maxpool_(?!2d_uint8)": "MaxPool on floats (refq defines it on int8 and uint8)",
    r"^test_qlinearmatmul_.*_float16$": "float16 scales (refq's scales are float32)",
    r"^test_dequantizelinear_e4m3fn_float16$": "a float16 scale (refq's scales are float32)",
    r"^test_cast(like)?_\w*(INT4|INT2|UINT4|UINT2|INT8|UINT8)": "Cast to or from integers (not a float format)",
}


@functools.cache
def node_tests() -> dict:
    """Every ONNX node test whose graph is made only of refq's operators, by name."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return {case.name: case for case in cases
            if case.model.graph.node and all(OPERATORS.match(operator_key(node)) for node in case.model.graph.node)}


def _array(value) -> np.ndarray:
    return numpy_helper.to_array(value) if hasattr(value, "HasField") else np.asarray(value)


def _bits(array: np.ndarray) -> np.ndarray:
    if array.dtype.name in ("int4", "uint4", "int2", "uint2"):
        return array.astype(np.int16)
    return array.view(f"uint{8 * array.dtype.itemsize}")


def _kind(name: str) -> tuple[str, str | None]:
    for table, kind in ((EXPECTED_FAILURES, "xfail"), (NOT_APPLICABLE, "not applicable")):
        for pattern, reason in table.items():
            if re.search(pattern, name):
                return kind, reason
    return "applicable", None


def _params():
    for name in sorted(node_tests()):
        kind, reason = _kind(name)
        marks = [pytest.mark.xfail(reason=reason, strict=True, raises=(UnsupportedNode, AssertionError,
                                                                        ValueError))] if kind == "xfail" else []
        yield pytest.param(name, kind, id=name, marks=marks)


def run_case(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(refq's output, ONNX's expected output) for every output of every data set of a node test."""
    case = node_tests()[name]
    pairs = []
    for inputs, outputs in case.data_sets:
        got = RefqOnnxBackend.run_model(case.model, [_array(value) for value in inputs])
        assert len(got) == len(outputs)
        pairs += list(zip(got, [_array(value) for value in outputs]))
    return pairs


@pytest.mark.parametrize(("name", "kind"), list(_params()))
def test_onnx_node_test(name, kind):
    if kind == "not applicable":
        with pytest.raises(UnsupportedNode):
            run_case(name)
        return
    for got, expected in run_case(name):
        got = np.asarray(got)
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), name
        assert np.array_equal(_bits(got), _bits(expected)), (name, got, expected)


def test_node_test_counts():
    """The applicable node tests are the bulk: a change in ONNX's test list that empties a group shows here."""
    kinds = [_kind(name)[0] for name in node_tests()]
    assert kinds.count("applicable") >= 80, kinds.count("applicable")
    for operator in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
                     "QLinearMatMul", "QLinearConv"):
        assert any(_kind(name)[0] == "applicable" and node_tests()[name].model.graph.node[0].op_type == operator
                   for name in node_tests()), operator


def test_backend_interface_refuses_bad_input():
    from refq.errors import RefqError

    case = node_tests()["test_quantizelinear"]
    with pytest.raises(RefqError, match="profile"):
        RefqOnnxBackend.prepare(case.model, profile="nope")
    with pytest.raises(RefqError, match="model"):
        RefqOnnxBackend.prepare("model.onnx")
    with pytest.raises(RefqError, match="inputs"):
        RefqOnnxBackend.run_model(case.model, [np.zeros(3, np.float32)])
    assert RefqOnnxBackend.supports_device("CPU") and not RefqOnnxBackend.supports_device("CUDA")
