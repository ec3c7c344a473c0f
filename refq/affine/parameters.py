"""AFF-1: quantization parameters — scale, zero point, target type, granularity."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from refq.errors import invalid, wrong_type
from refq.numbers.integers import integer_range
from refq.registry import IntegerFormat, integer_format


def container_dtype(format: IntegerFormat) -> np.dtype:
    """AFF-1.2: the smallest numpy integer type that holds every value of ``format``
    (int4 is carried in int8, uint4 in uint8, int12 in int16)."""
    for bits in (8, 16, 32, 64):
        if format.bits <= bits:
            return np.dtype(f"{'int' if format.signed else 'uint'}{bits}")
    raise invalid("dtype", "at most 64 bits", format.name)


@dataclass(frozen=True)
class Target:
    """The integer type quantize produces: its format, range and numpy container."""

    format: IntegerFormat
    narrow: bool
    qmin: int
    qmax: int
    container: np.dtype


def target_type(dtype: str | IntegerFormat, narrow: bool = False, *, max_bits: int = 16) -> Target:
    """AFF-1.2: a signed or unsigned integer of 1..16 bits (1..32 for dequantize input);
    ``narrow`` drops the most negative value of a signed type, making the range symmetric."""
    format = integer_format(dtype, "dtype")
    if format.bits > max_bits:
        raise invalid("dtype", f"an integer type of 1..{max_bits} bits", format.name)
    if not isinstance(narrow, bool):
        raise wrong_type("narrow", "True or False", narrow)
    qmin, qmax = integer_range(format, narrow=narrow)
    return Target(format, narrow, qmin, qmax, container_dtype(format))


def scale_array(scale, argument: str = "scale") -> np.ndarray:
    """AFF-1.1: scales are float32, finite and strictly positive.

    A value given in another float type is first rounded to float32 (ties to even):
    refq's results are those for that float32 scale.
    """
    try:
        values = np.asarray(scale)
    except Exception:  # numpy raises many types for ragged or odd input
        raise wrong_type(argument, "a positive finite float or array of them", scale) from None
    if values.dtype.kind not in "fiu" or values.dtype == np.bool_:
        raise wrong_type(argument, "a positive finite float or array of them", scale)
    if values.dtype == np.float32:  # nothing to overflow; entering np.errstate costs more than the copy
        values = values.astype(np.float32)
    else:
        with np.errstate(over="ignore"):
            values = values.astype(np.float32)
    if values.size == 1:  # the usual single scale, tested as a Python float: numpy's test takes microseconds
        value = values.item(0)
        if not 0 < value < math.inf:  # NaN fails too
            raise invalid(argument, "finite and > 0 in float32", value)
        return values
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        raise invalid(argument, "finite and > 0 in float32", values[bad].flat[0].item())
    return values


def zero_point_array(zero_point, target: Target, shape: tuple[int, ...]) -> np.ndarray:
    """AFF-1.3: the zero point is an integer in the target range, shaped like the scale."""
    if zero_point is None:
        return np.zeros(shape, dtype=np.int64)
    values = np.asarray(zero_point)
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise invalid("zero_point", "an integer", zero_point)
    elif values.dtype.kind not in "iu" or values.dtype == np.bool_:
        raise wrong_type("zero_point", "an integer or integer array", zero_point)
    if values.shape != shape and values.size != 1:
        raise invalid("zero_point", f"shaped like scale {shape}", values.shape)
    if values.shape != shape:  # one value for every scale, whatever its rank (ONNX's tests give [1] beside a scalar)
        values = values.reshape(())
    values = np.broadcast_to(values, shape).astype(np.int64)
    out_of_range = (values < target.qmin) | (values > target.qmax)
    if out_of_range.any():
        raise invalid("zero_point", f"in [{target.qmin}, {target.qmax}] for {target.format.name}"
                      f"{' (narrow)' if target.narrow else ''}", values[out_of_range].flat[0].item())
    return values


@dataclass(frozen=True)
class Granularity:
    """AFF-1.4: how scale and zero point map onto the elements of x.

    The input is viewed as ``(outer, length, inner)`` around ``axis``; the scale as
    ``(scale_outer, scale_length, scale_inner)``; element ``(o, d, i)`` uses scale
    ``(o if scale_outer > 1 else 0, d // block, i if scale_inner > 1 else 0)``.
    """

    kind: str  # "per_tensor", "per_axis" or "blocked"
    axis: int | None
    block: int
    outer: int
    length: int
    inner: int
    scale_shape3: tuple[int, int, int]


def granularity(shape: tuple[int, ...], scale_shape: tuple[int, ...], axis, block_size) -> Granularity:
    """AFF-1.4: per-tensor (``axis`` None), per-axis (``axis``), or blocked (``axis`` and ``block_size``)."""
    size = math.prod(shape)
    if axis is None:
        if block_size is not None:
            raise invalid("block_size", "None unless axis is given", block_size)
        if math.prod(scale_shape) != 1:
            raise invalid("scale", "a single value for per-tensor quantization (axis=None)", scale_shape)
        return Granularity("per_tensor", None, 1, 1, 1, size, (1, 1, 1))
    try:
        if isinstance(axis, (bool, np.bool_)):  # operator.index would take True for 1
            raise TypeError
        axis = operator.index(axis)
    except TypeError:
        raise wrong_type("axis", "an integer or None", axis) from None
    rank = len(shape)
    if not -rank <= axis < rank:
        raise invalid("axis", f"in [{-rank}, {rank - 1}] for an input of rank {rank}", axis)
    axis %= rank
    outer, length, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    if block_size is None:
        if scale_shape != (length,):
            raise invalid("scale", f"of shape ({length},) for per-axis quantization along axis {axis}", scale_shape)
        return Granularity("per_axis", axis, 1, outer, length, inner, (1, length, 1))
    try:
        if isinstance(block_size, (bool, np.bool_)):
            raise TypeError
        block = operator.index(block_size)
    except TypeError:
        raise wrong_type("block_size", "a positive integer or None", block_size) from None
    if block <= 0:
        raise invalid("block_size", "a positive integer", block_size)
    blocks = -(-length // block)
    expected = shape[:axis] + (blocks,) + shape[axis + 1:]
    if tuple(scale_shape) != expected:
        raise invalid("scale", f"of shape {expected} (ceil({length}/{block}) = {blocks} blocks along axis {axis})",
                      scale_shape)
    return Granularity("blocked", axis, block, outer, length, inner, (outer, blocks, inner))


def input_array(x, argument: str = "x") -> np.ndarray:
    """AFF-1.5: quantize's input is float32; other float types are rounded to float32 first."""
    try:
        values = np.asarray(x)
    except Exception:
        raise wrong_type(argument, "a float array", x) from None
    if values.dtype.kind not in "fiu" or values.dtype == np.bool_:
        raise wrong_type(argument, "a float array", x)
    if values.dtype != np.float32:
        with np.errstate(over="ignore"):
            values = values.astype(np.float32)
    return values


def output_array(out, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Where the result goes: a new array, or the caller's ``out`` (same shape, the
    result's dtype, C-contiguous), which saves allocating fresh pages on every call."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise wrong_type("out", "a numpy array or None", out)
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous or not out.flags.writeable:
        raise invalid("out", f"a writeable C-contiguous {dtype} array of shape {tuple(shape)}",
                      f"{out.dtype} array of shape {out.shape}")
    return out
