"""torchao's NVFP4 (``torchao.prototype.mx_formats.nvfp4_tensor``) as BLK-8's operations, on the CPU.

torchao 0.18.0 is installed with ``pip install --no-deps`` (its declared dependencies would move torch).
Quantize is ``NVFP4Tensor.to_nvfp4`` with the two-level scale torchao documents: the per-tensor scale
``per_tensor_amax_to_scale(max |x|)``, the torch path (no Triton, no swizzled scales). ``to_nvfp4`` takes 2-D
and 3-D tensors; any other rank is read as rows of its last axis, which is where BLK-8.1 cuts its blocks.
"""

from __future__ import annotations

import numpy as np

BLOCK = 16


def _record(**fields: np.ndarray) -> np.ndarray:
    from refq.backends.records import record

    return record(**fields)


class TorchaoNvfp4Backend:
    """``nvfp4_quantize`` through ``NVFP4Tensor.to_nvfp4`` and ``nvfp4_dequantize`` through ``NVFP4Tensor``'s
    ``dequantize``."""

    name = profile = "torchao-nvfp4"

    def __init__(self) -> None:
        import torch
        import torchao
        from torchao.prototype.mx_formats import nvfp4_tensor

        self._torch = torch
        self._nvfp4 = nvfp4_tensor
        self.version = torchao.__version__

    def nvfp4_quantize(self, x) -> np.ndarray:
        torch = self._torch
        values = np.asarray(x, dtype=np.float32)
        if values.ndim == 0 or values.size == 0 or values.shape[-1] % BLOCK:
            raise ValueError(f"x: shape {values.shape}: torchao's NVFP4 needs a last axis that 16 divides")
        rows = torch.from_numpy(np.ascontiguousarray(values.reshape(-1, values.shape[-1])).copy())
        tensor_scale = self._nvfp4.per_tensor_amax_to_scale(torch.max(torch.abs(rows)))
        quantized = self._nvfp4.NVFP4Tensor.to_nvfp4(rows, block_size=BLOCK, per_tensor_scale=tensor_scale)
        lead = values.shape[:-1]
        return _record(tensor_scale=np.array(quantized.per_tensor_scale.numpy(), dtype=np.float32),
                       block_scales=quantized.scale.view(torch.uint8).numpy().reshape(*lead, -1).copy(),
                       codes=quantized.qdata.view(torch.uint8).numpy().reshape(*lead, -1).copy())

    def nvfp4_dequantize(self, tensor_scale, block_scales, codes) -> np.ndarray:
        torch = self._torch
        packed = np.asarray(codes, dtype=np.uint8)
        scales = np.asarray(block_scales, dtype=np.uint8)
        stored = np.asarray(tensor_scale, dtype=np.float32)
        if packed.ndim == 0 or packed.size == 0 or packed.shape[-1] % (BLOCK // 2):
            raise ValueError(f"codes: shape {packed.shape}: not whole blocks of 16 codes")
        if stored.shape != () or scales.shape != (*packed.shape[:-1], packed.shape[-1] // (BLOCK // 2)):
            raise ValueError("tensor_scale or block_scales: not one per tensor and one per block")
        qdata = torch.from_numpy(np.ascontiguousarray(packed.reshape(-1, packed.shape[-1])).copy())
        scale = torch.from_numpy(np.ascontiguousarray(scales.reshape(qdata.shape[0], -1)).copy())
        tensor = self._nvfp4.NVFP4Tensor(qdata, scale.view(torch.float8_e4m3fn), BLOCK, torch.float32,
                                         per_tensor_scale=torch.from_numpy(stored.copy()))
        values = tensor.dequantize(torch.float32).numpy()
        return np.ascontiguousarray(values.reshape(*packed.shape[:-1], 2 * packed.shape[-1]))
