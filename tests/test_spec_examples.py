"""Every ``pycon`` example in spec/ and docs/ runs, and its shown output matches."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = re.compile(r"^```pycon\n(.*?)^```", re.DOTALL | re.MULTILINE)
PAGES = sorted([*ROOT.glob("spec/*.md"), *ROOT.glob("docs/**/*.md")])


def examples(page: Path) -> list[str]:
    return EXAMPLE.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_in_page(page: Path) -> None:
    # One namespace per page: later examples build on earlier ones, as a reader would.
    source = "\n".join(examples(page))
    test = doctest.DocTestParser().get_doctest(source, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted > 0
    assert failed == 0, f"{failed} of {attempted} examples in {page.name} fail (see the output above)"


def test_example_finder_sees_examples() -> None:
    assert examples(ROOT / "spec" / "affine.md")
