"""The hand-written mutants of quantize and dequantize: defects real kernels have shipped with.

Rounding and scale, range and saturation, granularity (the wrong channel or block), the
dequantize formula, and the input forms: an ignored zero point, a zero point misread by
its shape or as signed, a difference wrapped in the container type. The ones that are one
variant value (:data:`REPLACED_BY_DERIVED` in :mod:`refq.conformance.mutants`) stay as names;
the registry-derived mutant of that value is the one the score runs.
"""

from __future__ import annotations

import numpy as np

from refq.affine import dequantize, quantize
from refq.affine.parameters import target_type
from refq.conformance.mutant_adapter import Mutant, per_element
from refq.strategies import elementwise_parameters

F32 = np.float32


# --- rounding and scale ------------------------------------------------------------------


class TiesAwayFromZero(Mutant):
    """Rounds ties away from zero (C ``round``) instead of to even."""

    clause = "AFF-3.4"
    quantize_variants = {"rounding": "half_away_from_zero"}


class Truncation(Mutant):
    """Truncates toward zero (a plain integer cast) instead of rounding to nearest."""

    clause = "AFF-3.4"
    quantize_variants = {"rounding": "toward_zero"}


class FloorOfHalfAdded(Mutant):
    """Rounds as ``floor(fl32(v + 0.5))``: ties go up, and 0.49999997 + 0.5 rounds to 1 in float32."""

    clause = "AFF-3.4"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        values = np.asarray(x, F32)
        scales, zero_points = elementwise_parameters(values.shape, scale, zero_point, axis, block_size)
        target = target_type(dtype)
        with np.errstate(all="ignore"):
            rounded = np.floor((values / scales).astype(F32) + F32(0.5)).astype(np.float64) + zero_points
        result = np.where(np.isnan(rounded), target.qmin, np.clip(np.nan_to_num(rounded), target.qmin, target.qmax))
        return result.astype(correct.dtype)


class ReciprocalInsteadOfDivision(Mutant):
    """Multiplies by fl32(1 / scale) instead of dividing by the scale."""

    clause = "AFF-3.2"
    quantize_variants = {"scale_operation": "multiply_reciprocal"}


class Float64Division(Mutant):
    """Divides in float64 instead of float32."""

    clause = "AFF-3.2"
    quantize_variants = {"precision": "float64"}


class ZeroPointBeforeRounding(Mutant):
    """Adds the zero point to x / scale in float32 before rounding, instead of after."""

    clause = "AFF-3.3"
    quantize_variants = {"zero_point_placement": "before_rounding"}


# --- range and saturation ----------------------------------------------------------------


class NarrowRangeInt8(Mutant):
    """Uses the narrow range [-127, 127] for int8."""

    clause = "AFF-1.2"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        return quantize(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype, profile=self.profile,
                        narrow=dtype == "int8")


class Int4Symmetric(Mutant):
    """Uses [-7, 7] for int4 instead of [-8, 7]."""

    clause = "AFF-1.2"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        return quantize(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype, profile=self.profile,
                        narrow=dtype == "int4")


class UnsignedClampedAsSigned(Mutant):
    """Clamps uint8 results to int8's upper bound 127 (a signedness bug in the clamp)."""

    clause = "AFF-3.5"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        return np.minimum(correct, 127).astype(correct.dtype) if dtype == "uint8" else correct


class WrapsInsteadOfSaturating(Mutant):
    """Wraps out-of-range results around (two's complement) instead of saturating."""

    clause = "AFF-3.5"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        values = np.asarray(x, F32)
        scales, zero_points = elementwise_parameters(values.shape, scale, zero_point, axis, block_size)
        target = target_type(dtype)
        with np.errstate(all="ignore"):
            rounded = np.rint((values / scales).astype(F32)).astype(np.float64)
        finite = np.isfinite(rounded)
        integers = np.clip(np.where(finite, rounded, 0), -(2.0**62), 2.0**62).astype(np.int64) + zero_points
        span = target.qmax - target.qmin + 1
        wrapped = (integers - target.qmin) % span + target.qmin
        return np.where(finite, wrapped, correct).astype(correct.dtype)


class NaNToQmax(Mutant):
    """Under the onnxruntime profile (NaN gives qmin), saturates NaN to qmax."""

    clause = "AFF-3.6"
    profile = "onnxruntime"
    quantize_variants = {"nan": "qmax"}


# --- granularity -------------------------------------------------------------------------


class ChannelsInnermost(Mutant):
    """Assumes the quantization axis is the innermost one: element i takes channel i mod C."""

    clause = "AFF-1.3"

    def _parameters(self, values, scale, zero_point, axis, block_size):
        scales, zero_points = elementwise_parameters(values.shape, scale, zero_point, axis, block_size)
        if axis is not None and block_size is None and axis % values.ndim != values.ndim - 1:
            channels = values.shape[axis]
            flat = np.arange(values.size) % channels
            scales = np.asarray(scale, F32).reshape(-1)[flat].reshape(values.shape)
            zeros = np.zeros(channels, np.int64) if zero_point is None else np.asarray(zero_point).reshape(-1)
            zero_points = zeros[flat].reshape(values.shape)
        return scales, zero_points

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        values = np.asarray(x, F32)
        scales, zero_points = self._parameters(values, scale, zero_point, axis, block_size)
        return per_element(quantize, values, scales, zero_points, dtype, self.profile)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        values = np.asarray(q)
        scales, zero_points = self._parameters(values, scale, zero_point, axis, block_size)
        return per_element(dequantize, values, scales, zero_points, dtype, self.profile)


class _BlockDefect(Mutant):
    """Shared by the block mutants: which block element ``d`` along the axis uses."""

    def block_of(self, length: int, block_size: int) -> np.ndarray:
        raise NotImplementedError

    def _parameters(self, values, scale, zero_point, axis, block_size):
        if block_size is None:
            return elementwise_parameters(values.shape, scale, zero_point, axis, block_size)
        scale = np.asarray(scale, F32)
        zero_point = np.zeros(scale.shape, np.int64) if zero_point is None else np.asarray(zero_point, np.int64)
        indices = self.block_of(values.shape[axis], block_size)
        return np.take(scale, indices, axis=axis), np.take(zero_point, indices, axis=axis)

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        if block_size is None:
            return correct
        values = np.asarray(x, F32)
        scales, zero_points = self._parameters(values, scale, zero_point, axis, block_size)
        return per_element(quantize, values, scales, zero_points, dtype, self.profile)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        if block_size is None:
            return correct
        values = np.asarray(q)
        scales, zero_points = self._parameters(values, scale, zero_point, axis, block_size)
        return per_element(dequantize, values, scales, zero_points, dtype, self.profile)


class PartialBlockTakesFirstScale(_BlockDefect):
    """Gives a partial last block the first block's scale and zero point."""

    clause = "AFF-1.4"

    def block_of(self, length: int, block_size: int) -> np.ndarray:
        indices = np.arange(length) // block_size
        if length % block_size:
            indices[indices == indices[-1]] = 0
        return indices


class BlockIndexOffByOne(_BlockDefect):
    """Finds the block of element d as d // (block_size + 1)."""

    clause = "AFF-1.4"

    def block_of(self, length: int, block_size: int) -> np.ndarray:
        return np.arange(length) // (block_size + 1)


# --- dequantize --------------------------------------------------------------------------


class DequantizeMultiplyThenSubtract(Mutant):
    """Dequantizes as fl32(q * s) - fl32(z * s) instead of (q - z) * s."""

    clause = "AFF-4.2"
    dequantize_variants = {"dequantize_formula": "multiply_then_subtract"}


class DequantizeIgnoresZeroPoint(Mutant):
    """Dequantizes as q * s, ignoring the zero point."""

    clause = "AFF-4.2"

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        return dequantize(q, scale, None, axis=axis, block_size=block_size, dtype=dtype, profile=self.profile)


# --- input forms ---------------------------------------------------------------------------


class QuantizeIgnoresZeroPoint(Mutant):
    """Quantizes as if no zero point were given (the optional input ignored)."""

    clause = "AFF-3.3"

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        return quantize(x, scale, None, axis=axis, block_size=block_size, dtype=dtype, profile=self.profile)


class _ZeroPointForm(Mutant):
    """Shared by the zero-point form mutants: ``misread`` turns the zero point given into the one used."""

    def misread(self, zero_point, dtype: str):
        raise NotImplementedError

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        return _misread(quantize, self, x, scale, zero_point, axis, block_size, dtype)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        return _misread(dequantize, self, q, scale, zero_point, axis, block_size, dtype)


def _misread(function, mutant, values, scale, zero_point, axis, block_size, dtype):
    """``function`` with the zero point ``mutant`` misreads, through per-element parameters (the misread
    value may leave the type's range, which refq would reject)."""
    if zero_point is None:
        return function(values, scale, None, axis=axis, block_size=block_size, dtype=dtype, profile=mutant.profile)
    values = np.asarray(values)
    used = mutant.misread(np.asarray(zero_point), dtype)
    scales, zero_points = elementwise_parameters(values.shape, scale, used, axis, block_size)
    correct = function(values, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype,
                       profile=mutant.profile)
    if np.array_equal(np.asarray(used, np.int64), np.asarray(zero_point, np.int64)):
        return correct
    target = target_type(dtype)
    inside = (zero_points >= target.qmin) & (zero_points <= target.qmax)
    clipped = np.clip(zero_points, target.qmin, target.qmax)
    result = per_element(function, values, scales, clipped, dtype, mutant.profile)
    if function is quantize:
        # the zero point outside the range: round(x / s) + z, saturated
        shift = (zero_points - clipped).astype(np.int64)
        result = np.clip(result.astype(np.int64) + np.where(inside, 0, shift), target.qmin,
                         target.qmax).astype(correct.dtype)
    else:
        step = (zero_points - clipped).astype(np.float32) * np.asarray(scales, np.float32)
        result = np.where(inside, result, (result - step).astype(np.float32)).astype(np.float32)
    return result


class OneElementZeroPointIgnored(_ZeroPointForm):
    """Reads a per-tensor zero point given as a 1-element array (shape (1,)) as 0."""

    clause = "AFF-1.3"

    def misread(self, zero_point, dtype):
        return np.zeros_like(zero_point) if zero_point.shape == (1,) else zero_point


class PerAxisZeroPointFirstOnly(_ZeroPointForm):
    """Gives every channel (or block) the first channel's zero point."""

    clause = "AFF-1.3"

    def misread(self, zero_point, dtype):
        return np.full_like(zero_point, zero_point.reshape(-1)[0]) if zero_point.size > 1 else zero_point


def _unsigned_as_signed(dtype_name: str) -> type[Mutant]:
    bits = target_type(dtype_name, max_bits=32).format.bits

    def misread(self, zero_point, dtype):
        if dtype != dtype_name:
            return zero_point
        values = zero_point.astype(np.int64)
        return np.where(values >= 2 ** (bits - 1), values - 2**bits, values)

    name = f"UnsignedZeroPointAsSigned{dtype_name.capitalize()}"
    return type(name, (_ZeroPointForm,), {
        "__doc__": f"Reads a {dtype_name} zero point as the signed value of its bits (z >= 2^{bits - 1} becomes "
                   f"z - 2^{bits}).",
        "clause": "AFF-1.2", "misread": misread, "__module__": __name__})


UNSIGNED_AS_SIGNED = tuple(_unsigned_as_signed(dtype) for dtype in ("uint2", "uint4", "uint8", "uint16"))
globals().update({mutant.__name__: mutant for mutant in UNSIGNED_AS_SIGNED})


class DequantizeWrapsDifference(Mutant):
    """Dequantizes q - z in the container type, wrapping instead of widening (int8: 127 - (-128) = -1)."""

    clause = "AFF-4.2"

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        values = np.asarray(q)
        scales, zero_points = elementwise_parameters(values.shape, scale, zero_point, axis, block_size)
        target = target_type(dtype)
        span = 1 << target.format.bits
        difference = (values.astype(np.int64) - zero_points - target.qmin) % span + target.qmin
        return (difference.astype(np.float32) * scales).astype(np.float32).reshape(correct.shape)

