"""LiteRT (``ai-edge-litert``, TensorFlow Lite's runtime) as three backends, one per op resolver.

Each call writes a one-operator ``.tflite`` model (:mod:`refq.backends.litert_model`) and runs it:

- ``tflite``: ``BUILTIN_REF``, the reference kernels;
- ``tflite-optimized``: ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``, the optimized kernels without XNNPACK;
- ``xnnpack``: ``BUILTIN``, where the default XNNPACK delegate takes the operators it supports.

The refq operations map onto TFLite operators as: ``quantize_linear`` -> QUANTIZE (float32 to int8,
uint8 or int16, one scale), ``dequantize_linear`` -> DEQUANTIZE (int8, uint8, int16), ``qlinear_matmul``
-> FULLY_CONNECTED (int8, 2-D, the weights ``b`` a constant of zero point 0, one scale or one per
output column). What TFLite cannot express raises NotImplementedError. ADD, MUL and LOGISTIC compute
TFLite's own fixed-point formulas, which no refq operation defines yet (refq's qlinear_add, qlinear_mul
and qlinear_sigmoid are ONNX Runtime's): they are not offered.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from refq.backends.arguments import dequantize_call, quantize_call, require
from refq.backends.litert_model import SingleOperator, Tensor, run

_QUANTIZE_DTYPES = ("int8", "uint8", "int16")


def _symmetric_int16(call, operation: str) -> None:
    """TFLite's int16 quantization is symmetric: its kernels refuse a zero point other than 0."""
    if call.dtype == "int16" and np.any(call.zero_point != 0):
        raise NotImplementedError(f"{operation}: TFLite's int16 zero point is 0, got {call.zero_point}")


class LiteRtBackend:
    """The reference kernels (``BUILTIN_REF``)."""

    name = "tflite"
    profile = "tflite"
    resolver = "BUILTIN_REF"

    def __init__(self) -> None:
        import ai_edge_litert.interpreter  # noqa: F401  (fails here when the wheel is absent)

        self.version = metadata.version("ai-edge-litert")

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """QUANTIZE float32 -> ``dtype`` (one scale)."""
        call = quantize_call(x, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=_QUANTIZE_DTYPES, granularities=("per_tensor",), backend=self.name,
                operation="quantize_linear")
        _symmetric_int16(call, "QUANTIZE")
        values = call.values.reshape(-1) if call.values.ndim == 0 else call.values
        model = SingleOperator("QUANTIZE", [Tensor(values.shape, np.float32)],
                               Tensor(values.shape, call.target.container, call.scale, call.zero_point))
        return run(model, [values], self.resolver).reshape(call.values.shape)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        """DEQUANTIZE ``dtype`` -> float32 (one scale)."""
        call = dequantize_call(q, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=_QUANTIZE_DTYPES, granularities=("per_tensor",), backend=self.name,
                operation="dequantize_linear")
        _symmetric_int16(call, "DEQUANTIZE")
        values = call.values.reshape(-1) if call.values.ndim == 0 else call.values
        model = SingleOperator("DEQUANTIZE", [Tensor(values.shape, values.dtype, call.scale, call.zero_point)],
                               Tensor(values.shape, np.float32))
        return run(model, [values], self.resolver).astype(np.float32).reshape(call.values.shape)

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) -> np.ndarray:
        """FULLY_CONNECTED int8: ``a`` [M, K] the input, ``b`` [K, N] the weights (stored [N, K], zero point 0,
        per tensor or per column), output int8 [M, N]."""
        a, b = np.asarray(a), np.asarray(b)
        for name, value in (("a", a), ("b", b), ("y_zero_point", np.asarray(y_zero_point))):
            if value.dtype != np.int8:
                raise NotImplementedError(f"{name}: TFLite's integer FULLY_CONNECTED takes int8, not {value.dtype}")
        if a.ndim != 2 or b.ndim != 2:
            raise NotImplementedError("FULLY_CONNECTED: a and b of rank 2 only")
        a_zero, b_zero, y_zero = (np.asarray(z).reshape(-1) for z in (a_zero_point, b_zero_point, y_zero_point))
        b_scales = np.asarray(b_scale, np.float32).reshape(-1)
        if a_zero.size != 1 or y_zero.size != 1 or np.asarray(a_scale).size != 1 or np.asarray(y_scale).size != 1:
            raise NotImplementedError("FULLY_CONNECTED: a and y have one scale and zero point each")
        if np.any(b_zero != 0):
            raise NotImplementedError("b_zero_point: TFLite's int8 weights are symmetric (zero point 0)")
        columns = b.shape[1]
        if b_scales.size not in (1, columns):
            raise NotImplementedError("b_scale: one scale, or one per column of b")
        weights = np.ascontiguousarray(b.T)
        per_channel = b_scales.size > 1
        model = SingleOperator(
            "FULLY_CONNECTED",
            [Tensor(a.shape, np.int8, np.float32(a_scale), a_zero),
             Tensor(weights.shape, np.int8, b_scales, np.zeros(b_scales.size, np.int64), 0, weights), None],
            Tensor((a.shape[0], columns), np.int8, np.float32(y_scale), y_zero),
            "FullyConnectedOptions", {"keepNumDims": False} if not per_channel else {})
        return run(model, [a], self.resolver)


class LiteRtOptimizedBackend(LiteRtBackend):
    """The optimized kernels, no delegate (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``)."""

    name = "tflite-optimized"
    profile = "tflite-optimized"
    resolver = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"

    #: The optimized QUANTIZE and DEQUANTIZE loops take 8 values at a time and the last ``size % 8`` by the
    #: reference kernel's rule (measured: [0.5, 2.5, -0.5] alone gives 1, 3, -1); no variant says which
    #: elements follow which rule yet, so only whole groups of 8 are offered.
    GROUP = 8

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        self._whole_groups(x)
        return super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        self._whole_groups(q)
        return super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)

    def _whole_groups(self, values) -> None:
        if np.size(values) % self.GROUP:
            raise NotImplementedError(f"{np.size(values)} values: the optimized kernels' last size % "
                                      f"{self.GROUP} follow the reference rule, which no variant expresses")

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) -> np.ndarray:
        raise NotImplementedError("the optimized FULLY_CONNECTED's ties-up rounding shift is no refq rule yet")


class XnnpackBackend(LiteRtBackend):
    """The optimized kernels with the default XNNPACK delegate (``BUILTIN``)."""

    name = "xnnpack"
    profile = "xnnpack"
    resolver = "BUILTIN"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """QUANTIZE under XNNPACK; a scale whose float32 reciprocal overflows is refused: XNNPACK 2.3.0 crashes
        the process on it (SIGSEGV, measured on the smallest subnormal scale)."""
        with np.errstate(divide="ignore", over="ignore"):
            if not np.all(np.isfinite(np.float32(1) / np.asarray(scale, np.float32))):
                raise NotImplementedError("scale: XNNPACK crashes on a scale whose float32 reciprocal is infinite")
        return super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)


__all__ = ["LiteRtBackend", "LiteRtOptimizedBackend", "XnnpackBackend"]
