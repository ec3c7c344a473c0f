"""BLK-9.7 and BLK-9.8: ``int4_group_quantize`` and ``int4_group_dequantize``, weight-only int4 groups
(GPTQ, AWQ and RTN checkpoints in compressed-tensors, HQQ, ONNX Runtime's MatMulNBits) on whole arrays.

Groups are ``group_size`` consecutive elements along the last axis, the last group of a row shorter where
``group_size`` does not divide the row. Every group has a float32 scale and a float32 zero point; the codes
come one per int8, unpacked.
"""

from __future__ import annotations

import numpy as np

from refq.block import int4_group_kernels as kernels
from refq.block.arguments import profile_values, record
from refq.errors import invalid, wrong_type
from refq.registry.variants import variant_code

#: The variants of BLK-9, as the profiles name them.
VARIANTS = ("int4_codes", "int4_minmax_nan", "int4_range", "int4_symmetric_scale", "int4_asymmetric_scale",
            "int4_zero_point", "int4_degenerate_scale", "int4_element_scaling", "int4_rounding")
#: The order :func:`~refq.block.int4_group_kernels.quantize_groups` takes their codes in.
KERNEL_ORDER = ("int4_codes", "int4_range", "int4_minmax_nan", "int4_symmetric_scale", "int4_asymmetric_scale",
                "int4_zero_point", "int4_degenerate_scale", "int4_element_scaling", "int4_rounding")
#: Where a profile keeps the chapter's values, and what its profiles are profiles of (for the error).
CHAPTER_PROFILES = ("int4_group", "weight-only int4 groups")


def group_count(columns: int, group_size: int) -> int:
    """BLK-9.1: the number of groups of a row of ``columns`` elements, a last partial group included."""
    return -(-columns // group_size)


def _check_group_size(group_size: object) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise wrong_type("group_size", "a positive integer", group_size)
    if group_size < 1:
        raise invalid("group_size", "a positive integer", group_size)
    return int(group_size)


def _check_symmetric(symmetric: object) -> bool:
    if not isinstance(symmetric, (bool, np.bool_)):
        raise wrong_type("symmetric", "True or False", symmetric)
    return bool(symmetric)


def int4_group_quantize_arrays(x, *, group_size: int = 128, symmetric: bool = True,
                               profile: str = "compressed-tensors", **overrides) -> tuple[np.ndarray, ...]:
    """BLK-9.7 under ``profile`` (a keyword naming a BLK-9 variant overrides the profile's value): the arrays
    ``(scales, zero_points, codes)`` and their masks ``(scales, zero_points, codes)``, or None where every bit is
    predictable: a code or zero point whose float-to-integer conversion C and torch leave undefined (a NaN), and a
    zero whose sign depends on the lanes of torch's reduction."""
    unknown = sorted(set(overrides) - set(VARIANTS))
    if unknown:
        raise invalid(unknown[0], "a variant of BLK-9: " + ", ".join(VARIANTS), overrides[unknown[0]])
    values = profile_values(profile, *CHAPTER_PROFILES, overrides)
    codes_of = {name: variant_code(name, values[name], name) for name in VARIANTS}
    is_symmetric = _check_symmetric(symmetric)
    if is_symmetric and codes_of["int4_symmetric_scale"] == kernels.SYMMETRIC_UNSUPPORTED:
        raise invalid("symmetric", f"False: profile {profile!r} has no symmetric int4 groups "
                                   "(int4_symmetric_scale = unsupported)", symmetric)
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise wrong_type("x", "an array of floats", x)
    if array.ndim == 0 or array.size == 0:
        raise invalid("x", "an array of at least one dimension and one element", f"shape {array.shape}")
    size = _check_group_size(group_size)
    columns = array.shape[-1]
    groups = group_count(columns, size)
    flat = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
    rows = flat.size // columns
    scales = np.empty(rows * groups, np.float32)
    zero_points = np.empty(rows * groups, np.float32)
    codes = np.empty(flat.size, np.int8)
    scale_open = np.zeros(rows * groups, np.bool_)
    zero_point_open = np.zeros(rows * groups, np.bool_)
    code_open = kernels.quantize_groups(flat, flat.view(np.int32), columns, size, is_symmetric,
                                        *(codes_of[name] for name in KERNEL_ORDER), scales, zero_points, codes,
                                        scale_open, zero_point_open)
    shape = (*array.shape[:-1], groups)
    result = (scales.reshape(shape), zero_points.reshape(shape), codes.reshape(array.shape))
    if not (code_open.size or scale_open.any() or zero_point_open.any()):
        return result, None
    if not code_open.size:
        code_open = np.zeros(flat.size, np.bool_)
    return result, (scale_open.reshape(shape), zero_point_open.reshape(shape), code_open.reshape(array.shape))


def int4_group_quantize_outcomes(x, *, group_size: int = 128, symmetric: bool = True,
                                 profile: str = "compressed-tensors",
                                 **overrides) -> tuple[np.ndarray, np.ndarray | None]:
    """BLK-9.7: :func:`int4_group_quantize_arrays` as the record ``(scales, zero_points, codes)`` and its mask, or
    None where every bit is predictable."""
    (scales, zero_points, codes), masks = int4_group_quantize_arrays(x, group_size=group_size, symmetric=symmetric,
                                                                     profile=profile, **overrides)
    result = record(scales=scales, zero_points=zero_points, codes=codes)
    if masks is None:
        return result, None
    return result, record(scales=masks[0], zero_points=masks[1], codes=masks[2])


def int4_group_quantize(x, *, group_size: int = 128, symmetric: bool = True, profile: str = "compressed-tensors"):
    """BLK-9.7: ``(scales, zero_points, codes)``: a float32 scale and zero point for every group of
    ``group_size`` along the last axis of ``x``, and its int4 codes, one per int8, shaped like ``x``. (The arrays
    themselves, not views of the record: copying the codes into one would cost a tenth of the time.)"""
    return int4_group_quantize_arrays(x, group_size=group_size, symmetric=symmetric, profile=profile)[0]


def int4_group_dequantize_outcomes(scales, zero_points, codes, *, group_size: int = 128) -> tuple[np.ndarray,
                                                                                                   np.ndarray | None]:
    """BLK-9.8: the float32 values shaped like ``codes`` and the mask of the NaN results, whose sign and payload
    are unpredictable."""
    points = np.asarray(codes)
    if points.dtype != np.int8:
        raise wrong_type("codes", "an int8 array of int4 codes, one per element", codes)
    if points.ndim == 0 or points.size == 0:
        raise invalid("codes", "an array of at least one dimension and one element", f"shape {points.shape}")
    if ((points < -8) | (points > 15)).any():
        raise invalid("codes", "int4 codes, from -8 to 7 (signed) or 0 to 15 (unsigned)",
                      f"{int(points.min())} to {int(points.max())}")
    size = _check_group_size(group_size)
    shape = (*points.shape[:-1], group_count(points.shape[-1], size))
    arrays = {}
    for name, given in (("scales", scales), ("zero_points", zero_points)):
        array = np.asarray(given)
        if array.dtype != np.float32:
            raise wrong_type(name, "a float32 array", given)
        if array.shape != shape:
            raise invalid(name, f"shape {shape}: one per group of {size} along the last axis of codes",
                          f"shape {array.shape}")
        arrays[name] = np.ascontiguousarray(array).reshape(-1)
    out = np.empty(points.size, np.float32)
    kernels.dequantize_groups(np.ascontiguousarray(points).reshape(-1), points.shape[-1], size, arrays["scales"],
                              arrays["zero_points"], out)
    out = out.reshape(points.shape)
    nan = np.isnan(out)
    return out, (nan if nan.any() else None)


def int4_group_dequantize(scales, zero_points, codes, *, group_size: int = 128) -> np.ndarray:
    """BLK-9.8: ``fl32(fl32(q - z) * s)`` for every code q, with its group's scale s and zero point z."""
    return int4_group_dequantize_outcomes(scales, zero_points, codes, group_size=group_size)[0]
