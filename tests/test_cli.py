"""The command line's error rule: bad input is a refq error, one line on stderr, exit status 2;
anything else is a bug (refq's, or a user's adapter's) and propagates with its traceback."""

from __future__ import annotations

import sys

import pytest

from refq.cli import main


@pytest.mark.parametrize("argv, argument", [
    # Each of these reached a non-refq exception or ran for hours before its input was checked.
    (["explain", "1e99999999999"], "VALUE"),
    (["explain", "0x1p99999999999"], "VALUE"),
    (["explain", "1" + "0" * 5000], "VALUE"),
    (["size", "--params", "1e400000000"], "--params"),
    (["quantize", "1", "--scale", "0x1p99999"], "--scale"),
    (["quantize", "0x1p99999", "--scale", "1"], "VALUE"),
    (["conform", "--backend", "refq", "--ops", "cast", "--timeout", "1e999", "--no-progress"], "timeout"),
    (["conform", "--backend", "refq", "--ops", "cast", "--timeout", "nan", "--no-progress"], "timeout"),
    (["mutation-score", "--timeout", "1e999"], "timeout"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, argument):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and argument in err and "Traceback" not in err


def test_an_adapter_that_fails_to_build_is_named(tmp_path, capsys):
    """The harness reports an adapter's own exception while loading it as a refq error naming --backend."""
    adapter = tmp_path / "broken_adapter.py"
    adapter.write_text("class Broken:\n    def __init__(self):\n        raise ValueError('adapter bug')\n")
    assert main(["conform", "--backend", f"{adapter}:Broken", "--ops", "cast", "--no-progress"]) == 2
    assert "--backend" in capsys.readouterr().err


@pytest.mark.parametrize("error, code", [("RefqValueError('--option: must be 1, got 2')", 2),
                                         ("ValueError('a bug')", None), ("TypeError('a bug')", None)])
def test_only_refq_errors_exit_2(tmp_path, monkeypatch, capsys, error, code):
    """A subcommand (a real module on the refq.cli path) raising a plain ValueError or TypeError
    propagates: main no longer turns internal errors into usage errors."""
    import refq.cli

    (tmp_path / "failing_command.py").write_text(
        "from refq.errors import RefqValueError\n"
        "def configure(parser):\n    pass\n"
        f"def run(args):\n    raise {error}\n")
    monkeypatch.setattr(refq.cli, "__path__", [*refq.cli.__path__, str(tmp_path)])
    monkeypatch.setitem(refq.cli.COMMANDS, "failing", ("failing_command", "raises"))
    monkeypatch.delitem(sys.modules, "refq.cli.failing_command", raising=False)
    if code is None:
        with pytest.raises((ValueError, TypeError), match="a bug"):
            main(["failing"])
    else:
        assert main(["failing"]) == 2
        assert capsys.readouterr().err == "refq: error: --option: must be 1, got 2\n"


def test_conform_backends_in_parallel_give_the_same_report(tmp_path, capsys):
    """--jobs 2 runs two backends at once, each in its own worker: the same cases, statuses and
    messages as one after the other; every summary line and the JSON report give the start-up time."""
    import json
    import re

    reports = {}
    for jobs in ("1", "2"):
        path = tmp_path / f"jobs{jobs}.json"
        code = main(["conform", "--backend", "refq", "--backend", "onnx-reference", "--ops", "quantize_linear",
                     "--jobs", jobs, "--no-progress", "--json", str(path)])
        out = capsys.readouterr().out
        assert code == 0, out
        assert len(re.findall(r"conforms on \d+ of \d+ cases \(\d+ unsupported; [\d.]+ s, of which start-up [\d.]+ s\)",
                              out)) == 2, out
        report = json.loads(path.read_text())
        assert all(backend["startup_seconds"] <= backend["seconds"] for backend in report["backends"])
        reports[jobs] = [(backend["backend"], [(case["id"], case["status"], case["detail"])
                                               for case in backend["cases"]]) for backend in report["backends"]]
    assert reports["1"] == reports["2"]
    assert [name for name, _ in reports["2"]] == ["refq", "onnx-reference"]  # the order asked for
