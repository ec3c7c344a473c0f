"""The decomposed ops of PyTorch 2 export (``torch.ops.quantized_decomposed``) and PT2E's reference
quantized representation of the integer operations."""

from __future__ import annotations

import numpy as np

from refq.backends.arguments import Call, dequantize_call, quantize_call, require
from refq.backends.torch.common import require_output, torch_module, version


class TorchPT2EBackend:
    """The PyTorch 2 export ops ``torch.ops.quantized_decomposed.quantize_per_tensor``,
    ``quantize_per_channel``, ``dequantize_per_tensor`` and ``dequantize_per_channel``.

    int4 and uint4 travel in int8 and uint8 tensors with ``quant_min``/``quant_max``
    set to their range, as PyTorch 2 export does.
    """

    name = "torch-pt2e"
    profile = "pytorch-pt2e"
    #: refq dtype -> the torch dtype of the container tensor.
    containers = {"int8": "int8", "uint8": "uint8", "int16": "int16", "uint16": "uint16", "int4": "int8",
                  "uint4": "uint8"}
    granularities = ("per_tensor", "per_axis")

    def __init__(self) -> None:
        self.version = version()

    @staticmethod
    def _ops():
        torch = torch_module()
        import torch.ao.quantization.fx._decomposed  # noqa: F401  registers torch.ops.quantized_decomposed

        return torch.ops.quantized_decomposed

    def _container(self, call: Call):
        return getattr(torch_module(), self.containers[call.dtype])

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """``quantize_per_tensor`` (scale as a Python float) or ``quantize_per_channel`` (float32 scales)."""
        torch = torch_module()
        call = quantize_call(x, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=tuple(self.containers), granularities=self.granularities, backend=self.name,
                operation="quantize_linear")
        ops, values, target = self._ops(), torch.from_numpy(call.values), call.target
        if call.axis is None:
            result = ops.quantize_per_tensor(values, float(call.scale), int(call.zero_point), target.qmin,
                                             target.qmax, self._container(call))
        else:
            result = ops.quantize_per_channel(values, torch.from_numpy(call.scale),
                                              torch.from_numpy(call.zero_point.astype(np.int64)), call.axis,
                                              target.qmin, target.qmax, self._container(call))
        return result.numpy().astype(target.container)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        """``dequantize_per_tensor`` or ``dequantize_per_channel`` to float32."""
        torch = torch_module()
        call = dequantize_call(q, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=tuple(self.containers), granularities=self.granularities, backend=self.name,
                operation="dequantize_linear")
        if call.dtype == "uint16" and call.axis is not None:
            # (input - zero_points) needs uint16 - int64 promotion, which torch refuses.
            raise NotImplementedError(f"{self.name} dequantize_linear: per-axis uint16 is not supported "
                                      "(torch has no uint16/int64 type promotion)")
        ops, target = self._ops(), call.target
        integers = torch.from_numpy(call.values.astype(np.dtype(self.containers[call.dtype])))
        if call.axis is None:
            result = ops.dequantize_per_tensor(integers, float(call.scale), int(call.zero_point), target.qmin,
                                               target.qmax, self._container(call))
        else:
            result = ops.dequantize_per_channel(integers, torch.from_numpy(call.scale),
                                                torch.from_numpy(call.zero_point.astype(np.int64)), call.axis,
                                                target.qmin, target.qmax, self._container(call))
        return result.numpy()

    # --- integer operations: the reference quantized representation (PT2E), chapter INT ---------------

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) -> np.ndarray:
        """ONNX ``QLinearMatMul`` as PyTorch 2 export's reference representation of a quantized linear
        (``_reference_quantized_linear``): ``b`` a ``(K, N)`` matrix, every scale and zero point per tensor,
        8-bit operands of either signedness."""
        torch = torch_module()
        b = _pt2e_operand(b, "b", 2, 2)
        a = _pt2e_operand(a, "a", 1, None)
        return _pt2e_requantize(torch, torch.ops.aten.linear.default, a, a_scale, a_zero_point,
                                np.ascontiguousarray(b.T), b_scale, b_zero_point, y_scale, y_zero_point, ())

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None) -> np.ndarray:
        """ONNX ``QLinearConv`` (2-D, NCHW) as ``_reference_quantized_conv2d`` with the convolution's
        attributes: per-tensor scales and zero points, symmetric explicit pads, no bias (the reference
        takes a float bias and truncates ``bias / (x_scale * w_scale)``, not QLinearConv's int32 ``B``)."""
        torch = torch_module()
        x = _pt2e_operand(x, "x", 4, 4)
        w = _pt2e_operand(w, "w", 4, 4)
        if B is not None:
            raise NotImplementedError("torch-pt2e: the reference representation takes a float bias, not an int32 B")
        if auto_pad != "NOTSET":
            raise NotImplementedError("torch-pt2e conv2d: only auto_pad='NOTSET'")
        if kernel_shape is not None and tuple(kernel_shape) != w.shape[2:]:
            raise NotImplementedError("torch-pt2e conv2d: kernel_shape must be the weights' spatial shape")
        pads = (0, 0, 0, 0) if pads is None else tuple(int(p) for p in pads)
        if len(pads) != 4 or pads[:2] != pads[2:]:
            raise NotImplementedError("torch-pt2e conv2d: only equal begin and end pads")
        strides = [1, 1] if strides is None else [int(v) for v in strides]
        dilations = [1, 1] if dilations is None else [int(v) for v in dilations]
        require_output(x.shape[2:], w.shape[2:], pads[:2], strides, dilations)
        if dilations != [1, 1]:
            raise NotImplementedError("torch-pt2e conv2d: torch has no int32 dilated convolution")
        attributes = (strides, list(pads[:2]), dilations, False, [0, 0], int(group))
        return _pt2e_requantize(torch, torch.ops.aten.convolution.default, x, x_scale, x_zero_point, w, w_scale,
                                w_zero_point, y_scale, y_zero_point, attributes)


# --- integer operations: PT2E's reference quantized representation ------------------------------------


def _pt2e_operand(values, argument: str, min_ndim: int, max_ndim) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype not in (np.int8, np.uint8):
        raise NotImplementedError(f"torch-pt2e: {argument} must be int8 or uint8, got {array.dtype}")
    if array.ndim < min_ndim or (max_ndim is not None and array.ndim > max_ndim):
        raise NotImplementedError(f"torch-pt2e: {argument} has {array.ndim} dimensions")
    return np.ascontiguousarray(array)


def _pt2e_scale(torch, value, argument: str):
    """A one-element float32 tensor, as the pattern's example inputs (``torch.randn(1, dtype=torch.float)``)."""
    array = np.asarray(value)
    if array.size != 1:
        raise NotImplementedError(f"torch-pt2e: {argument} must be a single value (the pattern is per tensor)")
    return torch.tensor([np.float32(array.reshape(()))], dtype=torch.float32)


def _pt2e_zero_point(torch, value, argument: str):
    """A one-element int32 tensor (``torch.zeros(1, dtype=torch.int)`` in the pattern)."""
    if value is None:
        return torch.zeros(1, dtype=torch.int32)
    array = np.asarray(value)
    if array.size != 1:
        raise NotImplementedError(f"torch-pt2e: {argument} must be a single value (the pattern is per tensor)")
    return torch.tensor([int(array.reshape(()))], dtype=torch.int32)


def _pt2e_requantize(torch, operation, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                     attributes: tuple) -> np.ndarray:
    """The body of ``_reference_quantized_linear`` / ``_reference_quantized_conv2d`` (torch/ao/quantization/
    pt2e/representation/rewrite.py, which torch 2.13 no longer ships: the same operations are called here):
    int16 operands minus int32 zero points, ``out_dtype(op, int32, ...)`` for the accumulator,
    ``out_dtype(mul, int32, acc, x_scale * w_scale / y_scale) + y_zero_point``, then clamp and cast."""
    from torch._higher_order_ops.out_dtype import out_dtype

    output = np.dtype(np.uint8) if y_zero_point is not None and np.asarray(y_zero_point).dtype == np.uint8 \
        else np.dtype(np.int8)
    if y_zero_point is not None and np.asarray(y_zero_point).dtype not in (np.int8, np.uint8):
        raise NotImplementedError("torch-pt2e: y_zero_point must be int8 or uint8")
    info = np.iinfo(output)
    x16 = torch.from_numpy(x).to(torch.int16)
    w16 = torch.from_numpy(w).to(torch.int16)
    accumulator = out_dtype(operation, torch.int32, x16 - _pt2e_zero_point(torch, x_zero_point, "x_zero_point"),
                            w16 - _pt2e_zero_point(torch, w_zero_point, "w_zero_point"), None, *attributes)
    multiplier = (_pt2e_scale(torch, x_scale, "x_scale") * _pt2e_scale(torch, w_scale, "w_scale")
                  / _pt2e_scale(torch, y_scale, "y_scale"))
    scaled = out_dtype(torch.ops.aten.mul.Tensor, torch.int32, accumulator, multiplier) \
        + _pt2e_zero_point(torch, y_zero_point, "y_zero_point")
    return torch.ops.aten.clamp(scaled, int(info.min), int(info.max)).to(getattr(torch, output.name)).numpy()
