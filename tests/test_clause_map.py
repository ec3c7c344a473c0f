"""The clause -> code map, read from the spec's directives, against the code's own docstrings.

A function that executes a clause names it at the start of its docstring (``"AFF-3.7: ..."``);
the spec names the function after the clause (``refq:source`` or ``refq:implements``). The two
are written independently, so each checks the other: a clause whose text names code that says
it does something else, or code that claims a clause the text does not name it under, fails.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import refq
from refq.errors import RefqValueError
from refq.registry import CLAUSES
from refq.registry.clause_map import clause_code, clause_code_in

CLAUSE_ID = r"[A-Z]+-\d+(?:\.\d+)+"
#: The clause IDs a docstring opens with: "AFF-3.1:", "NUM-3.13 to NUM-3.15 for kernels", "OBS-1.2, OBS-1.3 ...".
LEADING_IDS = re.compile(rf"^(?P<ids>{CLAUSE_ID}(?:(?:,\s*|\s+and\s+|\s+to\s+|\s*/\s*|\s+or\s+){CLAUSE_ID})*)")
#: Modules that are not the executable spec (command line, adapters, demo) or hold no clause code.
NOT_SPEC = ("refq.__main__", "refq.cli", "refq.backends", "refq.demo", "refq.conformance", "refq.sizes",
            "refq._jit", "refq.strategies", "refq.errors")


def resolve(dotted: str) -> object:
    module_name, _, qualname = dotted.partition(":")
    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return getattr(target, "py_func", target)


def claimed_clauses(target: object) -> set[str]:
    """The clauses a function's or class's docstring opens with ("A to B" takes the whole range)."""
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        return set()
    match = LEADING_IDS.match(inspect.getdoc(target) or "")
    if match is None:
        return set()
    text = match["ids"]
    claimed = set(re.findall(CLAUSE_ID, text))
    for first, last in re.findall(rf"({CLAUSE_ID})\s+to\s+({CLAUSE_ID})", text):
        section, low = first.rsplit(".", 1)
        if last.rsplit(".", 1)[0] == section:
            claimed |= {f"{section}.{n}" for n in range(int(low), int(last.rsplit(".", 1)[1]) + 1)}
    return claimed


def clauses_naming() -> dict[str, set[str]]:
    """``module:qualname`` -> the clauses whose directives name it."""
    naming: dict[str, set[str]] = {}
    for clause_id, names in clause_code().items():
        for name in names:
            naming.setdefault(name, set()).add(clause_id)
    return naming


def spec_objects() -> dict[str, object]:
    """Every public function and class defined in the executable spec's modules, by ``module:qualname``."""
    found = {}
    for info in pkgutil.walk_packages(refq.__path__, "refq."):
        if info.name.startswith(NOT_SPEC):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            target = getattr(value, "py_func", value)
            if name.startswith("_") or not (inspect.isfunction(target) or inspect.isclass(target)):
                continue
            if target.__module__ == info.name:
                found[f"{info.name}:{name}"] = target
    return found


# --- the map itself ---------------------------------------------------------------------------


def test_every_registered_clause_is_in_the_spec_map():
    assert sorted(c.id for c in CLAUSES if c.id not in clause_code()) == []


@pytest.mark.parametrize("clause", CLAUSES, ids=lambda c: c.id)
def test_clause_has_code_unless_descriptive(clause):
    """A normative clause names the code that executes it; a descriptive one names none."""
    if clause.descriptive:
        assert clause.implemented_by == ()
    else:
        assert clause.implemented_by, f"{clause.id}: add a refq:source or refq:implements directive after it"


def test_implemented_by_is_the_spec_map():
    code = clause_code()
    assert {c.id: c.implemented_by for c in CLAUSES} == {c.id: code[c.id] for c in CLAUSES}


def test_directives_belong_to_the_clause_before_them():
    page = "\n".join([
        "# Chapter", "",
        "[[X-1.1]] First.", "", "<!-- refq:source refq.a:f -->", "", "More text.", "",
        "<!-- refq:implements refq.a:g -->", "",
        "```markdown", "[[X-9.9]] inside a fence", "<!-- refq:source refq.a:fenced -->", "```", "",
        "[[X-1.2]] Second, descriptive.", "", "<!-- refq:table variants -->", "",
        "## Next section", "", "[[X-2.1]] Third.", "", "<!-- refq:implements refq.b:h -->",
    ])
    assert clause_code_in(page, "page.md") == {"X-1.1": ("refq.a:f", "refq.a:g"), "X-1.2": (),
                                                "X-2.1": ("refq.b:h",)}


@pytest.mark.parametrize("page", [
    "<!-- refq:source refq.a:f -->\n\n[[X-1.1]] Text.",
    "[[X-1.1]] Text.\n\n## Section\n\n<!-- refq:implements refq.a:f -->",
])
def test_code_directive_outside_a_clause_is_an_error(page):
    with pytest.raises(RefqValueError, match=r"^spec: .*page\.md:\d"):
        clause_code_in(page, "page.md")


def test_clause_code_of_a_folder_without_chapters(tmp_path):
    with pytest.raises(RefqValueError, match="^spec_dir: "):
        clause_code(tmp_path)


# --- text against code -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(clauses_naming()))
def test_named_code_claims_a_clause_that_names_it(name):
    """Where a function's docstring opens with clause IDs, one of them names it in spec/."""
    claimed = claimed_clauses(resolve(name))
    if claimed:
        assert claimed & clauses_naming()[name], (
            f"{name} says it executes {sorted(claimed)}, the spec names it under {sorted(clauses_naming()[name])}")


def test_code_claiming_a_clause_is_named_by_it():
    """A public function or class whose docstring opens with a clause ID is named after that clause
    (under any of its names: ``fixed_part = add_fixed_part`` is one function)."""
    by_object: dict[int, set[str]] = {}
    for name, clause_ids in clauses_naming().items():
        by_object.setdefault(id(resolve(name)), set()).update(clause_ids)
    unnamed = {name: sorted(claimed) for name, target in spec_objects().items()
               if (claimed := claimed_clauses(target)) and not claimed & by_object.get(id(target), set())}
    assert unnamed == {}, "add a refq:implements directive after the clause, or correct the docstring"


def test_claimed_clauses_reads_ranges_and_lists():
    def example():
        """NUM-3.13 to NUM-3.15, AFF-1.2 and AFF-3.1: text naming INT-2.1 later."""

    assert claimed_clauses(example) == {"NUM-3.13", "NUM-3.14", "NUM-3.15", "AFF-1.2", "AFF-3.1"}
