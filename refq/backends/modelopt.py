"""NVIDIA Model Optimizer's NVFP4 and MXFP4 tensors (``modelopt.torch.quantization.qtensor``), on the CPU.

nvidia-modelopt is installed by the ``modelopt`` extra; pip resolves its dependencies under constraints.txt,
so torch stays the pinned CPU build. Its quantizers are plain torch code: ``NVFP4QTensor.quantize`` (the
dynamic path: both scales computed from the tensor) and ``MXFP4QTensor.quantize``, with their ``dequantize``.
Both cut blocks along the last axis; another axis is moved last first, as BLK-1.3 defines the blocks.
"""

from __future__ import annotations

import numpy as np

#: NVFP4's block length (BLK-8.1) and the only MX element format modelopt's MXFP4QTensor has.
NVFP4_BLOCK = 16
MXFP4_FORMAT = "float4_e2m1fn"


def _record(**fields: np.ndarray) -> np.ndarray:
    from refq.backends.records import record

    return record(**fields)


def _modelopt_version() -> str:
    from importlib import metadata

    return metadata.version("nvidia-modelopt")


class ModeloptNvfp4Backend:
    """``nvfp4_quantize`` through ``NVFP4QTensor.quantize(x, 16)`` and ``nvfp4_dequantize`` through its
    ``dequantize`` (the torch path, ``fast=False``)."""

    name = profile = "modelopt-nvfp4"

    def __init__(self) -> None:
        import torch
        from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor

        self._torch = torch
        self._tensor = NVFP4QTensor
        self.version = _modelopt_version()

    def nvfp4_quantize(self, x) -> np.ndarray:
        torch = self._torch
        values = np.asarray(x, dtype=np.float32)
        if values.ndim == 0 or values.size == 0 or values.shape[-1] % NVFP4_BLOCK:
            raise ValueError(f"x: shape {values.shape}: NVFP4 needs a last axis that 16 divides")
        rows = torch.from_numpy(np.ascontiguousarray(values.reshape(-1, values.shape[-1])).copy())
        quantized, block_scales, tensor_scale = self._tensor.quantize(rows, NVFP4_BLOCK)
        lead = values.shape[:-1]
        return _record(tensor_scale=np.array(tensor_scale.numpy(), dtype=np.float32),
                       block_scales=block_scales.view(torch.uint8).numpy().reshape(*lead, -1).copy(),
                       codes=quantized._quantized_data.numpy().reshape(*lead, -1).copy())

    def nvfp4_dequantize(self, tensor_scale, block_scales, codes) -> np.ndarray:
        torch = self._torch
        packed = np.asarray(codes, dtype=np.uint8)
        scales = np.asarray(block_scales, dtype=np.uint8)
        stored = np.asarray(tensor_scale, dtype=np.float32)
        if packed.ndim == 0 or packed.size == 0 or packed.shape[-1] % (NVFP4_BLOCK // 2):
            raise ValueError(f"codes: shape {packed.shape}: not whole blocks of 16 codes")
        if stored.shape != () or scales.shape != (*packed.shape[:-1], packed.shape[-1] // (NVFP4_BLOCK // 2)):
            raise ValueError("tensor_scale or block_scales: not one per tensor and one per block")
        qdata = torch.from_numpy(np.ascontiguousarray(packed.reshape(-1, packed.shape[-1])).copy())
        scale = torch.from_numpy(np.ascontiguousarray(scales.reshape(qdata.shape[0], -1)).copy())
        shape = (qdata.shape[0], 2 * qdata.shape[1])
        tensor = self._tensor(torch.Size(shape), torch.float32, qdata)
        values = tensor.dequantize(torch.float32, scale=scale.view(torch.float8_e4m3fn),
                                   double_scale=torch.from_numpy(stored.copy()),
                                   block_sizes={-1: NVFP4_BLOCK}).numpy()
        return np.ascontiguousarray(values.reshape(*packed.shape[:-1], 2 * packed.shape[-1]))


class ModeloptMxfp4Backend:
    """``block_quantize`` through ``MXFP4QTensor.quantize(x, block_size)`` and ``block_dequantize`` through its
    ``dequantize``: E2M1 elements only, codes unpacked from modelopt's two per byte (element 2i low)."""

    name = profile = "modelopt-mxfp4"

    def __init__(self) -> None:
        import torch
        from modelopt.torch.quantization.qtensor.mxfp4_tensor import MXFP4QTensor

        self._torch = torch
        self._tensor = MXFP4QTensor
        self.version = _modelopt_version()

    @staticmethod
    def _check_format(format: str) -> None:
        if format != MXFP4_FORMAT:
            raise NotImplementedError(f"format {format!r}: modelopt's MXFP4QTensor has E2M1 elements only")

    def block_quantize(self, x, *, format="float8_e4m3fn", axis=-1, block_size=32) -> np.ndarray:
        self._check_format(format)
        torch = self._torch
        moved = np.ascontiguousarray(np.moveaxis(np.asarray(x, dtype=np.float32), axis, -1))
        if moved.shape[-1] % block_size or block_size % 2:
            raise ValueError(f"block_size {block_size}: modelopt needs an even block size dividing the axis")
        quantized, scales = self._tensor.quantize(torch.from_numpy(moved.copy()), block_size)
        packed = quantized._quantized_data.numpy().reshape(-1)
        codes = np.empty(2 * packed.size, dtype=np.uint8)
        codes[0::2], codes[1::2] = packed & 0x0F, packed >> 4
        scale_codes = scales.numpy().reshape(*moved.shape[:-1], moved.shape[-1] // block_size)
        return _record(scales=np.ascontiguousarray(np.moveaxis(scale_codes, -1, axis)),
                       codes=np.ascontiguousarray(np.moveaxis(codes.reshape(moved.shape), -1, axis)))

    def block_dequantize(self, scales, codes, *, format="float8_e4m3fn", axis=-1, block_size=32) -> np.ndarray:
        self._check_format(format)
        torch = self._torch
        code_array = np.ascontiguousarray(np.moveaxis(np.asarray(codes, dtype=np.uint8), axis, -1))
        scale_array = np.ascontiguousarray(np.moveaxis(np.asarray(scales, dtype=np.uint8), axis, -1))
        if code_array.shape[-1] % block_size or block_size % 2 or scale_array.shape != (
                *code_array.shape[:-1], code_array.shape[-1] // block_size):
            raise ValueError("scales: not one per block of codes")
        flat = code_array.reshape(-1)
        packed = (flat[1::2] << 4) | flat[0::2]
        tensor = self._tensor(torch.Size((flat.size // block_size, block_size)), torch.float32,
                              torch.from_numpy(packed.reshape(-1, block_size // 2).copy()))
        values = tensor.dequantize(torch.float32, scale=torch.from_numpy(scale_array.reshape(-1, 1).copy()),
                                   block_sizes={-1: block_size}).numpy()
        return np.ascontiguousarray(np.moveaxis(values.reshape(code_array.shape), -1, axis))
