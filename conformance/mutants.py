"""Deliberately wrong backends: how the suite measures itself.

Each mutant is the correct refq adapter (:class:`ReferenceAdapter`, the refq backend, profile ``onnx``)
with exactly one defect. Most are derived from the registry: one per alternative value of
every variant dimension (:mod:`refq.registry.variants`) of the quantize, dequantize,
requantizing integer and elementwise operations, refq's own kernels with that one value
changed (:func:`derived_mutants`, :func:`derived_chapter_mutants`). The others are input
forms and defects real kernels have shipped with: an ignored optional input, a zero point
misread by its shape or as signed, wrapping instead of saturating, the wrong range, the
wrong channel or block, a 16-bit accumulator... A mutant no input tells apart from the
correct adapter is *equivalent* (:func:`is_equivalent`) and reported as such. A suite that
lets a mutant pass every case has a hole; the *mutation score* is the share of
mutants that fail at least one case (``refq mutation-score``). The correct adapter
must pass every case, or the score means nothing.

Mutants validate their arguments like the correct adapter (they call it first or
call refq with one argument changed), so they are caught by wrong answers, not
by rejecting valid input.
"""

from __future__ import annotations

import numpy as np

from refq.affine import dequantize, quantize
from refq.affine.parameters import target_type
from refq.backends.reference import RefqBackend
from refq.registry.operations import OPERATIONS_BY_NAME

F32 = np.float32


class ReferenceAdapter(RefqBackend):
    """The correct adapter: the refq backend (:class:`refq.backends.RefqBackend`) under ``profile``
    (``onnx`` unless set), its quantize and dequantize under ``quantize_variants`` and ``dequantize_variants``."""

    #: Variant values that replace the profile's (none: this adapter is correct).
    quantize_variants: dict[str, str] = {}
    dequantize_variants: dict[str, str] = {}

    @property
    def variants(self) -> dict[str, str]:
        return {**self.quantize_variants, **self.dequantize_variants}


#: The operations of :class:`ReferenceAdapter`: the refq backend's quantize and dequantize. Its other
#: operations are hidden (an adapter's operations are its callable methods), so that fingerprinting or
#: running it shows the affine reference the hand-written mutants change, and nothing else;
#: :class:`CompleteReference` adds the operations the other mutants change.
REFERENCE_OPERATIONS = ("quantize_linear", "dequantize_linear")
for _operation in OPERATIONS_BY_NAME:
    if _operation not in REFERENCE_OPERATIONS and callable(getattr(ReferenceAdapter, _operation, None)):
        setattr(ReferenceAdapter, _operation, None)


class Mutant(ReferenceAdapter):
    """A reference adapter with one defect (the first line of the class docstring)."""

    configurable_profile = False
    #: The clause whose rule the defect breaks.
    clause = ""
    #: The operations the defect is in: the mutation score runs the mutant on their cases only.
    operations: tuple[str, ...] = ("quantize_linear", "dequantize_linear")

    @classmethod
    def defect(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


class CompleteReference(ReferenceAdapter):
    """The correct adapter for every operation a mutant changes: :class:`ReferenceAdapter` plus refq's
    integer and elementwise functions under ``profile`` (the mutation score's reference run)."""

    def _chapter(self, operation: str, inputs, attributes) -> np.ndarray:
        return chapter_function(operation)(*inputs, **attributes, **profile_keywords(operation, self.profile))

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None):
        return _integer("matmul_integer")(a, b, a_zero_point, b_zero_point)

    def conv_integer(self, x, w, x_zero_point=None, w_zero_point=None, **attributes):
        return _integer("conv_integer")(x, w, x_zero_point, w_zero_point, **attributes)

    def qlinear_matmul(self, *inputs, **attributes):
        return self._chapter("qlinear_matmul", inputs, attributes)

    def qlinear_conv(self, *inputs, **attributes):
        return self._chapter("qlinear_conv", inputs, attributes)

    def qlinear_add(self, *inputs, **attributes):
        return self._chapter("qlinear_add", inputs, attributes)

    def qlinear_mul(self, *inputs, **attributes):
        return self._chapter("qlinear_mul", inputs, attributes)

    def qlinear_sigmoid(self, *inputs, **attributes):
        return self._chapter("qlinear_sigmoid", inputs, attributes)

    def qlinear_global_average_pool(self, *inputs, **attributes):
        return self._chapter("qlinear_global_average_pool", inputs, attributes)


def elementwise_parameters(shape, scale, zero_point, axis, block_size):
    """Scale and zero point expanded to one per element of an array shaped ``shape`` (the
    arguments are already validated): per-axis values repeated along ``axis``, block values
    repeated ``block_size`` times with the partial last block cut off."""
    scale = np.asarray(scale, F32)
    zero_point = np.zeros(scale.shape, np.int64) if zero_point is None else np.asarray(zero_point, np.int64)
    if axis is None:
        return np.broadcast_to(scale.reshape(()), shape), np.broadcast_to(zero_point.reshape(()), shape)
    axis = axis % len(shape)
    if block_size is None:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return (np.broadcast_to(scale.reshape(view), shape), np.broadcast_to(zero_point.reshape(view), shape))
    indices = np.arange(shape[axis]) // block_size
    return np.take(scale, indices, axis=axis), np.take(zero_point, indices, axis=axis)


def _per_element(function, values, scale, zero_point, dtype, profile, **options):
    """``function`` (quantize or dequantize) with a scale and zero point per element: blocks of one."""
    values = np.asarray(values)
    if values.ndim == 0:
        return function(values, scale.reshape(()), zero_point.reshape(()), dtype=dtype, profile=profile, **options)
    return function(values, np.ascontiguousarray(scale), np.ascontiguousarray(zero_point), axis=0, block_size=1,
                    dtype=dtype, profile=profile, **options)


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
        return _per_element(quantize, values, scales, zero_points, dtype, self.profile)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        values = np.asarray(q)
        scales, zero_points = self._parameters(values, scale, zero_point, axis, block_size)
        return _per_element(dequantize, values, scales, zero_points, dtype, self.profile)


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
        return _per_element(quantize, values, scales, zero_points, dtype, self.profile)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        correct = super().dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)
        if block_size is None:
            return correct
        values = np.asarray(q)
        scales, zero_points = self._parameters(values, scale, zero_point, axis, block_size)
        return _per_element(dequantize, values, scales, zero_points, dtype, self.profile)


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
    result = _per_element(function, values, scales, clipped, dtype, mutant.profile)
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


# --- integer operations: optional inputs and the accumulator ---------------------------------------------


def _integer(operation: str):
    from refq.integer_ops.conv import conv_integer
    from refq.integer_ops.matmul import matmul_integer

    return {"matmul_integer": matmul_integer, "conv_integer": conv_integer}[operation]


def _ignoring(operation: str, position: int, name: str, input_name: str) -> type[Mutant]:
    def method(self, *inputs, **attributes):
        inputs = list(inputs) + [None] * (4 - len(inputs))
        _integer(operation)(*inputs, **attributes)  # reject what the reference rejects
        inputs[position] = None
        return _integer(operation)(*inputs, **attributes)

    method.__name__ = operation
    return type(name, (Mutant,), {"__doc__": f"{operation} ignores {input_name} (the optional input taken as 0).",
                                  "__module__": __name__, "clause": "INT-2.2" if operation == "matmul_integer"
                                  else "INT-3.2", "operations": (operation,), operation: method})


IGNORED_INPUTS = (_ignoring("matmul_integer", 2, "IgnoresAZeroPoint", "a_zero_point"),
                  _ignoring("matmul_integer", 3, "IgnoresBZeroPoint", "b_zero_point"),
                  _ignoring("conv_integer", 2, "ConvIgnoresXZeroPoint", "x_zero_point"),
                  _ignoring("conv_integer", 3, "ConvIgnoresWZeroPoint", "w_zero_point"))
globals().update({mutant.__name__: mutant for mutant in IGNORED_INPUTS})


class Accumulator16Bit(Mutant):
    """matmul_integer accumulates in 16 bits and wraps (the int32 sum modulo 2^16)."""

    clause = "INT-2.4"
    operations = ("matmul_integer",)

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None):
        total = _integer("matmul_integer")(a, b, a_zero_point, b_zero_point).astype(np.int64)
        return ((total + 2**15) % 2**16 - 2**15).astype(np.int32)


# --- one mutant per alternative value of every variant dimension ------------------------------

#: The profile the registry-derived mutants change one value of: every quantize value is specified there
#: (NaN gives qmin), so each other value is a defect the vectors can see.
DERIVED_PROFILE = "onnxruntime"
#: The operations whose vectors the mutation score runs, by variant kind.
DERIVED_KINDS = {"quantize": "quantize_variants", "dequantize": "dequantize_variants"}


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.split("_"))


def derived_mutants() -> tuple[tuple[type[Mutant], ...], dict[str, tuple[str, str, str]]]:
    """One mutant per (variant, other value) of the quantize and dequantize variants under
    :data:`DERIVED_PROFILE`, and the values that are no valid combination there: a single-defect
    mutant of them does not exist (name -> (variant, value, why))."""
    from refq.affine.profiles import resolve_variants
    from refq.errors import RefqError
    from refq.registry.variants import VARIANTS

    made, invalid_values = [], {}
    for variant in VARIANTS:
        if variant.operation not in DERIVED_KINDS:
            continue
        current = resolve_variants(DERIVED_PROFILE, variant.operation)[variant.name].name
        for value in variant.values:
            if value.name == current:
                continue
            name = f"{_camel(variant.name)}{_camel(value.name)}"
            try:
                resolve_variants(DERIVED_PROFILE, variant.operation, overrides={variant.name: value.name})
            except RefqError as error:
                invalid_values[name] = (variant.name, value.name, str(error))
                continue
            made.append(type(name, (Mutant,), {
                "__doc__": f"{variant.name} = {value.name} instead of {current} ({value.meaning}).",
                "__module__": __name__, "clause": variant.clause, "profile": DERIVED_PROFILE,
                "variant": (variant.name, value.name),
                DERIVED_KINDS[variant.operation]: {variant.name: value.name}}))
    return tuple(made), invalid_values


#: The variants of the integer and elementwise operations that refq's chapter functions take as a keyword
#: (registry variant -> (operations, keyword)); the other requantize variants (fixed-point multipliers,
#: accumulators) belong to no operation the vectors run.
CHAPTER_VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "requantize_precision": (("qlinear_matmul", "qlinear_conv"), "precision"),
    "requantize_zero_point": (("qlinear_matmul", "qlinear_conv"), "zero_point_placement"),
    "requantize_multiplier_order": (("qlinear_matmul", "qlinear_conv"), "multiplier_order"),
    "requantize_rounding": (("qlinear_matmul", "qlinear_conv"), "rounding"),
    "conv_padding": (("qlinear_conv",), "conv_padding"),
    "add_fixed_part": (("qlinear_add",), "add_fixed_part"),
    "add_operand_order": (("qlinear_add",), "add_operand_order"),
    "mul_zero_point": (("qlinear_mul",), "mul_zero_point"),
    "sigmoid_function": (("qlinear_sigmoid",), "sigmoid_function"),
    "average_sum": (("qlinear_global_average_pool",), "average_sum"),
}


def chapter_function(operation: str):
    """refq's function of an integer or elementwise operation (the keyword variants of CHAPTER_VARIANTS)."""
    from refq.elementwise.binary import qlinear_add, qlinear_mul
    from refq.elementwise.lookup import qlinear_sigmoid
    from refq.elementwise.pooling import qlinear_global_average_pool
    from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul

    return {"qlinear_matmul": qlinear_matmul, "qlinear_conv": qlinear_conv, "qlinear_add": qlinear_add,
            "qlinear_mul": qlinear_mul, "qlinear_sigmoid": qlinear_sigmoid,
            "qlinear_global_average_pool": qlinear_global_average_pool}[operation]


def profile_keywords(operation: str, profile: str = None) -> dict[str, str]:
    """The keywords of :func:`chapter_function` that give ``profile``'s answer (default
    :data:`DERIVED_PROFILE`): its REQ-1 values for the integer operations where it names them (where it
    leaves them open, ONNX Runtime's are among the answers it allows); the ELT rules are one definition."""
    from refq.integer_ops.profiles import INTEGER_PROFILES, integer_profile

    profile = DERIVED_PROFILE if profile is None else profile
    if operation in ("qlinear_matmul", "qlinear_conv") and profile in INTEGER_PROFILES:
        return dict(integer_profile(profile).requantize or {})
    return {}


def _chapter_method(operation: str, keyword: str, value: str):
    def method(self, *inputs, **attributes):
        function = chapter_function(operation)
        function(*inputs, **attributes, **profile_keywords(operation))  # reject what the reference rejects
        return function(*inputs, **attributes, **{**profile_keywords(operation), keyword: value})

    method.__name__ = operation
    return method


def derived_chapter_mutants() -> tuple[type[Mutant], ...]:
    """One mutant per alternative value of every :data:`CHAPTER_VARIANTS` variant: refq's function with
    that one value changed, under :data:`DERIVED_PROFILE` (the other values are its, or the function's
    defaults, which are ONNX Runtime's)."""
    from refq.registry.variants import VARIANTS_BY_NAME

    made = []
    for name, (operations, keyword) in CHAPTER_VARIANTS.items():
        variant = VARIANTS_BY_NAME[name]
        for value in variant.values:
            current = profile_keywords(operations[0]).get(keyword, variant.values[0].name)
            if value.name == current:
                continue
            methods = {operation: _chapter_method(operation, keyword, value.name) for operation in operations}
            made.append(type(f"{_camel(name)}{_camel(value.name)}", (Mutant,), {
                "__doc__": f"{name} = {value.name} instead of {current} ({value.meaning}).",
                "__module__": __name__, "clause": variant.clause, "profile": DERIVED_PROFILE,
                "variant": (name, value.name), "operations": operations, **methods}))
    return tuple(made)


DERIVED, INVALID_VALUES = derived_mutants()
DERIVED += derived_chapter_mutants()
INVALID_VARIANTS = tuple((variant, value) for variant, value, _ in INVALID_VALUES.values())
globals().update({mutant.__name__: mutant for mutant in DERIVED})

#: The hand-written mutants that are one variant value: kept as names (tests and docs use them), but
#: the derived mutant is the one run.
REPLACED_BY_DERIVED = (TiesAwayFromZero, Truncation, ReciprocalInsteadOfDivision, Float64Division,
                       ZeroPointBeforeRounding, NaNToQmax, DequantizeMultiplyThenSubtract)

HAND_WRITTEN: tuple[type[Mutant], ...] = (
    FloorOfHalfAdded, NarrowRangeInt8, Int4Symmetric, UnsignedClampedAsSigned, WrapsInsteadOfSaturating,
    ChannelsInnermost, PartialBlockTakesFirstScale, BlockIndexOffByOne, DequantizeIgnoresZeroPoint,
    QuantizeIgnoresZeroPoint, OneElementZeroPointIgnored, PerAxisZeroPointFirstOnly, *UNSIGNED_AS_SIGNED,
    DequantizeWrapsDifference, *IGNORED_INPUTS, Accumulator16Bit,
)
MUTANTS: tuple[type[Mutant], ...] = (*DERIVED, *HAND_WRITTEN)
#: The derived mutants :func:`is_equivalent` finds identical to the correct adapter under their profile:
#: conversion_overflow only matters with a convert-then-clamp saturation, refq's 'unpredictable' NaN
#: computes qmin, and a difference already converted to float32 times s is one exactly rounded product in
#: float32 or float64 alike. tests/test_conformance_mutants.py checks the detection finds exactly these.
EQUIVALENT: tuple[type[Mutant], ...] = tuple(
    mutant for mutant in DERIVED if mutant.__name__ in ("ConversionOverflowUnpredictable", "NanUnpredictable",
                                                        "DequantizePrecisionFloat64"))
#: The mutants ``refq fuzz`` (quantize_linear and dequantize_linear) must find: the affine ones that have a defect.
FUZZABLE: tuple[type[Mutant], ...] = tuple(
    mutant for mutant in MUTANTS if set(mutant.operations) <= {"quantize_linear", "dequantize_linear"}
    and mutant not in EQUIVALENT)

#: Mutants the issue asks for that need operations without a reference yet: listed so the score page
#: names them, never faked (none left: matmul_integer's are below).
PENDING: dict[str, str] = {}


def spec(mutant: type[Mutant]) -> str:
    """The ``--backend`` SPEC that loads ``mutant``."""
    return f"{__name__}:{mutant.__name__}"


# --- equivalent mutants ------------------------------------------------------------------------


def equivalence_inputs() -> list[tuple[str, tuple, dict]]:
    """A wide net of calls on which a mutant that differs from the correct adapter anywhere should
    differ: every width, the zero point at both ends, in the middle and off centre, per tensor (scalar
    and 1-element forms), per axis and blocked with a partial last block, on the float32 boundary table,
    ties and their neighbours, saturation edges and specials; dequantize on every code of the small types."""
    from refq.conformance.generate.boundaries import float32_boundaries, neighbours, unique_in_order
    from refq.conformance.generate.parameters import INEXACT_SCALE, WIDTHS, exact_scale, zero_points
    from refq.conformance.generate.values import saturation_edges, specials, ties

    calls = []
    rng = np.random.default_rng(7)
    for dtype in WIDTHS:
        chosen = target_type(dtype, max_bits=32)
        for zero_point in zero_points(chosen):
            for scale in (exact_scale(3, -7), exact_scale(1, -4)):
                tie_values = ties(chosen, zero_point, scale, limit=64)
                ends = saturation_edges(chosen, zero_point, scale)
                x = unique_in_order(np.concatenate([specials(), float32_boundaries(significands=(0, 1, (1 << 23) - 1)),
                                                    tie_values, neighbours(tie_values), ends, neighbours(ends)]))
                for form in (np.asarray(zero_point), np.asarray([zero_point])):
                    zp = form.astype(chosen.container)
                    calls.append(("quantize_linear", (x, np.asarray(scale, F32).reshape(form.shape), zp),
                                  {"dtype": dtype}))
            codes = np.arange(chosen.qmin, min(chosen.qmax, chosen.qmin + 4095) + 1)
            codes = np.concatenate([codes, np.arange(max(chosen.qmin, chosen.qmax - 4095), chosen.qmax + 1)])
            for form in (np.asarray(zero_point), np.asarray([zero_point])):
                calls.append(("dequantize_linear", (codes.astype(chosen.container), np.asarray(INEXACT_SCALE, F32)
                                                    .reshape(form.shape), form.astype(chosen.container)),
                              {"dtype": dtype}))
        points = np.array((zero_points(chosen) * 3)[:6])
        scales = rng.uniform(0.01, 0.3, 6).astype(F32)
        x = (rng.standard_normal((6, 40)) * 40 * scales[:, None]).astype(F32)
        calls.append(("quantize_linear", (x, scales, points.astype(chosen.container)), {"axis": 0, "dtype": dtype}))
        q = rng.integers(chosen.qmin, chosen.qmax + 1, (6, 40)).astype(chosen.container)
        calls.append(("dequantize_linear", (q, scales, points.astype(chosen.container)), {"axis": 0, "dtype": dtype}))
        block_scales = rng.uniform(0.01, 0.3, (3, 2)).astype(F32)
        block_points = np.array((zero_points(chosen) * 6)[:6]).reshape(3, 2).astype(chosen.container)
        x = (rng.standard_normal((3, 7)) * 40 * 0.1).astype(F32)
        calls.append(("quantize_linear", (x, block_scales, block_points), {"axis": 1, "block_size": 4, "dtype": dtype}))
        q = rng.integers(chosen.qmin, chosen.qmax + 1, (3, 7)).astype(chosen.container)
        calls.append(("dequantize_linear", (q, block_scales, block_points), {"axis": 1, "block_size": 4,
                                                                             "dtype": dtype}))
    from refq.conformance import fingerprint

    for probe in fingerprint.quantize_probes() + fingerprint.dequantize_probes():
        op = "dequantize_linear" if probe.values.dtype != F32 else "quantize_linear"
        calls.append((op, (probe.values, probe.scale, np.asarray(probe.zero_point).astype(
            target_type(probe.dtype).container)), {"dtype": probe.dtype}))
    for zero_point in (0, -(2**31), 2**31 - 1, 12345):
        big = np.array([-(2**31), -(2**31) + 1, -(2**24) - 1, 2**24 + 1, 2**24 + 3, 2**31 - 1, 2**31 - 2, 0, 7,
                        -16777217, 16777219, 123456789, -987654321], np.int32)
        for scale in (INEXACT_SCALE, np.float32(0.37), np.float32(3.0)):
            calls.append(("dequantize_linear", (big, np.asarray(scale, F32), np.int32(zero_point)), {"dtype": "int32"}))
    for dtype in ("int8", "uint8", "int16"):
        chosen = target_type(dtype, max_bits=32)
        for zero_point in zero_points(chosen):
            x = ((rng.random(4096) * 1.2 - 0.1) * (chosen.qmax - chosen.qmin) + chosen.qmin - zero_point)
            calls.append(("quantize_linear", ((x * np.float64(INEXACT_SCALE)).astype(F32), INEXACT_SCALE,
                                              np.asarray(zero_point).astype(chosen.container)), {"dtype": dtype}))
    return calls


def _same_output(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype == np.float32 and b.dtype == np.float32:
        return np.array_equal(a.view(np.uint32), b.view(np.uint32))
    return np.array_equal(a.astype(np.int64), b.astype(np.int64))


def chapter_equivalence_inputs() -> list[tuple[str, tuple, dict]]:
    """The integer and elementwise operations' net: the fingerprint's discriminating probes (per tensor
    and per channel), built to separate every value of their dimensions."""
    from refq.conformance import fingerprint_elementwise, fingerprint_integer

    calls = []
    for chapter in (fingerprint_integer.CHAPTER, fingerprint_elementwise.CHAPTER):
        for operation in chapter.operations:
            if operation not in {op for ops, _ in CHAPTER_VARIANTS.values() for op in ops}:
                continue
            for granularity in chapter.granularities:
                calls += [(operation, probe.inputs, probe.attributes) for probe in chapter.probes(operation, granularity)]
    return calls


def is_equivalent(mutant: type[Mutant], calls=None) -> bool:
    """Whether ``mutant`` gives the correct adapter's output (under its profile) on every call of
    :func:`equivalence_inputs` and :func:`chapter_equivalence_inputs` to its operations: such a mutant
    has no defect any input shows, and no vector can kill it. A mutant with no such call is not."""
    calls = equivalence_inputs() + chapter_equivalence_inputs() if calls is None else calls
    calls = [call for call in calls if call[0] in mutant.operations]
    if not calls:
        return False
    correct = CompleteReference()
    correct.profile = mutant.profile
    wrong = mutant()
    for op, inputs, attributes in calls:
        outputs = []
        for adapter in (wrong, correct):
            try:
                outputs.append(getattr(adapter, op)(*inputs, **attributes))
            except Exception as error:  # noqa: BLE001 - a rejection is an output too
                outputs.append(type(error).__name__)
        if isinstance(outputs[0], str) or isinstance(outputs[1], str):
            if not (isinstance(outputs[0], str) and isinstance(outputs[1], str) and outputs[0] == outputs[1]):
                return False
        elif not _same_output(*outputs):
            return False
    return True


def equivalent_mutants() -> tuple[type[Mutant], ...]:
    calls = equivalence_inputs() + chapter_equivalence_inputs()
    return tuple(mutant for mutant in MUTANTS if is_equivalent(mutant, calls))


# --- the score ---------------------------------------------------------------------------

OPERATIONS = tuple(dict.fromkeys(op for mutant in MUTANTS for op in mutant.operations))


def case_operation(case) -> str:
    """The operation of a case: a loaded :class:`Case` or a descriptor path ``.../<op>/<case>/<profile>.json``."""
    from pathlib import Path

    return case.op if hasattr(case, "op") else Path(case).parent.parent.name


def fallback_cases() -> list:
    """In-memory cases for when no vectors are installed: the fingerprint's discriminating
    inputs plus random data for int8, uint8 and int4, per tensor, per axis and blocked with
    a partial last block, under the profiles the mutants declare. Expected outputs are refq's."""
    from refq.conformance import fingerprint
    from refq.conformance.case import Case
    from refq.conformance.reference import run

    rng = np.random.default_rng(20240604)
    calls = []
    for probe in fingerprint.quantize_probes():
        calls.append(("quantize_linear", probe.name, probe.values, probe.scale, np.int8(probe.zero_point),
                      {"dtype": probe.dtype}))
    values, scales, zero_points, _ = fingerprint.stacked(fingerprint.quantize_probes())
    calls.append(("quantize_linear", "probes per axis", values, scales, zero_points.astype(np.int8),
                  {"axis": 0, "dtype": "int8"}))
    for probe in fingerprint.dequantize_probes():
        calls.append(("dequantize_linear", probe.name, probe.values, probe.scale,
                      np.array(probe.zero_point, probe.values.dtype), {"dtype": probe.dtype}))
    shape = (3, 6, 5)
    for dtype in ("int8", "uint8", "int4"):
        target = target_type(dtype)
        for layout, scale_shape, attributes in (("per tensor", (), {}), ("per axis", (6,), {"axis": 1}),
                                                ("blocked", (3, 2, 5), {"axis": 1, "block_size": 4})):
            scale = rng.uniform(0.01, 0.2, scale_shape).astype(F32)
            zero_point = rng.integers(target.qmin, target.qmax + 1, scale_shape).astype(target.container)
            x = (rng.standard_normal(shape) * 30 * float(np.max(scale))).astype(F32)
            q = rng.integers(target.qmin, target.qmax + 1, shape).astype(target.container)
            calls.append(("quantize_linear", f"random {dtype} {layout}", x, scale, zero_point,
                          {**attributes, "dtype": dtype}))
            calls.append(("dequantize_linear", f"random {dtype} {layout}", q, scale, zero_point,
                          {**attributes, "dtype": dtype}))
    # the input forms: zero points with the top bit set, a large int32 zero point, 1-element parameters
    for dtype in ("uint2", "uint4", "uint16"):
        target = target_type(dtype, max_bits=32)
        x = (rng.standard_normal(64) * (target.qmax - target.qmin) * 0.05).astype(F32)
        zero_point = np.asarray(target.qmax).astype(target.container)
        calls.append(("quantize_linear", f"zero point qmax {dtype}", x, F32(0.05), zero_point, {"dtype": dtype}))
        q = rng.integers(target.qmin, target.qmax + 1, 64).astype(target.container)
        calls.append(("dequantize_linear", f"zero point qmax {dtype}", q, F32(0.05), zero_point, {"dtype": dtype}))
    wide = np.array([-(2**31), -(2**24) - 1, 0, 7, 2**24 + 3, 2**31 - 1, 123456789, -987654321], np.int32)
    calls.append(("dequantize_linear", "large int32 zero point", wide, F32(1 / 57.8), np.int32(2**30 + 3),
                  {"dtype": "int32"}))
    x = (rng.standard_normal(64) * 3).astype(F32)
    calls.append(("quantize_linear", "1-element parameters", x, np.array([0.05], F32), np.array([-37], np.int8),
                  {"dtype": "int8"}))
    cases = []
    for profile in sorted({mutant.profile for mutant in MUTANTS} | {ReferenceAdapter.profile}):
        for op, name, values, scale, zero_point, attributes in calls:
            names = ("x", "scale", "zero_point") if op == "quantize_linear" else ("q", "scale", "zero_point")
            inputs = dict(zip(names, (values, np.asarray(scale, F32), np.asarray(zero_point))))
            expected, unpredictable = run(op, inputs, attributes, profile)
            cases.append(Case(id=f"mutation/{op}/{name}/{profile}", op=op, profile=profile, clauses=(),
                              description=name, level=1, attributes=attributes, inputs=inputs, outcome="valid",
                              expected=expected, unpredictable=unpredictable))
    return cases + _fallback_chapter_cases(rng)


def _fallback_chapter_cases(rng) -> list:
    """The integer and elementwise operations' in-memory cases: the fingerprint's probes, and random
    matmul_integer / conv_integer inputs with nonzero zero points, under the mutants' profiles."""
    from refq.conformance.case import Case
    from refq.conformance.reference import run
    from refq.registry.operations import OPERATIONS_BY_NAME

    calls = [(op, f"probe {index}", inputs, attributes)
             for index, (op, inputs, attributes) in enumerate(chapter_equivalence_inputs())]
    a, b = rng.integers(0, 256, (4, 40)).astype(np.uint8), rng.integers(-128, 128, (40, 3)).astype(np.int8)
    calls.append(("matmul_integer", "random", (a, b, np.uint8(200), np.array([3, -100, 127], np.int8)), {}))
    x, w = rng.integers(0, 256, (1, 2, 6, 6)).astype(np.uint8), rng.integers(-128, 128, (3, 2, 3, 3)).astype(np.int8)
    calls.append(("conv_integer", "random", (x, w, np.uint8(77), np.int8(-5)), {"pads": [1, 1, 1, 1]}))
    cases = []
    for op, name, inputs, attributes in calls:
        named = dict(zip(OPERATIONS_BY_NAME[op].input_names, inputs))
        for profile in sorted({mutant.profile for mutant in MUTANTS if op in mutant.operations}):
            expected, unpredictable = run(op, named, attributes, profile)
            cases.append(Case(id=f"mutation/{op}/{name}/{profile}", op=op, profile=profile, clauses=(),
                              description=name, level=1, attributes=attributes, inputs=named, outcome="valid",
                              expected=expected, unpredictable=unpredictable))
    return cases


def level_cases(level: int = 1) -> list:
    """The shipped vectors up to ``level`` for the operations the mutants implement (descriptor
    paths), or :func:`fallback_cases` when none are installed."""
    from refq.conformance.case import iter_case_paths

    paths = list(iter_case_paths(level=level, ops=set(OPERATIONS)))
    return paths if paths else fallback_cases()


class Score:
    """Failing cases per mutant, and whether the correct adapter passed under each profile."""

    def __init__(self, caught: dict[str, int], cases: dict[str, int], correct: dict[str, list[str]],
                 source: str, equivalent: tuple[str, ...] = ()) -> None:
        #: Mutant name -> cases that failed or errored (0: the mutant survived).
        self.caught = caught
        #: Mutant name -> cases run.
        self.cases = cases
        #: Profile -> ids of the cases the correct adapter did not pass (must be empty).
        self.correct = correct
        #: "level N vectors" or "in-memory cases".
        self.source = source
        #: Mutants identical to the correct adapter on every input tried (:func:`is_equivalent`): no
        #: vector can kill them, so they are reported apart, neither killed nor survivors.
        self.equivalent = tuple(equivalent)

    @property
    def killed(self) -> int:
        return sum(1 for count in self.caught.values() if count)

    @property
    def total(self) -> int:
        """The mutants that can be killed (the equivalent ones left out)."""
        return len([name for name in self.caught if name not in self.equivalent])

    @property
    def survivors(self) -> list[str]:
        return [name for name, count in self.caught.items() if not count and name not in self.equivalent]

    @property
    def perfect(self) -> bool:
        return not self.survivors and not any(self.correct.values())

    def summary(self) -> str:
        equivalent = f", {len(self.equivalent)} equivalent (no input tells them apart)" if self.equivalent else ""
        return f"{self.killed}/{self.total} mutants caught{equivalent}"


def mutation_score(level: int = 1, *, cases=None, timeout: float = 60.0, progress: bool | None = None) -> Score:
    """Run every mutant, and the correct adapter under each profile they declare, on ``cases``
    (default: :func:`level_cases`) through the harness; a mutant is caught by any failing or
    erroring case."""
    from refq.conformance.harness import run_cases

    cases = level_cases(level) if cases is None else cases
    source = "in-memory cases" if cases and not isinstance(cases[0], (str, bytes)) and hasattr(cases[0], "op") \
        else f"level {level} vectors"
    caught, counts = {}, {}
    for mutant in MUTANTS:
        own = [case for case in cases if case_operation(case) in mutant.operations]
        results = run_cases(spec(mutant), own, timeout=timeout, progress=progress)
        caught[mutant.__name__] = sum(1 for r in results if r.status in ("fail", "error"))
        counts[mutant.__name__] = len(results)
    correct = {}
    for profile in sorted({mutant.profile for mutant in MUTANTS}):
        results = run_cases(spec(CompleteReference), cases, profile=profile, timeout=timeout, progress=progress)
        correct[profile] = [r.id for r in results if r.status in ("fail", "error")]
    equivalent = tuple(mutant.__name__ for mutant in equivalent_mutants())
    return Score(caught, counts, correct, source, equivalent)
