"""ELT-4: pooling on quantized tensors: ONNX Runtime's ``QLinearGlobalAveragePool``
(``com.microsoft``) and the standard ``MaxPool`` on int8 / uint8.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.elementwise.operands import quantized_tensor, single_scale, single_zero_point
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN
from refq.registry.variants import variant_code
from refq.requantize.float_multiplier import AFTER_ROUNDING, FLOAT32, requantize_float_value


def global_average_multiplier(x_scale: np.float32, y_scale: np.float32, image_size: int) -> np.float32:
    """ELT-4.1: $m = \\mathrm{fl}(s_x / \\mathrm{fl}(s_y \\cdot \\mathrm{fl}(n)))$ in float32, $n$ the
    number of pixels per channel. ONNX Runtime rejects $n \\ge 2^{24}$ and $m$ outside
    $[2^{-32}, 256)$ ("parameter out of computation range"); refq does too."""
    with np.errstate(over="ignore", under="ignore"):
        multiplier = np.float32(x_scale / np.float32(y_scale * np.float32(image_size)))
    if image_size >= 2**24:
        raise invalid("X", "fewer than 2^24 pixels per channel", image_size)
    if not (2.0**-32 <= multiplier < 256.0):
        raise invalid("y_scale", "such that x_scale / (y_scale * pixels) lies in [2^-32, 256)", float(multiplier))
    return multiplier


@kernel
def global_average_channels(x2, x_zero_point, multiplier, y_zero_point, qmin, qmax, out):
    """ELT-4.2: for each row of the ``(channels, pixels)`` view, the int32 sum
    $a = \\sum_i q_i - n z_x$ requantized by REQ-1.3 with the multiplier $m$ (float32,
    half to even, the zero point added after rounding, saturated)."""
    rows, size = x2.shape
    bias = -np.int64(x_zero_point) * np.int64(size)
    for r in range(rows):
        total = bias
        for i in range(size):
            total += np.int64(x2[r, i])
        out[r] = requantize_float_value(total, multiplier, y_zero_point, qmin, qmax, FLOAT32, HALF_TO_EVEN,
                                        AFTER_ROUNDING)


def qlinear_global_average_pool(X, x_scale, x_zero_point, y_scale, y_zero_point=None, *,
                                channels_last=0, average_sum: str = "integer_sum") -> np.ndarray:
    """ELT-4.3: ``com.microsoft.QLinearGlobalAveragePool``: the mean of each channel over all
    spatial positions, requantized from ``x_scale`` to ``y_scale``.

    ``X`` is int8 or uint8 of rank >= 3, ``(N, C, D1, ...)`` or, with ``channels_last=1``,
    ``(N, D1, ..., C)``; the output keeps the rank with every spatial axis of length 1.
    ``average_sum`` is the registry variant: ``integer_sum`` (ELT-4.2, ONNX Runtime) or
    ``float32_window_sum``, the channel as one window of ELT-6.5.
    """
    integer = variant_code("average_sum", average_sum, "average_sum") == 0
    x = quantized_tensor(X, "X")
    if x.ndim < 3:
        raise invalid("X", "an array of rank >= 3 (N, C, spatial...)", f"shape {x.shape}")
    if channels_last not in (0, 1) or isinstance(channels_last, bool):
        raise invalid("channels_last", "0 or 1", channels_last)
    x_zero = single_zero_point(x_zero_point, x.dtype, "x_zero_point")
    y_zero = single_zero_point(y_zero_point, x.dtype, "y_zero_point")
    if channels_last:
        channels = x.shape[-1]
        moved = np.moveaxis(x, -1, 1)
    else:
        channels = x.shape[1]
        moved = x
    image_size = int(np.prod(moved.shape[2:]))
    scale_x, scale_y = single_scale(x_scale, "x_scale"), single_scale(y_scale, "y_scale")
    info = np.iinfo(x.dtype)
    rows = np.ascontiguousarray(moved).reshape(x.shape[0] * channels, image_size)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    if integer:
        multiplier = global_average_multiplier(scale_x, scale_y, image_size)
        global_average_channels(rows, x_zero, np.float64(multiplier), y_zero, info.min, info.max, out)
    else:
        from refq.elementwise.windows import average_pool_windows

        whole = np.array([image_size, 1, 1], np.int64)
        average_pool_windows(rows.reshape(rows.shape[0], image_size, 1, 1), np.float64(scale_x), x_zero,
                             np.float64(scale_y), y_zero, whole, np.ones(3, np.int64), np.zeros(3, np.int64), False,
                             info.min, info.max, out.reshape(-1, 1, 1, 1))
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (channels,) if channels_last else \
        (x.shape[0], channels) + (1,) * (x.ndim - 2)
    return out.reshape(shape)
