"""Check and normalise the arguments every backend adapter takes.

Adapters accept exactly what :func:`refq.affine.quantize` and
:func:`refq.affine.dequantize` accept, validated by the same functions, so an
adapter and refq are always called on the same float32 values, scales and zero
points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refq.affine.dequantize import quantized_input
from refq.affine.parameters import Granularity, Target, granularity, input_array, scale_array, target_type, \
    zero_point_array


@dataclass(frozen=True)
class Call:
    """One adapter call, normalised: ``values`` is the float32 input (quantize) or the
    integer input in the target's container (dequantize); ``scale`` is float32 shaped
    ``()`` per tensor, ``(length,)`` per axis and like ``values`` with blocks along
    ``axis`` when blocked; ``zero_point`` is shaped like ``scale`` in the container type."""

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    target: Target
    layout: Granularity

    @property
    def dtype(self) -> str:
        return self.target.format.name

    @property
    def axis(self) -> int | None:
        return self.layout.axis

    @property
    def block_size(self) -> int | None:
        return self.layout.block if self.layout.kind == "blocked" else None


def contiguous(array: np.ndarray) -> np.ndarray:
    """``array`` in C order (``np.ascontiguousarray`` would turn a 0-d array into 1-d)."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def _normalise(values: np.ndarray, scale, zero_point, axis, block_size, target: Target) -> Call:
    scales = scale_array(scale)
    layout = granularity(values.shape, scales.shape, axis, block_size)
    zero_points = zero_point_array(zero_point, target, scales.shape)
    if layout.kind == "per_tensor":
        scales, zero_points = scales.reshape(()), zero_points.reshape(())
    return Call(values, contiguous(scales), contiguous(zero_points.astype(target.container)),
                target, layout)


def quantize_call(x, scale, zero_point, axis, block_size, dtype) -> Call:
    """Validate the arguments of ``quantize_linear``."""
    target = target_type(dtype)
    return _normalise(contiguous(input_array(x)), scale, zero_point, axis, block_size, target)


def dequantize_call(q, scale, zero_point, axis, block_size, dtype) -> Call:
    """Validate the arguments of ``dequantize_linear``; ``q`` is cast to the target's container."""
    target = target_type(dtype, max_bits=32)
    values = contiguous(quantized_input(q, target).astype(target.container))
    return _normalise(values, scale, zero_point, axis, block_size, target)


def require(call: Call, *, dtypes: tuple[str, ...], granularities: tuple[str, ...], backend: str,
            operation: str) -> None:
    """Raise NotImplementedError for what the backend cannot compute at all."""
    if call.dtype not in dtypes:
        raise NotImplementedError(f"{backend} {operation}: dtype {call.dtype!r} is not supported; "
                                  f"supported: {', '.join(dtypes)}")
    if call.layout.kind not in granularities:
        raise NotImplementedError(f"{backend} {operation}: {call.layout.kind.replace('_', '-')} quantization is not "
                                  f"supported; supported: {', '.join(granularities)}")

