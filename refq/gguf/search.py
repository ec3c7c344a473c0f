"""GGF-3.1 to GGF-3.3: the scale searches of the K types, in unfused float32 (``gguf_contraction=unfused``).

Each search looks at one sub-block ``x[start:start + count]`` and writes its codes into
``codes[start:start + count]``. It returns the sub-block's scale (and minimum) and whether
every ``nearest_int`` it used was defined (GGF-1.4). Every product and every sum is rounded
to float32 on its own, left to right, as the C source reads without FMA contraction.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.gguf.conversions import nearest_int

#: ggml's GROUP_MAX_EPS: a sub-block whose largest magnitude is below it is all zero.
GROUP_MAX_EPS = np.float32(1e-15)
ZERO = np.float32(0.0)


@kernel
def quotient(a, b):
    """``a / b`` in float32 with IEEE 754's division by zero: an infinity, or NaN for 0 / 0.

    (Numba's Python error model would raise instead; the C code divides where the search
    overflowed to infinity and its reciprocal to zero.)"""
    if b == 0:
        if a != a or a == 0:
            return np.float32(np.nan)
        negative = (a < 0) != (math.copysign(1.0, b) < 0)
        return np.float32(-np.inf) if negative else np.float32(np.inf)
    return a / b


@kernel
def clamp(value, low, high):
    return max(low, min(high, value))


@kernel
def signed_largest(x, start, count):
    """The largest magnitude of ``x[start:start + count]`` and the first element that has it
    (from +0, replaced when strictly larger)."""
    largest = ZERO
    chosen = ZERO
    for i in range(start, start + count):
        magnitude = abs(x[i])
        if magnitude > largest:
            largest = magnitude
            chosen = x[i]
    return largest, chosen


@kernel
def weighted_range(x, start, count, weights):
    """``make_qkx2_quants``'s first pass: the smallest element (raised to 0), the largest, and the
    unfused sums ``sum(w)`` and ``sum(w x)`` in element order."""
    minimum = x[start]
    maximum = x[start]
    sum_w = weights[0]
    sum_x = sum_w * x[start]
    for i in range(start + 1, start + count):
        if x[i] < minimum:
            minimum = x[i]
        if x[i] > maximum:
            maximum = x[i]
        w = weights[i - start]
        sum_w = sum_w + w
        sum_x = sum_x + w * x[i]
    if minimum > 0:
        minimum = ZERO
    return minimum, maximum, sum_w, sum_x


@kernel
def symmetric_search(x, start, count, levels, codes):
    """GGF-3.1: ggml's ``make_qx_quants`` with ``rmse_type = 1`` and no weights (Q6_K): ``w = x^2``,
    the search of :func:`weighted_symmetric_search`."""
    count = min(count, x.size - start)
    # One allocation: the weights, then the search's scratch rows.
    rows = np.empty((20, count), dtype=np.float32)
    for i in range(count):
        rows[0, i] = x[start + i] * x[start + i]
    return symmetric_search_into(x, start, count, levels, rows[0], rows[1:], codes)


@kernel
def weighted_symmetric_search(x, start, count, levels, weights, codes):
    """GGF-3.1: ggml's ``make_qx_quants`` with ``rmse_type = 1``, element ``i`` weighted by
    ``weights[i - start]`` (``x^2`` without an importance matrix, GGF-8.1's weights with one).

    From ``iscale = -levels / max`` (``max`` the element of largest magnitude), codes
    ``l = clamp(nearest_int(iscale * x), -levels, levels - 1)`` give the least-squares scale
    ``sum(w x l) / sum(w l^2)``; then each ``iscale = -(levels + 0.1 is) / max``, ``is`` in
    -9..9 (0 skipped), replaces it when ``sumlx^2 > best * suml2`` with ``best = scale * sumlx``.
    Codes are stored offset by ``levels``.
    """
    count = min(count, x.size - start)
    return symmetric_search_into(x, start, count, levels, weights, np.empty((19, count), dtype=np.float32), codes)


@kernel
def symmetric_search_into(x, start, count, levels, weights, rows, codes):
    """:func:`weighted_symmetric_search` with its scratch ``rows`` (19 by ``count``) given."""
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
        l, ok = nearest_int(iscale * x[i])
        defined = defined and ok
        l = clamp(l, -levels, levels - 1)
        codes[i] = l + levels
        w = weights[i - start]
        sum_lx = sum_lx + w * x[i] * np.float32(l)
        sum_l2 = sum_l2 + w * np.float32(l) * np.float32(l)
    scale = sum_lx / sum_l2 if sum_l2 != 0 else ZERO
    best = scale * sum_lx
    # The 18 trials' codes do not depend on one another: all of them first, in one loop the compiler
    # vectorises (its count bounded by the array, so that it is not unrolled into scalar code first).
    # Then their sums three trials at a time, each sum still added in C's order, six chains side by
    # side where one would wait on each addition; the comparisons with the best run in C's order.
    weighted_x, trials = rows[0], rows[1:]
    for i in range(count):
        weighted_x[i] = weights[i] * x[start + i]
    for k in range(18):
        step = k - 9 if k < 9 else k - 8  # -9..-1, then 1..9
        iscale = -(np.float32(levels) + np.float32(0.1) * np.float32(step)) / chosen
        for i in range(count):
            l, ok = nearest_int(iscale * x[start + i])
            defined = defined & ok
            trials[k, i] = np.float32(clamp(l, -levels, levels - 1))
    for first in range(0, 18, 3):
        lx_1 = l2_1 = lx_2 = l2_2 = lx_3 = l2_3 = ZERO
        for i in range(count):
            l_1, l_2, l_3 = trials[first, i], trials[first + 1, i], trials[first + 2, i]
            lx_1 = lx_1 + weighted_x[i] * l_1
            l2_1 = l2_1 + weights[i] * l_1 * l_1
            lx_2 = lx_2 + weighted_x[i] * l_2
            l2_2 = l2_2 + weights[i] * l_2 * l_2
            lx_3 = lx_3 + weighted_x[i] * l_3
            l2_3 = l2_3 + weights[i] * l_3 * l_3
        for k, sum_lx, sum_l2 in ((first, lx_1, l2_1), (first + 1, lx_2, l2_2), (first + 2, lx_3, l2_3)):
            if sum_l2 > 0 and sum_lx * sum_lx > best * sum_l2:
                for i in range(count):
                    codes[start + i] = np.int32(trials[k, i]) + levels
                scale = sum_lx / sum_l2
                best = scale * sum_lx
    return scale, defined


@kernel
def iterative_search(x, start, count, levels, codes):
    """GGF-3.2: ggml's ``make_q3_quants`` with ``do_rmse`` (Q3_K): weights ``w = x^2``.

    Codes start from ``iscale = -levels / max``; then, up to five rounds, each element's code is
    replaced by ``nearest_int(x * sl2 / slx)`` (the sums without that element) when that raises
    ``sumlx^2 / suml2``; a round that changes nothing ends the search. The scale is
    ``sumlx / suml2``; codes are stored offset by ``levels``.
    """
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
        l, ok = nearest_int(iscale * x[i])
        defined = defined and ok
        l = clamp(l, -levels, levels - 1)
        codes[i] = l
        w = x[i] * x[i]
        sum_lx = sum_lx + w * x[i] * np.float32(l)
        sum_l2 = sum_l2 + w * np.float32(l) * np.float32(l)
    for _ in range(5):
        changed = 0
        for i in range(start, start + count):
            w = x[i] * x[i]
            current = np.float32(codes[i])
            slx = sum_lx - w * x[i] * current
            if slx > 0:
                sl2 = sum_l2 - w * current * current
                new_l, ok = nearest_int(x[i] * sl2 / slx)
                defined = defined and ok
                new_l = clamp(new_l, -levels, levels - 1)
                if new_l != codes[i]:
                    slx = slx + w * x[i] * np.float32(new_l)
                    sl2 = sl2 + w * np.float32(new_l) * np.float32(new_l)
                    if sl2 > 0 and slx * slx * sum_l2 > sum_lx * sum_lx * sl2:
                        codes[i] = new_l
                        sum_lx = slx
                        sum_l2 = sl2
                        changed += 1
        if changed == 0:
            break
    for i in range(start, start + count):
        codes[i] += levels
    return (sum_lx / sum_l2 if sum_l2 > 0 else ZERO), defined


@kernel
def weighted_error(x, start, count, weights, codes, scale, minimum, absolute):
    """``sum(w * |scale * l + min - x|)`` (``absolute``) or ``sum(w * (scale * l + min - x)^2)``."""
    total = ZERO
    for i in range(start, start + count):
        difference = scale * np.float32(codes[i]) + minimum - x[i]
        difference = abs(difference) if absolute else difference * difference
        total = total + weights[i - start] * difference
    return total


@kernel
def affine_search(x, start, count, weights, levels, rmin, rdelta, steps, absolute, codes, trial):
    """GGF-3.3: ggml's ``make_qkx2_quants`` (Q2_K, Q4_K, Q5_K): a scale and a minimum.

    ``min`` is the smallest element, raised to 0; codes ``clamp(nearest_int((x - min) * levels /
    (max - min)), 0, levels)`` give the first weighted error. Each of ``steps + 1`` trial scales
    ``iscale = (rmin + rdelta * is + levels) / (max - min)`` gives codes whose weighted least-squares
    scale and minimum (the minimum raised to 0, the scale then ``sum(w l x) / sum(w l^2)``) replace the
    best when their error is strictly smaller. Returns ``(scale, -min, defined)``.
    """
    defined = True
    minimum, maximum, sum_w, sum_x = weighted_range(x, start, count, weights)
    if maximum == minimum:
        for i in range(start, start + count):
            codes[i] = 0
        return ZERO, -minimum, defined
    iscale = np.float32(levels) / (maximum - minimum)
    scale = quotient(np.float32(1.0), iscale)
    for i in range(start, start + count):
        l, ok = nearest_int(iscale * (x[i] - minimum))
        defined = defined and ok
        codes[i] = clamp(l, 0, levels)
    best_error = weighted_error(x, start, count, weights, codes, scale, minimum, absolute)

    def fit(sum_l, sum_l2, sum_xl):
        """The weighted least-squares scale and minimum of one trial's codes, if its determinant is > 0."""
        determinant = sum_w * sum_l2 - sum_l * sum_l
        if not determinant > 0:
            return False, ZERO, ZERO
        this_scale = (sum_w * sum_xl - sum_x * sum_l) / determinant
        this_min = (sum_l2 * sum_x - sum_l * sum_xl) / determinant
        if this_min > 0:
            this_min = ZERO
            this_scale = quotient(sum_xl, sum_l2)
        return True, this_scale, this_min

    # Trials two at a time: each trial's sums still add in C's order, the two trials' chains side
    # by side where one would wait on each addition. A trial depends on the ones before it only
    # through ``minimum``: when the first of a pair is taken and changes it, the second is computed
    # again as the first of the next pair. The codes have a loop of their own, which the compiler
    # vectorises (its count read from the view, so that it is not unrolled into scalar code first);
    # views indexed from 0 need no wrap-around check of a negative index.
    block = x[start:start + count]
    first_codes = trial[start:start + count]
    second_codes = np.empty_like(first_codes)
    count = block.size
    step = 0
    while step <= steps:
        has_second = step < steps
        # A trial's minimum can reach the maximum (a block of negative values, zero weights): C's
        # division by zero gives an infinity, and nearest_int of it is undefined (GGF-1.4).
        first_iscale = quotient(rmin + rdelta * np.float32(step) + np.float32(levels), maximum - minimum)
        second_iscale = quotient(rmin + rdelta * np.float32(step + 1) + np.float32(levels), maximum - minimum)
        for i in range(count):
            l, ok = nearest_int(first_iscale * (block[i] - minimum))
            first_codes[i] = clamp(l, 0, levels)
            l, ok_second = nearest_int(second_iscale * (block[i] - minimum))
            second_codes[i] = clamp(l, 0, levels)
            defined = defined & ok & (ok_second | (not has_second))
        sum_l = sum_l2 = sum_xl = ZERO
        second_l = second_l2 = second_xl = ZERO
        for i in range(count):
            w = weights[i]
            level = np.float32(first_codes[i])
            sum_l = sum_l + w * level
            sum_l2 = sum_l2 + w * level * level
            sum_xl = sum_xl + w * level * block[i]
            level = np.float32(second_codes[i])
            second_l = second_l + w * level
            second_l2 = second_l2 + w * level * level
            second_xl = second_xl + w * level * block[i]
        first_fits, first_scale, first_min = fit(sum_l, sum_l2, sum_xl)
        second_fits, second_scale, second_min = fit(second_l, second_l2, second_xl)
        second_fits = second_fits and has_second
        first_error = ZERO
        second_error = ZERO
        if first_fits:
            first_error = weighted_error(block, 0, count, weights, first_codes, first_scale, first_min, absolute)
        if second_fits:
            second_error = weighted_error(block, 0, count, weights, second_codes, second_scale, second_min,
                                          absolute)
        if first_fits and first_error < best_error:
            for i in range(count):
                codes[start + i] = first_codes[i]
            best_error = first_error
            scale = first_scale
            changed = first_min != minimum
            minimum = first_min
            if changed:
                step += 1
                continue
        if second_fits and second_error < best_error:
            for i in range(count):
                codes[start + i] = second_codes[i]
            best_error = second_error
            scale = second_scale
            minimum = second_min
        step += 2
    return scale, -minimum, defined
