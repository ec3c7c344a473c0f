"""BLK-10: ``pack_codes`` and ``unpack_codes``, B-bit integer codes (1 to 8 bits) laid out in bytes or int32
words as each engine stores them: which field holds a code, where the fields go, what the units are, and
whether each row or the whole array is one stream.
"""

from __future__ import annotations

import numpy as np

from refq.block import packing_kernels as kernels
from refq.block.arguments import profile_values
from refq.errors import invalid, wrong_type
from refq.registry.variants import variant_code

#: The variants of BLK-10, as the profiles name them.
VARIANTS = ("code_field", "code_order", "code_unit", "code_extent")
#: Where a profile keeps the chapter's values, and what its profiles are profiles of (for the error).
CHAPTER_PROFILES = ("packing", "code packing")


def code_range(bits: int, field: str) -> tuple[int, int]:
    """BLK-10.1: the least and greatest code a ``field`` rule takes at ``bits`` bits."""
    if field == "unsigned":
        return 0, (1 << bits) - 1
    if field == "modular":
        return -(1 << (bits - 1)), (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def field_bias(bits: int, field: str) -> int:
    """BLK-10.1: what is added to a code before it is taken modulo 2^B: 2^(B-1) under ``offset``, else 0."""
    return 1 << (bits - 1) if field == "offset" else 0


def unit_width(bits: int, unit: str) -> int:
    """BLK-10.2: W, the bits of a unit."""
    if unit == "uint8" or unit == "uint8_or_int32" and 8 % bits == 0:
        return 8
    return 32


def _unit_dtype(unit_bits: int) -> np.dtype:
    return np.dtype(np.uint8) if unit_bits == 8 else np.dtype(np.int32)


def _kernel_dtype(unit_bits: int) -> np.dtype:
    # int32 words are built as uint32 so that the top bit is an ordinary bit; the result is their int32 view.
    return np.dtype(np.uint8) if unit_bits == 8 else np.dtype(np.uint32)


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise wrong_type("bits", "an integer from 1 to 8", bits)
    if not 1 <= bits <= 8:
        raise invalid("bits", "an integer from 1 to 8", bits)
    return int(bits)


def _values(profile: str, overrides: dict) -> dict:
    unknown = sorted(set(overrides) - set(VARIANTS))
    if unknown:
        raise invalid(unknown[0], "a variant of BLK-10: " + ", ".join(VARIANTS), overrides[unknown[0]])
    values = profile_values(profile, *CHAPTER_PROFILES, overrides)
    for name in VARIANTS:
        variant_code(name, values[name], name)  # an unknown value is an error naming its variant
    return values


def pack_codes(codes, *, bits: int = 4, profile: str = "onnx", **overrides) -> np.ndarray:
    """BLK-10.4: ``codes`` (int8 or uint8, one code per element) packed ``bits`` to a field under ``profile`` (a
    keyword naming a BLK-10 variant overrides the profile's value): uint8 bytes or int32 words, shaped like
    ``codes`` with its last axis in units (``code_extent = rows``) or one-dimensional (``tensor``)."""
    values = _values(profile, overrides)
    width = _check_bits(bits)
    array = np.asarray(codes)
    if array.dtype not in (np.int8, np.uint8):
        raise wrong_type("codes", "an int8 or uint8 array of codes, one per element", codes)
    if array.ndim == 0 or array.size == 0:
        raise invalid("codes", "an array of at least one dimension and one element", f"shape {array.shape}")
    low, high = code_range(width, values["code_field"])
    if int(array.min()) < low or int(array.max()) > high:
        raise invalid("codes", f"{width}-bit codes from {low} to {high} (code_field = {values['code_field']} "
                               f"under profile {profile!r})", f"{int(array.min())} to {int(array.max())}")
    unit_bits = unit_width(width, values["code_unit"])
    order = variant_code("code_order", values["code_order"], "code_order")
    flat = np.ascontiguousarray(array).reshape(-1)
    if values["code_extent"] == "tensor":
        rows, count, shape = 1, flat.size, ()
    else:
        count = array.shape[-1]
        rows, shape = flat.size // count, array.shape[:-1]
    per_row = kernels.stream_units(count, width, unit_bits, order)
    units = np.zeros(rows * per_row, _kernel_dtype(unit_bits))
    kernels.pack_rows(flat, rows, count, field_bias(width, values["code_field"]), width, unit_bits, order, units)
    return units.view(_unit_dtype(unit_bits)).reshape(*shape, per_row)


def field_count(units: int, bits: int, unit_bits: int, order: str) -> int:
    """BLK-10.5: the most fields ``units`` units hold (the length ``unpack_codes`` reads when it is given none)."""
    if order == "planes":
        return units * kernels.plane_count(bits, unit_bits)
    return units * unit_bits // bits


def unpack_codes(packed, *, bits: int = 4, length: int | None = None, signed: bool | None = None,
                 profile: str = "onnx", **overrides) -> np.ndarray:
    """BLK-10.5: the codes ``pack_codes`` packed: ``length`` of them along the last axis (``code_extent = rows``)
    or in all (``tensor``), every field the units hold where ``length`` is None; int8 where ``signed``, uint8
    where not (None: signed only under ``code_field = offset``). Keywords naming BLK-10 variants override the
    profile's values."""
    values = _values(profile, overrides)
    width = _check_bits(bits)
    field = values["code_field"]
    if signed is None:
        signed = field == "offset"
    if not isinstance(signed, (bool, np.bool_)):
        raise wrong_type("signed", "True, False or None", signed)
    if field == "offset" and not signed:
        raise invalid("signed", f"True or None: profile {profile!r} stores signed codes (code_field = offset)",
                      signed)
    if field == "unsigned" and signed:
        raise invalid("signed", f"False or None: profile {profile!r} stores unsigned codes (code_field = unsigned)",
                      signed)
    unit_bits = unit_width(width, values["code_unit"])
    dtype = _unit_dtype(unit_bits)
    array = np.asarray(packed)
    if array.dtype != dtype:
        raise wrong_type("packed", f"a {dtype} array: {width}-bit codes under profile {profile!r} are packed in "
                                   f"{dtype}", packed)
    extent = values["code_extent"]
    if array.ndim == 0 or array.size == 0 or extent == "tensor" and array.ndim != 1:
        raise invalid("packed", "a one-dimensional array of at least one unit (code_extent = tensor)"
                      if extent == "tensor" else "an array of at least one dimension and one unit",
                      f"shape {array.shape}")
    units = array.shape[-1]
    order = values["code_order"]
    if length is None:
        length = field_count(units, width, unit_bits, order)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise invalid("length", "a positive integer or None", length)
    count = int(length)
    order_code = variant_code("code_order", order, "code_order")
    needed = kernels.stream_units(count, width, unit_bits, order_code)
    if needed != units:
        raise invalid("packed", f"{needed} units along its last axis for {count} {width}-bit codes "
                                f"(profile {profile!r})", f"{units}")
    rows = array.size // units
    source = np.ascontiguousarray(array).reshape(-1).view(_kernel_dtype(unit_bits))
    codes = np.empty(rows * count, np.int8 if signed else np.uint8)
    kernels.unpack_rows(source, rows, count, field_bias(width, field), width, unit_bits, order_code, bool(signed),
                        codes)
    return codes.reshape(*array.shape[:-1], count)
