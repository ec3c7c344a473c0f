"""Rendering fingerprints: the terminal report and the Markdown tables of docs/conformance/fingerprints.md."""

from __future__ import annotations

from typing import Callable

from refq.conformance import fingerprint_affine as affine
from refq.conformance.fingerprint_engine import Result
from refq.registry.variants import VARIANTS


def _cell(result: Result, variant: str) -> str:
    text = ", ".join(result.variants[variant]) or "—"
    if result.also_consistent.get(variant):
        text += " (" + ", ".join(result.also_consistent[variant]) + ")"
    return text


def absent(result: Result) -> bool:
    """An operation the adapter has no method for: left out of the reports (a refusal is shown)."""
    return result.status == "unsupported" and result.detail.startswith("no ")


def _head(result: Result) -> str:
    return f"  {result.operation} {result.granularity.replace('_', '-')}:"


def render_element_text(print_: Callable, result: Result) -> None:
    """An affine result: consistent combinations on elements, the nearest profile, the deviations."""
    if result.status != "ok":
        print_(f"{_head(result)} {result.status} ({result.detail})")
        return
    print_(f"{_head(result)} {len(result.consistent)} of {result.combinations} variant combinations consistent "
           f"on {result.elements} inputs")
    for variant in result.variants:
        print_(f"    {variant:<22} {_cell(result, variant)}")
    print_(f"    nearest profile        {', '.join(result.nearest_profiles)} "
           f"({result.nearest_mismatches} mismatching)")
    for element in result.declared_deviations:
        print_(f"    deviates from declared profile: {element.describe()}")
    for element in result.unexplained:
        print_(f"    explained by no combination:    {element.describe()}")


def render_probe_text(print_: Callable, result: Result) -> None:
    """An integer, elementwise or observer result: consistent combinations on probes."""
    if result.status != "ok":
        print_(f"{_head(result)} {result.status} ({result.detail})")
        return
    print_(f"{_head(result)} {len(result.consistent)} of {result.combinations} variant combinations consistent "
           f"on {result.probes} probes")
    for name, values in result.variants.items():
        print_(f"    {name:<30} {', '.join(values) or '—'}")
    if result.declared_consistent is not None:
        print_(f"    declared profile               {'consistent' if result.declared_consistent else 'contradicted'}")
    for probe in result.unexplained:
        print_(f"    explained by no combination:   {probe.describe()}")


def render_text(print_: Callable, fingerprint) -> None:
    """A fingerprint for the terminal."""
    declared = sorted(set(fingerprint.declared_profile.values())) or ["none"]
    print_(f"{fingerprint.backend} {fingerprint.version}   declared profile: {', '.join(declared)}")
    for result in fingerprint.operations:
        render_element_text(print_, result)
    results = fingerprint.probe_results()
    for result in results:
        if not absent(result):
            render_probe_text(print_, result)
    missing = [r.operation for r in results if absent(r) and r.granularity != "per_channel"]
    if missing:
        print_(f"  no method for: {', '.join(missing)}")


def _probe_table(rows: list[tuple[str, Result]], variants: dict[str, tuple[str, ...]], operation: str) -> list[str]:
    """One Markdown table for ``operation``: a row per (backend, result) whose status is ok."""
    names = list(variants)
    # Two chapters probe qlinear_matmul (REQ-1 and INT-2.6): each table keeps its own chapter's results.
    shown = [(backend, r) for backend, r in rows if r.operation == operation and r.status == "ok"
             and set(r.variants) & set(names)]
    if not shown:
        return []
    lines = ["", f"### {operation}", "",
             "| backend | granularity | " + " | ".join(names)
             + " | consistent combinations | declared profile | unexplained probes |",
             "|---" * (len(names) + 5) + "|"]
    for backend, r in shown:
        cells = [", ".join(r.variants.get(name, [])) or "—" for name in names]
        if r.declared_consistent is None:
            declared = "names none"
        else:
            declared = "consistent" if r.declared_consistent else "contradicted"
        lines.append(f"| {backend} | {r.granularity.replace('_', '-')} | " + " | ".join(cells)
                     + f" | {len(r.consistent)} of {r.combinations} | {declared} | {len(r.unexplained)} of {r.probes} |")
    return lines


def render_markdown(fingerprints: list, probe_chapters) -> str:
    """The tables of the docs page: one per operation, a row per backend and granularity."""
    lines = ["| backend | version | declared profile |", "|---|---|---|"]
    for fp in fingerprints:
        declared = ", ".join(sorted(set(fp.declared_profile.values()))) or "—"
        lines.append(f"| {fp.backend} | {fp.version} | {declared} |")
    for operation, kind in affine.OPERATION_VARIANTS.items():
        rows = [(fp, r) for fp in fingerprints for r in fp.operations
                if r.operation == operation and r.status == "ok"]
        if not rows:
            continue
        names = [v.name for v in VARIANTS if v.operation == kind]
        lines += ["", f"### {operation}", "",
                  "| backend | granularity | " + " | ".join(names) + " | nearest profile | deviations |",
                  "|---" * (len(names) + 4) + "|"]
        for fp, r in rows:
            cells = [_cell(r, name) for name in names]
            nearest = f"{', '.join(r.nearest_profiles)} ({r.nearest_mismatches})"
            deviations = f"{len(r.declared_deviations)} from declared, {len(r.unexplained)} unexplained"
            lines.append(f"| {fp.backend} | {r.granularity.replace('_', '-')} | " + " | ".join(cells)
                         + f" | {nearest} | {deviations} |")
    rows = [(fp.backend, r) for fp in fingerprints for r in fp.probe_results()]
    for chapter in probe_chapters:
        for operation in chapter.operations:
            lines += _probe_table(rows, chapter.dimensions(operation), operation)
    return "\n".join(lines) + "\n"
