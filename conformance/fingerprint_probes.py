"""Matching a backend's outputs on a table of probes against every combination of variant values.

Shared by the integer (:mod:`refq.conformance.fingerprint_integer`) and the elementwise
(:mod:`refq.conformance.fingerprint_elementwise`) fingerprints: each builds its probes, calls the
backend on them, predicts every combination with its own plain-numpy arithmetic, and hands the three
to :func:`match`, which keeps the combinations that explain every probe.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class ProbeFingerprint:
    """What one operation at one granularity of a backend is consistent with, probe by probe."""

    operation: str
    granularity: str
    status: str  # "ok", "unsupported" or "error"
    detail: str = ""
    probes: int = 0
    combinations: int = 0
    #: The combinations of variant values that explain every probe.
    consistent: list[dict[str, str]] = field(default_factory=list)
    #: variant -> the values occurring in the consistent combinations (in the nearest ones when none is).
    values: dict[str, list[str]] = field(default_factory=dict)
    #: The combination with the fewest unexplained probes, and those probes.
    nearest: dict[str, str] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)
    #: The declared profile's combination, and whether it explains every probe (None: the profile names none).
    declared: dict[str, str] | None = None
    declared_consistent: bool | None = None


def combinations(variants: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Every combination of the values of ``variants`` (variant -> its values)."""
    names = list(variants)
    return [dict(zip(names, values)) for values in itertools.product(*variants.values())]


def observe(call: Callable, probes) -> dict[str, np.ndarray | str]:
    """``call(probe)`` for every probe; an exception is recorded as its text (a refusal is an observation)."""
    observed: dict[str, np.ndarray | str] = {}
    for probe in probes:
        try:
            observed[probe.name] = np.asarray(call(probe))
        except Exception as error:  # noqa: BLE001 - reported, never fatal
            observed[probe.name] = f"{type(error).__name__}: {error}"
    return observed


def match(operation: str, granularity: str, variants: dict[str, tuple[str, ...]], probes, observed: dict,
          predict: Callable, declared: dict[str, str] | None = None,
          table: list[dict[str, str]] | None = None) -> ProbeFingerprint:
    """Compare ``observed`` (probe name -> output or error text) with ``predict(probe, combination)``
    for every combination in ``table`` (default: every combination of ``variants``, for dimensions
    whose values are all compatible); outputs are compared by value and shape, bit for bit."""
    result = ProbeFingerprint(operation, granularity, "ok", probes=len(probes))
    table = combinations(variants) if table is None else table
    result.combinations = len(table)
    scored = []
    for combination in table:
        misses = [probe.name for probe in probes if not _same(observed[probe.name], predict(probe, combination))]
        scored.append((len(misses), combination, misses))
    result.consistent = [combination for misses, combination, _ in scored if misses == 0]
    fewest = min(count for count, _, _ in scored)
    shown = result.consistent or [combination for count, combination, _ in scored if count == fewest]
    result.values = {name: [value for value in values if any(c[name] == value for c in shown)]
                     for name, values in variants.items()}
    _, result.nearest, result.unexplained = min(scored, key=lambda item: item[0])
    if declared is not None:
        result.declared = dict(declared)
        result.declared_consistent = declared in result.consistent
    return result


def _same(observed: np.ndarray | str, expected: np.ndarray | None) -> bool:
    """Equal integer outputs; a refusal (``expected`` None: the combination cannot compute the probe)
    is matched by any error."""
    if expected is None or isinstance(observed, str):
        return expected is None and isinstance(observed, str)
    return observed.shape == expected.shape and observed.dtype.kind in "iu" and np.array_equal(observed, expected)


def refused(observed: dict) -> str | None:
    """The first ``NotImplementedError`` among the observations: an adapter raises it for an input it cannot
    compute (a dtype, a granularity), so the operation is unsupported for these probes, not contradicted."""
    return next((value for value in observed.values()
                 if isinstance(value, str) and value.startswith("NotImplementedError")), None)


def failed(operation: str, granularity: str, error: BaseException) -> ProbeFingerprint:
    """The result for a backend without the operation (``unsupported``) or one that broke (``error``)."""
    if isinstance(error, (NotImplementedError, AttributeError)):
        return ProbeFingerprint(operation, granularity, "unsupported", str(error))
    return ProbeFingerprint(operation, granularity, "error", f"{type(error).__name__}: {error}")


def render_markdown(rows: list[tuple[str, ProbeFingerprint]], variants: dict[str, tuple[str, ...]],
                    operation: str) -> list[str]:
    """One Markdown table for ``operation``: a row per (backend, result) whose status is ok."""
    shown = [(backend, r) for backend, r in rows if r.operation == operation and r.status == "ok"]
    if not shown:
        return []
    names = list(variants)
    lines = ["", f"### {operation}", "",
             "| backend | granularity | " + " | ".join(names)
             + " | consistent combinations | declared profile | unexplained probes |",
             "|---" * (len(names) + 5) + "|"]
    for backend, r in shown:
        cells = [", ".join(r.values.get(name, [])) or "—" for name in names]
        if r.declared_consistent is None:
            declared = "names none"
        else:
            declared = "consistent" if r.declared_consistent else "contradicted"
        lines.append(f"| {backend} | {r.granularity.replace('_', '-')} | " + " | ".join(cells)
                     + f" | {len(r.consistent)} of {r.combinations} | {declared} | {len(r.unexplained)} of {r.probes} |")
    return lines


def render_text(print_: Callable, result: ProbeFingerprint) -> None:
    head = f"  {result.operation} {result.granularity.replace('_', '-')}:"
    if result.status != "ok":
        print_(f"{head} {result.status} ({result.detail})")
        return
    print_(f"{head} {len(result.consistent)} of {result.combinations} variant combinations consistent "
           f"on {result.probes} probes")
    for name, values in result.values.items():
        print_(f"    {name:<30} {', '.join(values) or '—'}")
    if result.declared_consistent is not None:
        print_(f"    declared profile               {'consistent' if result.declared_consistent else 'contradicted'}")
    for probe in result.unexplained:
        print_(f"    explained by no combination:   {probe}")
