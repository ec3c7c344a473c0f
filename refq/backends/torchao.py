"""torchao's MX formats (``torchao.prototype.mx_formats``) as BLK's operations, one backend per scale mode.

torchao 0.18.0 is installed with ``pip install --no-deps`` (its declared dependencies would move torch).
Its ``to_mx`` takes blocks along the last axis of a float32 tensor; another axis is moved last
first, as BLK-1.3 defines the blocks. FP4 codes come packed two per byte (element 2i in the low
nibble); the adapter unpacks them, as BLK-5.1 returns one code per byte.

``pack_codes`` and ``unpack_codes`` (BLK-10) are those two functions, ``pack_uint4`` and ``unpack_uint4``, at 4
bits: ``pack_uint4`` asserts an even last axis, and a row of odd length raises NotImplementedError here.
"""

from __future__ import annotations

import numpy as np

#: refq's element format names -> torchao's element dtype names (attributes of torch, or torchao's
#: string constants for FP6).
_ELEMENTS = {"float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2", "float6_e2m3fn": "fp6_e2m3",
             "float6_e3m2fn": "fp6_e3m2", "float4_e2m1fn": "float4_e2m1fn_x2"}


def _record(**fields: np.ndarray) -> np.ndarray:
    from refq.backends.records import record

    return record(**fields)


class TorchaoMxBackend:
    """``block_quantize`` through ``torchao.prototype.mx_formats.mx_tensor.to_mx`` and ``block_dequantize``
    through its ``to_dtype``, under one ``ScaleCalculationMode`` (:attr:`mode`), on the CPU."""

    name = "torchao-floor"
    profile = "torchao-floor"
    mode = "FLOOR"

    def __init__(self) -> None:
        import torch
        import torchao
        from torchao.prototype.mx_formats import mx_tensor
        from torchao.prototype.mx_formats.config import ScaleCalculationMode
        from torchao.prototype.mx_formats.kernels import pack_uint4, unpack_uint4

        self._torch = torch
        self._mx = mx_tensor
        self._pack, self._unpack = pack_uint4, unpack_uint4
        self._mode = ScaleCalculationMode[self.mode]
        self.version = torchao.__version__

    def pack_codes(self, codes, *, bits=4) -> np.ndarray:
        from refq.backends.packing_arguments import check_bits

        check_bits(bits, (4,), self.name)
        array = np.asarray(codes)
        if array.ndim == 0 or array.shape[-1] % 2:
            raise NotImplementedError(f"{self.name}: a row of odd length (pack_uint4 asserts an even last axis)")
        return self._pack(self._torch.from_numpy(np.ascontiguousarray(array))).numpy()

    def unpack_codes(self, packed, *, bits=4, length=None, signed=None) -> np.ndarray:
        from refq.backends.packing_arguments import check_bits

        check_bits(bits, (4,), self.name)
        if signed:
            raise NotImplementedError(f"{self.name}: signed codes (unpack_uint4 returns unsigned ones)")
        codes = self._unpack(self._torch.from_numpy(np.ascontiguousarray(np.asarray(packed)))).numpy()
        return codes if length is None else np.ascontiguousarray(codes[..., :int(length)])

    def _element(self, format: str):
        if format not in _ELEMENTS:
            raise ValueError(f"format {format!r}: torchao has no MX element format of that name")
        name = _ELEMENTS[format]
        return getattr(self._torch, name) if name.startswith("float") else name

    def block_quantize(self, x, *, format="float8_e4m3fn", axis=-1, block_size=32) -> np.ndarray:
        torch = self._torch
        values = np.asarray(x, dtype=np.float32)
        moved = np.ascontiguousarray(np.moveaxis(values, axis, -1))
        scales, data = self._mx.to_mx(torch.from_numpy(moved.copy()), self._element(format), block_size,
                                      self._mode)
        scale_codes = scales.view(torch.uint8).numpy().reshape(*moved.shape[:-1], moved.shape[-1] // block_size)
        if format == "float4_e2m1fn":
            codes = self._unpack(data.view(torch.uint8)).numpy()
        else:
            codes = data.view(torch.uint8).numpy()
        codes = codes.reshape(moved.shape)
        return _record(scales=np.ascontiguousarray(np.moveaxis(scale_codes, -1, axis)),
                       codes=np.ascontiguousarray(np.moveaxis(codes, -1, axis)))

    def block_dequantize(self, scales, codes, *, format="float8_e4m3fn", axis=-1, block_size=32) -> np.ndarray:
        torch = self._torch
        code_array = np.ascontiguousarray(np.moveaxis(np.asarray(codes, dtype=np.uint8), axis, -1))
        scale_array = np.ascontiguousarray(np.moveaxis(np.asarray(scales, dtype=np.uint8), axis, -1))
        if code_array.shape[-1] % block_size or scale_array.shape != (*code_array.shape[:-1],
                                                                      code_array.shape[-1] // block_size):
            raise ValueError("scales: not one per block of codes")
        element = self._element(format)
        data = torch.from_numpy(code_array.reshape(1, -1).copy())
        if format == "float4_e2m1fn":
            data = self._pack(data)
        elif format.startswith("float8"):
            data = data.view(element)
        scale_tensor = torch.from_numpy(scale_array.reshape(1, -1).copy()).view(torch.float8_e8m0fnu)
        values = self._mx.to_dtype(data, scale_tensor, element, block_size, torch.float32).numpy()
        return np.ascontiguousarray(np.moveaxis(values.reshape(code_array.shape), -1, axis))


class TorchaoCeilBackend(TorchaoMxBackend):
    name = profile = "torchao-ceil"
    mode = "CEIL"


class TorchaoEvenBackend(TorchaoMxBackend):
    name = profile = "torchao-even"
    mode = "EVEN"


class TorchaoRceilBackend(TorchaoMxBackend):
    name = profile = "torchao-rceil"
    mode = "RCEIL"
