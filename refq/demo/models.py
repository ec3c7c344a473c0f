"""The two float models, trained with torch from fixed seeds.

A model is a list of layers, each a convolution or a fully connected layer with an
optional ReLU; a fully connected layer after a convolution flattens its input. The
fully connected layers have no bias because ONNX ``QLinearMatMul`` (INT-4.2) has none;
the convolutions keep theirs (``QLinearConv`` takes an int32 bias, INT-4.1).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

TRAIN_SEED = 0
BATCH_SIZE = 64
LEARNING_RATE = 1e-2


@dataclass(frozen=True)
class LayerSpec:
    name: str
    kind: str  # "conv" or "linear"
    in_features: int  # input channels of a convolution
    out_features: int  # output channels of a convolution
    relu: bool
    kernel: int = 1
    stride: int = 1
    padding: int = 0


ARCHITECTURES: dict[str, tuple[tuple[int, ...], tuple[LayerSpec, ...]]] = {
    "mlp": ((64,), (LayerSpec("fc1", "linear", 64, 64, relu=True),
                    LayerSpec("fc2", "linear", 64, 10, relu=False))),
    "cnn": ((1, 8, 8), (LayerSpec("conv1", "conv", 1, 8, relu=True, kernel=3, padding=1),
                        LayerSpec("conv2", "conv", 8, 16, relu=True, kernel=3, stride=2, padding=1),
                        LayerSpec("fc", "linear", 16 * 4 * 4, 10, relu=False))),
}


@contextlib.contextmanager
def single_thread_torch():
    """One intra-op thread: the float training and timings are reproducible and comparable."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build(architecture: str, seed: int = TRAIN_SEED):
    """A fresh torch model of ``architecture`` ("mlp" or "cnn") with seeded initial weights."""
    import torch
    from torch import nn

    input_shape, specs = ARCHITECTURES[architecture]

    class DigitsNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.architecture = architecture
            self.input_shape = input_shape
            self.specs = specs
            modules = []
            for spec in specs:
                if spec.kind == "conv":
                    modules.append(nn.Conv2d(spec.in_features, spec.out_features, spec.kernel, spec.stride,
                                             spec.padding))
                else:
                    modules.append(nn.Linear(spec.in_features, spec.out_features, bias=False))
            self.layers = nn.ModuleList(modules)

        def forward(self, x, activation_hook=None, weight_hook=None):
            """``activation_hook(i, t)`` sees (and may replace) the input (i = 0) and each layer's output
            after its ReLU (i = layer + 1); ``weight_hook(layer, w)`` may replace a layer's weight.
            Calibration records through the first; fake quantization (QAT) uses both."""
            x = x.reshape(-1, *self.input_shape)
            if activation_hook is not None:
                x = activation_hook(0, x)
            for index, (spec, layer) in enumerate(zip(self.specs, self.layers)):
                weight = layer.weight if weight_hook is None else weight_hook(index, layer.weight)
                if spec.kind == "conv":
                    x = torch.nn.functional.conv2d(x, weight, layer.bias, spec.stride, spec.padding)
                else:
                    x = torch.nn.functional.linear(x.flatten(1), weight)
                if spec.relu:
                    x = torch.relu(x)
                if activation_hook is not None:
                    x = activation_hook(index + 1, x)
            return x

    torch.manual_seed(seed)
    return DigitsNet()


def train(model, images: np.ndarray, labels: np.ndarray, epochs: int, *, seed: int = TRAIN_SEED,
          activation_hook=None, weight_hook=None, learning_rate: float = LEARNING_RATE):
    """Adam on cross-entropy, mini-batches in a seeded order; the hooks make it QAT."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    inputs, targets = torch.from_numpy(images), torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    with single_thread_torch():
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(targets), generator=generator)
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start:start + BATCH_SIZE]
                optimizer.zero_grad()
                logits = model(inputs[batch], activation_hook, weight_hook)
                torch.nn.functional.cross_entropy(logits, targets[batch]).backward()
                optimizer.step()
        model.eval()
    return model


def float_logits(model, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad(), single_thread_torch():
        return model(torch.from_numpy(images)).numpy()


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images whose largest logit is the label's (ties go to the lower class, as argmax)."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))
