"""MkDocs hook: the Conformance pages' generated parts, computed at build time so they cannot drift.

Directives, each alone on its line outside fenced code (a different prefix from
``refq_spec``'s ``refq:`` directives, which that hook would reject as unknown):

- ``<!-- conformance:schema -->`` — the case JSON Schema, the text of the shipped file
  ``refq/conformance/schema/case-v1.schema.json``;
- ``<!-- conformance:descriptor PATH -->`` — one shipped descriptor, PATH relative to the
  vectors root (``level1/<op>/<case>/<profile>.json``);
- ``<!-- conformance:case-files PATH -->`` — the files of one shipped case directory;
- ``<!-- cli:commands -->`` — the table of subcommands, from ``refq.cli.COMMANDS``;
- ``<!-- cli:help WORDS -->`` — ``refq WORDS --help``, e.g. ``cli:help vectors build``;
- ``<!-- cli:run WORDS -->`` — a ``console`` block: ``$ refq WORDS`` and what it prints.

Commands run in this process (``refq.cli.main`` with stdout captured, the interpreted
path so the build compiles nothing, the repository root as working directory, help
wrapped at a fixed width). A command that fails, an unknown name, or a subcommand of
``refq.cli.COMMANDS`` without a ``cli:help`` directive on ``conformance/cli.md`` fails
the build (a warning, an error under ``--strict``).

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
from importlib import resources
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.conformance_pages")

DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)<!--\s*(?P<kind>conformance|cli):(?P<name>[a-z-]+)(?P<argument>[^>]*?)\s*-->[ \t]*$")
FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
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


def run_cli(words: list[str], root: Path | None = None) -> tuple[int, str]:
    """``refq WORDS`` in this process: (exit status, stdout and stderr as the terminal shows them)."""
    from refq._jit import pure_python
    from refq.cli import main

    output = io.StringIO()
    with contextlib.chdir(root or repo_root()), _help_width(HELP_COLUMNS), pure_python(), \
            contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            status = main(list(words))
        except SystemExit as stop:  # --help exits
            status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return status, output.getvalue()


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


def console_block(words: list[str], root: Path | None = None) -> str:
    status, text = run_cli(words, root)
    if status != 0:
        raise PluginError(f"conformance_pages: `refq {shlex.join(words)}` exited {status}:\n{text}")
    return _block("console", f"$ refq {shlex.join(words)}\n{text}")


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


def commands_table() -> str:
    from refq.cli import COMMANDS

    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| [`refq {name}`](#refq-{name}) | {help_text} |" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(rows)


# --- the markdown ------------------------------------------------------------------------


def _render(kind: str, name: str, argument: str, where: str, root: Path) -> str:
    words = shlex.split(argument)
    if kind == "conformance" and name == "schema" and not words:
        return _block("json", schema_path().read_text(encoding="utf-8"), title=f"schema/{schema_path().name}")
    if kind == "conformance" and name == "descriptor" and len(words) == 1:
        return descriptor_block(words[0], where)
    if kind == "conformance" and name == "case-files" and len(words) == 1:
        return case_files_block(words[0], where)
    if kind == "cli" and name == "commands" and not words:
        return commands_table()
    if kind == "cli" and name == "help":
        return _block("text", help_text(words, root))
    if kind == "cli" and name == "run" and words:
        return console_block(words, root)
    raise PluginError(f"conformance_pages: {where}: unknown directive {kind}:{name} {argument.strip()!r} "
                      "(known: conformance:schema, conformance:descriptor PATH, conformance:case-files PATH, "
                      "cli:commands, cli:help WORDS, cli:run WORDS)")


def expand(markdown: str, where: str, root: Path | None = None) -> str:
    """Replace every directive outside fenced code; ``where`` names the page in errors."""
    root = root or repo_root()
    out: list[str] = []
    fence: str | None = None
    for number, line in enumerate(markdown.split("\n"), start=1):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening["fence"][0] == fence[0] and len(opening["fence"]) >= len(fence):
                fence = None
            out.append(line)
            continue
        if opening:
            fence = opening["fence"]
            out.append(line)
            continue
        directive = DIRECTIVE.match(line)
        if directive:
            text = _render(directive["kind"], directive["name"], directive["argument"], f"{where}:{number}", root)
            indent = directive["indent"]
            out.append("\n".join(indent + part if part else part for part in text.split("\n")))
            continue
        out.append(line)
    return "\n".join(out)


def undocumented_commands(markdown: str) -> list[str]:
    """Subcommands of ``refq.cli.COMMANDS`` with no ``cli:help`` directive in ``markdown``."""
    from refq.cli import COMMANDS

    documented = {m.group(1) for m in re.finditer(r"<!--\s*cli:help\s+([a-z-]+)", markdown)}
    return [name for name in COMMANDS if name not in documented]


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == CLI_PAGE:
        for name in undocumented_commands(markdown):
            log.warning("%s: subcommand `refq %s` has no <!-- cli:help %s --> directive", CLI_PAGE, name, name)
    if "<!-- conformance:" not in markdown and "<!-- cli:" not in markdown:
        return markdown
    return expand(markdown, page.file.src_uri, repo_root(config))
