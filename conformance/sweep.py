"""Exhaustive sweeps: every input of a space, compared with refq, bit for bit.

- ``quantize_linear`` with one scale, zero point and type: every one of the $2^{32}$ float32
  bit patterns, in chunks of $2^{24}$ (``np.arange(..., dtype=uint32).view(float32)``).
- ``cast`` to a small float format: every float32 pattern, or (``source``) every pattern of
  a format of at most 16 bits (binary16, bfloat16, the 8-, 6- and 4-bit formats), decoded
  to float32 exactly and cast.

refq's answer comes from the specialised kernel
(:func:`refq.affine.specialized.quantize_run_float32`) when the profile's variants allow it,
else from the general one. A sweep is split into shards (``shard=(i, n)``, contiguous
ranges of chunks, for CI jobs) and each shard across ``jobs`` processes; the JSON of
shard results combine with :func:`merge`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from refq._jit import kernel
from refq.errors import RefqError, invalid, wrong_type

SPACE = 1 << 32
CHUNK = 1 << 24
#: Mismatching inputs kept (with their traces) per sweep.
FIRST = 5
#: Input classes mismatches are counted by, in the order an input is assigned to the first that fits.
CLASSES = ("nan", "inf", "zero", "subnormal", "tie", "saturating", "other")
OPERATIONS = ("quantize_linear", "cast")
RESULT_FORMAT = "refq-sweep-v1"


@dataclass(frozen=True)
class SweepSpec:
    """What is swept: the operation, its parameters and the input space's range of patterns."""

    op: str
    parameters: dict
    profile: str
    start: int
    end: int
    #: "binary32" (float32 patterns) or a format of at most 16 bits whose patterns are decoded.
    source: str = "binary32"
    chunk: int = CHUNK

    def chunks(self, shard: tuple[int, int] = (1, 1)) -> list[tuple[int, int]]:
        """The ``[start, end)`` chunks of shard ``i`` of ``n`` (1-based): contiguous runs of chunks."""
        index, count = shard
        bounds = [(first, min(first + self.chunk, self.end)) for first in range(self.start, self.end, self.chunk)]
        low = (index - 1) * len(bounds) // count
        high = index * len(bounds) // count
        return bounds[low:high]


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
        return SPACE if self.source == "binary32" else 1 << _source_bits(self.source)

    @property
    def complete(self) -> bool:
        return _merge_ranges(self.ranges) == [[0, self.space]]


def _source_bits(source: str) -> int:
    from refq.registry import float_format

    return float_format(source, "--source").total_bits


# --- arguments ----------------------------------------------------------------------------------------------


def parse_range(text: str | None, space: int = SPACE) -> tuple[int, int]:
    """``START:END`` (integers, hex allowed, END exclusive; either may be empty) -> (start, end)."""
    if text is None:
        return 0, space
    if not isinstance(text, str) or text.count(":") != 1:
        raise invalid("--range", "START:END, e.g. 0x3f800000:0x40000000", text)
    parts = text.split(":")
    try:
        start = int(parts[0], 0) if parts[0] else 0
        end = int(parts[1], 0) if parts[1] else space
    except ValueError:
        raise invalid("--range", "START:END with integer bounds (0x... allowed)", text) from None
    if not 0 <= start < end <= space:
        raise invalid("--range", f"0 <= START < END <= {space:#x}", text)
    return start, end


def parse_shard(text: str | None) -> tuple[int, int]:
    """``i/n`` with 1 <= i <= n."""
    if text is None:
        return 1, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except (ValueError, AttributeError):
        raise invalid("--shard", "i/n with integers 1 <= i <= n, e.g. 2/4", text) from None
    if not 1 <= index <= count:
        raise invalid("--shard", "i/n with 1 <= i <= n", text)
    return index, count


def quantize_parameters(scale, zero_point, dtype: str) -> dict:
    """Validated per-tensor parameters (refq's own checks)."""
    from refq.affine.parameters import scale_array, target_type, zero_point_array

    target = target_type(dtype)
    value = scale_array(scale)
    if value.size != 1:
        raise invalid("--scale", "one value", scale)
    zero_point_array(zero_point, target, ())
    return {"scale": float(value.reshape(())), "zero_point": int(zero_point), "dtype": target.format.name}


def cast_parameters(to: str, saturate: bool) -> dict:
    from refq.registry import float_format

    fmt = float_format(to, "--to")
    if fmt.total_bits >= 32:
        raise invalid("--to", "a float format narrower than float32", to)
    if not isinstance(saturate, bool):
        raise wrong_type("--saturate", "True or False", saturate)
    return {"to": fmt.name, "saturate": saturate}


def make_spec(op: str, parameters: dict, profile: str, source: str = "binary32", range_text: str | None = None,
              chunk: int = CHUNK) -> SweepSpec:
    from refq.registry import float_format
    from refq.registry.profiles import PROFILES_BY_NAME

    if op not in OPERATIONS:
        raise invalid("--op", "one of " + ", ".join(OPERATIONS), op)
    if profile not in PROFILES_BY_NAME:
        raise invalid("--profile", "one of " + ", ".join(PROFILES_BY_NAME), profile)
    fmt = float_format(source, "--source")
    if op == "quantize_linear" and fmt.name != "binary32":
        raise invalid("--source", "binary32 for quantize_linear (its input is float32)", source)
    if fmt.name != "binary32" and fmt.total_bits > 16:
        raise invalid("--source", "binary32 or a format of at most 16 bits", source)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= CHUNK:
        raise invalid("chunk", f"an integer in [1, {CHUNK}]", chunk)
    start, end = parse_range(range_text, SPACE if fmt.name == "binary32" else 1 << fmt.total_bits)
    return SweepSpec(op, parameters, profile, start, end, fmt.name, chunk)


@kernel
def fill_patterns(start, out):
    """``out[i] = start + i``: the chunk's bit patterns, written in one pass."""
    for i in range(out.size):
        out[i] = start + i


@kernel
def count_differences(actual, expected):
    """How many elements differ: one pass, no temporary mask (most chunks have none)."""
    count = 0
    for i in range(actual.size):
        if actual[i] != expected[i]:
            count += 1
    return count


# --- one chunk ----------------------------------------------------------------------------------------------


class ChunkRunner:
    """Sweeps chunks in one process: the backend loaded once, buffers allocated once."""

    def __init__(self, backend, spec: SweepSpec, isolate: bool = False) -> None:
        from refq.conformance.subject import Subject

        self.spec = spec
        self.subject = Subject(backend, spec.profile, isolate=isolate)
        if not self.subject.supports(spec.op):
            raise invalid("--backend", f"a backend with the operation {spec.op}", self.subject.name)
        self._patterns = np.empty(spec.chunk, dtype=np.uint32)
        if spec.op == "quantize_linear":
            self._prepare_quantize()

    def _prepare_quantize(self) -> None:
        from refq.affine.parameters import target_type
        from refq.affine.profiles import resolve_variants
        from refq.affine.quantize import _specialized_nan_result
        from refq.affine.steps import DIVIDE, NAN_UNPREDICTABLE

        parameters = self.spec.parameters
        self.target = target_type(parameters["dtype"])
        self.scale = np.float32(parameters["scale"])
        with np.errstate(divide="ignore", over="ignore"):
            self.reciprocal = np.float32(np.float32(1) / self.scale)
        variants = resolve_variants(self.spec.profile, "quantize", per_axis=False, overrides={})
        self.codes = {name: value.code for name, value in variants.items()}
        self.nan_result = _specialized_nan_result(self.codes, self.target)
        self.nan_unpredictable = self.codes["nan"] == NAN_UNPREDICTABLE
        self.zero_of_infinity = self.codes["scale_operation"] != DIVIDE and bool(np.isinf(self.reciprocal))
        self._expected = np.empty(self.spec.chunk, dtype=self.target.container)

    def close(self) -> None:
        self.subject.close()

    def inputs(self, start: int, end: int) -> np.ndarray:
        """The float32 inputs of patterns ``[start, end)`` of the source format."""
        count = end - start
        patterns = self._patterns[:count]
        fill_patterns(np.uint32(start), patterns)
        if self.spec.source == "binary32":
            return patterns.view(np.float32)
        from refq.strategies import _format, _table

        return _table(_format(self.spec.source))[patterns]

    def run(self, bounds: tuple[int, int]) -> SweepResult:
        start, end = bounds
        began = time.perf_counter()
        result = SweepResult(self.subject.name, self.subject.version, self.spec.op, self.spec.profile,
                             dict(self.spec.parameters), self.spec.source, ranges=[[start, end]], inputs=end - start)
        x = self.inputs(start, end)
        if self.spec.op == "quantize_linear":
            self._quantize(x, result)
        else:
            self._cast(x, start, result)
        result.seconds = time.perf_counter() - began
        return result

    # quantize

    def _expected_quantize(self, x: np.ndarray):
        """refq's answer and a function giving the unpredictable mask at given indices."""
        from refq.affine import quantize_with_outcomes
        from refq.affine.specialized import quantize_run_float32

        if self.nan_result is None:
            expected, unpredictable = quantize_with_outcomes(x, self.scale, self.zero_point_value(),
                                                             dtype=self.target.format.name, profile=self.spec.profile)
            return expected, lambda indices: unpredictable[indices], int(np.count_nonzero(unpredictable))
        expected = self._expected[:x.size]
        quantize_run_float32(x, self.scale, self.reciprocal, self.zero_point_value(), self.target.qmin,
                             self.target.qmax, self.codes["scale_operation"], self.nan_result, expected)

        def unpredictable_at(indices):
            mask = np.zeros(indices.size, bool)
            if self.nan_unpredictable:
                values = x[indices]
                mask = np.isnan(values) | ((values == 0) & self.zero_of_infinity)
            return mask

        count = 0
        if self.nan_unpredictable:
            count = int(np.count_nonzero(np.isnan(x)))
            if self.zero_of_infinity:
                count += int(np.count_nonzero(x == 0))
        return expected, unpredictable_at, count

    def zero_point_value(self):
        return np.int64(self.spec.parameters["zero_point"])

    def _quantize(self, x: np.ndarray, result: SweepResult) -> None:
        parameters = self.spec.parameters
        container = self.target.container
        outcome = self.subject.call("quantize_linear",
                                    {"x": x, "scale": np.float32(parameters["scale"]),
                                     "zero_point": container.type(parameters["zero_point"])},
                                    {"dtype": parameters["dtype"]})
        actual = self._check_outcome(outcome, result, x.shape, container)
        expected, unpredictable_at, unpredictable = self._expected_quantize(x)
        result.unpredictable = unpredictable
        if actual is None:
            return
        result.compared = x.size - unpredictable
        differ = np.flatnonzero(actual != expected) if count_differences(actual, expected) else np.empty(0, np.int64)
        if differ.size:
            differ = differ[~unpredictable_at(differ)]
        self._record(result, x, differ, expected, actual, self._quantize_classes(x[differ]))

    def _quantize_classes(self, values: np.ndarray) -> np.ndarray:
        parameters = self.spec.parameters
        scale = np.float64(np.float32(parameters["scale"]))
        with np.errstate(all="ignore"):
            wide = values.astype(np.float64)
            twice = np.rint(2 * wide / scale)
            tie = (np.abs(twice) < 2**29) & (np.mod(twice, 2) == 1) & (twice * scale == 2 * wide)
            rounded = np.rint(wide / scale) + parameters["zero_point"]
            saturating = (rounded < self.target.qmin) | (rounded > self.target.qmax)
        return _classify(values, tie, saturating)

    # cast

    def _cast(self, x: np.ndarray, start: int, result: SweepResult) -> None:
        from refq.conformance import reference
        from refq.registry import float_format

        parameters = self.spec.parameters
        fmt = float_format(parameters["to"])
        keep = None
        if not fmt.has_nan:
            keep = ~np.isnan(x)
            result.rejected = int(x.size - np.count_nonzero(keep))
            x = x[keep]
        with np.errstate(all="ignore"):
            expected, unpredictable = reference.cast(x, to=parameters["to"], saturate=parameters["saturate"],
                                                     profile=self.spec.profile)
        outcome = self.subject.call("cast", {"x": x}, {"to": parameters["to"], "saturate": parameters["saturate"]})
        actual = self._check_outcome(outcome, result, x.shape, expected.dtype)
        if actual is None:
            return
        differ = np.flatnonzero(actual != expected)
        if unpredictable is not None:
            result.unpredictable = int(np.count_nonzero(unpredictable))
            differ = differ[~unpredictable[differ]]
        result.compared = x.size - result.unpredictable
        values = x[differ]
        with np.errstate(all="ignore"):
            exponent = np.frexp(np.abs(values).astype(np.float64))[1] - 1
            quantum = np.ldexp(1.0, np.maximum(exponent - fmt.mantissa_bits, 1 - fmt.bias - fmt.mantissa_bits))
            scaled = np.abs(values.astype(np.float64)) / quantum
            tie = np.isfinite(scaled) & (scaled - np.floor(scaled) == 0.5)
            from refq.numbers.floats import max_finite

            saturating = np.abs(values.astype(np.float64)) > float(max_finite(fmt))
        patterns = None
        if keep is not None:
            positions = np.flatnonzero(keep)
            patterns = positions[differ] + start
        self._record(result, x, differ, expected, actual, _classify(values, tie, saturating), patterns, start)

    # shared

    def _check_outcome(self, outcome, result: SweepResult, shape, dtype) -> np.ndarray | None:
        if outcome.kind == "returned":
            value = outcome.value
            if value.shape == shape and value.dtype == dtype:
                return value
            result.errors.append(f"returned {value.dtype}{list(value.shape)}, expected {np.dtype(dtype)}{list(shape)}")
        else:
            result.errors.append(f"{outcome.kind}: {outcome.message}")
        return None

    def _record(self, result, x, differ, expected, actual, classes, patterns=None, start=None) -> None:
        result.mismatches = int(differ.size)
        for code, count in enumerate(np.bincount(classes, minlength=len(CLASSES))):
            result.by_class[CLASSES[code]] += int(count)
        for position, index in enumerate(differ[:FIRST]):
            pattern = int(patterns[position]) if patterns is not None else int(self._patterns[index])
            result.first.append(SweepMismatch(pattern, float(x[index]), int(expected[index]), int(actual[index]),
                                              CLASSES[classes[position]]))


def _classify(values: np.ndarray, tie: np.ndarray, saturating: np.ndarray) -> np.ndarray:
    """The index in :data:`CLASSES` of each value's class."""
    tiny = np.finfo(np.float32).tiny
    with np.errstate(invalid="ignore"):
        conditions = [np.isnan(values), np.isinf(values), values == 0, np.abs(values) < tiny, tie, saturating]
    return np.select(conditions, list(range(len(CLASSES) - 1)), default=len(CLASSES) - 1).astype(np.int8)


# --- whole sweeps -------------------------------------------------------------------------------------------


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


_RUNNER: ChunkRunner | None = None


def _start_job(backend, spec: SweepSpec) -> None:
    global _RUNNER
    _RUNNER = ChunkRunner(backend, spec)


def _job_chunk(bounds: tuple[int, int]) -> SweepResult:
    return _RUNNER.run(bounds)


def sweep(backend, spec: SweepSpec, *, shard: tuple[int, int] = (1, 1), jobs: int = 1, progress: bool | None = None,
          isolate: bool = False) -> SweepResult:
    """Sweep shard ``i/n`` of ``spec`` against ``backend`` (an adapter object or a SPEC; several
    ``jobs`` need a SPEC, which each process loads) and add up the chunks' results."""
    from refq.conformance.report import Progress

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise invalid("--jobs", "a positive integer", jobs)
    index, count = shard
    chunks = spec.chunks(shard)
    if not chunks:
        raise invalid("--shard", f"a shard with at least one chunk ({len(spec.chunks())} chunks in all)",
                      f"{index}/{count}")
    began = time.perf_counter()
    results: list[SweepResult] = []
    jobs = min(jobs, len(chunks))
    if jobs > 1 and not isinstance(backend, str):
        raise wrong_type("backend", "a SPEC string when jobs > 1 (each process loads it)", backend)
    label = f"sweep {spec.op}"
    if jobs == 1:
        runner = ChunkRunner(backend, spec, isolate=isolate)
        bar = Progress(len(chunks), label=label, enabled=progress)
        try:
            for bounds in chunks:
                results.append(runner.run(bounds))
                bar.advance()
        finally:
            runner.close()
            bar.finish()
    else:
        import multiprocessing

        # Interleaved, so that the processes meet the slow regions (NaN, the general kernel) alike.
        order = [bounds for offset in range(jobs) for bounds in chunks[offset::jobs]]
        context = multiprocessing.get_context("spawn")
        bar = Progress(len(chunks), label=label, enabled=progress)
        with context.Pool(jobs, initializer=_start_job, initargs=(backend, spec)) as pool:
            for item in pool.imap_unordered(_job_chunk, order, chunksize=1):
                results.append(item)
                bar.advance()
        bar.finish()
    merged = combine(results)
    merged.shard = f"{index}/{count}"
    merged.seconds = time.perf_counter() - began
    if merged.first:
        add_traces(merged)
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
        width = 8 if result.source == "binary32" else math.ceil(_source_bits(result.source) / 4)
        lines.append(f"  input 0x{mismatch.pattern:0{width}x} ({mismatch.input!r}, {mismatch.input_class}): "
                     f"expected {mismatch.expected}, got {mismatch.actual}")
        if mismatch.trace:
            lines += ["    " + line for line in mismatch.trace.splitlines()]
    for error in result.errors[:5]:
        lines.append(f"  error: {error}")
    if len(result.errors) > 5:
        lines.append(f"  ... {len(result.errors) - 5} more errors")
    return "\n".join(lines)
