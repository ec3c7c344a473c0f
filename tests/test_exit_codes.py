"""The exit-code contract (issue 18): 0 means something was checked and all of it passed, 1 that a
case failed or errored, 2 a usage error, "nothing to run" included. Results are never lost: they
are printed before any file is written, and a report that cannot be written at the end is saved
to a temporary file named on one line. sweep and fingerprint survive adapters that crash or hang.

Every adapter here is a real file under tmp_path, run by the real harness.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from refq.cli import main

REFQ_WRAPPER = """
from refq.backends.reference import RefqBackend
_refq = RefqBackend({profile!r})
"""

ADAPTERS = {
    # quantize_linear computed under tflite while claiming onnx: deviates from its declared profile
    "liar.py": REFQ_WRAPPER.format(profile="tflite") + """
class Adapter:
    name = "liar"
    profile = "onnx"
    def quantize_linear(self, *inputs, **attributes):
        return _refq.quantize_linear(*inputs, **attributes)
""",
    # the right values in the wrong dtype
    "wide.py": REFQ_WRAPPER.format(profile="onnx") + """
import numpy as np
class Adapter:
    name = "wide"
    profile = "onnx"
    def quantize_linear(self, *inputs, **attributes):
        return _refq.quantize_linear(*inputs, **attributes).astype(np.int32)
""",
    "crashing.py": REFQ_WRAPPER.format(profile="onnx") + """
import ctypes, os, time
class Segfault:
    name = "segfault"
    def quantize_linear(self, *inputs, **attributes):
        ctypes.string_at(0)
class Exits:
    name = "exits"
    def quantize_linear(self, *inputs, **attributes):
        os._exit(7)
class Hangs:
    name = "hangs"
    def quantize_linear(self, *inputs, **attributes):
        time.sleep(3600)
""",
    # removes the folder the --json report is to be written to, while the run is under way
    "vanishing.py": REFQ_WRAPPER.format(profile="onnx") + """
import os, shutil
class Adapter:
    name = "vanishing"
    def cast(self, *inputs, **attributes):
        shutil.rmtree(os.environ["REFQ_TEST_VANISH"], ignore_errors=True)
        return _refq.cast(*inputs, **attributes)
""",
    # imports a module sitting next to it, as a script would
    "uses_kernel.py": "import my_kernel_binding\n" + REFQ_WRAPPER.format(profile="onnx") + """
class Adapter:
    name = "kernel"
    def cast(self, *inputs, **attributes):
        return my_kernel_binding.cast(*inputs, **attributes)
""",
    "my_kernel_binding.py": REFQ_WRAPPER.format(profile="onnx") + """
def cast(*inputs, **attributes):
    return _refq.cast(*inputs, **attributes)
""",
}


@pytest.fixture(scope="module")
def adapters(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("adapters")
    for name, text in ADAPTERS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(word) for word in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_a_passing_run_says_how_much_it_checked(capsys):
    code, out, _ = _run(capsys, "conform", "--backend", "refq", "--ops", "cast", "--no-progress")
    assert code == 0
    assert re.search(r"refq 0\.1\.0: profile onnx: conforms on (\d+) of \1 cases \(0 unsupported; ", out), out


def test_an_adapter_of_two_operations_conforms_on_its_share(adapters, capsys):
    code, out, _ = _run(capsys, "conform", "--backend", f"{adapters / 'uses_kernel.py'}:Adapter",
                        "--ops", "cast,quantize_linear", "--no-progress")
    passed, total, unsupported = map(int, re.search(r"conforms on (\d+) of (\d+) cases \((\d+) unsupported", out)
                                     .groups())
    assert code == 0 and 0 < passed < total and passed + unsupported == total


def test_an_adapter_next_to_its_module_imports_it(adapters, capsys):
    """The adapter file's folder is on sys.path, as it is for a script."""
    code, out, _ = _run(capsys, "conform", "--backend", f"{adapters / 'uses_kernel.py'}:Adapter", "--ops", "cast",
                        "--no-progress")
    assert code == 0 and "kernel: profile onnx: conforms on " in out


def test_nothing_supported_never_conforms(adapters, capsys):
    code, out, err = _run(capsys, "conform", "--backend", f"{adapters / 'liar.py'}:Adapter", "--ops", "cast",
                          "--no-progress")
    assert code == 2 and "conforms" not in out.replace("nothing checked", "")
    assert "nothing checked: 0 of " in out and err.startswith("refq: error: --ops: nothing was checked")


def test_a_deviating_backend_fails_conform(adapters, capsys):
    code, out, _ = _run(capsys, "conform", "--backend", f"{adapters / 'liar.py'}:Adapter", "--ops", "quantize_linear",
                        "--no-progress", "--details", "0")
    assert code == 1 and "liar: profile onnx: does not conform: " in out


def test_fingerprint_exits_1_on_a_deviation_or_a_wrong_dtype(adapters, capsys):
    """One run, two backends (the prediction tables are built once): a backend that deviates from its
    declared profile, and one whose values are right in the wrong dtype. (A faithful backend's exit 0
    is test_conformance_fingerprint's.)"""
    code, out, _ = _run(capsys, "fingerprint", "--backend", f"{adapters / 'liar.py'}:Adapter",
                        "--backend", f"{adapters / 'wide.py'}:Adapter")
    assert code == 1
    assert "liar: quantize_linear per-tensor: " in out and "deviate from the declared profile" in out
    assert "wide: quantize_linear per-tensor: error (RuntimeError: quantize_linear returned dtype int32, expected int8)" \
        in out


@pytest.mark.parametrize("adapter, words", [("Segfault", "signal SIGSEGV"), ("Exits", "exit status 7"),
                                            ("Hangs", "no answer within 1 s")])
def test_fingerprint_survives_a_crashing_or_hanging_adapter(adapters, capsys, adapter, words):
    code, out, _ = _run(capsys, "fingerprint", "--backend", f"{adapters / 'crashing.py'}:{adapter}", "--timeout", "1")
    assert code == 1
    assert out.startswith(adapter.lower()) and words in out and "deviation(s) from the declared profile" in out


@pytest.mark.parametrize("adapter, words", [("Segfault", "crashed the worker process (signal SIGSEGV)"),
                                            ("Hangs", "no answer within 1 s")])
def test_sweep_survives_a_crashing_or_hanging_adapter(adapters, capsys, adapter, words, tmp_path):
    report = tmp_path / "sweep.json"
    code, out, _ = _run(capsys, "sweep", "--backend", f"{adapters / 'crashing.py'}:{adapter}", "--scale", "0.5",
                        "--range", "0:4096", "--timeout", "1", "--no-progress", "--json", report)
    assert code == 1 and "mismatches: 0" in out and words in out
    assert words in " ".join(json.loads(report.read_text())["errors"])


def test_a_report_that_cannot_be_written_late_is_saved_elsewhere(adapters, capsys, tmp_path, monkeypatch):
    """The folder of --json exists when the run starts and is gone when it ends: the matrix is printed,
    one line says where the report went instead, and the exit status is 2."""
    folder = tmp_path / "reports"
    folder.mkdir()
    monkeypatch.setenv("REFQ_TEST_VANISH", str(folder))
    code, out, err = _run(capsys, "conform", "--backend", f"{adapters / 'vanishing.py'}:Adapter", "--ops", "cast",
                          "--no-progress", "--json", folder / "report.json", "--junit", tmp_path / "junit.xml")
    assert code == 2 and "vanishing: profile onnx: conforms on " in out
    line, = err.splitlines()
    saved = Path(re.fullmatch(r"refq: error: --json: cannot write .*; the report is saved in (\S+)", line)[1])
    try:
        assert json.loads(saved.read_text())["backends"][0]["backend"] == "vanishing"
    finally:
        saved.unlink()
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")  # the other report is still written


def test_reports_are_written_whole_where_asked(capsys, tmp_path):
    report, junit = tmp_path / "r.json", tmp_path / "j.xml"
    code, _, _ = _run(capsys, "conform", "--backend", "refq", "--ops", "cast", "--no-progress", "--json", report,
                      "--junit", junit)
    assert code == 0 and json.loads(report.read_text())["backends"][0]["summary"]["fail"] == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["j.xml", "r.json"]  # no temporary left


def test_fuzz_prints_the_counterexample_before_saving_it(adapters, capsys, tmp_path):
    target = tmp_path / "saved"
    code, out, _ = _run(capsys, "fuzz", "--backend", f"{adapters / 'liar.py'}:Adapter", "--op", "quantize_linear",
                        "--no-database", "--max-examples", "100", "--save-vector", target)
    assert code == 1
    assert out.index("minimal counterexample:") < out.index("written as a golden-vector case: ")
    assert list(target.rglob("*.json"))


def test_vectors_verify_of_a_missing_root_is_a_usage_error(capsys):
    code, out, err = _run(capsys, "vectors", "verify", "--root", "/nonexistent", "--no-rebuild")
    assert (code, out) == (2, "") and err.startswith("refq: error: --root:")


def test_quantize_beyond_float32_prints_no_warning(capsys, recwarn):
    code, out, err = _run(capsys, "quantize", "1e40", "--scale", "1")
    assert (code, out, err) == (0, "127\n", "")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("adapter, words", [("Segfault", "signal SIGSEGV"), ("Hangs", "no answer within 1 s")])
def test_fuzz_stops_at_a_crashing_or_hanging_adapter(adapters, capsys, adapter, words):
    """The first crash or hang is the counterexample: Hypothesis does not shrink it call by call."""
    code, out, _ = _run(capsys, "fuzz", "--backend", f"{adapters / 'crashing.py'}:{adapter}", "--op",
                        "quantize_linear", "--no-database", "--timeout", "1")
    assert code == 1 and "DISAGREEMENT (error)" in out and words in out
    assert int(re.search(r": (\d+) calls", out)[1]) == 1
