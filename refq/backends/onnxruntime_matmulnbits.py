"""ONNX Runtime's MatMulNBits (``com.microsoft``, 4 bits) as AFF-4's blocked ``dequantize_linear`` on the CPU.

MatMulNBits holds a weight B of shape [N, K] as 4-bit codes in blocks of ``block_size`` along K (a power of two
from 16), one float32 scale and one 4-bit zero point per block (8 when the input is absent), and computes
Y = A B^T, dequantizing B block by block as (q - z) * s. The adapter feeds A = the K x K identity, so Y^T is the
dequantized B: each output is one product 1 * w summed with K - 1 products 0 * w', which adds nothing while every
w' is finite. A weight that overflows float32 would make its row NaN instead (0 * inf): the adapter declines
such inputs with NotImplementedError.

The operator reads unsigned codes: an int4 weight q with zero point z is fed as q + 8 with z + 8, whose
difference is the same integer. A zero point left out by the case is ONNX's 0 (8 for int4 fed this way), given
explicitly since MatMulNBits' own default is 8. Other shapes, axes, types and block sizes raise
NotImplementedError.
"""

from __future__ import annotations

import numpy as np

#: MatMulNBits' block sizes (a power of two, at least 16).
BLOCK_SIZES = (16, 32, 64, 128, 256)
#: The magnitude from which a product rounds to float32's infinity: halfway between its largest value and 2^128.
OVERFLOW = 2.0 ** 128 - 2.0 ** 103
#: What is added to a code to make it MatMulNBits' unsigned nibble.
OFFSETS = {"uint4": 0, "int4": 8}


def pack_low_first(values: np.ndarray) -> np.ndarray:
    """Rows of 4-bit values, two per byte along the last axis, the first in the low nibble (odd lengths padded)."""
    if values.shape[-1] % 2:
        values = np.concatenate([values, np.zeros((*values.shape[:-1], 1), values.dtype)], axis=-1)
    return ((values[..., 1::2] << 4) | values[..., 0::2]).astype(np.uint8)


class OnnxRuntimeMatMulNBitsBackend:
    """``dequantize_linear`` of 2-D uint4/int4 weights blocked along their last axis, through MatMulNBits,
    single-threaded."""

    name = "onnxruntime-matmulnbits"
    profile = "onnxruntime"

    def __init__(self) -> None:
        import onnxruntime

        self._ort = onnxruntime
        self.version = onnxruntime.__version__
        self._sessions: dict[tuple, object] = {}

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        codes = np.asarray(q)
        if dtype not in OFFSETS or block_size not in BLOCK_SIZES or codes.ndim != 2 or axis not in (1, -1):
            raise NotImplementedError(f"onnxruntime-matmulnbits: {dtype} of rank {codes.ndim}, axis {axis}, "
                                      f"block_size {block_size} (MatMulNBits takes 2-D 4-bit weights blocked along "
                                      f"their last axis in blocks of {BLOCK_SIZES})")
        rows, length = codes.shape
        blocks = -(-length // block_size)
        scales = np.ascontiguousarray(np.asarray(scale, dtype=np.float32))
        if scales.shape != (rows, blocks):
            raise ValueError(f"scale: shape {scales.shape}, not one per block {(rows, blocks)}")
        offset = OFFSETS[dtype]
        points = np.zeros((rows, blocks), np.int64) if zero_point is None else np.asarray(zero_point, np.int64)
        if points.shape != (rows, blocks):
            raise ValueError(f"zero_point: shape {points.shape}, not one per block {(rows, blocks)}")
        # A weight whose float32 product overflows (|(q - z) s| at least 2^128 - 2^103, rounded to infinity) would
        # NaN its whole output row through 0 * inf: the identity cannot show it.
        products = (codes.astype(np.float64) - np.repeat(points, block_size, axis=1)[:, :length]) * \
            np.repeat(scales.astype(np.float64), block_size, axis=1)[:, :length]
        if (np.abs(products) >= OVERFLOW).any():
            raise NotImplementedError("onnxruntime-matmulnbits: a weight overflows float32, which MatMulNBits "
                                      "read through an identity matrix shows as a NaN row")
        padded = np.zeros((rows, blocks * block_size), np.int64)
        padded[:, :length] = codes.astype(np.int64) + offset
        weights = pack_low_first(padded.astype(np.uint8)).reshape(rows, blocks, block_size // 2)
        packed_points = pack_low_first((points + offset).astype(np.uint8)).reshape(-1)
        session = self._session(rows, length, blocks, block_size)
        (result,) = session.run(["y"], {"a": np.eye(length, dtype=np.float32), "b": weights,
                                        "scales": scales.reshape(-1), "zero_points": packed_points})
        return np.ascontiguousarray(result.T)

    def _session(self, rows: int, length: int, blocks: int, block_size: int):
        key = (rows, length, block_size)
        if key not in self._sessions:
            from refq.backends.onnx_contrib_model import build_node_model, cpu_session

            # Arrays of the inputs' types and shapes: build_node_model declares the graph inputs from them.
            inputs = [("a", np.zeros((length, length), np.float32)),
                      ("b", np.zeros((rows, blocks, block_size // 2), np.uint8)),
                      ("scales", np.zeros(rows * blocks, np.float32)),
                      ("zero_points", np.zeros(rows * -(-blocks // 2), np.uint8))]
            model = build_node_model("MatMulNBits", inputs, np.float32,
                                     {"K": length, "N": rows, "bits": 4, "block_size": block_size})
            self._sessions[key] = cpu_session(self._ort, model)
        return self._sessions[key]
