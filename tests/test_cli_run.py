"""``refq run``: a QOperator model node by node, beside ONNX Runtime or another profile."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from refq.backends.onnx_graph import RefqOnnxBackend, first_difference, run_onnxruntime_all
from refq.cli import main

#: x / s rounds to 127.49999 in float32 (onnx: 127) but x * (1/s) to 127.5 (pytorch, ties to even: 128).
TIE_X, TIE_SCALE = np.float32(0.273939937), np.float32(0.00214854861)


def qoperator_model() -> onnx.ModelProto:
    """QuantizeLinear -> QLinearMatMul -> DequantizeLinear, with the tie's scale on the input."""
    weights = np.random.default_rng(0).integers(-127, 128, (4, 3)).astype(np.int8)
    initializers = [numpy_helper.from_array(value, name) for name, value in [
        ("x_scale", np.array(TIE_SCALE)), ("x_zero", np.array(0, np.uint8)), ("w", weights),
        ("w_scale", np.array(0.01, np.float32)), ("w_zero", np.array(0, np.int8)),
        ("y_scale", np.array(0.05, np.float32)), ("y_zero", np.array(128, np.uint8))]]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["xq"], name="quantize_input"),
             helper.make_node("QLinearMatMul", ["xq", "x_scale", "x_zero", "w", "w_scale", "w_zero", "y_scale",
                                                "y_zero"], ["yq"], name="matmul"),
             helper.make_node("DequantizeLinear", ["yq", "y_scale", "y_zero"], ["y"], name="dequantize_output")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "tiny.onnx"
    onnx.save(qoperator_model(), str(model))
    x = np.full((2, 4), 0.1, np.float32)
    x[1, 2] = TIE_X
    np.save(tmp_path / "x.npy", x)
    return model, tmp_path / "x.npy"


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_refq_and_onnxruntime_agree_on_every_tensor(files, capsys):
    model, x = files
    code, out, _ = run(capsys, "run", str(model), "--input", f"x={x}", "--compare", "onnxruntime")
    assert code == 0, out
    assert "3 nodes, 3 tensors: refq (onnx) and onnxruntime agree on every bit" in out


def test_two_profiles_first_differing_tensor_and_its_trace(files, capsys):
    model, x = files
    code, out, _ = run(capsys, "run", str(model), "--input", f"x={x}", "--profile", "onnx", "--compare", "pytorch")
    assert code == 1
    assert "first differing tensor 'xq', output of QuantizeLinear node quantize_input: 1 of 8 elements differ" in out
    assert "first at index [1, 2]: refq (onnx) 127, refq (pytorch) 128" in out
    assert "[AFF-3.4]" in out and "=> q = 127" in out  # the trace of the element under the first profile


def test_first_difference_is_in_graph_order():
    """A difference planted in the last node's output is found there, after the earlier ones agree."""
    model = qoperator_model()
    x = np.full((2, 4), 0.1, np.float32)
    values = RefqOnnxBackend.prepare(model).run_all({"x": x})
    assert first_difference(model, values, dict(values)) is None
    changed = dict(values, y=values["y"].copy())
    changed["y"][0, 1] = np.nextafter(changed["y"][0, 1], np.float32(np.inf))
    difference = first_difference(model, values, changed)
    assert (difference.output, difference.index, difference.count) == ("y", (0, 1), 1)
    ort = run_onnxruntime_all(model, {"x": x})
    assert set(ort) >= {"xq", "yq", "y"}


def test_drawn_inputs_are_seeded(files, capsys):
    model, _ = files
    first = run(capsys, "run", str(model), "--seed", "3", "--compare", "onnxruntime")
    assert first[0] == 0 and run(capsys, "run", str(model), "--seed", "3", "--compare", "onnxruntime") == first


@pytest.mark.parametrize("argv, named", [
    (["run", "{missing}"], "MODEL.onnx"),
    (["run", "{model}", "--profile", "nope"], "--profile"),
    (["run", "{model}", "--compare", "nope"], "--compare"),
    (["run", "{model}", "--input", "x"], "--input"),
    (["run", "{model}", "--input", "z={x}"], "--input"),
    (["run", "{model}", "--input", "x={missing}"], "--input"),
    (["run", "{unsupported}"], "MODEL.onnx"),
    (["run", "{garbage}"], "MODEL.onnx"),
])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, capsys, argv, named):
    model, x = files
    unsupported = tmp_path / "relu.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(graph), str(unsupported))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a model\xff" * 7)
    words = [word.format(model=model, x=x, missing=tmp_path / "missing.onnx", unsupported=unsupported,
                         garbage=garbage) for word in argv]
    code, out, err = run(capsys, *words)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("refq: error:") and named in err, err


def qdq_model() -> onnx.ModelProto:
    """The same network in QDQ form: DequantizeLinear of both operands, a float MatMul, QuantizeLinear."""
    model = qoperator_model()
    nodes = [model.graph.node[0],
             helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zero"], ["xf"]),
             helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero"], ["wf"]),
             helper.make_node("MatMul", ["xf", "wf"], ["yf"]),
             helper.make_node("QuantizeLinear", ["yf", "y_scale", "y_zero"], ["yq"], name="matmul"),
             model.graph.node[2]]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def test_a_qdq_group_runs_as_its_integer_operator():
    from refq.backends.onnx_graph import fuse_qdq

    fused = fuse_qdq(qdq_model())
    assert [node.op_type for node in fused.graph.node] == ["QuantizeLinear", "QLinearMatMul", "DequantizeLinear"]
    x = np.random.default_rng(5).standard_normal((2, 4)).astype(np.float32)
    qdq = RefqOnnxBackend.prepare(fused, profile="onnxruntime").run_all({"x": x})
    qoperator = RefqOnnxBackend.prepare(qoperator_model(), profile="onnxruntime").run_all({"x": x})
    for name in ("xq", "yq", "y"):
        assert np.array_equal(qdq[name], qoperator[name]), name
    assert fuse_qdq(qoperator_model()).graph.node == qoperator_model().graph.node


def test_refq_run_finds_the_first_differing_layer_of_a_qdq_model(tmp_path, capsys):
    onnx.save(qdq_model(), str(tmp_path / "qdq.onnx"))
    x = np.full((2, 4), 0.1, np.float32)
    x[1, 2] = TIE_X
    np.save(tmp_path / "x.npy", x)
    code, out, _ = run(capsys, "run", str(tmp_path / "qdq.onnx"), "--input", f"x={tmp_path / 'x.npy'}",
                       "--profile", "onnx", "--compare", "pytorch")
    assert code == 1
    assert "refq runs 1 QDQ group as the integer operator it stands for (QLinearMatMul)" in out
    assert "first differing tensor 'xq', output of QuantizeLinear node quantize_input" in out
