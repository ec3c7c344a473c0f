"""HQQ's round-to-nearest int4 groups (``hqq.core.quantize.Quantizer`` with ``optimize=False``) as BLK-9's
``int4_group_quantize`` and ``int4_group_dequantize``.

Quantize is ``Quantizer.quantize(t, nbits=4, channel_wise=True, group_size=g, optimize=False, round_zero=False,
axis=1, bitpack=False, device="cpu")``: HQQ reads the tensor flat in groups of g (``reshape([-1, g])``), which
are BLK-9's groups when g divides the last axis; the adapter declines other group sizes. Its codes come back as
float32 (a NaN where the input group held one: BLK-9 leaves that code open, and the adapter stores 0). HQQ has
no symmetric mode: ``symmetric=True`` raises NotImplementedError. Dequantize is ``Quantizer.dequantize`` on the
unpacked codes with the meta-data quantize makes, ``compute_dtype`` float32 (HQQ's default is float16):
``(W_q - zero) * scale`` in float32. CPU tensors, one torch thread.

``pack_codes`` and ``unpack_codes`` (BLK-10) are HQQ's ``BitPack`` at 1, 2, 3, 4 and 8 bits. BitPack packs along
the first axis of a two-dimensional tensor, so the adapter hands it the transpose of the rows along the last
axis and transposes the result back. At 1, 2 and 4 bits it splits the rows into equal parts without padding: a
row whose length is not a multiple of 8, 4 or 2 raises NotImplementedError here (at 4 bits BitPack raises, at 1
and 2 bits it returns a wrong shape).
"""

from __future__ import annotations

import numpy as np

from refq.backends.int4_group_arguments import dequantize_arguments, group_size_of, rows as _rows
from refq.backends.packing_arguments import check_bits, code_rows
from refq.backends.records import record
from refq.backends.torch.common import one_thread_no_grad


#: BitPack's packers by number of bits: the method's suffix, and the fields one unit holds.
_BITPACK = {8: ("8bit_u8", 1), 4: ("4bit_u8", 2), 3: ("3bit_32", 10), 2: ("2bit_u8", 4), 1: ("1bit_u8", 8)}


class HqqBackend:
    """``int4_group_quantize`` (asymmetric only) and ``int4_group_dequantize`` through HQQ's Quantizer on the
    CPU, single-threaded."""

    name = "hqq"
    profile = "hqq"

    def __init__(self) -> None:
        import torch
        from hqq.core.quantize import Quantizer

        from refq.registry.verified import installed_version

        self._torch = torch
        self._quantizer = Quantizer
        from hqq.core.bitpack import BitPack

        self._bitpack = BitPack
        self.version = installed_version("hqq")

    @staticmethod
    def _check(group_size, columns: int) -> int:
        group_size = group_size_of(group_size)
        if columns % group_size:
            raise NotImplementedError(f"hqq: group_size {group_size} does not divide the last axis ({columns}); HQQ "
                                      "groups the flat tensor, so its groups would cross rows")
        return int(group_size)

    def int4_group_quantize(self, x, *, group_size=128, symmetric=True) -> np.ndarray:
        if symmetric:
            raise NotImplementedError("hqq: symmetric=True (HQQ's groups are asymmetric: a scale and a float zero "
                                      "point from each group's minimum and maximum)")
        shape = np.shape(x)
        rows = _rows(x, "x", np.float32)
        size = self._check(group_size, rows.shape[1])
        with one_thread_no_grad():
            codes, meta = self._quantizer.quantize(
                self._torch.from_numpy(rows.copy()), nbits=4, channel_wise=True, group_size=size, optimize=False,
                round_zero=False, axis=1, bitpack=False, device="cpu")
        groups = (*shape[:-1], rows.shape[1] // size)
        values = codes.numpy().reshape(shape)
        return record(scales=np.ascontiguousarray(meta["scale"].numpy(), dtype=np.float32).reshape(groups),
                      zero_points=np.ascontiguousarray(meta["zero"].numpy(), dtype=np.float32).reshape(groups),
                      codes=np.where(np.isnan(values), np.float32(0), values).astype(np.int8))

    def int4_group_dequantize(self, scales, zero_points, codes, *, group_size=128) -> np.ndarray:
        points, scale, zero, shape = dequantize_arguments(scales, zero_points, codes, group_size)
        size = self._check(group_size, points.shape[1])
        count = points.size // size
        torch = self._torch
        scale, zero = scale.reshape(count, 1), zero.reshape(count, 1)
        meta = {"nbits": 4, "group_size": size, "shape": torch.Size(points.shape), "scale": torch.from_numpy(scale),
                "zero": torch.from_numpy(zero), "axis": 1, "packing": None, "view_as_float": False,
                "compute_dtype": torch.float32}
        with one_thread_no_grad():
            values = self._quantizer.dequantize(torch.from_numpy(points.astype(np.float32).reshape(count, size)), meta)
        return np.ascontiguousarray(values.numpy(), dtype=np.float32).reshape(shape)

    def pack_codes(self, codes, *, bits=4) -> np.ndarray:
        width = check_bits(bits, tuple(sorted(_BITPACK)), self.name)
        suffix, planes = _BITPACK[width]
        rows, leading = code_rows(codes)
        if width != 3 and rows.shape[1] % planes:
            raise NotImplementedError(f"hqq: a row of {rows.shape[1]} {width}-bit codes (BitPack.pack_{suffix} "
                                      f"needs a multiple of {planes})")
        torch = self._torch
        columns = torch.from_numpy(np.ascontiguousarray(rows.T))
        if width == 3:
            columns = columns.to(torch.int32)  # pack_3bit_32 copies its input into int32 words
        with one_thread_no_grad():
            packed = getattr(self._bitpack, f"pack_{suffix}")(columns)
        return np.ascontiguousarray(packed.numpy().T).reshape(*leading, -1)

    def unpack_codes(self, packed, *, bits=4, length=None, signed=None) -> np.ndarray:
        width = check_bits(bits, tuple(sorted(_BITPACK)), self.name)
        if signed:
            raise NotImplementedError("hqq: signed codes (BitPack unpacks unsigned ones)")
        suffix, planes = _BITPACK[width]
        rows, leading = code_rows(packed)
        with one_thread_no_grad():
            codes = getattr(self._bitpack, f"unpack_{suffix}")(self._torch.from_numpy(np.ascontiguousarray(rows.T)))
        values = np.ascontiguousarray(codes.numpy().T)
        if length is not None:
            values = values[:, :int(length)]
        return np.ascontiguousarray(values).reshape(*leading, -1)
