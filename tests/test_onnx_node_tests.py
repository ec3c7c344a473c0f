"""ONNX's own backend node tests (``onnx.backend.test.case.node``, shipped in the installed onnx) run
through refq's ONNX backend (:mod:`refq.backends.onnx_graph`), compared bit for bit.

Every node test whose graph holds an operator refq defines is listed here once, as one of:
- applicable: it must give ONNX's expected outputs, every bit (ONNX's own runner allows a tolerance);
- an expected failure, with the issue that will make it pass (strict: a pass fails the test, so the
  mark goes when that work lands);
- not applicable: refq must refuse it with :class:`UnsupportedNode` (an input form refq does not
  define), never answer it approximately;
- judged under the ``onnx-reference`` profile, where ONNX's expected outputs (made by onnx.reference)
  depart from the ONNX text: they must match under that profile, and differ under ``onnx`` exactly
  where the text says otherwise.
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
EXPECTED_FAILURES: dict[str, str] = {}
#: Judged under onnx-reference: name pattern -> where ONNX's expected data leave the ONNX text.
REFERENCE_PROFILE = {
    r"^test_cast(like)?_(FLOAT|FLOAT16)_to_FLOAT4E2M1(_expanded)?$":
        "a NaN cast to float4_e2m1 (a format without NaN): ONNX's expected byte is ml_dtypes' 0x8 (-0, "
        "finite_format_nan = opposite_sign_zero), where ONNX's float4 text says NaN becomes 6 (0x7, largest)",
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
    for table, kind in ((EXPECTED_FAILURES, "xfail"), (NOT_APPLICABLE, "not applicable"),
                        (REFERENCE_PROFILE, "onnx-reference")):
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


def run_case(name: str, profile: str = "onnx") -> list[tuple[np.ndarray, np.ndarray]]:
    """(refq's output, ONNX's expected output) for every output of every data set of a node test."""
    case = node_tests()[name]
    pairs = []
    for inputs, outputs in case.data_sets:
        got = RefqOnnxBackend.run_model(case.model, [_array(value) for value in inputs], profile=profile)
        assert len(got) == len(outputs)
        pairs += list(zip(got, [_array(value) for value in outputs]))
    return pairs


@pytest.mark.parametrize(("name", "kind"), list(_params()))
def test_onnx_node_test(name, kind):
    if kind == "not applicable":
        with pytest.raises(UnsupportedNode):
            run_case(name)
        return
    if kind == "onnx-reference":
        _check_text_departure(name)
    for got, expected in run_case(name, "onnx" if kind != "onnx-reference" else kind):
        got = np.asarray(got)
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), name
        assert np.array_equal(_bits(got), _bits(expected)), (name, got, expected)


def _check_text_departure(name: str) -> None:
    """Under ``onnx`` the case differs from ONNX's expected data only on NaN inputs, which the text sends to 6."""
    case = node_tests()[name]
    differing = 0
    for (inputs, _), (got, expected) in zip(case.data_sets, run_case(name, "onnx")):
        x = _array(inputs[0]).astype(np.float32)
        differ = _bits(np.asarray(got)) != _bits(expected)
        assert np.array_equal(differ, np.isnan(x)), (name, x[differ])
        assert (_bits(np.asarray(got))[np.isnan(x)] == 0x7).all()
        differing += int(differ.sum())
    assert differing > 0


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
