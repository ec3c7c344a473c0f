"""AFF-3: quantize a float32 array."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from refq._jit import kernel
from refq.affine import steps
from refq.affine.steps import parameter_index, quantize_value
from refq.affine.parameters import (
    Granularity,
    Target,
    granularity,
    input_array,
    output_array,
    scale_array,
    target_type,
    zero_point_array,
)
from refq.affine.profiles import resolve_variants
from refq.affine.loops import nan_result, quantize_loop
from refq.numbers.floats import encode
from refq.numbers.rounding import HALF_TO_EVEN, round_rational
from refq.registry.rounding import ROUNDING_MODES


#: Arrays smaller than this run the general loop (:func:`quantize_blocks`, compiled once for every variant
#: combination) instead of the loop generated for their combination: a generated loop costs about a second
#: to compile, which only a large array repays, and fingerprinting, mutation scores and fuzzing try hundreds
#: of combinations on small inputs. Both loops give the same bits (tests/test_affine_loops.py).
GENERATED_LOOP_MINIMUM = 1 << 16


@kernel
def quantize_blocks(x3, scale3, reciprocal3, zero_point3, block, qmin, qmax, scale_operation, precision,
                    zero_point_placement, rounding, saturation, conversion_overflow, nan, subnormals, out3,
                    unpredictable3):
    """Apply :func:`quantize_value` to every element of the ``(outer, length, inner)`` view;
    element ``(o, d, i)`` takes the parameters of block ``d // block`` (AFF-1.4). Every variant
    code is a runtime argument: this is the general loop that the loops generated per combination
    (:func:`refq.affine.loops.quantize_loop`) are checked against."""
    outer, length, inner = x3.shape
    scale_outer, _, scale_inner = scale3.shape
    for o in range(outer):
        for d in range(length):
            for i in range(inner):
                so, b, si = parameter_index(o, d, i, scale_outer, scale_inner, block)
                q, unpredictable = quantize_value(
                    x3[o, d, i], scale3[so, b, si], reciprocal3[so, b, si], zero_point3[so, b, si], qmin, qmax,
                    scale_operation, precision, zero_point_placement, rounding, saturation, conversion_overflow,
                    nan, subnormals)
                out3[o, d, i] = q
                unpredictable3[o, d, i] = unpredictable


def quantize_exact_value(x: float, scale: np.float32, reciprocal: np.float32, zero_point: int, target: Target,
                    codes: dict[str, int]) -> tuple[int, bool]:
    """AFF-3.1 with ``precision="exact"``: the same steps in rational arithmetic (slow, pure Python)."""
    nan = codes["nan"]
    # With r = +inf (1/s overflowed float32) v = x * inf: infinite, or NaN for x = 0.
    reciprocal_overflows = codes["scale_operation"] != steps.DIVIDE and np.isinf(reciprocal)
    scaled = float(x) * float(reciprocal) if reciprocal_overflows else float(x)
    if scaled != scaled and nan != steps.NAN_CONVERTED:
        if nan == steps.NAN_QMAX:
            return target.qmax, False
        if nan == steps.NAN_ZERO:
            return min(max(0, target.qmin), target.qmax), False
        return target.qmin, nan == steps.NAN_UNPREDICTABLE
    # NaN and infinities go straight to saturation, the zero point added where the placement says.
    rounded = scaled
    pending = zero_point if codes["zero_point_placement"] == steps.AFTER_ROUNDING else 0
    if np.isfinite(scaled):
        divisor = Fraction(float(scale)) if codes["scale_operation"] == steps.DIVIDE else 1 / Fraction(float(reciprocal))
        value = Fraction(float(x)) / divisor
        if codes["zero_point_placement"] != steps.AFTER_ROUNDING:
            value, pending = value + zero_point, 0
        integer = round_rational(value, ROUNDING_MODES[codes["rounding"]].name)
        if codes["saturation"] == steps.CONVERT_INT64_THEN_CLAMP:
            # This saturation rounds n + z to float32 before converting: round the exact sum once.
            bits = encode(Fraction(integer + pending), "binary32", overflow="infinity")
            rounded, pending = float(np.array(bits, dtype=np.uint32).view(np.float32)), 0
        else:
            # Past 2^62 every range saturates and every int32 conversion overflows: keep floats exact.
            rounded = float(max(min(integer, 2**62), -(2**62)))
    q, unpredictable = steps.saturate.py_func(rounded, pending, target.qmin, target.qmax,
                                              codes["saturation"], codes["conversion_overflow"])
    return int(q), bool(unpredictable)


def quantize_with_outcomes(x, scale, zero_point=None, *, dtype="int8", axis=None, block_size=None,
                           narrow=False, profile="onnx", **variant_overrides) -> tuple[np.ndarray, np.ndarray]:
    """Quantize and also return a boolean array marking the *unpredictable* elements (AFF-2.1).

    Arguments are those of :func:`quantize`.
    """
    return _quantize(x, scale, zero_point, dtype, axis, block_size, narrow, profile, variant_overrides, True, None)


def _quantize(x, scale, zero_point, dtype, axis, block_size, narrow, profile, variant_overrides, want_outcomes, out):
    values = input_array(x)
    target = target_type(dtype, narrow)
    scales = scale_array(scale)
    layout = granularity(values.shape, scales.shape, axis, block_size)
    zero_points = zero_point_array(zero_point, target, scales.shape)
    variants = resolve_variants(profile, "quantize", per_axis=layout.kind != "per_tensor", overrides=variant_overrides)
    codes = {name: value.code for name, value in variants.items()}
    scale3 = scales.reshape(layout.scale_shape3)
    with np.errstate(divide="ignore", over="ignore"):
        reciprocal3 = (np.float32(1) / scale3).astype(np.float32)
    zero_point3 = zero_points.reshape(layout.scale_shape3)
    x3 = values.reshape(layout.outer, layout.length, layout.inner)
    if codes["precision"] == steps.EXACT:
        out3 = np.empty(x3.shape, dtype=np.int64)
        unpredictable3 = np.zeros(x3.shape, dtype=np.bool_)
        _quantize_all_exact(x3, scale3, reciprocal3, zero_point3, layout, target, codes, out3, unpredictable3)
        result = output_array(out, values.shape, target.container)
        result[...] = out3.reshape(values.shape)
        return result, unpredictable3.reshape(values.shape)
    result = output_array(out, values.shape, target.container)
    if values.size < GENERATED_LOOP_MINIMUM:
        unpredictable3 = np.zeros(x3.shape, dtype=np.bool_)
        quantize_blocks(x3, scale3, reciprocal3, zero_point3, layout.block, target.qmin, target.qmax,
                        codes["scale_operation"], codes["precision"], codes["zero_point_placement"], codes["rounding"],
                        codes["saturation"], codes["conversion_overflow"], codes["nan"], codes["subnormals"],
                        result.reshape(x3.shape), unpredictable3)
        return result, (unpredictable3.reshape(values.shape) if want_outcomes else None)
    # Without outcomes the loop never writes the flags: a one-element stand-in keeps the signature.
    unpredictable3 = np.zeros(x3.shape if want_outcomes else (1, 1, 1), dtype=np.bool_)
    loop = quantize_loop(codes["scale_operation"], codes["precision"], codes["zero_point_placement"], codes["rounding"],
                         codes["saturation"], codes["conversion_overflow"], codes["nan"], codes["subnormals"],
                         want_outcomes)
    loop(x3, scale3, reciprocal3, zero_point3, layout.block, target.qmin, target.qmax,
         nan_result(codes["nan"], target.qmin, target.qmax), result.reshape(x3.shape), unpredictable3)
    return result, (unpredictable3.reshape(values.shape) if want_outcomes else None)


def specialized_nan_result(codes: dict[str, int], target: Target) -> int | None:
    """The integer NaN becomes when the variants allow the specialised kernel, else None."""
    if (codes["precision"], codes["zero_point_placement"], codes["rounding"], codes["saturation"],
            codes["subnormals"]) != (steps.FLOAT32, steps.AFTER_ROUNDING, HALF_TO_EVEN, steps.CLAMP_THEN_CONVERT,
                                     steps.SUBNORMALS_PRESERVED):
        return None
    nan = codes["nan"]
    if nan == steps.NAN_QMAX:
        return target.qmax
    if nan == steps.NAN_ZERO:
        return min(max(0, target.qmin), target.qmax)
    return target.qmin  # qmin, and the unpredictable case (any value is allowed; quantize_value gives qmin)


def _quantize_all_exact(x3, scale3, reciprocal3, zero_point3, layout: Granularity, target: Target, codes, out3,
                        unpredictable3) -> None:
    for (o, d, i), value in np.ndenumerate(x3):
        index = (o if scale3.shape[0] > 1 else 0, d // layout.block, i if scale3.shape[2] > 1 else 0)
        out3[o, d, i], unpredictable3[o, d, i] = quantize_exact_value(
            value, scale3[index], reciprocal3[index], int(zero_point3[index]), target, codes)


def quantize(x, scale, zero_point=None, *, dtype="int8", axis=None, block_size=None, narrow=False,
             profile="onnx", out=None, **variant_overrides) -> np.ndarray:
    """Quantize float32 values to integers (AFF-3.1):
    $q = \\mathrm{saturate}(\\mathrm{round}(x / s) + z)$ under the profile's variants.

    Args:
        x: float32 array (other numeric types are rounded to float32 first).
        scale: float32 > 0: a scalar for per-tensor quantization, a vector of length
            ``x.shape[axis]`` for per-axis, or an array shaped like ``x`` with
            ``ceil(x.shape[axis] / block_size)`` along ``axis`` for blocked quantization.
        zero_point: integers in the target range shaped like ``scale``; default 0.
        dtype: target type, ``int1``..``int16`` or ``uint1``..``uint16``.
        axis: the quantization axis (per-axis and blocked); ``None`` for per-tensor.
        block_size: block length along ``axis`` (blocked); the last block may be partial.
        narrow: drop the most negative value of a signed type (symmetric range).
        profile: a profile name from ``refq.registry.PROFILES``.
        out: optional C-contiguous array of the result's shape and dtype to write into.
        **variant_overrides: any quantize variant by name, overriding the profile's value.

    Returns:
        The quantized values in the smallest numpy integer type holding ``dtype``.
        Elements the profile leaves *unpredictable* hold an arbitrary in-range value;
        :func:`quantize_with_outcomes` says which.
    """
    return _quantize(x, scale, zero_point, dtype, axis, block_size, narrow, profile, variant_overrides, False, out)[0]
