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


def _usage(error: Exception) -> pytest.UsageError:
    message = str(error)
    return pytest.UsageError(message if message.startswith("refq") else f"refq: error: {message}")


def _selected_cases(config) -> tuple[object, list[Path]]:
    """(the loaded backend, the descriptors it is judged on), or a usage error: a run of the plugin that
    would check nothing (no vectors there, an empty or unknown --refq-ops, a profile without cases,
    a level not built) must not pass as "no tests ran" or as a page of skips."""
    from refq.conformance.case import vectors_root
    from refq.conformance.harness import case_paths, check_declared_profile, load_backend, select_cases
    from refq.errors import invalid
    from refq.registry.operations import OPERATIONS_BY_NAME

    spec, profile = config.getoption("refq_backend"), config.getoption("refq_profile")
    level, root, ops_text = config.getoption("refq_level"), config.getoption("refq_vectors"), config.getoption("refq_ops")
    timeout = config.getoption("refq_timeout")
    if not 0 < timeout < float("inf"):
        raise invalid("--refq-timeout", "a positive, finite number of seconds", timeout)
    if profile is not None:
        from refq.registry.profiles import EVERY_PROFILE_BY_NAME

        if profile not in EVERY_PROFILE_BY_NAME:
            raise invalid("--refq-profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), profile)
    ops = None
    if ops_text is not None:
        ops = [op.strip() for op in ops_text.split(",") if op.strip()]
        if not ops:
            raise invalid("--refq-ops", "one or more comma-separated operations", ops_text)
        for op in ops:
            if op not in OPERATIONS_BY_NAME:
                raise invalid("--refq-ops", "operations from " + ", ".join(OPERATIONS_BY_NAME), op)
    base = Path(root) if root is not None else vectors_root()
    if root is not None and not base.is_dir():
        raise invalid("--refq-vectors", "an existing vectors folder", root)
    if not (base / f"level{level}").is_dir():
        hint = f" (try its parent, {base.parent})" if base.name in ("level1", "level2") else ""
        raise invalid("--refq-vectors" if root is not None else "--refq-level",
                      f"a vectors root holding level{level}/{hint}", root if root is not None else level)
    for pattern_file in (config.getoption("refq_skip"), config.getoption("refq_xfail")):
        if pattern_file is not None and not Path(pattern_file).is_file():
            raise invalid("--refq-skip/--refq-xfail", "an existing file of case ID patterns", pattern_file)
    paths = case_paths(level=level, ops=ops, root=root)
    if not paths:
        raise invalid("--refq-ops" if ops else "--refq-vectors", f"operations with level-{level} vectors",
                      ops_text if ops else root)
    backend = load_backend(spec, profile, timeout=timeout)
    try:
        check_declared_profile(backend)
        selected = select_cases(backend, paths, profile)
        if not any(backend.supports(path.parents[1].name) for path in selected):
            offered = ", ".join(sorted({path.stem for path in paths}))
            raise invalid("--refq-profile" if profile else "--refq-ops",
                          f"a choice that leaves {backend.name} a case to run (profiles with cases: {offered})",
                          profile or ops_text)
    except BaseException:
        backend.close()
        raise
    return backend, selected


def pytest_configure(config) -> None:
    if not config.getoption("refq_backend", None):
        return
    from refq.errors import RefqError

    try:
        config._refq_backend, config._refq_selected = _selected_cases(config)
    except RefqError as error:
        raise _usage(error) from None


def pytest_unconfigure(config) -> None:
    backend = getattr(config, "_refq_backend", None)
    if backend is not None:
        backend.close()


class CaseFailure(Exception):
    """A case that failed or errored; its message is the report."""


class ConformanceSuite(pytest.File):
    """Every case the backend is judged on, from the installed vectors."""

    def collect(self):
        config = self.config
        backend = config._refq_backend
        skips = read_patterns(config.getoption("refq_skip"))
        xfails = read_patterns(config.getoption("refq_xfail"))
        for path in config._refq_selected:
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
