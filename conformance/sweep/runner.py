"""Running a sweep: chunks of input patterns through the backend (:class:`refq.conformance.runner.Backend`)
and through refq, compared bit for bit, in one process or several."""

from __future__ import annotations

import time

import numpy as np

from refq._jit import kernel
from refq.conformance.patterns import PatternRange
from refq.conformance.sweep.results import CLASSES, FIRST, SweepMismatch, SweepResult, classify, add_traces, combine
from refq.conformance.sweep.spec import SweepSpec
from refq.errors import invalid, wrong_type


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

    def __init__(self, backend, spec: SweepSpec, isolate: bool = False, timeout: float | None = None) -> None:
        from refq.conformance.runner import DEFAULT_TIMEOUT, load_backend

        self.spec = spec
        self.subject = load_backend(backend, spec.profile, isolate=isolate,
                                    timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
        if not self.subject.supports(spec.op):
            raise invalid("--backend", f"a backend with the operation {spec.op}", self.subject.name)
        self._patterns = np.empty(spec.chunk, dtype=np.uint32)
        self.hung = False
        if spec.op == "quantize_linear":
            self._prepare_quantize()

    def _prepare_quantize(self) -> None:
        from refq.affine.parameters import target_type
        from refq.affine.profiles import resolve_variants
        from refq.affine.quantize import specialized_nan_result
        from refq.affine.steps import DIVIDE, NAN_UNPREDICTABLE

        parameters = self.spec.parameters
        self.target = target_type(parameters["dtype"])
        self.scale = np.float32(parameters["scale"])
        with np.errstate(divide="ignore", over="ignore"):
            self.reciprocal = np.float32(np.float32(1) / self.scale)
        variants = resolve_variants(self.spec.profile, "quantize", per_axis=False, overrides={})
        self.codes = {name: value.code for name, value in variants.items()}
        self.nan_result = specialized_nan_result(self.codes, self.target)
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
        from refq.strategies import float_format_argument, pattern_values

        return pattern_values(float_format_argument(self.spec.source))[patterns]

    def run(self, bounds: tuple[int, int]) -> SweepResult:
        start, end = bounds
        began = time.perf_counter()
        result = SweepResult(self.subject.name, self.subject.version, self.spec.op, self.spec.profile,
                             dict(self.spec.parameters), self.spec.source, ranges=[[start, end]], inputs=end - start)
        x = self.inputs(start, end)
        # A worker process makes binary32 patterns itself: sent as bounds, not as 4 bytes a pattern.
        sent = PatternRange(start, end - start) if self.spec.source == "binary32" and getattr(
            self.subject.runner, "makes_patterns", False) else x
        if self.spec.op == "quantize_linear":
            self._quantize(x, sent, result)
        else:
            self._cast(x, sent, start, result)
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

    def _quantize(self, x: np.ndarray, sent, result: SweepResult) -> None:
        parameters = self.spec.parameters
        container = self.target.container
        outcome = self._call("quantize_linear",
                                    {"x": sent, "scale": np.float32(parameters["scale"]),
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
        return classify(values, tie, saturating)

    # cast

    def _cast(self, x: np.ndarray, sent, start: int, result: SweepResult) -> None:
        from refq.backends import reference
        from refq.registry import float_format

        parameters = self.spec.parameters
        fmt = float_format(parameters["to"])
        keep = None
        if not fmt.has_nan:
            keep = ~np.isnan(x)
            result.rejected = int(x.size - np.count_nonzero(keep))
            x = sent = x[keep]
        with np.errstate(all="ignore"):
            expected, unpredictable = reference.cast(x, to=parameters["to"], saturate=parameters["saturate"],
                                                     profile=self.spec.profile)
        outcome = self._call("cast", {"x": sent}, {"to": parameters["to"], "saturate": parameters["saturate"]})
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
        self._record(result, x, differ, expected, actual, classify(values, tie, saturating), patterns, start)

    # shared

    def _call(self, op: str, inputs: dict, attributes: dict):
        """The backend's answer for one chunk. After one chunk hung, the others are not waited on
        (each would cost the full timeout): they are reported as errors at once."""
        from refq.conformance.outcome import Outcome

        if self.hung:
            return Outcome("timeout", message="not called: the backend hung on an earlier chunk")
        outcome = self.subject.call(op, inputs, attributes)
        self.hung = outcome.kind == "timeout"
        return outcome

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


# --- whole sweeps


_RUNNER: ChunkRunner | None = None


def _start_job(backend, spec: SweepSpec, isolate: bool, timeout: float | None) -> None:
    global _RUNNER
    _RUNNER = ChunkRunner(backend, spec, isolate=isolate, timeout=timeout)


def _job_chunk(bounds: tuple[int, int]) -> SweepResult:
    return _RUNNER.run(bounds)


def sweep(backend, spec: SweepSpec, *, shard: tuple[int, int] = (1, 1), jobs: int = 1, progress: bool | None = None,
          isolate: bool = False, timeout: float | None = None) -> SweepResult:
    """Sweep shard ``i/n`` of ``spec`` against ``backend`` (an adapter object, a loaded
    :class:`~refq.conformance.runner.Backend` or a SPEC; several ``jobs`` need a SPEC, which each
    process loads) and add up the chunks' results. ``isolate`` runs a SPEC in the worker process,
    where a crash or a call longer than ``timeout`` seconds is an error of its chunk, not the end."""
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
        runner = ChunkRunner(backend, spec, isolate=isolate, timeout=timeout)
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
        with context.Pool(jobs, initializer=_start_job, initargs=(backend, spec, isolate, timeout)) as pool:
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


