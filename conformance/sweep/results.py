"""What a sweep found (:class:`SweepResult`): counts by input class, the first mismatches with their
traces, and the JSON of shard results that :func:`merge` adds up."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from refq.conformance.sweep.spec import SPACE, source_bits
from refq.errors import RefqError, invalid

#: Mismatching inputs kept (with their traces) per sweep.
FIRST = 5
#: Input classes mismatches are counted by, in the order an input is assigned to the first that fits.
CLASSES = ("nan", "inf", "zero", "subnormal", "tie", "saturating", "other")
RESULT_FORMAT = "refq-sweep-v1"
GRID_FORMAT = "refq-sweep-grid-v1"


@dataclass
class SweepMismatch:
    pattern: int
    input: float
    expected: int
    actual: int
    input_class: str
    trace: str = ""


@dataclass
class SweepResult:
    """Counts for the ranges swept; JSON-serialisable with :meth:`to_json`."""

    backend: str
    backend_version: str
    op: str
    profile: str
    parameters: dict
    source: str
    ranges: list[list[int]] = field(default_factory=list)
    inputs: int = 0
    compared: int = 0
    unpredictable: int = 0
    #: Inputs left out because refq rejects them (a NaN cast to a format without NaN).
    rejected: int = 0
    mismatches: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    first: list[SweepMismatch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shard: str = "1/1"

    def to_json(self) -> dict:
        return {"format": RESULT_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> SweepResult:
        if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT:
            raise invalid("shard result", f"a JSON object with format {RESULT_FORMAT!r}", data.get("format")
                          if isinstance(data, dict) else data)
        fields = {key: value for key, value in data.items() if key != "format"}
        fields["first"] = [SweepMismatch(**item) for item in fields.get("first", [])]
        return cls(**fields)

    @property
    def space(self) -> int:
        return SPACE if self.source == "binary32" else 1 << source_bits(self.source)

    @property
    def complete(self) -> bool:
        return _merge_ranges(self.ranges) == [[0, self.space]]


def classify(values: np.ndarray, tie: np.ndarray, saturating: np.ndarray) -> np.ndarray:
    """The index in :data:`CLASSES` of each value's class."""
    tiny = np.finfo(np.float32).tiny
    with np.errstate(invalid="ignore"):
        conditions = [np.isnan(values), np.isinf(values), values == 0, np.abs(values) < tiny, tie, saturating]
    return np.select(conditions, list(range(len(CLASSES) - 1)), default=len(CLASSES) - 1).astype(np.int8)


# --- adding up -------------------------------------------------------------------------------------------


def combine(results: list[SweepResult], first: int = FIRST) -> SweepResult:
    """Add up results of the same sweep (chunks, jobs or shards)."""
    if not results:
        raise invalid("results", "at least one sweep result", results)
    head = results[0]
    for other in results[1:]:
        mine = (head.op, head.profile, head.parameters, head.source, head.backend)
        theirs = (other.op, other.profile, other.parameters, other.source, other.backend)
        if mine != theirs:
            raise invalid("results", f"results of one sweep ({mine})", theirs)
    merged = SweepResult(head.backend, head.backend_version, head.op, head.profile, dict(head.parameters),
                         head.source, shard=head.shard if len(results) == 1 else "merged")
    for item in results:
        merged.ranges += [list(r) for r in item.ranges]
        merged.inputs += item.inputs
        merged.compared += item.compared
        merged.unpredictable += item.unpredictable
        merged.rejected += item.rejected
        merged.mismatches += item.mismatches
        for name, count in item.by_class.items():
            merged.by_class[name] = merged.by_class.get(name, 0) + count
        merged.first += item.first
        merged.errors += item.errors
        merged.seconds += item.seconds
    covered = _merge_ranges(merged.ranges)
    if sum(end - begin for begin, end in covered) != sum(end - begin for begin, end in merged.ranges):
        raise invalid("results", "shards that do not overlap", merged.ranges)
    merged.ranges = covered
    merged.first = sorted(merged.first, key=lambda m: m.pattern)[:first]
    return merged


def _merge_ranges(ranges) -> list[list[int]]:
    merged: list[list[int]] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return merged


def add_traces(result: SweepResult) -> None:
    """Fill in the step-by-step trace of each kept mismatch (quantize_linear)."""
    if result.op != "quantize_linear":
        return
    from refq.affine.trace import trace_quantize

    parameters = result.parameters
    for mismatch in result.first:
        if mismatch.trace:
            continue
        value = np.array(mismatch.pattern, dtype=np.uint32).view(np.float32)[()]
        try:
            with np.errstate(all="ignore"):
                mismatch.trace = trace_quantize(value, parameters["scale"], parameters["zero_point"],
                                                dtype=parameters["dtype"], profile=result.profile).render()
        except RefqError as error:
            mismatch.trace = f"(no trace: {error})"


def write(result: SweepResult, path: Path | str) -> None:
    Path(path).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")


def read(path: Path | str) -> SweepResult:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise invalid("--merge", "readable JSON shard results", f"{path}: {error}") from None
    return SweepResult.from_json(data)


def merge(paths) -> SweepResult:
    """Combine shard result files (:func:`write`) of one sweep."""
    return combine([read(path) for path in paths])


def grid_json(results: list[SweepResult]) -> dict:
    """The JSON of a grid's results (one per parameter pair), as ``--json`` writes it for a grid."""
    return {"format": GRID_FORMAT, "results": [result.to_json() for result in results]}


def read_all(path: Path | str) -> list[SweepResult]:
    """The results in a file: one sweep's (:func:`write`) or a grid's (:func:`grid_json`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise invalid("--merge", "readable JSON shard results", f"{path}: {error}") from None
    if isinstance(data, dict) and data.get("format") == GRID_FORMAT:
        items = data.get("results")
        if not isinstance(items, list) or not items:
            raise invalid("--merge", "a grid result with a non-empty results list", path)
        return [SweepResult.from_json(item) for item in items]
    return [SweepResult.from_json(data)]


def merge_all(paths) -> list[SweepResult]:
    """Combine shard files of one sweep or of one grid: the results of each parameter pair are added up
    apart, in the order the pairs first appear."""
    groups: dict[str, list[SweepResult]] = {}
    for path in paths:
        for result in read_all(path):
            identity = json.dumps([result.op, result.profile, result.parameters, result.source, result.backend],
                                  sort_keys=True)
            groups.setdefault(identity, []).append(result)
    return [combine(results) for results in groups.values()]


def summary(result: SweepResult) -> str:
    """The report printed at the end of a sweep."""
    parameters = " ".join(f"{key}={value}" for key, value in result.parameters.items())
    covered = sum(end - begin for begin, end in result.ranges)
    space = result.space
    extent = "every pattern" if result.complete else f"{covered} of {space} patterns ({covered / space:.2%})"
    lines = [f"sweep {result.op} {parameters} source={result.source} profile={result.profile}",
             f"backend {result.backend} {result.backend_version}".rstrip(),
             f"{extent}; {result.compared} compared, {result.unpredictable} unpredictable"
             + (f", {result.rejected} rejected by refq (left out)" if result.rejected else "")
             + f"; {result.seconds:.2f} s",
             f"mismatches: {result.mismatches}"]
    if result.mismatches:
        lines.append("  by input class: " + ", ".join(f"{name} {count}" for name, count in result.by_class.items()
                                                      if count))
    for mismatch in result.first:
        width = 8 if result.source == "binary32" else math.ceil(source_bits(result.source) / 4)
        lines.append(f"  input 0x{mismatch.pattern:0{width}x} ({mismatch.input!r}, {mismatch.input_class}): "
                     f"expected {mismatch.expected}, got {mismatch.actual}")
        if mismatch.trace:
            lines += ["    " + line for line in mismatch.trace.splitlines()]
    for error in result.errors[:5]:
        lines.append(f"  error: {error}")
    if len(result.errors) > 5:
        lines.append(f"  ... {len(result.errors) - 5} more errors")
    return "\n".join(lines)


def grid_summary(results: list[SweepResult]) -> str:
    """The last line of a grid's report: how many parameter pairs differ."""
    differing = [result for result in results if result.mismatches]
    failing = [result for result in results if result.errors]
    inputs = sum(result.inputs for result in results)
    return (f"grid: {len(results)} parameter pairs, {inputs} inputs; {len(differing)} with mismatches, "
            f"{len(failing)} with errors")
