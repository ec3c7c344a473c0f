"""GGF-8.5 to GGF-8.8: the K types with an importance matrix (ggml's ``quantize_row_q*_K_impl``,
which ``ggml_quantize_chunk`` calls when ``quant_weights`` is not NULL).

The input is whole rows of ``imatrix.size`` elements (a multiple of 256); super-block ``b`` starts
at column ``(256 b) mod n_per_row``, and its element ``l`` has the importance
``imatrix[column + l]``. Unlike the blocks of 32 (GGF-8.3), a K type's ``sigma2`` is the mean
square of its super-block, not of the row. The layouts and the last steps (requantizing with the
stored scales, packing) are GGF-3.4 to GGF-3.9's.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.contracted import SQUARED_ERROR_FUSED_SUM, affine_search_fused
from refq.gguf.contracted_weighted import (fused_importance_weights, positive_search_fused,
                                           weighted_symmetric_search_fused)
from refq.gguf.half import half_pattern, store_half
from refq.gguf.kquants import (SUPER, put_q3_k_scale, put_scale_min_k4, store_affine_k_codes, store_q2_k_codes,
                               store_q3_k_codes, store_q6_k)
from refq.gguf.search import ZERO, affine_search, weighted_symmetric_search
from refq.gguf.weighted_search import importance_weights, positive_search, sum_of, sum_of_squares


@kernel
def quantize_weighted_q2_k(x, imatrix, out, undefined, fused):
    """GGF-8.5: Q2_K. ``sigma2 = sum(x^2) / 256``; each sub-block of 16: GGF-8.1's weights, their
    sum ``sw``, and the affine search (GGF-3.3: 3 levels, ``rmin = -0.9``, ``rdelta = 0.05``, 36 steps,
    squared errors). The 16 scales and the 16 minimums each take GGF-8.2 with 15 levels and the
    weights ``sw``: ``d`` and ``dmin`` are those scales, the sub-block's byte ``Ls | Lm << 4``. Then
    GGF-3.4's requantization and packing. ``fused``: the weights and the three searches with gcc's FMAs
    (GGF-4.2, :mod:`refq.gguf.contracted_weighted`)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    trial = np.zeros(SUPER, dtype=np.int32)
    weights = np.zeros(16, dtype=np.float32)
    sub_weights = np.zeros(16, dtype=np.float32)
    scales = np.zeros(16, dtype=np.float32)
    minimums = np.zeros(16, dtype=np.float32)
    scale_codes = np.zeros(16, dtype=np.int32)
    minimum_codes = np.zeros(16, dtype=np.int32)
    n_per_row = imatrix.size
    for b in range(x.size // SUPER):
        base = b * SUPER
        column = base % n_per_row
        o = b * 84
        block = x[base:base + SUPER]
        sigma2 = sum_of_squares(x, base, SUPER) / np.float32(SUPER)
        defined = True
        for j in range(16):
            if fused:
                fused_importance_weights(x, base + 16 * j, 16, imatrix, column + 16 * j, sigma2, weights)
            else:
                importance_weights(x, base + 16 * j, 16, imatrix, column + 16 * j, sigma2, weights)
            sub_weights[j] = sum_of(weights, 16)
            if fused:
                scale, minimum, ok = affine_search_fused(block, 16 * j, 16, weights, 3, np.float32(-0.9),
                                                         np.float32(0.05), 36, SQUARED_ERROR_FUSED_SUM, codes, trial)
            else:
                scale, minimum, ok = affine_search(block, 16 * j, 16, weights, 3, np.float32(-0.9), np.float32(0.05),
                                                   36, False, codes, trial)
            defined = defined and ok
            scales[j] = scale
            minimums[j] = minimum
        if fused:
            dm, ok_scale = positive_search_fused(scales, 16, 15, sub_weights, scale_codes)
            mm, ok_min = positive_search_fused(minimums, 16, 15, sub_weights, minimum_codes)
        else:
            dm, ok_scale = positive_search(scales, 16, 15, sub_weights, scale_codes)
            mm, ok_min = positive_search(minimums, 16, 15, sub_weights, minimum_codes)
        defined = defined and ok_scale and ok_min
        store_half(out, o + 80, half_pattern(dm))
        store_half(out, o + 82, half_pattern(mm))
        for j in range(16):
            out[o + j] = (scale_codes[j] | (minimum_codes[j] << 4)) & 0xFF
        defined = store_q2_k_codes(x, base, out, o, codes) and defined
        if not defined:
            undefined[b] = 1


@kernel
def quantize_weighted_q3_k(x, imatrix, out, undefined, fused):
    """GGF-8.6: Q3_K. ``sigma2 = 2 sum(x^2) / 256``; each sub-block of 16: GGF-8.1's weights, their sum
    ``sw``, and the weighted symmetric search (GGF-3.1, ``n = 4``). The 16 scales then take the
    weighted symmetric search themselves (``n = 32``, weights ``sw``): its scale is ``d``, its codes
    (0..63) the 6-bit scales, packed as GGF-3.5's. Then GGF-3.5's requantization and packing.
    ``fused``: the weights and both searches with gcc's FMAs (GGF-4.2, :mod:`refq.gguf.contracted_weighted`;
    ``sum(x^2)``, ``sw`` and the requantization stay unfused in that build)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    weights = np.zeros(16, dtype=np.float32)
    sub_weights = np.zeros(16, dtype=np.float32)
    scales = np.zeros(16, dtype=np.float32)
    scale_codes = np.zeros(16, dtype=np.int32)
    n_per_row = imatrix.size
    for b in range(x.size // SUPER):
        base = b * SUPER
        column = base % n_per_row
        o = b * 110
        block = x[base:base + SUPER]
        sigma2 = np.float32(2.0) * sum_of_squares(x, base, SUPER) / np.float32(SUPER)
        defined = True
        for j in range(16):
            if fused:
                fused_importance_weights(x, base + 16 * j, 16, imatrix, column + 16 * j, sigma2, weights)
            else:
                importance_weights(x, base + 16 * j, 16, imatrix, column + 16 * j, sigma2, weights)
            sub_weights[j] = sum_of(weights, 16)
            if fused:
                scale, ok = weighted_symmetric_search_fused(block, 16 * j, 16, 4, weights, codes)
            else:
                scale, ok = weighted_symmetric_search(block, 16 * j, 16, 4, weights, codes)
            defined = defined and ok
            scales[j] = scale
        if fused:
            d_block, ok = weighted_symmetric_search_fused(scales, 0, 16, 32, sub_weights, scale_codes)
        else:
            d_block, ok = weighted_symmetric_search(scales, 0, 16, 32, sub_weights, scale_codes)
        defined = defined and ok
        for k in range(96, 108):
            out[o + k] = 0
        for j in range(16):
            put_q3_k_scale(out, o, j, scale_codes[j])
        store_half(out, o + 108, half_pattern(d_block))
        defined = store_q3_k_codes(x, base, out, o, codes) and defined
        if not defined:
            undefined[b] = 1


@kernel
def quantize_weighted_affine_k(x, imatrix, out, undefined, levels, block_bytes, fused):
    """GGF-8.7: Q4_K (``levels`` 15) and Q5_K (31). ``sigma2 = 2 sum(x^2) / 256``; each sub-block of 32:
    GGF-8.1's weights, their sum ``sw``, and the affine search (GGF-3.3: ``rmin = -0.9``, ``rdelta =
    0.05``, 36 steps, squared errors). The 8 scales and the 8 minimums each take GGF-8.2 with 63
    levels and the weights ``sw``: ``d`` and ``dmin`` are those scales, the 6-bit codes packed as
    GGF-3.6 (Q5_K caps each at 63 first; Q4_K packs the byte as it is). Then GGF-3.7's
    requantization and packing. ``fused``: the weights and the three searches with gcc's FMAs (GGF-4.2,
    :mod:`refq.gguf.contracted_weighted`)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    trial = np.zeros(SUPER, dtype=np.int32)
    weights = np.zeros(32, dtype=np.float32)
    sub_weights = np.zeros(8, dtype=np.float32)
    scales = np.zeros(8, dtype=np.float32)
    minimums = np.zeros(8, dtype=np.float32)
    scale_codes = np.zeros(8, dtype=np.int32)
    minimum_codes = np.zeros(8, dtype=np.int32)
    n_per_row = imatrix.size
    for b in range(x.size // SUPER):
        base = b * SUPER
        column = base % n_per_row
        o = b * block_bytes
        block = x[base:base + SUPER]
        sigma2 = np.float32(2.0) * sum_of_squares(x, base, SUPER) / np.float32(SUPER)
        defined = True
        for j in range(8):
            if fused:
                fused_importance_weights(x, base + 32 * j, 32, imatrix, column + 32 * j, sigma2, weights)
            else:
                importance_weights(x, base + 32 * j, 32, imatrix, column + 32 * j, sigma2, weights)
            sub_weights[j] = sum_of(weights, 32)
            if fused:
                scale, minimum, ok = affine_search_fused(block, 32 * j, 32, weights, levels, np.float32(-0.9),
                                                         np.float32(0.05), 36, SQUARED_ERROR_FUSED_SUM, codes, trial)
            else:
                scale, minimum, ok = affine_search(block, 32 * j, 32, weights, levels, np.float32(-0.9),
                                                   np.float32(0.05), 36, False, codes, trial)
            defined = defined and ok
            scales[j] = scale
            minimums[j] = minimum
        if fused:
            d_block, ok_scale = positive_search_fused(scales, 8, 63, sub_weights, scale_codes)
            m_block, ok_min = positive_search_fused(minimums, 8, 63, sub_weights, minimum_codes)
        else:
            d_block, ok_scale = positive_search(scales, 8, 63, sub_weights, scale_codes)
            m_block, ok_min = positive_search(minimums, 8, 63, sub_weights, minimum_codes)
        defined = defined and ok_scale and ok_min
        packed = o + 4
        for j in range(8):
            ls = scale_codes[j]
            lm = minimum_codes[j]
            if levels == 31:
                ls = min(63, ls)
                lm = min(63, lm)
            put_scale_min_k4(out, packed, j, ls, lm)
        store_half(out, o, half_pattern(d_block))
        store_half(out, o + 2, half_pattern(m_block))
        defined = store_affine_k_codes(x, base, out, o, codes, levels) and defined
        if not defined:
            undefined[b] = 1


@kernel
def quantize_weighted_q6_k(x, imatrix, out, undefined, fused):
    """GGF-8.8: Q6_K. Each sub-block of 16 takes the weighted symmetric search (GGF-3.1, ``n = 32``)
    with the importance matrix itself as the weights (no ``sigma2``: ggml's ``quantize_row_q6_K_impl``
    passes ``qw`` unchanged); everything after the searches is GGF-3.9's. ``fused``: the searches and
    the int8 scales' ``nearest_int(iscale * scale)`` with gcc's FMAs (GGF-4.2)."""
    codes = np.zeros(SUPER, dtype=np.int32)
    scales = np.zeros(16, dtype=np.float32)
    n_per_row = imatrix.size
    for b in range(x.size // SUPER):
        base = b * SUPER
        column = base % n_per_row
        o = b * 210
        block = x[base:base + SUPER]
        defined = True
        max_scale = ZERO
        max_abs_scale = ZERO
        for j in range(16):
            sub_weights = imatrix[column + 16 * j:column + 16 * j + 16]
            if fused:
                scale, ok = weighted_symmetric_search_fused(block, 16 * j, 16, 32, sub_weights, codes)
            else:
                scale, ok = weighted_symmetric_search(block, 16 * j, 16, 32, sub_weights, codes)
            defined = defined and ok
            scales[j] = scale
            if abs(scale) > max_abs_scale:
                max_abs_scale = abs(scale)
                max_scale = scale
        defined = store_q6_k(x, base, out, o, codes, scales, max_scale, max_abs_scale, fused) and defined
        if not defined:
            undefined[b] = 1
