"""BLK-7.7 and BLK-7.8: ``bnb4_quantize`` and ``bnb4_dequantize``, bitsandbytes' NF4 and FP4 on whole arrays.

The input is read flat, in C order, as both engines read it; blocks are ``block_size`` consecutive
elements, the last one shorter where ``block_size`` does not divide the size. The codes come packed
two per byte as the engines store them.
"""

from __future__ import annotations

import numpy as np

from refq.block.bnb4_kernels import FLOAT32_MIDPOINTS, NAN_LARGEST, dequantize_bnb4, quantize_bnb4
from refq.block.bnb4_tables import bnb4_table, dequantize_values
from refq.block.arguments import check_block_size, profile_values, record
from refq.errors import invalid, wrong_type
from refq.registry.variants import variant_code

#: The variants of BLK-7, as the profiles name them.
QUANTIZE_VARIANTS = ("bnb4_thresholds", "bnb4_nan_code", "bnb4_absmax_nan", "bnb4_reciprocal", "bnb4_tail")
DEQUANTIZE_VARIANTS = ("bnb4_fp4_code8", "bnb4_zero_sign")
#: Where a profile keeps the chapter's values, and what its profiles are profiles of (for the error).
CHAPTER_PROFILES = ("bnb4", "bitsandbytes' 4-bit formats")


def block_count(size: int, block_size: int) -> int:
    """BLK-7.2: the number of blocks of ``size`` elements, a last partial block included."""
    return -(-size // block_size)


def bnb4_quantize_outcomes(x, *, quant_type: str = "nf4", block_size: int = 64, profile: str = "bitsandbytes-cpu",
                           bnb4_thresholds: str | None = None, bnb4_nan_code: str | None = None,
                           bnb4_absmax_nan: str | None = None, bnb4_reciprocal: str | None = None,
                           bnb4_tail: str | None = None) -> tuple[np.ndarray, None]:
    """BLK-7.7 under ``profile`` (a keyword naming a variant overrides the profile's value): the record
    ``(absmax, codes)``; every bit is predictable, so the mask is None."""
    absmax, packed = _quantized(x, quant_type, block_size, profile, {
        "bnb4_thresholds": bnb4_thresholds, "bnb4_nan_code": bnb4_nan_code, "bnb4_absmax_nan": bnb4_absmax_nan,
        "bnb4_reciprocal": bnb4_reciprocal, "bnb4_tail": bnb4_tail})
    return record(absmax=absmax, codes=packed), None


def _quantized(x, quant_type, block_size, profile: str, overrides: dict) -> tuple[np.ndarray, np.ndarray]:
    """BLK-7.7's two arrays, ``absmax`` and ``codes``, under ``profile`` and the variant values ``overrides``
    names (None: the profile's)."""
    values = profile_values(profile, *CHAPTER_PROFILES, overrides)
    codes_of = {name: variant_code(name, values[name], name) for name in QUANTIZE_VARIANTS}
    table = bnb4_table(quant_type)
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise wrong_type("x", "an array of floats", x)
    if array.size == 0:
        raise invalid("x", "an array of at least one element", x)
    flat = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
    size = check_block_size(block_size)
    absmax = np.empty(block_count(flat.size, size), dtype=np.float32)
    packed = np.empty((flat.size + 1) // 2, dtype=np.uint8)
    if codes_of["bnb4_thresholds"] == FLOAT32_MIDPOINTS:
        thresholds, codes, on_magnitude = table.midpoints, table.positions, False
    else:
        thresholds, codes, on_magnitude = table.tree, table.tree_codes, table.tree_on_magnitude
    nan_code = table.largest_code if codes_of["bnb4_nan_code"] == NAN_LARGEST else 0
    quantize_bnb4(flat, size, absmax, packed, thresholds, codes, on_magnitude, nan_code,
                  codes_of["bnb4_absmax_nan"], codes_of["bnb4_reciprocal"], codes_of["bnb4_tail"])
    return absmax, packed


def bnb4_quantize(x, *, quant_type: str = "nf4", block_size: int = 64, profile: str = "bitsandbytes-cpu"):
    """BLK-7.7: ``(absmax, codes)``: the float32 absmax of every block and the 4-bit codes of ``x`` (read flat),
    two per byte, the first element of each pair in the high nibble."""
    return _quantized(x, quant_type, block_size, profile, dict.fromkeys(QUANTIZE_VARIANTS))


def bnb4_dequantize_outcomes(absmax, codes, *, quant_type: str = "nf4", block_size: int = 64, size: int | None = None,
                             profile: str = "bitsandbytes-cpu",
                             bnb4_fp4_code8: str | None = None,
                             bnb4_zero_sign: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """BLK-7.8 under ``profile``: the float32 values and the mask of the NaN results, whose sign and payload are
    unpredictable (BLK-7.6)."""
    values = profile_values(profile, *CHAPTER_PROFILES,
                            {"bnb4_fp4_code8": bnb4_fp4_code8, "bnb4_zero_sign": bnb4_zero_sign})
    negative = variant_code("bnb4_fp4_code8", values["bnb4_fp4_code8"], "bnb4_fp4_code8") == 1
    positive_zero = variant_code("bnb4_zero_sign", values["bnb4_zero_sign"], "bnb4_zero_sign") == 1
    table = bnb4_table(quant_type)
    packed = np.asarray(codes)
    if packed.dtype != np.uint8:
        raise wrong_type("codes", "a uint8 array of packed 4-bit codes", codes)
    if packed.ndim != 1 or packed.size == 0:
        raise invalid("codes", "a 1-dimensional array of at least one byte", f"shape {packed.shape}")
    blocks = check_block_size(block_size)
    if size is None:
        count = 2 * packed.size
    elif isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise wrong_type("size", "a positive integer or None", size)
    elif (int(size) + 1) // 2 != packed.size:
        raise invalid("size", f"{2 * packed.size - 1} or {2 * packed.size} (two codes per byte of codes)", size)
    else:
        count = int(size)
    scales = np.asarray(absmax)
    if scales.dtype != np.float32:
        raise wrong_type("absmax", "a float32 array", absmax)
    expected = block_count(count, blocks)
    if scales.shape != (expected,):
        raise invalid("absmax", f"shape ({expected},): one per block of {blocks} of the {count} values",
                      f"shape {scales.shape}")
    out = np.empty(count, dtype=np.float32)
    unbounded = dequantize_bnb4(packed, scales, blocks, dequantize_values(table, negative), positive_zero, out)
    # A NaN needs a NaN or infinite absmax (the kernel says whether there is one).
    nan = np.isnan(out) if unbounded else None
    return out, (nan if nan is not None and nan.any() else None)


def bnb4_dequantize(absmax, codes, *, quant_type: str = "nf4", block_size: int = 64, size: int | None = None,
                    profile: str = "bitsandbytes-cpu") -> np.ndarray:
    """BLK-7.8: ``size`` float32 values (default two per byte), each its code's table value times its block's
    absmax."""
    return bnb4_dequantize_outcomes(absmax, codes, quant_type=quant_type, block_size=block_size, size=size,
                                    profile=profile)[0]
