"""AFF-4: dequantize an integer array to float32."""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.affine.loops import dequantize_loop
from refq.affine.steps import dequantize_value, parameter_index
from refq.affine.parameters import Target, granularity, output_array, scale_array, target_type, zero_point_array
from refq.affine.profiles import resolve_variants
from refq.errors import invalid, wrong_type


@kernel
def dequantize_blocks(q3, scale3, zero_point3, block, formula, precision, difference, out3):
    """Apply :func:`dequantize_value` to every element of the ``(outer, length, inner)`` view, every
    variant code a runtime argument: the general loop that the loops generated per combination
    (:func:`refq.affine.loops.dequantize_loop`) are checked against."""
    outer, length, inner = q3.shape
    scale_outer, _, scale_inner = scale3.shape
    for o in range(outer):
        for d in range(length):
            for i in range(inner):
                so, b, si = parameter_index(o, d, i, scale_outer, scale_inner, block)
                out3[o, d, i] = dequantize_value(
                    np.int64(q3[o, d, i]), scale3[so, b, si], zero_point3[so, b, si], formula, precision,
                    difference)


def quantized_input(q, target: Target) -> np.ndarray:
    """AFF-4.1: dequantize's input holds integers of the target type, each in its range."""
    values = np.asarray(q)
    if values.dtype.kind not in "iu" or values.dtype == np.bool_:
        raise wrong_type("q", f"an integer array holding {target.format.name} values", q)
    # An integer type whose whole range lies in the target's needs no pass over the values.
    held = np.iinfo(values.dtype)
    if values.size and (held.min < target.qmin or held.max > target.qmax):
        low, high = values.min(), values.max()
        if low < target.qmin or high > target.qmax:
            bad = low if low < target.qmin else high
            raise invalid("q", f"values in [{target.qmin}, {target.qmax}] for {target.format.name}", int(bad))
    return values


def dequantize(q, scale, zero_point=None, *, dtype="int8", axis=None, block_size=None, narrow=False,
               profile="onnx", out=None, **variant_overrides) -> np.ndarray:
    """Dequantize integers to float32 (AFF-4.2): $x = (q - z) \\cdot s$ under the profile's variants.

    Arguments are those of :func:`refq.affine.quantize`, with ``dtype`` naming the
    type ``q`` holds (``int1``..``int32``, ``uint1``..``uint32``; int32 is what
    ONNX uses for biases). Returns a float32 array shaped like ``q`` (written into
    ``out`` when given: a C-contiguous float32 array of that shape).
    """
    target = target_type(dtype, narrow, max_bits=32)
    values = quantized_input(q, target)
    scales = scale_array(scale)
    layout = granularity(values.shape, scales.shape, axis, block_size)
    zero_points = zero_point_array(zero_point, target, scales.shape)
    variants = resolve_variants(profile, "dequantize", overrides=variant_overrides)
    q3 = values.reshape(layout.outer, layout.length, layout.inner)
    result = output_array(out, values.shape, np.dtype(np.float32))
    out3 = result.reshape(q3.shape)
    loop = dequantize_loop(variants["dequantize_formula"].code, variants["dequantize_precision"].code,
                           variants["dequantize_difference"].code, target.format.bits <= 16)
    loop(q3, scales.reshape(layout.scale_shape3), zero_points.reshape(layout.scale_shape3), layout.block, out3)
    return result
