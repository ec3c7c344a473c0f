"""GGF-5: ``gguf_quantize`` and ``gguf_dequantize``, whole tensors of blocks; GGF-8: with an importance matrix.

The input of quantize is float32 (GGF-1.1): any other float array is first rounded to
float32, a length that is not a whole number of blocks is an error, and so is a NaN under
the default ``nan="error"`` (no ggml integer type represents NaN). The result is the
blocks' bytes, one ``uint8`` array, in the order of the input.
"""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type
from refq.gguf import (activation, grids, iquants, kquants, legacy, lowbit, nonlinear, nvfp4, ternary, weighted_k,
                       weighted_legacy)
from refq.gguf.types import BlockType, block_type
from refq.registry.variants import variant_code

OTHER_QUANTIZERS = {"TQ1_0": ternary.quantize_tq1_0, "TQ2_0": ternary.quantize_tq2_0,
                    **nonlinear.QUANTIZERS,
                    "MXFP4": nonlinear.quantize_mxfp4, "NVFP4": nvfp4.quantize_nvfp4, "Q1_0": lowbit.quantize_q1_0,
                    "Q2_0": lowbit.quantize_q2_0}
OTHER_DEQUANTIZERS = {"TQ1_0": ternary.dequantize_tq1_0, "TQ2_0": ternary.dequantize_tq2_0,
                      "IQ4_NL": nonlinear.dequantize_iq4_nl, "IQ4_XS": nonlinear.dequantize_iq4_xs,
                      "MXFP4": nonlinear.dequantize_mxfp4, "NVFP4": nvfp4.dequantize_nvfp4,
                      "Q1_0": lowbit.dequantize_q1_0, "Q2_0": lowbit.dequantize_q2_0}

GRID_DEQUANTIZERS = {"IQ2_XXS": iquants.dequantize_iq2_xxs, "IQ2_XS": iquants.dequantize_iq2_xs,
                     "IQ2_S": iquants.dequantize_iq2_s, "IQ3_XXS": iquants.dequantize_iq3_xxs,
                     "IQ3_S": iquants.dequantize_iq3_s, "IQ1_S": iquants.dequantize_iq1_s,
                     "IQ1_M": iquants.dequantize_iq1_m}


def _float_input(x: object, kind: BlockType) -> np.ndarray:
    values = np.asarray(x)
    if values.dtype.kind != "f":
        raise wrong_type("x", "an array of floats", x)
    flat = np.ascontiguousarray(values.reshape(-1), dtype=np.float32)
    if flat.size % kind.block_elements:
        raise invalid("x", f"a whole number of {kind.name} blocks ({kind.block_elements} elements each)",
                      f"{flat.size} elements")
    return flat


#: GGF-8: the types whose search an importance matrix changes, and refq executes with one.
WEIGHTED_TYPES = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")
#: GGF-8: the types whose ``ggml_quantize_chunk`` reads no importance matrix (the reference bytes with one).
IMATRIX_IGNORED_TYPES = ("Q8_0", "Q1_0", "Q2_0", "MXFP4", "NVFP4", "TQ1_0", "TQ2_0")
#: GGF-8: the blocks-of-32 types whose weights use the mean square of the whole row (the K types': of the
#: super-block).
ROW_SIGMA_TYPES = ("Q4_0", "Q4_1", "Q5_0", "Q5_1")


def importance_input(imatrix: object, flat: np.ndarray, kind: BlockType) -> np.ndarray:
    """GGF-8.1: the importance matrix as float32, one weight per column of rows of ``imatrix.size``
    elements; a refq error naming ``imatrix`` for any other."""
    if kind.name not in WEIGHTED_TYPES + IMATRIX_IGNORED_TYPES:
        raise invalid("imatrix", f"None for {kind.name}: ggml_quantize_chunk's importance-weighted search of "
                      f"{kind.name} is not executed by refq (it does for " + ", ".join(WEIGHTED_TYPES) + ")",
                      "an array")
    values = np.asarray(imatrix)
    if values.dtype.kind not in "fiu":
        raise wrong_type("imatrix", "an array of float32 weights, one per column", imatrix)
    if values.ndim != 1 or values.size == 0 or values.size % kind.block_elements:
        raise invalid("imatrix", f"a 1-D array of n_per_row weights, n_per_row a positive multiple of "
                      f"{kind.block_elements} ({kind.name}'s block)", f"shape {values.shape}")
    if flat.size % values.size:
        raise invalid("imatrix", f"one weight per column of whole rows: x's {flat.size} elements are not a "
                      f"whole number of rows of {values.size}", f"{values.size} weights")
    with np.errstate(over="ignore"):  # a weight past float32's range is refused below
        weights = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(weights).all():
        first = int(np.flatnonzero(~np.isfinite(weights))[0])
        raise invalid("imatrix", "finite float32 weights (a NaN or infinite weight makes the search's sums NaN)",
                      f"{weights[first]} at index {first}")
    return weights


#: GGF-4.2 with GGF-8: the weighted types whose FMAs in the fused build refq places: all of them.
FUSED_WEIGHTED_TYPES = WEIGHTED_TYPES


def _quantize_weighted(flat: np.ndarray, weights: np.ndarray, kind: BlockType,
                       fused: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """GGF-8.3 to GGF-8.8: the bytes of ``kind`` with the importance matrix ``weights`` (``fused``: with
    gcc's FMAs, GGF-4.2, for the types of :data:`FUSED_WEIGHTED_TYPES`)."""
    blocks = flat.size // kind.block_elements
    out = np.zeros(blocks * kind.block_bytes, dtype=np.uint8)
    undefined = np.zeros(blocks, dtype=np.uint8)
    name = kind.name
    if name in ROW_SIGMA_TYPES:
        weighted_legacy.quantize_weighted_nibbles(flat, weights, out, undefined, 16 if name in ("Q4_0", "Q4_1") else 32,
                                                  name in ("Q4_1", "Q5_1"), kind.block_bytes, fused)
    elif name == "Q2_K":
        weighted_k.quantize_weighted_q2_k(flat, weights, out, undefined, fused)
    elif name == "Q3_K":
        weighted_k.quantize_weighted_q3_k(flat, weights, out, undefined, fused)
    elif name in ("Q4_K", "Q5_K"):
        weighted_k.quantize_weighted_affine_k(flat, weights, out, undefined, 15 if name == "Q4_K" else 31,
                                              kind.block_bytes, fused)
    else:
        weighted_k.quantize_weighted_q6_k(flat, weights, out, undefined, fused)
    return out, undefined.astype(bool)


#: GGF-4.2: the types whose bytes gcc's fused multiply-adds change, computed with them under
#: ``gguf_contraction=gcc_x86_64``.
FUSED_TYPES = ("Q4_0", "Q5_0", "Q4_1", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS")
#: GGF-4.2: the types whose FMAs in that build are not placed by refq yet (refused under it).
UNPLACED_TYPES = ()


#: The types whose reference quantizer (unfused or fused) sets a block's undefined flag whenever the
#: block holds a NaN: every element passes through a conversion (truncate, round_half_away) scaled by a
#: factor the NaN itself never enters (NaN times anything is NaN, and a NaN is not in range).
NAN_FLAGGING_TYPES = ("Q4_0", "Q5_0", "Q4_1", "Q5_1", "Q8_0", "Q8_1", "TQ1_0", "TQ2_0")


def _quantize(flat: np.ndarray, kind: BlockType, fused: bool = False,
              x86_simd: bool = False) -> tuple[np.ndarray, np.ndarray]:
    blocks = flat.size // kind.block_elements
    out = np.zeros(blocks * kind.block_bytes, dtype=np.uint8)
    undefined = np.zeros(blocks, dtype=np.uint8)
    name = kind.name
    if name in ("Q4_0", "Q5_0"):
        legacy.quantize_symmetric_nibbles(flat, out, undefined, 16 if name == "Q4_0" else 32, kind.block_bytes, fused)
    elif name in ("Q4_1", "Q5_1"):
        legacy.quantize_asymmetric_nibbles(flat, out, undefined, 16 if name == "Q4_1" else 32, kind.block_bytes,
                                           fused)
    elif name in ("Q8_0", "Q8_1"):
        bytes_quantizer = activation.quantize_bytes_x86_simd if x86_simd else legacy.quantize_bytes
        bytes_quantizer(flat, out, undefined, name == "Q8_1", kind.block_bytes)
    elif fused and name in kquants.FUSED_QUANTIZERS:
        kquants.FUSED_QUANTIZERS[name](flat, out, undefined)
    elif name in kquants.QUANTIZERS:
        kquants.QUANTIZERS[name](flat, out, undefined)
    elif fused and name in nonlinear.FUSED_QUANTIZERS:
        nonlinear.FUSED_QUANTIZERS[name](flat, out, undefined)
    elif name in OTHER_QUANTIZERS:
        OTHER_QUANTIZERS[name](flat, out, undefined)
    else:
        raise invalid("type", "a type whose quantize refq executes", name)
    return out, undefined.astype(bool)


def gguf_quantize_with_outcomes(x, *, type, imatrix=None, nan: str = "error", contraction: str = "unfused",
                                activation_quantizer: str = "reference"):
    """GGF-5.1 with outcomes: the bytes and, per block, whether they are *unpredictable*.

    A block is unpredictable when one of its float-to-integer conversions is undefined in C
    (GGF-1.3 to GGF-1.5: infinities, subnormal scales whose reciprocal overflows) and, under
    ``nan="unpredictable"``, when it holds a NaN. ``contraction`` is the ``gguf_contraction``
    variant: ``unfused`` (the reference), ``gcc_x86_64`` (GGF-4.2) or ``contracted`` (every block
    of a type whose bytes FMAs can change is unpredictable). ``activation_quantizer`` is the
    ``gguf_activation_quantizer`` variant of Q8_0 and Q8_1: ``reference`` or ``x86_simd`` (GGF-4.3).
    """
    kind = block_type(type)
    nan_code = variant_code("gguf_nan", nan, "nan")
    variant_code("gguf_contraction", contraction, "contraction")
    x86_simd = variant_code("gguf_activation_quantizer", activation_quantizer, "activation_quantizer") == 1
    if contraction == "gcc_x86_64" and kind.name in UNPLACED_TYPES:
        raise invalid("type", f"a type whose FMAs refq places under contraction='gcc_x86_64' (GGF-4.2), not one of "
                      + ", ".join(UNPLACED_TYPES), kind.name)
    flat = _float_input(x, kind)
    weights = None if imatrix is None else importance_input(imatrix, flat, kind)
    weighted = weights is not None and kind.name in WEIGHTED_TYPES
    out = None
    if not weighted and not x86_simd and kind.name in NAN_FLAGGING_TYPES:
        # A NaN anywhere in these blocks makes one of their conversions undefined: only a call with an
        # undefined block can hold one, and the pass over the input that looks for it is left out of
        # every other (about 7% of a Q4_0 call). The error under nan="error" is the same, raised after.
        out, unpredictable = _quantize(flat, kind, fused=contraction == "gcc_x86_64")
        may_hold_nan = bool(unpredictable.any())
    else:
        may_hold_nan = True
    # numpy's min is NaN exactly when an element is: one pass, without the mask array isnan writes (the
    # per-block reduction over rows of 32 costs more than most quantizers).
    if may_hold_nan and flat.size and np.isnan(flat.min()):
        nan_blocks = np.isnan(flat).reshape(-1, kind.block_elements).any(axis=1)
    else:
        nan_blocks = np.zeros(flat.size // kind.block_elements, dtype=bool)
    if nan_code == 0 and nan_blocks.any():
        first = int(np.flatnonzero(np.isnan(flat))[0])
        raise invalid("x", f"free of NaN: {kind.name} has no NaN code (nan='unpredictable' accepts it)",
                      f"NaN at flat index {first}")
    if weighted:
        out, unpredictable = _quantize_weighted(flat, weights, kind, fused=contraction == "gcc_x86_64")
        if kind.name in ROW_SIGMA_TYPES and nan_blocks.any():
            # A NaN enters the row's mean square, so every weight of its row (GGF-8.1).
            per_row = weights.size // kind.block_elements
            nan_blocks = np.repeat(nan_blocks.reshape(-1, per_row).any(axis=1), per_row)
    elif out is None:
        out, unpredictable = _quantize(flat, kind, fused=contraction == "gcc_x86_64", x86_simd=x86_simd)
    if contraction == "contracted" and kind.name in FUSED_TYPES + UNPLACED_TYPES:
        unpredictable = np.ones_like(unpredictable)
    return out, unpredictable | nan_blocks


def gguf_quantize(x, *, type, imatrix=None, nan: str = "error", activation_quantizer: str = "reference") -> np.ndarray:
    """GGF-5.1: the ggml blocks of type ``type`` for the float values ``x`` (flattened), as uint8 bytes.

    ``imatrix`` (GGF-8): one importance weight per column, ``x`` being whole rows of ``imatrix.size``
    elements, as llama.cpp's ``llama-quantize --imatrix`` passes it to ``ggml_quantize_chunk``.
    ``activation_quantizer="x86_simd"``: Q8_0 and Q8_1 as ggml-cpu's x86 SIMD activation quantizer (GGF-4.3)."""
    return gguf_quantize_with_outcomes(x, type=type, imatrix=imatrix, nan=nan,
                                       activation_quantizer=activation_quantizer)[0]


def gguf_dequantize(blocks, *, type) -> np.ndarray:
    """GGF-5.2: the float32 values of the ggml blocks ``blocks`` (bytes, a flat uint8 array or ``bytes``)."""
    kind = block_type(type)
    if isinstance(blocks, (bytes, bytearray, memoryview)):
        data = np.frombuffer(bytes(blocks), dtype=np.uint8)
    else:
        data = np.asarray(blocks)
        if data.dtype != np.uint8:
            raise wrong_type("blocks", "a uint8 array or bytes", blocks)
        data = np.ascontiguousarray(data.reshape(-1))
    if data.size % kind.block_bytes:
        raise invalid("blocks", f"a whole number of {kind.name} blocks ({kind.block_bytes} bytes each): "
                      "truncated or padded", f"{data.size} bytes")
    count = data.size // kind.block_bytes
    out = np.empty(count * kind.block_elements, dtype=np.float32)
    name = kind.name
    if name in ("Q4_0", "Q5_0", "Q4_1", "Q5_1"):
        legacy.dequantize_nibbles(data, out, 16 if name in ("Q4_0", "Q4_1") else 32, name in ("Q4_1", "Q5_1"),
                                  kind.block_bytes)
    elif name in ("Q8_0", "Q8_1"):
        legacy.dequantize_bytes(data, out, kind.block_bytes)
    elif name in kquants.DEQUANTIZERS:
        kquants.DEQUANTIZERS[name](data, out)
    elif name in OTHER_DEQUANTIZERS:
        OTHER_DEQUANTIZERS[name](data, out)
    elif name in ("IQ2_XXS", "IQ2_XS", "IQ3_XXS"):
        GRID_DEQUANTIZERS[name](data, out, grids.grid(name), grids.even_parity_signs())
    elif name in GRID_DEQUANTIZERS:
        GRID_DEQUANTIZERS[name](data, out, grids.grid(name))
    else:
        raise invalid("type", "a type whose dequantize refq executes", name)
    return out


#: The byte holding the sign bit of the float16 a zero-sign-open block stores (little-endian fp16 at
#: bytes 0-1 for d, 2-3 for m): d for the types whose scale is the signed maximum over -8 or -16, m for
#: the types that store the block's minimum.
_ZERO_SIGN_BYTE = {"Q4_0": 1, "Q5_0": 1, "Q4_1": 3, "Q5_1": 3}


def zero_sign_open_blocks(flat: np.ndarray, kind: BlockType) -> np.ndarray:
    """GGF-2.1 under ``gguf_zero_sign=unpredictable``: the blocks whose stored zero's sign is open.

    A Q4_0 or Q5_0 block whose elements are all zeros (its signed maximum is a zero, so d = ±0 / -8),
    and a Q4_1 or Q5_1 block whose smallest element is a zero (m is that zero); no other type stores
    the sign of a zero it picked among the elements."""
    blocks = flat.reshape(-1, kind.block_elements)
    if kind.name in ("Q4_0", "Q5_0"):
        return ~blocks.any(axis=1)
    if kind.name in ("Q4_1", "Q5_1"):
        return blocks.min(axis=1) == 0
    return np.zeros(blocks.shape[0], dtype=bool)


def gguf_quantize_outcomes(x, imatrix=None, *, type, profile: str = "ggml", gguf_nan: str | None = None,
                           gguf_zero_sign: str | None = None, gguf_contraction: str | None = None,
                           gguf_activation_quantizer: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """GGF-5.1 under ``profile``'s GGF variants (``gguf_nan``, ``gguf_zero_sign``, ``gguf_contraction`` and
    ``gguf_activation_quantizer`` replace the profile's): the bytes, and per byte whether it is *unpredictable*;
    with ``imatrix``, GGF-8's importance-weighted search.

    Every byte of a block that is unpredictable (GGF-1.3 to GGF-1.5, and a NaN under
    ``gguf_nan=unpredictable``) is unpredictable; under ``gguf_zero_sign=unpredictable`` so is the
    byte holding the sign bit of the zero a block of :func:`zero_sign_open_blocks` stores.
    """
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    chosen = EVERY_PROFILE_BY_NAME.get(profile) if isinstance(profile, str) else None
    if chosen is None or not chosen.gguf:
        names = [name for name, entry in EVERY_PROFILE_BY_NAME.items() if entry.gguf]
        raise invalid("profile", "a profile of ggml's block types: " + ", ".join(names), profile)
    nan = chosen.gguf["gguf_nan"] if gguf_nan is None else gguf_nan
    zero_sign = chosen.gguf["gguf_zero_sign"] if gguf_zero_sign is None else gguf_zero_sign
    zero_sign_code = variant_code("gguf_zero_sign", zero_sign, "gguf_zero_sign")
    kind = block_type(type)
    contraction = chosen.gguf["gguf_contraction"] if gguf_contraction is None else gguf_contraction
    activation_quantizer = (chosen.gguf["gguf_activation_quantizer"] if gguf_activation_quantizer is None
                            else gguf_activation_quantizer)
    variant_code("gguf_activation_quantizer", activation_quantizer, "gguf_activation_quantizer")
    out, unpredictable_blocks = gguf_quantize_with_outcomes(x, type=type, imatrix=imatrix, nan=nan,
                                                            contraction=contraction,
                                                            activation_quantizer=activation_quantizer)
    unpredictable = np.repeat(unpredictable_blocks, kind.block_bytes)
    # The zero signs of GGF-2.1 are those of the reference search; the weighted one (GGF-8) has one rule.
    if zero_sign_code == 1 and kind.name in _ZERO_SIGN_BYTE and imatrix is None:
        flat = np.ascontiguousarray(np.asarray(x).reshape(-1), dtype=np.float32)
        open_blocks = np.flatnonzero(zero_sign_open_blocks(flat, kind))
        unpredictable[open_blocks * kind.block_bytes + _ZERO_SIGN_BYTE[kind.name]] = True
    return out, unpredictable
