"""The directive expander both docs hooks share: directives are HTML comments alone on a line,
outside fenced code, each replaced by what a renderer returns for it.

``refq_spec`` (``refq:source``, ``refq:table``, ``refq:implements`` and clause marks) and
``conformance_pages`` (``conformance:*``, ``cli:*``) each give a pattern and their renderers;
the walk over lines outside fences and the indentation of what is inserted live here, once;
the fence rule itself is the spec reader's (``refq.registry.clause_map.markdown_lines``).
"""

from __future__ import annotations

import re
from collections.abc import Callable


def expand_lines(markdown: str, where: str, directive: re.Pattern[str],
                 render: Callable[[re.Match[str], str], str],
                 other_line: Callable[[str, str], str] | None = None) -> str:
    """Replace each line outside fenced code that ``directive`` matches (it must have an ``indent``
    group) by ``render(match, "page:line")``, indented as the directive was; every other line outside
    fences goes through ``other_line(line, "page:line")`` when given. Fenced code is left as it is
    (the fence rule is the spec reader's, :func:`refq.registry.clause_map.markdown_lines`)."""
    from refq.registry.clause_map import markdown_lines

    out: list[str] = []
    for number, line, fenced in markdown_lines(markdown):
        if fenced:
            out.append(line)
            continue
        at = f"{where}:{number}"
        match = directive.match(line)
        if match:
            indent = match["indent"]
            text = render(match, at)
            out.append("\n".join(indent + part if part else part for part in text.split("\n")))
            continue
        out.append(other_line(line, at) if other_line is not None else line)
    return "\n".join(out)
