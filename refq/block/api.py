"""BLK-5: ``block_quantize`` and ``block_dequantize`` on whole arrays, blocks along one axis.

An array is cut into blocks of ``block_size`` consecutive elements along ``axis``; the scales have
the array's shape with that axis divided by ``block_size``, the element codes the array's own shape
(one code per uint8, FP4 and FP6 unpacked). Nothing is padded or broadcast.
"""

from __future__ import annotations

import numpy as np

from refq.block.elements import (ElementFormat, element_constants, element_decoding, element_format,
                                 element_values)
from refq.block.kernels import dequantize_blocks, quantize_blocks
from refq.block.scale import LOG2_ROUNDS_DOWN_BELOW
from refq.block.arguments import check_block_size, profile_values, record
from refq.errors import invalid, wrong_type
from refq.registry.variants import variant_code

#: The variants of the chapter, as the profiles name them.
QUANTIZE_VARIANTS = ("block_scale_rule", "block_infinity", "block_nan", "block_tiny_scale", "block_element_ties",
                     "block_zero_code")
DEQUANTIZE_VARIANTS = ("block_nan_scale", "block_nan_payload")
#: Where a profile keeps the chapter's values, and what its profiles are profiles of (for the error).
CHAPTER_PROFILES = ("block", "the block-scaled formats")


def _check_axis(axis: object, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise wrong_type("axis", "an integer", axis)
    if not -ndim <= axis < ndim:
        raise invalid("axis", f"an axis of a {ndim}-dimensional array (-{ndim} to {ndim - 1})", axis)
    return int(axis) % ndim


def _rows(array: np.ndarray, axis: int, block_size: int, argument: str) -> np.ndarray:
    """``array`` with ``axis`` moved last and cut into rows of ``block_size`` (BLK-1.3)."""
    length = array.shape[axis]
    if length % block_size:
        raise invalid("block_size", f"a divisor of the length of axis {axis} of {argument} ({length})", block_size)
    return np.ascontiguousarray(np.moveaxis(array, axis, -1)).reshape(-1, block_size)


def _unrows(rows: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    moved = list(shape)
    moved.append(moved.pop(axis))
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved), -1, axis))


def scales_shape(shape: tuple, axis: int, block_size: int) -> tuple:
    """BLK-1.3: the shape of the scales of an array of ``shape``: ``axis`` divided by ``block_size``."""
    return tuple(size // block_size if i == axis else size for i, size in enumerate(shape))


def _quantize(x, format, axis, block_size, values: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                  int, int]:
    """(scales, codes, per-block flags of unpredictable codes and of an unpredictable scale, the axis, the block
    size) of BLK-5.1."""
    codes_of = {name: variant_code(name, values[name], name) for name in QUANTIZE_VARIANTS}
    fmt = element_format(format)
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise wrong_type("x", "an array of floats", x)
    if array.ndim == 0:
        raise invalid("x", "an array of at least one dimension", x)
    array = np.asarray(array, dtype=np.float32)
    size = check_block_size(block_size)
    moved_axis = _check_axis(axis, array.ndim)
    rows = _rows(array, moved_axis, size, "x")
    scales = np.empty(rows.shape[0], dtype=np.uint8)
    codes = np.empty(rows.shape, dtype=np.uint8)
    unpredictable = np.zeros(rows.shape[0], dtype=np.bool_)
    scale_open = np.zeros(rows.shape[0], dtype=np.bool_)
    quantize_blocks(rows, rows.view(np.uint32), scales, codes, unpredictable, scale_open,
                    codes_of["block_scale_rule"], codes_of["block_infinity"], codes_of["block_nan"],
                    codes_of["block_tiny_scale"], codes_of["block_element_ties"], codes_of["block_zero_code"],
                    fmt.emax, fmt.mantissa_bits, fmt.max_normal, element_constants(fmt), LOG2_ROUNDS_DOWN_BELOW)
    shape = scales_shape(array.shape, moved_axis, size)
    return (_unrows(scales.reshape(-1, 1), shape, moved_axis), _unrows(codes, array.shape, moved_axis),
            unpredictable, scale_open, moved_axis, size)


def block_quantize_outcomes(x, *, format: str = "float8_e4m3fn", axis: int = -1, block_size: int = 32,
                            profile: str = "ocp-mx", block_scale_rule: str | None = None,
                            block_infinity: str | None = None, block_nan: str | None = None,
                            block_tiny_scale: str | None = None, block_element_ties: str | None = None,
                            block_zero_code: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """BLK-5.1 under ``profile``'s BLK variants (each keyword replaces the profile's): the record
    ``(scales, codes)`` and its unpredictable mask (the element codes of a block whose scale is NaN, BLK-3.4,
    and the scale and codes of a block whose scale BLK-2.8 leaves open)."""
    values = profile_values(profile, *CHAPTER_PROFILES, {
        "block_scale_rule": block_scale_rule, "block_infinity": block_infinity, "block_nan": block_nan,
        "block_tiny_scale": block_tiny_scale, "block_element_ties": block_element_ties,
        "block_zero_code": block_zero_code})
    scales, codes, unpredictable, scale_open, moved_axis, size = _quantize(x, format, axis, block_size, values)
    result = record(scales=scales, codes=codes)
    if not unpredictable.any():
        return result, None
    codes_mask = _unrows(np.repeat(unpredictable[:, None], size, axis=1), codes.shape, moved_axis)
    scales_mask = _unrows(scale_open.reshape(-1, 1), scales.shape, moved_axis)
    return result, record(scales=scales_mask, codes=codes_mask)


def block_quantize(x, *, format: str = "float8_e4m3fn", axis: int = -1, block_size: int = 32,
                   profile: str = "ocp-mx") -> tuple[np.ndarray, np.ndarray]:
    """BLK-5.1: ``(scales, codes)``: one E8M0 code per block of ``block_size`` elements of ``x`` along
    ``axis``, and the element code of every value (uint8, FP4 and FP6 one per byte)."""
    values = profile_values(profile, *CHAPTER_PROFILES, {})
    scales, codes, _, _, _, _ = _quantize(x, format, axis, block_size, values)
    return scales, codes


def _check_codes(codes: object, fmt: ElementFormat) -> np.ndarray:
    array = np.asarray(codes)
    if array.dtype != np.uint8:
        raise wrong_type("codes", "a uint8 array of element codes", codes)
    if array.ndim == 0:
        raise invalid("codes", "an array of at least one dimension", codes)
    if array.size and int(array.max()) >= 1 << fmt.bits:
        raise invalid("codes", f"{fmt.name} codes (0 to {(1 << fmt.bits) - 1})", f"code {int(array.max())}")
    return array


def block_dequantize_outcomes(scales, codes, *, format: str = "float8_e4m3fn", axis: int = -1,
                              block_size: int = 32, profile: str = "ocp-mx", block_nan_scale: str | None = None,
                              block_nan_payload: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """BLK-5.2 under ``profile`` (each keyword replaces the profile's variant): the float32 values and, where
    the profile leaves a NaN's bits open, the mask of the NaN results (BLK-4.2)."""
    values = profile_values(profile, *CHAPTER_PROFILES, {"block_nan_scale": block_nan_scale,
                                                          "block_nan_payload": block_nan_payload})
    nan_scale = variant_code("block_nan_scale", values["block_nan_scale"], "block_nan_scale")
    nan_payload = variant_code("block_nan_payload", values["block_nan_payload"], "block_nan_payload")
    fmt = element_format(format)
    code_array = _check_codes(codes, fmt)
    size = check_block_size(block_size)
    moved_axis = _check_axis(axis, code_array.ndim)
    rows = _rows(code_array, moved_axis, size, "codes")
    scale_array = np.asarray(scales)
    if scale_array.dtype != np.uint8:
        raise wrong_type("scales", "a uint8 array of E8M0 codes", scales)
    expected = scales_shape(code_array.shape, moved_axis, size)
    if scale_array.shape != expected:
        raise invalid("scales", f"shape {expected} (codes' shape, axis {moved_axis} divided by {size})",
                      f"shape {scale_array.shape}")
    scale_rows = _rows(scale_array, moved_axis, 1, "scales").reshape(-1)
    out = np.empty(rows.shape, dtype=np.float32)
    dequantize_blocks(scale_rows, rows, element_values(fmt), element_decoding(fmt), nan_scale, out)
    result = _unrows(out, code_array.shape, moved_axis)
    if nan_payload == 0:
        # Every NaN result: a NaN scale's block, a NaN code's element, a zero code times 2^128.
        open_bits = np.isnan(out)
        if open_bits.any():
            return result, _unrows(open_bits, code_array.shape, moved_axis)
    return result, None


def block_dequantize(scales, codes, *, format: str = "float8_e4m3fn", axis: int = -1, block_size: int = 32,
                     profile: str = "ocp-mx") -> np.ndarray:
    """BLK-5.2: the float32 value of every element: its code's value times its block's scale."""
    return block_dequantize_outcomes(scales, codes, format=format, axis=axis, block_size=block_size,
                                     profile=profile)[0]
