"""bitsandbytes' 4-bit formats on the CPU (``bitsandbytes.functional.quantize_4bit`` / ``dequantize_4bit``) as
BLK-7's operations.

bitsandbytes 0.50.2 is installed with ``pip install --no-deps`` (its declared torch requirement would move
torch). Its CPU quantize is the default torch path (torch.bucketize on the midpoints), its dequantize the C
kernel ``cdequantize_blockwise_cpu_*_fp32`` for an even count and the torch path for an odd one. Both read the
tensor flat, as BLK-7.2 does. Block sizes other than bitsandbytes' 32 to 4096 raise NotImplementedError.
"""

from __future__ import annotations

import numpy as np

from refq.backends.records import record

#: bitsandbytes' block sizes (functional.quantize_4bit).
BLOCK_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)


class BitsandbytesBackend:
    """``bnb4_quantize`` and ``bnb4_dequantize`` through bitsandbytes on CPU tensors."""

    name = "bitsandbytes-cpu"
    profile = "bitsandbytes-cpu"

    def __init__(self) -> None:
        import logging

        # bitsandbytes logs a warning at import when the optional kernels-community package is absent.
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
        import bitsandbytes
        import bitsandbytes.functional as functional
        import torch

        self._torch = torch
        self._functional = functional
        self.version = bitsandbytes.__version__

    def _check(self, quant_type, block_size) -> None:
        if quant_type not in ("nf4", "fp4"):
            raise ValueError(f"quant_type {quant_type!r}: bitsandbytes has nf4 and fp4")
        if block_size not in BLOCK_SIZES:
            raise NotImplementedError(f"bitsandbytes: block_size {block_size} (it takes {BLOCK_SIZES})")

    def bnb4_quantize(self, x, *, quant_type="nf4", block_size=64) -> np.ndarray:
        self._check(quant_type, block_size)
        flat = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(-1))
        packed, state = self._functional.quantize_4bit(self._torch.from_numpy(flat.copy()), blocksize=block_size,
                                                       quant_type=quant_type)
        return record(absmax=np.ascontiguousarray(state.absmax.numpy(), dtype=np.float32),
                      codes=np.ascontiguousarray(packed.numpy().reshape(-1)))

    def bnb4_dequantize(self, absmax, codes, *, quant_type="nf4", block_size=64, size=None) -> np.ndarray:
        self._check(quant_type, block_size)
        torch = self._torch
        packed = np.ascontiguousarray(np.asarray(codes, dtype=np.uint8).reshape(-1))
        count = 2 * packed.size if size is None else int(size)
        scales = np.ascontiguousarray(np.asarray(absmax, dtype=np.float32).reshape(-1))
        if (count + 1) // 2 != packed.size or scales.size != -(-count // block_size):
            raise ValueError("absmax or codes: not the lengths of size values in blocks of block_size")
        state = self._functional.QuantState(
            absmax=torch.from_numpy(scales.copy()), shape=torch.Size([count]), dtype=torch.float32,
            blocksize=block_size, code=self._functional.get_4bit_type(quant_type, device="cpu"), quant_type=quant_type)
        values = self._functional.dequantize_4bit(torch.from_numpy(packed.copy()).reshape(-1, 1), state)
        return np.ascontiguousarray(values.numpy().reshape(-1))
