"""OBS-3: PyTorch's ``HistogramObserver`` (torch 2.13), step for step in float32.

State: a float32 histogram of ``bins`` bins over $[m_{min}, m_{max}]$. Update: the first
batch sets the range and bins its values; a later batch is binned over the union of
ranges, and when the range grew the old histogram is spread 16-fold finer and re-binned
into the new range. Qparams: a greedy search that narrows the range bin by bin from
whichever side holds less mass while the L2 quantization error keeps falling, then
the affine/symmetric rule of OBS-1 on the narrowed range.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.observers.qparams import DTYPE_RANGES, FLOAT32_EPS, QParams, qparams_from_range
from refq.observers.torch_reductions import (
    ATEN_GRAIN_SIZE,
    EXACT_COUNT_LIMIT,
    cascade_sum_float32,
    cumsum_float32,
    histc_accumulate,
    histc_bin,
    linspace_element,
    linspace_step,
)

#: torch's defaults: 2048 bins, old histograms spread 16-fold before re-binning.
DEFAULT_BINS = 2048
UPSAMPLE_RATE = 16
#: Bits of each target type; the search measures error on $2^{bits}$ destination bins.
_DTYPE_BITS = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32}
_STEPSIZE = 1e-5


@dataclass(frozen=True)
class HistogramState:
    """OBS-3.4: the observer's state.

    ``histogram`` holds float32 counts (fractional once a range growth re-binned them);
    an unobserved state has zeros and $m_{min} = +\\infty$, $m_{max} = -\\infty$.
    ``unpredictable`` becomes True when a batch put $2^{24}$ or more values in range:
    a bin may then pass $2^{24}$, where float32 counting stops being exact and torch's
    result depends on how its threads split the batch.
    """

    histogram: np.ndarray
    min_val: np.float32
    max_val: np.float32
    unpredictable: bool = False

    @property
    def bins(self) -> int:
        return int(self.histogram.size)


def histogram_init(bins: int = DEFAULT_BINS) -> HistogramState:
    """OBS-3.4: the unobserved state of an observer with ``bins`` bins."""
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, numbers.Integral):
        raise wrong_type("bins", "an int", bins)
    if bins < 1:
        raise invalid("bins", "an int >= 1", bins)
    return HistogramState(np.zeros(int(bins), dtype=np.float32), np.float32(np.inf), np.float32(-np.inf))


def histc_edges(low: float, high: float, batch: np.ndarray) -> tuple[np.float32, np.float32]:
    """OBS-3.2: the outer edges ``torch.histc`` bins over, from the requested float64 range.

    An empty range $l = h$ is replaced by the batch's own extremes, and if those are
    equal too, by $[l - 1, h + 1]$ computed in float64; the edges are then rounded to float32.
    """
    if low == high and batch.size > 0:
        low, high = float(batch.min()), float(batch.max())
    if low == high:
        low, high = low - 1.0, high + 1.0
    return np.float32(low), np.float32(high)


def histc(batch: np.ndarray, bins: int, low: float, high: float) -> np.ndarray:
    """OBS-3.2: ``torch.histc(batch, bins, min=low, max=high)`` as float32 counts."""
    left, right = histc_edges(low, high, batch)
    counts = np.zeros(bins, dtype=np.float32)
    histc_accumulate(batch, left, right, counts)
    return counts


@kernel
def upscale_histogram(histogram, orig_min, orig_max, update_min, update_max, upsample_rate, out):
    """OBS-3.5: spread the old histogram over the new range $[u_{min}, u_{max}]$ (``_upscale_histogram``).

    Each old bin is split into $r$ = ``upsample_rate`` sub-bins of mass $\\mathrm{fl_{32}}(c / r)$.
    A sub-bin's midpoint is $\\mathrm{fl_{32}}(x_k + \\mathrm{fl_{32}}(w / 2))$, with $x_k$ the
    float32 linspace of $[m_{min}, m_{max}]$ over $B r + 1$ points (OBS-3.1) and
    $w = \\mathrm{fl_{32}}(\\mathrm{fl_{32}}(m_{max} - m_{min}) / (B r))$. It goes to the new bin $j$
    with $e_j \\le$ midpoint $< e_{j+1}$ among the float32 linspace edges $e$ of the new
    range (clamped to $[0, B - 1]$), and the masses are added to ``out`` in float32, in
    order of sub-bins.
    """
    bins = histogram.size
    fine = bins * upsample_rate
    half_width = np.float32(np.float32(np.float32(orig_max - orig_min) / np.float32(fine)) * np.float32(0.5))
    fine_step = linspace_step(orig_min, orig_max, fine + 1)
    edges = np.empty(bins + 1, dtype=np.float32)
    edge_step = linspace_step(update_min, update_max, bins + 1)
    for index in range(bins + 1):
        edges[index] = linspace_element(update_min, update_max, edge_step, index, bins + 1)
    rate = np.float32(upsample_rate)
    for sub_bin in range(fine):
        mass = np.float32(histogram[sub_bin // upsample_rate] / rate)
        midpoint = np.float32(linspace_element(orig_min, orig_max, fine_step, sub_bin, fine + 1) + half_width)
        # bucketize(right=True) - 1: the number of edges <= midpoint, minus one
        low = 0
        high = bins + 1
        while low < high:
            middle = (low + high) // 2
            if edges[middle] <= midpoint:
                low = middle + 1
            else:
                high = middle
        target = low - 1
        if target >= bins:
            target = bins - 1
        if target < 0:
            target = 0
        out[target] = out[target] + mass


def _combine(state: HistogramState, update: np.ndarray, new_min: np.float32, new_max: np.float32) -> np.ndarray:
    """OBS-3.5: the old histogram carried into the grown range, plus the batch's histogram."""
    if state.min_val == state.max_val:
        # Every value seen so far was one number: its whole mass sits in one bin (so the
        # sum is exact in any order) and moves to the bin histc gives that number.
        mass = cascade_sum_float32(state.histogram)
        carried = np.zeros(state.bins, dtype=np.float32)
        position = histc_bin(state.min_val, new_min, new_max, state.bins)
        if position >= 0:
            carried[position] = np.float32(1.0) * mass
        return update + carried
    carried = np.zeros(state.bins, dtype=np.float32)
    upscale_histogram(state.histogram, state.min_val, state.max_val, new_min, new_max, UPSAMPLE_RATE, carried)
    return update + carried


def _batch_values(batch) -> np.ndarray:
    if isinstance(batch, np.ndarray):
        if batch.dtype != np.float32:
            raise wrong_type("batch", "a float32 array (torch bins other dtypes in their own precision)", batch)
        return batch.reshape(-1)
    if isinstance(batch, (list, tuple)):
        try:
            values = np.asarray(batch, dtype=np.float64)
        except (TypeError, ValueError):
            raise wrong_type("batch", "a float32 array or a list of floats", batch) from None
        with np.errstate(over="ignore"):
            return values.astype(np.float32).reshape(-1)
    raise wrong_type("batch", "a float32 array or a list of floats", batch)


def histogram_update(state: HistogramState, batch) -> HistogramState:
    """OBS-3.6: observe one batch (``HistogramObserver.forward``).

    * An empty batch, or one of only $\\pm\\infty$, leaves the state as it is; infinities
      are dropped from any batch.
    * A batch containing NaN raises :class:`~refq.errors.RefqValueError` (torch's histc
      refuses the NaN range and raises RuntimeError); the state is unchanged.
    * The first batch sets $[m_{min}, m_{max}]$ to its extremes and bins itself (OBS-3.2).
    * A later batch is binned over $[\\min(m_{min}, x_{min}), \\max(m_{max}, x_{max})]$; if the
      range is unchanged the counts are added in float32, otherwise the old histogram is
      carried over by OBS-3.5 first.
    """
    if not isinstance(state, HistogramState):
        raise wrong_type("state", "a HistogramState (from histogram_init)", state)
    values = _batch_values(batch)
    if values.size == 0:
        return state
    if np.isnan(values).any():
        raise invalid("batch", "free of NaN (torch.histc raises 'range of [nan, nan] is not finite')",
                      "a batch with NaN")
    if np.isinf(values).any():
        values = values[~np.isinf(values)]
        if values.size == 0:
            return state
    batch_min, batch_max = values.min(), values.max()
    unpredictable = state.unpredictable or values.size >= EXACT_COUNT_LIMIT
    bins = state.bins
    if state.min_val == np.inf or state.max_val == -np.inf:
        counts = histc(values, bins, float(batch_min), float(batch_max))
        return HistogramState(counts, np.float32(batch_min), np.float32(batch_max), unpredictable)
    new_min = min(state.min_val, batch_min)
    new_max = max(state.max_val, batch_max)
    update = histc(values, bins, float(new_min), float(new_max))
    if new_min == state.min_val and new_max == state.max_val:
        return HistogramState(state.histogram + update, state.min_val, state.max_val, unpredictable)
    # histc bins the update over [new_min, new_max] only when they differ; the carried
    # histogram uses the same float32 edges.
    left, right = histc_edges(float(new_min), float(new_max), values)
    combined = _combine(state, update, left, right)
    return HistogramState(combined, np.float32(new_min), np.float32(new_max), unpredictable)


@kernel
def cube_difference(delta_begin, delta_end):
    """OBS-3.7: $\\mathrm{fl_{32}}((e^3 - b^3) / 3)$, cubes as two float32 products each."""
    return np.float32(np.float32(delta_end * delta_end * delta_end - delta_begin * delta_begin * delta_begin)
                      / np.float32(3.0))


@kernel
def floor_divide_float32(a, b):
    """``torch.div(a, b, rounding_mode="floor")`` in float32: $(a - \\mathrm{fmod}(a, b)) / b$
    with Python's sign fix-up, then rounded to the nearest integer below or at it."""
    if b == 0:
        return np.float32(a / b)
    mod = np.float32(np.fmod(np.float64(a), np.float64(b)))  # exact in any precision
    quotient = np.float32(np.float32(a - mod) / b)
    if mod != 0 and (b < 0) != (mod < 0):
        quotient = np.float32(quotient - np.float32(1.0))
    if quotient != 0:
        floored = np.float32(np.floor(quotient))
        if np.float32(quotient - floored) > np.float32(0.5):
            floored = np.float32(floored + np.float32(1.0))
        return floored
    return np.float32(math.copysign(0.0, a / b))


@kernel
def quantization_error(histogram, min_val, max_val, start_bin, end_bin, dst_nbins, norms):
    """OBS-3.7: the L2 error of quantizing the histogram with the range of bins ``start_bin..end_bin``.

    With $w = (m_{max} - m_{min}) / B$ and $\\delta = w (b_e - b_s + 1) / N$ in float64
    ($N = 2^{bits}$ destination bins), every source bin $i$, as a uniform density
    $\\rho_i = \\mathrm{fl_{32}}(c_i / w)$ on $[b_i, b_i + w]$ with $b_i = (i - b_s) w$ (float32),
    contributes the squared distance of its mass to the centres of the destination bins
    it overlaps: a partial first bin, $(d_e - d_b - 1)$ whole bins of error
    $\\rho \\delta^3 / 12$, and a partial last bin, each $\\rho (e^3 - b^3)/3$ in float32.
    The per-bin errors are summed by OBS-3.3 (``torch.sum``). Zero when $\\delta = 0$.
    """
    bins = histogram.size
    width = (np.float64(max_val) - np.float64(min_val)) / bins
    dst_width = width * (end_bin - start_bin + 1) / dst_nbins
    if dst_width == 0.0:
        return 0.0
    width32 = np.float32(width)
    dst32 = np.float32(dst_width)
    half = np.float32(dst_width / 2)
    minus_half = np.float32(-dst_width / 2)
    last = np.float32(dst_nbins - 1)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    whole_bin = cube_difference(minus_half, half)
    for index in range(bins):
        begin = np.float32(np.float32(index - start_bin) * width32)
        end = np.float32(begin + width32)
        bin_of_begin = min(max(floor_divide_float32(begin, dst32), zero), last)
        center_of_begin = np.float32(np.float32(bin_of_begin + np.float32(0.5)) * dst32)
        bin_of_end = min(max(floor_divide_float32(end, dst32), zero), last)
        density = np.float32(histogram[index] / width32)
        first = np.float32(density * cube_difference(np.float32(begin - center_of_begin), half))
        whole = np.float32(np.float32(np.float32(bin_of_end - bin_of_begin) - one) * np.float32(density * whole_bin))
        center_of_end = np.float32(np.float32(bin_of_end * dst32) + half)
        partial = np.float32(density * cube_difference(minus_half, np.float32(end - center_of_end)))
        norms[index] = np.float32(np.float32(first + whole) + partial)
    return np.float64(cascade_sum_float32(norms))


@kernel
def search_range(histogram, min_val, max_val, dst_nbins):
    """OBS-3.8: the narrowed range $[m'_{min}, m'_{max}]$ (``_non_linear_param_search``).

    $T = $ ``torch.sum`` of the counts (OBS-3.3), $C$ their cumulative sums. Quantile
    bounds $\\alpha = 0, \\beta = 1$ move in float64 steps of $10^{-5}$; each round finds the
    first bin $l \\ge b_s$ with $C_l \\ge \\mathrm{fl_{32}}(\\alpha' T)$ and the last $r \\le b_e$ with
    $C_r \\le \\mathrm{fl_{32}}(\\beta' T)$ (float32 comparisons), moves the side that would
    drop more bins (the end on a tie), and keeps the move while the error of OBS-3.7 does
    not increase. Then $m'_{min} = m_{min} + w_{32} b_s$ and $m'_{max} = m_{min} + w_{32} (b_e + 1)$
    with $w_{32} = \\mathrm{fl_{32}}(\\mathrm{fl_{32}}(m_{max} - m_{min}) / B)$.
    """
    bins = histogram.size
    total = np.float64(cascade_sum_float32(histogram))
    cumulative = np.empty(bins, dtype=np.float32)
    cumsum_float32(histogram, cumulative)
    norms = np.empty(bins, dtype=np.float32)
    alpha = 0.0
    beta = 1.0
    start_bin = 0
    end_bin = bins - 1
    norm_min = np.inf
    while alpha < beta:
        next_alpha = alpha + 1e-5
        next_beta = beta - 1e-5
        left = start_bin
        right = end_bin
        while left < end_bin and cumulative[left] < np.float32(next_alpha * total):
            left += 1
        while right > start_bin and cumulative[right] > np.float32(next_beta * total):
            right -= 1
        next_start = start_bin
        next_end = end_bin
        if (left - start_bin) > (end_bin - right):
            next_start = left
            alpha = next_alpha
        else:
            next_end = right
            beta = next_beta
        if next_start == start_bin and next_end == end_bin:
            continue
        norm = quantization_error(histogram, min_val, max_val, next_start, next_end, dst_nbins, norms)
        if norm > norm_min:
            break
        norm_min = norm
        start_bin = next_start
        end_bin = next_end
    width = np.float32(np.float32(max_val - min_val) / np.float32(bins))
    new_min = np.float32(min_val + np.float32(width * np.float32(start_bin)))
    new_max = np.float32(min_val + np.float32(width * np.float32(end_bin + 1)))
    return new_min, new_max


def histogram_qparams(state: HistogramState, *, dtype: str = "uint8", qscheme: str = "affine",
                      reduce_range: bool = False, quant_min: int | None = None, quant_max: int | None = None,
                      eps: float = FLOAT32_EPS) -> tuple[QParams, tuple[np.float32, np.float32] | None, bool]:
    """OBS-3.9: scale and zero point (``HistogramObserver.calculate_qparams``).

    Returns ``(qparams, (new_min, new_max), unpredictable)``: the range OBS-3.8 chose and
    OBS-1.7 applied to it. An unobserved state gives torch's default $(1.0, 0)$ and range
    ``None``. ``unpredictable`` is True when the state is (OBS-3.4) or when more than
    32768 bins let torch split its sums between threads.
    """
    if not isinstance(state, HistogramState):
        raise wrong_type("state", "a HistogramState (from histogram_init)", state)
    if not isinstance(qscheme, str) or qscheme not in ("affine", "symmetric"):
        raise invalid("qscheme", "'affine' or 'symmetric' (torch's HistogramObserver is per tensor)", qscheme)
    if not isinstance(dtype, str) or dtype not in _DTYPE_BITS:
        raise invalid("dtype", f"one of {sorted(_DTYPE_BITS)}", dtype)
    if state.min_val == np.inf and state.max_val == -np.inf:
        return QParams(np.float32(1.0), 0, False), None, state.unpredictable
    new_min, new_max = search_range(state.histogram, state.min_val, state.max_val, 2 ** _DTYPE_BITS[dtype])
    qparams = qparams_from_range(new_min, new_max, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                                 quant_min=quant_min, quant_max=quant_max, eps=eps)
    unpredictable = state.unpredictable or state.bins > ATEN_GRAIN_SIZE
    return qparams, (np.float32(new_min), np.float32(new_max)), unpredictable


assert set(_DTYPE_BITS) <= set(DTYPE_RANGES)
