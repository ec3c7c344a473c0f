"""Differential fuzzing: Hypothesis draws calls of an operation, the backend and refq answer,
and any disagreement is shrunk to a minimal counterexample.

Inputs come from :mod:`refq.strategies` (values by bit pattern, mixed per element with
rounding ties and saturation edges of that element's own scale and zero point), restricted
to the dtypes and granularities the backend supports (found by probing it first). The run
is reproducible: the seed fixes every draw, and Hypothesis's example database (a directory,
kept between runs) replays earlier counterexamples first. A counterexample is judged by the
conformance harness (:func:`refq.conformance.harness.judge`) exactly like a golden vector
and can be written as one with the vectors' own writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refq.conformance.case import Case
from refq.conformance.harness import CaseResult, judge
from refq.conformance.runner import DEFAULT_TIMEOUT, Backend, load_backend
from refq.errors import RefqError, invalid
from refq.registry.operations import OPERATIONS_BY_NAME

#: Examples tried when no budget is given.
DEFAULT_MAX_EXAMPLES = 300
#: Operations the fuzzer draws calls of.
OPERATIONS = ("quantize_linear", "dequantize_linear", "fake_quantize", "cast", "quantize_linear_float",
              "dequantize_linear_float")
#: Cast targets tried: every value of the cast record's ``to`` (the formats narrower than float32).
CAST_TARGETS = OPERATIONS_BY_NAME["cast"].values["to"]
#: quantize_linear_float's targets (AFF-6.1): the float8, float6 and float4 formats.
FLOAT_TARGETS = OPERATIONS_BY_NAME["quantize_linear_float"].values["to"]
#: Operations whose configurations are (format, saturate) rather than (dtype, granularity).
FORMAT_OPERATIONS = ("cast", "quantize_linear_float", "dequantize_linear_float")
#: The types real models use: drawn about half the time, so a defect in them is found within the budget.
COMMON_DTYPES = ("int8", "uint8", "int4", "uint4", "int16", "uint16", "int32")
INPUT_NAMES = {op: OPERATIONS_BY_NAME[op].input_names for op in OPERATIONS}


#: The example database's folder under the user cache.
DATABASE_FOLDER = ("refq", "fuzz")


def default_database() -> Path:
    """``$REFQ_FUZZ_DATABASE``, else ``<user cache>/refq/fuzz`` (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    explicit = os.environ.get("REFQ_FUZZ_DATABASE")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base.joinpath(*DATABASE_FOLDER)


def default_database_description() -> str:
    """Where :func:`default_database` looks, in words (for ``--help`` and the docs)."""
    return f"$REFQ_FUZZ_DATABASE, else ~/.cache/{'/'.join(DATABASE_FOLDER)}"


class ExampleDatabase:
    """Counterexamples kept between runs, replayed before anything new is drawn.

    Hypothesis's own database is not written when a run is seeded (as every fuzz run is, to be
    reproducible), so refq keeps its minimal counterexamples itself: one ``.npz`` file (no
    pickle) per example under ``<directory>/<hash of backend, operation, profile>/``. An example
    that no longer fails is deleted, as Hypothesis does.
    """

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = Path(directory) / hashlib.sha256(key.encode()).hexdigest()[:16]

    def examples(self) -> list[tuple[Path, dict, dict]]:
        found = []
        for path in sorted(self.directory.glob("*.npz")) if self.directory.is_dir() else []:
            try:
                with np.load(path, allow_pickle=False) as data:
                    attributes = json.loads(str(data["__attributes__"]))
                    names = json.loads(str(data["__inputs__"]))
                    inputs = {name: (data[name] if name in data.files else None) for name in names}
            except (OSError, ValueError, KeyError):
                continue
            found.append((path, inputs, attributes))
        return found

    def save(self, inputs: dict, attributes: dict) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.asarray(array) for name, array in inputs.items() if array is not None}
        digest = hashlib.sha256(json.dumps(attributes, sort_keys=True).encode())
        for name, array in arrays.items():
            digest.update(name.encode() + array.dtype.str.encode() + repr(array.shape).encode() + array.tobytes())
        path = self.directory / f"{digest.hexdigest()[:16]}.npz"
        with open(path, "wb") as handle:
            np.savez(handle, __attributes__=np.array(json.dumps(attributes)), __inputs__=np.array(json.dumps(list(inputs))),
                     **arrays)
        return path


@dataclass
class FuzzResult:
    backend: str
    backend_version: str
    op: str
    profile: str
    seed: int
    max_examples: int
    #: Calls made to the backend (probes excluded).
    examples: int = 0
    #: (dtype, granularity) or (target, saturate) pairs the backend supports.
    configurations: list[tuple] = field(default_factory=list)
    #: True when the counterexample was an earlier run's, replayed from the example database.
    replayed: bool = False
    #: The minimal counterexample and its verdict; None when nothing was found.
    counterexample: Case | None = None
    verdict: CaseResult | None = None
    saved: Path | None = None
    #: The shape of the first input before :func:`shrink_shape` cut it to one element (None: not cut).
    shrunk_from: tuple | None = None

    @property
    def found(self) -> bool:
        return self.counterexample is not None


# --- what the backend supports ------------------------------------------------------------------------------


def _probe_call(op: str, configuration: tuple) -> tuple[dict, dict]:
    if op == "cast":
        to, saturate = configuration
        return {"x": np.array([0.0, 1.0], np.float32)}, {"to": to, "saturate": saturate}
    if op == "quantize_linear_float":
        to, saturate = configuration
        return {"x": np.array([0.0, 1.0], np.float32), "scale": np.float32(1), "zero_point": None}, \
            {"to": to, "saturate": saturate}
    if op == "dequantize_linear_float":
        (dtype,) = configuration
        return {"q": np.array([0, 1], np.uint8), "scale": np.float32(1), "zero_point": None}, {"dtype": dtype}
    from refq.strategies import container_dtype, integer_format_argument

    dtype, granularity = configuration
    container = container_dtype(integer_format_argument(dtype, max_bits=32))
    values = np.zeros((2, 2), np.float32) if op == "quantize_linear" else np.zeros((2, 2), container)
    if granularity == "per_tensor":
        scale, zero_point, attributes = np.float32(1), container.type(0), {"axis": None, "block_size": None}
    elif granularity == "per_axis":
        scale, zero_point, attributes = np.ones(2, np.float32), np.zeros(2, container), {"axis": 0, "block_size": None}
    else:
        scale, zero_point, attributes = np.ones((1, 2), np.float32), np.zeros((1, 2), container), \
            {"axis": 0, "block_size": 2}
    names = INPUT_NAMES[op]
    if op == "fake_quantize":
        attributes.pop("block_size")
    return dict(zip(names, (values, scale, zero_point))), {**attributes, "dtype": dtype}


def _check_choices(op: str, dtypes, granularities) -> None:
    """``--dtypes`` and ``--granularities`` name values the fuzzer can draw (an empty list is none)."""
    from refq.strategies import DEQUANTIZE_DTYPES, GRANULARITIES, QUANTIZE_DTYPES

    known_dtypes = (CAST_TARGETS if op == "cast" else FLOAT_TARGETS if op in FORMAT_OPERATIONS
                    else DEQUANTIZE_DTYPES if op == "dequantize_linear" else QUANTIZE_DTYPES)
    for argument, chosen, known in (("--dtypes", dtypes, known_dtypes), ("--granularities", granularities,
                                                                          GRANULARITIES)):
        if chosen is None:
            continue
        if not chosen:
            raise invalid(argument, "one or more comma-separated values", "")
        for value in chosen:
            if value not in known:
                raise invalid(argument, f"comma-separated values from {', '.join(known)} for {op}", value)


def supported_configurations(subject: Backend, op: str) -> list[tuple]:
    """The configurations whose probe call the backend does not answer with *unsupported*."""
    from refq.strategies import DEQUANTIZE_DTYPES, GRANULARITIES, QUANTIZE_DTYPES

    if op == "cast":
        candidates = [(to, saturate) for to in CAST_TARGETS for saturate in (False, True)]
    elif op == "quantize_linear_float":  # saturate is the float8 types' attribute; the others always saturate
        candidates = [(to, saturate) for to in FLOAT_TARGETS
                      for saturate in ((False, True) if to.startswith("float8") else (True,))]
    elif op == "dequantize_linear_float":
        candidates = [(dtype,) for dtype in FLOAT_TARGETS]
    else:
        dtypes = DEQUANTIZE_DTYPES if op == "dequantize_linear" else QUANTIZE_DTYPES
        granularities = GRANULARITIES if op != "fake_quantize" else ("per_tensor", "per_axis")
        candidates = [(dtype, granularity) for dtype in dtypes for granularity in granularities]
    supported = []
    for configuration in candidates:
        inputs, attributes = _probe_call(op, configuration)
        outcome = subject.call(op, inputs, attributes)
        if outcome.unsupported:
            continue
        supported.append(configuration)
        if outcome.kind in ("timeout", "crashed"):  # each further probe would cost a timeout or a restart
            break
    return supported


class _BackendBroke(BaseException):
    """Raised through Hypothesis at a backend's first hang or crash. Not an Exception, so Hypothesis does
    not shrink it: each further call would wait the full timeout, or restart the worker process."""


# --- what is drawn ------------------------------------------------------------------------------------------


def _cast_values(to: str):
    """float32 inputs for a cast to ``to``: any pattern, the target's own values, and its midpoints
    (the ties) moved at most one float32 ulp."""
    from hypothesis import strategies as st

    from refq.registry import float_format
    from refq.strategies import step_ulps, pattern_values, float32_values, format_values

    fmt = float_format(to)
    anything = float32_values(allow_nan=fmt.has_nan)
    own = format_values(fmt, allow_nan=False, allow_infinity=False)
    largest = int(np.flatnonzero(np.isfinite(pattern_values(fmt)[: 1 << (fmt.total_bits - 1)]))[-1])

    def midpoint(pattern, sign, offset):
        middle = (float(pattern_values(fmt)[pattern]) + float(pattern_values(fmt)[pattern + 1])) / 2
        return step_ulps(np.float32(middle) * np.float32(sign), offset)

    ties = st.builds(midpoint, st.integers(0, largest - 1), st.sampled_from([1, -1]), st.integers(-1, 1))
    return st.one_of(anything, own, ties)


def problems(op: str, configurations: list[tuple]):
    """The strategy of ``(inputs, attributes)`` for ``op`` over the supported ``configurations``."""
    from hypothesis import strategies as st

    from refq import strategies as rst

    def weighted(branches: dict):
        """A configuration drawn flat, the common types repeated to be about two draws in three."""
        chosen = list(branches)
        common = [key for key in chosen if key[0] in COMMON_DTYPES]
        if common:
            chosen += common * max(1, 2 * len(chosen) // len(common))

        @st.composite
        def draw(draw_from):
            return draw_from(branches[draw_from(st.sampled_from(chosen))])

        return draw()

    if op == "fake_quantize":
        branches = {(dtype, granularity): rst.quantize_problems(dtypes=(dtype,), granularities=(granularity,))
                    for dtype, granularity in configurations}
        return weighted(branches).map(lambda p: ({"x": p.x, "scale": p.scale, "zero_point": p.zero_point},
                                                 {"axis": p.attributes["axis"], "dtype": p.attributes["dtype"]}))
    if op == "quantize_linear":
        branches = {(dtype, granularity): rst.quantize_problems(dtypes=(dtype,), granularities=(granularity,))
                    for dtype, granularity in configurations}
        return weighted(branches).map(lambda p: ({"x": p.x, "scale": p.scale, "zero_point": p.zero_point},
                                                  p.attributes))
    if op == "dequantize_linear":
        branches = {(dtype, granularity): rst.dequantize_problems(dtypes=(dtype,), granularities=(granularity,))
                    for dtype, granularity in configurations}
        return weighted(branches).map(lambda p: ({"q": p.q, "scale": p.scale, "zero_point": p.zero_point},
                                                  p.attributes))

    @st.composite
    def cast_problem(draw):
        to, saturate = draw(st.sampled_from(configurations))
        shape = draw(rst.shapes(min_dims=0, max_dims=2, max_side=6))
        values = [draw(_cast_values(to)) for _ in range(int(np.prod(shape)))]
        return {"x": np.array(values, np.float32).reshape(shape)}, {"to": to, "saturate": saturate}

    if op == "cast":
        return cast_problem()

    @st.composite
    def float_quantize_problem(draw):
        """AFF-6.2: per tensor, a power-of-two scale (the quotient is the drawn value: every tie and
        boundary of the format reaches the cast) or any positive finite float32 scale."""
        to, saturate = draw(st.sampled_from(configurations))
        shape = draw(rst.shapes(min_dims=0, max_dims=2, max_side=6))
        scale = np.float32(draw(st.one_of(st.sampled_from([2.0 ** k for k in (-20, -3, 0, 1, 7, 30)]),
                                          st.floats(2.0 ** -100, 2.0 ** 100, width=32))))
        values = [draw(_cast_values(to)) for _ in range(int(np.prod(shape)))]
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            x = (np.array(values, np.float32) * scale).astype(np.float32).reshape(shape)
        return {"x": x, "scale": scale, "zero_point": None}, {"to": to, "saturate": saturate}

    @st.composite
    def float_dequantize_problem(draw):
        """AFF-6.4: per tensor, any bit pattern of the format (NaN, infinities and -0 included) times a
        power-of-two scale or any positive finite float32 scale, the products near float32's extremes too."""
        (dtype,) = draw(st.sampled_from(configurations))
        from refq.registry import float_format

        patterns = 1 << float_format(dtype).total_bits
        shape = draw(rst.shapes(min_dims=0, max_dims=2, max_side=6))
        scale = np.float32(draw(st.one_of(st.sampled_from([2.0 ** k for k in (-149, -20, 0, 1, 30, 120)]),
                                          st.floats(2.0 ** -126, 2.0 ** 127, width=32))))
        q = np.array([draw(st.integers(0, patterns - 1)) for _ in range(int(np.prod(shape)))], np.uint8)
        return {"q": q.reshape(shape), "scale": scale, "zero_point": None}, {"dtype": dtype}

    if op == "dequantize_linear_float":
        return float_dequantize_problem()
    return float_quantize_problem()


# --- the run ------------------------------------------------------------------------------------------------


def _first_shape(case: Case) -> tuple:
    first = next(iter(case.inputs.values()), None)
    return tuple(np.shape(first))


def _case(op: str, profile: str, inputs: dict, attributes: dict) -> Case:
    """The in-memory conformance case of one drawn call, with refq's answer."""
    from refq.backends import reference

    case = Case(id=f"fuzz/{op}", op=op, profile=profile, clauses=(), description="fuzz counterexample", level=1,
                attributes=attributes, inputs=inputs, outcome="valid")
    try:
        with np.errstate(all="ignore"):
            case.expected, case.unpredictable = reference.run(op, dict(inputs), dict(attributes), profile)
    except RefqError as error:
        case.outcome, case.reason = "error", str(error)
    return case


def fuzz(backend, op: str, *, profile: str | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES, seed: int = 0,
         database: Path | str | None = None, use_database: bool = True, isolate: bool = False,
         save_vector: Path | str | None = None, shrink: bool = True, dtypes=None, granularities=None,
         timeout: float = DEFAULT_TIMEOUT) -> FuzzResult:
    """Fuzz ``op`` of ``backend`` (an adapter object or a ``--backend`` SPEC) against refq under the
    backend's profile (``profile`` overrides it); ``shrink`` False stops at the first disagreement.
    ``dtypes`` and ``granularities`` (for ``cast`` and the float-format operations: target formats) restrict what
    is drawn.
    Returns the minimal counterexample, if any,
    and writes it as a golden-vector case under ``save_vector`` (a vectors root)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import reject as hypothesis_reject
    from hypothesis import seed as hypothesis_seed

    if op not in OPERATIONS:
        raise invalid("--op", "one of " + ", ".join(OPERATIONS), op)
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise invalid("--max-examples", "a positive integer", max_examples)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise invalid("--seed", "a non-negative integer", seed)
    _check_choices(op, dtypes, granularities)
    with load_backend(backend, profile, isolate=isolate, timeout=timeout) as subject:
        if not subject.supports(op):
            raise invalid("--op", f"an operation the backend {subject.name} has", op)
        judged = subject.profile_for(op)
        result = FuzzResult(subject.name, subject.version, op, judged, seed, max_examples)
        configurations = supported_configurations(subject, op)
        if dtypes is not None:
            configurations = [c for c in configurations if c[0] in set(dtypes)]
        if granularities is not None:
            configurations = [c for c in configurations if op in FORMAT_OPERATIONS or c[1] in set(granularities)]
        result.configurations = configurations
        if not result.configurations:
            # Blame what emptied the choice: the filters when given, else the operation itself.
            if dtypes is not None or granularities is not None:
                argument = "--dtypes" if dtypes is not None else "--granularities"
                chosen = dtypes if dtypes is not None else granularities
                raise invalid(argument, f"values {subject.name} supports for {op}", ",".join(chosen))
            raise invalid("--op", f"an operation {subject.name} supports for at least one dtype", op)
        failures: list[tuple[Case, CaseResult]] = []

        def check(call):
            inputs, attributes = call
            case = _case(op, judged, inputs, attributes)
            outcome = subject.call(op, inputs, attributes)
            verdict = judge(case, outcome)
            result.examples += 1
            if verdict.status == "unsupported":
                hypothesis_reject()
            if verdict.status != "pass":
                failures.append((case, verdict))
                if outcome.kind in ("timeout", "crashed"):
                    raise _BackendBroke()
                raise AssertionError(f"{verdict.status}: {verdict.detail}")

        store = None
        if use_database:
            store = ExampleDatabase(Path(database) if database else default_database(), f"{subject.spec}|{op}|{judged}")
            for path, inputs, attributes in store.examples():
                case = _case(op, judged, inputs, attributes)
                verdict = judge(case, subject.call(op, inputs, attributes))
                result.examples += 1
                if verdict.status in ("pass", "unsupported"):
                    path.unlink(missing_ok=True)
                    continue
                result.counterexample, result.verdict, result.replayed = case, verdict, True
                break
        if result.found:
            if save_vector is not None:
                result.saved = save_case(result, Path(save_vector))
            return result
        configured = settings(max_examples=max_examples, database=None, derandomize=False, deadline=None,
                              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                              verbosity=Verbosity.quiet, print_blob=False,
                              phases=(Phase.explicit, Phase.reuse, Phase.generate) + ((Phase.shrink,) if shrink else ()))
        test = hypothesis_seed(seed)(configured(given(problems(op, result.configurations))(check)))
        broke = False
        try:
            test()
        except _BackendBroke:
            broke = True
        except Exception:  # noqa: BLE001 - the minimal failing call was recorded by check()
            if not failures:
                raise
        if failures:
            # Hypothesis replays the shrunk example last.
            result.counterexample, result.verdict = failures[-1]
            if shrink and not broke:
                before = _first_shape(result.counterexample)
                result.counterexample, result.verdict = shrink_shape(subject, op, judged, result.counterexample,
                                                                     result.verdict)
                if _first_shape(result.counterexample) != before:
                    result.shrunk_from = before
            if store is not None:
                store.save(result.counterexample.inputs, result.counterexample.attributes)
            if save_vector is not None:
                result.saved = save_case(result, Path(save_vector))
        return result


# --- shrinking the shape -------------------------------------------------------------------------------------


def element_call(inputs: dict, attributes: dict, index: tuple, *, flat: bool) -> tuple[dict, dict] | None:
    """The call of ``inputs`` cut to the one element ``index`` of the first input, with the scale and
    zero point that apply to it: every dimension of length one (``flat``: a shape of (1,), the axis 0).
    None where the first input has no dimension to cut."""
    names = list(inputs)
    values = inputs[names[0]]
    if not isinstance(values, np.ndarray) or values.ndim == 0 or len(index) != values.ndim:
        return None
    axis, block = attributes.get("axis"), attributes.get("block_size") or 0
    around = tuple(slice(i, i + 1) for i in index)
    cut = {names[0]: values[around]}
    for name in names[1:]:
        parameter = inputs[name]
        if axis is None or not isinstance(parameter, np.ndarray) or parameter.ndim == 0:
            cut[name] = parameter  # per tensor: the same scale and zero point apply
        elif block:  # blocked: parameters shaped like the input, the axis counting blocks
            position = list(around)
            along = axis % values.ndim
            position[along] = slice(index[along] // block, index[along] // block + 1)
            cut[name] = parameter[tuple(position)]
        else:  # per axis: one parameter per index along the axis
            along = index[axis % values.ndim]
            cut[name] = parameter[along:along + 1]
    attributes = dict(attributes)
    if flat:
        cut = {name: value.reshape(1) if isinstance(value, np.ndarray) and (value.ndim > 1 or name == names[0]
                                                                            or axis is not None and block)
               else value for name, value in cut.items()}
        if axis is not None:
            attributes["axis"] = 0
    return cut, attributes


def shrink_shape(subject: Backend, op: str, profile: str, case: Case, verdict: CaseResult) -> tuple[Case, CaseResult]:
    """The counterexample cut to its first mismatching element, where that one element still fails.

    Hypothesis shrinks the values it draws, but an element's values are drawn after the shape, so a
    smaller shape rarely replays the same failure and its minimal example can stay a 3x5x4 array.
    """
    if not verdict.first_mismatches or case.expects_error:
        return case, verdict
    index = tuple(verdict.first_mismatches[0].index)
    for flat in (True, False):
        call = element_call(case.inputs, case.attributes, index, flat=flat)
        if call is None:
            continue
        smaller = _case(op, profile, *call)
        smaller_verdict = judge(smaller, subject.call(op, *call))
        if smaller_verdict.status in ("fail", "error") and not smaller.expects_error:
            return smaller, smaller_verdict
    return case, verdict


# --- reporting and saving -----------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.+-]+", "-", text.lower()).strip("-")[:40] or "backend"


def save_case(result: FuzzResult, root: Path) -> Path:
    """Write the counterexample as a level-1 golden-vector case under ``root`` with the vectors'
    writer; returns the descriptor's path. An identical case already there is kept."""
    from refq.conformance.generate.case_spec import CaseSpec
    from refq.conformance.generate.writer import npy_bytes, write_case

    case = result.counterexample
    inputs = {name: np.asarray(array) for name, array in case.inputs.items() if array is not None}
    digest = hashlib.sha256()
    for name, array in inputs.items():
        digest.update(name.encode() + npy_bytes(array))
    digest.update(repr(sorted(case.attributes.items())).encode())
    name = f"fuzz-{_slug(result.backend)}-{digest.hexdigest()[:12]}"
    spec = CaseSpec(op=case.op, name=name, inputs=inputs, attributes=dict(case.attributes), clauses=(),
                    description=f"refq fuzz counterexample: {result.backend} {result.backend_version} under "
                                f"{result.profile}: {result.verdict.detail}".strip(),
                    generator="refq.fuzz", seed=result.seed, profiles=(result.profile,))
    level_directory = root / "level1"
    target = level_directory / case.op / name
    if not target.exists():
        write_case(spec, 1, level_directory)
    return target / f"{result.profile}.json"


def report(result: FuzzResult) -> str:
    """What ``refq fuzz`` prints."""
    header = (f"fuzz {result.op} of {result.backend} {result.backend_version} under profile {result.profile}: "
              f"{result.examples} calls (max examples {result.max_examples}, seed {result.seed}), "
              f"{len(result.configurations)} configurations")
    if not result.found:
        return header + "\nno disagreement found"
    if result.replayed:
        header += "\n(an earlier run's counterexample, replayed from the example database)"
    case, verdict = result.counterexample, result.verdict
    shrunk = (f" (cut from shape {list(result.shrunk_from)} to the first element that differs)"
              if result.shrunk_from is not None else "")
    lines = [header, f"DISAGREEMENT ({verdict.status}): {verdict.detail}", f"minimal counterexample{shrunk}:"]
    for name, array in case.inputs.items():
        lines.append(f"  {name} = {_show(array)}")
    lines.append(f"  attributes = {case.attributes}")
    if case.expects_error:
        lines.append(f"  refq rejects it: {case.reason}")
    for mismatch in verdict.first_mismatches:
        lines.append(f"  at {list(mismatch.index)}: input {mismatch.input!r}, expected {mismatch.expected!r} "
                     f"({mismatch.expected_bits}), got {mismatch.actual!r} ({mismatch.actual_bits})")
        trace = _trace(case, mismatch.index)
        if trace:
            lines += ["    " + line for line in trace.splitlines()]
        if mismatch.trace:
            lines.append(f"    reproduce: {mismatch.trace}")
    if result.saved is not None:
        lines.append(f"written as a golden-vector case: {result.saved}")
    return "\n".join(lines)


def _show(array) -> str:
    if array is None:
        return "None"
    array = np.asarray(array)
    text = np.array2string(array, separator=", ", max_line_width=100, threshold=50)
    if array.dtype == np.float32:
        bits = np.array2string(array.view(np.uint32), formatter={"int": lambda v: f"0x{v:08x}"}, separator=", ",
                               max_line_width=100, threshold=50)
        text += f"  (bits {bits})"
    return f"{text} {array.dtype}{list(array.shape)}"


def _trace(case: Case, index: tuple) -> str:
    """The step-by-step trace of element ``index`` of a quantize case."""
    if case.op != "quantize_linear":
        return ""
    from refq.affine.trace import trace_quantize
    from refq.strategies import elementwise_parameters

    x, scale, zero_point = case.inputs["x"], case.inputs["scale"], case.inputs.get("zero_point")
    attributes = case.attributes
    scales, zero_points = elementwise_parameters(x.shape, scale, zero_point, attributes.get("axis"),
                                                 attributes.get("block_size"))
    try:
        return trace_quantize(x[index], scales[index], int(zero_points[index]), dtype=attributes.get("dtype", "int8"),
                              profile=case.profile, per_axis=attributes.get("axis") is not None).render()
    except RefqError as error:
        return f"(no trace: {error})"
