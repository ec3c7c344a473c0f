"""GGF-4.2: the K types' scale search as gcc fuses it (``gguf_contraction=gcc_x86_64``).

The same ``make_qkx2_quants`` as :func:`refq.gguf.search.affine_search`, with the multiply-adds
that gcc 12 fuses into one FMA (one rounding) when it compiles ``ggml-quants.c`` with ``-O2
-march=x86-64-v3 -mtune=znver3`` (its default ``-ffp-contract=fast``; ``refq ggml build``'s fused
library, the same code as ``-march=native`` on an AMD Zen 3 CPU), read from the disassembly of that
build and checked against it byte for byte:

- ``nearest_int(iscale * (x - min))``: ``fma(x - min, iscale, 1.5 * 2^23)``, the exact product
  rounded once to an integer (ties to even);
- the error terms ``scale * l + min - x``: ``fma(l, scale, min) - x``;
- the trial scale ``(rmin + rdelta * is + nmax) / (max - min)``: ``fma(is, rdelta, rmin)``;
- the sums ``w l^2`` and ``w l x``: ``fma(w l, l, sum)`` and ``fma(w l, x, sum)``, ``w l`` rounded;
- the determinant ``sum_w sum_l2 - sum_l^2``: ``fma(sum_w, sum_l2, -fl(sum_l^2))``;
- the fitted minimum ``(sum_l2 sum_x - sum_l sum_xl) / D``: ``fma(sum_x, sum_l2, -fl(sum_l sum_xl))``;
- the fitted scale ``(sum_w sum_xl - sum_x sum_l) / D``: ``fma(-sum_l, sum_x, fl(sum_w sum_xl))``.

The other sums (``sum_w``, ``w x``, the weighted errors, ``sum_l``) stay unfused. The callers'
``nearest_int(inv_scale * scale)`` of the sub-block scales and minimums are fused too.
``make_qx_quants`` (Q6_K) is :func:`symmetric_search_fused`, ``make_q3_quants`` (Q3_K)
:func:`iterative_search_fused`. The target is fixed because
``-march=native`` places FMAs by CPU: an AVX-512 CPU vectorises that search's trials (their sums
unfused, :func:`symmetric_search_placed`), and other tunings (generic, Intel's) fuse ``w x`` and the
weighted errors too.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.steps import fused_multiply_add_float32
from refq.gguf.conversions import NEAREST_INT_LIMIT, NEAREST_INT_SHIFT, nearest_int
from refq.gguf.search import GROUP_MAX_EPS, ZERO, clamp, quotient, signed_largest, weighted_range


@kernel
def fma32(a, b, c):
    """fl32(a * b + c), one rounding, for float32 ``a``, ``b``, ``c``: AFF-3.7's
    :func:`refq.affine.steps.fused_multiply_add_float32` (the float32 product exact in float64,
    interpreted; one hardware FMA, compiled)."""
    return fused_multiply_add_float32(a, b, c)


@kernel
def nearest_int_of_product(a, b):
    """``nearest_int`` of ``a * b`` with the product fused into the ``+ 1.5 * 2^23`` (GGF-1.4): the exact
    product rounded to an integer, ties to even; defined while ``|a b| <= 2^22 - 1``."""
    product = np.float64(a) * np.float64(b)
    if not (abs(product) <= np.float64(NEAREST_INT_LIMIT)):
        return 0, False
    return int(fma32(a, b, NEAREST_INT_SHIFT)) - 12582912, True


#: The affine search's error sums (``error_rule``): ``make_qkx2_quants``' weight times ``d^2`` or ``|d|``, added
#: unfused, and ``make_qkx3_quants``' (GGF-8.4) ``d^2`` fused with its weight into the sum, ``fma(d^2, w, total)``.
SQUARED_ERROR, ABSOLUTE_ERROR, SQUARED_ERROR_FUSED_SUM = range(3)


@kernel
def fused_weighted_error(x, start, count, weights, codes, scale, minimum, error_rule):
    """The weighted error of ``codes`` under ``scale`` and ``minimum``, its terms ``d = fma(l, scale, min) - x``
    (``d * d`` rounded) summed by ``error_rule``."""
    total = ZERO
    for i in range(start, start + count):
        difference = fma32(np.float32(codes[i]), scale, minimum) - x[i]
        if error_rule == SQUARED_ERROR_FUSED_SUM:
            total = fma32(difference * difference, weights[i - start], total)
        else:
            difference = abs(difference) if error_rule == ABSOLUTE_ERROR else difference * difference
            total = total + weights[i - start] * difference
    return total


@kernel
def affine_search_fused(x, start, count, weights, levels, rmin, rdelta, steps, error_rule, codes, trial):
    """GGF-4.2: :func:`refq.gguf.search.affine_search` with gcc's fused multiply-adds, its error sums by
    ``error_rule`` (``make_qkx3_quants``, the importance-weighted form of GGF-8.4, fuses them too). Returns
    ``(scale, -min, defined)``."""
    defined = True
    # The first pass has no multiply-add gcc fuses (read from its disassembly).
    minimum, maximum, sum_w, sum_x = weighted_range(x, start, count, weights)
    if maximum == minimum:
        for i in range(start, start + count):
            codes[i] = 0
        return ZERO, -minimum, defined
    iscale = np.float32(levels) / (maximum - minimum)
    scale = quotient(np.float32(1.0), iscale)
    for i in range(start, start + count):
        l, ok = nearest_int_of_product(x[i] - minimum, iscale)
        defined = defined and ok
        codes[i] = clamp(l, 0, levels)
    best_error = fused_weighted_error(x, start, count, weights, codes, scale, minimum, error_rule)
    for step in range(steps + 1):
        # A trial's minimum can reach the maximum (negative values, zero weights): C divides by zero.
        iscale = quotient(fma32(np.float32(step), rdelta, rmin) + np.float32(levels), maximum - minimum)
        sum_l = sum_l2 = sum_xl = ZERO
        for i in range(start, start + count):
            l, ok = nearest_int_of_product(x[i] - minimum, iscale)
            defined = defined and ok
            l = clamp(l, 0, levels)
            trial[i] = l
            level = np.float32(l)
            weighted = weights[i - start] * level
            sum_l2 = fma32(weighted, level, sum_l2)
            sum_xl = fma32(weighted, x[i], sum_xl)
            sum_l = sum_l + weighted
        determinant = fma32(sum_w, sum_l2, -(sum_l * sum_l))
        if not determinant > 0:
            continue
        this_min = fma32(sum_x, sum_l2, -(sum_l * sum_xl)) / determinant
        if this_min > 0:
            this_min = ZERO
            this_scale = quotient(sum_xl, sum_l2)
        else:
            this_scale = fma32(-sum_l, sum_x, sum_w * sum_xl) / determinant
        error = fused_weighted_error(x, start, count, weights, trial, this_scale, this_min, error_rule)
        if error < best_error:
            for i in range(start, start + count):
                codes[i] = trial[i]
            best_error = error
            scale = this_scale
            minimum = this_min
    return scale, -minimum, defined


@kernel
def symmetric_search_placed(x, start, count, levels, codes, vectorised_trials):
    """``make_qx_quants`` (Q6_K's symmetric search) as gcc 12 ``-O2`` places its FMAs for one of two
    targets: every ``nearest_int(iscale * x)``; the first pass's sums ``fma(w x, l, sum)`` and
    ``fma(w l, l, sum)``; the trial scales ``-fma(is, 0.1, levels) / max``. Where the trial loop is
    scalar (``vectorised_trials`` False: x86-64-v3, the fused build, GGF-4.2) the trials' sums are
    fused the same way. With AVX-512 (``vectorised_trials`` True: ``-march=native`` on an AVX-512 AMD
    CPU, read from its disassembly and measured there before the build's target was fixed) gcc
    vectorises the trial loop with mask registers: the products ``w x l`` and ``w l l`` are rounded in
    vector registers and then summed in order, unfused. Returns ``(scale, defined, kept)``, ``kept``
    the trial whose codes were written (0: the first pass's)."""
    defined = True
    largest, chosen = signed_largest(x, start, count)
    if largest < GROUP_MAX_EPS:
        for i in range(start, start + count):
            codes[i] = 0
        return ZERO, defined, 0
    iscale = np.float32(-levels) / chosen
    sum_lx = ZERO
    sum_l2 = ZERO
    for i in range(start, start + count):
        l, ok = nearest_int_of_product(iscale, x[i])
        defined = defined and ok
        l = clamp(l, -levels, levels - 1)
        codes[i] = l + levels
        w = x[i] * x[i]
        level = np.float32(l)
        sum_lx = fma32(w * x[i], level, sum_lx)
        sum_l2 = fma32(w * level, level, sum_l2)
    scale = sum_lx / sum_l2 if sum_l2 != 0 else ZERO
    best = scale * sum_lx
    kept = 0
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
            w = x[i] * x[i]
            if vectorised_trials:
                sum_lx = sum_lx + w * x[i] * level
                sum_l2 = sum_l2 + w * level * level
            else:
                sum_lx = fma32(w * x[i], level, sum_lx)
                sum_l2 = fma32(w * level, level, sum_l2)
        if sum_l2 > 0 and sum_lx * sum_lx > best * sum_l2:
            for i in range(start, start + count):
                l, ok = nearest_int_of_product(iscale, x[i])
                codes[i] = clamp(l, -levels, levels - 1) + levels
            scale = sum_lx / sum_l2
            best = scale * sum_lx
            kept = step
    return scale, defined, kept


@kernel
def symmetric_search_fused(x, start, count, levels, codes):
    """GGF-4.2: :func:`refq.gguf.search.symmetric_search` (``make_qx_quants``, Q6_K) with gcc's fused
    multiply-adds: every ``nearest_int(iscale * x)``, the trial scales ``-fma(is, 0.1, levels) / max``,
    and in the first pass and every trial the sums ``fma(w x, l, sum)`` and ``fma(w l, l, sum)``.
    Returns ``(scale, defined)``."""
    scale, defined, _ = symmetric_search_placed(x, start, count, levels, codes, False)
    return scale, defined


@kernel
def iterative_search_fused(x, start, count, levels, codes):
    """GGF-4.2: :func:`refq.gguf.search.iterative_search` (``make_q3_quants``, Q3_K) with gcc's fused
    multiply-adds: the first pass's ``nearest_int(iscale * x)`` and sums ``fma(w x, l, sum)`` and
    ``fma(w l, l, sum)``; in every round the sums without the element, ``fma(-(w x), l, sum)`` and
    ``fma(-(w l), l, sum)``, and with its new code ``fma(w x, l', slx)`` and ``fma(w l', l', sl2)``.
    ``nearest_int(x * sl2 / slx)`` and the comparison stay unfused. Returns ``(scale, defined)``."""
    defined = True
    largest, chosen = signed_largest(x, start, count)
    if largest < GROUP_MAX_EPS:
        for i in range(start, start + count):
            codes[i] = 0
        return ZERO, defined
    iscale = np.float32(-levels) / chosen
    # Views indexed from 0: indices that need no wrap-around check.
    block = x[start:start + count]
    sub_codes = codes[start:start + count]
    sum_lx = ZERO
    sum_l2 = ZERO
    for i in range(count):
        l, ok = nearest_int_of_product(iscale, block[i])
        defined = defined and ok
        l = clamp(l, -levels, levels - 1)
        sub_codes[i] = l
        w = block[i] * block[i]
        level = np.float32(l)
        sum_lx = fma32(w * block[i], level, sum_lx)
        sum_l2 = fma32(w * level, level, sum_l2)
    for _ in range(5):
        changed = 0
        for i in range(count):
            w = block[i] * block[i]
            current = np.float32(sub_codes[i])
            slx = fma32(-(w * block[i]), current, sum_lx)
            if slx > 0:
                sl2 = fma32(-(w * current), current, sum_l2)
                new_l, ok = nearest_int(block[i] * sl2 / slx)
                defined = defined and ok
                new_l = clamp(new_l, -levels, levels - 1)
                if new_l != sub_codes[i]:
                    level = np.float32(new_l)
                    slx = fma32(w * block[i], level, slx)
                    sl2 = fma32(w * level, level, sl2)
                    if sl2 > 0 and slx * slx * sum_l2 > sum_lx * sum_lx * sl2:
                        sub_codes[i] = new_l
                        sum_lx = slx
                        sum_l2 = sl2
                        changed += 1
        if changed == 0:
            break
    for i in range(count):
        sub_codes[i] += levels
    return (sum_lx / sum_l2 if sum_l2 > 0 else ZERO), defined
