"""Integer-only inference with refq's kernels: quantize the input once, then int8 → int8 layer by
layer (INT-4.2 ``qlinear_matmul``, INT-4.3 ``qlinear_conv``, ReLU through the output bounds), and
dequantize the logits. Every intermediate int8 tensor is kept, to be compared bit for bit."""

from __future__ import annotations

import numpy as np

from refq.affine import dequantize, quantize
from refq.demo.quantized import QuantizedLayer, QuantizedModel
from refq.integer_ops import qlinear_conv, qlinear_matmul

#: The profile of the float ends (QuantizeLinear of the input, DequantizeLinear of the logits).
PROFILE = "onnxruntime"


def quantize_input(model: QuantizedModel, images: np.ndarray, profile: str = PROFILE) -> np.ndarray:
    x = np.ascontiguousarray(images, dtype=np.float32).reshape(-1, *model.input_shape)
    return quantize(x, model.input_scale, model.input_zero_point, dtype="int8", profile=profile)


def run_layer(layer: QuantizedLayer, x: np.ndarray, *, u8s8_products: str = "exact", **variants) -> np.ndarray:
    """One layer, int8 in and out; ``variants`` are REQ-1's (``precision``, ``zero_point_placement``,
    ``rounding``), ONNX Runtime's by default. With ``u8s8_products = "int16_pairs"`` (INT-2.6) the int8
    activations are first moved to uint8 — ``x + 128`` with the zero point ``+ 128``, which leaves
    ``x - z`` unchanged — as ONNX Runtime's QDQ S8-to-U8 conversion does on x86, and the uint8 x int8
    products are summed in int16-saturating pairs."""
    spec = layer.spec
    zero_point = layer.input_zero_point
    if u8s8_products != "exact":
        x = (x.astype(np.int16) + 128).astype(np.uint8)
        zero_point = np.uint8(int(zero_point) + 128)
    if spec.kind == "conv":
        return qlinear_conv(x, layer.input_scale, zero_point, layer.weight, layer.weight_scale,
                            layer.weight_zero_point, layer.output_scale, layer.output_zero_point, layer.bias,
                            pads=[spec.padding] * 4, strides=[spec.stride] * 2, u8s8_products=u8s8_products,
                            **variants)
    rows = x.reshape(len(x), -1)
    return qlinear_matmul(rows, layer.input_scale, zero_point, layer.weight, layer.weight_scale,
                          layer.weight_zero_point, layer.output_scale, layer.output_zero_point,
                          u8s8_products=u8s8_products, **variants)


def dequantize_output(model: QuantizedModel, q: np.ndarray, profile: str = PROFILE) -> np.ndarray:
    return dequantize(q, model.output_scale, model.output_zero_point, dtype="int8", profile=profile)


def layer_names(model: QuantizedModel) -> list[str]:
    """The names of the int8 tensors, in order: the quantized input, then each layer's output."""
    return ["input"] + [layer.spec.name for layer in model.layers]


def run(model: QuantizedModel, images: np.ndarray) -> dict[str, np.ndarray]:
    """Every int8 tensor by :func:`layer_names`, and ``"logits"`` (float32)."""
    x = quantize_input(model, images)
    trace = {"input": x}
    for layer in model.layers:
        x = run_layer(layer, x)
        trace[layer.spec.name] = x
    trace["logits"] = dequantize_output(model, x)
    return trace
