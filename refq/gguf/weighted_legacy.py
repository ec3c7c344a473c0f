"""GGF-8.3 and GGF-8.4: Q4_0, Q5_0, Q4_1 and Q5_1 with an importance matrix (ggml's
``quantize_row_q4_0_impl`` and its siblings, which ``ggml_quantize_chunk`` calls when
``quant_weights`` is not NULL).

The input is whole rows of ``imatrix.size`` elements (``n_per_row``); element ``j`` of a row has
the importance ``imatrix[j]``. Each row's mean square ``sigma2`` enters every weight of the row
(GGF-8.1). The bytes of a block are written at ``out[b * block_bytes:]`` as in GGF-2, and
``undefined[b]`` is set when one of its ``nearest_int`` is undefined (GGF-1.4).
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.contracted import SQUARED_ERROR_FUSED_SUM, affine_search_fused
from refq.gguf.contracted_weighted import fused_importance_weights, weighted_symmetric_search_fused
from refq.gguf.half import half_pattern, store_half
from refq.gguf.search import affine_search, weighted_symmetric_search
from refq.gguf.weighted_search import importance_weights, sum_of_squares

BLOCK = 32
HALF_BLOCK = 16


@kernel
def pack_nibbles(codes, out, o, block_bytes, with_high_bits):
    """GGF-2's layout of 32 codes: element ``j`` in the low and ``j + 16`` in the high nibble of byte
    ``j`` of the last 16 bytes; with ``with_high_bits`` the fifth bits as a 32-bit little-endian
    mask (bit ``j`` for element ``j``) just before them."""
    quants = o + block_bytes - HALF_BLOCK
    high_bits = 0
    for j in range(HALF_BLOCK):
        first = codes[j]
        second = codes[j + HALF_BLOCK]
        out[quants + j] = ((first & 0x0F) | ((second & 0x0F) << 4)) & 0xFF
        high_bits |= ((first & 0x10) >> 4) << j
        high_bits |= ((second & 0x10) >> 4) << (j + HALF_BLOCK)
    if with_high_bits:
        for k in range(4):
            out[quants - 4 + k] = (high_bits >> (8 * k)) & 0xFF


@kernel
def quantize_weighted_nibbles(x, imatrix, out, undefined, levels, asymmetric, block_bytes, fused):
    """GGF-8.3 (Q4_0: ``levels`` 16, Q5_0: 32) and GGF-8.4 (Q4_1: 16, Q5_1: 32, ``asymmetric``).

    Per row: ``sigma2 = sum(x^2) / n_per_row``; per block, GGF-8.1's weights. Q4_0 and Q5_0 take the
    weighted symmetric search (GGF-3.1, ``n = levels / 2``): ``d`` is its scale, the codes its codes
    (all 0 when the block's largest magnitude is below GROUP_MAX_EPS). Q4_1 and Q5_1 take the
    affine search (GGF-3.3) with ``levels - 1`` levels, ``rmin = -0.9``, ``rdelta = 0.05``, 36 steps
    and squared errors (ggml's ``make_qkx3_quants``): ``d`` its scale, ``m`` its minimum. ``fused``:
    the weights and the searches with gcc's FMAs (GGF-4.2, :mod:`refq.gguf.contracted_weighted`).
    """
    n_per_row = imatrix.size
    weights = np.zeros(BLOCK, dtype=np.float32)
    codes = np.zeros(BLOCK, dtype=np.int32)
    trial = np.zeros(BLOCK, dtype=np.int32)
    blocks_per_row = n_per_row // BLOCK
    for row in range(x.size // n_per_row):
        first = row * n_per_row
        sigma2 = sum_of_squares(x, first, n_per_row) / np.float32(n_per_row)
        for ib in range(blocks_per_row):
            start = first + ib * BLOCK
            block = x[start:start + BLOCK]
            if fused:
                fused_importance_weights(x, start, BLOCK, imatrix, ib * BLOCK, sigma2, weights)
            else:
                importance_weights(x, start, BLOCK, imatrix, ib * BLOCK, sigma2, weights)
            b = row * blocks_per_row + ib
            o = b * block_bytes
            if asymmetric:
                if fused:
                    d, negated_min, defined = affine_search_fused(
                        block, 0, BLOCK, weights, levels - 1, np.float32(-0.9), np.float32(0.05), 36,
                        SQUARED_ERROR_FUSED_SUM, codes, trial)
                else:
                    d, negated_min, defined = affine_search(block, 0, BLOCK, weights, levels - 1, np.float32(-0.9),
                                                            np.float32(0.05), 36, False, codes, trial)
                store_half(out, o, half_pattern(d))
                store_half(out, o + 2, half_pattern(-negated_min))
            else:
                if fused:
                    d, defined = weighted_symmetric_search_fused(block, 0, BLOCK, levels // 2, weights, codes)
                else:
                    d, defined = weighted_symmetric_search(block, 0, BLOCK, levels // 2, weights, codes)
                store_half(out, o, half_pattern(d))
            pack_nibbles(codes, out, o, block_bytes, levels == 32)
            if not defined:
                undefined[b] = 1
