"""A pytest plugin that runs the conformance suite against a backend, one test per case.

Registered through the ``pytest11`` entry point, so a backend's own CI runs::

    pytest --pyargs refq.conformance --refq-backend mypackage.backend:Backend \\
        [--refq-profile P] [--refq-level 1] [--refq-skip skip.txt] [--refq-xfail xfail.txt]

Skip and xfail files hold one case ID pattern per line (shell-style globs, ``fnmatch``)
followed by a reason; blank lines and lines starting with ``#`` are ignored. Without
``--refq-backend`` the plugin only adds its options: it collects nothing.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

def pytest_addoption(parser) -> None:
    group = parser.getgroup("refq", "refq conformance suite (pytest --pyargs refq.conformance --refq-backend SPEC)")
    group.addoption("--refq-backend", metavar="SPEC", help="the backend to run the conformance cases against")
    group.addoption("--refq-profile", metavar="NAME", help="judge against this profile instead of the backend's own")
    group.addoption("--refq-level", type=int, default=1, choices=(1, 2), help="vector level (default 1)")
    group.addoption("--refq-ops", metavar="A,B", help="only these operations")
    group.addoption("--refq-skip", metavar="FILE", help="case ID patterns to skip, each with a reason")
    group.addoption("--refq-xfail", metavar="FILE", help="case ID patterns expected to fail, each with a reason")
    group.addoption("--refq-timeout", type=float, default=60.0, metavar="S", help="seconds per case (default 60)")
    group.addoption("--refq-vectors", metavar="DIR", help="vectors folder (default: the installed ones)")


def read_patterns(path: str | None) -> list[tuple[str, str]]:
    """(pattern, reason) pairs of a skip or xfail file."""
    if not path:
        return []
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition(" ")
        pairs.append((pattern, reason.strip() or "listed in " + str(path)))
    return pairs


def _reason(patterns: list[tuple[str, str]], case_id: str) -> str | None:
    return next((reason for pattern, reason in patterns if fnmatch.fnmatchcase(case_id, pattern)), None)


def _is_suite_root(file_path: Path) -> bool:
    import refq.conformance

    return file_path.name == "__init__.py" and file_path.parent == Path(refq.conformance.__file__).parent


def pytest_collect_file(file_path: Path, parent):
    if parent.config.getoption("refq_backend") and _is_suite_root(Path(file_path)):
        return ConformanceSuite.from_parent(parent, path=Path(file_path))
    return None


def pytest_unconfigure(config) -> None:
    backend = getattr(config, "_refq_backend", None)
    if backend is not None:
        backend.close()


class CaseFailure(Exception):
    """A case that failed or errored; its message is the report."""


class ConformanceSuite(pytest.File):
    """Every case the backend is judged on, from the installed vectors."""

    def collect(self):
        from refq.conformance.harness import case_paths, load_backend, select_cases

        config = self.config
        spec, profile = config.getoption("refq_backend"), config.getoption("refq_profile")
        ops = config.getoption("refq_ops")
        backend = getattr(config, "_refq_backend", None)
        if backend is None:
            backend = config._refq_backend = load_backend(spec, profile)
        skips = read_patterns(config.getoption("refq_skip"))
        xfails = read_patterns(config.getoption("refq_xfail"))
        paths = case_paths(level=config.getoption("refq_level"), ops=None if ops is None else ops.split(","),
                           root=config.getoption("refq_vectors"))
        for path in select_cases(backend, paths, profile):
            case_id = json.loads(path.read_text(encoding="utf-8"))["id"]
            item = CaseItem.from_parent(self, name=case_id, descriptor=path, backend=backend)
            if (reason := _reason(skips, case_id)) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
            elif (reason := _reason(xfails, case_id)) is not None:
                item.add_marker(pytest.mark.xfail(reason=reason, raises=CaseFailure))
            yield item


class CaseItem(pytest.Item):
    """One conformance case: passes, fails (with the mismatching elements), or is skipped as unsupported."""

    def __init__(self, *, descriptor: Path, backend, **kwargs) -> None:
        super().__init__(**kwargs)
        self.descriptor = descriptor
        self.backend = backend

    def runtest(self) -> None:
        from refq.conformance.case import load_case
        from refq.conformance.harness import run_case

        result = run_case(self.backend, load_case(self.descriptor), self.config.getoption("refq_timeout"))
        self.user_properties.append(("refq_status", result.status))
        if result.status == "unsupported":
            pytest.skip(f"unsupported: {result.detail}")
        if result.status in ("fail", "error"):
            lines = [f"{result.status}: {result.detail}"]
            for m in result.first_mismatches:
                lines.append(f"  at {list(m.index)}: input {m.input!r}, expected {m.expected!r} ({m.expected_bits}), "
                             f"got {m.actual!r} ({m.actual_bits})")
                if m.trace:
                    lines.append(f"    explain: {m.trace}")
            raise CaseFailure("\n".join(lines))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.descriptor, 0, f"{self.backend.name}: {self.name}"
