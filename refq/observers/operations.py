"""Observers as operations: a sequence of batches and options in, the observer state and
(scale, zero_point) out, as plain dicts (the shape a conformance harness stores and compares)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from refq.errors import invalid, wrong_type
from refq.observers.calibrators import collect_absolute_values, collect_values, entropy_range, percentile_range
from refq.observers.dynamic import dynamic_quantize_linear, torch_dynamic_qparams
from refq.observers.histogram import histogram_init, histogram_qparams, histogram_update
from refq.observers.minmax import MinMaxState, initial_state, minmax_qparams, minmax_update
from refq.observers.moving_average import moving_average_update
from refq.observers.mse import mse_search
from refq.observers.qparams import QParams


def _batches(batches) -> list:
    if isinstance(batches, (np.ndarray, str, bytes)) or not isinstance(batches, Iterable):
        raise wrong_type("batches", "a sequence of arrays (one per batch)", batches)
    return list(batches)


def _result(state: MinMaxState, qparams: QParams) -> dict:
    return {"min_val": state.min_val, "max_val": state.max_val, "scale": qparams.scale,
            "zero_point": qparams.zero_point, "unpredictable": qparams.unpredictable}


def observe_minmax(batches, *, dtype: str = "uint8", qscheme: str = "affine", reduce_range: bool = False,
                   quant_min: int | None = None, quant_max: int | None = None, narrow: bool = False,
                   ch_axis: int | None = None) -> dict:
    """MinMaxObserver (``ch_axis=None``) or PerChannelMinMaxObserver over ``batches`` (OBS-2.1 to OBS-2.5)."""
    state = initial_state(ch_axis)
    for batch in _batches(batches):
        state = minmax_update(state, batch)
    return _result(state, minmax_qparams(state, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                                         quant_min=quant_min, quant_max=quant_max, narrow=narrow))


def observe_moving_average(batches, *, averaging_constant: float = 0.01, dtype: str = "uint8",
                           qscheme: str = "affine", reduce_range: bool = False, quant_min: int | None = None,
                           quant_max: int | None = None, narrow: bool = False, ch_axis: int | None = None) -> dict:
    """MovingAverage[PerChannel]MinMaxObserver over ``batches`` (OBS-2.6, OBS-2.5)."""
    state = initial_state(ch_axis)
    for batch in _batches(batches):
        state = moving_average_update(state, batch, averaging_constant)
    return _result(state, minmax_qparams(state, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                                         quant_min=quant_min, quant_max=quant_max, narrow=narrow))


def dynamic_quantize(x, *, profile: str = "onnxruntime") -> dict:
    """ONNX DynamicQuantizeLinear under a profile of ``refq.observers.dynamic.DYNAMIC_PROFILES`` (OBS-5.5)."""
    result = dynamic_quantize_linear(x, profile=profile)
    return {"y": result.y, "scale": result.scale, "zero_point": result.zero_point,
            "unpredictable": result.unpredictable, "parameters_unpredictable": result.parameters_unpredictable}


def torch_dynamic(x, *, reduce_range: bool = True) -> dict:
    """PyTorch's dynamic per-batch parameters (OBS-5.7)."""
    result = torch_dynamic_qparams(x, reduce_range=reduce_range)
    return {"scale": result.scale, "scale_float32": result.scale_float32, "zero_point": result.zero_point,
            "unpredictable": result.unpredictable}


def observe_histogram(batches, *, bins: int = 2048, dtype: str = "uint8", qscheme: str = "affine",
                      reduce_range: bool = False) -> dict:
    """HistogramObserver over ``batches`` (OBS-3.4 to OBS-3.9): the state (histogram and range),
    the range the search chose (None before any batch) and the parameters."""
    state = histogram_init(bins)
    for batch in _batches(batches):
        state = histogram_update(state, batch)
    qparams, searched, unpredictable = histogram_qparams(state, dtype=dtype, qscheme=qscheme,
                                                         reduce_range=reduce_range)
    return {"histogram": state.histogram, "min_val": state.min_val, "max_val": state.max_val,
            "searched_range": searched, "scale": qparams.scale, "zero_point": qparams.zero_point,
            "unpredictable": bool(unpredictable or qparams.unpredictable)}


def _calibration_histogram(batches, collect, num_bins: int):
    """Feed each batch to one ORT histogram in turn (one ``HistogramCollector.collect`` call per batch)."""
    if isinstance(num_bins, (bool, np.bool_)) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
        raise invalid("num_bins", "an int >= 1", num_bins)
    observed = _batches(batches)
    if not observed:
        raise invalid("batches", "at least one batch (ONNX Runtime has no histogram to take a range from)",
                      "no batches")
    state = None
    for batch in observed:
        state = collect(state, batch, num_bins)
    return state


def calibrate_percentile(batches, *, num_bins: int = 2048, percentile: float = 99.999,
                         symmetric: bool = False) -> dict:
    """ONNX Runtime's percentile calibrator (OBS-4.3 to OBS-4.5): the range and the histogram it came from."""
    if not isinstance(symmetric, (bool, np.bool_)):
        raise wrong_type("symmetric", "a bool", symmetric)
    collect = collect_absolute_values if symmetric else collect_values
    state = _calibration_histogram(batches, collect, num_bins)
    lowest, highest = percentile_range(state, percentile, bool(symmetric))
    return {"lowest": lowest, "highest": highest, "hist": state.counts, "hist_edges": state.edges}


def calibrate_entropy(batches, *, num_bins: int = 128, num_quantized_bins: int = 128) -> dict:
    """ONNX Runtime's entropy (KL divergence) calibrator (OBS-4.3, OBS-4.6): the range and the histogram."""
    state = _calibration_histogram(batches, collect_values, num_bins)
    lowest, highest = entropy_range(state, num_quantized_bins)
    return {"lowest": lowest, "highest": highest, "hist": state.counts, "hist_edges": state.edges}


def search_mse(batches, *, candidates: int = 100, dtype: str = "uint8", qscheme: str = "affine",
               reduce_range: bool = False, quant_min: int | None = None, quant_max: int | None = None,
               narrow: bool = False) -> dict:
    """refq's MSE-optimal range search over ``batches`` (OBS-4.7, OBS-4.8): the observed range,
    the chosen candidate and clip range, its round-trip error and the parameters."""
    result = mse_search(batches, candidates=candidates, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                        quant_min=quant_min, quant_max=quant_max, narrow=narrow)
    return {"min_val": result.min_val, "max_val": result.max_val, "candidates": result.candidates,
            "candidate": result.candidate, "clip_min": result.clip_min, "clip_max": result.clip_max,
            "error": result.error, "scale": result.scale, "zero_point": result.zero_point,
            "unpredictable": result.unpredictable}
