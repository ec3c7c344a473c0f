"""Chapter OBS: observers, calibration and dynamic quantization.

An observer is a state, an update rule ``update(state, batch) -> state`` and a
qparams rule ``qparams(state, ...) -> (scale, zero_point)``, each in exact float32
steps as the backend it follows computes them.
"""

from refq.observers.qparams import QParams, qparams_from_range, quantization_range
from refq.observers.minmax import MinMaxState, minmax_update, minmax_qparams
from refq.observers.moving_average import moving_average_update
from refq.observers.dynamic import DYNAMIC_PROFILES, dynamic_quantize_linear, torch_dynamic_qparams
from refq.observers import operations

__all__ = ["QParams", "qparams_from_range", "quantization_range", "MinMaxState", "minmax_update", "minmax_qparams",
           "moving_average_update", "DYNAMIC_PROFILES", "dynamic_quantize_linear", "torch_dynamic_qparams",
           "operations"]
