"""Griffe extension: turn Sphinx roles in refq's docstrings into API cross-references.

refq's docstrings say ``:func:`kernel``` where a Markdown docstring would say
``[`kernel`][refq._jit.kernel]``. Rewriting the role at load time lets the source
keep the plain-text spelling (readable in ``help()``) while the site links it.
A name is looked up in the object's own scope, then in each enclosing one; a name
that resolves nowhere is left as inline code.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|exc|obj|const):`~?\.?(?P<name>[\w.]+)(?:\(\))?`")


def _resolve(obj: griffe.Object, name: str) -> str | None:
    if name.startswith("refq.") or name == "refq":
        return name
    head = name.split(".", 1)[0]
    scope: griffe.Object | None = obj if obj.is_module or obj.is_class else obj.parent
    while scope is not None:
        if head in scope.members:
            return f"{scope.path}.{name}"
        scope = scope.parent
    return None


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.is_alias or obj.docstring is None:
            return

        def link(match: re.Match[str]) -> str:
            name = match["name"]
            target = _resolve(obj, name)
            return f"[`{name}`][{target}]" if target else f"`{name}`"

        obj.docstring.value = ROLE.sub(link, obj.docstring.value)
