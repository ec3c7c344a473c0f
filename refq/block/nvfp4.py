"""BLK-8.7 and BLK-8.8: ``nvfp4_quantize`` and ``nvfp4_dequantize``, NVIDIA's NVFP4 on whole arrays.

Blocks are 16 consecutive elements along the last axis, which 16 must divide; the tensor scale is one
float32 for the whole array. The codes come packed two per byte, element 2j in the low nibble, as all
three engines store them.
"""

from __future__ import annotations

import functools

import numpy as np

from refq.block.arguments import profile_values, record
from refq.block.nvfp4_kernels import BLOCK, dequantize_nvfp4, quantize_nvfp4
from refq.errors import invalid, wrong_type
from refq.numbers.floats.arrays import decode_array
from refq.registry import float_format
from refq.registry.variants import variant_code

#: The variants of BLK-8, as the profiles name them.
QUANTIZE_VARIANTS = ("nvfp4_scale_arithmetic", "nvfp4_scale_floor", "nvfp4_zero_scale", "nvfp4_scale_ceiling",
                     "nvfp4_element_nan", "nvfp4_negative_zero")
DEQUANTIZE_VARIANTS = ("nvfp4_dequantize_scale", "nvfp4_code8")
#: Where a profile keeps the chapter's values, and what its profiles are profiles of (for the error).
CHAPTER_PROFILES = ("nvfp4", "NVIDIA's NVFP4")
DEFAULT_PROFILE = "torchao-nvfp4"


@functools.cache
def e4m3_values() -> np.ndarray:
    """BLK-8.1: the float32 value of every float8_e4m3fn code (NaN for 0x7F and 0xFF)."""
    return decode_array(np.arange(256, dtype=np.uint8), float_format("float8_e4m3fn")).astype(np.float32)


@functools.cache
def e2m1_values(code8_positive: bool = False) -> np.ndarray:
    """BLK-8.1, BLK-8.6: the float32 value of every E2M1 code, code 8 -0, or +0 under ``nvfp4_code8 =
    positive_zero``."""
    values = decode_array(np.arange(16, dtype=np.uint8), float_format("float4_e2m1fn")).astype(np.float32)
    if code8_positive:
        values[8] = np.float32(0.0)
    values.flags.writeable = False
    return values


def _check_values(x) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise wrong_type("x", "an array of floats", x)
    if array.ndim == 0 or array.size == 0:
        raise invalid("x", "an array of at least one block of 16 values", f"shape {array.shape}")
    if array.shape[-1] % BLOCK:
        raise invalid("x", f"an array whose last axis is a multiple of {BLOCK} (NVFP4's block)",
                      f"shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _quantize(x, values: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray, np.ndarray]:
    codes_of = [variant_code(name, values[name], name) for name in QUANTIZE_VARIANTS]
    array = _check_values(x)
    blocks = array.reshape(-1, BLOCK)
    scales = np.empty(blocks.shape[0], dtype=np.uint8)
    packed = np.empty((blocks.shape[0], BLOCK // 2), dtype=np.uint8)
    scale_open = np.zeros(blocks.shape[0], dtype=np.bool_)
    code_open = np.zeros(packed.shape, dtype=np.bool_)
    stored = quantize_nvfp4(blocks, blocks.view(np.uint32), e4m3_values(), *codes_of, scales, packed, scale_open,
                            code_open)
    lead = array.shape[:-1]
    tensor_scale = np.array(stored, dtype=np.float32)
    return (tensor_scale, scales.reshape(*lead, -1), packed.reshape(*lead, -1), bool(np.isnan(tensor_scale)),
            scale_open.reshape(*lead, -1), code_open.reshape(*lead, -1))


def nvfp4_quantize_outcomes(x, *, profile: str = DEFAULT_PROFILE, nvfp4_scale_arithmetic: str | None = None,
                            nvfp4_scale_floor: str | None = None, nvfp4_zero_scale: str | None = None,
                            nvfp4_scale_ceiling: str | None = None, nvfp4_element_nan: str | None = None,
                            nvfp4_negative_zero: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """BLK-8.7 under ``profile`` (a keyword naming a variant overrides the profile's value): the record
    ``(tensor_scale, block_scales, codes)`` and its mask: a NaN tensor scale's and a NaN block scale's bits,
    and a byte holding a NaN element's code under ``nvfp4_element_nan = payload``, are unpredictable."""
    values = profile_values(profile, *CHAPTER_PROFILES, {
        "nvfp4_scale_arithmetic": nvfp4_scale_arithmetic, "nvfp4_scale_floor": nvfp4_scale_floor,
        "nvfp4_zero_scale": nvfp4_zero_scale, "nvfp4_scale_ceiling": nvfp4_scale_ceiling,
        "nvfp4_element_nan": nvfp4_element_nan, "nvfp4_negative_zero": nvfp4_negative_zero})
    tensor_scale, scales, packed, tensor_open, scale_open, code_open = _quantize(x, values)
    result = record(tensor_scale=tensor_scale, block_scales=scales, codes=packed)
    if not (tensor_open or scale_open.any() or code_open.any()):
        return result, None
    return result, record(tensor_scale=np.array(tensor_open), block_scales=scale_open, codes=code_open)


def nvfp4_quantize(x, *, profile: str = DEFAULT_PROFILE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BLK-8.7: ``(tensor_scale, block_scales, codes)``: the float32 tensor scale (shape ()), the E4M3 code of
    every block of 16 along the last axis, and the E2M1 codes two per byte, element 2j in the low nibble."""
    values = profile_values(profile, *CHAPTER_PROFILES, {})
    tensor_scale, scales, packed, _, _, _ = _quantize(x, values)
    return tensor_scale, scales, packed


def nvfp4_dequantize_outcomes(tensor_scale, block_scales, codes, *, profile: str = DEFAULT_PROFILE,
                              nvfp4_dequantize_scale: str | None = None,
                              nvfp4_code8: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """BLK-8.8 under ``profile`` (a keyword naming a variant overrides the profile's value): the float32 values
    and the mask of the NaN results, whose sign and payload are unpredictable."""
    values = profile_values(profile, *CHAPTER_PROFILES, {"nvfp4_dequantize_scale": nvfp4_dequantize_scale,
                                                          "nvfp4_code8": nvfp4_code8})
    formula = variant_code("nvfp4_dequantize_scale", values["nvfp4_dequantize_scale"], "nvfp4_dequantize_scale")
    code8_positive = variant_code("nvfp4_code8", values["nvfp4_code8"], "nvfp4_code8") == 1
    stored = np.asarray(tensor_scale)
    if stored.dtype != np.float32:
        raise wrong_type("tensor_scale", "a float32 scalar", tensor_scale)
    if stored.shape != ():
        raise invalid("tensor_scale", "one float32 (shape ())", f"shape {stored.shape}")
    packed = np.asarray(codes)
    if packed.dtype != np.uint8:
        raise wrong_type("codes", "a uint8 array of packed E2M1 codes", codes)
    if packed.ndim == 0 or packed.size == 0 or packed.shape[-1] % (BLOCK // 2):
        raise invalid("codes", f"an array whose last axis is a multiple of {BLOCK // 2} bytes (blocks of {BLOCK})",
                      f"shape {packed.shape}")
    scales = np.asarray(block_scales)
    if scales.dtype != np.uint8:
        raise wrong_type("block_scales", "a uint8 array of float8_e4m3fn codes", block_scales)
    expected = (*packed.shape[:-1], packed.shape[-1] // (BLOCK // 2))
    if scales.shape != expected:
        raise invalid("block_scales", f"shape {expected}: one per block of {BLOCK} values of codes",
                      f"shape {scales.shape}")
    out = np.empty((scales.size, BLOCK), dtype=np.float32)
    unbounded = dequantize_nvfp4(np.ascontiguousarray(scales).reshape(-1),
                                 np.ascontiguousarray(packed).reshape(-1, BLOCK // 2), np.float32(stored), formula,
                                 e4m3_values(), e2m1_values(code8_positive), out)
    result = out.reshape(*packed.shape[:-1], 2 * packed.shape[-1])
    # A NaN needs a NaN or infinite factor (the kernel says whether there is one).
    nan = np.isnan(result) if unbounded else None
    return result, (nan if nan is not None and nan.any() else None)


def nvfp4_dequantize(tensor_scale, block_scales, codes, *, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """BLK-8.8: the float32 value of every element, twice as many along the last axis as ``codes`` has bytes."""
    return nvfp4_dequantize_outcomes(tensor_scale, block_scales, codes, profile=profile)[0]
