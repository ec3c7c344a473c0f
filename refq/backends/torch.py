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
    from refq.conformance.records import record

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
