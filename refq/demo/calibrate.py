"""Post-training calibration: refq's MinMax observers on the float model's activations.

Every quantization point (the input, and each layer's output after its ReLU) gets
torch's ``MinMaxObserver`` rule (OBS-2.5) for int8 affine parameters; the range always
contains 0 (OBS-1), so after a ReLU the zero point is $-128 = q_{min}$ and the clamp of
requantization *is* the ReLU.
"""

from __future__ import annotations

import numpy as np

from refq.observers.operations import observe_minmax

CALIBRATION_BATCH = 64


def activation_batches(model, images: np.ndarray) -> list[list[np.ndarray]]:
    """The float32 values each quantization point sees, one array per calibration batch."""
    import torch

    from refq.demo.models import single_thread_torch

    points: list[list[np.ndarray]] = [[] for _ in range(len(model.specs) + 1)]

    def record(index, tensor):
        points[index].append(tensor.detach().numpy().copy())
        return tensor

    with torch.no_grad(), single_thread_torch():
        for start in range(0, len(images), CALIBRATION_BATCH):
            model(torch.from_numpy(images[start:start + CALIBRATION_BATCH]), record)
    return points


def activation_qparams(model, images: np.ndarray) -> list[tuple[np.float32, int]]:
    """(scale, zero point) of every quantization point: int8, affine, MinMax over the batches."""
    result = []
    for batches in activation_batches(model, images):
        observed = observe_minmax(batches, dtype="int8", qscheme="affine")
        result.append((np.float32(observed["scale"]), int(observed["zero_point"])))
    return result


def weight_qparams(weight: np.ndarray, bits: int) -> np.ndarray:
    """Per-output-channel symmetric scales (PerChannelMinMaxObserver, ``ch_axis=0``); the zero points are 0.

    int8 weights use the full range $[-128, 127]$; int4 weights the custom range $[-8, 7]$
    in an int8 container (torch's rule: $s = \\max(|min|, max) / ((q_{max} - q_{min}) / 2)$).
    """
    if bits == 8:
        observed = observe_minmax([weight], dtype="int8", qscheme="symmetric", ch_axis=0)
    else:
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        observed = observe_minmax([weight], dtype="int8", qscheme="symmetric", ch_axis=0, quant_min=low,
                                  quant_max=high)
    return np.asarray(observed["scale"], dtype=np.float32)
