"""ONNX graphs built with ``onnx.helper`` from the quantized model's own integers and parameters,
so that ONNX Runtime and refq compute with identical numbers.

* QOperator form: ``QuantizeLinear`` → ``QLinearConv`` / ``QLinearMatMul`` (int8 → int8) →
  ``DequantizeLinear``; ReLU needs no node (the output zero point is $q_{min}$).
* QDQ form: the float operators ``Conv`` / ``MatMul`` between ``DequantizeLinear`` of their
  int8 inputs, weights and int32 bias and a ``QuantizeLinear`` of their result. ONNX Runtime's
  optimizer fuses such groups into its integer kernels; with optimizations off it computes in float.
* float form: the trained float32 model (for the speed comparison).

Every int8 tensor is also a graph output, so each layer can be compared.
"""

from __future__ import annotations

import numpy as np

from refq.demo.quantized import QuantizedModel

OPSET = 21
INPUT = "images"


def _helpers():
    import onnx
    from onnx import helper, numpy_helper

    return onnx, helper, numpy_helper


def _graph_input(model: QuantizedModel):
    onnx, helper, _ = _helpers()
    return helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, ["N", *model.input_shape])


def _model(nodes, initializers, inputs, outputs, name):
    onnx, helper, _ = _helpers()
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="refq.demo")
    result.ir_version = 10
    onnx.checker.check_model(result)
    return result


class _Graph:
    """Collects initializers under unique names."""

    def __init__(self):
        _, self.helper, self.numpy_helper = _helpers()
        self.nodes, self.initializers = [], []

    def constant(self, name: str, value) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op_type: str, inputs, output: str, **attributes) -> str:
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [output], name=output + "_" + op_type,
                                                **attributes))
        return output

    def flatten(self, x: str, layer, previous_kind: str | None) -> str:
        """A fully connected layer after a convolution takes the flattened (N, C*H*W) tensor."""
        if previous_kind != "conv" or layer.spec.kind != "linear":
            return x
        features = layer.weight.shape[0]
        shape = self.constant(f"{layer.spec.name}.flat_shape", np.array([-1, features], dtype=np.int64))
        return self.node("Reshape", [x, shape], f"{layer.spec.name}.flat")


def tensor_shapes(model: QuantizedModel) -> list[list]:
    """The shapes of the int8 tensors (input, each layer's output), batch dimension "N"."""
    shape = list(model.input_shape)
    shapes = [["N", *shape]]
    for layer in model.layers:
        spec = layer.spec
        if spec.kind == "conv":
            side = [(extent + 2 * spec.padding - spec.kernel) // spec.stride + 1 for extent in shape[1:]]
            shape = [spec.out_features, *side]
        else:
            shape = [spec.out_features]
        shapes.append(["N", *shape])
    return shapes


def _int8_outputs(model: QuantizedModel):
    onnx, helper, _ = _helpers()
    names = ["input"] + [layer.spec.name for layer in model.layers]
    shapes = tensor_shapes(model)
    outputs = [helper.make_tensor_value_info(name, onnx.TensorProto.INT8, shape) for name, shape in zip(names, shapes)]
    return outputs + [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, shapes[-1])]


def _conv_attributes(layer) -> dict:
    spec = layer.spec
    return {"kernel_shape": [spec.kernel] * 2, "pads": [spec.padding] * 4, "strides": [spec.stride] * 2}


def qoperator(model: QuantizedModel):
    """The QOperator form (integer operators)."""
    graph = _Graph()
    input_scale = graph.constant("input.scale", model.input_scale)
    input_zero = graph.constant("input.zero_point", model.input_zero_point)
    x = graph.node("QuantizeLinear", [INPUT, input_scale, input_zero], "input")
    scale, zero, previous = input_scale, input_zero, None
    for layer in model.layers:
        name = layer.spec.name
        x = graph.flatten(x, layer, previous)
        weight = graph.constant(f"{name}.weight", layer.weight)
        weight_scale = graph.constant(f"{name}.weight_scale", layer.weight_scale)
        weight_zero = graph.constant(f"{name}.weight_zero_point", layer.weight_zero_point)
        output_scale = graph.constant(f"{name}.output_scale", layer.output_scale)
        output_zero = graph.constant(f"{name}.output_zero_point", layer.output_zero_point)
        operands = [x, scale, zero, weight, weight_scale, weight_zero, output_scale, output_zero]
        if layer.spec.kind == "conv":
            if layer.bias is not None:
                operands.append(graph.constant(f"{name}.bias", layer.bias))
            x = graph.node("QLinearConv", operands, name, **_conv_attributes(layer))
        else:
            x = graph.node("QLinearMatMul", operands, name)
        scale, zero, previous = output_scale, output_zero, layer.spec.kind
    graph.node("DequantizeLinear", [x, scale, zero], "logits")
    return _model(graph.nodes, graph.initializers, [_graph_input(model)], _int8_outputs(model),
                  f"{model.architecture}_qoperator")


def qdq(model: QuantizedModel):
    """The QDQ form (float operators between QuantizeLinear / DequantizeLinear)."""
    graph = _Graph()
    scale = graph.constant("input.scale", model.input_scale)
    zero = graph.constant("input.zero_point", model.input_zero_point)
    x = graph.node("QuantizeLinear", [INPUT, scale, zero], "input")
    previous = None
    for layer in model.layers:
        name = layer.spec.name
        x = graph.flatten(x, layer, previous)
        x_float = graph.node("DequantizeLinear", [x, scale, zero], f"{name}.input_float")
        weight_axis = 0 if layer.spec.kind == "conv" else 1
        weight_float = graph.node(
            "DequantizeLinear", [graph.constant(f"{name}.weight", layer.weight),
                                 graph.constant(f"{name}.weight_scale", layer.weight_scale),
                                 graph.constant(f"{name}.weight_zero_point", layer.weight_zero_point)],
            f"{name}.weight_float", axis=weight_axis)
        if layer.spec.kind == "conv":
            operands = [x_float, weight_float]
            if layer.bias is not None:
                bias_scale = (np.float32(layer.input_scale) * layer.weight_scale).astype(np.float32)
                operands.append(graph.node(
                    "DequantizeLinear", [graph.constant(f"{name}.bias", layer.bias),
                                         graph.constant(f"{name}.bias_scale", bias_scale),
                                         graph.constant(f"{name}.bias_zero_point",
                                                        np.zeros(layer.bias.shape, np.int32))],
                    f"{name}.bias_float", axis=0))
            y_float = graph.node("Conv", operands, f"{name}.float", **_conv_attributes(layer))
        else:
            y_float = graph.node("MatMul", [x_float, weight_float], f"{name}.float")
        scale = graph.constant(f"{name}.output_scale", layer.output_scale)
        zero = graph.constant(f"{name}.output_zero_point", layer.output_zero_point)
        x = graph.node("QuantizeLinear", [y_float, scale, zero], name)
        previous = layer.spec.kind
    graph.node("DequantizeLinear", [x, scale, zero], "logits")
    return _model(graph.nodes, graph.initializers, [_graph_input(model)], _int8_outputs(model),
                  f"{model.architecture}_qdq")


def float32(torch_model):
    """The trained float model as ONNX (Conv / MatMul / Relu), for timing against the integer ones."""
    onnx, helper, _ = _helpers()
    graph = _Graph()
    x, previous = INPUT, None
    for spec, module in zip(torch_model.specs, torch_model.layers):
        weight = module.weight.detach().numpy().astype(np.float32)
        if spec.kind == "conv":
            operands = [x, graph.constant(f"{spec.name}.weight", weight)]
            if module.bias is not None:
                operands.append(graph.constant(f"{spec.name}.bias", module.bias.detach().numpy()))
            x = graph.node("Conv", operands, f"{spec.name}.float", kernel_shape=[spec.kernel] * 2,
                           pads=[spec.padding] * 4, strides=[spec.stride] * 2)
        else:
            if previous == "conv":
                shape = graph.constant(f"{spec.name}.flat_shape", np.array([-1, spec.in_features], np.int64))
                x = graph.node("Reshape", [x, shape], f"{spec.name}.flat")
            x = graph.node("MatMul", [x, graph.constant(f"{spec.name}.weight", np.ascontiguousarray(weight.T))],
                           f"{spec.name}.float")
        if spec.relu:
            x = graph.node("Relu", [x], f"{spec.name}.relu")
        previous = spec.kind
    graph.nodes[-1].output[0] = "logits"
    inputs = [helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, ["N", *torch_model.input_shape])]
    outputs = [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", torch_model.specs[-1].out_features])]
    return _model(graph.nodes, graph.initializers, inputs, outputs, f"{torch_model.architecture}_float32")


def session(onnx_model, optimize: bool = True):
    """An ONNX Runtime CPU session on one thread; ``optimize=False`` disables every graph optimization."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def float_layers(onnx_model) -> set[str]:
    """Names of the layers whose float operator (``<name>.float``) ONNX Runtime's optimizer left in the
    QDQ graph, i.e. did not fuse into an integer kernel."""
    import os
    import tempfile

    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "optimized.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.optimized_model_filepath = path
        options.log_severity_level = 3  # the warning about hardware-specific saved graphs
        ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        produced = {output for node in onnx.load(path).graph.node for output in node.output}
    return {name[:-len(".float")] for name in produced if name.endswith(".float")}


def run_session(onnx_session, images: np.ndarray) -> dict[str, np.ndarray]:
    names = [output.name for output in onnx_session.get_outputs()]
    shape = onnx_session.get_inputs()[0].shape[1:]
    values = onnx_session.run(names, {INPUT: np.ascontiguousarray(images, np.float32).reshape(-1, *shape)})
    return dict(zip(names, values))
