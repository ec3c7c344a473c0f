"""ONNX Runtime's MLAS blockwise int4 quantizer (the weights of MatMulNBits) as BLK-9's ``int4_group_quantize``,
and MatMulNBits itself as ``int4_group_dequantize``.

Quantize is the pybind ``quantize_matmul_4bits`` (what ``onnxruntime.quantization.matmul_nbits_quantizer``
calls): it takes a weight of shape [K, N] and quantizes each of its N columns in blocks of ``block_size`` along
K. The adapter feeds x's rows [rows, columns] as the columns of x.T (K = columns, N = rows), so MLAS's blocks
are BLK-9's groups, a last partial one included. The codes come back two per byte, the first in the low
nibble, and the zero points likewise (symmetric quantization writes none: its zero point is 8). Block sizes are
MLAS's powers of two from 16 to 256; others raise NotImplementedError.

Dequantize is the ``com.microsoft`` GatherBlockQuantized operator on the CPU (single-threaded), ONNX Runtime's
dequantize of MatMulNBits' weight layout (uint8, two codes per byte, the first in the low nibble; one float32
scale and one 4-bit zero point per block along the last axis, the zero points packed likewise), gathering every
row: (q - z) * s for each code. MatMulNBits itself, read through an identity matrix (refq's
onnxruntime-matmulnbits backend), cannot show a -0.0 weight: its fp32 kernel accumulates from +0.0, and MLAS's
symmetric scales are negative, so its code 8 dequantizes to -0.0. It takes unsigned codes 0 to 15 with integer
zero points 0 to 15, what MatMulNBits stores; anything else raises NotImplementedError.
"""

from __future__ import annotations

import numpy as np

from refq.backends.onnxruntime_matmulnbits import pack_low_first
from refq.backends.int4_group_arguments import dequantize_arguments, group_size_of, rows as _rows
from refq.backends.records import record

#: MLAS's block sizes (BlockwiseQuantizer, MatMulNBits).
BLOCK_SIZES = (16, 32, 64, 128, 256)



def _check(group_size) -> int:
    if group_size_of(group_size) not in BLOCK_SIZES:
        raise NotImplementedError(f"onnxruntime-mlas-int4: group_size {group_size} (MLAS takes {BLOCK_SIZES})")
    return int(group_size)


class OnnxRuntimeMlasInt4Backend:
    """``int4_group_quantize`` through MLAS's blockwise quantizer and ``int4_group_dequantize`` through
    GatherBlockQuantized (MatMulNBits' weight layout), on the CPU, single-threaded."""

    name = "onnxruntime-mlas-int4"
    profile = "onnxruntime-mlas-int4"

    def __init__(self) -> None:
        import onnxruntime
        from onnxruntime.capi._pybind_state import quantize_matmul_4bits

        self._ort = onnxruntime
        self._quantize = quantize_matmul_4bits
        self.version = onnxruntime.__version__
        self._sessions: dict[tuple, object] = {}

    def _session(self, rows: int, length: int, blocks: int, block_size: int):
        key = (rows, length, block_size)
        if key not in self._sessions:
            from onnx import TensorProto, helper

            from refq.backends.onnx_contrib_model import CONTRIB_DOMAIN, IR_VERSION, OPSET, cpu_session

            node = helper.make_node("GatherBlockQuantized", ["data", "indices", "scales", "zero_points"], ["y"],
                                    domain=CONTRIB_DOMAIN, gather_axis=0, quantize_axis=1, block_size=block_size,
                                    bits=4)
            graph = helper.make_graph(
                [node], "int4_group_dequantize",
                [helper.make_tensor_value_info("data", TensorProto.UINT8, [rows, length // 2]),
                 helper.make_tensor_value_info("indices", TensorProto.INT64, [rows]),
                 helper.make_tensor_value_info("scales", TensorProto.FLOAT, [rows, blocks]),
                 helper.make_tensor_value_info("zero_points", TensorProto.UINT8, [rows, -(-blocks // 2)])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                            helper.make_opsetid(CONTRIB_DOMAIN, 1)])
            model.ir_version = IR_VERSION
            self._sessions[key] = cpu_session(self._ort, model)
        return self._sessions[key]

    def int4_group_quantize(self, x, *, group_size=128, symmetric=True) -> np.ndarray:
        size = _check(group_size)
        shape = np.shape(x)
        rows = _rows(x, "x", np.float32)
        n, k = rows.shape
        blocks = -(-k // size)
        packed = np.zeros((n, blocks, size // 2), np.uint8)
        scales = np.zeros(n * blocks, np.float32)
        points = np.zeros(n * -(-blocks // 2), np.uint8)
        self._quantize(packed, np.ascontiguousarray(rows.T), scales, points, size, n, k, bool(symmetric))
        codes = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(n, blocks * size)[:, :k]
        if symmetric:
            zero = np.full((n, blocks), 8, np.uint8)
        else:
            zero = np.stack([points & 0xF, points >> 4], axis=-1).reshape(n, -1)[:, :blocks]
        groups = (*shape[:-1], blocks)
        return record(scales=scales.reshape(groups), zero_points=zero.astype(np.float32).reshape(groups),
                      codes=np.ascontiguousarray(codes).astype(np.int8).reshape(shape))

    def int4_group_dequantize(self, scales, zero_points, codes, *, group_size=128) -> np.ndarray:
        points, scale, zero, shape = dequantize_arguments(scales, zero_points, codes, group_size)
        size = _check(group_size)
        n, k = points.shape
        blocks = scale.shape[1]
        if ((points < 0) | (points > 15)).any():
            raise NotImplementedError("onnxruntime-mlas-int4: signed codes (MatMulNBits stores unsigned codes, "
                                      "0 to 15)")
        if not (np.isfinite(zero) & (zero == np.round(zero)) & (zero >= 0) & (zero <= 15)).all():
            raise NotImplementedError("onnxruntime-mlas-int4: zero points that are not integers from 0 to 15 "
                                      "(MatMulNBits stores 4-bit zero points)")
        # An odd row is padded with one code (its block's scale covers it), which the output drops.
        padded = np.zeros((n, k + k % 2), np.uint8)
        padded[:, :k] = points
        zero_codes = np.zeros((n, blocks + blocks % 2), np.uint8)
        zero_codes[:, :blocks] = zero.astype(np.uint8)
        (values,) = self._session(n, padded.shape[1], blocks, size).run(
            ["y"], {"data": pack_low_first(padded), "indices": np.arange(n, dtype=np.int64), "scales": scale,
                    "zero_points": pack_low_first(zero_codes)})
        values = values[:, :k]
        return np.ascontiguousarray(values, dtype=np.float32).reshape(shape)
