"""The one backend runner: inputs typed from the operation records, and one adapter giving the same
answers under every command (conform, fingerprint, fuzz, sweep) in this process, in the worker
process and as a ``cmd:`` program."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refq.affine.parameters import target_type
from refq.backends import RefqBackend
from refq.conformance import fingerprint, fingerprint_affine, fingerprint_engine, fuzz, sweep
from refq.conformance.harness import case_paths, run_cases
from refq.conformance.runner import Backend, load_backend, typed_inputs
from refq.errors import RefqValueError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "conformance" / "examples"
F32 = np.float32


# --- typing ---------------------------------------------------------------------------------------------


def test_python_numbers_take_the_declared_type() -> None:
    typed = typed_inputs("quantize_linear", {"x": np.zeros(3, F32), "scale": 0.5, "zero_point": 3},
                         {"dtype": "uint4"})
    assert typed["scale"].dtype == np.float32 and typed["scale"].shape == ()
    assert typed["zero_point"].dtype == np.uint8 and int(typed["zero_point"]) == 3
    a = np.zeros((2, 2), np.uint8)
    typed = typed_inputs("qlinear_matmul", {"a": a, "a_scale": F32(1), "a_zero_point": 7, "b": np.zeros((2, 2), np.int8),
                                            "b_scale": F32(1), "b_zero_point": -1, "y_scale": F32(1),
                                            "y_zero_point": np.int8(0)}, {})
    assert typed["a"] is a
    assert (typed["a_zero_point"].dtype, typed["b_zero_point"].dtype) == (np.uint8, np.int8)
    assert isinstance(typed["a_scale"], np.ndarray) and typed["a_scale"].shape == ()
    assert typed["y_zero_point"].dtype == np.int8 and isinstance(typed["y_zero_point"], np.ndarray)


def test_sequence_elements_are_typed() -> None:
    typed = typed_inputs("qlinear_concat", {"Y_scale": F32(1), "Y_zero_point": np.array(1, np.uint8),
                                            "inputs": [(np.zeros(2, np.uint8), 0.5, 4)]}, {"axis": 0})
    _, scale, zero_point = typed["inputs"][0]
    assert (scale.dtype, zero_point.dtype, int(zero_point)) == (np.float32, np.uint8, 4)


def test_arrays_pass_unchanged_so_error_cases_reach_the_backend() -> None:
    wrong = np.zeros(2, np.int64)
    typed = typed_inputs("quantize_linear", {"x": np.zeros(2, F32), "scale": np.ones(2, F32), "zero_point": wrong},
                         {"axis": 0, "dtype": "int8"})
    assert typed["zero_point"] is wrong


@pytest.mark.parametrize("inputs, name", [
    ({"a": np.zeros((1, 1), np.uint8), "a_scale": F32(1), "a_zero_point": None, "b": np.zeros((1, 1), np.int8),
      "b_scale": F32(1), "b_zero_point": None, "y_scale": F32(1), "y_zero_point": 0}, "y_zero_point"),
    ({"x": np.zeros(1, F32), "scale": F32(1), "zero_point": 300}, "zero_point"),
    ({"x": np.zeros(1, F32), "scale": F32(1), "zero_point": 0.5}, "zero_point"),
])
def test_untypeable_values_are_refused_naming_the_input(inputs: dict, name: str) -> None:
    with pytest.raises(RefqValueError, match=name):
        typed_inputs("qlinear_matmul" if "a" in inputs else "quantize_linear", inputs, {"dtype": "int8"})


# --- one adapter, every command ------------------------------------------------------------------------


class StrictAdapter(RefqBackend):
    """refq itself, refusing (like an adapter that builds an ONNX model from the zero point's numpy
    dtype) any zero point that is not an array of the target's container type."""

    name = "strict"
    configurable_profile = False

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        expected = target_type(dtype).container
        if zero_point is not None and not (isinstance(zero_point, np.ndarray) and zero_point.dtype == expected):
            raise KeyError(getattr(zero_point, "dtype", type(zero_point)))
        return super().quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype)

    def cast(self, x, *, to="float8_e4m3fn", saturate=False):
        return super().cast(x, to=to, saturate=saturate)


def _same_everywhere(backend: Backend) -> dict:
    """What every command says about ``backend``'s quantize_linear."""
    conform = run_cases(backend, case_paths(ops=["quantize_linear"]))
    prints = [fingerprint_engine.fingerprint_operation(backend, fingerprint_affine.CHAPTER, "quantize_linear",
                                                       granularity) for granularity in ("per_tensor", "per_axis")]
    fuzzed = fuzz.fuzz(backend, "quantize_linear", max_examples=10, use_database=False, dtypes=("int8",),
                       granularities=("per_tensor",))
    spec = sweep.make_spec("quantize_linear", sweep.quantize_parameters(0.25, 3, "int8"), "onnx",
                           range_text="0x3f000000:0x3f010000", chunk=1 << 16)
    swept = sweep.sweep(backend, spec, progress=False)
    return {"conform": sorted((r.id, r.status) for r in conform), "fingerprint": [p.consistent for p in prints],
            "statuses": [p.status for p in prints], "fuzz": (fuzzed.found, fuzzed.configurations),
            "sweep": (swept.mismatches, swept.compared, swept.errors)}


def test_one_adapter_same_answers_in_process_and_in_the_worker() -> None:
    with load_backend(StrictAdapter()) as in_process:
        here = _same_everywhere(in_process)
    with load_backend(f"{__name__}:StrictAdapter", isolate=True) as worker:
        there = _same_everywhere(worker)
    assert here == there
    assert {status for _, status in here["conform"]} == {"pass"}
    assert here["statuses"] == ["ok", "ok"] and all(here["fingerprint"])
    assert here["fuzz"][0] is False and here["sweep"] == (0, 1 << 16, [])


def test_the_fingerprint_hands_an_adapter_typed_zero_points() -> None:
    """Per tensor and per axis: the strict adapter is never given a Python int or an int64 array."""
    result = fingerprint.fingerprint(StrictAdapter(), operations=("quantize_linear",), probes=False)
    assert [r.status for r in result.operations] == ["ok", "ok"]


@pytest.fixture(scope="module")
def c_backend(tmp_path_factory) -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    binary = tmp_path_factory.mktemp("c") / "quantize_backend"
    subprocess.run([gcc, "-O2", "-o", str(binary), str(EXAMPLES / "quantize_backend.c"), "-lm"], check=True)
    return f"cmd:{binary}"


def test_a_command_backend_through_every_command(c_backend: str) -> None:
    """The C example (QuantizeLinear per tensor, int8/uint8) as a cmd: backend: the same verdicts as
    refq's own adapter where it answers, unsupported elsewhere, for conform, fingerprint, fuzz and sweep."""
    with load_backend(c_backend) as command:
        answers = _same_everywhere(command)
        loaded = fingerprint.load(c_backend)
        try:
            assert isinstance(loaded, Backend) and loaded.name == c_backend
            per_tensor = fingerprint_engine.fingerprint_operation(loaded, fingerprint_affine.CHAPTER,
                                                                  "quantize_linear", "per_tensor")
        finally:
            loaded.close()
    with load_backend(RefqBackend()) as refq:
        expected = _same_everywhere(refq)
    assert answers["fuzz"] == (False, [("int8", "per_tensor")])
    assert answers["sweep"] == expected["sweep"]
    assert answers["statuses"] == ["ok", "unsupported"]
    assert answers["fingerprint"][0] == expected["fingerprint"][0] == per_tensor.consistent
    passed = {case for case, status in answers["conform"] if status == "pass"}
    assert passed and passed <= {case for case, status in expected["conform"] if status == "pass"}
    assert {status for _, status in answers["conform"]} <= {"pass", "unsupported"}


@pytest.mark.slow
def test_a_command_backend_fingerprinted_on_an_integer_operation() -> None:
    """refq's adapter behind the Python cmd: example: the qlinear_matmul fingerprint (33 probes, each
    a fresh process) equals the in-process one."""
    from refq.conformance import fingerprint_integer

    spec = f"cmd:{sys.executable} {EXAMPLES / 'python_backend.py'} refq"
    here = fingerprint_engine.fingerprint_operation(RefqBackend(), fingerprint_integer.CHAPTER, "qlinear_matmul",
                                                    "per_tensor")
    with load_backend(spec) as command:
        there = fingerprint_engine.fingerprint_operation(command, fingerprint_integer.CHAPTER, "qlinear_matmul",
                                                         "per_tensor")
    assert there.status == here.status == "ok"
    assert there == here
