"""LiteRT (``ai-edge-litert``, TensorFlow Lite's runtime) as three backends, one per op resolver.

Each call writes a one-operator ``.tflite`` model (:mod:`refq.backends.litert_model`) and runs it:

- ``tflite``: ``BUILTIN_REF``, the reference kernels;
- ``tflite-optimized``: ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``, the optimized kernels without XNNPACK;
- ``xnnpack``: ``BUILTIN``, where the default XNNPACK delegate takes the operators it supports.

The refq operations map onto TFLite operators as: ``quantize_linear`` -> QUANTIZE (float32 to int8,
uint8 or int16, one scale), ``dequantize_linear`` -> DEQUANTIZE (int8, uint8, int16), ``qlinear_matmul``
-> FULLY_CONNECTED (int8, 2-D, the weights ``b`` a constant of zero point 0, one scale or one per
output column), ``qlinear_conv`` -> CONV_2D or DEPTHWISE_CONV_2D (int8, VALID or SAME padding). What TFLite cannot express raises NotImplementedError. ADD, MUL and LOGISTIC compute
TFLite's own fixed-point formulas, which no refq operation defines yet (refq's qlinear_add, qlinear_mul
and qlinear_sigmoid are ONNX Runtime's): they are not offered.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from refq.backends.arguments import dequantize_call, quantize_call, require
from refq.backends.litert_model import SingleOperator, Tensor, run

_QUANTIZE_DTYPES = ("int8", "uint8", "int16")


def _as_int8(values, zero_point, output_zero_point):
    """uint8 activations and output as TFLite's int8 kernels take them: codes and zero points less 128, which
    leaves every q - z, and so the accumulator and the requantized value before its zero point, unchanged; the
    int8 output plus 128 is the uint8 output (its clamp to [-128, 127] is the clamp to [0, 255]). Returns the
    int8 values and zero points and the offset to add back (0 when they are int8 already)."""
    values, output_zero = np.asarray(values), np.asarray(output_zero_point)
    if values.dtype == np.uint8 and output_zero.dtype == np.uint8:
        shift = lambda codes: (np.asarray(codes).astype(np.int16) - 128).astype(np.int8)  # noqa: E731
        return shift(values), shift(zero_point), shift(output_zero), 128
    return values, zero_point, output_zero_point, 0


def _restore(output: np.ndarray, offset: int) -> np.ndarray:
    return (output.astype(np.int16) + offset).astype(np.uint8) if offset else output


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
        per tensor or per column), output int8 [M, N]; uint8 ``a`` and output are run as int8 (:func:`_as_int8`)."""
        a, a_zero_point, y_zero_point, offset = _as_int8(a, a_zero_point, y_zero_point)
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
        return _restore(run(model, [a], self.resolver), offset)

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None) -> np.ndarray:
        """CONV_2D (``group`` 1) or DEPTHWISE_CONV_2D (``group`` = input channels), int8: ``x`` NCHW is fed as
        NHWC, ``w`` (zero point 0, one scale or one per output channel) stored OHWI (depthwise: 1HWO), the
        bias int32; the padding must be TFLite's VALID (none) or SAME (the extra row or column after); uint8
        ``x`` and output are run as int8 (:func:`_as_int8`)."""
        from refq.integer_ops.conv import conv_geometry

        x, x_zero_point, y_zero_point, offset = _as_int8(x, x_zero_point, y_zero_point)
        x, w = np.asarray(x), np.asarray(w)
        for name, value in (("x", x), ("w", w), ("y_zero_point", np.asarray(y_zero_point))):
            if value.dtype != np.int8:
                raise NotImplementedError(f"{name}: TFLite's integer CONV_2D takes int8, not {value.dtype}")
        geometry = conv_geometry(x.shape, w.shape, auto_pad=auto_pad, dilations=dilations, group=group,
                                 kernel_shape=kernel_shape, pads=pads, strides=strides)
        out_channels, channels = geometry.out_channels, geometry.channels
        depthwise = geometry.group > 1
        if depthwise and geometry.group != channels:
            raise NotImplementedError("group: TFLite has CONV_2D (group 1) and DEPTHWISE_CONV_2D (group = channels)")
        x_zero, w_zero, y_zero = (np.asarray(z).reshape(-1) for z in (x_zero_point, w_zero_point, y_zero_point))
        w_scales = np.asarray(w_scale, np.float32).reshape(-1)
        if x_zero.size != 1 or y_zero.size != 1 or np.asarray(x_scale).size != 1 or np.asarray(y_scale).size != 1:
            raise NotImplementedError("CONV_2D: x and y have one scale and zero point each")
        if np.any(w_zero != 0):
            raise NotImplementedError("w_zero_point: TFLite's int8 weights are symmetric (zero point 0)")
        if w_scales.size not in (1, out_channels):
            raise NotImplementedError("w_scale: one scale, or one per output channel")
        padding = _tflite_padding(geometry)
        if depthwise:
            weights = np.ascontiguousarray(w.transpose(1, 2, 3, 0))  # (1, kH, kW, M)
            operator, options_type, axis = "DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", 3
            options = {"depthMultiplier": out_channels // channels}
        else:
            weights = np.ascontiguousarray(w.transpose(0, 2, 3, 1))  # (M, kH, kW, C)
            operator, options_type, axis, options = "CONV_2D", "Conv2DOptions", 0, {}
        from ai_edge_litert import schema_py_generated as schema

        options.update({"padding": getattr(schema.Padding, padding), "strideH": geometry.strides[0],
                        "strideW": geometry.strides[1], "dilationHFactor": geometry.dilations[0],
                        "dilationWFactor": geometry.dilations[1]})
        # The bias goes in with its own type: TFLite's kernel, not the adapter, decides whether it takes it.
        bias = np.zeros(out_channels, np.int32) if B is None else np.asarray(B)
        bias_scales = (np.float32(x_scale) * w_scales).astype(np.float32)  # as many as the weight scales
        image = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        output_shape = (geometry.batch, geometry.out_height, geometry.out_width, out_channels)
        model = SingleOperator(
            operator,
            [Tensor(image.shape, np.int8, np.float32(x_scale), x_zero),
             Tensor(weights.shape, np.int8, w_scales, np.zeros(w_scales.size, np.int64), axis, weights),
             Tensor(bias.shape, bias.dtype, bias_scales, np.zeros(bias_scales.size, np.int64), 0, bias)],
            Tensor(output_shape, np.int8, np.float32(y_scale), y_zero), options_type, options)
        return _restore(np.ascontiguousarray(run(model, [image], self.resolver).transpose(0, 3, 1, 2)), offset)


def _tflite_padding(geometry) -> str:
    """TFLite's padding name for the geometry's explicit pads: VALID (none) or SAME (the output size
    ceil(n / stride), the total padding split with the odd row or column after)."""
    if not any(geometry.pads):
        return "VALID"
    sizes = ((geometry.height, geometry.out_height), (geometry.width, geometry.out_width))
    same = []
    for axis, (size, out) in enumerate(sizes):
        extent = geometry.dilations[axis] * (geometry.kernel[axis] - 1) + 1
        total = max((out - 1) * geometry.strides[axis] + extent - size, 0)
        if out != -(-size // geometry.strides[axis]):  # SAME's output size is ceil(n / stride)
            raise NotImplementedError(f"pads {list(geometry.pads)}: TFLite pads VALID (none) or SAME")
        same.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = same
    if geometry.pads != (top, left, bottom, right):
        raise NotImplementedError(f"pads {list(geometry.pads)}: TFLite pads VALID (none) or SAME")
    return "SAME"


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

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None) -> np.ndarray:
        """CONV_2D only: the optimized DEPTHWISE_CONV_2D rounds the ties of its output channels in whole groups of
        8 up and those of the last M % 8 channels away from zero (measured), which no variant says yet."""
        if group != 1:
            raise NotImplementedError("group: the optimized DEPTHWISE_CONV_2D's requantization is no refq rule")
        return super().qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B,
                                    auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                                    pads=pads, strides=strides)

    def _whole_groups(self, values) -> None:
        if np.size(values) % self.GROUP:
            raise NotImplementedError(f"{np.size(values)} values: the optimized kernels' last size % "
                                      f"{self.GROUP} follow the reference rule, which no variant expresses")


class XnnpackBackend(LiteRtBackend):
    """The optimized kernels with the default XNNPACK delegate (``BUILTIN``)."""

    name = "xnnpack"
    profile = "xnnpack"
    resolver = "BUILTIN"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """QUANTIZE under XNNPACK; a subnormal scale is refused: ai-edge-litert 2.3.0 crashes the process on it
        (SIGSEGV, measured on every subnormal scale but the largest, 0x007fffff, and on those whose float32
        reciprocal overflows)."""
        if np.any(np.abs(np.asarray(scale, np.float32)) < np.float32(2.0**-126)):
            raise NotImplementedError("scale: XNNPACK crashes on a subnormal scale")
        return super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) -> np.ndarray:
        _xnnpack_scale_in_range(a_scale, b_scale, y_scale)
        return super().qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point)

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None) -> np.ndarray:
        _xnnpack_scale_in_range(x_scale, w_scale, y_scale)
        return super().qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B,
                                    auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                                    pads=pads, strides=strides)


def _xnnpack_scale_in_range(a_scale, b_scale, y_scale) -> None:
    """XNNPACK's operators refuse a requantization scale fl32(fl32(s_a * s_b) / s_y) of 256 or more (its
    create functions return an error, and the model fails to prepare)."""
    with np.errstate(over="ignore"):
        scale = np.float32(a_scale) * np.asarray(b_scale, np.float32) / np.float32(y_scale)
    if np.any(~(scale < np.float32(256))):
        raise NotImplementedError("XNNPACK refuses a requantization scale of 256 or more")


__all__ = ["LiteRtBackend", "LiteRtOptimizedBackend", "XnnpackBackend"]
