"""compressed-tensors' int4 group quantization (vLLM's and llm-compressor's W4A16 weights) as BLK-9's
``int4_group_quantize`` and ``int4_group_dequantize``.

Quantize is ``compute_dynamic_scales_and_zp`` with ``QuantizationArgs(num_bits=4, type="int", strategy="group")``
and then ``forward.quantize(..., dtype=torch.int8)``; dequantize is ``forward.dequantize`` with the same arguments
((q - z) * s in float32). Both run on CPU tensors with one torch thread. The library reads an array of rows of
groups: an input of another rank is read as rows = the product of its leading dimensions. What it cannot run
raises NotImplementedError: a group size that does not divide the last axis (compressed-tensors refuses it), and
zero points that are not int8 integers from -8 to 7 (its zp_dtype).

``pack_codes`` and ``unpack_codes`` (BLK-10) are its pack-quantized compressor's ``pack_to_int32`` and
``unpack_from_int32`` with ``packed_dim=1``, 1 to 8 bits, on rows along the last axis.
"""

from __future__ import annotations

import numpy as np

from refq.backends.int4_group_arguments import dequantize_arguments, group_size_of, rows as _rows
from refq.backends.packing_arguments import check_bits, code_rows
from refq.backends.records import record
from refq.backends.torch.common import one_thread_no_grad


class CompressedTensorsBackend:
    """``int4_group_quantize`` and ``int4_group_dequantize`` through compressed-tensors on the CPU,
    single-threaded."""

    name = "compressed-tensors"
    profile = "compressed-tensors"

    def __init__(self) -> None:
        import torch
        from compressed_tensors.quantization import QuantizationArgs
        from compressed_tensors.quantization.lifecycle.forward import dequantize, quantize
        from compressed_tensors.quantization.utils.helpers import compute_dynamic_scales_and_zp

        self._torch = torch
        self._args = QuantizationArgs
        self._scales_and_zp = compute_dynamic_scales_and_zp
        self._quantize = quantize
        self._dequantize = dequantize
        from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32, unpack_from_int32

        self._pack, self._unpack = pack_to_int32, unpack_from_int32
        from refq.registry.verified import installed_version

        self.version = installed_version("compressed-tensors")

    def _arguments(self, group_size, symmetric, columns: int):
        group_size = group_size_of(group_size)
        if columns % group_size:
            raise NotImplementedError(f"compressed-tensors: group_size {group_size} does not divide the last axis "
                                      f"({columns}); its group strategy requires whole groups")
        return self._args(num_bits=4, type="int", symmetric=bool(symmetric), strategy="group",
                          group_size=int(group_size))

    def int4_group_quantize(self, x, *, group_size=128, symmetric=True) -> np.ndarray:
        shape = np.shape(x)
        rows = _rows(x, "x", np.float32)
        args = self._arguments(group_size, symmetric, rows.shape[1])
        torch = self._torch
        with one_thread_no_grad():
            tensor = torch.from_numpy(rows.copy())
            scales, zero_points = self._scales_and_zp(tensor, args, module=None)
            codes = self._quantize(tensor, scales, zero_points, args, dtype=torch.int8)
        groups = (*shape[:-1], rows.shape[1] // int(group_size))
        return record(scales=np.ascontiguousarray(scales.numpy(), dtype=np.float32).reshape(groups),
                      zero_points=np.ascontiguousarray(zero_points.numpy()).astype(np.float32).reshape(groups),
                      codes=np.ascontiguousarray(codes.numpy(), dtype=np.int8).reshape(shape))

    def int4_group_dequantize(self, scales, zero_points, codes, *, group_size=128) -> np.ndarray:
        points, scale, zero, shape = dequantize_arguments(scales, zero_points, codes, group_size)
        args = self._arguments(group_size, False, points.shape[1])
        if not (np.isfinite(zero) & (zero == np.round(zero)) & (zero >= -8) & (zero <= 7)).all():
            raise NotImplementedError("compressed-tensors: zero points that are not integers from -8 to 7 (its int8 "
                                      "zp_dtype for 4-bit int)")
        torch = self._torch
        with one_thread_no_grad():
            values = self._dequantize(torch.from_numpy(points.copy()), torch.from_numpy(scale.copy()),
                                      torch.from_numpy(zero.astype(np.int8)), args, dtype=torch.float32)
        return np.ascontiguousarray(values.numpy(), dtype=np.float32).reshape(shape)


    def pack_codes(self, codes, *, bits=4) -> np.ndarray:
        width = check_bits(bits, tuple(range(1, 9)), self.name)
        rows, leading = code_rows(codes)
        with one_thread_no_grad():
            packed = self._pack(self._torch.from_numpy(rows), width, packed_dim=1)
        return np.ascontiguousarray(packed.numpy(), dtype=np.int32).reshape(*leading, -1)

    def unpack_codes(self, packed, *, bits=4, length=None, signed=None) -> np.ndarray:
        width = check_bits(bits, tuple(range(1, 9)), self.name)
        if signed is False:
            raise NotImplementedError("compressed-tensors: unsigned codes (unpack_from_int32 returns signed ones)")
        rows, leading = code_rows(packed)
        count = rows.shape[1] * 32 // width if length is None else int(length)
        with one_thread_no_grad():
            codes = self._unpack(self._torch.from_numpy(rows), width, self._torch.Size((rows.shape[0], count)),
                                 packed_dim=1)
        return np.ascontiguousarray(codes.numpy()).reshape(*leading, -1)
