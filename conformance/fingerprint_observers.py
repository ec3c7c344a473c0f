"""Fingerprinting an observer's qparams rule: which formula turns a range into (scale, zero point)?

Implementations of "scale and zero point from $[m_{min}, m_{max}]$" differ in a handful of
choices. Each is a *variant* here, and a small table of ranges (:data:`PROBES`) separates
their values: on each probe, changing one variant changes the result while the others
agree. The backend's ``observe_minmax`` sees each probe's range as one batch
``[m_min, m_max]``; every combination of variant values is computed on the same probes by
:func:`predict` (refq's OBS-1 kernels under those values) and the engine
(:mod:`.fingerprint_engine`) keeps the combinations that explain every probe.

Variants (registry variants, operation ``observe``):

- ``symmetric_divisor``: ``half_span`` divides $\\max(-m^-, m^+)$ by $(q_{max} - q_{min}) / 2$
  (127.5 for int8, torch) or ``qmax`` by $q_{max}$ (127, the "narrow" convention);
- ``scale_floor``: ``float32_eps`` raises the scale to $2^{-23}$ (torch) or ``none`` keeps it;
- ``reduce_range``: ``halved`` honours ``reduce_range`` (uint8 $[0, 127]$) or ``ignored``;
- ``zero_point_rounding``: ``half_to_even`` or ``half_away_from_zero``;
- ``zero_in_range``: ``widened`` (the range always contains 0) or ``as_observed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import Result, every_combination, registry_values
from refq.errors import wrong_type
from refq.observers.qparams import FLOAT32_EPS, qparams_from_range

F32 = np.float32

#: The registry variants of the qparams rule (refq.registry.variants, operation "observe").
VARIANTS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in (
    "symmetric_divisor", "scale_floor", "reduce_range", "zero_point_rounding", "zero_in_range")}
#: PyTorch's observers (OBS-1): what refq's ``pytorch`` observer profile prescribes.
PYTORCH = {"symmetric_divisor": "half_span", "scale_floor": "float32_eps", "reduce_range": "halved",
           "zero_point_rounding": "half_to_even", "zero_in_range": "widened"}

@dataclass(frozen=True)
class Probe:
    """One range given to the observer, and the variant it is chosen to separate."""

    name: str
    separates: str
    min_val: float
    max_val: float
    dtype: str = "uint8"
    qscheme: str = "affine"
    reduce_range: bool = False


#: The discriminating table. Exact binary fractions, so that every candidate's float32 steps are exact
#: except where a variant makes them differ.
PROBES: tuple[Probe, ...] = (
    Probe("symmetric-int8", "symmetric_divisor", -1.0, 1.0, "int8", "symmetric"),
    Probe("symmetric-uint8", "symmetric_divisor", -0.5, 2.0, "uint8", "symmetric"),
    Probe("tiny-range", "scale_floor", 0.0, 1e-40),
    Probe("tiny-range-symmetric", "scale_floor", -1e-40, 1e-40, "int8", "symmetric"),
    Probe("reduce-range-uint8", "reduce_range", -1.0, 1.0, reduce_range=True),
    Probe("reduce-range-int8", "reduce_range", -1.0, 3.0, "int8", reduce_range=True),
    # s = 255 * 2^-4 / 255 = 2^-4 and m_min / s = -2.5, then -0.5, exactly: ties for the zero point.
    Probe("zero-point-tie", "zero_point_rounding", -0.15625, 15.78125),
    Probe("zero-point-tie-half", "zero_point_rounding", -0.03125, 15.90625),
    Probe("all-positive", "zero_in_range", 1.0, 2.0),
    Probe("all-negative", "zero_in_range", -3.0, -1.0, "int8"),
)


def predict(probe: Probe, variants: dict[str, str]) -> tuple[np.float32, int]:
    """(scale, zero point) of ``probe`` under one combination of variant values: refq's
    :func:`refq.observers.qparams.qparams_from_range` with those values (``reduce_range = ignored`` is the
    range not reduced, ``scale_floor = none`` a floor of 0)."""
    result = qparams_from_range(
        probe.min_val, probe.max_val, dtype=probe.dtype, qscheme=probe.qscheme,
        reduce_range=probe.reduce_range and variants["reduce_range"] == "halved",
        eps=FLOAT32_EPS if variants["scale_floor"] == "float32_eps" else 0.0,
        symmetric_divisor=variants["symmetric_divisor"], zero_point_rounding=variants["zero_point_rounding"],
        zero_in_range=variants["zero_in_range"])
    return F32(result.scale), int(result.zero_point)


def combinations() -> list[dict[str, str]]:
    return every_combination(VARIANTS)


@dataclass
class ObserverFingerprint:
    """What the probes say about a backend's qparams rule."""

    #: probe name -> (scale, zero point) the backend returned, or the error it raised.
    observed: dict[str, tuple[float, int] | str]
    #: The combinations of variant values that explain every probe.
    consistent: list[dict[str, str]]
    #: variant -> the values occurring in the consistent combinations.
    values: dict[str, list[str]] = field(default_factory=dict)
    #: The combination with the fewest unexplained probes, and those probes.
    nearest: dict[str, str] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)


def observe(backend, probe: Probe) -> tuple[np.float32, int]:
    """Run the backend's ``observe_minmax`` on the one batch ``[m_min, m_max]``."""
    call = CHAPTER.probes("observe_minmax", "per_tensor")[PROBES.index(probe)]
    output = engine.invoke(backend, call.operation, call.inputs, call.attributes)
    return F32(np.asarray(output["scale"]).reshape(())), int(np.asarray(output["zero_point"]).reshape(()))


def _pair(scale, zero_point) -> np.ndarray:
    """(scale, zero point) as one int64 array: the scale's float32 bits, then the zero point."""
    return np.array([int(np.asarray(scale, F32).reshape(()).view(np.uint32)), int(zero_point)], np.int64)


class ObserverChapter:
    """``observe_minmax``'s qparams rule for the engine: one range per call, (scale, zero point) compared."""

    unit = "probe"
    operations = ("observe_minmax",)
    granularities = ("per_tensor",)

    def dimensions(self, operation: str) -> dict[str, tuple[str, ...]]:
        return VARIANTS

    def combinations(self, operation: str) -> list[dict[str, str]]:
        return combinations()

    def probes(self, operation: str, granularity: str) -> tuple[engine.Probe, ...]:
        return tuple(engine.Probe(p.name, "observe_minmax", (np.array([[p.min_val, p.max_val]], dtype=F32),),
                                  {"dtype": p.dtype, "qscheme": p.qscheme, "reduce_range": p.reduce_range,
                                   "ch_axis": None}, p) for p in PROBES)

    def output(self, probe, returned) -> np.ndarray:
        return _pair(F32(np.asarray(returned["scale"]).reshape(())), int(np.asarray(returned["zero_point"]).reshape(())))

    def predict(self, probe, granularity: str, index: int, combination: dict[str, str]):
        return _pair(*predict(probe.purpose, combination)), None

    def declared(self, backend, operation: str, granularity: str) -> dict[str, str] | None:
        return PYTORCH if getattr(backend, "profile", None) == "pytorch" else None

    def profiles(self, operation: str, granularity: str) -> dict[str, dict[str, str]]:
        return {}

    def describe(self, probe, element, value):
        return engine.Unexplained(probe.name)


CHAPTER = ObserverChapter()


def fingerprint_operation(backend, operation: str = "observe_minmax", granularity: str = "per_tensor") -> Result:
    return engine.fingerprint_operation(backend, CHAPTER, operation, granularity)


def fingerprint_qparams(backend) -> ObserverFingerprint:
    """Fingerprint the qparams rule of ``backend`` (an adapter with an ``observe_minmax`` method)."""
    if not callable(getattr(backend, "observe_minmax", None)):
        raise wrong_type("backend", "an adapter with an observe_minmax method", backend)
    result = fingerprint_operation(backend)
    observed: dict[str, tuple[float, int] | str] = {}
    for probe in PROBES:
        try:
            scale, zero_point = observe(backend, probe)
            observed[probe.name] = (float(scale), int(zero_point))
        except Exception as error:  # noqa: BLE001 - a refusal is an observation too
            observed[probe.name] = f"{type(error).__name__}: {error}"
    values = {name: [v for v in VARIANTS[name] if any(c[name] == v for c in result.consistent)] for name in VARIANTS}
    return ObserverFingerprint(observed, result.consistent, values, result.nearest,
                               [u.probe for u in result.unexplained])


def probe_table() -> str:
    """The probes as a Markdown table, with what torch's rule and each probe's rival variant give."""
    lines = ["| probe | separates | range | target | pytorch rule: (s, z) | other value: (s, z) |",
             "|---|---|---|---|---|---|"]
    for probe in PROBES:
        rival = {**PYTORCH, probe.separates: next(v for v in VARIANTS[probe.separates] if v != PYTORCH[probe.separates])}
        target = f"{probe.dtype} {probe.qscheme}" + (", reduce_range" if probe.reduce_range else "")

        def show(result):
            return f"({float(result[0]):.9g}, {result[1]})"

        lines.append(f"| {probe.name} | {probe.separates} | [{probe.min_val:g}, {probe.max_val:g}] | {target} | "
                     f"{show(predict(probe, PYTORCH))} | {rival[probe.separates]}: {show(predict(probe, rival))} |")
    return "\n".join(lines)
