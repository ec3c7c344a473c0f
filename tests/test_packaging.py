"""The distribution ships every package and the conformance data."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib

ROOT = Path(__file__).resolve().parents[1]


def declared_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_refq_package_is_listed() -> None:
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "refq").rglob("__init__.py")}
    found |= {"refq.conformance." + ".".join(path.parent.relative_to(ROOT / "conformance").parts)
              for path in (ROOT / "conformance").rglob("*/__init__.py")}
    found.add("refq.conformance")
    assert found == declared_packages()


def test_conformance_package_resolves_to_the_conformance_folder() -> None:
    import refq.conformance

    assert Path(refq.conformance.__file__).resolve().parent == ROOT / "conformance"
