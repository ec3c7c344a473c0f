"""Which refq objects execute each clause, read from the spec's own directives.

The spec says it once: a clause's paragraph is followed by
``<!-- refq:source module:qualname -->`` for each function the page shows (the docs
build replaces the directive with the function's source) and by
``<!-- refq:implements module:qualname -->`` for code that executes the clause but
is not shown (array drivers, records, the profile tables). A directive belongs to the
clause whose mark ``[[ID]]`` opened the last paragraph before it; a heading ends a
clause. This module only reads text: it imports nothing it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from refq.errors import invalid

#: The directive kinds that name code executing the clause they follow.
CODE_DIRECTIVES = ("source", "implements")

CLAUSE_AT_START = re.compile(r"^[ \t]*(?:>[ \t]*)*(?:(?:[-*+]|\d+\.)[ \t]+)?\[\[(?P<id>[A-Z]+-\d+(?:\.\d+)*)\]\]")
DIRECTIVE = re.compile(r"^[ \t]*<!--\s*refq:(?P<kind>[a-z-]+)\s+(?P<argument>\S+)\s*-->[ \t]*$")
FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
HEADING = re.compile(r"^#{1,6}[ \t]")


def markdown_lines(markdown: str) -> Iterator[tuple[int, str, bool]]:
    """Each line of ``markdown`` with its number and whether it lies in fenced code (a fence's own
    lines count as fenced): directives and clause marks mean something only outside fences. The one
    fence rule of the spec's readers, here and in the docs hooks."""
    fence: str | None = None
    for number, line in enumerate(markdown.split("\n"), start=1):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening["fence"][0] == fence[0] and len(opening["fence"]) >= len(fence):
                fence = None
            yield number, line, True
        elif opening:
            fence = opening["fence"]
            yield number, line, True
        else:
            yield number, line, False


def default_spec_dir() -> Path:
    """``spec/`` of the checkout this refq was imported from."""
    return Path(__file__).resolve().parents[2] / "spec"


def clause_code_in(markdown: str, where: str) -> dict[str, tuple[str, ...]]:
    """Clause ID -> the names its code directives give, in page order, for one page.

    Every clause marked on the page is a key (with ``()`` when no directive follows it).
    A code directive before any clause, or after a heading that no clause followed,
    is an error naming ``where`` and the line: it would execute nothing the spec says.
    """
    code: dict[str, list[str]] = {}
    current: str | None = None
    for number, line, fenced in markdown_lines(markdown):
        if fenced:
            continue
        if HEADING.match(line):
            current = None
            continue
        start = CLAUSE_AT_START.match(line)
        if start:
            current = start["id"]
            code.setdefault(current, [])
            continue
        directive = DIRECTIVE.match(line)
        if directive and directive["kind"] in CODE_DIRECTIVES:
            if current is None:
                raise invalid("spec", f"a refq:{directive['kind']} directive inside a clause ({where}:{number})",
                              directive["argument"])
            code[current].append(directive["argument"])
    return {clause_id: tuple(names) for clause_id, names in code.items()}


def clause_code(spec_dir: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """Clause ID -> ``module:qualname`` of every refq object executing it, over every chapter of ``spec_dir``."""
    return dict(_clause_code(Path(spec_dir) if spec_dir is not None else default_spec_dir()))


@cache
def _clause_code(spec_dir: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    pages = sorted(spec_dir.glob("*.md"))
    if not pages:
        raise invalid("spec_dir", "a folder holding the spec chapters (spec/*.md of a refq checkout)",
                      str(spec_dir))
    merged: dict[str, tuple[str, ...]] = {}
    for page in pages:
        merged.update(clause_code_in(page.read_text(encoding="utf-8"), page.name))
    return tuple(merged.items())
