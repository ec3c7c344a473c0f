"""Deliberately wrong backends: how the suite measures itself.

Each mutant is the correct adapter (:class:`ReferenceAdapter`, the refq backend) with exactly one
defect. Most are derived from the registry: one per alternative value of every variant dimension
(:mod:`refq.registry.variants`) of the quantize, dequantize, requantizing integer, elementwise and
observer operations, refq's own kernels with that one value changed (:mod:`.mutant_derived`), and
one per optional input of every operation record, taken as absent, and per per-axis zero point,
read as its first value (:mod:`.mutant_inputs`). The
others are input forms and defects real kernels have shipped with (:mod:`.mutant_affine`,
:mod:`.mutant_integer`): a zero point misread by its shape or as signed, wrapping instead of
saturating, the wrong range, the wrong channel or block, a 16-bit accumulator... A mutant no input
tells apart from the correct adapter is *equivalent* (:mod:`.mutant_equivalence`) and reported as
such. A suite that lets a mutant pass every case has a hole; the *mutation score*
(:mod:`.mutant_score`) is the share of mutants that fail at least one case (``refq mutation-score``).
The correct adapter, the ``refq`` backend, must pass every case, or the score means nothing.

Mutants validate their arguments like the correct adapter (they call it first or call refq with
one argument changed), so they are caught by wrong answers, not by rejecting valid input.

This module is the catalogue: every mutant by name (loadable as ``refq.conformance.mutants:NAME``),
the lists the score and the fuzzer run, and the public names of the modules it gathers.
"""

from __future__ import annotations

from refq.conformance.mutant_adapter import (CORRECT_BACKEND, REFERENCE_OPERATIONS, Mutant, ReferenceAdapter,
                                             correct_adapter, per_element)
from refq.conformance.mutant_affine import (UNSIGNED_AS_SIGNED, BlockIndexOffByOne, ChannelsInnermost,
                                            DequantizeIgnoresZeroPoint, DequantizeMultiplyThenSubtract,
                                            DequantizeWrapsDifference, Float64Division, FloorOfHalfAdded,
                                            Int4Symmetric, NaNToQmax, NarrowRangeInt8, OneElementZeroPointIgnored,
                                            PartialBlockTakesFirstScale, PerAxisZeroPointFirstOnly,
                                            QuantizeIgnoresZeroPoint, ReciprocalInsteadOfDivision, TiesAwayFromZero,
                                            Truncation, UnsignedClampedAsSigned, WrapsInsteadOfSaturating,
                                            ZeroPointBeforeRounding)
from refq.conformance.mutant_cases import case_operation, fallback_cases, level_cases
from refq.conformance.mutant_derived import (CHAPTER_VARIANTS, DERIVED, DERIVED_KINDS, DERIVED_PROFILE,
                                             INVALID_VALUES, INVALID_VARIANTS, OBSERVER_OPERATIONS, OBSERVER_PROFILE,
                                             OBSERVER_VARIANTS, UNTAKEN_STEPS, chapter_function,
                                             derived_chapter_mutants, derived_mutants, derived_observer_mutants,
                                             profile_keywords)
from refq.conformance.mutant_equivalence import (chapter_equivalence_inputs, equivalence_inputs, equivalent_mutants,
                                                 is_equivalent)
from refq.conformance.mutant_inputs import FIRST_ZERO_POINT_ONLY, IGNORED_INPUTS, PER_AXIS_ZERO_POINTS
from refq.conformance.mutant_integer import Accumulator16Bit
from refq.conformance.mutant_score import Score, mutation_score
from refq.strategies import elementwise_parameters

globals().update({mutant.__name__: mutant for mutant in (*DERIVED, *UNSIGNED_AS_SIGNED, *IGNORED_INPUTS,
                                                          *FIRST_ZERO_POINT_ONLY)})

#: The hand-written mutants that are one variant value: kept as names (tests and docs use them), but
#: the derived mutant is the one run.
REPLACED_BY_DERIVED = (TiesAwayFromZero, Truncation, ReciprocalInsteadOfDivision, Float64Division,
                       ZeroPointBeforeRounding, NaNToQmax, DequantizeMultiplyThenSubtract)

HAND_WRITTEN: tuple[type[Mutant], ...] = (
    FloorOfHalfAdded, NarrowRangeInt8, Int4Symmetric, UnsignedClampedAsSigned, WrapsInsteadOfSaturating,
    ChannelsInnermost, PartialBlockTakesFirstScale, BlockIndexOffByOne, DequantizeIgnoresZeroPoint,
    QuantizeIgnoresZeroPoint, OneElementZeroPointIgnored, PerAxisZeroPointFirstOnly, *UNSIGNED_AS_SIGNED,
    DequantizeWrapsDifference, Accumulator16Bit,
)
MUTANTS: tuple[type[Mutant], ...] = (*DERIVED, *IGNORED_INPUTS, *FIRST_ZERO_POINT_ONLY, *HAND_WRITTEN)
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
#: The operations the mutants change: the score runs their cases.
OPERATIONS = tuple(dict.fromkeys(op for mutant in MUTANTS for op in mutant.operations))

#: Mutants the issue asks for that need operations without a reference yet: listed so the score page
#: names them, never faked (none left).
PENDING: dict[str, str] = {}


def spec(mutant: type[Mutant]) -> str:
    """The ``--backend`` SPEC that loads ``mutant``."""
    return f"{__name__}:{mutant.__name__}"


__all__ = [
    "CHAPTER_VARIANTS", "CORRECT_BACKEND", "DERIVED", "DERIVED_KINDS", "DERIVED_PROFILE", "EQUIVALENT",
    "FIRST_ZERO_POINT_ONLY", "FUZZABLE", "HAND_WRITTEN", "IGNORED_INPUTS", "INVALID_VALUES", "INVALID_VARIANTS",
    "MUTANTS", "OBSERVER_OPERATIONS", "OBSERVER_PROFILE", "OBSERVER_VARIANTS", "OPERATIONS", "PENDING",
    "PER_AXIS_ZERO_POINTS", "REFERENCE_OPERATIONS", "REPLACED_BY_DERIVED", "UNSIGNED_AS_SIGNED", "UNTAKEN_STEPS",
    "Accumulator16Bit", "BlockIndexOffByOne", "ChannelsInnermost", "DequantizeIgnoresZeroPoint",
    "DequantizeMultiplyThenSubtract", "DequantizeWrapsDifference", "Float64Division", "FloorOfHalfAdded",
    "Int4Symmetric", "Mutant", "NaNToQmax", "NarrowRangeInt8", "OneElementZeroPointIgnored",
    "PartialBlockTakesFirstScale", "PerAxisZeroPointFirstOnly", "QuantizeIgnoresZeroPoint",
    "ReciprocalInsteadOfDivision", "ReferenceAdapter", "Score", "TiesAwayFromZero", "Truncation",
    "UnsignedClampedAsSigned", "WrapsInsteadOfSaturating", "ZeroPointBeforeRounding", "case_operation",
    "chapter_equivalence_inputs", "chapter_function", "correct_adapter", "derived_chapter_mutants",
    "derived_mutants", "derived_observer_mutants", "elementwise_parameters", "equivalence_inputs",
    "equivalent_mutants", "fallback_cases", "is_equivalent", "level_cases", "mutation_score", "per_element",
    "profile_keywords", "spec",
    *(mutant.__name__ for mutant in (*DERIVED, *UNSIGNED_AS_SIGNED, *IGNORED_INPUTS, *FIRST_ZERO_POINT_ONLY)),
]
