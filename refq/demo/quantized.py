"""The quantized model: every integer and every parameter both refq and ONNX Runtime run with.

Weights are quantized per output channel, symmetric (zero point 0), by refq's quantize
under the ``pytorch`` profile (what ``torch.quantize_per_channel`` computes); the int4
variant keeps int4 values in int8 containers, which the int8 kernels take unchanged.
A convolution's bias becomes int32 in the accumulator's scale $s_x s_{w,m}$ (INT-4.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refq.affine import quantize
from refq.demo.calibrate import activation_qparams, weight_qparams
from refq.demo.models import LayerSpec
from refq.numbers.integers.packing import packed_size

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class QuantizedLayer:
    spec: LayerSpec
    #: ONNX layout: a convolution's (M, C, kH, kW); a matmul's B = W^T, (in, out).
    weight: np.ndarray
    #: One float32 scale and one int8 zero point (0) per output channel.
    weight_scale: np.ndarray
    weight_zero_point: np.ndarray
    #: int32, one per output channel, in the scale fl32(input_scale * weight_scale); None without bias.
    bias: np.ndarray | None
    input_scale: np.float32
    input_zero_point: np.int8
    output_scale: np.float32
    output_zero_point: np.int8

    @property
    def flattens_input(self) -> bool:
        return self.spec.kind == "linear"


@dataclass(frozen=True)
class QuantizedModel:
    architecture: str
    input_shape: tuple[int, ...]
    weight_bits: int
    input_scale: np.float32
    input_zero_point: np.int8
    layers: tuple[QuantizedLayer, ...]

    @property
    def output_scale(self) -> np.float32:
        return self.layers[-1].output_scale

    @property
    def output_zero_point(self) -> np.int8:
        return self.layers[-1].output_zero_point


def quantize_bias(bias: np.ndarray, input_scale: np.float32, weight_scale: np.ndarray) -> np.ndarray:
    """$b_q = \\mathrm{round}(b / \\mathrm{fl_{32}}(s_x s_{w,m}))$ in float32, ties to even, saturated to int32
    (ONNX Runtime's quantization tool does the same division in numpy)."""
    bias_scale = (np.float32(input_scale) * weight_scale).astype(np.float32)
    quotient = np.rint(bias.astype(np.float32) / bias_scale).astype(np.float64)
    return np.clip(quotient, INT32_MIN, INT32_MAX).astype(np.int32)


def quantize_weight(weight: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(integers in an int8 container, per-channel scales) of a torch weight (output channel first)."""
    scale = weight_qparams(weight, bits)
    zero_point = np.zeros(scale.shape, dtype=np.int8)
    integers = quantize(weight, scale, zero_point, dtype=f"int{bits}", axis=0, profile="pytorch")
    return integers.astype(np.int8), scale


def quantize_model(model, calibration_images: np.ndarray, weight_bits: int = 8,
                   activations: list[tuple[np.float32, int]] | None = None) -> QuantizedModel:
    """Calibrate (unless ``activations`` is given) and quantize a trained float model."""
    if activations is None:
        activations = activation_qparams(model, calibration_images)
    layers = []
    for index, (spec, module) in enumerate(zip(model.specs, model.layers)):
        weight = module.weight.detach().numpy().astype(np.float32)
        integers, scale = quantize_weight(weight, weight_bits)
        (input_scale, input_zero), (output_scale, output_zero) = activations[index], activations[index + 1]
        bias = None
        if getattr(module, "bias", None) is not None:
            bias = quantize_bias(module.bias.detach().numpy(), input_scale, scale)
        layers.append(QuantizedLayer(
            spec, integers if spec.kind == "conv" else np.ascontiguousarray(integers.T), scale,
            np.zeros(scale.shape, dtype=np.int8), bias, np.float32(input_scale), np.int8(input_zero),
            np.float32(output_scale), np.int8(output_zero)))
    input_scale, input_zero = activations[0]
    return QuantizedModel(model.architecture, tuple(model.input_shape), weight_bits, np.float32(input_scale),
                          np.int8(input_zero), tuple(layers))


def float_model_bytes(model) -> int:
    """float32 parameters: 4 bytes each."""
    return sum(4 * parameter.numel() for parameter in model.parameters())


def quantized_model_bytes(model: QuantizedModel) -> int:
    """Every stored number: weights packed at ``weight_bits`` (NUM-1.9), int32 biases, float32 scales and
    int8 zero points of the weights (per channel) and of each activation (input and every layer output)."""
    total = 4 + 1  # the input's scale and zero point
    for layer in model.layers:
        total += packed_size(layer.weight.size, model.weight_bits)
        total += 0 if layer.bias is None else 4 * layer.bias.size
        total += 4 * layer.weight_scale.size + layer.weight_zero_point.size
        total += 4 + 1
    return total
