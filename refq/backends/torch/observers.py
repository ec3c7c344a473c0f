"""PyTorch's observers (``torch.ao.quantization.observer``) fed batch by batch, their state and
parameters returned as a record."""

from __future__ import annotations

import warnings

import numpy as np

from refq.backends.torch.common import torch_module


#: refq target names -> torch's quantized dtypes that observers accept.
_OBSERVER_DTYPES = {"int8": "qint8", "uint8": "quint8", "int32": "qint32"}


def _observer_options(dtype: str, qscheme: str, reduce_range: bool, ch_axis) -> dict:
    torch = torch_module()
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


def observe(kind, batches, dtype: str, qscheme: str, reduce_range: bool, ch_axis, extra: dict) -> np.ndarray:
    """Feed ``batches[0]``, ``batches[1]``, ... to a fresh ``kind`` observer; its state and parameters
    as a record (refq.backends.records)."""
    from refq.backends.records import record

    torch = torch_module()
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
