"""The harness: run a backend against conformance cases and judge every element.

Comparison is exact: integer outputs by value, float outputs by bit pattern; elements
the case marks *unpredictable* are skipped; the dtype and the shape must be the
expected ones. An *error* case passes when the backend rejects it (raises, or a
``cmd:`` program exits non-zero) and fails when it returns a value. A missing method,
``NotImplementedError`` or exit status 3 make a case *unsupported*. A backend that
crashes, hangs or returns something that is not an array of the right dtype and shape
gives *error* for that case, and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refq.backends import records
from refq.conformance.case import Case, iter_case_paths, load_case
from refq.conformance.loading import BackendUnavailable
from refq.conformance.outcome import Outcome
from refq.conformance.runner import Backend, load_backend
from refq.conformance.suspect import QuantizedElement
from refq.errors import invalid

STATUSES = ("pass", "fail", "error", "unsupported")
#: Mismatching elements kept per failing case.
FIRST_MISMATCHES = 5


@dataclass
class Mismatch:
    """One element where the backend's output differs from the expected one."""

    index: tuple
    input: object
    expected: object
    actual: object
    expected_bits: str
    actual_bits: str
    #: The command line that explains the expected value step by step ("" where there is none).
    trace: str = ""


@dataclass
class CaseResult:
    id: str
    op: str
    profile: str
    status: str
    #: Elements that differ, out of ``total`` elements compared (unpredictable ones excluded).
    mismatches: int = 0
    total: int = 0
    detail: str = ""
    first_mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0
    #: A failing quantize case's first mismatching elements with their parameters: what
    #: :func:`refq.conformance.suspect.suspected_variants` names suspects from, when a report shows the case
    #: (not here: mutation-score judges thousands of failing cases and shows none).
    quantized: list[QuantizedElement] = field(default_factory=list, repr=False)


# --- choosing the cases -------------------------------------------------------------------------------------


def _identity(item: Case | Path) -> tuple[str, str]:
    """(op, profile) without loading a descriptor that is still on disk."""
    if isinstance(item, Case):
        return item.op, item.profile
    path = Path(item)
    return path.parents[1].name, path.stem


def select_cases(backend: Backend, items: Iterable[Case | Path], profile: str | None = None) -> list[Case | Path]:
    """The cases ``backend`` is judged on: those of its profile for each operation (``profile`` overrides).

    An operation the backend lacks is judged on the same cases (each one unsupported), so the
    denominator is the same whether the backend says so by lacking a method (a Python adapter)
    or by exit status 3 (a ``cmd:`` program, which claims every operation).
    """
    chosen: list[Case | Path] = []
    missing: list[Case | Path] = []
    for item in items:
        op, case_profile = _identity(item)
        if case_profile == (profile or backend.profile_for(op)):
            (chosen if backend.supports(op) else missing).append(item)
    return chosen + missing


def case_paths(*, level: int = 1, ops: Iterable[str] | None = None, root: Path | None = None) -> list[Path]:
    """Descriptor paths of the shipped vectors (or those under ``root``) up to ``level``."""
    return list(iter_case_paths(root, level=level, ops=None if ops is None else set(ops)))


def check_declared_profile(backend: Backend) -> None:
    """A profile the backend declares must exist: a typo ("onnxx") would otherwise drop its operations
    from the run without a word."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    declared = backend.profile.values() if isinstance(backend.profile, dict) else [backend.profile]
    for name in declared:
        if name not in EVERY_PROFILE_BY_NAME:
            raise invalid(f"profile declared by {backend.spec}", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), name)


# --- judging one case ---------------------------------------------------------------------------------------


def _bits(value, dtype: np.dtype) -> str:
    """The bit pattern of one element, in hexadecimal (two's complement for signed integers)."""
    width = dtype.itemsize
    unsigned = np.dtype(f"u{width}")
    pattern = int(np.asarray(value, dtype=dtype).reshape(1).view(unsigned)[0])
    return f"0x{pattern:0{2 * width}x}"


def _scalar(value):
    item = value.item() if hasattr(value, "item") else value
    return item


def _element_parameter(array: np.ndarray | None, index: tuple, axis, block_size, default):
    """The scale or zero point that applies to element ``index``."""
    if array is None:
        return default
    if array.ndim == 0 or array.size == 1:
        return array.reshape(-1)[0]
    if block_size:
        axis = axis % len(index)
        position = list(index)
        position[axis] //= block_size
        return array[tuple(position)]
    axis = (axis or 0) % len(index)
    return array.reshape(-1)[index[axis]]


def quantize_element(case: Case, index: tuple, actual: int = 0) -> QuantizedElement:
    """Element ``index`` of a quantize case with the scale and zero point that apply to it."""
    x, scale, zero_point = (list(case.inputs.values()) + [None, None, None])[:3]
    axis, block_size = case.attributes.get("axis"), case.attributes.get("block_size")
    return QuantizedElement(float(x[index]), float(_element_parameter(scale, index, axis, block_size, 1.0)),
                            int(_element_parameter(zero_point, index, axis, block_size, 0)),
                            case.attributes.get("dtype", "int8"), scale is not None and scale.size > 1, int(actual))


def trace_command(case: Case, index: tuple) -> str:
    """The ``refq quantize ... --trace`` line that reproduces element ``index`` of a quantize case."""
    if case.op != "quantize_linear":
        return ""
    element = quantize_element(case, index)
    value, scale_value, zero = element.x, element.scale, element.zero_point
    options = f"--scale {scale_value!r} --zero-point {zero} --dtype {element.dtype} --profile {case.profile}"
    if element.per_axis:
        options += " --per-axis"
    text = repr(value)
    # argparse reads "-1e-05" as an option; "--" ends the options.
    if text.startswith("-"):
        return f"refq quantize {options} --trace -- {text}"
    return f"refq quantize {text} {options} --trace"


def compare(case: Case, output: np.ndarray) -> tuple[int, int, list[Mismatch], str]:
    """(mismatching elements, elements compared, the first mismatches, detail) of ``output`` against ``case``.

    Raises ValueError when the dtype or the shape differ: no element can be compared then.
    """
    expected = case.expected
    if output.dtype != expected.dtype:
        raise ValueError(f"returned dtype {output.dtype}, expected {expected.dtype}")
    if output.shape != expected.shape:
        raise ValueError(f"returned shape {output.shape}, expected {expected.shape}")
    if records.is_record(expected):
        return _compare_record(case, output)
    if expected.dtype.kind in "fc":
        unsigned = np.dtype(f"u{expected.dtype.itemsize}")
        differ = output.view(unsigned) != expected.view(unsigned)
    else:
        differ = output != expected
    differ = np.asarray(differ)
    compared = expected.size
    if case.unpredictable is not None:
        predictable = ~case.unpredictable.astype(bool)
        differ = differ & predictable
        compared = int(predictable.sum())
    count = int(differ.sum())
    first = []
    source = next(iter(case.inputs.values()), None)
    for flat in np.flatnonzero(differ.reshape(-1))[:FIRST_MISMATCHES]:
        index = tuple(int(i) for i in np.unravel_index(flat, expected.shape))
        # The input element at the same index, where the first input is an array (not a sequence) shaped like the output.
        same_shape = isinstance(source, np.ndarray) and source.shape == expected.shape
        given = _scalar(source[index]) if same_shape else None
        first.append(Mismatch(index, given, _scalar(expected[index]), _scalar(output[index]),
                              _bits(expected[index], expected.dtype), _bits(output[index], output.dtype),
                              trace_command(case, index)))
    detail = f"{count} of {compared} elements differ" if count else ""
    return count, compared, first, detail


def _compare_record(case: Case, output: np.ndarray) -> tuple[int, int, list[Mismatch], str]:
    """:func:`compare` for a record output (:mod:`refq.backends.records`): each field is compared
    like a plain output; a mismatch's index starts with the field's name."""
    count = compared = 0
    first: list[Mismatch] = []
    for name, expected_values in records.fields(case.expected):
        actual_values = output[name]
        differ = records.differ(expected_values, actual_values)
        field_compared = expected_values.size
        if case.unpredictable is not None:
            predictable = ~case.unpredictable[name]
            differ = differ & predictable
            field_compared = int(predictable.sum())
        count += int(differ.sum())
        compared += field_compared
        for flat in np.flatnonzero(differ.reshape(-1))[:max(0, FIRST_MISMATCHES - len(first))]:
            index = tuple(int(i) for i in np.unravel_index(flat, expected_values.shape))
            dtype = expected_values.dtype
            first.append(Mismatch((name, *index), None, _scalar(expected_values[index]),
                                  _scalar(actual_values[index]), _bits(expected_values[index], dtype),
                                  _bits(actual_values[index], dtype)))
    detail = f"{count} of {compared} elements differ" if count else ""
    return count, compared, first, detail


def judge(case: Case, outcome: Outcome) -> CaseResult:
    """The verdict on one case, given what the backend did with it."""
    result = CaseResult(case.id, case.op, case.profile, "error")
    if outcome.unsupported:
        result.status, result.detail = "unsupported", outcome.message
    elif outcome.kind in ("crashed", "timeout", "bad_return"):
        result.detail = outcome.message
    elif case.expects_error:
        if outcome.kind == "raised":
            result.status, result.detail = "pass", f"rejected: {outcome.message}"
        else:
            result.status = "fail"
            result.detail = f"accepted invalid arguments ({case.reason})"
    elif outcome.kind == "raised":
        result.detail = f"raised {outcome.message}"
    else:
        try:
            count, total, first, detail = compare(case, outcome.value)
        except ValueError as error:
            result.detail = str(error)
        else:
            result.status = "fail" if count else "pass"
            result.mismatches, result.total, result.first_mismatches, result.detail = count, total, first, detail
            if count and case.op == "quantize_linear" and not records.is_record(case.expected):
                result.quantized = [quantize_element(case, tuple(m.index), m.actual) for m in first]
    return result


def run_case(backend: Backend, case: Case, timeout: float = 60.0) -> CaseResult:
    start = time.perf_counter()
    result = judge(case, backend.run_case(case, timeout))
    result.seconds = time.perf_counter() - start
    return result


def run_cases(backend_spec: str | Backend, cases: Iterable[Case | Path], *, profile: str | None = None,
              timeout: float = 60.0, progress: bool | None = None) -> list[CaseResult]:
    """Run the backend on ``cases`` (loaded :class:`Case` objects, in memory or from disk, or descriptor paths)
    and judge each one; only the cases of the backend's profile are run (``profile`` overrides it).

    ``progress``: True shows a progress bar on stderr, False never, None when stderr is
    a terminal and the run has taken more than 2 s.
    """
    from refq.conformance.report import Progress

    if not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise invalid("timeout", "a positive, finite number of seconds", timeout)
    owned = not isinstance(backend_spec, Backend)
    backend = load_backend(backend_spec, profile) if owned else backend_spec
    try:
        selected = select_cases(backend, cases, profile)
        bar = Progress(len(selected), label=backend.name, enabled=progress)
        results = []
        for item in selected:
            case = item if isinstance(item, Case) else load_case(item)
            results.append(run_case(backend, case, timeout))
            bar.advance()
        bar.finish()
        return results
    finally:
        if owned:
            backend.close()


__all__ = ["Backend", "BackendUnavailable", "CaseResult", "Mismatch", "STATUSES", "case_paths",
           "check_declared_profile", "compare",
           "judge", "load_backend", "run_case", "run_cases", "select_cases", "trace_command"]
