"""The conformance harness: SPEC forms, isolation of faulty backends, comparison, reports, exit
codes, the pytest plugin. Real backends only (refq, onnxruntime, torch, ml_dtypes); the faulty
ones are small adapter files written into a temporary folder."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from refq.cli import main
from refq.conformance import reference
from refq.conformance.case import Case, load_case
from refq.conformance.harness import CaseResult, compare, load_backend, run_cases, trace_command
from refq.conformance.loading import BackendUnavailable
from refq.conformance.report import BackendRun, json_report, junit_xml, matrix
from refq.errors import RefqError, RefqValueError

QUANTIZE_ATTRIBUTES = {"axis": None, "block_size": None, "dtype": "int8"}


def make_case(op: str, inputs: dict, attributes: dict, profile: str = "onnx", name: str = "case") -> Case:
    """A case whose expected output is refq's answer (the harness is under test here, not refq)."""
    case_id = f"{op}/{name}/{profile}"
    try:
        output, unpredictable = reference.run(op, inputs, attributes, profile)
    except RefqError as error:
        return Case(case_id, op, profile, (), "", 1, attributes, inputs, "error", reason=str(error))
    return Case(case_id, op, profile, (), "", 1, attributes, inputs, "valid", output, unpredictable)


def quantize_case(x, scale=0.5, zero_point=3, *, profile="onnx", name="case", dtype="int8") -> Case:
    inputs = {"x": np.asarray(x, dtype=np.float32), "scale": np.array(scale, dtype=np.float32),
              "zero_point": np.array(zero_point, dtype=np.dtype(dtype))}
    return make_case("quantize_linear", inputs, {**QUANTIZE_ATTRIBUTES, "dtype": dtype}, profile, name)


def write_vectors(root: Path, cases: list[Case]) -> Path:
    """Write ``cases`` in the shipped layout: level1/<op>/<name>/<profile>.json beside its .npy files."""
    def array(directory: Path, stem: str, value: np.ndarray) -> dict:
        path = directory / f"{stem}.npy"
        np.save(path, value, allow_pickle=False)
        return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "dtype": str(value.dtype), "shape": list(value.shape)}

    for case in cases:
        op, name, profile = case.id.split("/")
        directory = root / "level1" / op / name
        directory.mkdir(parents=True, exist_ok=True)
        inputs = {key: None if value is None else array(directory, key, value) for key, value in case.inputs.items()}
        if case.expects_error:
            expected = {"outcome": "error", "reason": case.reason}
        else:
            expected = {"outcome": "valid", "output": array(directory, f"expected-{profile}", case.expected),
                        "unpredictable": None if case.unpredictable is None else
                        array(directory, f"unpredictable-{profile}", case.unpredictable)}
        descriptor = {"schema_version": 1, "id": case.id, "op": op, "profile": profile, "clauses": [],
                      "description": "test case", "level": 1, "generator": {"name": "test", "seed": 0},
                      "attributes": case.attributes, "inputs": inputs, "expected": expected}
        (directory / f"{profile}.json").write_text(json.dumps(descriptor), encoding="utf-8")
    return root


FAULTY = '''
import ctypes, os, time
import numpy as np

TRIGGER = 12345.0  # the input value on which a faulty backend misbehaves


class Faulty:
    """Per-tensor int8/uint8 quantize as the onnx profile says, in numpy (no numba to compile in each worker),
    with a fault on inputs starting with TRIGGER."""

    profile = "onnx"

    def fault(self, y):
        raise NotImplementedError

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        if not (np.isfinite(scale) & (scale > 0)).all():
            raise ValueError("scale: must be finite and > 0")
        info = np.iinfo(dtype)
        rounded = np.rint(x / np.float32(scale)) + np.float32(0 if zero_point is None else zero_point)
        y = np.clip(np.nan_to_num(rounded, nan=0.0), info.min, info.max).astype(dtype)
        return self.fault(y) if x.size and x.reshape(-1)[0] == TRIGGER else y


class Raises(Faulty):
    def fault(self, y):
        raise RuntimeError("boom")


class Aborts(Faulty):
    def fault(self, y):
        os.abort()


class Segfaults(Faulty):
    def fault(self, y):
        ctypes.string_at(0)  # reads address 0: SIGSEGV


class Hangs(Faulty):
    def fault(self, y):
        time.sleep(600)


class WrongShape(Faulty):
    def fault(self, y):
        return y.reshape(-1)[:-1]


class WrongDtype(Faulty):
    def fault(self, y):
        return y.astype(np.int32)


class ReturnsList(Faulty):
    def fault(self, y):
        return y.tolist()


class OffByOne(Faulty):
    def fault(self, y):
        return (y.astype(np.int16) + 1).astype(y.dtype)


class Unimplemented(Faulty):
    def fault(self, y):
        raise NotImplementedError("not this one")


class AcceptsAnything:
    name = "accepts-anything"
    profile = "onnx"

    def quantize_linear(self, x, scale, zero_point=None, **attributes):
        return np.zeros(np.shape(x), dtype=np.int8)


class CastOnly:
    profile = "onnx"

    def cast(self, x, *, to="float8_e4m3fn", saturate=False):
        raise NotImplementedError


class BrokenAtImport:
    def __init__(self):
        import made_up_accelerator_sdk  # noqa: F401
'''


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backends") / "faulty_backends.py"
    path.write_text(textwrap.dedent(FAULTY), encoding="utf-8")
    return path


def three_cases() -> list[Case]:
    """A good case, the case that triggers the fault, and a good case again."""
    return [quantize_case([1.0, 2.5, -3.0], name="before"), quantize_case([12345.0, 1.0, 2.0], name="trigger"),
            quantize_case([0.25, 0.75, 100.0], name="after")]


# --- SPEC forms ----------------------------------------------------------------------------------------------


def test_load_backend_builtin_name() -> None:
    with load_backend("refq") as backend:
        assert (backend.name, backend.profile) == ("refq", "onnx")
        assert {"quantize_linear", "dequantize_linear", "cast"} <= backend.operations


def test_load_backend_module_attribute() -> None:
    with load_backend("refq.backends.ml_dtypes:MlDtypesBackend") as backend:
        assert backend.name == "ml_dtypes" and backend.operations == {"cast"}


def test_load_backend_file_attribute(faulty: Path) -> None:
    with load_backend(f"{faulty}:AcceptsAnything") as backend:
        assert backend.name == "accepts-anything" and backend.operations == {"quantize_linear"}


def test_load_backend_plugin_entry_point(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_accelerator.py").write_text("from refq.backends.reference import RefqBackend as Backend\n")
    dist = tmp_path / "my_accelerator-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-accelerator\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[refq.backends]\nmy-accelerator = my_accelerator:Backend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with load_backend("my-accelerator") as backend:
        assert backend.name == "refq"
        results = run_cases(backend, [quantize_case([0.5, 1.5])])
    assert [r.status for r in results] == ["pass"]


def test_load_backend_command() -> None:
    with load_backend("cmd:sh -c 'exit 3' sh") as backend:
        assert backend.profile == "onnx"
        assert [r.status for r in run_cases(backend, [quantize_case([1.0])])] == ["unsupported"]


@pytest.mark.parametrize("spec", ["", "no-such-backend", "cmd:", "refq.backends:NoSuchAttr", "missing_file.py:X"])
def test_load_backend_rejects_bad_spec(spec: str) -> None:
    with pytest.raises(RefqValueError, match="--backend"):
        load_backend(spec)


def test_load_backend_unavailable(faulty: Path) -> None:
    with pytest.raises(BackendUnavailable, match="made_up_accelerator_sdk"):
        load_backend(f"{faulty}:BrokenAtImport")
    with pytest.raises(RefqValueError, match="--profile"):
        load_backend("refq", profile="no-such-profile")


# --- isolation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("adapter", "detail"), [
    ("Raises", "RuntimeError: boom"),
    ("Aborts", "crashed"),
    ("Segfaults", "SIGSEGV"),
    ("WrongShape", "shape"),
    ("WrongDtype", "dtype int32"),
    ("ReturnsList", "not a numpy array"),
])
def test_run_cases_faulty_backend_errors_and_goes_on(faulty: Path, adapter: str, detail: str) -> None:
    results = run_cases(f"{faulty}:{adapter}", three_cases())
    assert [r.status for r in results] == ["pass", "error", "pass"]
    assert detail in results[1].detail


def _trigger(worker):
    inputs = {"x": np.float32([12345.0, 1.0]), "scale": np.float32(1.0), "zero_point": np.int8(0)}
    return worker.call("quantize_linear", inputs, {"dtype": "int8"}, timeout=60)


def test_reused_worker_loads_the_next_backend_in_its_process(faulty: Path) -> None:
    """Inside reusing_workers a closed worker's process takes the next backend, which answers as itself;
    on leaving, the idle process stops."""
    from refq.conformance.worker import Worker, reusing_workers

    with reusing_workers(limit=1):
        first = Worker(f"{faulty}:Raises")
        process = first._process
        assert _trigger(first).kind == "raised"
        first.close()
        second = Worker(f"{faulty}:OffByOne")
        assert second._process is process
        assert _trigger(second).value.tolist() == [-128, 2]  # OffByOne: 127 + 1 wraps; Raises would raise
        second.close()
        assert process.poll() is None  # idle, kept
    assert process.wait(10) == 0


def test_a_crashed_worker_is_never_reused(faulty: Path) -> None:
    from refq.conformance.worker import Worker, reusing_workers

    with reusing_workers(limit=2):
        crashing = Worker(f"{faulty}:Aborts")
        process = crashing._process
        assert _trigger(crashing).kind == "crashed"
        crashing.close()
        fresh = Worker(f"{faulty}:OffByOne")
        assert fresh._process is not process and process.poll() is not None
        fresh.close()


def test_outside_reusing_workers_close_stops_the_worker(faulty: Path) -> None:
    from refq.conformance.worker import Worker

    worker = Worker(f"{faulty}:OffByOne")
    process = worker._process
    worker.close()
    assert process.poll() is not None


def test_run_cases_hang_is_killed_after_timeout(faulty: Path) -> None:
    results = run_cases(f"{faulty}:Hangs", three_cases(), timeout=1.5)
    assert [r.status for r in results] == ["pass", "error", "pass"]
    assert "within 1.5 s" in results[1].detail


def test_run_cases_unsupported(faulty: Path) -> None:
    results = run_cases(f"{faulty}:Unimplemented", three_cases())
    assert [r.status for r in results] == ["pass", "unsupported", "pass"]
    dequantize = make_case("dequantize_linear", {"q": np.arange(-3, 3, dtype=np.int8), "scale": np.float32(0.5),
                                                 "zero_point": np.int8(1)}, {"dtype": "int8"})
    # CastOnly has no quantize_linear or dequantize_linear; its cast raises NotImplementedError.
    cast = make_case("cast", {"x": np.float32([1.0, 500.0])}, {"to": "float8_e4m3fn", "saturate": True})
    results = run_cases(f"{faulty}:CastOnly", [quantize_case([1.0]), dequantize, cast])
    assert [(r.op, r.status) for r in results] == [("cast", "unsupported"), ("quantize_linear", "unsupported"),
                                                   ("dequantize_linear", "unsupported")]
    assert "no method" in results[1].detail


def test_run_cases_mismatch_details(faulty: Path) -> None:
    results = run_cases(f"{faulty}:OffByOne", three_cases())
    failed = results[1]
    assert [r.status for r in results] == ["pass", "fail", "pass"]
    assert (failed.mismatches, failed.total) == (3, 3)
    first = failed.first_mismatches[0]
    assert first.index == (0,) and first.input == 12345.0
    assert (first.expected, first.actual) == (127, -128)  # 127 + 1 wraps in int8
    assert (first.expected_bits, first.actual_bits) == ("0x7f", "0x80")
    assert first.trace == "refq quantize 12345.0 --scale 0.5 --zero-point 3 --dtype int8 --profile onnx --trace"


def test_run_cases_error_case_verdicts(faulty: Path) -> None:
    invalid = quantize_case([1.0, 2.0], scale=-1.0, name="negative-scale")
    assert invalid.expects_error
    assert [r.status for r in run_cases("refq", [invalid])] == ["pass"]
    result, = run_cases(f"{faulty}:AcceptsAnything", [invalid])
    assert result.status == "fail" and "accepted invalid arguments" in result.detail


def test_run_cases_profile_filter_and_override() -> None:
    x = [np.nan, 1.5, 2.5]
    cases = [quantize_case(x, profile=p, name="nan") for p in ("onnx", "onnxruntime", "pytorch")]
    # refq declares onnx: only the onnx case is run; --profile picks another and refq computes under it.
    assert [r.profile for r in run_cases("refq", cases)] == ["onnx"]
    assert [(r.profile, r.status) for r in run_cases("refq", cases, profile="pytorch")] == [("pytorch", "pass")]


def test_compare_bit_patterns_and_unpredictable() -> None:
    case = make_case("dequantize_linear", {"q": np.int8([0, 1]), "scale": np.float32(0.5), "zero_point": np.int8(0)},
                     {"dtype": "int8"})
    minus_zero = np.float32([-0.0, 0.5])
    count, total, first, _ = compare(case, minus_zero)
    assert (count, total, first[0].expected_bits, first[0].actual_bits) == (1, 2, "0x00000000", "0x80000000")
    nan_case = quantize_case([np.nan, 1.0])
    assert nan_case.unpredictable.tolist() == [True, False]
    anything = nan_case.expected.copy()
    anything[0] = 99
    assert compare(nan_case, anything)[:2] == (0, 1)


def test_trace_command_reproduces_the_expected_value() -> None:
    x = np.float32([-1e-05, 0.1, 7.75]).reshape(3, 1)
    scale, zero_point = np.float32([0.5, 0.25, 1e-06]), np.int8([-3, 0, 1])
    case = make_case("quantize_linear", {"x": x, "scale": scale, "zero_point": zero_point},
                     {"axis": 0, "block_size": None, "dtype": "int8"}, "pytorch")
    for row in range(3):
        line = trace_command(case, (row, 0))
        assert "--per-axis" in line and "--profile pytorch" in line
        completed = subprocess.run([sys.executable, "-m", "refq", *line.split()[1:]], capture_output=True,
                                   text=True, check=True)
        assert f"=> q = {case.expected[row, 0]} " in completed.stdout


# --- real backends ---------------------------------------------------------------------------------------------


def test_real_backends_pass_their_own_profile() -> None:
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(2000) * 50).astype(np.float32)
    x[:4] = [np.nan, np.inf, -np.inf, 0.0]
    x[4:10] = np.float32(0.375) * np.float32([0.5, 1.5, 2.5, -0.5, -2.5, 1e6])
    for spec in ("onnxruntime", "onnx-reference", "torch", "refq"):
        with load_backend(spec) as backend:
            profile = backend.profile_for("quantize_linear")
            cases = [quantize_case(x, 0.375, z, profile=profile, name=f"z{z}", dtype=d)
                     for d, z in (("int8", -3), ("uint8", 128))]
            cases.append(make_case("dequantize_linear", {"q": np.arange(256, dtype=np.uint8), "scale": np.float32(
                0.375), "zero_point": np.uint8(7)}, {"dtype": "uint8"}, backend.profile_for("dequantize_linear")))
            results = run_cases(backend, cases)
        assert [r.status for r in results] == ["pass"] * 3, (spec, [r.detail for r in results])


def test_ml_dtypes_cast_matches_onnx_profile() -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([(rng.standard_normal(4000) * 10.0 ** rng.integers(-3, 6, 4000)).astype(np.float32),
                        np.float32([np.inf, -np.inf, 0.0, -0.0, 3e38, -3e38, 448.0, 464.0, 57344.0, 61440.0])])
    cases = [make_case("cast", {"x": x}, {"to": to, "saturate": saturate}, name=f"{to}-{saturate}")
             for to in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float6_e3m2fn",
                        "float6_e2m3fn", "float4_e2m1fn", "bfloat16")
             for saturate in (False, True)]
    # NUM-3.23: the ONNX text sends NaN to 6 in float4; ml_dtypes gives a zero, so it declines the case.
    cases.append(make_case("cast", {"x": np.float32([np.nan])}, {"to": "float4_e2m1fn", "saturate": False},
                           name="nan-to-fp4"))
    assert not cases[-1].expects_error and cases[-1].expected.tolist() == [0x7]
    results = run_cases("ml_dtypes", cases)
    assert [r.status for r in results] == ["pass"] * (len(cases) - 1) + ["unsupported"], \
        [(r.id, r.detail) for r in results if r.status != "pass"]


# --- reports and the command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vectors")
    x = np.float32([12345.0, 0.25, -1.75, np.nan, 2.5])
    cases = [quantize_case(x, profile=p, name="mixed") for p in ("onnx", "onnxruntime")]
    cases.append(quantize_case([1.0, 2.0], scale=0.0, name="zero-scale"))
    cases.append(make_case("dequantize_linear", {"q": np.int8([-128, 0, 127]), "scale": np.float32(0.1),
                                                 "zero_point": np.int8(-1)}, {"dtype": "int8"}, name="basic"))
    write_vectors(root, cases)
    assert load_case(root / "level1" / "quantize_linear" / "mixed" / "onnx.json").id == "quantize_linear/mixed/onnx"
    return root


def test_conform_passing_backend_json_and_junit(vectors: Path, tmp_path: Path, capsys) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    status = main(["conform", "--backend", "refq", "--vectors", str(vectors), "--json", str(report),
                   "--junit", str(junit)])
    out = capsys.readouterr().out
    assert status == 0
    assert "quantize_linear" in out and "refq 0.1.0: profile onnx: conforms" in out
    data = json.loads(report.read_text())
    backend, = data["backends"]
    assert (backend["backend"], backend["profile"]) == ("refq", "onnx")
    assert backend["summary"] == {"pass": 3, "fail": 0, "error": 0, "unsupported": 0}
    assert {case["id"] for case in backend["cases"]} == {"quantize_linear/mixed/onnx",
                                                         "quantize_linear/zero-scale/onnx",
                                                         "dequantize_linear/basic/onnx"}
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite.get("name") == "refq" and suite.get("tests") == "3" and suite.get("failures") == "0"


def test_conform_failing_backend_exit_1(vectors: Path, tmp_path: Path, faulty: Path, capsys) -> None:
    junit = tmp_path / "junit.xml"
    status = main(["conform", "--backend", f"{faulty}:OffByOne", "--backend", f"{faulty}:Segfaults",
                   "--vectors", str(vectors), "--ops", "quantize_linear", "--junit", str(junit)])
    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL quantize_linear/mixed/onnx [onnx]: 4 of 4 elements differ" in out
    assert "at [0]: input 12345.0, expected 127 (0x7f), got -128 (0x80)" in out
    assert "explain: refq quantize 12345.0 --scale 0.5 --zero-point 3 --dtype int8 --profile onnx --trace" in out
    assert "SIGSEGV" in out
    suites = ElementTree.parse(junit).getroot().findall("testsuite")
    assert [(s.get("failures"), s.get("errors")) for s in suites] == [("1", "0"), ("0", "1")]


def test_conform_usage_errors_exit_2(vectors: Path, capsys) -> None:
    for argv in (["--profile", "nope"], ["--ops", "nope"], ["--level", "3"], ["--backend", "no-such-backend"],
                 ["--timeout", "0"]):
        assert main(["conform", "--vectors", str(vectors), *argv]) == 2
        assert capsys.readouterr().err.startswith("refq")


def test_matrix_counts_per_operation() -> None:
    results = run_cases("refq", three_cases())
    text = matrix([BackendRun("refq", "refq", "onnx", "0.1.0", results)])
    assert text.splitlines()[2].split() == ["quantize_linear", "3", "0", "0", "0"]
    assert json_report([BackendRun("refq", "refq", "onnx", "0.1.0", results)])["backends"][0]["summary"]["pass"] == 3
    ElementTree.fromstring(junit_xml([BackendRun("refq", "refq", "onnx", "0.1.0", results)]))


def test_matrix_fits_the_terminal_and_folds_what_nobody_supports() -> None:
    """Issue 18: ten backends made a matrix 255 columns wide, and a kernel of two operations got a row of
    "unsupported" for each other one. Backends go to blocks that fit; unsupported-everywhere rows fold."""
    results = [CaseResult("q/a/onnx", "quantize_linear", "onnx", "pass"),
               CaseResult("c/a/onnx", "cast", "onnx", "unsupported"),
               CaseResult("m/a/onnx", "qlinear_global_average_pool", "onnx", "unsupported")]
    runs = [BackendRun(f"backend-{i}", f"backend-{i}", "onnx", "1", list(results)) for i in range(10)]
    text = matrix(runs, columns=100)
    assert max(map(len, text.splitlines())) <= 100
    assert text.count("pass fail  err unsup") == 10 and text.count("operation ") == 4  # 3 backends a block
    assert [line.split()[0] for line in text.splitlines() if line.startswith("quantize_linear")] == \
        ["quantize_linear"] * 4
    assert "unsupported by every backend (20 cases; --all shows them): cast," in text
    assert "qlinear_global_average_pool" in text and not any(line.startswith("cast ") for line in text.splitlines())
    every = matrix(runs, every_operation=True, columns=100)
    assert any(line.startswith("qlinear_global_average_pool ") for line in every.splitlines())
    assert "err: crashed, hung" in text  # the legend


# --- the pytest plugin ------------------------------------------------------------------------------------------


def test_pytest_plugin_one_test_per_case(vectors: Path, tmp_path: Path, faulty: Path) -> None:
    (tmp_path / "skip.txt").write_text("# known\ndequantize_linear/* not offered by this build\n")
    (tmp_path / "xfail.txt").write_text("quantize_linear/mixed/* off by one, issue 12\n")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "--pyargs", "refq.conformance",
               "--refq-backend", f"{faulty}:OffByOne", "--refq-vectors", str(vectors)]
    plain = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert plain.returncode == 1, plain.stdout
    assert "1 failed, 1 passed, 1 skipped" in plain.stdout
    assert "expected 127 (0x7f), got -128 (0x80)" in plain.stdout
    listed = subprocess.run(command + ["--refq-skip", "skip.txt", "--refq-xfail", "xfail.txt"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout
    assert "1 passed, 1 skipped, 1 xfailed" in listed.stdout
    assert "not offered by this build" in listed.stdout


def test_progress_bar_only_when_asked_or_on_a_slow_terminal_run() -> None:
    import io

    from refq.conformance.report import Progress

    stream = io.StringIO()
    bar = Progress(4, label="onnxruntime", enabled=True, stream=stream)
    for _ in range(4):
        bar.advance()
    bar.finish()
    assert "[" + "#" * 30 + "] 4/4" in stream.getvalue()
    quiet = io.StringIO()  # not a terminal: nothing drawn
    bar = Progress(4, enabled=None, delay=0.0, stream=quiet)
    bar.advance(4)
    bar.finish()
    assert quiet.getvalue() == ""


# --- a sequence input (qlinear_concat's list of (X, X_scale, X_zero_point) triples) ---------------------------


def concat_cases() -> list[Case]:
    """A valid case with three triples (copy path, table path, negative axis) and an error case."""
    triples = [(np.array([[1, -2, 3], [4, 5, -6]], np.int8), np.float32(0.05), np.int8(-3)),
               (np.array([[7], [-8]], np.int8), np.float32(0.0731), np.int8(10)),
               (np.zeros((2, 0), np.int8), np.float32(0.5), np.int8(0))]
    inputs = {"Y_scale": np.array(np.float32(0.05)), "Y_zero_point": np.array(np.int8(-3)), "inputs": triples}
    wrong_type = {**inputs, "inputs": [triples[0], (triples[1][0].view(np.uint8), np.float32(0.1), np.uint8(0))]}
    return [make_case("qlinear_concat", inputs, {"axis": -1}, "onnxruntime", "three"),
            make_case("qlinear_concat", wrong_type, {"axis": 0}, "onnxruntime", "types-differ")]


SEQUENCE_ADAPTER = '''
from refq.elementwise import qlinear_concat as compute


class Concat:
    """Checks that the sequence input arrives as refq's function takes it: a list of 3-tuples of arrays."""

    profile = "onnxruntime"

    def qlinear_concat(self, Y_scale, Y_zero_point, inputs, *, axis):
        assert isinstance(inputs, list) and all(isinstance(item, tuple) and len(item) == 3 for item in inputs)
        return compute(Y_scale, Y_zero_point, inputs, axis=axis)
'''


def test_python_adapter_receives_a_sequence_input_as_a_list_of_tuples(tmp_path: Path) -> None:
    path = tmp_path / "sequence_adapter.py"
    path.write_text(textwrap.dedent(SEQUENCE_ADAPTER), encoding="utf-8")
    cases = concat_cases()
    assert cases[0].outcome == "valid" and cases[1].outcome == "error"
    results = run_cases(f"{path}:Concat", cases)
    assert [r.status for r in results] == ["pass", "pass"], [r.detail for r in results]
    # Rejected by refq's argument check, not by the adapter's assertion on the sequence's form.
    assert "RefqValueError: inputs[1]: must be a int8 array like Y_zero_point" in results[1].detail


SEQUENCE_COMMAND = '''
import json, sys
from pathlib import Path

import numpy as np
from refq.elementwise import qlinear_concat

directory = Path(sys.argv[1])
case = json.loads((directory / "case.json").read_text())
inputs = case["inputs"]


def load(entry):
    array = np.load(directory / entry["file"], allow_pickle=False)
    assert str(array.dtype) == entry["dtype"] and list(array.shape) == entry["shape"], (entry, array.shape)
    return array


triples = [tuple(None if entry is None else load(entry) for entry in item) for item in inputs["inputs"]]
try:
    output = qlinear_concat(load(inputs["Y_scale"]), load(inputs["Y_zero_point"]), triples,
                            axis=case["attributes"]["axis"])
except ValueError as error:
    sys.exit(f"rejected: {error}")
np.save(directory / "output.npy", output, allow_pickle=False)
'''


def test_command_protocol_round_trips_a_sequence_input(tmp_path: Path) -> None:
    from refq.conformance.command import write_case_directory

    case = concat_cases()[0]
    directory = tmp_path / "case"
    directory.mkdir()
    write_case_directory(case, directory)
    written = json.loads((directory / "case.json").read_text())["inputs"]
    assert written["Y_scale"] == {"file": "Y_scale.npy", "dtype": "float32", "shape": []}
    assert [[entry["file"] for entry in item] for item in written["inputs"]] == [
        [f"inputs-{index}-X.npy", f"inputs-{index}-X_scale.npy", f"inputs-{index}-X_zero_point.npy"]
        for index in range(3)]
    for item, triple in zip(written["inputs"], case.inputs["inputs"]):
        for entry, array in zip(item, triple):
            loaded = np.load(directory / entry["file"], allow_pickle=False)
            assert entry == {"file": entry["file"], "dtype": str(array.dtype), "shape": list(np.shape(array))}
            assert loaded.dtype == array.dtype and loaded.shape == np.shape(array) and np.array_equal(loaded, array)
    script = tmp_path / "concat_command.py"
    script.write_text(textwrap.dedent(SEQUENCE_COMMAND), encoding="utf-8")
    results = run_cases(f"cmd:{sys.executable} {script}", concat_cases(), profile="onnxruntime")
    assert [r.status for r in results] == ["pass", "pass"], [r.detail for r in results]
    assert "rejected: inputs[1]" in results[1].detail


def test_conform_finding_no_case_is_a_usage_error(tmp_path, capsys):
    """Exit status 0 means something was checked: a run that finds no case exits 2, naming the argument."""
    from refq.conformance.case import vectors_root

    assert main(["conform", "--backend", "refq", "--vectors", str(tmp_path / "absent")]) == 2
    assert "--vectors" in capsys.readouterr().err
    assert main(["conform", "--backend", "refq", "--vectors", str(vectors_root() / "level1")]) == 2
    assert str(vectors_root()) in capsys.readouterr().err  # the root it meant
    assert main(["conform", "--backend", "refq", "--ops", ""]) == 2
    assert "--ops" in capsys.readouterr().err


def test_a_failure_names_the_variant_that_explains_it(tmp_path: Path, capsys) -> None:
    """Issue 18: on a failure conform names the suspected variant (each single variant value tried on the
    mismatching elements), and the command that confirms it."""
    adapter = tmp_path / "half_away.py"
    adapter.write_text("from refq.backends.reference import RefqBackend\n"
                       "class Adapter(RefqBackend):\n"
                       "    name = 'half-away'\n"
                       "    configurable_profile = False\n"
                       "    variants = {'rounding': 'half_away_from_zero'}\n")
    report = tmp_path / "report.json"
    assert main(["conform", "--backend", f"{adapter}:Adapter", "--ops", "quantize_linear", "--no-progress",
                 "--details", "50", "--json", str(report)]) == 1
    out = capsys.readouterr().out
    assert "every quantize failure shown is explained by: rounding=half_away_from_zero" in out
    assert f"refq fingerprint --backend {adapter}:Adapter" in out
    failing = [case for case in json.loads(report.read_text())["backends"][0]["cases"] if case["status"] == "fail"]
    assert failing and all("rounding=half_away_from_zero" in case["suspected_variants"] for case in failing)


def test_suspected_variants_of_one_tie() -> None:
    from refq.conformance.suspect import QuantizedElement, suspected_variants

    tie = [QuantizedElement(2.5, 1.0, 0, "int8", False, 3)]
    suspects = suspected_variants("onnx", tie)
    assert "rounding=half_away_from_zero" in suspects and not any(s.startswith("rounding=half_to_even") for s in suspects)
    assert suspected_variants("onnx", [QuantizedElement(2.5, 1.0, 0, "int8", False, 100)]) == []  # no value gives 100
    assert suspected_variants("onnx", []) == []


def test_matrix_figure_colours_each_operation_and_backend() -> None:
    """Issue 18: the docs' matrix is a figure drawn from the runs, a colour per pass / fail / unsupported."""
    from refq.conformance.report import FIGURE_COLOURS, matrix_svg

    def results(*statuses):
        return [CaseResult(f"{op}/{i}", op, "onnx", status) for i, (op, status) in enumerate(statuses)]

    runs = [BackendRun("good", "good", "onnx", "1", results(("cast", "pass"), ("quantize_linear", "pass"))),
            BackendRun("bad", "bad", "onnx", "1", results(("cast", "fail"), ("quantize_linear", "unsupported"))),
            BackendRun("gone", "gone", "", "", [], unavailable="No module named 'gone'")]
    svg = matrix_svg(runs)
    root = ElementTree.fromstring(svg)
    fills = {rect.find("{http://www.w3.org/2000/svg}title").text: rect.get("fill")
             for rect in root.iter("{http://www.w3.org/2000/svg}rect") if rect.find("{http://www.w3.org/2000/svg}title")
             is not None}
    colour = dict((meaning, fill) for fill, meaning in FIGURE_COLOURS)
    assert fills["good, cast: 1 pass"] == colour["every case passes"]
    assert fills["bad, cast: 1 fail"] == colour["a case fails or errors"]
    assert fills["bad, quantize_linear: 1 unsupported"] == colour["unsupported"]
    assert fills["gone: not available"] == colour["backend not available"]
    assert svg == matrix_svg(runs)  # no timing in it


def test_conform_figure_needs_markdown(capsys) -> None:
    assert main(["conform", "--backend", "refq", "--ops", "cast", "--figure"]) == 2
    assert "--figure" in capsys.readouterr().err
    assert main(["conform", "--backend", "refq", "--ops", "cast", "--markdown", "--figure", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('<div class="refq-matrix-figure">\n<svg ') and "| `cast` | 17 pass |" in out
