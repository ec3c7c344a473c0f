"""Adapters that run real quantization backends behind one interface.

A backend is a class with ``name``, ``profile`` (the refq profile it is expected
to match), ``version`` (of the backend package, known once instantiated) and one
method per operation it supports, named after the spec's operations:

- ``quantize_linear(x, scale, zero_point, *, axis=None, block_size=None, dtype="int8")``
  returns integers in the smallest numpy integer type holding ``dtype``
  (int4 in int8, uint4 in uint8);
- ``dequantize_linear(q, scale, zero_point, *, axis=None, block_size=None, dtype="int8")``
  returns float32;
- ``fake_quantize(x, scale, zero_point, *, axis=None, dtype="int8")`` returns float32.

A missing method means the backend does not offer the operation; a dtype or
granularity it cannot compute raises ``NotImplementedError``. Arguments are
validated exactly as :func:`refq.affine.quantize` validates them. The backend
packages (onnxruntime, onnx, torch) are imported when a backend is instantiated,
never by ``import refq.backends``.
"""

from __future__ import annotations

from refq.backends.bitsandbytes import BitsandbytesBackend
from refq.backends.compressed_tensors import CompressedTensorsBackend
from refq.backends.ggml import GgmlBackend, GgmlCpuX86Backend, GgmlNativeBackend
from refq.backends.gguf_py import GgufPyBackend
from refq.backends.hqq import HqqBackend
from refq.backends.litert import LiteRtBackend, LiteRtOptimizedBackend, XnnpackBackend
from refq.backends.ml_dtypes import MlDtypesBackend
from refq.backends.modelopt import ModeloptMxfp4Backend, ModeloptNvfp4Backend
from refq.backends.onnx_reference import OnnxReferenceBackend
from refq.backends.onnxruntime import OnnxRuntimeBackend
from refq.backends.onnxruntime_bnb4 import OnnxRuntimeBnb4Backend
from refq.backends.onnxruntime_matmulnbits import OnnxRuntimeMatMulNBitsBackend
from refq.backends.onnxruntime_mlas_int4 import OnnxRuntimeMlasInt4Backend
from refq.backends.reference import RefqBackend
from refq.backends.torchao import TorchaoCeilBackend, TorchaoEvenBackend, TorchaoMxBackend, TorchaoRceilBackend
from refq.backends.torchao_nvfp4 import TorchaoNvfp4Backend
from refq.backends.tosa import TosaBackend
from refq.backends.torch import TorchBackend, TorchFakeQuantBackend, TorchPT2EBackend, TorchQnnpackBackend

BUILTIN = {
    "onnxruntime": OnnxRuntimeBackend,
    "onnx-reference": OnnxReferenceBackend,
    "torch": TorchBackend,
    "torch-fake-quant": TorchFakeQuantBackend,
    "torch-pt2e": TorchPT2EBackend,
    "torch-qnnpack": TorchQnnpackBackend,
    "ml_dtypes": MlDtypesBackend,
    "gguf-py": GgufPyBackend,
    "ggml": GgmlBackend,
    "ggml-native": GgmlNativeBackend,
    "ggml-cpu-x86": GgmlCpuX86Backend,
    "tosa": TosaBackend,
    "tflite": LiteRtBackend,
    "tflite-optimized": LiteRtOptimizedBackend,
    "xnnpack": XnnpackBackend,
    "torchao-floor": TorchaoMxBackend,
    "torchao-ceil": TorchaoCeilBackend,
    "torchao-even": TorchaoEvenBackend,
    "torchao-rceil": TorchaoRceilBackend,
    "torchao-nvfp4": TorchaoNvfp4Backend,
    "modelopt-nvfp4": ModeloptNvfp4Backend,
    "modelopt-mxfp4": ModeloptMxfp4Backend,
    "bitsandbytes-cpu": BitsandbytesBackend,
    "onnxruntime-bnb4": OnnxRuntimeBnb4Backend,
    "onnxruntime-matmulnbits": OnnxRuntimeMatMulNBitsBackend,
    "compressed-tensors": CompressedTensorsBackend,
    "hqq": HqqBackend,
    "onnxruntime-mlas-int4": OnnxRuntimeMlasInt4Backend,
    "refq": RefqBackend,
}

__all__ = ["BUILTIN", "BitsandbytesBackend", "CompressedTensorsBackend", "GgmlBackend", "GgmlCpuX86Backend", "GgmlNativeBackend", "GgufPyBackend", "HqqBackend", "LiteRtBackend", "LiteRtOptimizedBackend", "MlDtypesBackend", "ModeloptMxfp4Backend", "ModeloptNvfp4Backend", "OnnxReferenceBackend", "OnnxRuntimeBackend", "OnnxRuntimeBnb4Backend", "OnnxRuntimeMatMulNBitsBackend", "OnnxRuntimeMlasInt4Backend", "RefqBackend",
           "TorchBackend", "TorchFakeQuantBackend", "TorchPT2EBackend", "TorchQnnpackBackend", "TorchaoCeilBackend", "TorchaoEvenBackend",
           "TorchaoMxBackend", "TorchaoNvfp4Backend", "TorchaoRceilBackend", "TosaBackend", "XnnpackBackend"]
