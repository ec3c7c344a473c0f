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
from refq.gguf.conversions import NEAREST_INT_LIMIT, NEAREST_INT_SHIFT, nearest_int

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


#: The trials of GGF-3.1, one lane each: ``is`` = 0 (the first pass, ``-(n + 0.1 * 0) / max`` being
#: ``-n / max``), then -9..-1 and 1..9; the lanes after them repeat the first pass and are never chosen.
#: 32 lanes: two vectors of 16 float32, a count the compiler vectorises whole.
TRIAL_STEPS = np.float32([0] + list(range(-9, 0)) + list(range(1, 10)) + [0] * 13)
TRIALS = 19


@kernel
def search_lanes(count):
    """The scratch of :func:`symmetric_search_into` for a sub-block of ``count`` elements: the trial
    scales, the two sums and each element's code, one lane per trial (and one row of weights)."""
    return np.empty((4 + count, TRIAL_STEPS.size), dtype=np.float32)


@kernel
def clamped_nearest(value, low, high):
    """``clamp(nearest_int(value), low, high)`` (GGF-1.4) as a float32 and whether it is defined: the
    sum ``value + 1.5 * 2^23`` minus ``1.5 * 2^23`` is the rounded integer exactly (a float32 lane,
    where an integer would take two)."""
    defined = abs(value) <= NEAREST_INT_LIMIT
    rounded = (value + NEAREST_INT_SHIFT) - NEAREST_INT_SHIFT
    return clamp(rounded if defined else ZERO, low, high), defined


@kernel
def symmetric_search(x, start, count, levels, codes, lanes):
    """GGF-3.1: ggml's ``make_qx_quants`` with ``rmse_type = 1`` and no weights (Q6_K): ``w = x^2``,
    the search of :func:`weighted_symmetric_search` in the scratch ``lanes`` (:func:`search_lanes`)."""
    count = min(count, x.size - start)
    weights = lanes[0, :count]
    for i in range(count):
        weights[i] = x[start + i] * x[start + i]
    return symmetric_search_into(x, start, count, levels, weights, lanes[1:], codes)


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
    return symmetric_search_into(x, start, count, levels, weights, search_lanes(count)[1:], codes)


@kernel
def symmetric_search_into(x, start, count, levels, weights, lanes, codes):
    """:func:`weighted_symmetric_search` in the scratch ``lanes`` (:func:`search_lanes` without its
    first row)."""
    defined = True
    largest, chosen = signed_largest(x, start, count)
    if largest < GROUP_MAX_EPS:
        for i in range(start, start + count):
            codes[i] = 0
        return ZERO, defined
    # The first pass and the 18 trials do not depend on one another until they are compared: all of
    # them at once, one lane each (TRIAL_STEPS), element by element, so that each trial's sums still
    # add in C's order while the lanes proceed side by side (in vectors). Then the comparisons, in C's
    # order, and the codes of the trial kept.
    low = np.float32(-levels)
    high = np.float32(levels - 1)
    iscales, sums_lx, sums_l2, trial_codes = lanes[0], lanes[1], lanes[2], lanes[3:]
    for k in range(iscales.size):
        iscales[k] = -(np.float32(levels) + np.float32(0.1) * TRIAL_STEPS[k]) / chosen
        sums_lx[k] = ZERO
        sums_l2[k] = ZERO
    block = x[start:start + count]
    for i in range(count):
        w = weights[i]
        weighted_x = w * block[i]
        row = trial_codes[i]
        for k in range(TRIAL_STEPS.size):
            l, ok = clamped_nearest(iscales[k] * block[i], low, high)
            defined = defined & ok
            row[k] = l
            sums_lx[k] = sums_lx[k] + weighted_x * l
            sums_l2[k] = sums_l2[k] + w * l * l
    scale = sums_lx[0] / sums_l2[0] if sums_l2[0] != 0 else ZERO
    best = scale * sums_lx[0]
    kept = 0
    for k in range(1, TRIALS):
        if sums_l2[k] > 0 and sums_lx[k] * sums_lx[k] > best * sums_l2[k]:
            scale = sums_lx[k] / sums_l2[k]
            best = scale * sums_lx[k]
            kept = k
    for i in range(count):
        codes[start + i] = int(trial_codes[i, kept]) + levels
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
    # Views indexed from 0: indices that need no wrap-around check.
    block = x[start:start + count]
    sub_codes = codes[start:start + count]
    sum_lx = ZERO
    sum_l2 = ZERO
    for i in range(count):
        l, ok = nearest_int(iscale * block[i])
        defined = defined and ok
        l = clamp(l, -levels, levels - 1)
        sub_codes[i] = l
        w = block[i] * block[i]
        sum_lx = sum_lx + w * block[i] * np.float32(l)
        sum_l2 = sum_l2 + w * np.float32(l) * np.float32(l)
    for _ in range(5):
        changed = 0
        for i in range(count):
            w = block[i] * block[i]
            current = np.float32(sub_codes[i])
            slx = sum_lx - w * block[i] * current
            if slx > 0:
                sl2 = sum_l2 - w * current * current
                new_l, ok = nearest_int(block[i] * sl2 / slx)
                defined = defined and ok
                new_l = clamp(new_l, -levels, levels - 1)
                if new_l != sub_codes[i]:
                    slx = slx + w * block[i] * np.float32(new_l)
                    sl2 = sl2 + w * np.float32(new_l) * np.float32(new_l)
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
