"""The ``cmd:`` protocol: the C example backend compiled with gcc, and the exit-status rules
(answer, unsupported, rejected, crash, hang, bad output) with small shell and Python programs."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from refq.conformance import reference
from refq.conformance.case import Case, iter_case_paths, load_case
from refq.conformance.command import write_case_directory
from refq.conformance.harness import run_cases
from refq.errors import RefqError

EXAMPLE = Path(__file__).resolve().parents[1] / "conformance" / "examples" / "quantize_backend.c"


def quantize_case(x, scale, zero_point, dtype="int8", *, axis=None, profile="onnx", name="case") -> Case:
    inputs = {"x": np.asarray(x, dtype=np.float32), "scale": np.asarray(scale, dtype=np.float32),
              "zero_point": None if zero_point is None else np.asarray(zero_point, dtype={"int4": "int8"}.get(dtype, dtype))}
    attributes = {"axis": axis, "block_size": None, "dtype": dtype}
    case_id = f"quantize_linear/{name}/{profile}"
    try:
        output, unpredictable = reference.quantize_linear(*inputs.values(), **attributes, profile=profile)
    except RefqError as error:
        return Case(case_id, "quantize_linear", profile, (), "", 1, attributes, inputs, "error", reason=str(error))
    return Case(case_id, "quantize_linear", profile, (), "", 1, attributes, inputs, "valid", output, unpredictable)


@pytest.fixture(scope="module")
def c_backend(tmp_path_factory) -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    binary = tmp_path_factory.mktemp("c") / "quantize_backend"
    subprocess.run([gcc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(EXAMPLE), "-lm"], check=True)
    return f"cmd:{shlex.quote(str(binary))}"


def test_c_example_in_memory_cases(c_backend: str) -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(3000) * 80).astype(np.float32)
    scale = np.float32(0.375)
    x[:12] = np.float32([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, *(scale * np.float32([0.5, 1.5, 2.5, -2.5,
                                                                                                    -0.5]))])
    cases = [quantize_case(x, scale, z, d, name=f"{d}-{z}") for d, z in (("int8", -128), ("int8", 5), ("uint8", 0),
                                                                         ("uint8", 255))]
    cases.append(quantize_case(x, scale, None, "uint8", name="no-zero-point"))
    cases.append(quantize_case(x, np.float32(0.0), 3, "int8", name="zero-scale"))
    cases.append(quantize_case(x, np.float32(np.inf), 3, "uint8", name="infinite-scale"))
    unsupported = [quantize_case(x.reshape(3, 1000), np.full(3, scale), np.zeros(3), "int8", axis=0, name="axis"),
                   quantize_case(x, scale, 7, "int16", name="int16"), quantize_case(x, scale, 7, "int4", name="int4")]
    results = run_cases(c_backend, cases + unsupported)
    assert [r.status for r in results] == ["pass"] * len(cases) + ["unsupported"] * len(unsupported), \
        [(r.id, r.detail) for r in results]
    assert results[0].total == 2999  # NaN is unpredictable under the onnx profile
    assert "scale must be finite and > 0" in results[len(cases) - 1].detail


def test_c_example_level1_vectors(c_backend: str) -> None:
    paths = list(iter_case_paths(level=1, ops={"quantize_linear"}, profile="onnx"))
    if not paths:
        pytest.skip("no level-1 vectors are installed yet")
    results = run_cases(c_backend, paths, profile="onnx")
    by_status: dict[str, list] = {}
    for path, result in zip(paths, results):
        by_status.setdefault(result.status, []).append((path, result))
    assert not by_status.get("fail") and not by_status.get("error"), \
        [(r.id, r.detail) for r in by_status.get("fail", []) + by_status.get("error", [])][:5]
    for path, result in by_status.get("unsupported", []):
        case = load_case(path, check_hash=False)
        dtype, scale = case.attributes.get("dtype", "int8"), case.inputs["scale"]
        zero_point = case.inputs.get("zero_point")
        per_tensor_8_bit = (dtype in ("int8", "uint8") and scale.dtype == np.float32 and scale.size == 1
                            and case.inputs["x"].dtype == np.float32
                            and (zero_point is None or zero_point.dtype == np.dtype(dtype)))
        assert not per_tensor_8_bit, (result.id, result.detail)
    assert by_status.get("pass")


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return f"cmd:{shlex.quote(sys.executable)} {shlex.quote(str(path))}"


def test_command_exit_statuses(tmp_path: Path) -> None:
    good = quantize_case([1.0, 2.5], 0.5, 1, name="good")
    invalid = quantize_case([1.0], -0.5, 1, name="negative-scale")
    assert invalid.expects_error
    assert [r.status for r in run_cases("cmd:sh -c 'exit 3' sh", [good, invalid])] == ["unsupported"] * 2
    rejects = run_cases("cmd:sh -c 'echo no such mode >&2; exit 1' sh", [good, invalid])
    assert [r.status for r in rejects] == ["error", "pass"]
    assert "exit status 1 no such mode" in rejects[0].detail
    silent = run_cases("cmd:true", [good])[0]
    assert silent.status == "error" and "no output.npy" in silent.detail
    crash = run_cases("cmd:sh -c 'kill -SEGV $$' sh", [good])[0]
    assert crash.status == "error" and "SIGSEGV" in crash.detail
    hang = run_cases("cmd:sh -c 'sleep 600' sh", [good], timeout=0.5)[0]
    assert hang.status == "error" and "within 0.5 s" in hang.detail


def test_command_case_directory_and_output_checks(tmp_path: Path) -> None:
    # Echoes the descriptor it was given and answers with int32: the wrong dtype.
    spec = _script(tmp_path, "echo_backend.py", f"""
        import json, shutil, sys
        import numpy as np
        directory = sys.argv[1]
        shutil.copy(directory + "/case.json", {str(tmp_path / 'seen.json')!r})
        x = np.load(directory + "/x.npy", allow_pickle=False)
        np.save(directory + "/output.npy", np.zeros(x.shape, dtype=np.int32))
        """)
    case = quantize_case(np.float32([[1.0, 2.0], [3.0, 4.0]]), 0.5, None, "uint8", name="echo")
    result, = run_cases(spec, [case])
    assert result.status == "error" and result.detail == "returned dtype int32, expected uint8"
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["op"] == "quantize_linear" and seen["id"] == "quantize_linear/echo/onnx"
    assert list(seen) == ["schema_version", "attributes", "op", "id", "profile", "clauses", "description", "inputs",
                          "outcome"]
    assert seen["attributes"] == {"axis": None, "block_size": None, "dtype": "uint8"}
    assert seen["inputs"]["zero_point"] is None
    assert seen["inputs"]["x"] == {"file": "x.npy", "dtype": "float32", "shape": [2, 2]}
    assert "expected" not in seen


def test_write_case_directory_layout(tmp_path: Path) -> None:
    case = quantize_case([0.5], 0.25, 2, name="layout")
    write_case_directory(case, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.json", "scale.npy", "x.npy", "zero_point.npy"]
    text = (tmp_path / "case.json").read_text()
    assert '"op": "quantize_linear"' in text and text.index('"dtype": "int8"') < text.index('"inputs"')
    assert np.load(tmp_path / "zero_point.npy", allow_pickle=False).dtype == np.int8


def test_protocol_page_shows_the_shipped_example() -> None:
    page = (EXAMPLE.parents[2] / "docs" / "conformance" / "protocol.md").read_text(encoding="utf-8")
    listing = page.split("```c\n", 1)[1].split("```", 1)[0]
    assert listing == EXAMPLE.read_text(encoding="utf-8")
