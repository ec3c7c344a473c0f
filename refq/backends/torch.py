"""PyTorch's quantization entry points, CPU: quantized tensors, fake quantization, and the
decomposed ops of PyTorch 2 export (``torch.ops.quantized_decomposed``).

Each class describes one code path with its own profile: they round and handle NaN
differently (see :mod:`refq.registry.profiles`).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from refq.backends.arguments import Call, dequantize_call, quantize_call, require


def _torch():
    import torch

    return torch


@contextlib.contextmanager
def _quantized_tensors_deprecated():
    """torch 2.13 warns that quantized tensors are deprecated; they are what is being measured."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*", category=UserWarning)
        yield


def _version() -> str:
    return _torch().__version__


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
        self.version = _version()

    def _quantized_type(self, dtype: str):
        torch = _torch()
        return {"int8": torch.qint8, "uint8": torch.quint8}[dtype]

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """Quantize to a quantized tensor and return its integer representation."""
        torch = _torch()
        call = quantize_call(x, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=self.dtypes, granularities=self.granularities, backend=self.name,
                operation="quantize_linear")
        values = torch.from_numpy(call.values)
        with _quantized_tensors_deprecated():
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
        torch = _torch()
        call = dequantize_call(q, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=self.dtypes, granularities=self.granularities, backend=self.name,
                operation="dequantize_linear")
        integers = torch.from_numpy(call.values)
        with _quantized_tensors_deprecated():
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
        torch = _torch()
        a = _integer_operand(a, np.uint8, "a", 2, None)
        b = _integer_operand(b, np.int8, "b", 2, 2)
        columns = b.shape[1]
        with _quantized_tensors_deprecated(), _engine(torch, self.engine):
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
        torch = _torch()
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
        _require_output(x.shape[2:], w.shape[2:], pads[:2], strides, dilations)
        with _quantized_tensors_deprecated(), _engine(torch, self.engine):
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
        return _observe(kind, batches, dtype, qscheme, reduce_range, ch_axis, {})

    def observe_moving_average(self, batches, *, averaging_constant=0.01, dtype="uint8", qscheme="affine",
                               reduce_range=False, ch_axis=None):
        """``MovingAverageMinMaxObserver`` or ``MovingAveragePerChannelMinMaxObserver``: the record
        ``(min_val, max_val, scale, zero_point)``."""
        from torch.ao.quantization import observer

        kind = (observer.MovingAverageMinMaxObserver if ch_axis is None
                else observer.MovingAveragePerChannelMinMaxObserver)
        return _observe(kind, batches, dtype, qscheme, reduce_range, ch_axis,
                        {"averaging_constant": averaging_constant})

    def observe_histogram(self, batches, *, bins=2048, dtype="uint8", qscheme="affine", reduce_range=False):
        """``HistogramObserver``: the record ``(histogram, min_val, max_val, scale, zero_point)``."""
        from torch.ao.quantization import observer

        return _observe(observer.HistogramObserver, batches, dtype, qscheme, reduce_range, None, {"bins": bins})


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
        torch = _torch()
        if "qnnpack" not in torch.backends.quantized.supported_engines:
            raise ImportError("this torch build has no QNNPACK engine")
        self.version = _version()

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


def _require_output(spatial, kernel, pads, strides, dilations) -> None:
    """An empty convolution output is an error: QNNPACK does not check and crashes the process."""
    for size, extent, pad, stride, dilation in zip(spatial, kernel, pads, strides, dilations):
        if stride < 1 or dilation < 1 or size + 2 * pad - (extent - 1) * dilation - 1 < 0:
            raise ValueError(f"torch quantized conv2d: no output for input {tuple(spatial)}, kernel {tuple(kernel)}, "
                             f"pads {tuple(pads)}, strides {tuple(strides)}, dilations {tuple(dilations)}")


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


#: refq target names -> torch's quantized dtypes that observers accept.
_OBSERVER_DTYPES = {"int8": "qint8", "uint8": "quint8", "int32": "qint32"}


def _observer_options(dtype: str, qscheme: str, reduce_range: bool, ch_axis) -> dict:
    torch = _torch()
    if dtype not in _OBSERVER_DTYPES:
        raise NotImplementedError(f"torch observers: dtype {dtype!r} is not mapped (int8, uint8, int32 are)")
    granularity = "per_tensor" if ch_axis is None else "per_channel"
    if qscheme == "affine_float_qparams":
        granularity = "per_channel"
    scheme = getattr(torch, f"{granularity}_{qscheme}", None)
    if scheme is None:
        raise ValueError(f"torch has no qscheme {granularity}_{qscheme}")
    options = {"dtype": getattr(torch, _OBSERVER_DTYPES[dtype]), "qscheme": scheme, "reduce_range": reduce_range}
    if ch_axis is not None:
        options["ch_axis"] = ch_axis
    return options


def _observe(kind, batches, dtype: str, qscheme: str, reduce_range: bool, ch_axis, extra: dict) -> np.ndarray:
    """Feed ``batches[0]``, ``batches[1]``, ... to a fresh ``kind`` observer; its state and parameters
    as a record (refq.conformance.records)."""
    from refq.backends.records import record

    torch = _torch()
    options = {**_observer_options(dtype, qscheme, reduce_range, ch_axis), **extra}
    with warnings.catch_warnings():
        # "must run observer before calling calculate_qparams" and similar: the outputs say it all.
        warnings.simplefilter("ignore")
        try:
            instance = kind(**options)
        except NotImplementedError as error:
            # torch refuses these arguments (e.g. uint8 symmetric with reduce_range): a rejection, not a gap.
            raise ValueError(f"torch refuses the arguments: {error}") from None
        for batch in np.asarray(batches):
            instance(torch.from_numpy(np.ascontiguousarray(batch)))
        scale, zero_point = instance.calculate_qparams()
    scale, zero_point = scale.numpy(), zero_point.numpy()
    if ch_axis is None:
        scale, zero_point = scale.reshape(()), zero_point.reshape(())
    fields = {"histogram": instance.histogram.numpy().copy()} if hasattr(instance, "histogram") else {}
    if zero_point.dtype.kind == "i":
        # torch's integer zero point is int32 (affine) or int64 (symmetric, unobserved); the operation's
        # is int64 and the widening is exact. Other dtypes are passed on: the harness reports them.
        zero_point = zero_point.astype(np.int64)
    return record(**fields, min_val=instance.min_val.numpy(), max_val=instance.max_val.numpy(), scale=scale,
                  zero_point=zero_point)


class TorchFakeQuantBackend:
    """``torch.fake_quantize_per_tensor_affine`` / ``fake_quantize_per_channel_affine``:
    quantize and dequantize in one call, returning float32."""

    name = "torch-fake-quant"
    profile = "pytorch-fake-quant"
    dtypes = ("int8", "uint8", "int16", "uint16", "int4", "uint4", "int2", "uint2")
    granularities = ("per_tensor", "per_axis")

    def __init__(self) -> None:
        self.version = _version()

    def fake_quantize(self, x, scale, zero_point=None, *, axis=None, dtype="int8") -> np.ndarray:
        """``dequantize(quantize(x))`` with ``quant_min``, ``quant_max`` the range of ``dtype``."""
        torch = _torch()
        call = quantize_call(x, scale, zero_point, axis, None, dtype)
        require(call, dtypes=self.dtypes, granularities=self.granularities, backend=self.name,
                operation="fake_quantize")
        values, target = torch.from_numpy(call.values), call.target
        if call.axis is None:
            result = torch.fake_quantize_per_tensor_affine(values, float(call.scale), int(call.zero_point),
                                                           target.qmin, target.qmax)
        else:
            result = torch.fake_quantize_per_channel_affine(
                values, torch.from_numpy(call.scale), torch.from_numpy(call.zero_point.astype(np.int32)), call.axis,
                target.qmin, target.qmax)
        return result.numpy()


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
        self.version = _version()

    @staticmethod
    def _ops():
        torch = _torch()
        import torch.ao.quantization.fx._decomposed  # noqa: F401  registers torch.ops.quantized_decomposed

        return torch.ops.quantized_decomposed

    def _container(self, call: Call):
        return getattr(_torch(), self.containers[call.dtype])

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """``quantize_per_tensor`` (scale as a Python float) or ``quantize_per_channel`` (float32 scales)."""
        torch = _torch()
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
        torch = _torch()
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
        torch = _torch()
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
        torch = _torch()
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
        _require_output(x.shape[2:], w.shape[2:], pads[:2], strides, dilations)
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
