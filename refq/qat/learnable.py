"""QAT-2: learnable scale and zero point (LSQ), as PyTorch's
``torch._fake_quantize_learnable_per_tensor_affine`` and ``..._per_channel_affine`` define them.

Forward is fixed-parameter fake quantization (QAT-1.1) with the zero point rounded from a
float32 tensor. Backward computes, per element, the gradients of $x$, $s$ and $z$ in float32
in a fixed order of operations, two of them fused multiply-adds (QAT-2.3), then sums the
scale and zero-point gradients with ``torch.sum``'s cascade (QAT-2.4).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from refq._jit import kernel
from refq.affine.parameters import granularity, input_array, scale_array, target_type
from refq.affine.steps import round_sum_to_float32
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.observers.torch_reductions import ATEN_GRAIN_SIZE, cascade_sum_float32
from refq.qat.straight_through import fake_quantize

INT64_MIN = -(2**63)


def learnable_zero_point(zero_point, qmin: int, qmax: int, *, per_channel: bool, forward: bool) -> np.ndarray:
    """QAT-2.1: the integer zero point used from the float32 learnable ``zero_point``.

    - forward, and per-channel backward: round half to even, then clamp to $[q_{min}, q_{max}]$;
    - per-tensor backward: $\\mathrm{trunc}(\\mathrm{clamp}(\\mathrm{fl_{32}}(z + 0.5)))$, i.e. halves
      round up for $z > -0.5$ and toward zero below, so a forward zero point of 2 ($z = 2.5$)
      meets a backward zero point of 3.

    Returns the zero points as float64 integers (exact).
    """
    values = zero_point.astype(np.float32)
    if forward or per_channel:
        values = np.rint(values)
    else:
        values = values + np.float32(0.5)
    values = np.minimum(np.maximum(values, np.float32(qmin)), np.float32(qmax))
    return np.trunc(values).astype(np.float64)


@kernel
def fused_multiply_add(a, b, c):
    """QAT-2.2: $\\mathrm{fl_{32}}(a \\cdot b + c)$ for float32 operands, rounded once.

    The product of two float32 numbers is exact in float64, so the sum of two float64
    numbers is what remains to round once (AFF-3.7, :func:`refq.affine.steps.round_sum_to_float32`).
    """
    return round_sum_to_float32(np.float64(a) * np.float64(b), np.float64(c))


@kernel
def rounded_to_int64(value):
    """The int64 value of an integral float32, as x86 converts it: NaN, $\\pm\\infty$ and
    values outside $[-2^{63}, 2^{63})$ become $-2^{63}$ (the "integer indefinite")."""
    if value != value or value >= 9223372036854775808.0 or value < -9223372036854775808.0:
        return np.int64(INT64_MIN)
    return np.int64(value)


@kernel
def element_gradients(x, grad_output, scale, zero_point, qmin, qmax, grad_factor):
    """QAT-2.3: the gradients of one element, ``(dx, dscale, dzero_point)``, all float32.

    With $r = \\mathrm{fl_{32}}(1/s)$ and the backward zero point $z$ (QAT-2.1):

    1. $n = \\mathrm{int64}(\\mathrm{round}(\\mathrm{fma}(x, r, z)))$ — the zero point is added
       *before* rounding, in one fused multiply-add, unlike the forward pass (QAT-1.2);
    2. $dx = g \\cdot [q_{min} \\le n \\le q_{max}]$;
    3. inside the range: $ds = \\mathrm{fl}(\\mathrm{fl}(g \\cdot \\mathrm{fma}(n - z, s, -x)) \\cdot r) \\cdot f$
       and $dz = +0$;
    4. below (above) it: $ds = \\mathrm{fl}(g \\cdot (q_{min} - z)) \\cdot f$ (resp. $q_{max} - z$) and
       $dz = \\mathrm{fl}(-g \\cdot s) \\cdot f$,

    with $f$ the float32 ``grad_factor`` and every product rounded to float32.
    """
    reciprocal = np.float32(1.0) / scale
    rounded = round_to_integral(fused_multiply_add(x, reciprocal, zero_point), HALF_TO_EVEN)
    n = rounded_to_int64(rounded)
    inside = n >= qmin and n <= qmax
    dx = grad_output * (np.float32(1.0) if inside else np.float32(0.0))
    if inside:
        error = fused_multiply_add(np.float32(np.float64(n) - np.float64(zero_point)), scale, -x)
        dscale = grad_output * error * reciprocal * grad_factor
        dzero_point = np.float32(0.0)
    else:
        distance = np.float32(np.float64(qmin if n < qmin else qmax) - np.float64(zero_point))
        dscale = grad_output * distance * grad_factor
        dzero_point = -grad_output * scale * grad_factor
    return dx, dscale, dzero_point


@kernel
def gradient_blocks(x3, grad3, scales, zero_points, qmin, qmax, grad_factor, dx3, dscale3, dzero_point3):
    """QAT-2.3 over the ``(outer, length, inner)`` view; channel ``d`` uses parameter ``d``
    (or parameter 0 when there is one)."""
    outer, length, inner = x3.shape
    single = scales.size == 1
    for o in range(outer):
        for d in range(length):
            p = 0 if single else d
            scale = scales[p]
            zero_point = np.float32(zero_points[p])
            for i in range(inner):
                dx3[o, d, i], dscale3[o, d, i], dzero_point3[o, d, i] = element_gradients(
                    x3[o, d, i], grad3[o, d, i], scale, zero_point, qmin, qmax, grad_factor)


@kernel
def channel_sums(values2, out):
    """QAT-2.4 per channel: row ``c`` of the ``(channels, elements)`` array summed as
    ``torch.sum`` sums a contiguous float32 vector (OBS-3.3)."""
    for c in range(values2.shape[0]):
        out[c] = cascade_sum_float32(values2[c])


class LearnableGradients(NamedTuple):
    """The backward pass of learnable fake quantization (QAT-2.5)."""

    #: float32, shaped like ``x``.
    x: np.ndarray
    #: float32, shape ``(1,)`` per tensor or ``(channels,)`` per channel.
    scale: np.ndarray
    #: float32, shaped like ``scale``.
    zero_point: np.ndarray
    #: bool, shaped like ``scale``: where PyTorch's summation order is not the one refq
    #: reproduces (QAT-2.4), so the scale and zero-point gradients may differ in the last bits.
    unpredictable: np.ndarray


def _learnable_arguments(x, scale, zero_point, axis, dtype, narrow, grad_factor):
    values = input_array(x)
    target = target_type(dtype, narrow)  # every range contains 0, as PyTorch's backward requires
    scales = scale_array(scale).reshape(-1)
    if axis is None and scales.size != 1:
        raise invalid("scale", "one value for per-tensor fake quantization (axis=None)", scales.shape)
    layout = granularity(values.shape, scales.shape if axis is not None else (), axis, None)
    try:
        zero_points = np.asarray(zero_point, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise wrong_type("zero_point", "a float32 value or vector", zero_point) from None
    if zero_points.shape != scales.shape:
        raise invalid("zero_point", f"shaped like scale {scales.shape}", zero_points.shape)
    if not np.all(np.isfinite(zero_points)):
        raise invalid("zero_point", "finite", zero_points[~np.isfinite(zero_points)][0].item())
    if isinstance(grad_factor, (bool, np.bool_)) or not isinstance(grad_factor, (int, float, np.floating, np.integer)):
        raise wrong_type("grad_factor", "a float", grad_factor)
    return values, target, scales, zero_points, layout, np.float32(grad_factor)


def learnable_fake_quantize(x, scale, zero_point, *, axis=None, dtype="int8", narrow=False,
                            grad_factor=1.0) -> np.ndarray:
    """QAT-2.5 forward: fake quantization (QAT-1.1) with the zero point of QAT-2.1.

    ``scale`` and ``zero_point`` are float32 values (one each per tensor, or one per channel
    of ``axis``), the learnable parameters; ``dtype`` and ``narrow`` give $[q_{min}, q_{max}]$.
    ``grad_factor`` does not change the forward result.
    """
    values, target, scales, zero_points, layout, _ = _learnable_arguments(
        x, scale, zero_point, axis, dtype, narrow, grad_factor)
    integers = learnable_zero_point(zero_points, target.qmin, target.qmax, per_channel=axis is not None,
                                    forward=True).astype(np.int64)
    if axis is None:
        return fake_quantize(values, scales[0], integers[0], dtype=dtype, narrow=narrow)
    return fake_quantize(values, scales, integers, dtype=dtype, axis=layout.axis, narrow=narrow)


def learnable_fake_quantize_backward(grad_output, x, scale, zero_point, *, axis=None, dtype="int8", narrow=False,
                                     grad_factor=1.0) -> LearnableGradients:
    """QAT-2.5 backward: the gradients of $x$, the scale and the zero point for the output
    gradient ``grad_output`` (float32, shaped like ``x``).

    Element gradients follow QAT-2.3 and are summed over every element (per tensor) or over
    every element of a channel (per channel) as QAT-2.4 says. ``x`` is read in C order.
    """
    values, target, scales, zero_points, layout, factor = _learnable_arguments(
        x, scale, zero_point, axis, dtype, narrow, grad_factor)
    gradient = input_array(grad_output, "grad_output")
    if gradient.shape != values.shape:
        raise invalid("grad_output", f"shaped like x {values.shape}", gradient.shape)
    backward_zero_points = learnable_zero_point(zero_points, target.qmin, target.qmax,
                                                per_channel=axis is not None, forward=False)
    shape3 = (layout.outer, layout.length, layout.inner)
    dx = np.empty(values.shape, dtype=np.float32)
    dscale = np.empty(shape3, dtype=np.float32)
    dzero_point = np.empty(shape3, dtype=np.float32)
    gradient_blocks(np.ascontiguousarray(values).reshape(shape3), np.ascontiguousarray(gradient).reshape(shape3),
                    scales, backward_zero_points, target.qmin, target.qmax, factor, dx.reshape(shape3), dscale,
                    dzero_point)
    if axis is None:
        rows_scale, rows_zero_point = dscale.reshape(1, -1), dzero_point.reshape(1, -1)
        unpredictable = np.array([values.size >= ATEN_GRAIN_SIZE])
    else:
        rows_scale = np.ascontiguousarray(dscale.transpose(1, 0, 2)).reshape(layout.length, -1)
        rows_zero_point = np.ascontiguousarray(dzero_point.transpose(1, 0, 2)).reshape(layout.length, -1)
        # Only channels that are contiguous blocks (axis 0) are summed as one vector each.
        order_known = layout.outer == 1 and layout.inner < ATEN_GRAIN_SIZE
        unpredictable = np.full(layout.length, not order_known)
    grad_scale = np.empty(rows_scale.shape[0], dtype=np.float32)
    grad_zero_point = np.empty(rows_scale.shape[0], dtype=np.float32)
    channel_sums(rows_scale, grad_scale)
    channel_sums(rows_zero_point, grad_zero_point)
    return LearnableGradients(dx, grad_scale, grad_zero_point, unpredictable)
