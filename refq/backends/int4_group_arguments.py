"""The arguments of BLK-9's operations as the int4 group adapters (compressed-tensors, hqq,
onnxruntime-mlas-int4) read them: rows of the last axis, and dequantize's inputs checked as
:func:`refq.block.int4_group.int4_group_dequantize` checks them (ValueError), before an engine sees them."""

from __future__ import annotations

import numpy as np


def rows(values, name: str, dtype) -> np.ndarray:
    """``values`` as a C-contiguous 2-D array of ``dtype``: rows = the product of the leading dimensions."""
    array = np.asarray(values, dtype=dtype)
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"{name}: an array of at least one dimension and one element, not shape {array.shape}")
    return np.ascontiguousarray(array.reshape(-1, array.shape[-1]))


def group_size_of(group_size) -> int:
    if not isinstance(group_size, (int, np.integer)) or isinstance(group_size, bool) or group_size < 1:
        raise ValueError(f"group_size {group_size!r}: a positive integer")
    return int(group_size)


def dequantize_arguments(scales, zero_points, codes, group_size):
    """``(codes, scales, zero_points, shape)``: the codes as int8 rows, scales and zero points as float32
    [rows, groups], and the codes' shape; ValueError where refq's int4_group_dequantize refuses them."""
    size = group_size_of(group_size)
    given = np.asarray(codes)
    if given.dtype.kind not in "iu":
        raise ValueError(f"codes: an int8 array of int4 codes, not {given.dtype}")
    if given.ndim == 0 or given.size == 0:
        raise ValueError(f"codes: an array of at least one dimension and one element, not shape {given.shape}")
    if ((given < -8) | (given > 15)).any():
        raise ValueError(f"codes: int4 codes, from -8 to 7 (signed) or 0 to 15 (unsigned), not "
                         f"{int(given.min())} to {int(given.max())}")
    shape = given.shape
    groups = (*shape[:-1], -(-shape[-1] // size))
    arrays = []
    for name, values in (("scales", scales), ("zero_points", zero_points)):
        array = np.asarray(values)
        if array.dtype != np.float32:
            raise ValueError(f"{name}: a float32 array, not {array.dtype}")
        if array.shape != groups:
            raise ValueError(f"{name}: shape {groups}, one per group of {size} along the last axis of codes, "
                             f"not {array.shape}")
        arrays.append(np.ascontiguousarray(array).reshape(-1, groups[-1]))
    return rows(given, "codes", np.int8), arrays[0], arrays[1], shape
