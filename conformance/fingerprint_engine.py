"""The fingerprint engine: probe -> predict -> match, the same loop for every chapter.

A *chapter* (:mod:`.fingerprint` for the affine operations, :mod:`.fingerprint_integer`,
:mod:`.fingerprint_elementwise`, :mod:`.fingerprint_observers`) supplies a table of probes per
operation and granularity, the registry variants that describe the operation
(:mod:`refq.registry.variants`), and refq's own output for a probe under a combination of their
values. The engine calls the backend on every probe (:func:`invoke`, the one place a backend is
called), compares its outputs bit for bit with every combination's, elements a combination leaves
*unpredictable* excepted, and returns one :class:`Result`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from refq.registry.variants import VARIANTS_BY_NAME


@dataclass(frozen=True)
class Probe:
    """One backend call: positional inputs in ONNX order, keyword attributes, and what it separates."""

    name: str
    operation: str
    inputs: tuple
    attributes: dict = field(default_factory=dict)
    purpose: str = ""
    #: A NotImplementedError on this probe is an observation (a refusal, which a combination may predict), not
    #: the operation's absence: BLK-9's ``symmetric=True`` where an engine has no symmetric groups.
    refusal_observed: bool = False


class Unsupported(Exception):
    """The backend lacks the operation, or raised NotImplementedError for it."""


class NoMethod(Unsupported):
    """The backend lacks the operation."""


def invoke(backend, operation: str, inputs: tuple, attributes: dict):
    """The backend's output for one call. Every backend call of the engine goes through here, and
    through the one backend runner (:mod:`refq.conformance.runner`, inputs typed as the vectors
    type them): ``backend`` is an adapter object (called in this process) or a loaded runner Backend."""
    from refq.conformance.runner import Backend, load_backend
    from refq.registry.operations import OPERATIONS_BY_NAME

    if isinstance(backend, Backend) and not backend.supports(operation) or \
            not isinstance(backend, Backend) and not callable(getattr(backend, operation, None)):
        raise NoMethod(f"no {operation} method")
    runner = backend if isinstance(backend, Backend) else load_backend(backend, isolate=False)
    outcome = runner.call(operation, dict(zip(OPERATIONS_BY_NAME[operation].input_names, inputs)), attributes)
    if outcome.unsupported:
        refusal = outcome.raw
        raise Unsupported((str(refusal) or "NotImplementedError") if isinstance(refusal, NotImplementedError)
                          else outcome.message) from None
    return runner.value(outcome)


@dataclass
class Unexplained:
    """An input (an element of a probe, or a whole probe) that a combination does not explain."""

    probe: str
    input: str = ""
    scale: float | None = None
    zero_point: int | None = None
    dtype: str = ""
    output: str = ""

    def describe(self) -> str:
        if not self.input:
            return self.probe
        return (f"{self.probe}: input {self.input}, scale {self.scale!r}, zero point {self.zero_point}, "
                f"{self.dtype} -> {self.output}")


@dataclass
class Result:
    """What one operation at one granularity of a backend is consistent with: the one result type."""

    operation: str
    granularity: str
    status: str  # "ok", "unsupported" or "error"
    detail: str = ""
    #: The chapter's unit of comparison: "element" (each output element) or "probe" (each call).
    unit: str = "probe"
    probes: int = 0
    elements: int = 0
    combinations: int = 0
    #: The combinations of variant values that explain every probe.
    consistent: list[dict[str, str]] = field(default_factory=list)
    #: Variant -> the values occurring in the most specific consistent combinations: those leaving
    #: the fewest elements unpredictable (the nearest combinations when none is consistent).
    variants: dict[str, list[str]] = field(default_factory=dict)
    #: Variant -> further values, consistent only by declaring more elements unpredictable.
    also_consistent: dict[str, list[str]] = field(default_factory=dict)
    #: The combination with the fewest mismatches.
    nearest: dict[str, str] = field(default_factory=dict)
    #: Profile -> mismatches, for every profile the chapter knows at this granularity.
    profile_mismatches: dict[str, int] = field(default_factory=dict)
    nearest_profiles: list[str] = field(default_factory=list)
    nearest_mismatches: int = 0
    #: The declared profile's combination, and whether it explains every probe (None: it names none).
    declared: dict[str, str] | None = None
    declared_consistent: bool | None = None
    #: The inputs on which the declared combination predicts another output.
    declared_deviations: list[Unexplained] = field(default_factory=list)
    #: Element unit: the elements no combination explains; probe unit: the probes the nearest misses.
    unexplained: list[Unexplained] = field(default_factory=list)

    @property
    def values(self) -> dict[str, list[str]]:
        return self.variants


class Chapter(Protocol):
    """What a chapter gives the engine."""

    #: "element" or "probe": how mismatches are counted and reported.
    unit: str

    def dimensions(self, operation: str) -> dict[str, tuple[str, ...]]: ...

    def combinations(self, operation: str) -> list[dict[str, str]]: ...

    def probes(self, operation: str, granularity: str) -> tuple[Probe, ...]: ...

    def output(self, probe: Probe, returned) -> np.ndarray: ...

    def predict(self, probe: Probe, granularity: str, index: int, combination: dict[str, str]): ...

    def declared(self, backend, operation: str, granularity: str) -> dict[str, str] | None: ...

    def profiles(self, operation: str, granularity: str) -> dict[str, dict[str, str]]: ...

    def describe(self, probe: Probe, element: int, value: int) -> Unexplained: ...


class WholeProbeChapter:
    """A chapter of one operation whose probes are one call each, compared whole (GGF's ``gguf_quantize``,
    BLK's ``block_quantize``): the candidates are every combination of ``dimensions``, and a profile is the
    combination of its values. ``predict(probe, combination)`` is refq's answer, computed once per probe
    and combination."""

    unit = "probe"

    def __init__(self, operation: str, granularities: tuple[str, ...], dimensions: dict[str, tuple[str, ...]],
                 profiles: dict[str, dict[str, str]], probes_for, predict, output=np.asarray) -> None:
        self.operations = (operation,)
        self.granularities = granularities
        self._dimensions = dimensions
        self._profiles = profiles
        self._probes_for = probes_for
        self._predict = predict
        self._output = output
        self._predicted: dict[tuple, object] = {}

    def dimensions(self, operation: str) -> dict[str, tuple[str, ...]]:
        return self._dimensions

    def combinations(self, operation: str) -> list[dict[str, str]]:
        return every_combination(self._dimensions)

    def probes(self, operation: str, granularity: str) -> tuple[Probe, ...]:
        return self._probes_for(granularity)

    def output(self, probe: Probe, returned) -> np.ndarray:
        return self._output(np.asarray(returned))

    def predict(self, probe: Probe, granularity: str, index: int, combination: dict[str, str]):
        key = (granularity, index, tuple(sorted(combination.items())))
        if key not in self._predicted:
            self._predicted[key] = self._predict(self._probes_for(granularity)[index], combination)
        return self._predicted[key]

    def declared(self, backend, operation: str, granularity: str) -> dict[str, str] | None:
        return self._profiles.get(getattr(backend, "profile", None))

    def profiles(self, operation: str, granularity: str) -> dict[str, dict[str, str]]:
        return dict(self._profiles)

    def describe(self, probe: Probe, element: int, value: int) -> Unexplained:
        return Unexplained(probe.name)


def registry_values(name: str) -> tuple[str, ...]:
    """The values of the registry variant ``name``, in registry order."""
    return tuple(value.name for value in VARIANTS_BY_NAME[name].values)


def every_combination(dimensions: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Every combination of the values of ``dimensions`` (variant -> its values)."""
    names = list(dimensions)
    return [dict(zip(names, values)) for values in itertools.product(*dimensions.values())]


def bits(array) -> np.ndarray:
    """Integers as int64, float32 as their bit patterns: comparing these compares bits."""
    array = np.asarray(array)
    if array.dtype == np.float32:
        return array.view(np.uint32).astype(np.int64)
    return array.astype(np.int64)


#: A refusal: what a prediction is when the combination cannot compute the probe, and what an
#: observation is when the backend raised (any error matches a predicted refusal).
REFUSED = None


def observe(backend, chapter: Chapter, probes: tuple[Probe, ...]) -> list:
    """The backend's output on every probe, through the chapter's ``output``; an exception other than
    :class:`Unsupported` is recorded as its text (a refusal is an observation), and so is a NotImplementedError
    on a probe whose ``refusal_observed`` says so."""
    observed = []
    for probe in probes:
        try:
            observed.append(chapter.output(probe, invoke(backend, probe.operation, probe.inputs, probe.attributes)))
        except NoMethod:
            raise
        except Unsupported as refusal:
            if not probe.refusal_observed:
                raise
            observed.append(f"refused: {refusal}")
        except Exception as error:  # noqa: BLE001 - reported, never fatal
            observed.append(f"{type(error).__name__}: {error}")
    return observed


def _compare(observed, predicted) -> tuple[np.ndarray, np.ndarray]:
    """(mismatching elements, unpredictable elements) of one probe under one combination, as flat
    boolean arrays; a refusal, a wrong shape or an error is one mismatching element."""
    if predicted is REFUSED or isinstance(observed, str):
        same = predicted is REFUSED and isinstance(observed, str)
        return np.array([not same]), np.zeros(1, bool)
    values, unpredictable = predicted
    if observed.shape != values.shape:
        return np.array([True]), np.zeros(1, bool)
    unpredictable = np.zeros(values.shape, bool) if unpredictable is None else unpredictable
    return ((observed != values) & ~unpredictable).ravel(), unpredictable.ravel()


def fingerprint_operation(backend, chapter: Chapter, operation: str, granularity: str) -> Result:
    """Probe ``backend``'s ``operation`` at ``granularity``, predict every combination, match."""
    result = Result(operation, granularity, "ok", unit=chapter.unit)
    probes = chapter.probes(operation, granularity)
    try:
        observed = observe(backend, chapter, probes)
    except Unsupported as reason:
        result.status, result.detail = "unsupported", str(reason)
        return result
    except Exception as error:  # a backend that breaks is reported, never fatal
        result.status, result.detail = "error", f"{type(error).__name__}: {error}"
        return result
    if chapter.unit == "probe":
        refusal = next((o for o in observed if isinstance(o, str) and o.startswith("NotImplementedError")), None)
        if refusal is not None:
            result.status, result.detail = "unsupported", refusal.removeprefix("NotImplementedError: ")
            return result
    elif any(isinstance(o, str) for o in observed):
        result.status, result.detail = "error", next(o for o in observed if isinstance(o, str))
        return result
    dimensions = chapter.dimensions(operation)
    combos = chapter.combinations(operation)
    mismatches = np.zeros(len(combos), np.int64)  # per element or per probe, by the chapter's unit
    leeway = np.zeros(len(combos), np.int64)  # elements each combination leaves unpredictable
    missed: list[list[int]] = [[] for _ in combos]  # probes each combination misses
    wrong_elements = []  # per probe: (combinations, elements) mismatching
    for index, (probe, output) in enumerate(zip(probes, observed)):
        rows = []
        for c, combination in enumerate(combos):
            wrong, unpredictable = _compare(output, chapter.predict(probe, granularity, index, combination))
            rows.append(wrong)
            leeway[c] += int(unpredictable.sum())
            if wrong.any():
                missed[c].append(index)
                mismatches[c] += int(wrong.sum()) if chapter.unit == "element" else 1
        wrong_elements.append(np.array(rows) if chapter.unit == "element" else None)
        result.elements += int(rows[0].size)
    result.probes, result.combinations = len(probes), len(combos)
    consistent = mismatches == 0
    result.consistent = [combos[c] for c in np.flatnonzero(consistent)]
    if consistent.any():
        specific = consistent & (leeway == leeway[consistent].min())
    else:
        specific = mismatches == mismatches.min()
    for name, values in dimensions.items():
        seen = {combos[c][name] for c in np.flatnonzero(specific)}
        others = {combos[c][name] for c in np.flatnonzero(consistent)} - seen
        result.variants[name] = [value for value in values if value in seen]
        result.also_consistent[name] = [value for value in values if value in others]
    nearest = int(np.argmin(mismatches))
    result.nearest = dict(combos[nearest])
    profiles = chapter.profiles(operation, granularity)
    result.profile_mismatches = {name: int(mismatches[combos.index(combo)]) for name, combo in profiles.items()}
    if result.profile_mismatches:
        result.nearest_mismatches = min(result.profile_mismatches.values())
        result.nearest_profiles = [name for name, count in result.profile_mismatches.items()
                                   if count == result.nearest_mismatches]
    declared = chapter.declared(backend, operation, granularity)
    if declared is not None:
        result.declared = dict(declared)
        result.declared_consistent = declared in result.consistent
    if chapter.unit == "element":
        for probe, output, wrong in zip(probes, observed, wrong_elements):
            flat = np.asarray(output).ravel()
            for element in np.flatnonzero(wrong.all(axis=0)):
                result.unexplained.append(chapter.describe(probe, int(element), int(flat[element])))
            if declared is not None:
                for element in np.flatnonzero(wrong[combos.index(declared)]):
                    result.declared_deviations.append(chapter.describe(probe, int(element), int(flat[element])))
    else:
        result.unexplained = [Unexplained(probes[index].name) for index in missed[nearest]]
    return result


def consistent_with(result: Result, profile: str) -> bool:
    """Whether ``profile``'s values at this granularity are among the consistent combinations."""
    return result.status == "ok" and result.profile_mismatches.get(profile) == 0
