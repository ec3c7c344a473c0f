"""PyTorch's quantized tensors (``torch.quantize_per_tensor``, ``Tensor.dequantize``), its quantized
integer kernels (``torch.ops.quantized.linear`` / ``conv2d`` on FBGEMM or QNNPACK) and its observers."""

from __future__ import annotations

import contextlib

import numpy as np

from refq.backends.arguments import Call, dequantize_call, quantize_call, require
from refq.backends.torch.common import quantized_tensors_deprecated, require_output, torch_module, version
from refq.backends.torch.observers import observe


class TorchBackend:
    """``torch.quantize_per_tensor`` / ``torch.quantize_per_channel`` and ``Tensor.dequantize``
    of quantized tensors (``torch.qint8``, ``torch.quint8``)."""

    name = "torch"
    profile = "pytorch"
    dtypes = ("int8", "uint8")
    granularities = ("per_tensor", "per_axis")
    #: The quantized engine of the integer operations.
    engine = "fbgemm"

    def __init__(self) -> None:
        self.version = version()

    def _quantized_type(self, dtype: str):
        torch = torch_module()
        return {"int8": torch.qint8, "uint8": torch.quint8}[dtype]

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """Quantize to a quantized tensor and return its integer representation."""
        torch = torch_module()
        call = quantize_call(x, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=self.dtypes, granularities=self.granularities, backend=self.name,
                operation="quantize_linear")
        values = torch.from_numpy(call.values)
        with quantized_tensors_deprecated():
            quantized = self._quantize(torch, values, call)
        return quantized.int_repr().numpy().astype(call.target.container)

    def _quantize(self, torch, values, call: Call):
        if call.axis is None:
            return torch.quantize_per_tensor(values, float(call.scale), int(call.zero_point),
                                             self._quantized_type(call.dtype))
        return torch.quantize_per_channel(values, torch.from_numpy(call.scale.astype(np.float64)),
                                          torch.from_numpy(call.zero_point.astype(np.int64)), call.axis,
                                          self._quantized_type(call.dtype))

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        """Wrap ``q`` as a quantized tensor (``_make_per_tensor_quantized_tensor`` /
        ``_make_per_channel_quantized_tensor``) and call ``dequantize()``."""
        torch = torch_module()
        call = dequantize_call(q, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=self.dtypes, granularities=self.granularities, backend=self.name,
                operation="dequantize_linear")
        integers = torch.from_numpy(call.values)
        with quantized_tensors_deprecated():
            if call.axis is None:
                quantized = torch._make_per_tensor_quantized_tensor(integers, float(call.scale),
                                                                    int(call.zero_point))
            else:
                quantized = torch._make_per_channel_quantized_tensor(
                    integers, torch.from_numpy(call.scale.astype(np.float64)),
                    torch.from_numpy(call.zero_point.astype(np.int64)), call.axis)
            return quantized.dequantize().numpy()

    # --- integer operations (torch.ops.quantized, FBGEMM engine), chapter INT ---------------------------------

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) -> np.ndarray:
        """ONNX ``QLinearMatMul`` as ``torch.ops.quantized.linear`` (on ``engine``) without a bias: ``a`` uint8
        activations (quint8, per tensor) of shape ``(..., K)``, ``b`` an int8 ``(K, N)`` matrix (qint8 weights
        ``b.T``, one scale and zero point or one per column), uint8 output."""
        torch = torch_module()
        a = _integer_operand(a, np.uint8, "a", 2, None)
        b = _integer_operand(b, np.int8, "b", 2, 2)
        columns = b.shape[1]
        with quantized_tensors_deprecated(), _engine(torch, self.engine):
            activations = _activation_tensor(torch, a, a_scale, a_zero_point)
            weights = _weight_tensor(torch, np.ascontiguousarray(b.T), b_scale, b_zero_point, columns, "b")
            packed = torch.ops.quantized.linear_prepack(weights, None)
            output = torch.ops.quantized.linear(activations, packed, *_output_parameters(y_scale, y_zero_point))
            return output.int_repr().numpy()

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None) -> np.ndarray:
        """ONNX ``QLinearConv`` (2-D, NCHW) as ``torch.ops.quantized.conv2d`` (on ``engine``) without a bias:
        ``x`` uint8 (quint8, per tensor), ``w`` int8 ``(M, C/group, kH, kW)`` (qint8, one scale and zero point
        or one per output channel), uint8 output. Only symmetric explicit pads: torch pads each side alike."""
        torch = torch_module()
        x = _integer_operand(x, np.uint8, "x", 4, 4)
        w = _integer_operand(w, np.int8, "w", 4, 4)
        if B is not None:
            raise NotImplementedError("torch quantized conv2d takes a float bias, not QLinearConv's int32 B")
        if auto_pad != "NOTSET":
            raise NotImplementedError("torch quantized conv2d: only auto_pad='NOTSET'")
        if kernel_shape is not None and tuple(kernel_shape) != w.shape[2:]:
            raise NotImplementedError("torch quantized conv2d: kernel_shape must be the weights' spatial shape")
        pads = (0, 0, 0, 0) if pads is None else tuple(int(p) for p in pads)
        if len(pads) != 4 or pads[:2] != pads[2:]:
            raise NotImplementedError("torch quantized conv2d: only equal begin and end pads")
        strides = (1, 1) if strides is None else tuple(int(v) for v in strides)
        dilations = (1, 1) if dilations is None else tuple(int(v) for v in dilations)
        require_output(x.shape[2:], w.shape[2:], pads[:2], strides, dilations)
        with quantized_tensors_deprecated(), _engine(torch, self.engine):
            activations = _activation_tensor(torch, x, x_scale, x_zero_point)
            weights = _weight_tensor(torch, w, w_scale, w_zero_point, w.shape[0], "w")
            packed = torch.ops.quantized.conv2d_prepack(weights, None, list(strides), list(pads[:2]),
                                                        list(dilations), int(group))
            output = torch.ops.quantized.conv2d(activations, packed, *_output_parameters(y_scale, y_zero_point))
            return output.int_repr().numpy()


    # --- observers (torch.ao.quantization.observer), chapter OBS ------------------------------------------

    def observe_minmax(self, batches, *, dtype="uint8", qscheme="affine", reduce_range=False, ch_axis=None):
        """``MinMaxObserver`` (``ch_axis=None``) or ``PerChannelMinMaxObserver`` fed each batch in turn:
        the record ``(min_val, max_val, scale, zero_point)``."""
        from torch.ao.quantization import observer

        kind = observer.MinMaxObserver if ch_axis is None else observer.PerChannelMinMaxObserver
        return observe(kind, batches, dtype, qscheme, reduce_range, ch_axis, {})

    def observe_moving_average(self, batches, *, averaging_constant=0.01, dtype="uint8", qscheme="affine",
                               reduce_range=False, ch_axis=None):
        """``MovingAverageMinMaxObserver`` or ``MovingAveragePerChannelMinMaxObserver``: the record
        ``(min_val, max_val, scale, zero_point)``."""
        from torch.ao.quantization import observer

        kind = (observer.MovingAverageMinMaxObserver if ch_axis is None
                else observer.MovingAveragePerChannelMinMaxObserver)
        return observe(kind, batches, dtype, qscheme, reduce_range, ch_axis,
                        {"averaging_constant": averaging_constant})

    def observe_histogram(self, batches, *, bins=2048, dtype="uint8", qscheme="affine", reduce_range=False):
        """``HistogramObserver``: the record ``(histogram, min_val, max_val, scale, zero_point)``."""
        from torch.ao.quantization import observer

        return observe(observer.HistogramObserver, batches, dtype, qscheme, reduce_range, None, {"bins": bins})


class TorchQnnpackBackend:
    """``torch.ops.quantized.linear`` / ``conv2d`` on the QNNPACK engine (PyTorch's mobile kernels,
    x86 SSE2 build here): the same ONNX signatures as :class:`TorchBackend`'s integer operations.

    QNNPACK's requantization differs from FBGEMM's in the multiplier only: PyTorch computes it as
    ``(weight_scale * input_scale) * (1.f / output_scale)`` (``generate_requantization_scales``).
    """

    name = "torch-qnnpack"
    profile = "pytorch-qnnpack"
    engine = "qnnpack"

    def __init__(self) -> None:
        torch = torch_module()
        if "qnnpack" not in torch.backends.quantized.supported_engines:
            raise ImportError("this torch build has no QNNPACK engine")
        self.version = version()

    qlinear_matmul = TorchBackend.qlinear_matmul
    qlinear_conv = TorchBackend.qlinear_conv


# --- integer operations: operands in the ONNX signature, as torch's quantized tensors --------------------


@contextlib.contextmanager
def _engine(torch, engine: str):
    """Run under a quantized engine ("fbgemm", "qnnpack"), restoring the engine that was selected."""
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def _integer_operand(values, dtype, argument: str, min_ndim: int, max_ndim) -> np.ndarray:
    """FBGEMM and QNNPACK multiply uint8 activations by int8 weights: other types have no counterpart here."""
    array = np.asarray(values)
    if array.dtype != dtype:
        raise NotImplementedError(f"torch quantized: {argument} must be {np.dtype(dtype).name}, got {array.dtype}")
    if array.ndim < min_ndim or (max_ndim is not None and array.ndim > max_ndim):
        raise NotImplementedError(f"torch quantized: {argument} has {array.ndim} dimensions")
    return np.ascontiguousarray(array)


def _single(value, argument: str):
    array = np.asarray(value)
    if array.size != 1:
        raise NotImplementedError(f"torch quantized: {argument} must be a single value (per tensor)")
    return array.reshape(())


def _activation_tensor(torch, values: np.ndarray, scale, zero_point):
    """quint8, per tensor; the float32 scale travels exactly as a double."""
    zero = 0 if zero_point is None else int(_single(zero_point, "activation zero point"))
    return torch._make_per_tensor_quantized_tensor(torch.from_numpy(values),
                                                   float(np.float32(_single(scale, "activation scale"))), zero)


def _weight_tensor(torch, values: np.ndarray, scale, zero_point, channels: int, argument: str):
    """qint8 weights with output channels on axis 0: per tensor, or per channel when a scale or a
    zero point has one value per output channel."""
    scales = np.asarray(scale, dtype=np.float32).reshape(-1)
    zero_points = np.zeros(1, np.int64) if zero_point is None else np.asarray(zero_point).astype(np.int64).reshape(-1)
    if scales.size == 1 and zero_points.size == 1:
        return torch._make_per_tensor_quantized_tensor(torch.from_numpy(values), float(scales[0]),
                                                       int(zero_points[0]))
    if {scales.size, zero_points.size} - {1, channels}:
        raise NotImplementedError(f"torch quantized: {argument} scales and zero points: one or {channels}")
    return torch._make_per_channel_quantized_tensor(
        torch.from_numpy(values), torch.from_numpy(np.broadcast_to(scales, (channels,)).astype(np.float64)),
        torch.from_numpy(np.broadcast_to(zero_points, (channels,)).copy()), 0)


def _output_parameters(scale, zero_point) -> tuple[float, int]:
    """The output is quint8: a uint8 zero point (or none, meaning 0)."""
    if zero_point is not None and np.asarray(zero_point).dtype != np.uint8:
        raise NotImplementedError("torch quantized: the output is quint8, so y_zero_point must be uint8")
    zero = 0 if zero_point is None else int(_single(zero_point, "y_zero_point"))
    return float(np.float32(_single(scale, "y_scale"))), zero
