"""MkDocs hook: the Conformance pages' generated parts, computed at build time so they cannot drift.

Directives, each alone on its line outside fenced code (a different prefix from
``refq_spec``'s ``refq:`` directives, which that hook would reject as unknown):

- ``<!-- conformance:schema -->`` — the case JSON Schema, the text of the shipped file
  ``refq/conformance/schema/case-v1.schema.json``;
- ``<!-- conformance:descriptor PATH -->`` — one shipped descriptor, PATH relative to the
  vectors root (``level1/<op>/<case>/<profile>.json``);
- ``<!-- conformance:case-files PATH -->`` — the files of one shipped case directory;
- ``<!-- conformance:example NAME -->`` — a shipped example, ``conformance/examples/NAME``, as a
  code block titled with its path;
- ``<!-- conformance:operations -->`` — the operations with level-1 vectors, as ``--ops`` takes them;
- ``<!-- conformance:combinations -->`` — how many variant combinations the affine fingerprint compares;
- ``<!-- conformance:path NAME -->`` — a folder refq's code chooses (``fuzz-database``, ``ggml-cache``, ``backend-environments``);
- ``<!-- cli:commands -->`` — the table of subcommands, from ``refq.cli.COMMANDS``;
- ``<!-- cli:help WORDS -->`` — ``refq WORDS --help``, e.g. ``cli:help vectors build``;
- ``<!-- cli:run WORDS -->`` — a ``console`` block: ``$ refq WORDS`` and what it prints;
  ``<!-- cli:run WORDS | head -n N -->`` or ``| tail -n N`` shows the first or last N lines;
- ``<!-- cli:markdown WORDS -->`` — what ``refq WORDS`` prints on stdout, as Markdown (the
  conformance matrix from ``conform --markdown``, the fingerprint tables from
  ``fingerprint --all --markdown``).

The output of a run is never pasted into a page: these directives run the command when the
site is built, so a page shows what this checkout and the engines installed beside it
compute, versions included. Commands run in this process (``refq.cli.main`` with stdout
captured, the repository root as working directory, help wrapped at a fixed width); each
distinct command runs once per build. Help texts and small examples take the interpreted
path, so they compile nothing; the runs that check backends take the compiled kernels. For
the commands whose exit status 1 is a verdict (a case failed, a mutant survived, a backend
deviates: ``VERDICT_COMMANDS``) the page shows that verdict; whether a backend still computes
what its profile says is the behavioural tests' job, and a new engine release must not break
the site. Any other failure, an unknown name, or a subcommand of ``refq.cli.COMMANDS``
without a ``cli:help`` directive on ``conformance/cli.md`` fails the build (a warning, an
error under ``--strict``).

Runs after ``refq_spec`` (mkdocs.yml lists it later), which has put this checkout on
``sys.path`` and reloaded refq.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shlex
import sys
from importlib import resources
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

# The directive walk both docs hooks share (docs/hooks/markdown_directives.py), loaded by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown_directives import expand_lines  # noqa: E402

log = logging.getLogger("mkdocs.hooks.conformance_pages")

DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)<!--\s*(?P<kind>conformance|cli):(?P<name>[a-z-]+)(?P<argument>[^>]*?)\s*-->[ \t]*$")
#: ``| head -n N`` or ``| tail -n N`` at the end of a ``cli:run`` directive.
EXCERPT = re.compile(r"\s*\|\s*(?P<end>head|tail)\s+-n\s+(?P<count>\d+)\s*$")
#: Subcommands whose exit status 1 reports a verdict (something checked did not pass), not a failure to run.
VERDICT_COMMANDS = frozenset({"conform", "fingerprint", "mutation-score", "fuzz", "sweep"})
#: The page that must document every subcommand.
CLI_PAGE = "conformance/cli.md"
#: Columns argparse wraps help at, whatever terminal the build runs in.
HELP_COLUMNS = 90


def repo_root(config: MkDocsConfig | None = None) -> Path:
    if config is not None:
        return Path(config.config_file_path).resolve().parent
    return Path(__file__).resolve().parents[2]


# --- running the command line in this process --------------------------------------------


@contextlib.contextmanager
def _help_width(columns: int):
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


#: (words, root, separate streams) -> the run's result, for this build.
_RUNS: dict[tuple, tuple] = {}


def _run(words: list[str], root: Path | None, separate: bool) -> tuple:
    from refq._jit import pure_python
    from refq.cli import main

    key = (tuple(words), str(root or repo_root()), separate)
    if key in _RUNS:
        return _RUNS[key]
    output, errors = io.StringIO(), io.StringIO()
    # The runs that check backends call refq's kernels on thousands of inputs: compiled, they take
    # seconds (numba's cache is shared with the tests and the CLI); interpreted, minutes.
    interpreted = pure_python() if not (words and words[0] in VERDICT_COMMANDS) else contextlib.nullcontext()
    with contextlib.chdir(root or repo_root()), _help_width(HELP_COLUMNS), interpreted, \
            contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors if separate else output):
        try:
            status = main(list(words))
        except SystemExit as stop:  # --help exits
            status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    result = (status, output.getvalue(), errors.getvalue()) if separate else (status, output.getvalue())
    _RUNS[key] = result
    return result


def run_cli(words: list[str], root: Path | None = None) -> tuple[int, str]:
    """``refq WORDS`` in this process: (exit status, stdout and stderr as the terminal shows them)."""
    return _run(words, root, separate=False)


def run_cli_stdout(words: list[str], root: Path | None = None) -> tuple[int, str, str]:
    """``refq WORDS`` in this process: (exit status, stdout, stderr) kept apart."""
    return _run(words, root, separate=True)


def _rendered(words: list[str], status: int) -> bool:
    """Whether a run's exit status gives output a page shows: 0, or 1 from a command reporting a verdict."""
    return status == 0 or (status == 1 and bool(words) and words[0] in VERDICT_COMMANDS)


def help_text(words: list[str], root: Path | None = None) -> str:
    status, text = run_cli([*words, "--help"], root)
    if status != 0:
        raise PluginError(f"conformance_pages: `refq {' '.join(words)} --help` exited {status}:\n{text}")
    return text


def _fence_for(text: str) -> str:
    return "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))


def _block(language: str, text: str, title: str | None = None) -> str:
    fence = _fence_for(text)
    header = f'{fence}{language}' + (f' title="{title}"' if title else "")
    return "\n".join([header, text.rstrip("\n"), fence])


def console_block(words: list[str], root: Path | None = None, excerpt: tuple[str, int] | None = None) -> str:
    """``$ refq WORDS`` and its output; ``excerpt`` (``("head", n)`` or ``("tail", n)``) keeps n lines."""
    status, text = run_cli(words, root)
    if not _rendered(words, status):
        raise PluginError(f"conformance_pages: `refq {shlex.join(words)}` exited {status}:\n{text}")
    command = f"$ refq {shlex.join(words)}"
    if excerpt is not None:
        end, count = excerpt
        lines = text.rstrip("\n").split("\n")
        kept = lines[:count] if end == "head" else lines[-count:] if count else []
        command += f" | {end} -n {count}"
        text = "\n".join(kept)
    return _block("console", f"{command}\n{text}")


def markdown_output(words: list[str], root: Path | None = None) -> str:
    """What ``refq WORDS`` prints on stdout, inserted as Markdown."""
    status, out, err = run_cli_stdout(words, root)
    if not _rendered(words, status) or not out.strip():
        raise PluginError(f"conformance_pages: `refq {shlex.join(words)}` exited {status} "
                          f"with {len(out)} characters of Markdown:\n{err}")
    if status:
        log.info("conformance_pages: `refq %s` reports a failure; the page shows it", shlex.join(words))
    return out.rstrip("\n")


# --- the vectors -------------------------------------------------------------------------


def schema_path() -> Path:
    from refq.conformance.case import SCHEMA_VERSION

    return Path(str(resources.files("refq.conformance").joinpath("schema", f"case-v{SCHEMA_VERSION}.schema.json")))


def _vector_path(relative: str, where: str) -> Path:
    from refq.conformance.case import vectors_root

    root = vectors_root().resolve()
    path = (root / relative).resolve()
    if root not in path.parents or not path.exists():
        raise PluginError(f"conformance_pages: {where}: no shipped vector path {relative!r} under {root}")
    return path


def descriptor_block(relative: str, where: str) -> str:
    path = _vector_path(relative, where)
    return _block("json", path.read_text(encoding="utf-8"), title=f"vectors/{relative}")


def case_files_block(relative: str, where: str) -> str:
    path = _vector_path(relative, where)
    if not path.is_dir():
        raise PluginError(f"conformance_pages: {where}: {relative!r} is not a case directory")
    names = sorted(p.name for p in path.iterdir())
    return _block("text", "\n".join([f"vectors/{relative}/", *(f"    {name}" for name in names)]))


def operations_text() -> str:
    """The operations with shipped level-1 vectors, as inline code: the list ``--ops`` takes."""
    from refq.conformance.case import iter_case_paths

    ops = sorted({path.parents[1].name for path in iter_case_paths(level=1)})
    return ", ".join(f"`{op}`" for op in ops) + f" ({len(ops)} operations)"


def combinations_text() -> str:
    """How many variant combinations the affine fingerprint compares, as the fingerprint counts them."""
    from refq.conformance.fingerprint_affine import combinations

    return f"({len(combinations('quantize')):,} for quantize, {len(combinations('dequantize')):,} for dequantize)"


#: The languages of the example files' code blocks, by suffix.
EXAMPLE_LANGUAGES = {".py": "python", ".c": "c"}


def example_block(name: str, where: str) -> str:
    folder = Path(str(resources.files("refq.conformance").joinpath("examples")))
    path = folder / name
    if path.parent != folder or not path.is_file() or path.suffix not in EXAMPLE_LANGUAGES:
        raise PluginError(f"conformance_pages: {where}: no shipped example {name!r} in conformance/examples "
                          f"(a {', '.join(EXAMPLE_LANGUAGES)} file)")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py" and text.startswith('"""'):  # the docstring says what the page around it says
        text = text[text.index('"""', 3) + 3:].lstrip("\n")
    return _block(EXAMPLE_LANGUAGES[path.suffix], text, title=f"conformance/examples/{name}")


def _fuzz_database() -> str:
    from refq.conformance.fuzz import default_database_description

    return default_database_description()


def _ggml_cache() -> str:
    from refq.backends.ggml_build import cache_folder_description

    return cache_folder_description()


def _backend_environments() -> str:
    from refq.backends.interpreters import cache_folder_description

    return cache_folder_description()


#: The folders ``conformance:path`` names, each described by the code that chooses it.
PATHS = {"fuzz-database": _fuzz_database, "ggml-cache": _ggml_cache, "backend-environments": _backend_environments}


def path_sentence(name: str) -> str:
    """``Default folder: `~/.cache/...` (...).``: the words of the code's description, its
    variables and paths as code."""
    words = re.sub(r"([$~][\w./${}-]*\w)", r"`\1`", PATHS[name]())
    return f"Default folder: {words}."


def commands_table() -> str:
    from refq.cli import COMMANDS

    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| [`refq {name}`](#refq-{name}) | {help_text} |" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(rows)


# --- the markdown ------------------------------------------------------------------------


def _render(kind: str, name: str, argument: str, where: str, root: Path) -> str:
    words = shlex.split(argument) if not (kind == "cli" and name == "run") else []
    if kind == "conformance" and name == "schema" and not words:
        return _block("json", schema_path().read_text(encoding="utf-8"), title=f"schema/{schema_path().name}")
    if kind == "conformance" and name == "descriptor" and len(words) == 1:
        return descriptor_block(words[0], where)
    if kind == "conformance" and name == "case-files" and len(words) == 1:
        return case_files_block(words[0], where)
    if kind == "conformance" and name == "operations" and not words:
        return operations_text()
    if kind == "conformance" and name == "combinations" and not words:
        return combinations_text()
    if kind == "conformance" and name == "example" and len(words) == 1:
        return example_block(words[0], where)
    if kind == "conformance" and name == "path" and len(words) == 1 and words[0] in PATHS:
        return path_sentence(words[0])
    if kind == "cli" and name == "commands" and not words:
        return commands_table()
    if kind == "cli" and name == "help":
        return _block("text", help_text(words, root))
    if kind == "cli" and name == "run":
        excerpt = EXCERPT.search(argument)
        words = shlex.split(argument[:excerpt.start()] if excerpt else argument)
        if words:
            return console_block(words, root, (excerpt["end"], int(excerpt["count"])) if excerpt else None)
    if kind == "cli" and name == "markdown" and words:
        return markdown_output(words, root)
    raise PluginError(f"conformance_pages: {where}: unknown directive {kind}:{name} {argument.strip()!r} "
                      "(known: conformance:schema, conformance:descriptor PATH, conformance:case-files PATH, "
                      "conformance:operations, conformance:combinations, conformance:example NAME, "
                      f"conformance:path {'|'.join(PATHS)}, "
                      "cli:commands, cli:help WORDS, cli:run WORDS [| head -n N | tail -n N], cli:markdown WORDS)")


def expand(markdown: str, where: str, root: Path | None = None) -> str:
    """Replace every directive outside fenced code; ``where`` names the page in errors."""
    root = root or repo_root()
    return expand_lines(markdown, where, DIRECTIVE, lambda directive, at: _render(
        directive["kind"], directive["name"], directive["argument"], at, root))


def undocumented_commands(markdown: str) -> list[str]:
    """Subcommands of ``refq.cli.COMMANDS`` with no ``cli:help`` directive in ``markdown``."""
    from refq.cli import COMMANDS

    documented = {m.group(1) for m in re.finditer(r"<!--\s*cli:help\s+([a-z-]+)", markdown)}
    return [name for name in COMMANDS if name not in documented]


def on_pre_build(config: MkDocsConfig) -> None:
    _RUNS.clear()  # `mkdocs serve` rebuilds in one process: run the commands again


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == CLI_PAGE:
        for name in undocumented_commands(markdown):
            log.warning("%s: subcommand `refq %s` has no <!-- cli:help %s --> directive", CLI_PAGE, name, name)
    if "<!-- conformance:" not in markdown and "<!-- cli:" not in markdown:
        return markdown
    return expand(markdown, page.file.src_uri, repo_root(config))
