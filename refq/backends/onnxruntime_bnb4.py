"""ONNX Runtime's bnb4 formats as BLK-7's operations: quantize through the pybind ``quantize_matmul_bnb4`` (what
``onnxruntime.quantization.matmul_bnb4_quantizer`` calls for MatMulBnb4's weights), dequantize through the
``com.microsoft`` MatMulBnb4 operator on the CPU.

MatMulBnb4 dequantizes its weights into a float buffer (DequantizeBlockwiseBnb4) and multiplies it by the
input with MLAS's sgemm. The adapter feeds the flat codes as N = size rows of K = 1 and the input [[1.0]], so
every output is one product 1 * w with beta = 0: the dequantized value itself. Block sizes other than ONNX
Runtime's 16 to 256 raise NotImplementedError.
"""

from __future__ import annotations

import numpy as np

from refq.backends.records import record

#: ONNX Runtime's block sizes (QuantizeBlockwiseBnb4, DequantizeBlockwiseBnb4).
BLOCK_SIZES = (16, 32, 64, 128, 256)
#: ONNX Runtime's quant_type attribute (Bnb_DataType_t).
QUANT_TYPES = {"fp4": 0, "nf4": 1}


class OnnxRuntimeBnb4Backend:
    """``bnb4_quantize`` and ``bnb4_dequantize`` through ONNX Runtime's CPU kernels, single-threaded."""

    name = "onnxruntime-bnb4"
    profile = "onnxruntime-bnb4"

    def __init__(self) -> None:
        import onnxruntime
        from onnxruntime.capi._pybind_state import quantize_matmul_bnb4

        self._ort = onnxruntime
        self._quantize = quantize_matmul_bnb4
        self.version = onnxruntime.__version__
        self._sessions: dict[tuple, object] = {}

    def _check(self, quant_type, block_size) -> int:
        if quant_type not in QUANT_TYPES:
            raise ValueError(f"quant_type {quant_type!r}: ONNX Runtime has nf4 and fp4")
        if block_size not in BLOCK_SIZES:
            raise NotImplementedError(f"onnxruntime: block_size {block_size} (it takes {BLOCK_SIZES})")
        return QUANT_TYPES[quant_type]

    def bnb4_quantize(self, x, *, quant_type="nf4", block_size=64) -> np.ndarray:
        kind = self._check(quant_type, block_size)
        flat = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(-1))
        packed = np.zeros((flat.size + 1) // 2, dtype=np.uint8)
        absmax = np.zeros(-(-flat.size // block_size), dtype=np.float32)
        self._quantize(packed, flat.copy(), absmax, block_size, kind, 1, flat.size)
        return record(absmax=absmax, codes=packed)

    def bnb4_dequantize(self, absmax, codes, *, quant_type="nf4", block_size=64, size=None) -> np.ndarray:
        kind = self._check(quant_type, block_size)
        packed = np.ascontiguousarray(np.asarray(codes, dtype=np.uint8).reshape(-1))
        count = 2 * packed.size if size is None else int(size)
        scales = np.ascontiguousarray(np.asarray(absmax, dtype=np.float32).reshape(-1))
        if (count + 1) // 2 != packed.size or scales.size != -(-count // block_size):
            raise ValueError("absmax or codes: not the lengths of size values in blocks of block_size")
        session = self._session(count, packed.size, scales.size, block_size, kind)
        (result,) = session.run(["y"], {"a": np.ones((1, 1), np.float32), "b": packed, "absmax": scales})
        return np.ascontiguousarray(result.reshape(-1))

    def _session(self, count, packed_size, blocks, block_size, kind):
        key = (count, block_size, kind)
        if key not in self._sessions:
            from onnx import TensorProto, helper

            from refq.backends.onnx_contrib_model import CONTRIB_DOMAIN, IR_VERSION, OPSET, cpu_session

            node = helper.make_node("MatMulBnb4", ["a", "b", "absmax"], ["y"], domain=CONTRIB_DOMAIN, K=1, N=count,
                                    block_size=block_size, quant_type=kind)
            graph = helper.make_graph(
                [node], "bnb4_dequantize",
                [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 1]),
                 helper.make_tensor_value_info("b", TensorProto.UINT8, [packed_size]),
                 helper.make_tensor_value_info("absmax", TensorProto.FLOAT, [blocks])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                            helper.make_opsetid(CONTRIB_DOMAIN, 1)])
            model.ir_version = IR_VERSION
            self._sessions[key] = cpu_session(self._ort, model)
        return self._sessions[key]
