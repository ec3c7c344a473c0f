"""Reporting a conformance run: the terminal matrix, the first mismatches of failing cases,
a JSON report, JUnit XML, and a progress bar.

The JSON report is one object::

    {"report": "refq-conform", "report_version": 1, "refq": "0.1.0", "level": 1, "warnings": [...],
     "backends": [{"backend": ..., "spec": ..., "profile": ..., "versions": {...},
                   "verification": {"package", "installed", "verified", "status"} or null,
                   "warnings": [...],
                   "cases": [{"id", "op", "profile", "status", "mismatches", "total", "detail",
                              "first_mismatches": [...]}],
                   "summary": {"pass", "fail", "error", "unsupported"}}]}

A backend whose package is installed at a release not in ``refq.registry.verified`` gets a
warning (in ``warnings``, and in JUnit a ``warning`` property and ``system-err``); it never
fails a run.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import textwrap
import time
from collections import Counter
from dataclasses import asdict, dataclass
from xml.etree import ElementTree

import numpy as np

from refq.conformance.harness import STATUSES, CaseResult
from refq.conformance.suspect import suspected_variants
from refq.registry.verified import VersionCheck

REPORT_VERSION = 1


@dataclass
class BackendRun:
    """One backend's results, with what it was judged against."""

    spec: str
    name: str
    profile: str | dict
    version: str
    results: list[CaseResult]
    seconds: float = 0.0
    #: Of :attr:`seconds`, the time to start its worker and load it (imports, sessions, compiled kernels).
    startup_seconds: float = 0.0
    #: Why the backend could not run at all ("" when it ran).
    unavailable: str = ""
    #: Its package's installed release against the verified ones (None: refq itself, or an adapter of
    #: a package refq records no verified release for).
    verification: VersionCheck | None = None

    @property
    def warnings(self) -> list[str]:
        """Not failures: a release nobody verified refq's profile against."""
        if self.verification is not None and self.verification.status == "not_verified":
            return [f"{self.name}: {self.verification.text()}"]
        return []

    def summary(self) -> dict[str, int]:
        counts = Counter(result.status for result in self.results)
        return {status: counts.get(status, 0) for status in STATUSES}

    @property
    def ok(self) -> bool:
        summary = self.summary()
        return not summary["fail"] and not summary["error"]

    @property
    def checked(self) -> bool:
        """Whether any case was judged (not only found unsupported)."""
        summary = self.summary()
        return bool(summary["pass"] or summary["fail"] or summary["error"])


def verdict(run: BackendRun) -> str:
    """"conforms" only with a case passed and none failed: nothing checked never conforms."""
    if not run.ok:
        return "does not conform"
    return "conforms" if run.summary()["pass"] else "nothing checked"


def summary_text(run: BackendRun, seconds: bool = False) -> str:
    """The verdict with how much of the suite it rests on: "conforms on 17 of 96 cases (79 unsupported)"."""
    summary = run.summary()
    total = len(run.results)
    extra = f"{summary['unsupported']} unsupported" + (
        f"; {run.seconds:.1f} s, of which start-up {run.startup_seconds:.1f} s" if seconds else "")
    if not run.ok:
        return (f"does not conform: {summary['fail']} fail, {summary['error']} error, {summary['pass']} pass "
                f"of {total} cases ({extra})")
    if not summary["pass"]:
        return f"nothing checked: 0 of {total} cases supported ({extra})"
    return f"conforms on {summary['pass']} of {total} cases ({extra})"


# --- progress bar -----------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr.

    ``enabled`` True draws it always, False never, None only when stderr is a terminal and
    the run has lasted more than ``delay`` seconds (short runs stay quiet).
    """

    width = 30

    def __init__(self, total: int, *, label: str = "", enabled: bool | None = None, delay: float = 2.0,
                 stream=None) -> None:
        self.total, self.label, self.enabled, self.delay = total, label, enabled, delay
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def _visible(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        isatty = getattr(self.stream, "isatty", lambda: False)
        return isatty() and time.monotonic() - self.start > self.delay

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if (now - self._last_draw > 0.1 or self.done == self.total) and self._visible():
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label[:24]:<24} [{bar}] {self.done}/{self.total} {now - self.start:5.1f}s")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()


# --- terminal ---------------------------------------------------------------------------------------------


def profile_text(profile: str | dict) -> str:
    if isinstance(profile, dict):
        return ", ".join(f"{op}: {name}" for op, name in profile.items())
    return profile


def version_lines(runs: list[BackendRun]) -> str:
    """One line per backend whose package refq records verified releases of: verified with this
    release, or not (a warning, never a failure)."""
    return "\n".join(f"{run.name}: {run.verification.text()}" for run in runs if run.verification is not None)


#: The line under the matrix that says what its columns and marks mean.
LEGEND = ("err: crashed, hung, raised on a valid case, or wrong dtype/shape; unsup: not implemented; "
          "-: no case under its profile")


def _unsupported_everywhere(runs: list[BackendRun], ops: list[str]) -> list[str]:
    """Operations no backend of the run supports: one line for all of them, not a row of zeros each."""
    ran = [run for run in runs if not run.unavailable]
    return [op for op in ops if ran and all(result.status == "unsupported" for run in ran for result in run.results
                                            if result.op == op)]


def _terminal_columns() -> int:
    return max(80, shutil.get_terminal_size((120, 24)).columns)


def matrix(runs: list[BackendRun], *, every_operation: bool = False, columns: int | None = None) -> str:
    """Operation x backend: pass / fail / error / unsupported counts, then a verdict per backend.

    Operations that every backend lacks are folded into one line (``every_operation`` lists them).
    Backends that do not fit in ``columns`` (default: the terminal's width) go to further blocks,
    each repeating the operation column, rather than one line wider than the screen.
    """
    ops = sorted({result.op for run in runs for result in run.results})
    folded = [] if every_operation else _unsupported_everywhere(runs, ops)
    shown = [op for op in ops if op not in folded]
    name_width = max([len("operation"), *map(len, shown)])
    cell_width = 22
    columns = columns or _terminal_columns()
    per_block = max(1, (columns - name_width) // (cell_width + 1))
    lines = []
    for first in range(0, len(runs), per_block):
        block = runs[first:first + per_block]
        if first:
            lines.append("")
        header = ["operation".ljust(name_width)] + [run.name[:cell_width].ljust(cell_width) for run in block]
        lines += [" ".join(header).rstrip(),
                  " ".join([" " * name_width] + ["pass fail  err unsup".ljust(cell_width) for _ in block]).rstrip()]
        for op in shown:
            cells = [op.ljust(name_width)]
            for run in block:
                counts = Counter(result.status for result in run.results if result.op == op)
                if run.unavailable:
                    cells.append("not available".ljust(cell_width))
                elif not counts:
                    cells.append("-".ljust(cell_width))
                else:
                    cells.append(" ".join(f"{counts.get(s, 0):>{w}}" for s, w in zip(STATUSES, (4, 4, 4, 5)))
                                 .ljust(cell_width))
            lines.append(" ".join(cells).rstrip())
    if folded:
        cases = sum(1 for run in runs for result in run.results if result.op in folded)
        lines += textwrap.wrap(f"unsupported by every backend ({cases} cases; --all shows them): {', '.join(folded)}",
                               width=columns, subsequent_indent="  ", break_on_hyphens=False)
    lines += textwrap.wrap(LEGEND, width=columns, subsequent_indent="  ") + [""]
    for run in runs:
        if run.unavailable:
            lines.append(f"{run.name}: not available ({run.unavailable})")
            continue
        version = f" {run.version}" if run.version else ""
        lines.append(f"{run.name}{version}: profile {profile_text(run.profile)}: {summary_text(run, seconds=True)}")
    return "\n".join(lines)


def _markdown_cell(counts: Counter) -> str:
    """A matrix cell: the non-zero counts, failures and errors in bold."""
    parts = []
    for status, word in zip(STATUSES, ("pass", "fail", "error", "unsupported")):
        count = counts.get(status, 0)
        if count:
            parts.append(f"**{count} {word}**" if status in ("fail", "error") else f"{count} {word}")
    return ", ".join(parts)


def matrix_markdown(runs: list[BackendRun]) -> str:
    """The run as Markdown: a table of backends (version, profile, verdict, counts), then the
    operation x backend matrix. Nothing in it depends on timing, so a fresh run on the same
    versions gives the same text (docs/conformance/matrix.md is checked against one)."""
    lines = ["| backend | version | profile | verdict | pass | fail | error | unsupported |",
             "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        if run.unavailable:
            lines.append(f"| {run.name} | | | not available: {run.unavailable} | | | | |")
            continue
        summary = run.summary()
        lines.append(f"| {run.name} | {run.version} | {profile_text(run.profile)} | {verdict(run)} | "
                     + " | ".join(str(summary[status]) for status in STATUSES) + " |")
    ops = sorted({result.op for run in runs for result in run.results})
    lines += ["", "| operation | " + " | ".join(run.name for run in runs) + " |",
              "|---|" + "---|" * len(runs)]
    for op in ops:
        cells = []
        for run in runs:
            counts = Counter(result.status for result in run.results if result.op == op)
            cells.append("not available" if run.unavailable else (_markdown_cell(counts) or "–"))
        lines.append(f"| `{op}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: Cell colours of the matrix figure, and what each means (the figure's legend).
FIGURE_COLOURS = (("#2e7d32", "every case passes"), ("#a5d6a7", "passes, some cases unsupported"),
                  ("#c62828", "a case fails or errors"), ("#bdbdbd", "unsupported"),
                  ("#ffffff", "no case under its profile"), ("#eeeeee", "backend not available"))


def _figure_colour(run: BackendRun, op: str) -> tuple[str, str]:
    """(colour, tooltip) of one cell of the matrix figure."""
    if run.unavailable:
        return FIGURE_COLOURS[5][0], f"{run.name}: not available"
    counts = Counter(result.status for result in run.results if result.op == op)
    text = f"{run.name}, {op}: " + (_markdown_cell(counts).replace("**", "") or "no case")
    if counts.get("fail") or counts.get("error"):
        return FIGURE_COLOURS[2][0], text
    if counts.get("pass"):
        return FIGURE_COLOURS[1 if counts.get("unsupported") else 0][0], text
    return (FIGURE_COLOURS[3][0] if counts else FIGURE_COLOURS[4][0]), text


def matrix_svg(runs: list[BackendRun]) -> str:
    """The operation x backend matrix as an SVG figure (a coloured cell per pair, the counts in each
    cell's tooltip), drawn from the same runs as the tables; no timing, so a rerun draws the same bytes."""
    from html import escape

    ops = sorted({result.op for run in runs for result in run.results})
    cell, label, top = 22, 8 + 7 * max([len(op) for op in ops] + [9]), 8 + 6 * max([len(r.name) for r in runs] + [4])
    # The rotated names lean right by about half their length; the legend's text runs right of its swatches.
    width = max(label + cell * len(runs) + 4 * max([len(r.name) for r in runs] + [4]),
                label + 24 + 7 * max(len(meaning) for _, meaning in FIGURE_COLOURS))
    legend_top = top + cell * len(ops) + 14
    height = legend_top + 18 * len(FIGURE_COLOURS) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             "<title>refq conform: operations x backends</title>"]
    for column, run in enumerate(runs):
        x = label + cell * column + cell // 2
        parts.append(f'<text transform="translate({x},{top - 6}) rotate(-60)">{escape(run.name)}</text>')
    for row, op in enumerate(ops):
        y = top + cell * row
        parts.append(f'<text x="{label - 6}" y="{y + 15}" text-anchor="end">{escape(op)}</text>')
        for column, run in enumerate(runs):
            colour, tip = _figure_colour(run, op)
            parts.append(f'<rect x="{label + cell * column}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="{colour}" stroke="#9e9e9e"><title>{escape(tip)}</title></rect>')
    for index, (colour, meaning) in enumerate(FIGURE_COLOURS):
        y = legend_top + 18 * index
        parts.append(f'<rect x="{label}" y="{y}" width="14" height="14" fill="{colour}" stroke="#9e9e9e"/>'
                     f'<text x="{label + 20}" y="{y + 12}">{escape(meaning)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _value_text(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _quoted(spec: str) -> str:
    import shlex

    return shlex.quote(spec)


def failure_details(runs: list[BackendRun], *, cases_per_backend: int = 10) -> str:
    """For each failing or erroring case: what went wrong, and its first mismatching elements."""
    lines = []
    for run in runs:
        bad = [result for result in run.results if result.status in ("fail", "error")]
        if not bad:
            continue
        unverified = (f" ({run.verification.text()}: the failures may be what this release changed)"
                      if run.warnings else "")
        lines.append(f"{run.name}: {len(bad)} case(s) failed or errored{unverified}")
        common = None  # the suspects every shown quantize failure shares
        for result in bad[:cases_per_backend]:
            lines.append(f"  {result.status.upper()} {result.id} [{result.profile}]: {result.detail}")
            suspects = suspected_variants(result.profile, result.quantized)
            if result.quantized:
                common = set(suspects) if common is None else common & set(suspects)
            if suspects:
                lines.append(f"    suspected variant: {' or '.join(suspects)} (alone gives the backend's "
                             f"answer on every element shown)")
            for m in result.first_mismatches:
                lines.append(f"    at {list(m.index)}: input {_value_text(m.input)}, expected "
                             f"{_value_text(m.expected)} ({m.expected_bits}), got {_value_text(m.actual)} "
                             f"({m.actual_bits})")
                if m.trace:
                    lines.append(f"      explain: {m.trace}")
        if len(bad) > cases_per_backend:
            lines.append(f"  ... and {len(bad) - cases_per_backend} more (see --json)")
        if common:
            lines.append(f"  every quantize failure shown is explained by: {' or '.join(sorted(common))}")
        if any(result.status == "fail" for result in bad):
            lines.append(f"  to confirm which variants the backend implements: refq fingerprint --backend "
                         f"{_quoted(run.spec)}")
    return "\n".join(lines)


# --- JSON and JUnit ----------------------------------------------------------------------------------------


def _plain(value):
    """JSON-ready: numpy scalars become Python numbers, NaN and infinities become strings."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def versions(run: BackendRun) -> dict[str, str]:
    import refq

    return {"refq": refq.__version__, "backend": run.version, "numpy": np.__version__,
            "python": platform.python_version()}


def _verification(check: VersionCheck | None) -> dict | None:
    if check is None:
        return None
    return {"package": check.package, "installed": check.installed, "verified": list(check.verified),
            "status": check.status}


def json_report(runs: list[BackendRun], *, level: int = 1) -> dict:
    import refq

    backends = []
    for run in runs:
        cases = []
        for result in run.results:
            entry = asdict(result)
            entry.pop("seconds")
            entry.pop("quantized")
            if result.quantized:
                entry["suspected_variants"] = suspected_variants(result.profile, result.quantized)
            cases.append(_plain(entry))
        backends.append({"backend": run.name, "spec": run.spec, "profile": run.profile, "versions": versions(run),
                         "verification": _verification(run.verification), "warnings": run.warnings,
                         "available": not run.unavailable, "unavailable": run.unavailable,
                         "seconds": round(run.seconds, 3), "startup_seconds": round(run.startup_seconds, 3),
                         "cases": cases, "summary": run.summary()})
    return {"report": "refq-conform", "report_version": REPORT_VERSION, "refq": refq.__version__, "level": level,
            "warnings": [warning for run in runs for warning in run.warnings], "backends": backends}


def json_text(runs: list[BackendRun], *, level: int = 1) -> str:
    return json.dumps(json_report(runs, level=level), indent=1, allow_nan=False) + "\n"


def write_json(path, runs: list[BackendRun], *, level: int = 1) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(json_text(runs, level=level))


def junit_xml(runs: list[BackendRun]) -> str:
    """JUnit XML: one <testsuite> per backend, one <testcase> per case (classname ``backend.operation``)."""
    root = ElementTree.Element("testsuites", name="refq conform")
    for run in runs:
        summary = run.summary()
        suite = ElementTree.SubElement(root, "testsuite", name=run.name, tests=str(len(run.results)),
                                       failures=str(summary["fail"]), errors=str(summary["error"]),
                                       skipped=str(summary["unsupported"]), time=f"{run.seconds:.3f}")
        properties = ElementTree.SubElement(suite, "properties")
        for key, value in (("spec", run.spec), ("profile", profile_text(run.profile)),
                           *versions(run).items()):
            ElementTree.SubElement(properties, "property", name=key, value=str(value))
        if run.verification is not None:
            ElementTree.SubElement(properties, "property", name="verification", value=run.verification.text())
        for warning in run.warnings:  # JUnit has no warning element: a property and stderr, never a failure
            ElementTree.SubElement(properties, "property", name="warning", value=warning)
        for result in run.results:
            case = ElementTree.SubElement(suite, "testcase", classname=f"{run.name}.{result.op}", name=result.id,
                                          time=f"{result.seconds:.4f}")
            if result.status == "fail":
                body = "\n".join(f"at {list(m.index)}: input {_value_text(m.input)}, expected "
                                 f"{_value_text(m.expected)} ({m.expected_bits}), got {_value_text(m.actual)} "
                                 f"({m.actual_bits})" + (f"\n  {m.trace}" if m.trace else "")
                                 for m in result.first_mismatches)
                ElementTree.SubElement(case, "failure", message=result.detail).text = body
            elif result.status == "error":
                ElementTree.SubElement(case, "error", message=result.detail)
            elif result.status == "unsupported":
                ElementTree.SubElement(case, "skipped", message=f"unsupported: {result.detail}")
        if run.warnings:
            ElementTree.SubElement(suite, "system-err").text = "\n".join(f"warning: {w}" for w in run.warnings)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def write_junit(path, runs: list[BackendRun]) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(junit_xml(runs))
