"""OBS-3.1 to OBS-3.3: the float32 array primitives PyTorch's HistogramObserver is built from.

Each function reproduces one ATen CPU kernel of torch 2.13 element for element:
``torch.linspace`` (a fused multiply-add per element), ``torch.histc`` (bin index by one
float32 division, no edge correction), ``torch.sum`` of a float32 vector (a fixed cascade
of 8-lane accumulators) and ``torch.cumsum`` (a float64 running sum stored as float32).
They were identified by comparing candidate rules with the installed torch; the tests
keep that comparison running.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.steps import round_sum_to_float32

#: ATen's reduction kernels split work between threads only above this many elements;
#: below it the order of a sum is fixed (:func:`cascade_sum_float32`).
ATEN_GRAIN_SIZE = 32768
#: float32 counts are exact integers only up to $2^{24}$.
EXACT_COUNT_LIMIT = 2**24

_LANES = 8  # Vectorized<float> width of the reduction kernel (AVX2 and AVX-512 builds alike)
_ILP = 4  # independent vector accumulators
_LEVELS = 4  # cascade levels


@kernel
def linspace_element(start, end, step, index, steps):
    """OBS-3.1: element ``index`` of ``torch.linspace(start, end, steps)`` in float32.

    With $h = \\lfloor n/2 \\rfloor$ and the float32 step $d = \\mathrm{fl_{32}}((e - s) / (n - 1))$:
    $x_i = \\mathrm{fma}(d, i, s)$ for $i < h$ and $x_i = \\mathrm{fma}(-d, n - 1 - i, e)$ otherwise,
    each rounded once (the build contracts the multiply and add into one FMA).
    The product of a float32 and an index below $2^{29}$ is exact in float64.
    """
    if index < steps // 2:
        return round_sum_to_float32(np.float64(start), np.float64(step) * np.float64(index))
    return round_sum_to_float32(np.float64(end), -(np.float64(step) * np.float64(steps - 1 - index)))


@kernel
def linspace_step(start, end, steps):
    """The float32 step of OBS-3.1: $\\mathrm{fl_{32}}(\\mathrm{fl_{32}}(e - s) / (n - 1))$."""
    return np.float32(np.float32(end - start) / np.float32(steps - 1))


@kernel
def linspace_float32(start, end, out):
    """OBS-3.1 for every element of ``out`` (``steps = out.size``)."""
    steps = out.size
    if steps == 1:
        out[0] = start
        return
    step = linspace_step(start, end, steps)
    for index in range(steps):
        out[index] = linspace_element(start, end, step, index, steps)


@kernel
def histc_bin(value, low, high, bins):
    """OBS-3.2: the bin of ``value`` in ``torch.histc`` over float32 edges $[l, h]$, or -1.

    Values outside $[l, h]$ and NaN are skipped. Otherwise
    $b = \\lfloor \\mathrm{fl_{32}}(\\mathrm{fl_{32}}((x - l) \\cdot B) / \\mathrm{fl_{32}}(h - l)) \\rfloor$,
    and $b = B$ (only $x = h$ or a rounding up) goes to the last bin $B - 1$. No
    correction against the linspace edges is made, so a value within an ulp of an
    inner edge may land in the neighbouring bin of the one the edges suggest.
    """
    if not (value >= low and value <= high):
        return -1
    position = np.int64(np.float32(np.float32(value - low) * np.float32(bins)) / np.float32(high - low))
    if position >= bins:
        position = bins - 1
    return position


@kernel
def histc_accumulate(values, low, high, counts):
    """OBS-3.2: add one (in float32) to ``counts`` for every value of ``values`` in range."""
    bins = counts.size
    one = np.float32(1.0)
    for index in range(values.size):
        position = histc_bin(values[index], low, high, bins)
        if position >= 0:
            counts[position] = counts[position] + one


@kernel
def cascade_sum_float32(values):
    """OBS-3.3: ``torch.sum`` of a contiguous float32 vector of fewer than 32768 elements.

    The vector is read as rows of 8 lanes; rows go round-robin to 4 accumulators (rows
    $4k + j$ to accumulator $j$), each a cascade of 4 levels that passes its level-0 sum
    upward every $2^p$ rows ($p = \\max(4, \\lceil \\log_2 m \\rceil / 4)$ for $m$ groups of 4
    rows), so that no partial sum grows much larger than its neighbours. Leftover rows join
    accumulator 0, the accumulators are added 0+1+2+3, then the leftover elements
    (fewer than 8) are summed from 0.0 and the 8 lanes added to that in order. All float32.
    """
    n = values.size
    rows = n // 8
    groups = rows // 4
    power = 4
    if groups > 1:
        ceil_log2 = 0
        while (np.int64(1) << ceil_log2) < groups:
            ceil_log2 += 1
        if ceil_log2 // 4 > power:
            power = ceil_log2 // 4
    level_step = np.int64(1) << power
    level_mask = level_step - 1
    acc = np.zeros((4, 4, 8), dtype=np.float32)
    group = 0
    while group + level_step <= groups:
        for _ in range(level_step):
            for j in range(4):
                base = (group * 4 + j) * 8
                for lane in range(8):
                    acc[0, j, lane] = acc[0, j, lane] + values[base + lane]
            group += 1
        for level in range(1, 4):
            for j in range(4):
                for lane in range(8):
                    acc[level, j, lane] = acc[level, j, lane] + acc[level - 1, j, lane]
                    acc[level - 1, j, lane] = np.float32(0.0)
            if (group & (level_mask << (level * power))) != 0:
                break
    while group < groups:
        for j in range(4):
            base = (group * 4 + j) * 8
            for lane in range(8):
                acc[0, j, lane] = acc[0, j, lane] + values[base + lane]
        group += 1
    for level in range(1, 4):
        for j in range(4):
            for lane in range(8):
                acc[0, j, lane] = acc[0, j, lane] + acc[level, j, lane]
    for row in range(groups * 4, rows):
        for lane in range(8):
            acc[0, 0, lane] = acc[0, 0, lane] + values[row * 8 + lane]
    for j in range(1, 4):
        for lane in range(8):
            acc[0, 0, lane] = acc[0, 0, lane] + acc[0, j, lane]
    total = np.float32(0.0)
    for index in range(rows * 8, n):
        total = total + values[index]
    for lane in range(8):
        total = total + acc[0, 0, lane]
    return total


@kernel
def cumsum_float32(values, out):
    """OBS-3.3: ``torch.cumsum`` of float32: a float64 running sum, each prefix rounded to float32."""
    running = 0.0
    for index in range(values.size):
        running = running + np.float64(values[index])
        out[index] = np.float32(running)
