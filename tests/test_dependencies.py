"""The distribution's core dependencies are the design's, and they are all the package needs to import.

numpy and numba run the spec, hypothesis and pytest are the conformance suite's own
(refq.strategies, the pytest plugin), jsonschema checks every vector descriptor the harness loads.
Documentation and test tooling (mkdocs-material, pytest-xdist...) are extras, and so are the real
backends: the modules that need them import them where they are used.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = {"numpy", "numba", "hypothesis", "pytest", "jsonschema"}


def requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower().replace("_", "-")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_core_dependencies_are_the_designs():
    assert {requirement_name(r) for r in project()["dependencies"]} == CORE


def test_docs_packages_are_extras_only():
    extras = project()["optional-dependencies"]
    assert "mkdocs-material" in {requirement_name(r) for r in extras["docs"]}
    assert "refq[test,docs,backends,demo" in extras["all"][0]


def module_level_imports(path: Path) -> set[str]:
    """Top-level packages imported by statements the module runs on import (not in a function, not
    guarded by ``try``)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        statements = [node]
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks import nothing at run time
            statements = []
        for statement in statements:
            if isinstance(statement, ast.Import):
                found |= {alias.name.split(".")[0] for alias in statement.names}
            elif isinstance(statement, ast.ImportFrom) and not statement.level and statement.module:
                found.add(statement.module.split(".")[0])
    return found


def test_importing_the_package_needs_only_core_dependencies():
    """Every third-party package a refq module imports on load is a core dependency."""
    allowed = CORE | set(sys.stdlib_module_names) | {"refq", "__future__"}
    needs = {}
    for path in [*(ROOT / "refq").rglob("*.py"), *(ROOT / "conformance").rglob("*.py")]:
        extra = module_level_imports(path) - allowed
        if extra:
            needs[str(path.relative_to(ROOT))] = sorted(extra)
    assert needs == {}
