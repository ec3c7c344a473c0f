"""Single-node ONNX models for ONNX Runtime's ``com.microsoft`` quantized operators
(QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool)
and standard operators on 8-bit tensors (MaxPool).

Every input, scales and zero points included, is a graph input, so one session
serves all values of a shape; an omitted optional input is left out of the node.
"""

from __future__ import annotations

import numpy as np

#: The contrib domain and the standard opset the models import.
CONTRIB_DOMAIN = "com.microsoft"
OPSET = 21
IR_VERSION = 10

_ELEMENT_TYPES = {"int8": "INT8", "uint8": "UINT8", "float32": "FLOAT", "int32": "INT32"}


def element_type(dtype: np.dtype) -> int:
    from onnx import TensorProto

    return getattr(TensorProto, _ELEMENT_TYPES[np.dtype(dtype).name])


def build_node_model(op: str, inputs: list[tuple[str, np.ndarray | None]], output_dtype: np.dtype,
                     attributes: dict, domain: str = CONTRIB_DOMAIN):
    """An ``onnx.ModelProto`` with one ``op`` node; ``inputs`` are (name, array or None) in
    the operator's order, None for an omitted optional input; the output is ``y``."""
    from onnx import helper

    names = [name if value is not None else "" for name, value in inputs]
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node(op, names, ["y"], domain=domain if domain else None,
                            **{k: v for k, v in attributes.items() if v is not None})
    graph_inputs = [helper.make_tensor_value_info(name, element_type(value.dtype), list(value.shape))
                    for name, value in inputs if value is not None]
    graph = helper.make_graph([node], op, graph_inputs,
                              [helper.make_tensor_value_info("y", element_type(output_dtype), None)])
    imports = [helper.make_opsetid("", OPSET)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = IR_VERSION
    return model


def build_qdq_model(op: str, dtype: np.dtype, shape: tuple[int, ...]):
    """``DequantizeLinear`` → ``op`` → ``QuantizeLinear`` on an 8-bit ``x`` of ``shape``: how ONNX
    Runtime runs a float operator with no quantized contrib version. Scales and zero points are
    graph inputs (``x_scale``, ``x_zero_point``, ``y_scale``, ``y_zero_point``); the output is ``y``."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("DequantizeLinear", ["x", "x_scale", "x_zero_point"], ["real"]),
             helper.make_node(op, ["real"], ["result"]),
             helper.make_node("QuantizeLinear", ["result", "y_scale", "y_zero_point"], ["y"])]
    graph_inputs = [helper.make_tensor_value_info("x", element_type(dtype), list(shape)),
                    helper.make_tensor_value_info("x_scale", TensorProto.FLOAT, []),
                    helper.make_tensor_value_info("x_zero_point", element_type(dtype), []),
                    helper.make_tensor_value_info("y_scale", TensorProto.FLOAT, []),
                    helper.make_tensor_value_info("y_zero_point", element_type(dtype), [])]
    graph = helper.make_graph(nodes, f"qdq_{op}", graph_inputs,
                              [helper.make_tensor_value_info("y", element_type(dtype), list(shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def cpu_session(ort, model, *, optimize: bool = True):
    """An ONNX Runtime CPU session for ``model`` on one thread: results must not depend on how the work is
    split. ``optimize=False`` runs the graph as built (no optimizer may merge two of its nodes)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def model_key(op: str, inputs: list[tuple[str, np.ndarray | None]], attributes: dict) -> tuple:
    """What a cached session depends on: the operator, each input's dtype and shape, the attributes."""
    shapes = tuple((name, None if value is None else (value.dtype.name, value.shape)) for name, value in inputs)
    return (op, shapes, tuple(sorted((k, repr(v)) for k, v in attributes.items())))


def feeds(inputs: list[tuple[str, np.ndarray | None]]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(value) for name, value in inputs if value is not None}


def scalar(value, dtype) -> np.ndarray | None:
    """A scale or zero point as a rank-0 array of ``dtype`` (None stays None)."""
    if value is None:
        return None
    return np.asarray(value).astype(dtype).reshape(())
