"""GGF-8.1 and GGF-8.2: the importance weights and ``make_qp_quants``, the pieces of ggml's
importance-matrix search that the reference search (GGF-3) has no counterpart for.

Every product and sum is rounded to float32 on its own, in C's order (``gguf_contraction =
unfused``). A square root is correctly rounded (sqrtf): the float64 root of a float32, rounded to
float32, is that.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.gguf.conversions import nearest_int
from refq.gguf.search import GROUP_MAX_EPS, ZERO, quotient


@kernel
def sum_of_squares(x, start, count):
    """``sum(x[i] * x[i])`` from 0 in element order, each product and sum rounded to float32."""
    total = ZERO
    for i in range(start, start + count):
        total = total + x[i] * x[i]
    return total


@kernel
def importance_weights(x, start, count, imatrix, column, sigma2, weights):
    """GGF-8.1: ``weights[l] = qw[column + l] * sqrtf(sigma2 + x[start + l]^2)`` for ``l < count``."""
    for l in range(count):
        value = x[start + l]
        weights[l] = imatrix[column + l] * np.float32(math.sqrt(sigma2 + value * value))


@kernel
def sum_of(weights, count):
    """``sum(weights[:count])`` from 0 in order (ggml's ``sw[j]``, the weight of a sub-block's scale)."""
    total = ZERO
    for l in range(count):
        total = total + weights[l]
    return total


@kernel
def positive_search(x, count, levels, weights, codes):
    """GGF-8.2: ggml's ``make_qp_quants``: a scale for the ``count`` non-negative values ``x`` (the
    sub-block scales or minimums of a K type) with codes 0..``levels`` in ``codes`` (``uint8_t``: a
    negative code is kept modulo 256, as C's assignment does).

    With ``M`` the largest value (``MAX`` from 0): below GROUP_MAX_EPS every code is 0 and the scale
    0. Else ``iscale = levels / M``; each trial ``(0.1 k + levels) / M``, ``k`` in -4..4 (0 skipped),
    replaces it when its weighted squared error ``sum(w (x - l / iscale)^2)`` is strictly smaller.
    The chosen codes then improve one at a time, up to five rounds, as GGF-3.2's do, and the scale is
    ``sum(w x l) / sum(w l^2)``. Returns ``(scale, defined)``.
    """
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
        l, ok = nearest_int(iscale * x[i])
        defined = defined and ok
        codes[i] = l & 0xFF
    scale = quotient(np.float32(1.0), iscale)
    best = ZERO
    for i in range(count):
        difference = x[i] - scale * np.float32(codes[i])
        best = best + weights[i] * difference * difference
    for k in range(-4, 5):
        if k == 0:
            continue
        trial_iscale = (np.float32(0.1) * np.float32(k) + np.float32(levels)) / largest
        trial_scale = quotient(np.float32(1.0), trial_iscale)
        error = ZERO
        for i in range(count):
            l, ok = nearest_int(trial_iscale * x[i])
            defined = defined and ok
            difference = x[i] - trial_scale * np.float32(min(levels, l))
            error = error + weights[i] * difference * difference
        if error < best:
            best = error
            iscale = trial_iscale
    sum_lx = ZERO
    sum_l2 = ZERO
    for i in range(count):
        l, ok = nearest_int(iscale * x[i])
        defined = defined and ok
        l = min(levels, l)
        codes[i] = l & 0xFF
        w = weights[i]
        sum_lx = sum_lx + w * x[i] * np.float32(l)
        sum_l2 = sum_l2 + w * np.float32(l) * np.float32(l)
    for _ in range(5):
        changed = 0
        for i in range(count):
            w = weights[i]
            current = np.float32(codes[i])
            slx = sum_lx - w * x[i] * current
            sl2 = sum_l2 - w * current * current
            if slx > 0 and sl2 > 0:
                new_l, ok = nearest_int(x[i] * sl2 / slx)
                defined = defined and ok
                new_l = min(levels, new_l)
                if new_l != codes[i]:
                    slx = slx + w * x[i] * np.float32(new_l)
                    sl2 = sl2 + w * np.float32(new_l) * np.float32(new_l)
                    if slx * slx * sum_l2 > sum_lx * sum_lx * sl2:
                        codes[i] = new_l & 0xFF
                        sum_lx = slx
                        sum_l2 = sl2
                        changed += 1
        if changed == 0:
            break
    return (sum_lx / sum_l2 if sum_l2 > 0 else ZERO), defined
