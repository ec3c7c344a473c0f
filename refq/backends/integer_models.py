"""Single-node ONNX models for the integer operations (MatMulInteger, QLinearMatMul,
ConvInteger, QLinearConv), and the argument checks the adapters share.

Every input, zero points and scales included, is a graph input typed and shaped
like the array given; an optional input that is None is left out of the node.
Arguments are validated by refq's own functions first, so a backend sees exactly
the inputs refq accepts.
"""

from __future__ import annotations

import numpy as np

from refq.backends.arguments import contiguous
from refq.backends.onnx_model import IR_VERSION, OPSET

#: refq operation -> (ONNX operator, ONNX input names in order).
OPERATORS = {
    "matmul_integer": ("MatMulInteger", ("a", "b", "a_zero_point", "b_zero_point")),
    "qlinear_matmul": ("QLinearMatMul", ("a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                         "y_scale", "y_zero_point")),
    "conv_integer": ("ConvInteger", ("x", "w", "x_zero_point", "w_zero_point")),
    "qlinear_conv": ("QLinearConv", ("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point",
                                     "y_scale", "y_zero_point", "B")),
}
#: Positions of the scales (float32 for ONNX), and of each zero point with its input's position.
SCALES = {"qlinear_matmul": (1, 4, 6), "qlinear_conv": (1, 4, 6)}
ZERO_POINTS = {"matmul_integer": ((2, 0), (3, 1)), "conv_integer": ((2, 0), (3, 1)),
               "qlinear_matmul": ((2, 0), (5, 3)), "qlinear_conv": ((2, 0), (5, 3))}
CONV_ATTRIBUTES = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


def check_arguments(op: str, inputs: tuple, attributes: dict) -> tuple:
    """Run refq's checks on ``inputs`` (ONNX order) and return them as C-contiguous arrays (None kept).

    Raises what refq raises for the same arguments; the result is computed and thrown
    away only for the cheap checks' sake (refq validates while it centres the operands).
    """
    from refq.integer_ops.conv import conv_operands
    from refq.integer_ops.matmul import matmul_operands
    from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul

    if op == "matmul_integer":
        matmul_operands(*inputs)
    elif op == "conv_integer":
        conv_operands(*inputs, **attributes)
    elif op == "qlinear_matmul":
        qlinear_matmul(*inputs)
    else:
        qlinear_conv(*inputs, **attributes)
    values = [None if value is None else np.asarray(value) for value in inputs]
    for scale in SCALES.get(op, ()):
        values[scale] = values[scale].astype(np.float32)
    for zero_point, data in ZERO_POINTS[op]:
        if values[zero_point] is not None:
            values[zero_point] = values[zero_point].astype(values[data].dtype)
    return tuple(None if value is None else contiguous(value) for value in values)


def output_dtype(op: str, inputs: tuple) -> np.dtype:
    if op in ("matmul_integer", "conv_integer"):
        return np.dtype(np.int32)
    return inputs[7].dtype


def onnx_attributes(op: str, attributes: dict) -> dict:
    """The node attributes ONNX takes: unset ones left out, ``auto_pad`` only when not NOTSET."""
    if op not in ("conv_integer", "qlinear_conv"):
        return {}
    chosen = {}
    for name in CONV_ATTRIBUTES:
        value = attributes.get(name)
        if value is None or (name == "auto_pad" and value == "NOTSET") or (name == "group" and value == 1):
            continue
        chosen[name] = value if isinstance(value, str) else (int(value) if name == "group" else
                                                              [int(item) for item in value])
    return chosen


def model_key(op: str, inputs: tuple, attributes: dict) -> tuple:
    signature = tuple(None if value is None else (value.dtype.str, value.shape) for value in inputs)
    return (op, signature, tuple(sorted((name, str(value)) for name, value in onnx_attributes(op, attributes).items())))


def build_integer_model(op: str, inputs: tuple, attributes: dict):
    """An ``onnx.ModelProto`` with one node of ``op``'s ONNX operator on ``inputs``; output ``y``."""
    from onnx import helper

    operator, names = OPERATORS[op]
    node_inputs, graph_inputs = [], []
    for name, value in zip(names, inputs):
        if value is None:
            node_inputs.append("")
            continue
        node_inputs.append(name)
        element = helper.np_dtype_to_tensor_dtype(value.dtype)
        graph_inputs.append(helper.make_tensor_value_info(name, element, list(value.shape)))
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    node = helper.make_node(operator, node_inputs, ["y"], **onnx_attributes(op, attributes))
    output = helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(output_dtype(op, inputs)), None)
    graph = helper.make_graph([node], operator, graph_inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def feeds(op: str, inputs: tuple) -> dict:
    _, names = OPERATORS[op]
    return {name: value for name, value in zip(names, inputs) if value is not None}


def onnxruntime_unsupported(op: str, inputs: tuple) -> str | None:
    """Why ONNX Runtime's CPU provider (1.32) rejects these inputs, or None: a per-row a zero point,
    a per-column b zero point not shaped ``b.shape[:-2] + (1, N)``, a per-channel w zero point in
    ConvInteger, an int8 first input with a uint8 second in the QLinear operators."""
    if op in ("matmul_integer", "qlinear_matmul"):
        a, b = inputs[0], inputs[1 if op == "matmul_integer" else 3]
        a_zero_point, b_zero_point = inputs[2], inputs[3 if op == "matmul_integer" else 5]
        if a_zero_point is not None and a_zero_point.size > 1:
            return "a per-row a_zero_point"
        if b_zero_point is not None and b_zero_point.size > 1 and b.ndim > 2 and b_zero_point.ndim != b.ndim:
            return "a b_zero_point of shape (N,) for an N-D b"
    if op == "conv_integer" and inputs[3] is not None and inputs[3].size > 1:
        return "a per-channel w_zero_point in ConvInteger"
    if op in ("qlinear_matmul", "qlinear_conv") and inputs[0].dtype == np.int8 and inputs[3].dtype == np.uint8:
        return "an int8 first input with a uint8 second"
    return None
