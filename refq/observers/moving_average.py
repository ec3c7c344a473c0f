"""OBS-2.6: moving-average min-max observers (torch's ``MovingAverageMinMaxObserver`` and
``MovingAveragePerChannelMinMaxObserver``).

The state is a :class:`refq.observers.minmax.MinMaxState`; the first batch initialises
it, later batches move it toward the batch's range by the averaging constant $c$.
Qparams: :func:`refq.observers.minmax.minmax_qparams`.
"""

from __future__ import annotations

import numbers

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.observers.minmax import MinMaxState, check_state, batch_array, observe_batch


@kernel
def moving_average_step(running, current, averaging_constant):
    """OBS-2.6: $m \\leftarrow \\mathrm{fl_{32}}(m + \\mathrm{fl_{32}}(c \\cdot \\mathrm{fl_{32}}(b - m)))$,
    three separately rounded float32 operations (torch's eager ``min_val + c * (cur - min_val)``, with the
    Python float $c$ rounded to float32 first; no fused multiply-add)."""
    difference = np.float32(current - running)
    step = np.float32(averaging_constant * difference)
    return np.float32(running + step)


@kernel
def moving_average_channels(running_min, running_max, batch_min, batch_max, averaging_constant, new_min, new_max):
    """OBS-2.6 per channel: :func:`moving_average_step` on each channel's bounds."""
    for channel in range(running_min.size):
        new_min[channel] = moving_average_step(running_min[channel], batch_min[channel], averaging_constant)
        new_max[channel] = moving_average_step(running_max[channel], batch_max[channel], averaging_constant)


def averaging_constant_float32(averaging_constant) -> np.float32:
    """$c$ as the float32 torch multiplies by; refq accepts $0 < c \\le 1$ (torch does not check)."""
    if isinstance(averaging_constant, (bool, np.bool_)) or not isinstance(averaging_constant, numbers.Real):
        raise wrong_type("averaging_constant", "a float in (0, 1]", averaging_constant)
    if not 0 < averaging_constant <= 1:
        raise invalid("averaging_constant", "in (0, 1]", averaging_constant)
    return np.float32(averaging_constant)


def moving_average_update(state: MinMaxState, batch, averaging_constant: float = 0.01) -> MinMaxState:
    """OBS-2.6: one step of ``MovingAverage[PerChannel]MinMaxObserver.forward``.

    An empty batch leaves the state unchanged; the first non-empty batch sets the state to
    its own range (per tensor: while the state is still $(+\\infty, -\\infty)$); each later
    batch moves each bound by :func:`moving_average_step`. NaN in a batch makes the state
    NaN for good ($m + c(\\mathrm{NaN} - m)$ is NaN), an infinite bound gives NaN on the next
    step that sees the opposite infinity or the same one ($\\infty - \\infty$).
    """
    check_state(state)
    constant = averaging_constant_float32(averaging_constant)
    values = batch_array(batch)
    if values.size == 0:
        return state
    low, high = observe_batch(values, state.ch_axis)
    if not state.observed:
        return MinMaxState(low, high, state.ch_axis)
    if state.ch_axis is None:
        return MinMaxState(moving_average_step(state.min_val, low, constant),
                           moving_average_step(state.max_val, high, constant), None)
    if low.shape != state.min_val.shape:
        raise invalid("batch", f"{state.min_val.size} channels along axis {state.ch_axis}", low.size)
    new_min = np.empty_like(low)
    new_max = np.empty_like(high)
    moving_average_channels(state.min_val, state.max_val, low, high, constant, new_min, new_max)
    return MinMaxState(new_min, new_max, state.ch_axis)
