"""MkDocs hook: pull the spec into the site, render refq's directives, ship KaTeX.

- ``spec/<chapter>.md`` (the top-level folder, never copied into ``docs/``) is served
  at ``spec/<chapter>/``; the Spec section of the navigation lists the chapters in
  the order of ``refq.registry.CHAPTERS``.
- ``[[NUM-2.2]]`` at the start of a paragraph becomes a permalink badge with
  ``id="NUM-2.2"``, so ``/spec/numbers/#NUM-2.2`` is a stable URL.
- ``<!-- refq:source module:qualname -->`` becomes the object's exact source,
  ``<!-- refq:implements module:qualname -->`` a link to the API entry of code that
  executes the clause but is not shown, and ``<!-- refq:table NAME -->`` the registry
  table ``NAME``; an unknown name fails the build. The source and implements directives
  after a clause are the clause's code (``refq.registry.clause_map``).
- KaTeX comes from the npm registry into ``build/katex/`` (gitignored) on the first
  build, and is served from ``assets/katex/``: no CDN, math renders offline.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

# The directive walk both docs hooks share (docs/hooks/markdown_directives.py), loaded by path:
# mkdocs loads a hook as a file, with no package around it.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown_directives import expand_lines  # noqa: E402

log = logging.getLogger("mkdocs.hooks.refq_spec")

KATEX_SPEC = "katex@0.16"
KATEX_SITE_DIR = "assets/katex"
#: What of the npm package the site serves, relative to its dist/ folder.
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")

CLAUSE_MARK = re.compile(r"\[\[([A-Z]+-\d+(?:\.\d+)*)\]\]")
#: A clause mark opening a paragraph, possibly inside a list item or a block quote.
CLAUSE_AT_START = re.compile(r"^(?P<lead>[ \t]*(?:>[ \t]*)*(?:(?:[-*+]|\d+\.)[ \t]+)?)\[\[(?P<id>[A-Z]+-\d+(?:\.\d+)*)\]\]")
DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)<!--\s*refq:(?P<kind>[a-z-]+)\s+(?P<argument>\S+)\s*-->[ \t]*$")
ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">(?P<body>.*?)</\1>', re.S)


def repo_root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def spec_dir(config: MkDocsConfig) -> Path:
    return repo_root(config) / "spec"


def katex_dist(config: MkDocsConfig) -> Path:
    return repo_root(config) / "build" / "katex" / "node_modules" / "katex" / "dist"


# --- configuration: fresh refq, the Spec navigation, KaTeX -----------------------------


def _import_refq_fresh(config: MkDocsConfig) -> None:
    """Make refq importable from this checkout, re-reading it on every build.

    ``mkdocs serve`` reloads the configuration (and so this hook) on each change,
    but imported modules stay cached; dropping them makes a source directive show
    the code as it is now.
    """
    root = str(repo_root(config))
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in [n for n in sys.modules if n == "refq" or n.startswith("refq.")]:
        del sys.modules[name]
    import linecache

    linecache.clearcache()


def spec_chapters(config: MkDocsConfig) -> list[tuple[str, str]]:
    """(title, slug) of every spec chapter: registry order first, then unregistered files by name."""
    from refq.registry import CHAPTERS

    present = {path.stem for path in spec_dir(config).glob("*.md")}
    chapters = [(c.title, c.slug) for c in CHAPTERS if c.slug in present]
    registered = {c.slug for c in CHAPTERS}
    chapters += [(slug, slug) for slug in sorted(present - registered)]
    return chapters


def _fill_spec_nav(config: MkDocsConfig) -> None:
    """Put the chapters into the nav's ``Spec`` section, after its overview page.

    Entries already pointing into ``spec/`` (other than the overview and the clause
    index written in mkdocs.yml) are replaced, so rerunning is harmless.
    """
    nav = config.nav
    if nav is None:
        raise PluginError("refq_spec: mkdocs.yml must define a nav with a 'Spec' section")
    for item in nav:
        if isinstance(item, dict) and "Spec" in item:
            section = item["Spec"]
            break
    else:
        raise PluginError("refq_spec: mkdocs.yml nav has no 'Spec' section to list the chapters in")
    if not isinstance(section, list):
        section = [section]
    chapter_uris = {f"spec/{slug}.md" for _, slug in spec_chapters(config)}

    def target(entry: object) -> object:
        return next(iter(entry.values())) if isinstance(entry, dict) else entry

    kept = [entry for entry in section if target(entry) not in chapter_uris]
    chapters = [{title: f"spec/{slug}.md"} for title, slug in spec_chapters(config)]
    item["Spec"] = kept[:1] + chapters + kept[1:]


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (two builds at once must not both run npm)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, a concurrent first build may race
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_katex(config: MkDocsConfig) -> Path:
    """Install KaTeX from the npm registry into build/katex/ unless it is there already."""
    dist = katex_dist(config)
    prefix = repo_root(config) / "build" / "katex"
    with _lock(prefix.parent / "katex.lock"):
        if (dist / "katex.min.js").is_file():
            return dist
        npm = shutil.which("npm")
        if npm is None:
            raise PluginError(
                "refq_spec: npm is not installed, and the docs need it once to fetch KaTeX "
                f"({KATEX_SPEC}) into {prefix}. Install Node.js with npm (e.g. apt-get install npm) "
                "and build again."
            )
        log.info("Installing %s from the npm registry into %s", KATEX_SPEC, prefix)
        command = [npm, "install", "--no-save", "--no-audit", "--no-fund", "--no-package-lock",
                   "--prefix", str(prefix), KATEX_SPEC]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not (dist / "katex.min.js").is_file():
            raise PluginError(
                f"refq_spec: `{' '.join(command)}` failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
    return dist


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _import_refq_fresh(config)
    _fill_spec_nav(config)
    ensure_katex(config)
    return config


def on_serve(server, config: MkDocsConfig, builder) -> None:
    server.watch(str(spec_dir(config)))
    server.watch(str(repo_root(config) / "refq"))


# --- files: spec chapters and KaTeX assets ---------------------------------------------


def _add(files: Files, file: File) -> None:
    if files.get_file_from_path(file.src_uri) is not None:
        raise PluginError(f"refq_spec: {file.src_uri} exists in docs/ and would hide the generated file")
    files.append(file)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for _, slug in spec_chapters(config):
        path = spec_dir(config) / f"{slug}.md"
        _add(files, File.generated(config, f"spec/{slug}.md", abs_src_path=str(path)))
    dist = katex_dist(config)
    assets = [dist / name for name in KATEX_FILES] + sorted((dist / "fonts").iterdir())
    for path in assets:
        uri = f"{KATEX_SITE_DIR}/{path.relative_to(dist).as_posix()}"
        _add(files, File.generated(config, uri, abs_src_path=str(path)))
    return files


# --- markdown: clause permalinks and directives ----------------------------------------


def _resolve(name: str, kind: str, where: str) -> object:
    """The refq object ``module:qualname`` that directive ``refq:<kind>`` names."""
    import importlib

    module_name, _, qualname = name.partition(":")
    if not module_name.startswith("refq") or not qualname:
        raise PluginError(f"refq_spec: {where}: refq:{kind} wants 'module:qualname' inside refq, got {name!r}")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise PluginError(f"refq_spec: {where}: refq:{kind} {name}: {error}") from error
    return target


def _source_block(name: str, indent: str, where: str) -> str:
    """A titled python block with the exact source of refq object ``module:qualname``."""
    module_name, _, qualname = name.partition(":")
    target = _resolve(name, "source", where)
    target = getattr(target, "py_func", target)  # a refq kernel shows the function it compiles
    try:
        source = inspect.getsource(target)
    except (TypeError, OSError) as error:
        raise PluginError(f"refq_spec: {where}: refq:source {name} has no Python source: {error}") from error
    source = textwrap.dedent(source)  # a method's source comes indented
    dotted = f"{module_name}.{qualname}"
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", source)), default=0))
    lines = [f'{fence}python title="{dotted}"', *source.rstrip("\n").split("\n"), fence, "",
             f"<small>API reference: [`{dotted}`][{dotted}]</small>"]
    return "\n".join(indent + line if line else line for line in lines)


def _implements_line(name: str, indent: str, where: str) -> str:
    """A link to the API entry of refq object ``module:qualname``, code the page does not show."""
    _resolve(name, "implements", where)
    dotted = name.replace(":", ".")
    return f"{indent}<small>Also executing this clause: [`{dotted}`][{dotted}]</small>"


def _table_block(name: str, indent: str, where: str) -> str:
    from refq._jit import pure_python
    from refq.errors import RefqError
    from refq.registry.tables import render_table

    # The interpreted path gives the same bits and spares the build a Numba compile.
    try:
        with pure_python():
            text = render_table(name)
    except RefqError as error:
        raise PluginError(f"refq_spec: {where}: refq:table {name}: {error}") from error
    return "\n".join(indent + line if line else line for line in text.rstrip("\n").split("\n"))


def _render_directive(directive: re.Match[str], at: str) -> str:
    kind, argument = directive["kind"], directive["argument"]
    if kind == "source":
        return _source_block(argument, "", at)
    if kind == "table":
        return _table_block(argument, "", at)
    if kind == "implements":
        return _implements_line(argument, "", at)
    raise PluginError(f"refq_spec: {at}: unknown directive refq:{kind} (known: source, implements, table)")


def expand(markdown: str, where: str, known_clauses: set[str] | None = None) -> str:
    """Expand directives and clause marks outside fenced code; ``where`` names the page in errors."""
    anchored: set[str] = set()

    def other_line(line: str, at: str) -> str:
        if "<!-- refq:" in line or "<!--refq:" in line:
            raise PluginError(f"refq_spec: {at}: a refq directive must stand alone on its line: {line.strip()}")
        start = CLAUSE_AT_START.match(line)
        if start:
            clause_id = start["id"]
            if known_clauses is not None and clause_id not in known_clauses:
                log.warning("%s: clause %s is not in refq.registry.CLAUSES", at, clause_id)
            if clause_id in anchored:
                log.warning("%s: clause %s opens a second paragraph; an ID is used once", at, clause_id)
            anchored.add(clause_id)
            badge = f'<a class="refq-clause" id="{clause_id}" href="#{clause_id}">{clause_id}</a>'
            line = start["lead"] + badge + line[start.end():]
        for stray in CLAUSE_MARK.findall(_without_code_spans(line)):
            log.warning("%s: clause mark [[%s]] must open a paragraph", at, stray)
        return line

    return expand_lines(markdown, where, DIRECTIVE, _render_directive, other_line)


def _without_code_spans(line: str) -> str:
    return re.sub(r"(`+).*?\1", "", line)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    from refq.registry import CLAUSES

    return expand(markdown, page.file.src_uri, {c.id for c in CLAUSES})


# --- math: check every formula with KaTeX itself --------------------------------------

_formulas: dict[str, list[tuple[str, bool]]] = {}


def on_pre_build(config: MkDocsConfig) -> None:
    _formulas.clear()


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    import html as html_module

    for match in ARITHMATEX.finditer(html):
        body = html_module.unescape(match["body"]).strip()
        display = body.startswith("\\[")
        if body[:2] in ("\\(", "\\["):
            body = body[2:-2]
        _formulas.setdefault(page.file.src_uri, []).append((body, display))
    return html


CHECK_SCRIPT = """
const katex = require(process.argv[1]);
const items = JSON.parse(require("fs").readFileSync(0, "utf8"));
const errors = [];
for (const [page, tex, display] of items) {
  try { katex.renderToString(tex, {displayMode: display, throwOnError: true, strict: "error"}); }
  catch (e) { errors.push([page, tex, String(e.message)]); }
}
process.stdout.write(JSON.stringify(errors));
"""


def on_post_build(config: MkDocsConfig) -> None:
    """Warn (an error under --strict) about any formula KaTeX cannot typeset."""
    node = shutil.which("node")
    items = [(page, tex, display) for page, formulas in _formulas.items() for tex, display in formulas]
    if node is None or not items:
        return
    module = str(katex_dist(config) / "katex.js")
    result = subprocess.run([node, "-e", CHECK_SCRIPT, module], input=json.dumps(items),
                            capture_output=True, text=True)
    if result.returncode != 0:
        log.warning("KaTeX check could not run: %s", result.stderr.strip())
        return
    for page, tex, message in json.loads(result.stdout):
        log.warning("%s: KaTeX cannot typeset $%s$: %s", page, tex, message)

