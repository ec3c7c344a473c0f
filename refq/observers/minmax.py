"""OBS-2.1 to OBS-2.4: the MinMax observer, per tensor and per channel (torch's
``MinMaxObserver`` and ``PerChannelMinMaxObserver``).

State: the running minimum and maximum (float32 scalars, or one per channel).
Update: ``torch.aminmax`` of the batch, then ``torch.min``/``torch.max`` with the state.
Qparams: OBS-1 on the state.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.observers.qparams import QParams, nan_maximum, nan_minimum, qparams_from_range

@dataclass(frozen=True)
class MinMaxState:
    """Running range of a min-max observer.

    Per tensor: float32 scalars, $(+\\infty, -\\infty)$ before the first batch.
    Per channel (``ch_axis`` not None): float32 arrays of one value per channel, empty
    before the first batch.
    """

    min_val: np.float32 | np.ndarray
    max_val: np.float32 | np.ndarray
    ch_axis: int | None = None

    @property
    def observed(self) -> bool:
        """Whether any element has been seen."""
        if self.ch_axis is None:
            return not (self.min_val == np.inf and self.max_val == -np.inf)
        return self.min_val.size > 0


def initial_state(ch_axis: int | None = None) -> MinMaxState:
    """OBS-2.1: the state before any batch."""
    if ch_axis is not None and (isinstance(ch_axis, (bool, np.bool_)) or not isinstance(ch_axis, numbers.Integral)):
        raise wrong_type("ch_axis", "an int or None", ch_axis)
    if ch_axis is None:
        return MinMaxState(np.float32(np.inf), np.float32(-np.inf), None)
    return MinMaxState(np.empty(0, np.float32), np.empty(0, np.float32), int(ch_axis))


#: ``float32_order_key`` of +inf and of -inf: keys beyond them belong to NaNs.
_KEY_POSITIVE_INFINITY = 0x7F800000
_KEY_NEGATIVE_INFINITY = -0x7F800001


@kernel
def float32_order_key(bits):
    """An integer that orders float32 patterns as their values: negative patterns get their
    magnitude bits flipped. $-0$ sorts just below $+0$ and NaNs sort beyond the infinities.
    The map is its own inverse."""
    return bits ^ ((bits >> np.int32(31)) & np.int32(0x7FFFFFFF))


@kernel
def float32_from_key(key):
    pattern = np.empty(1, np.int32)
    pattern[0] = float32_order_key(np.int32(key))
    return pattern.view(np.float32)[0]


@kernel
def batch_min_max(values):
    """OBS-2.2: minimum and maximum of a non-empty float32 vector (``torch.aminmax``).

    Both are NaN when any element is NaN. Among zeros of both signs either zero may be
    returned (torch's vectorised reduction does not fix which); OBS-1 gives the same
    scale and zero point for either.

    The extremes are found on :func:`float32_order_key` of the bit patterns: integer
    minimum and maximum are exact in any order, so the compiler may vectorise them
    (float comparisons it may not reorder without fast-math), and a NaN shows as a key
    beyond an infinity's.
    """
    patterns = values.view(np.int32)
    low = np.int64(2147483647)
    high = np.int64(-2147483648)
    for index in range(patterns.size):
        key = float32_order_key(patterns[index])
        low = min(low, key)
        high = max(high, key)
    if high > _KEY_POSITIVE_INFINITY or low < _KEY_NEGATIVE_INFINITY:
        return np.float32(np.nan), np.float32(np.nan)
    return float32_from_key(low), float32_from_key(high)


@kernel
def rows_min_max(rows, lows, highs):
    """OBS-2.4: :func:`batch_min_max` of each row of a 2-D float32 array (one row per channel)."""
    for row in range(rows.shape[0]):
        lows[row], highs[row] = batch_min_max(rows[row])


@kernel
def combine_min_max(running_min, running_max, batch_min, batch_max):
    """OBS-2.3: $m_{min} \\leftarrow \\min(b_{min}, m_{min})$, $m_{max} \\leftarrow \\max(b_{max}, m_{max})$,
    NaN-propagating (``torch.min``/``torch.max`` of two tensors): one NaN batch makes the state NaN
    for good."""
    return nan_minimum(batch_min, running_min), nan_maximum(batch_max, running_max)


def batch_array(batch, argument: str = "batch") -> np.ndarray:
    """A batch as a float32 numpy array (``x.to(torch.float32)``: float64 values round to nearest even)."""
    if isinstance(batch, (bool, np.bool_, str, bytes)):
        raise wrong_type(argument, "an array of floats", batch)
    try:
        array = np.asarray(batch)
    except Exception:
        raise wrong_type(argument, "an array of floats", batch) from None
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise wrong_type(argument, "an array of floats", batch)
    with np.errstate(over="ignore"):
        return np.asarray(array, dtype=np.float32)


def channel_rows(values: np.ndarray, ch_axis: int) -> np.ndarray:
    """The batch as a (channels, elements) array: ``ch_axis`` moved first, the rest flattened."""
    if values.ndim < 2:
        # torch flattens the dimensions after the channel axis with start_dim=1, which a 1-D batch lacks.
        raise invalid("batch", "at least 2-D for a per-channel observer", values.shape)
    if not -values.ndim <= ch_axis < values.ndim:
        raise invalid("ch_axis", f"an axis of the {values.ndim}-D batch", ch_axis)
    return np.ascontiguousarray(np.moveaxis(values, ch_axis, 0)).reshape(values.shape[ch_axis], -1)


def observe_batch(values: np.ndarray, ch_axis: int | None):
    """The batch's own range: scalars per tensor, arrays per channel."""
    if ch_axis is None:
        low, high = batch_min_max(np.ascontiguousarray(values).reshape(-1))
        return np.float32(low), np.float32(high)
    rows = channel_rows(values, ch_axis)
    lows = np.empty(rows.shape[0], np.float32)
    highs = np.empty(rows.shape[0], np.float32)
    if rows.shape[1] == 0:
        raise invalid("batch", "no empty channels", values.shape)
    rows_min_max(rows, lows, highs)
    return lows, highs


def check_state(state: MinMaxState) -> None:
    """A ``RefqTypeError`` naming ``state`` unless it is a :class:`MinMaxState`."""
    if not isinstance(state, MinMaxState):
        raise wrong_type("state", "a MinMaxState (see initial_state)", state)


def minmax_update(state: MinMaxState, batch) -> MinMaxState:
    """OBS-2.3: one step of ``MinMaxObserver.forward`` / ``PerChannelMinMaxObserver.forward``.

    An empty batch leaves the state unchanged. The first batch sets the state to its own
    range; later batches combine by NaN-propagating min and max. Per channel, a batch
    must have as many channels as the state.
    """
    check_state(state)
    values = batch_array(batch)
    if values.size == 0:
        return state
    low, high = observe_batch(values, state.ch_axis)
    if not state.observed:
        return MinMaxState(low, high, state.ch_axis)
    if state.ch_axis is None:
        new_min, new_max = combine_min_max(state.min_val, state.max_val, low, high)
        return MinMaxState(np.float32(new_min), np.float32(new_max), None)
    if low.shape != state.min_val.shape:
        raise invalid("batch", f"{state.min_val.size} channels along axis {state.ch_axis}", low.size)
    new_min = np.empty_like(low)
    new_max = np.empty_like(high)
    for channel in range(low.size):
        new_min[channel], new_max[channel] = combine_min_max(state.min_val[channel], state.max_val[channel],
                                                             low[channel], high[channel])
    return MinMaxState(new_min, new_max, state.ch_axis)


def minmax_qparams(state: MinMaxState, **options) -> QParams:
    """OBS-2.5: ``calculate_qparams``: OBS-1 of the state's range; ``options`` are those of
    :func:`refq.observers.qparams.qparams_from_range` (torch's per-tensor observers accept
    ``affine`` and ``symmetric`` only)."""
    check_state(state)
    if state.ch_axis is None and options.get("qscheme", "affine") == "affine_float_qparams":
        raise invalid("qscheme", "'affine' or 'symmetric' for a per-tensor observer", options["qscheme"])
    return qparams_from_range(state.min_val, state.max_val, **options)
