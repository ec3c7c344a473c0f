"""OBS-4: ONNX Runtime's histogram calibrators (``onnxruntime.quantization.calibrate``, 1.32).

ORT collects one histogram per tensor in numpy and picks a range from it: the
*percentile* method cuts a fraction of the mass off the tails, the *entropy* method
(TensorRT's KL-divergence calibration) picks the symmetric window whose 128-level
quantization loses the least information. Counts are int64 and every step before the
entropy's logarithm is exact or a fixed-order float64/float32 computation, restated here.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type


@dataclass(frozen=True)
class CalibrationHistogram:
    """OBS-4.1: ORT's per-tensor histogram.

    ``counts`` (int64) over float32 ``edges``; ``min_val``/``max_val`` the float32 extremes
    seen (NaN ignored); ``threshold`` the half-width of the symmetric range of signed
    histograms (``None`` for the absolute-value histogram of symmetric percentile).
    """

    counts: np.ndarray
    edges: np.ndarray
    min_val: np.float32
    max_val: np.float32
    threshold: np.float32 | None


@kernel
def uniform_bin_counts(values, first_edge, last_edge, edges, counts):
    """OBS-4.2: ``np.histogram`` over equal bins, for float32 values and edges.

    Values outside $[e_0, e_n]$ (and NaN) are skipped. The bin is
    $\\lfloor \\mathrm{fl_{32}}(\\mathrm{fl_{32}}(x - e_0) / \\mathrm{fl_{32}}(e_n - e_0)) \\cdot n \\rfloor$
    (float32), $n$ moved to $n - 1$, then corrected by one against the stored edges: down
    if $x < e_b$, up if $x \\ge e_{b+1}$ (except in the last bin, which includes its right edge).
    """
    bins = counts.size
    width = np.float32(last_edge - first_edge)
    scale = np.float32(bins)
    for index in range(values.size):
        value = values[index]
        if not (value >= first_edge and value <= last_edge):
            continue
        position = np.int64(np.float32(np.float32(np.float32(value - first_edge) / width) * scale))
        if position == bins:
            position -= 1
        if value < edges[position]:
            position -= 1
        if position != bins - 1 and value >= edges[position + 1]:
            position += 1
        counts[position] += 1


def _edges(first_edge: np.float32, last_edge: np.float32, bins: int) -> np.ndarray:
    # numpy's own float32 linspace (what np.histogram stores as edges); its float32
    # arithmetic is numpy's, recorded here rather than re-derived.
    return np.linspace(first_edge, last_edge, bins + 1, endpoint=True, dtype=np.float32)


def symmetric_histogram(values: np.ndarray, bins: int, threshold: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """OBS-4.2: counts and edges of ``np.histogram(values, bins, range=(-t, t))`` (an empty range $t = 0$
    becomes $[-0.5, 0.5]$ in float32)."""
    first, last = np.float32(-threshold), np.float32(threshold)
    if first == last:
        first, last = np.float32(first - np.float32(0.5)), np.float32(last + np.float32(0.5))
    edges = _edges(first, last, bins)
    counts = np.zeros(bins, dtype=np.int64)
    uniform_bin_counts(values, first, last, edges, counts)
    return counts, edges


def _flat_float32(batch, argument: str) -> np.ndarray:
    if not isinstance(batch, np.ndarray) or batch.dtype != np.float32:
        raise wrong_type(argument, "a float32 numpy array (ORT asserts float32 calibration data)", batch)
    return batch.reshape(-1)


def _extremes(values: np.ndarray) -> tuple[np.float32, np.float32]:
    if values.size == 0:
        return np.float32(0.0), np.float32(0.0)
    if np.isnan(values).all():
        raise invalid("batch", "not all NaN (ORT's nanmin gives NaN and the histogram range is not finite)",
                      "an all-NaN batch")
    return np.float32(np.nanmin(values)), np.float32(np.nanmax(values))


def collect_values(state: CalibrationHistogram | None, batch, bins: int = 128) -> CalibrationHistogram:
    """OBS-4.3: ``HistogramCollector.collect_value`` (entropy, and percentile without ``symmetric``).

    $t = \\max(|x_{min}|, |x_{max}|)$ of the batch (an empty batch counts as $[0, 0]$). The
    first batch is binned over $[-t, t]$. Later: if $t \\le t_{old}$ the batch is binned over
    the old range and counts added; else (unless $t_{old} = 0$, which simply rebins over
    $[-t, t]$) the histogram grows by $k = \\lfloor (t - t_{old}) / s \\rfloor + 1$ bins on each side,
    with $s = \\mathrm{fl_{32}}(2 t_{old} / n)$, to $t' = \\mathrm{fl_{32}}(k s + t_{old})$, and the
    old counts land in the middle. Infinite values make the range infinite: RefqValueError.
    """
    values = _flat_float32(batch, "batch")
    low, high = _extremes(values)
    threshold = np.float32(max(abs(low), abs(high)))
    if not np.isfinite(threshold):
        raise invalid("batch", "finite (an infinite value makes ORT's histogram range infinite)", float(threshold))
    if state is None:
        if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, numbers.Integral) or bins < 1:
            raise invalid("bins", "an int >= 1", bins)
        counts, edges = symmetric_histogram(values, int(bins), threshold)
        return CalibrationHistogram(counts, edges, low, high, threshold)
    old = state
    new_min, new_max = min(old.min_val, low), max(old.max_val, high)
    if threshold <= old.threshold:
        counts, _ = symmetric_histogram(values, old.counts.size, old.threshold)
        return CalibrationHistogram(counts + old.counts, old.edges, new_min, new_max, old.threshold)
    if old.threshold == 0:
        counts, edges = symmetric_histogram(values, old.counts.size, threshold)
        return CalibrationHistogram(counts + old.counts, edges, new_min, new_max, threshold)
    old_bins = old.counts.size
    stride = np.float32(np.float32(np.float32(2) * old.threshold) / np.float32(old_bins))
    half_increase = int(np.float32(np.float32(threshold - old.threshold) // stride) + np.float32(1))
    grown = np.float32(np.float32(np.float32(half_increase) * stride) + old.threshold)
    counts, edges = symmetric_histogram(values, old_bins + 2 * half_increase, grown)
    counts[half_increase:half_increase + old_bins] += old.counts
    return CalibrationHistogram(counts, edges, new_min, new_max, grown)


def collect_absolute_values(state: CalibrationHistogram | None, batch, bins: int = 2048) -> CalibrationHistogram:
    """OBS-4.4: ``collect_absolute_value`` (percentile with ``symmetric``): a histogram of $|x|$.

    The first batch is binned over $[\\min |x|, \\max |x|]$. A later batch whose $\\max |x|$
    passes the last edge appends edges $e_n + w, e_n + 2w, \\dots$ (numpy's float32
    ``arange`` up to $\\max|x| + w$, $w = e_1 - e_0$); the batch is binned on the edges by
    search (bin $j$ holds $e_j \\le v < e_{j+1}$, the last bin also $v = e_n$) and old counts added.
    """
    values = _flat_float32(batch, "batch")
    low, high = _extremes(values)
    magnitudes = np.absolute(values)
    if values.size and not np.isfinite(np.nanmax(magnitudes)):
        raise invalid("batch", "finite (an infinite value makes ORT's histogram range infinite)", "inf")
    if state is None:
        if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, numbers.Integral) or bins < 1:
            raise invalid("bins", "an int >= 1", bins)
        if np.isnan(values).any():
            # The first histogram's range is numpy's autodetected [min |x|, max |x|]: NaN, which numpy refuses.
            raise invalid("batch", "free of NaN in the first batch of an absolute-value histogram", "a NaN")
        if values.size == 0:
            first, last = np.float32(0.0), np.float32(1.0)  # numpy's range for empty data
        else:
            first, last = np.float32(magnitudes.min()), np.float32(magnitudes.max())
            if first == last:
                first, last = np.float32(first - np.float32(0.5)), np.float32(last + np.float32(0.5))
        edges = _edges(first, last, int(bins))
        counts = np.zeros(int(bins), dtype=np.int64)
        uniform_bin_counts(magnitudes, first, last, edges, counts)
        return CalibrationHistogram(counts, edges, low, high, None)
    edges = state.edges
    if values.size and np.nanmax(magnitudes) > edges[-1]:
        width = np.float32(edges[1] - edges[0])
        edges = np.hstack((edges, np.arange(edges[-1] + width, np.nanmax(magnitudes) + width, width)))
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    inside = magnitudes[(magnitudes >= edges[0]) & (magnitudes <= edges[-1])]
    positions = np.searchsorted(edges, inside, side="right") - 1
    positions[positions == edges.size - 1] = edges.size - 2
    np.add.at(counts, positions, 1)
    counts[:state.counts.size] += state.counts
    # The grown edges are float64 (numpy's arange of float32 scalars) while binning, and
    # stored rounded to float32, as ORT stores them.
    return CalibrationHistogram(counts, edges.astype(np.float32), min(state.min_val, low), max(state.max_val, high),
                                None)


def percentile_range(histogram: CalibrationHistogram, percentile: float = 99.999,
                     symmetric: bool = False) -> tuple[np.float32, np.float32]:
    """OBS-4.5: ``compute_percentile``: the range that cuts $(100 - p)\\%$ of the mass.

    $F$ = float64 cumulative sum of $c_i / \\sum c$ in order. Symmetric (an $|x|$
    histogram): $\\pm e_j$ with $j$ the first index where $F_j \\ge p / 100$. Otherwise the
    edges at the first indices where $F \\ge (100 - p)/200$ and $F \\ge 1 - (100 - p)/200$
    (float64). Each end is then clipped to the observed $[x_{min}, x_{max}]$.
    """
    if isinstance(percentile, (bool, np.bool_)) or not isinstance(percentile, numbers.Real):
        raise wrong_type("percentile", "a float in [0, 100]", percentile)
    if not 0 <= percentile <= 100:
        raise invalid("percentile", "in [0, 100]", percentile)
    counts, edges = histogram.counts, histogram.edges
    total = counts.sum()
    if total == 0:
        raise invalid("histogram", "a histogram with at least one count", "all-zero counts")
    cdf = np.cumsum(counts / total)
    if symmetric:
        right = np.searchsorted(cdf, percentile / 100.0)
        low, high = np.float32(-edges[right]), np.float32(edges[right])
    else:
        cut = (100.0 - percentile) / 200.0
        right = np.searchsorted(cdf, 1.0 - cut)
        left = np.searchsorted(cdf, cut)
        low, high = np.float32(edges[left]), np.float32(edges[right])
    if low < histogram.min_val:
        low = histogram.min_val
    if high > histogram.max_val:
        high = histogram.max_val
    return low, high


def smooth(distribution: np.ndarray, eps: float = 0.0001) -> np.ndarray | None:
    """OBS-4.6: ORT's ``smooth_distribution``: zeros become $\\varepsilon$, the nonzero entries give up
    $\\varepsilon_1 = \\varepsilon z / (n - z)$ each (float64, then float32 arithmetic); ``None`` if all are zero."""
    zeros = (distribution == 0).astype(np.float32)
    nonzeros = (distribution != 0).astype(np.float32)
    n_zeros = zeros.sum()
    n_nonzeros = distribution.size - n_zeros
    if not n_nonzeros:
        return None
    eps1 = eps * float(n_zeros) / float(n_nonzeros)
    smoothed = distribution.astype(np.float32)
    smoothed += eps * zeros + (-eps1) * nonzeros
    return smoothed


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.float32:
    """OBS-4.6: $\\sum p_i \\ln(p_i / q_i)$ of the float32 normalised $p, q$ (numpy float32 ``log``)."""
    p = 1.0 * p / np.sum(p)
    q = 1.0 * q / np.sum(q)
    terms = p * np.log(p / q)
    terms[(p == 0) & (q >= 0)] = 0
    terms[~((p > 0) & (q > 0))] = np.inf
    return np.float32(np.sum(terms))


def entropy_range(histogram: CalibrationHistogram, quantized_bins: int = 128) -> tuple[np.float32, np.float32]:
    """OBS-4.6: ``get_entropy_threshold``: the window with the least KL divergence.

    For each half-width $i = m/2, \\dots, n/2$ (bins around the centre $n/2$): $p$ = the
    window's counts with the outside mass added to its end bins; $q$ = the window merged
    into $m$ groups of $\\lfloor |p| / m \\rfloor$ bins (the rest joins the last group), each
    group's sum spread evenly (int64 truncation) over its nonzero bins. Both are smoothed,
    and the first window of least KL divergence gives the range $[e_{start}, e_{end}]$,
    clipped to $[x_{min}, x_{max}]$.
    """
    if isinstance(quantized_bins, (bool, np.bool_)) or not isinstance(quantized_bins, numbers.Integral):
        raise wrong_type("quantized_bins", "an int", quantized_bins)
    counts, edges = histogram.counts, histogram.edges
    bins = counts.size
    if quantized_bins < 2 or quantized_bins // 2 > bins // 2:
        raise invalid("quantized_bins", f"an int in [2, {bins}] (at most the histogram's bins)", quantized_bins)
    center = bins // 2
    half = quantized_bins // 2
    dtype = edges.dtype
    divergences = np.zeros(center - half + 1)
    windows = []
    for i in range(half, center + 1):
        start = center - i
        end = min(center + i + 1, bins)
        windows.append((edges[start], edges[end]))
        window = counts[start:end].copy()
        p = window.copy()
        p[0] += int(counts[:start].sum())
        p[-1] += int(counts[end:].sum())
        nonzero = (p != 0).astype(np.int64)
        merged = window.size // quantized_bins
        groups = np.zeros(quantized_bins, dtype=np.int64)
        for index in range(quantized_bins):
            groups[index] = window[index * merged:(index + 1) * merged].sum()
        groups[-1] += window[quantized_bins * merged:].sum()
        q = np.zeros(p.size, dtype=np.int64)
        for index in range(quantized_bins):
            first, last = index * merged, (index + 1) * merged
            norm = nonzero[first:last].sum()
            if norm != 0:
                q[first:last] = groups[index] / norm
        p_smooth, q_smooth = smooth(p), smooth(q)
        if p_smooth is None or q_smooth is None:
            divergences[i - half] = np.array(np.inf, dtype=dtype)
        else:
            divergences[i - half] = np.array(kl_divergence(p_smooth, q_smooth), dtype=dtype)
    low, high = windows[int(np.argmin(divergences))]
    low, high = np.float32(low), np.float32(high)
    if low < histogram.min_val:
        low = histogram.min_val
    if high > histogram.max_val:
        high = histogram.max_val
    return low, high
