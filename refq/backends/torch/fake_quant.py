"""PyTorch's fake quantization (``torch.fake_quantize_per_tensor_affine`` / ``per_channel_affine``)."""

from __future__ import annotations

import numpy as np

from refq.backends.arguments import quantize_call, require
from refq.backends.torch.common import torch_module, version


class TorchFakeQuantBackend:
    """``torch.fake_quantize_per_tensor_affine`` / ``fake_quantize_per_channel_affine``:
    quantize and dequantize in one call, returning float32."""

    name = "torch-fake-quant"
    profile = "pytorch-fake-quant"
    dtypes = ("int8", "uint8", "int16", "uint16", "int4", "uint4", "int2", "uint2")
    granularities = ("per_tensor", "per_axis")

    def __init__(self) -> None:
        self.version = version()

    def fake_quantize(self, x, scale, zero_point=None, *, axis=None, dtype="int8") -> np.ndarray:
        """``dequantize(quantize(x))`` with ``quant_min``, ``quant_max`` the range of ``dtype``."""
        torch = torch_module()
        call = quantize_call(x, scale, zero_point, axis, None, dtype)
        require(call, dtypes=self.dtypes, granularities=self.granularities, backend=self.name,
                operation="fake_quantize")
        values, target = torch.from_numpy(call.values), call.target
        if call.axis is None:
            result = torch.fake_quantize_per_tensor_affine(values, float(call.scale), int(call.zero_point),
                                                           target.qmin, target.qmax)
        else:
            result = torch.fake_quantize_per_channel_affine(
                values, torch.from_numpy(call.scale), torch.from_numpy(call.zero_point.astype(np.int32)), call.axis,
                target.qmin, target.qmax)
        return result.numpy()
