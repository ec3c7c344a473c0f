"""The generated Conformance pages: vectors, command line, cross-backend matrix.

What the build generates (help texts, example runs, the schema, descriptors) is checked
through the hook's own functions; what a page records by hand (the matrix from a real
run, excerpts of slow commands) is rerun here and compared.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from refq.cli import COMMANDS
from refq.conformance.case import schema
from refq.conformance.harness import CaseResult
from refq.conformance.report import BackendRun, matrix, matrix_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "conformance"


def _load_hook():
    spec = importlib.util.spec_from_file_location("refq_conformance_pages_hook",
                                                  ROOT / "docs" / "hooks" / "conformance_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _directives(text: str, kind: str, name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^[ \t]*<!--\s*{kind}:{name}\b(.*?)-->", text, re.M)]


# --- cli.md ----------------------------------------------------------------------------------------------


def test_cli_page_documents_every_command():
    assert hook.undocumented_commands(_page("cli.md")) == []


def test_cli_page_sections_in_commands_order():
    text = _page("cli.md")
    positions = [text.find(f"## `refq {name}`") for name in COMMANDS]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_cli_help_directives_render_usage():
    for words in _directives(_page("cli.md"), "cli", "help"):
        text = hook.help_text(shlex.split(words))
        assert text.startswith(f"usage: refq {words}"), words


def test_cli_help_wraps_at_fixed_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    narrow_terminal = hook.help_text(["quantize"])
    monkeypatch.setenv("COLUMNS", "250")
    assert hook.help_text(["quantize"]) == narrow_terminal
    assert max(len(line) for line in narrow_terminal.splitlines()) <= hook.HELP_COLUMNS


def test_cli_run_directives_succeed_and_show_their_command():
    runs = _directives(_page("cli.md"), "cli", "run")
    assert len(runs) >= 5
    for words in runs:
        block = hook.console_block(shlex.split(words))
        lines = block.split("\n")
        assert lines[0] == "```console"
        assert lines[1] == f"$ refq {words}"
        assert len(lines) > 3, words


def test_cli_run_examples_named_in_task_are_real_output():
    status, text = hook.run_cli(["size", "--params", "70e9", "--bits", "4"])
    assert status == 0
    assert "35,000,000,000" in text  # 70e9 parameters x 4 bits = 35 GB
    status, text = hook.run_cli(["explain", "0x00000001"])
    assert status == 0
    assert "2^-149" in text


def test_cli_run_failure_fails_the_build():
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="exited 2"):
        hook.console_block(["explain", "not-a-number"])


# --- vectors.md ------------------------------------------------------------------------------------------


def test_vectors_page_schema_is_the_shipped_file():
    text = hook.expand("<!-- conformance:schema -->", "test")
    shipped = hook.schema_path().read_text(encoding="utf-8")
    assert shipped.rstrip("\n") in text
    assert text.startswith("```json")
    assert hook.schema_path().name == f"case-v{schema()['properties']['schema_version']['const']}.schema.json"


def test_vectors_page_descriptors_are_shipped_files():
    descriptors = _directives(_page("vectors.md"), "conformance", "descriptor")
    assert descriptors
    for relative in descriptors:
        text = hook.expand(f"<!-- conformance:descriptor {relative} -->", "test")
        assert hook._vector_path(relative, "test").read_text(encoding="utf-8").rstrip("\n") in text


def test_vectors_page_case_files_listing():
    text = hook.expand("<!-- conformance:case-files level1/dequantize_linear/every-value-int8 -->", "test")
    assert "    onnx.json" in text and "    q.npy" in text


def test_vectors_page_shows_every_outcome():
    text = _page("vectors.md")
    for outcome in ("valid", "unpredictable", "error"):
        assert f"- **{outcome}**" in text, outcome
    assert "allow_pickle=False" in text


def test_unknown_directive_or_path_fails_the_build():
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="unknown directive"):
        hook.expand("<!-- cli:nonsense -->", "test")
    with pytest.raises(PluginError, match="no shipped vector path"):
        hook.expand("<!-- conformance:descriptor level1/nothing/here.json -->", "test")
    with pytest.raises(PluginError, match="no shipped vector path"):
        hook.expand("<!-- conformance:descriptor ../../pyproject.toml -->", "test")


def test_directives_inside_fenced_code_stay():
    text = "```\n<!-- cli:help size -->\n```"
    assert hook.expand(text, "test") == text


# --- matrix.md and refq conform --markdown ---------------------------------------------------------------


def _runs() -> list[BackendRun]:
    results = [CaseResult("quantize_linear/a/onnx", "quantize_linear", "onnx", "pass"),
               CaseResult("quantize_linear/b/onnx", "quantize_linear", "onnx", "fail", 2, 8, "2 of 8 elements differ"),
               CaseResult("cast/c/onnx", "cast", "onnx", "unsupported")]
    return [BackendRun("mine", "mine", "onnx", "1.0", results, seconds=1.5),
            BackendRun("refq", "refq", "onnx", "0.1.0", [results[0]], seconds=0.25),
            BackendRun("torch", "torch", "", "", [], unavailable="No module named 'torch'")]


def test_matrix_markdown():
    assert matrix_markdown(_runs()) == (
        "| backend | version | profile | verdict | pass | fail | error | unsupported |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| mine | 1.0 | onnx | does not conform | 1 | 1 | 0 | 1 |\n"
        "| refq | 0.1.0 | onnx | conforms | 1 | 0 | 0 | 0 |\n"
        "| torch | | | not available: No module named 'torch' | | | | |\n"
        "\n"
        "| operation | mine | refq | torch |\n"
        "|---|---|---|---|\n"
        "| `cast` | 1 unsupported | – | not available |\n"
        "| `quantize_linear` | 1 pass, **1 fail** | 1 pass | not available |\n"
    )


def test_matrix_markdown_has_no_timings():
    runs = _runs()
    before = matrix_markdown(runs)
    for run in runs:
        run.seconds *= 7
    assert matrix_markdown(runs) == before
    assert "1.5 s" in matrix(_runs())  # the terminal matrix keeps them


def test_conform_markdown_matches_matrix_page(capsys):
    """The page's tables are exactly what `refq conform --markdown` prints now (all built-in
    backends, level 1): a change of code, vectors or backend versions shows up here."""
    from refq.cli import main

    match = re.search(r"<!-- conform-matrix:start -->\n(.*?)<!-- conform-matrix:end -->", _page("matrix.md"), re.S)
    assert match, "matrix markers missing"
    status = main(["conform", "--markdown", "--no-progress"])
    fresh = capsys.readouterr().out
    assert status == 0, fresh
    assert match.group(1) == fresh, (
        "docs/conformance/matrix.md is stale: paste the output of `refq conform --markdown` between its markers "
        "(and update the date above them):\n" + fresh)


def test_conform_markdown_usage_error_unchanged(capsys):
    from refq.cli import main

    assert main(["conform", "--markdown", "--level", "3"]) == 2
    assert "--level" in capsys.readouterr().err


# --- recorded excerpts of slow commands ------------------------------------------------------------------

RECORDED = re.compile(r'^```console title="recorded output, not regenerated by the build"\n(.*?)^```', re.S | re.M)
TIMING = re.compile(r"\d+(\.\d+)? s\b")


def _recorded_examples() -> list[tuple[str, list[str]]]:
    examples = []
    for body in RECORDED.findall(_page("cli.md")):
        command, *shown = body.rstrip("\n").split("\n")
        assert command.startswith("$ refq "), command
        examples.append((command[len("$ refq "):], shown))
    return examples


def test_recorded_examples_are_marked():
    examples = _recorded_examples()
    assert {words.split()[0] for words, _ in examples} >= {"conform", "fingerprint", "mutation-score", "fuzz",
                                                          "sweep"}


def _in_order(shown: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is the shown lines, timings aside, where a ``...`` line stands for
    any number of lines (so an excerpt without a leading or trailing ``...`` starts or ends
    the output)."""
    def normal(line: str) -> str:
        return TIMING.sub("N s", line.rstrip())

    pattern = "".join(r"(?:[^\n]*\n)*?" if line == "..." else re.escape(normal(line)) + r"\n" for line in shown)
    return re.fullmatch(pattern, "".join(normal(line) + "\n" for line in actual)) is not None


def test_in_order_matching():
    actual = ["a", "b 1.2 s", "c", "d"]
    assert _in_order(["a", "b 9.9 s", "...", "d"], actual)
    assert _in_order(["a", "..."], actual)
    assert _in_order(["...", "c", "d"], actual)
    assert not _in_order(["a", "c"], actual)
    assert not _in_order(["...", "c"], actual)


@pytest.mark.slow
@pytest.mark.parametrize("words,shown", _recorded_examples(), ids=[w for w, _ in _recorded_examples()])
def test_recorded_example_matches_fresh_run(words, shown):
    completed = subprocess.run([sys.executable, "-m", "refq", *shlex.split(words)], cwd=ROOT,
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    actual = completed.stdout.rstrip("\n").split("\n")
    assert _in_order(shown, actual), "\n".join(actual)


# --- the built site --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site test_docs.py builds (one build per test run, shared through its lock)."""
    import os

    spec = importlib.util.spec_from_file_location("refq_test_docs_build", ROOT / "tests" / "test_docs.py")
    test_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_docs)
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "refq-docs"
    shared.mkdir(exist_ok=True)
    result = test_docs._locked_build(shared)
    assert result["returncode"] == 0, result["output"]
    return shared / "site"


def test_built_pages_in_conformance_nav(site):
    index = (site / "conformance" / "index.html").read_text(encoding="utf-8")
    for page in ("vectors", "cli", "matrix"):
        assert (site / "conformance" / page / "index.html").is_file()
        assert f'href="{page}/"' in index, page


def test_built_pages_have_no_directives_left(site):
    for page in ("vectors", "cli", "matrix"):
        html = (site / "conformance" / page / "index.html").read_text(encoding="utf-8")
        assert "<!-- cli:" not in html and "<!-- conformance:" not in html, page


def test_built_cli_page_has_every_help(site):
    html = (site / "conformance" / "cli" / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    for name in COMMANDS:
        assert f"usage: refq {name}" in text, name
