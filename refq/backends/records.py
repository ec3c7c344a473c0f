"""Records: one operation output made of several named arrays.

An operation with several results (DynamicQuantizeLinear's ``y``, ``y_scale`` and
``y_zero_point``; an observer's state and its scale and zero point) returns one
**record**: a numpy structured array of shape ``()`` whose fields are those results,
each with its own dtype and shape. A record saves to ``.npy`` without pickle, so a case
still has exactly one output file. Its *unpredictable* mask is a record of the same
field names and shapes with boolean fields.

The harness compares a record field by field, each like a plain output: integers by
value, floats by bit pattern, unpredictable elements skipped.
"""

from __future__ import annotations

import numpy as np

from refq.errors import wrong_type


def record(**fields) -> np.ndarray:
    """A record (structured array of shape ``()``) holding ``fields`` in the order given.

    Each value keeps its numpy dtype and shape: pass ``np.float32(...)``, ``np.int64(...)``
    or arrays, never bare Python numbers (their dtype would be a guess).
    """
    arrays = {}
    for name, value in fields.items():
        if not isinstance(value, (np.ndarray, np.generic)):
            raise wrong_type(name, "a numpy array or numpy scalar (its dtype is part of the record)", value)
        arrays[name] = np.asarray(value)
    dtype = np.dtype([(name, array.dtype, array.shape) for name, array in arrays.items()])
    result = np.zeros((), dtype=dtype)
    for name, array in arrays.items():
        result[name] = array
    return result


def is_record(array: np.ndarray) -> bool:
    return isinstance(array, np.ndarray) and array.dtype.names is not None


def mask_like(output: np.ndarray, **masks) -> np.ndarray | None:
    """The unpredictable mask of record ``output``: a record of booleans with the same fields,
    False except where ``masks`` (field name -> bool or boolean array) say True; None if nothing is."""
    if not any(np.any(value) for value in masks.values()):
        return None
    fields = {}
    for name in output.dtype.names:
        shape = output[name].shape
        fields[name] = np.broadcast_to(np.asarray(masks.get(name, False), dtype=np.bool_), shape).copy()
    return record(**fields)


def any_set(mask: np.ndarray | None) -> bool:
    """Whether a mask (plain boolean array or record of booleans) marks any element."""
    if mask is None:
        return False
    if is_record(mask):
        return any(bool(np.any(mask[name])) for name in mask.dtype.names)
    return bool(np.any(mask))


def fields(array: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(name, values)`` of each field of a record; ``("", array)`` for a plain array."""
    if not is_record(array):
        return [("", array)]
    return [(name, array[name]) for name in array.dtype.names]


def differ(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Element-wise difference of two plain arrays of one dtype: floats by bit pattern."""
    if expected.dtype.kind == "f":
        unsigned = np.dtype(f"u{expected.dtype.itemsize}")
        return np.asarray(expected.view(unsigned) != actual.view(unsigned))
    return np.asarray(expected != actual)
