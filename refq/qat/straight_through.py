"""QAT-1: fake quantization with fixed parameters and the straight-through estimator.

The forward pass is quantize followed by dequantize under PyTorch's fake-quant profile
(chapter AFF); the backward pass passes the output gradient through wherever the
*rounded* value landed inside the integer range, and zeroes it elsewhere.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine import dequantize, quantize
from refq.affine.parameters import granularity, input_array, scale_array, target_type, zero_point_array
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral

#: The profile whose quantize and dequantize steps are PyTorch's fake-quant kernels.
PROFILE = "pytorch-fake-quant"


def fake_quantize(x, scale, zero_point=None, *, dtype="int8", axis=None, narrow=False) -> np.ndarray:
    """QAT-1.1: $\\hat x = (\\mathrm{clamp}(\\mathrm{round}(x \\cdot \\mathrm{fl_{32}}(1/s)) + z,
    q_{min}, q_{max}) - z) \\cdot s$, in float32.

    Exactly ``dequantize(quantize(x))`` under the ``pytorch-fake-quant`` profile (AFF-3.1,
    AFF-4.2), as ``torch.fake_quantize_per_tensor_affine`` (``axis=None``) and
    ``torch.fake_quantize_per_channel_affine`` compute it. Arguments are those of
    :func:`refq.affine.quantize`; ``dtype`` and ``narrow`` give ``quant_min`` and ``quant_max``.
    """
    q = quantize(x, scale, zero_point, dtype=dtype, axis=axis, narrow=narrow, profile=PROFILE)
    return dequantize(q, scale, zero_point, dtype=dtype, axis=axis, narrow=narrow, profile=PROFILE)


@kernel
def in_range_after_rounding(x, reciprocal, zero_point, qmin, qmax):
    """QAT-1.2 for one element: is $\\mathrm{round}(\\mathrm{fl_{32}}(x \\cdot r)) + z$ in $[q_{min}, q_{max}]$?

    Ties round to even. PyTorch adds $z$ to the rounded value in float32 (or converts the
    float32 sum to int64) before comparing; $\\mathrm{fl_{32}}$ is monotone and the bounds
    are float32 numbers, so comparing the exact sum gives the same answer. A NaN (from a NaN
    $x$, or $0 \\cdot \\infty$ when $1/s$ overflowed) is outside the range; so are $\\pm\\infty$.
    """
    rounded = round_to_integral(np.float64(x * reciprocal), HALF_TO_EVEN)
    shifted = rounded + np.float64(zero_point)
    return shifted >= np.float64(qmin) and shifted <= np.float64(qmax)


@kernel
def mask_blocks(x3, reciprocal1, zero_point1, qmin, qmax, mask3):
    """QAT-1.2 over the ``(outer, length, inner)`` view; channel ``d`` uses parameter ``d``
    (or parameter 0 when there is one)."""
    outer, length, inner = x3.shape
    single = reciprocal1.size == 1
    for o in range(outer):
        for d in range(length):
            p = 0 if single else d
            for i in range(inner):
                mask3[o, d, i] = in_range_after_rounding(x3[o, d, i], reciprocal1[p], zero_point1[p], qmin, qmax)


def fake_quantize_mask(x, scale, zero_point=None, *, dtype="int8", axis=None, narrow=False) -> np.ndarray:
    """QAT-1.2: the boolean mask the forward pass saves for the backward pass
    (the second output of ``torch.fake_quantize_per_tensor_affine_cachemask``):
    true where $q_{min} \\le \\mathrm{round}(x \\cdot \\mathrm{fl_{32}}(1/s)) + z \\le q_{max}$.

    The test is on the rounded value, not on $x$: an $x$ up to half a step beyond the
    last representable value still passes its gradient.
    """
    values = input_array(x)
    target = target_type(dtype, narrow)
    scales = scale_array(scale)
    layout = granularity(values.shape, scales.shape, axis, None)
    zero_points = zero_point_array(zero_point, target, scales.shape).reshape(-1)
    with np.errstate(divide="ignore", over="ignore"):
        reciprocals = (np.float32(1) / scales.reshape(-1)).astype(np.float32)
    mask = np.empty(values.shape, dtype=np.bool_)
    mask_blocks(values.reshape(layout.outer, layout.length, layout.inner), reciprocals, zero_points,
                target.qmin, target.qmax, mask.reshape(layout.outer, layout.length, layout.inner))
    return mask


@kernel
def pass_through(grad_output, mask, grad_input):
    """QAT-1.3: $\\mathrm{fl_{32}}(g \\cdot m)$ with the mask as 1.0 or 0.0 — a float32 product,
    so a masked-out gradient becomes $\\pm 0$ (sign of $g$) and a masked-out $\\pm\\infty$ or NaN
    becomes NaN."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for i in range(grad_output.size):
        grad_input[i] = grad_output[i] * (one if mask[i] else zero)


def fake_quantize_backward(grad_output, mask) -> np.ndarray:
    """QAT-1.3: the straight-through estimator, $\\partial L/\\partial x = g \\cdot m$
    (``fake_quantize_per_tensor_affine_cachemask_backward``, and its per-channel twin).

    ``grad_output`` is the float32 gradient of the forward output, ``mask`` the array
    :func:`fake_quantize_mask` returned; returns a float32 array of their shape.
    """
    gradient = input_array(grad_output, "grad_output")
    flags = np.asarray(mask)
    if flags.dtype != np.bool_:
        raise wrong_type("mask", "a boolean array (from fake_quantize_mask)", mask)
    if flags.shape != gradient.shape:
        raise invalid("mask", f"shaped like grad_output {gradient.shape}", flags.shape)
    result = np.empty(gradient.shape, dtype=np.float32)
    pass_through(np.ascontiguousarray(gradient).reshape(-1), np.ascontiguousarray(flags).reshape(-1),
                 result.reshape(-1))
    return result
