"""Quantization-aware training: fine-tune the float model with refq's fake quantization
(QAT-1: forward ``fake_quantize``, backward the straight-through mask computed on the rounded value)
on every activation and weight, then quantize the result as after calibration.

The activation parameters are those of calibration, kept fixed; the weight scales follow the
weights (the per-channel observer of :mod:`refq.demo.calibrate` at every step).
"""

from __future__ import annotations

import copy

import numpy as np

from refq.demo.calibrate import activation_qparams, weight_qparams
from refq.demo.models import train
from refq.demo.quantized import QuantizedModel, quantize_model
from refq.qat import fake_quantize, fake_quantize_mask

QAT_LEARNING_RATE = 1e-3


def _fake_quantize_function():
    import torch

    class RefqFakeQuantize(torch.autograd.Function):
        """refq's fake quantization as a torch autograd function (the float32 values cross as numpy)."""

        @staticmethod
        def forward(ctx, x, scale, zero_point, dtype, axis):
            values = x.detach().numpy()
            ctx.save_for_backward(torch.from_numpy(fake_quantize_mask(values, scale, zero_point, dtype=dtype,
                                                                      axis=axis)))
            return torch.from_numpy(fake_quantize(values, scale, zero_point, dtype=dtype, axis=axis))

        @staticmethod
        def backward(ctx, gradient):
            (mask,) = ctx.saved_tensors
            return gradient * mask, None, None, None, None

    return RefqFakeQuantize.apply


def quantization_aware_training(model, images: np.ndarray, labels: np.ndarray, calibration_images: np.ndarray,
                                epochs: int, weight_bits: int = 8, seed: int = 1) -> QuantizedModel:
    """A fake-quant fine-tuned copy of ``model``, quantized with the activation parameters it trained with."""
    apply = _fake_quantize_function()
    trained = copy.deepcopy(model)
    activations = activation_qparams(trained, calibration_images)

    def activation_hook(index, tensor):
        scale, zero_point = activations[index]
        return apply(tensor, scale, np.int8(zero_point), "int8", None)

    def weight_hook(index, weight):
        scale = weight_qparams(weight.detach().numpy(), weight_bits)
        return apply(weight, scale, np.zeros(scale.shape, np.int8), f"int{weight_bits}", 0)

    train(trained, images, labels, epochs, seed=seed, activation_hook=activation_hook, weight_hook=weight_hook,
          learning_rate=QAT_LEARNING_RATE)
    return quantize_model(trained, calibration_images, weight_bits, activations=activations)
