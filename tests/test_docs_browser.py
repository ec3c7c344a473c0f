"""The built site as a reader gets it: pages loaded in headless Chromium, links resolved.

Chromium (Debian's ``chromium`` package, installed by ``.ci/run``) is driven over the
DevTools protocol through ``--remote-debugging-pipe``: JSON messages separated by NUL
bytes on file descriptors 3 and 4, so no websocket library and no downloaded browser
are needed. The site is served from a local ``http.server`` thread; nothing leaves
127.0.0.1, which also proves that math and figures work offline. The tests needing the
browser skip, saying why, only when no chromium is installed.

Also here: every relative link in the built HTML resolves, and the home page's
five-minute walkthrough (its adapter, run with ``refq conform``) does conform.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import importlib.util
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_docs_tests():
    spec = importlib.util.spec_from_file_location("refq_docs_tests", ROOT / "tests" / "test_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_docs_tests = _load_docs_tests()

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it)")

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--remote-debugging-pipe")

#: Pages loaded in the browser: math, figures, and one of each kind of page.
MATH_PAGES = ("spec/numbers/", "spec/affine/", "learn/floats/", "learn/symmetric-asymmetric/")
FIGURE_PAGES = ("learn/floats/", "learn/pipeline/", "learn/symmetric-asymmetric/")
OTHER_PAGES = ("", "learn/", "learn/why-quantize/", "learn/integers/", "learn/strategies/", "learn/measured/",
               "spec/", "spec/clauses/", "conformance/", "conformance/quickstart/", "reference/")
WAIT_S = 20.0


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The strict build of tests/test_docs.py, shared with it (built once per run).

    REFQ_DOCS_SITE=DIR tests an existing build instead (quicker when iterating on a page).
    """
    if os.environ.get("REFQ_DOCS_SITE"):
        return Path(os.environ["REFQ_DOCS_SITE"])
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = shared / "refq-docs"
    shared.mkdir(exist_ok=True)
    result = _docs_tests._locked_build(shared)
    assert result["returncode"] == 0, result["output"]
    return shared / "site"


# --- a local server and a DevTools client over a pipe ------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe``."""

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="refq-chromium-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # Above 9, so that the shell's 3<& and 4>& cannot overwrite one end with the other.
        for name in ("to_browser_read", "from_browser_write"):
            low = locals()[name]
            high = fcntl.fcntl(low, fcntl.F_DUPFD, 10)
            os.close(low)
            if name == "to_browser_read":
                to_browser_read = high
            else:
                from_browser_write = high
        # The browser reads commands on fd 3 and writes replies on fd 4; bash puts them there (dash refuses fds above 9).
        command = ["bash", "-c", f'exec "$@" 3<&{to_browser_read} 4>&{from_browser_write}', "bash", executable,
                   *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"]
        self.process = subprocess.Popen(command, pass_fds=(to_browser_read, from_browser_write),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._messages: queue.Queue = queue.Queue()
        self._next_id = 0
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_browser, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._messages.put(json.loads(message))
        self._messages.put(None)

    def _pump(self, timeout: float) -> dict | None:
        try:
            message = self._messages.get(timeout=timeout)
        except queue.Empty:
            return None
        if message is None:
            raise RuntimeError("chromium closed the DevTools pipe")
        if "id" not in message:
            self.events.append(message)
        return message

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            reply = self._pump(deadline - time.monotonic())
            if reply is not None and reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(f"{method}: no reply in {WAIT_S} s")

    def wait_event(self, method: str, session: str, since: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            if any(e["method"] == method and e.get("sessionId") == session for e in self.events[since:]):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} in {WAIT_S} s")
            self._pump(0.1)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    """One page, with the console errors, exceptions and failed loads it produced."""

    def __init__(self, browser: DevTools) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.target = target
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=self.session)
        self._start = len(browser.events)

    def open(self, url: str) -> None:
        self._start = len(self.browser.events)
        self.browser.send("Page.navigate", {"url": url}, self.session)
        self.browser.wait_event("Page.loadEventFired", self.session, self._start)

    def evaluate(self, expression: str):
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                        "awaitPromise": True}, self.session)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str):
        """Poll ``expression`` until it is truthy; its last value on timeout is in the error."""
        deadline = time.monotonic() + WAIT_S
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                assert value, f"{what}: still {value!r} after {WAIT_S} s"
                return value
            time.sleep(0.1)

    def errors(self) -> list[str]:
        found = []
        for event in self.browser.events[self._start:]:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"log: {entry['text']} {entry.get('url', '')}")
        return found

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    client = DevTools(CHROMIUM)
    yield client
    client.close()


@pytest.fixture
def tab(browser):
    page = Tab(browser)
    yield page
    page.close()


# --- in the browser ----------------------------------------------------------------------

ARTICLE = "document.querySelector('article.md-content__inner')"

MATH_STATE = f"""(() => {{
  const article = {ARTICLE};
  const formulas = [...article.querySelectorAll('.arithmatex')];
  const copy = article.cloneNode(true);
  copy.querySelectorAll('.katex, pre, code, script').forEach(e => e.remove());
  const raw = copy.textContent.match(/\\\\\\(|\\\\\\[|\\$[^$\\s][^$]*\\$/);
  return {{formulas: formulas.length,
           untypeset: formulas.filter(e => !e.querySelector('.katex')).length,
           katex: article.querySelectorAll('.katex').length,
           katex_errors: article.querySelectorAll('.katex-error').length,
           raw: raw ? raw[0].slice(0, 80) : null}};
}})()"""


@needs_chromium
@pytest.mark.parametrize("path", MATH_PAGES)
def test_browser_math_rendered(server, tab, path):
    tab.open(server + path)
    tab.wait_for(f"{ARTICLE}.querySelectorAll('.arithmatex').length > 0 && "
                 f"[...{ARTICLE}.querySelectorAll('.arithmatex')].every(e => e.querySelector('.katex'))",
                 f"KaTeX typesetting on {path}")
    state = tab.evaluate(MATH_STATE)
    assert state["formulas"] > 0 and state["katex"] >= state["formulas"], state
    assert (state["untypeset"], state["katex_errors"], state["raw"]) == (0, 0, None), state
    # KaTeX's fonts come from the site itself (the math must work offline).
    fonts = tab.evaluate("document.fonts.ready.then(() => [...document.fonts]"
                         ".filter(f => f.family.includes('KaTeX') && f.status === 'loaded').length)")
    assert fonts > 0
    assert tab.errors() == []


@needs_chromium
@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_browser_figures_loaded(server, tab, path):
    tab.open(server + path)
    images = tab.wait_for(f"(() => {{ const images = [...{ARTICLE}.querySelectorAll('img')];"
                          " return images.length && images.every(i => i.complete) &&"
                          " images.map(i => [i.currentSrc, i.naturalWidth, i.naturalHeight]); })()",
                          f"images on {path}")
    assert images and all(width > 0 and height > 0 for _, width, height in images), images
    assert all(src.startswith(server + "learn/figures/") for src, _, _ in images), images
    assert tab.errors() == []


@needs_chromium
@pytest.mark.parametrize("path", OTHER_PAGES)
def test_browser_no_console_errors(server, tab, path):
    tab.open(server + path)
    assert tab.evaluate(f"!!{ARTICLE} && {ARTICLE}.textContent.length > 0")
    time.sleep(0.2)  # late script errors (search worker start-up, instant navigation)
    assert tab.errors() == []


@needs_chromium
def test_browser_search_finds_zero_point(server, tab):
    tab.open(server)
    tab.evaluate("document.querySelector('label[for=__search]').click()")
    tab.evaluate("document.querySelector('.md-search__input').focus()")
    tab.browser.send("Input.insertText", {"text": "zero point"}, tab.session)
    hits = tab.wait_for("[...document.querySelectorAll('.md-search-result__item a')]"
                        ".map(a => a.getAttribute('href')).filter(h => h.includes('spec/affine/'))",
                        "a search result on spec/affine/ for 'zero point'")
    assert hits
    assert tab.errors() == []


# --- without a browser -------------------------------------------------------------------


def test_search_index_has_zero_point(site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = {doc["location"].split("#")[0] for doc in index["docs"]
                 if "zero point" in (doc["title"] + " " + doc["text"]).lower()}
    assert "spec/affine/" in locations


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("name"):
            self.ids.add(attributes["name"])
        for name in ("href", "src"):
            if attributes.get(name) and tag in ("a", "link", "script", "img", "source", "iframe"):
                self.links.append(attributes[name])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _target(site: Path, path: str) -> Path | None:
    candidate = site / unquote(path)
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def test_internal_links_resolve(site):
    """Every relative href/src of every built page names a file of the site, and its #fragment an id there."""
    parsed = {page: _parse(page) for page in site.rglob("*.html")}
    broken = []
    for page, links in parsed.items():
        base = "/" + page.relative_to(site).as_posix()
        for link in links.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            resolved = urlsplit(urljoin(base, link))
            target = page if not parts.path else _target(site, resolved.path.lstrip("/"))
            if target is None:
                broken.append(f"{base}: {link} (no such file)")
                continue
            fragment = unquote(resolved.fragment)
            if fragment and target.suffix == ".html" and fragment not in parsed[target].ids:
                broken.append(f"{base}: {link} (no id {fragment!r} in {target.relative_to(site)})")
    assert broken == []


def test_figures_generated_not_committed(site):
    import importlib.util

    spec = importlib.util.spec_from_file_location("figures_hook", ROOT / "docs" / "hooks" / "figures.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    figures = sorted(p.name for p in (site / "learn" / "figures").iterdir())
    assert figures == sorted(f"{figure.name}.svg" for figure in hook.FIGURES)
    assert {"float32-fields.svg", "profile-disagreement.svg", "rounding-modes.svg", "staircase.svg",
            "observer-errors.svg"} <= set(figures)
    assert not (ROOT / "docs" / "learn" / "figures").exists()
    for name in figures:
        assert (site / "learn" / "figures" / name).read_bytes().startswith(b"<?xml")


# --- the home page's walkthrough ---------------------------------------------------------


def test_home_adapter_conforms(tmp_path):
    """The adapter the home page shows (the shipped conformance/examples/numpy_backend.py, through its
    conformance:example directive) passes `refq conform` under its profile, copied anywhere as the
    page tells a reader to save it."""
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "<!-- conformance:example numpy_backend.py -->" in home
    adapter = (ROOT / "conformance" / "examples" / "numpy_backend.py").read_text(encoding="utf-8")
    (tmp_path / "my_backend.py").write_text(adapter, encoding="utf-8")
    completed = subprocess.run([sys.executable, "-m", "refq", "conform", "--backend", "./my_backend.py:Backend"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = [line.split() for line in completed.stdout.splitlines() if line.startswith("quantize_linear")]
    assert rows and rows[0][2:4] == ["0", "0"], completed.stdout  # no fail, no error
    assert "my-numpy-backend: profile onnx: conforms on " in completed.stdout
