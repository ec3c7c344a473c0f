"""GGF-4.2 with GGF-8: the importance-weighted searches as gcc fuses them (``gguf_contraction=gcc_x86_64``).

The same searches as :mod:`refq.gguf.weighted_legacy` and :mod:`refq.gguf.search` with an importance
matrix, with the multiply-adds gcc 12 fuses into one FMA compiling ``ggml-quants.c`` with ``-O2
-march=x86-64-v3 -mtune=znver3`` (``refq ggml build``'s fused library), read from the disassembly of
that build (``quantize_q4_0`` to ``quantize_q5_1``, into which gcc inlines the ``_impl`` rows;
``quantize_row_q2_K_impl`` to ``quantize_row_q6_K_impl``; ``make_qx_quants.constprop.0``,
``make_qkx3_quants.constprop.0`` and ``make_qp_quants``, each the one copy every caller calls) and
checked against it byte for byte:

- the weights ``qw[j] * sqrtf(sigma2 + x[j]^2)``: ``qw[j] * sqrtf(fma(x, x, sigma2))``
  (``vfmadd132ss`` before ``vsqrtss``); the row's ``sum_x2 += x * x`` stays unfused
  (``vmulss``, ``vaddss``);
- ``make_qx_quants`` with weights (Q4_0, Q5_0): :func:`weighted_symmetric_search_fused`;
- ``make_qkx3_quants`` (Q4_1, Q5_1; Q2_K, Q4_K, Q5_K's sub-blocks): :func:`refq.gguf.contracted.affine_search_fused`
  with its error sums fused too, ``fma(d^2, w, total)`` (``vfmadd231ss`` with the weight:
  ``error_rule = SQUARED_ERROR_FUSED_SUM``);
- ``make_qp_quants`` (Q2_K, Q4_K, Q5_K's scales and minimums): :func:`positive_search_fused`.

Q3_K and Q6_K take :func:`weighted_symmetric_search_fused`; the K types' ``sum(x^2)`` (a vector of
products summed in element order), the weights' sums ``sw`` and the requantizations against the stored
scales (``(x + m) / d``, ``x / d``) stay unfused; Q6_K's int8 scales are ``nearest_int`` of the exact
product, as without an importance matrix.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.gguf.contracted import fma32, nearest_int_of_product
from refq.gguf.conversions import nearest_int
from refq.gguf.search import GROUP_MAX_EPS, ZERO, clamp, quotient, signed_largest


@kernel
def fused_importance_weights(x, start, count, imatrix, column, sigma2, weights):
    """The importance weights (GGF-8.1) as gcc fuses them (GGF-4.2): ``weights[l] = qw[column + l] *
    sqrtf(fma(x, x, sigma2))`` for ``x = x[start + l]``, ``l < count`` (the square and the sum in one
    rounding, ``vfmadd132ss`` before ``vsqrtss``)."""
    for l in range(count):
        value = x[start + l]
        weights[l] = imatrix[column + l] * np.float32(math.sqrt(fma32(value, value, sigma2)))


@kernel
def weighted_symmetric_search_fused(x, start, count, levels, weights, codes):
    """The weighted symmetric search (GGF-3.1 with GGF-8.1's weights, ``make_qx_quants`` with ``qw``)
    with gcc's FMAs (GGF-4.2), as ``make_qx_quants.constprop.0`` of the fused build computes it on
    its branch with weights: every ``nearest_int(iscale * x)`` (``vfmadd132ss`` with 1.5 * 2^23); in
    the first pass and in every trial the sums ``fma(w x, l, sumlx)`` and ``fma(w l, l, suml2)``
    (``w x`` and ``w l`` rounded, ``vmulss``, then ``vfmadd231ss``); the trial scales
    ``-fma(is, 0.1, levels) / max`` (``vfnmsub132ss``). The trials' test ``sumlx^2 > best suml2``,
    ``best = scale sumlx`` and the scales ``sumlx / suml2`` stay unfused. Element ``i`` has the weight
    ``weights[i - start]``; codes are stored offset by ``levels``. Returns ``(scale, defined)``."""
    defined = True
    largest, chosen = signed_largest(x, start, count)
    if largest < GROUP_MAX_EPS:
        for i in range(start, start + count):
            codes[i] = 0
        return ZERO, defined
    iscale = np.float32(-levels) / chosen
    sum_lx = ZERO
    sum_l2 = ZERO
    for i in range(start, start + count):
        l, ok = nearest_int_of_product(iscale, x[i])
        defined = defined and ok
        l = clamp(l, -levels, levels - 1)
        codes[i] = l + levels
        w = weights[i - start]
        level = np.float32(l)
        sum_lx = fma32(w * x[i], level, sum_lx)
        sum_l2 = fma32(w * level, level, sum_l2)
    scale = sum_lx / sum_l2 if sum_l2 != 0 else ZERO
    best = scale * sum_lx
    for step in range(-9, 10):
        if step == 0:
            continue
        iscale = -fma32(np.float32(step), np.float32(0.1), np.float32(levels)) / chosen
        sum_lx = ZERO
        sum_l2 = ZERO
        for i in range(start, start + count):
            l, ok = nearest_int_of_product(iscale, x[i])
            defined = defined and ok
            level = np.float32(clamp(l, -levels, levels - 1))
            w = weights[i - start]
            sum_lx = fma32(w * x[i], level, sum_lx)
            sum_l2 = fma32(w * level, level, sum_l2)
        if sum_l2 > 0 and sum_lx * sum_lx > best * sum_l2:
            for i in range(start, start + count):
                l, ok = nearest_int_of_product(iscale, x[i])
                codes[i] = clamp(l, -levels, levels - 1) + levels
            scale = sum_lx / sum_l2
            best = scale * sum_lx
    return scale, defined


@kernel
def positive_search_fused(x, count, levels, weights, codes):
    """The positive search (GGF-8.2, ``make_qp_quants``: the sub-block scales and minimums of Q2_K, Q4_K
    and Q5_K) with gcc's FMAs (GGF-4.2), as the fused build's ``make_qp_quants`` computes it (its first
    and trial loops vectorised 8 wide, the trials' sums still in element order):

    - every ``nearest_int(iscale * x)``, of the first codes, the trials' and the final ones
      (``vfmadd132ps``/``vfmadd132ss`` with 1.5 * 2^23); the trial scales ``fma(is, 0.1, levels) / max``;
    - the error terms ``fma(-scale, l, x)`` (``vfnmadd213ss``/``ps``), in the first error and every
      trial's; the first error's sum ``fma(w d, d, best)``, the trials' ``mse + fl(fl(w d) d)`` unfused
      (a vector product, then in-order ``vaddss``);
    - the final sums ``fma(w x, l, sumlx)`` and ``fma(w l, l, suml2)``; in every round the sums without
      the element, ``fma(-(w x), l, sumlx)`` and ``fma(-(w l), l, suml2)``, and with its new code
      ``fma(w x, l', slx)`` and ``fma(w l', l', sl2)`` (``w x``, ``w l``, ``w l'`` rounded).

    ``nearest_int(x * sl2 / slx)``, the comparison ``slx^2 suml2 > sumlx^2 sl2`` and the scale
    ``sumlx / suml2`` stay unfused. Returns ``(scale, defined)``."""
    defined = True
    largest = ZERO
    for i in range(count):
        largest = largest if largest > x[i] else x[i]
    if largest < GROUP_MAX_EPS:
        for i in range(count):
            codes[i] = 0
        return ZERO, defined
    iscale = np.float32(levels) / largest
    for i in range(count):
        l, ok = nearest_int_of_product(iscale, x[i])
        defined = defined and ok
        codes[i] = l & 0xFF
    scale = quotient(np.float32(1.0), iscale)
    best = ZERO
    for i in range(count):
        difference = fma32(-scale, np.float32(codes[i]), x[i])
        best = fma32(weights[i] * difference, difference, best)
    for k in range(-4, 5):
        if k == 0:
            continue
        trial_iscale = fma32(np.float32(k), np.float32(0.1), np.float32(levels)) / largest
        trial_scale = quotient(np.float32(1.0), trial_iscale)
        error = ZERO
        for i in range(count):
            l, ok = nearest_int_of_product(trial_iscale, x[i])
            defined = defined and ok
            difference = fma32(-trial_scale, np.float32(min(levels, l)), x[i])
            error = error + weights[i] * difference * difference
        if error < best:
            best = error
            iscale = trial_iscale
    sum_lx = ZERO
    sum_l2 = ZERO
    for i in range(count):
        l, ok = nearest_int_of_product(iscale, x[i])
        defined = defined and ok
        l = min(levels, l)
        codes[i] = l & 0xFF
        w = weights[i]
        level = np.float32(l)
        sum_lx = fma32(w * x[i], level, sum_lx)
        sum_l2 = fma32(w * level, level, sum_l2)
    for _ in range(5):
        changed = 0
        for i in range(count):
            w = weights[i]
            current = np.float32(codes[i])
            slx = fma32(-(w * x[i]), current, sum_lx)
            if slx > 0:
                sl2 = fma32(-(w * current), current, sum_l2)
                if sl2 > 0:
                    new_l, ok = nearest_int(x[i] * sl2 / slx)
                    defined = defined and ok
                    new_l = min(levels, new_l)
                    if new_l != codes[i]:
                        level = np.float32(new_l)
                        slx = fma32(w * x[i], level, slx)
                        sl2 = fma32(w * level, level, sl2)
                        if slx * slx * sum_l2 > sum_lx * sum_lx * sl2:
                            codes[i] = new_l & 0xFF
                            sum_lx = slx
                            sum_l2 = sl2
                            changed += 1
        if changed == 0:
            break
    return (sum_lx / sum_l2 if sum_l2 > 0 else ZERO), defined
