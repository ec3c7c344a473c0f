"""The bad-input campaign (issue 18 item 7): malformed invocations of every command and of the pytest
plugin. Each must exit 2 (1 where a real check failed) with exactly one stderr line, starting
``refq: error:`` and naming what was wrong; no traceback, and no file left behind, half-written or not.

The commands run in this process through :func:`refq.cli.main` (a subprocess each would cost a
second of interpreter start); the plugin's cases run ``pytest`` in subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from refq.cli import main
from refq.conformance.case import vectors_root

#: Adapters the campaign loads: each a real file, each wrong in one way.
ADAPTERS = {
    "typo.py": ("from refq.backends.reference import RefqBackend\n"
                "class Adapter(RefqBackend):\n"
                "    name = 'typo'\n"
                "    profile = 'onnxx'\n"
                "    configurable_profile = False\n"),
    "broken.py": "import numpy as np\n\ndef helper():\n    return 1 / 0\n\nhelper()\n",
    "missing_import.py": "import refq_no_such_kernel_module\nclass A:\n    pass\n",
    "syntax.py": "def quantize_linear(:\n",
    "qdq.py": ("from refq.backends.reference import RefqBackend\n"
               "_refq = RefqBackend()\n"
               "class Adapter:\n"
               "    name = 'qdq'\n"
               "    def quantize_linear(self, *inputs, **attributes):\n"
               "        return _refq.quantize_linear(*inputs, **attributes)\n"),
    "raises_init.py": "class A:\n    def __init__(self):\n        raise ValueError('adapter bug')\n",
    "dict_typo.py": ("from refq.backends.reference import RefqBackend\n"
                     "class Adapter(RefqBackend):\n"
                     "    name = 'dict-typo'\n"
                     "    profile = {'quantize_linear': 'onnx', 'cast': 'tflitee'}\n"
                     "    configurable_profile = False\n"),
}

LEVEL1 = str(vectors_root() / "level1")

# (argv, exit status, a word the error line must contain). {tmp} is the campaign's folder (the working
# directory of every run), {file} a plain file in it, {empty} an empty folder, {NAME} an adapter file.
CONFORM = [
    (["conform", "--level", "3"], 2, "--level"),
    (["conform", "--level", "two"], 2, "--level"),
    (["conform", "--level", "2", "--backend", "refq"], 2, "--level"),
    (["conform", "--level", "0"], 2, "--level"),
    (["conform", "--level", "-1"], 2, "--level"),
    (["conform", "--timeout", "0"], 2, "--timeout"),
    (["conform", "--timeout", "-1"], 2, "--timeout"),
    (["conform", "--timeout", "abc"], 2, "--timeout"),
    (["conform", "--timeout", "nan"], 2, "--timeout"),
    (["conform", "--details", "-3"], 2, "--details"),
    (["conform", "--figure"], 2, "--figure"),
    (["conform", "--details", "x"], 2, "--details"),
    (["conform", "--details", "1.5"], 2, "--details"),
    (["conform", "--profile", "nope"], 2, "--profile"),
    (["conform", "--profile", ""], 2, "--profile"),
    (["conform", "--profile", "ONNX"], 2, "--profile"),
    (["conform", "--ops", ""], 2, "--ops"),
    (["conform", "--ops", ","], 2, "--ops"),
    (["conform", "--ops", " , "], 2, "--ops"),
    (["conform", "--ops", "nope"], 2, "--ops"),
    (["conform", "--ops", "cast,nope"], 2, "--ops"),
    (["conform", "--ops", "Cast"], 2, "--ops"),
    (["conform", "--ops", "quantize-linear"], 2, "--ops"),
    (["conform", "--vectors", "/nonexistent"], 2, "--vectors"),
    (["conform", "--vectors", "{empty}"], 2, "--vectors"),
    (["conform", "--vectors", LEVEL1], 2, "--vectors"),
    (["conform", "--vectors", "{file}"], 2, "--vectors"),
    (["conform", "--jobs", "0"], 2, "--jobs"),
    (["conform", "--jobs", "two"], 2, "--jobs"),
    (["conform", "--json", "/nonexistent/dir/x.json"], 2, "--json"),
    (["conform", "--json", "{tmp}"], 2, "--json"),
    (["conform", "--json", ""], 2, "--json"),
    (["conform", "--json", "{file}/x.json"], 2, "--json"),
    (["conform", "--json", "missing/x.json"], 2, "--json"),
    (["conform", "--junit", "/nonexistent/dir/x.xml"], 2, "--junit"),
    (["conform", "--junit", "{tmp}"], 2, "--junit"),
    (["conform", "--junit", "{file}/x.xml"], 2, "--junit"),
    (["conform", "--json", "same.out", "--junit", "same.out"], 2, "--junit"),
    (["conform", "--json", "ok.json", "--junit", "/nonexistent/x.xml"], 2, "--junit"),
    (["conform", "--backend", "nope"], 2, "--backend"),
    (["conform", "--backend", ""], 2, "--backend"),
    (["conform", "--backend", "cmd:"], 2, "--backend"),
    (["conform", "--backend", "cmd:'unclosed"], 2, "--backend"),
    (["conform", "--backend", "refq_no_such_module:Backend"], 2, "--backend"),
    (["conform", "--backend", "refq.backends:NoSuchAdapter"], 2, "--backend"),
    (["conform", "--backend", "{tmp}/absent.py:A"], 2, "--backend"),
    (["conform", "--backend", "{broken}:A"], 2, "broken.py"),
    (["conform", "--backend", "{missing_import}:A"], 2, "refq_no_such_kernel_module"),
    (["conform", "--backend", "{syntax}:A"], 2, "SyntaxError"),
    (["conform", "--backend", "{qdq}:NoSuchClass"], 2, "--backend"),
    (["conform", "--backend", "{qdq}:"], 2, "--backend"),
    (["conform", "--backend", "refq", "--bogus"], 2, "--bogus"),
    (["conform", "--backend", "refq", "extra"], 2, "extra"),
    (["conform", "--backend", "{typo}:Adapter", "--ops", "cast"], 2, "onnxx"),
    (["conform", "--backend", "{dict_typo}:Adapter", "--ops", "cast"], 2, "tflitee"),
    (["conform", "--backend", "{raises_init}:A", "--ops", "cast"], 2, "adapter bug"),
    (["conform", "--backend", "refq", "--profile", "tosa", "--ops", "cast"], 2, "--profile"),
    (["conform", "--backend", "{qdq}:Adapter", "--ops", "cast", "--no-progress"], 2, "nothing was checked"),
]

FINGERPRINT = [
    (["fingerprint"], 2, "--backend"),
    (["fingerprint", "--backend", "nope"], 2, "--backend"),
    (["fingerprint", "--backend", ""], 2, "--backend"),
    (["fingerprint", "--backend", "cmd:"], 2, "--backend"),
    (["fingerprint", "--backend", "refq_no_such_module:Backend"], 2, "--backend"),
    (["fingerprint", "--backend", "{tmp}/absent.py:A"], 2, "--backend"),
    (["fingerprint", "--backend", "{broken}:A"], 2, "ZeroDivisionError"),
    (["fingerprint", "--backend", "{missing_import}:A"], 2, "refq_no_such_kernel_module"),
    (["fingerprint", "--backend", "{syntax}:A"], 2, "SyntaxError"),
    (["fingerprint", "--backend", "{qdq}:Nope"], 2, "--backend"),
    (["fingerprint", "--backend", "refq", "--json", "/nonexistent/x.json"], 2, "--json"),
    (["fingerprint", "--backend", "refq", "--json", "{tmp}"], 2, "--json"),
    (["fingerprint", "--backend", "refq", "--json", "{file}/x.json"], 2, "--json"),
    (["fingerprint", "--backend", "refq", "--timeout", "0"], 2, "--timeout"),
    (["fingerprint", "--backend", "refq", "--timeout", "-5"], 2, "--timeout"),
    (["fingerprint", "--backend", "refq", "--timeout", "inf"], 2, "--timeout"),
    (["fingerprint", "--backend", "refq", "--timeout", "x"], 2, "--timeout"),
    (["fingerprint", "--backend", "refq", "--bogus"], 2, "--bogus"),
    (["fingerprint", "--backend", "{typo}:Adapter"], 2, "onnxx"),
]

FUZZ = [
    (["fuzz"], 2, "required"),
    (["fuzz", "--op", "cast"], 2, "--backend"),
    (["fuzz", "--backend", "refq"], 2, "--op"),
    (["fuzz", "--backend", "refq", "--op", "nope"], 2, "--op"),
    (["fuzz", "--backend", "refq", "--op", "qlinear_matmul"], 2, "--op"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--max-examples", "0"], 2, "--max-examples"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--max-examples", "-1"], 2, "--max-examples"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--max-examples", "x"], 2, "--max-examples"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--seed", "-1"], 2, "--seed"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--seed", "x"], 2, "--seed"),
    (["fuzz", "--backend", "refq", "--op", "quantize_linear", "--dtypes", "int99"], 2, "--dtypes"),
    (["fuzz", "--backend", "refq", "--op", "quantize_linear", "--dtypes", ""], 2, "--dtypes"),
    (["fuzz", "--backend", "refq", "--op", "quantize_linear", "--dtypes", ","], 2, "--dtypes"),
    (["fuzz", "--backend", "refq", "--op", "quantize_linear", "--dtypes", "int8,float32"], 2, "--dtypes"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--dtypes", "int8"], 2, "--dtypes"),
    (["fuzz", "--backend", "refq", "--op", "quantize_linear", "--granularities", "nope"], 2, "--granularities"),
    (["fuzz", "--backend", "refq", "--op", "quantize_linear", "--granularities", ""], 2, "--granularities"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--save-vector", "{file}"], 2, "--save-vector"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--save-vector", "{file}/sub"], 2, "--save-vector"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--save-vector", ""], 2, "--save-vector"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--database", "{file}"], 2, "--database"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--profile", "nope"], 2, "--profile"),
    (["fuzz", "--backend", "nope", "--op", "cast"], 2, "--backend"),
    (["fuzz", "--backend", "cmd:", "--op", "cast"], 2, "--backend"),
    (["fuzz", "--backend", "{broken}:A", "--op", "cast"], 2, "ZeroDivisionError"),
    (["fuzz", "--backend", "{missing_import}:A", "--op", "cast"], 2, "refq_no_such_kernel_module"),
    (["fuzz", "--backend", "{tmp}/absent.py:A", "--op", "cast"], 2, "--backend"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--bogus"], 2, "--bogus"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--timeout", "0"], 2, "--timeout"),
    (["fuzz", "--backend", "refq", "--op", "cast", "--timeout", "inf"], 2, "--timeout"),
]

SWEEP = [
    (["sweep"], 2, "--backend"),
    (["sweep", "--backend", "refq"], 2, "--scale"),
    (["sweep", "--backend", "refq", "--scale", "x"], 2, "--scale"),
    (["sweep", "--backend", "refq", "--scale", "0"], 2, "scale"),
    (["sweep", "--backend", "refq", "--scale", "-1"], 2, "scale"),
    (["sweep", "--backend", "refq", "--scale", "nan"], 2, "scale"),
    (["sweep", "--backend", "refq", "--scale", "inf"], 2, "scale"),
    (["sweep", "--backend", "refq", "--scale", "1", "--zero-point", "999"], 2, "zero"),
    (["sweep", "--backend", "refq", "--scale", "1", "--zero-point", "x"], 2, "--zero-point"),
    (["sweep", "--backend", "refq", "--scale", "1", "--dtype", "int99"], 2, "int99"),
    (["sweep", "--backend", "refq", "--scale", "1", "--op", "nope"], 2, "--op"),
    (["sweep", "--backend", "refq", "--op", "cast"], 2, "--to"),
    (["sweep", "--backend", "refq", "--op", "cast", "--to", "nope"], 2, "--to"),
    (["sweep", "--backend", "refq", "--op", "cast", "--to", "float8_e4m3fn", "--source", "nope"], 2, "--source"),
    (["sweep", "--backend", "refq", "--scale", "1", "--source", "binary16"], 2, "--source"),
    (["sweep", "--backend", "refq", "--scale", "1", "--range", "5:1"], 2, "--range"),
    (["sweep", "--backend", "refq", "--scale", "1", "--range", "x"], 2, "--range"),
    (["sweep", "--backend", "refq", "--scale", "1", "--range", "0:0x1000000000"], 2, "--range"),
    (["sweep", "--backend", "refq", "--scale", "1", "--range", "a:b"], 2, "--range"),
    (["sweep", "--backend", "refq", "--scale", "1", "--shard", "0/1"], 2, "--shard"),
    (["sweep", "--backend", "refq", "--scale", "1", "--shard", "2/1"], 2, "--shard"),
    (["sweep", "--backend", "refq", "--scale", "1", "--shard", "x"], 2, "--shard"),
    (["sweep", "--backend", "refq", "--scale", "1", "--shard", "1/0"], 2, "--shard"),
    (["sweep", "--backend", "refq", "--scale", "1", "--jobs", "0"], 2, "--jobs"),
    (["sweep", "--backend", "refq", "--scale", "1", "--jobs", "-2"], 2, "--jobs"),
    (["sweep", "--backend", "refq", "--scale", "1", "--jobs", "x"], 2, "--jobs"),
    (["sweep", "--backend", "refq", "--scale", "1", "--timeout", "0"], 2, "--timeout"),
    (["sweep", "--backend", "refq", "--scale", "1", "--timeout", "nan"], 2, "--timeout"),
    (["sweep", "--backend", "refq", "--scale", "1", "--json", "/nonexistent/x.json"], 2, "--json"),
    (["sweep", "--backend", "refq", "--scale", "1", "--json", "{tmp}"], 2, "--json"),
    (["sweep", "--backend", "refq", "--scale", "1", "--profile", "nope"], 2, "--profile"),
    (["sweep", "--merge", "/nonexistent.json"], 2, "--merge"),
    (["sweep", "--merge", "{file}"], 2, "--merge"),
    (["sweep", "--merge", "{file}", "--json", "{tmp}"], 2, "--json"),
    (["sweep", "--backend", "nope", "--scale", "1"], 2, "--backend"),
    (["sweep", "--backend", "{broken}:A", "--scale", "1"], 2, "ZeroDivisionError"),
    (["sweep", "--backend", "{missing_import}:A", "--scale", "1"], 2, "refq_no_such_kernel_module"),
    (["sweep", "--backend", "{typo}:Adapter", "--scale", "1", "--range", "0:16"], 2, "onnxx"),
    (["sweep", "--backend", "refq", "--scale", "1", "--bogus"], 2, "--bogus"),
]

VECTORS = [
    (["vectors"], 2, "ACTION"),
    (["vectors", "nope"], 2, "nope"),
    (["vectors", "verify", "--root", "/nonexistent"], 2, "--root"),
    (["vectors", "verify", "--root", "{empty}"], 2, "--root"),
    (["vectors", "verify", "--root", LEVEL1], 2, "--root"),
    (["vectors", "verify", "--root", "{file}"], 2, "--root"),
    (["vectors", "verify", "--level", "3"], 2, "--level"),
    (["vectors", "verify", "--level", "x"], 2, "--level"),
    (["vectors", "verify", "--bogus"], 2, "--bogus"),
    (["vectors", "build", "--level", "3", "--out", "built"], 2, "level"),
    (["vectors", "build", "--level", "x"], 2, "--level"),
    (["vectors", "build", "--out", "{file}"], 2, "--out"),
    (["vectors", "build", "--out", "{file}/sub"], 2, "--out"),
    (["vectors", "build", "--ops", "nope", "--out", "built"], 2, "ops"),
]

QUANTIZE = [
    (["quantize"], 2, "required"),
    (["quantize", "1"], 2, "--scale"),
    (["quantize", "abc", "--scale", "1"], 2, "VALUE"),
    (["quantize", "1", "--scale", "x"], 2, "--scale"),
    (["quantize", "1", "--scale", "0"], 2, "scale"),
    (["quantize", "1", "--scale", "-1"], 2, "scale"),
    (["quantize", "1", "--scale", "nan"], 2, "scale"),
    (["quantize", "1", "--scale", "inf"], 2, "scale"),
    (["quantize", "1", "--scale", "0x1p99999"], 2, "--scale"),
    (["quantize", "0x1p99999", "--scale", "1"], 2, "VALUE"),
    (["quantize", "1", "--scale", "1", "--dtype", "int99"], 2, "int99"),
    (["quantize", "1", "--scale", "1", "--dtype", "float8"], 2, "float8"),
    (["quantize", "1", "--scale", "1", "--zero-point", "999"], 2, "zero"),
    (["quantize", "1", "--scale", "1", "--zero-point", "x"], 2, "--zero-point"),
    (["quantize", "1", "--scale", "1", "--profile", "nope"], 2, "nope"),
    (["quantize", "1", "--scale", "1", "--variant", "bad"], 2, "--variant"),
    (["quantize", "1", "--scale", "1", "--variant", "nope=1"], 2, "--variant"),
    (["quantize", "1", "--scale", "1", "--variant", "rounding=nope"], 2, "nope"),
    (["quantize", "1", "--scale", "1", "--bogus"], 2, "--bogus"),
]

EXPLAIN = [
    (["explain"], 2, "required"),
    (["explain", "abc"], 2, "VALUE"),
    (["explain", "1", "--format", "nope"], 2, "nope"),
    (["explain", "1", "--overflow", "nope"], 2, "nope"),
    (["explain", "1e99999999999"], 2, "VALUE"),
    (["explain", "0x1p99999999999"], 2, "VALUE"),
    (["explain", "1" + "0" * 5000], 2, "VALUE"),
    (["explain", "1", "--bogus"], 2, "--bogus"),
]

SIZE = [
    (["size"], 2, "--params"),
    (["size", "--params", "0"], 2, "--params"),
    (["size", "--params", "-1"], 2, "--params"),
    (["size", "--params", "x"], 2, "--params"),
    (["size", "--params", "7.5"], 2, "--params"),
    (["size", "--params", "1e400000000"], 2, "--params"),
    (["size", "--params", "70e9", "--bits", "0"], 2, "bits"),
    (["size", "--params", "70e9", "--bits", "x"], 2, "--bits"),
    (["size", "--params", "70e9", "--block-size", "0"], 2, "block"),
    (["size", "--params", "70e9", "--block-size", "32", "--scale-bits", "12"], 2, "scale_bits"),
    (["size", "--params", "70e9", "--bogus"], 2, "--bogus"),
]

GGUF = [
    (["run"], 2, "required"),
    (["run", "/nonexistent.onnx"], 2, "MODEL.onnx"),
    (["run", "{file}"], 2, "MODEL.onnx"),
    (["gguf"], 2, "required"),
    (["gguf", "verify"], 2, "model"),
    (["gguf", "nope", "x.gguf"], 2, "nope"),
    (["gguf", "verify", "/nonexistent.gguf"], 2, "model"),
    (["gguf", "verify", "{file}"], 2, "model"),
    (["gguf", "verify", "{empty}"], 2, "model"),
    (["gguf", "verify", "{file}", "--json", "/nonexistent/x.json"], 2, "--json"),
    (["gguf", "verify", "{file}", "--json", "{tmp}"], 2, "--json"),
    (["gguf", "verify", "{file}", "--bogus"], 2, "--bogus"),
    (["ggml"], 2, "action"),
    (["ggml", "nope"], 2, "nope"),
    (["ggml", "build", "--builds", "nope"], 2, "--builds"),
    (["ggml", "build", "--builds", ","], 2, "--builds"),
    (["ggml", "build", "--sdist", "/nonexistent.tar.gz"], 2, "--sdist"),
    (["ggml", "build", "--bogus"], 2, "--bogus"),
]

OTHERS = [
    ([], 2, "COMMAND"),
    (["nope"], 2, "nope"),
    (["--bogus"], 2, "COMMAND"),
    (["versions", "--bogus"], 2, "--bogus"),
    (["versions", "extra"], 2, "extra"),
    (["backends"], 2, "action"),
    (["backends", "install"], 2, "name"),
    (["backends", "install", "nope"], 2, "nope"),
    (["backends", "uninstall", "tosa"], 2, "uninstall"),
    (["backends", "install", "tosa", "--bogus"], 2, "--bogus"),
    (["demo", "--model", "nope"], 2, "--model"),
    (["demo", "--bogus"], 2, "--bogus"),
    (["mutation-score", "--level", "3"], 2, "--level"),
    (["mutation-score", "--timeout", "0"], 2, "timeout"),
    (["mutation-score", "--timeout", "nan"], 2, "timeout"),
    (["mutation-score", "--timeout", "1e999"], 2, "timeout"),
    (["mutation-score", "--bogus"], 2, "--bogus"),
]

CAMPAIGN = CONFORM + FINGERPRINT + FUZZ + SWEEP + VECTORS + QUANTIZE + EXPLAIN + SIZE + GGUF + OTHERS

#: The plugin's malformed options: each a pytest usage error (exit 4) with one ``refq: error:`` line.
PLUGIN = [
    (["--refq-ops", "nope"], "--refq-ops"),
    (["--refq-ops", ","], "--refq-ops"),
    (["--refq-vectors", "/nonexistent"], "--refq-vectors"),
    (["--refq-vectors", LEVEL1], "--refq-vectors"),
    (["--refq-profile", "nope"], "--refq-profile"),
    (["--refq-profile", "tosa", "--refq-ops", "cast"], "--refq-profile"),
    (["--refq-level", "2"], "--refq-level"),
    (["--refq-skip", "/nonexistent"], "--refq-skip"),
    (["--refq-timeout", "0"], "--refq-timeout"),
]


@pytest.fixture(scope="module")
def campaign_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("campaign")
    for name, text in ADAPTERS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "plain.txt").write_text("not a folder, not JSON\n", encoding="utf-8")
    (folder / "empty").mkdir()
    return folder


def _filled(words: list[str], folder: Path) -> list[str]:
    names = {Path(name).stem: str(folder / name) for name in ADAPTERS}
    return [word.format(tmp=folder, file=folder / "plain.txt", empty=folder / "empty", **names) for word in words]


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if "__pycache__" not in path.parts}


def test_the_campaign_is_large_enough():
    assert len(CAMPAIGN) + len(PLUGIN) >= 150
    from refq.cli import COMMANDS

    assert {argv[0] for argv, _, _ in CAMPAIGN if argv} >= set(COMMANDS)


@pytest.mark.parametrize("argv, status, named", CAMPAIGN, ids=[" ".join(argv) or "(none)" for argv, _, _ in CAMPAIGN])
def test_malformed_invocation(argv, status, named, campaign_folder, monkeypatch, capsys):
    monkeypatch.chdir(campaign_folder)
    before = _files(campaign_folder)
    words = _filled(argv, campaign_folder)
    try:
        code = main(words)
    except SystemExit as stop:  # only --help may exit; a malformed line must return
        pytest.fail(f"SystemExit({stop.code}) instead of a return")
    out, err = capsys.readouterr()
    assert code == status, (out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refq: error: "), err
    assert _filled([named], campaign_folder)[0] in lines[0], lines[0]
    assert _files(campaign_folder) == before, "a file was left behind"


@pytest.mark.parametrize("options, named", PLUGIN, ids=[" ".join(options) for options, _ in PLUGIN])
def test_malformed_plugin_options(options, named, campaign_folder):
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs",
                                "refq.conformance", "--refq-backend", "refq", *options],
                               cwd=campaign_folder, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "refq: error:" in line]
    assert len(errors) == 1 and named in errors[0], output


@pytest.mark.parametrize("adapter, named", [("typo.py:Adapter", "onnxx"), ("broken.py:A", "ZeroDivisionError"),
                                            ("missing_import.py:A", "refq_no_such_kernel_module")])
def test_malformed_plugin_adapters(adapter, named, campaign_folder):
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs",
                                "refq.conformance", "--refq-backend", str(campaign_folder / adapter)],
                               cwd=campaign_folder, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "refq: error:" in line]
    assert len(errors) == 1 and named in errors[0], output


def test_verbose_shows_the_adapters_traceback(campaign_folder, capsys):
    assert main(["conform", "--backend", f"{campaign_folder / 'broken.py'}:A", "--verbose"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "return 1 / 0" in err
    assert err.splitlines()[-1].startswith("refq: error: ")


def test_verbose_shows_the_traceback_of_an_adapter_failing_in_the_worker(campaign_folder, capsys):
    """An adapter whose constructor raises fails in the worker process; its traceback comes back too."""
    spec = f"{campaign_folder / 'raises_init.py'}:A"
    assert main(["conform", "--backend", spec, "--ops", "cast"]) == 2
    line, = capsys.readouterr().err.splitlines()
    assert line.endswith("ValueError: adapter bug (--verbose shows the traceback)")
    assert main(["conform", "--backend", spec, "--ops", "cast", "--verbose"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "raise ValueError('adapter bug')" in err
