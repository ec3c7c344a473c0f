"""Deliberately wrong backends: how the suite measures itself.

Each mutant is the correct refq adapter (:class:`ReferenceAdapter`, profile ``onnx``)
with exactly one defect that real kernels have shipped with: ties away from zero, a
reciprocal instead of a division, a zero point added before rounding, the wrong
range, the wrong channel or block, the other dequantize formula... A suite that
lets a mutant pass every case has a hole; the *mutation score* is the share of
mutants that fail at least one case (``refq mutation-score``). The correct adapter
must pass every case, or the score means nothing.

Mutants validate their arguments like the correct adapter (they call it first or
call refq with one argument changed), so they are caught by wrong answers, not
by rejecting valid input.
"""

from __future__ import annotations

import numpy as np

import refq
from refq.affine import dequantize, quantize
from refq.affine.parameters import target_type

F32 = np.float32


class ReferenceAdapter:
    """The correct adapter: refq itself under ``profile`` (``onnx`` unless set)."""

    name = "refq"
    profile = "onnx"
    #: The harness may set ``profile`` to run this adapter under any profile.
    configurable_profile = True
    version = refq.__version__ if hasattr(refq, "__version__") else ""
    #: Variant values that replace the profile's (none: this adapter is correct).
    quantize_variants: dict[str, str] = {}
    dequantize_variants: dict[str, str] = {}

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        return quantize(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype, profile=self.profile,
                        **self.quantize_variants)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        return dequantize(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype, profile=self.profile,
                          **self.dequantize_variants)


class Mutant(ReferenceAdapter):
    """A reference adapter with one defect (the first line of the class docstring)."""

    configurable_profile = False
    #: The clause whose rule the defect breaks.
    clause = ""

    @classmethod
    def defect(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


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


MUTANTS: tuple[type[Mutant], ...] = (
    TiesAwayFromZero, Truncation, FloorOfHalfAdded, ReciprocalInsteadOfDivision, Float64Division,
    ZeroPointBeforeRounding, NarrowRangeInt8, Int4Symmetric, UnsignedClampedAsSigned, WrapsInsteadOfSaturating,
    NaNToQmax, ChannelsInnermost, PartialBlockTakesFirstScale, BlockIndexOffByOne, DequantizeMultiplyThenSubtract,
    DequantizeIgnoresZeroPoint,
)

#: Mutants the issue asks for that need operations without a reference yet (matmul_integer):
#: listed so the score page names them, never faked.
PENDING = {
    "IgnoresBZeroPoint": "matmul_integer ignores b_zero_point",
    "Accumulator16Bit": "matmul_integer accumulates in 16 bits and wraps",
}


def spec(mutant: type[Mutant]) -> str:
    """The ``--backend`` SPEC that loads ``mutant``."""
    return f"{__name__}:{mutant.__name__}"


# --- the score ---------------------------------------------------------------------------

OPERATIONS = ("quantize_linear", "dequantize_linear")


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
    cases = []
    for profile in sorted({mutant.profile for mutant in MUTANTS} | {ReferenceAdapter.profile}):
        for op, name, values, scale, zero_point, attributes in calls:
            names = ("x", "scale", "zero_point") if op == "quantize_linear" else ("q", "scale", "zero_point")
            inputs = dict(zip(names, (values, np.asarray(scale, F32), np.asarray(zero_point))))
            expected, unpredictable = run(op, inputs, attributes, profile)
            cases.append(Case(id=f"mutation/{op}/{name}/{profile}", op=op, profile=profile, clauses=(),
                              description=name, level=1, attributes=attributes, inputs=inputs, outcome="valid",
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
                 source: str) -> None:
        #: Mutant name -> cases that failed or errored (0: the mutant survived).
        self.caught = caught
        #: Mutant name -> cases run.
        self.cases = cases
        #: Profile -> ids of the cases the correct adapter did not pass (must be empty).
        self.correct = correct
        #: "level N vectors" or "in-memory cases".
        self.source = source

    @property
    def killed(self) -> int:
        return sum(1 for count in self.caught.values() if count)

    @property
    def total(self) -> int:
        return len(self.caught)

    @property
    def perfect(self) -> bool:
        return self.killed == self.total and not any(self.correct.values())

    def summary(self) -> str:
        return f"{self.killed}/{self.total} mutants caught"


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
        results = run_cases(spec(mutant), cases, timeout=timeout, progress=progress)
        caught[mutant.__name__] = sum(1 for r in results if r.status in ("fail", "error"))
        counts[mutant.__name__] = len(results)
    correct = {}
    for profile in sorted({mutant.profile for mutant in MUTANTS}):
        results = run_cases(spec(ReferenceAdapter), cases, profile=profile, timeout=timeout, progress=progress)
        correct[profile] = [r.id for r in results if r.status in ("fail", "error")]
    return Score(caught, counts, correct, source)
