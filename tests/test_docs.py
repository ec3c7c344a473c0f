"""The documentation site: a strict build, clause permalinks, directives, offline math."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refq.registry import CHAPTERS, CLAUSES

ROOT = Path(__file__).resolve().parent.parent


def _load_hook():
    spec = importlib.util.spec_from_file_location("refq_docs_hook", ROOT / "docs" / "hooks" / "refq_spec.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


def _locked_build(shared: Path) -> dict:
    """Build the site once per test run, even when xdist workers ask for it at the same time."""
    import fcntl

    result_file = shared / "result.json"
    with open(shared / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result_file.exists():
            environment = dict(os.environ, NO_MKDOCS_2_WARNING="1")
            completed = subprocess.run(
                [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(shared / "site")],
                cwd=ROOT, capture_output=True, text=True, env=environment,
            )
            result_file.write_text(json.dumps({"returncode": completed.returncode,
                                               "output": completed.stdout + completed.stderr}))
    return json.loads(result_file.read_text())


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = shared / "refq-docs"
    shared.mkdir(exist_ok=True)
    result = _locked_build(shared)
    assert result["returncode"] == 0, result["output"]
    return shared / "site"


def pages(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}


# --- the built site ------------------------------------------------------------------------


def test_build_strict(site):
    assert (site / "index.html").is_file()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.slug)
def test_build_clause_permalinks(site, chapter):
    html = (site / "spec" / chapter.slug / "index.html").read_text(encoding="utf-8")
    for c in CLAUSES:
        if c.id.split("-", 1)[0] == chapter.prefix:
            assert f'<a class="refq-clause" id="{c.id}" href="#{c.id}">{c.id}</a>' in html, c.id


def test_build_spec_nav_in_chapter_order(site):
    html = (site / "spec" / "index.html").read_text(encoding="utf-8")
    positions = [html.find(f'href="{c.slug}/"') for c in CHAPTERS]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_build_directives_expanded(site):
    survivors = [name for name, html in pages(site).items() if "<!-- refq:" in html or "<!--refq:" in html]
    assert survivors == []


def test_build_source_directives_titled(site):
    for path in sorted((ROOT / "spec").glob("*.md")):
        html = (site / "spec" / path.stem / "index.html").read_text(encoding="utf-8")
        for name in re.findall(r"<!--\s*refq:source\s+(\S+)\s*-->", path.read_text(encoding="utf-8")):
            assert f'<span class="filename">{name.replace(":", ".")}</span>' in html, name


def test_build_clause_index(site):
    html = (site / "spec" / "clauses" / "index.html").read_text(encoding="utf-8")
    slug_of = {c.prefix: c.slug for c in CHAPTERS}
    for c in CLAUSES:
        assert f'href="../{slug_of[c.id.split("-")[0]]}/#{c.id}"' in html, c.id


def test_build_katex_assets(site):
    katex = site / "assets" / "katex"
    for name in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js"):
        assert (katex / name).stat().st_size > 0, name
    fonts = {p.suffix for p in (katex / "fonts").iterdir()}
    assert ".woff2" in fonts
    index = (site / "index.html").read_text(encoding="utf-8")
    for asset in ("assets/katex/katex.min.js", "assets/katex/contrib/auto-render.min.js",
                  "assets/katex/katex.min.css", "javascripts/katex-init.js"):
        assert asset in index, asset


def test_build_math_marked_for_katex(site):
    html = (site / "spec" / "numbers" / "index.html").read_text(encoding="utf-8")
    if "$" in (ROOT / "spec" / "numbers.md").read_text(encoding="utf-8"):
        assert 'class="arithmatex"' in html


def test_build_no_remote_scripts_or_styles(site):
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)
    offenders = {name: remote.findall(html) for name, html in pages(site).items()}
    assert {name: found for name, found in offenders.items() if found} == {}
    css_imports = re.compile(r"@import\s+(?:url\()?[\"']?(?:https?:)?//", re.I)
    assert [p.name for p in site.rglob("*.css") if css_imports.search(p.read_text(encoding="utf-8"))] == []


# --- the hook's Markdown expansion, on its own ----------------------------------------------


def test_expand_clause_mark():
    out = hook.expand("[[NUM-2.2]] A value is rounded.", "page.md")
    assert out == '<a class="refq-clause" id="NUM-2.2" href="#NUM-2.2">NUM-2.2</a> A value is rounded.'


def test_expand_clause_mark_in_list_item():
    out = hook.expand("- [[AFF-1.10]] Item.", "page.md")
    assert out == '- <a class="refq-clause" id="AFF-1.10" href="#AFF-1.10">AFF-1.10</a> Item.'


def test_expand_leaves_fenced_code():
    text = "```markdown\n[[NUM-2.2]] <!-- refq:table nope -->\n```\n~~~\n<!-- refq:source x -->\n~~~"
    assert hook.expand(text, "page.md") == text


def test_expand_leaves_code_span_marks(caplog):
    text = "Write `[[NUM-2.2]]` to open a clause."
    assert hook.expand(text, "page.md") == text
    assert caplog.records == []


def test_expand_stray_mark_warns(caplog):
    hook.expand("A reference to [[NUM-2.2]] mid-sentence.", "page.md")
    assert "must open a paragraph" in caplog.text


def test_expand_unregistered_clause_warns(caplog):
    hook.expand("[[NUM-99]] Text.", "page.md", {"NUM-2.2"})
    assert "NUM-99 is not in refq.registry.CLAUSES" in caplog.text


def test_expand_repeated_clause_warns(caplog):
    hook.expand("[[NUM-2.2]] One.\n\n[[NUM-2.2]] Two.", "page.md")
    assert "NUM-2.2 opens a second paragraph" in caplog.text


def test_expand_table():
    out = hook.expand("<!-- refq:table rounding-modes -->", "page.md")
    assert out.startswith("| mode | code |") and "`half_to_even`" in out


def test_expand_table_unknown():
    with pytest.raises(hook.PluginError, match="page.md:2: refq:table nope: name: must be one of"):
        hook.expand("text\n<!-- refq:table nope -->", "page.md")


def test_expand_source_kernel():
    from refq.numbers.rounding import round_to_integral

    out = hook.expand("    <!-- refq:source refq.numbers.rounding:round_to_integral -->", "page.md")
    lines = out.split("\n")
    assert lines[0] == '    ```python title="refq.numbers.rounding.round_to_integral"'
    assert lines[1] == "    @kernel"
    assert "    def round_to_integral(x, mode):" in lines
    assert f"[`refq.numbers.rounding.round_to_integral`][refq.numbers.rounding.round_to_integral]" in out
    assert round_to_integral.py_func.__doc__.split("\n")[0] in out


@pytest.mark.parametrize("name", ["refq.numbers.rounding:nope", "refq.nope:x", "refq.numbers.rounding",
                                  "numpy:floor", "refq.registry.rounding:ROUNDING_MODES"])
def test_expand_source_unknown(name):
    with pytest.raises(hook.PluginError, match=f"page.md:1: refq:source {re.escape(name)}|"
                                               f"page.md:1: refq:source wants"):
        hook.expand(f"<!-- refq:source {name} -->", "page.md")


def test_expand_unknown_directive():
    with pytest.raises(hook.PluginError, match="unknown directive refq:tabel"):
        hook.expand("<!-- refq:tabel rounding-modes -->", "page.md")


def test_expand_directive_not_alone():
    with pytest.raises(hook.PluginError, match="must stand alone on its line"):
        hook.expand("See <!-- refq:table rounding-modes --> here.", "page.md")


def test_expand_implements():
    out = hook.expand("  <!-- refq:implements refq.registry.profiles:PROFILES -->", "page.md")
    assert out == "  <small>Also executing this clause: [`refq.registry.profiles.PROFILES`]" \
                  "[refq.registry.profiles.PROFILES]</small>"


@pytest.mark.parametrize("name", ["refq.numbers.rounding:nope", "refq.nope:x", "numpy:floor"])
def test_expand_implements_unknown(name):
    with pytest.raises(hook.PluginError, match=f"page.md:1: refq:implements {re.escape(name)}|"
                                               f"page.md:1: refq:implements wants"):
        hook.expand(f"<!-- refq:implements {name} -->", "page.md")
