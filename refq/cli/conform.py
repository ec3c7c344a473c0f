"""``refq conform``: run backends against the golden vectors and print the matrix.

Exit status 0 when cases ran and none failed or errored, 1 when one did, 2 for a usage error
(finding no case to run included). The
report starts with one line per backend: verified with its installed release, or not
(``refq.registry.verified``; a warning, never a failure).
"""

from __future__ import annotations

import argparse
import sys
import time

from refq.errors import invalid


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", action="append", default=[], metavar="SPEC",
                        help="a built-in name, package.module:attr, path/to/file.py:attr, a plugin name or "
                             "'cmd:COMMAND ...' (repeatable; default: every installed built-in backend)")
    parser.add_argument("--profile", help="judge every backend against this profile instead of its own")
    parser.add_argument("--ops", help="comma-separated operations (default: all)")
    parser.add_argument("--level", type=int, default=1, help="vector level, 1 (shipped) or 2 (built on demand)")
    parser.add_argument("--vectors", metavar="DIR", help="vectors folder (default: the installed ones)")
    parser.add_argument("--json", metavar="PATH", help="write the JSON report here")
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    parser.add_argument("--details", type=int, default=10, metavar="N",
                        help="failing cases detailed per backend (default 10)")
    parser.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    parser.add_argument("--markdown", action="store_true",
                        help="print the matrix as Markdown tables (docs/conformance/matrix.md) instead of the "
                             "terminal matrix; failure details go to stderr")


def _ops(text: str | None) -> list[str] | None:
    from refq.registry.operations import OPERATIONS_BY_NAME

    if text is None:
        return None
    ops = [op.strip() for op in text.split(",") if op.strip()]
    if not ops:
        raise invalid("--ops", "one or more comma-separated operations", text)
    for op in ops:
        if op not in OPERATIONS_BY_NAME:
            raise invalid("--ops", "comma-separated operations from " + ", ".join(OPERATIONS_BY_NAME), op)
    return ops


def _nothing_to_run(args: argparse.Namespace, ops: list[str] | None):
    """The usage error for a run that found no case, naming the argument that led there."""
    from pathlib import Path

    if args.vectors is not None:
        folder = Path(args.vectors)
        hint = (f" (a vectors root holds level1/ and level2/: try {folder.parent})"
                if folder.name in ("level1", "level2") else "")
        return invalid("--vectors", f"a vectors folder holding level-{args.level} cases{hint}", args.vectors)
    if args.level == 2:
        return invalid("--level", "1, or 2 once `refq vectors build --level 2` has built it", args.level)
    return invalid("--ops", f"operations with level-{args.level} vectors", args.ops)


def run(args: argparse.Namespace) -> int:
    from refq.backends import BUILTIN
    from refq.conformance.harness import case_paths, load_backend, run_cases
    from refq.conformance.loading import BackendUnavailable
    from refq.conformance.report import (BackendRun, failure_details, matrix, matrix_markdown, write_json,
                                         write_junit)
    from refq.conformance.report import version_lines
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME
    from refq.registry.verified import check_backend

    if args.level not in (1, 2):
        raise invalid("--level", "1 or 2", args.level)
    if not args.timeout > 0:
        raise invalid("--timeout", "a positive number of seconds", args.timeout)
    if args.profile is not None and args.profile not in EVERY_PROFILE_BY_NAME:
        raise invalid("--profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), args.profile)
    ops = _ops(args.ops)
    paths = case_paths(level=args.level, ops=ops, root=args.vectors)
    if not paths:
        # Exit status 0 must mean something was checked and passed: finding no case is a usage error.
        raise _nothing_to_run(args, ops)
    explicit = bool(args.backend)
    specs = args.backend or list(BUILTIN)
    runs = []
    for spec in specs:
        start = time.perf_counter()
        try:
            backend = load_backend(spec, args.profile)
        except BackendUnavailable as error:
            if explicit:
                raise
            runs.append(BackendRun(spec, spec, args.profile or "", "", [], unavailable=str(error),
                                   verification=check_backend(spec)))
            continue
        with backend:
            results = run_cases(backend, paths, profile=args.profile, timeout=args.timeout,
                                progress=False if args.no_progress else None)
        runs.append(BackendRun(spec, backend.name, backend.profile, backend.version, results,
                               seconds=time.perf_counter() - start, verification=check_backend(backend.name)))
    details = failure_details(runs, cases_per_backend=args.details)
    versions = version_lines(runs)
    if args.markdown:
        # stdout is the page's Markdown; the version lines are for the person running it
        if versions:
            print(versions, file=sys.stderr)
        print(matrix_markdown(runs), end="")
        if details:
            print(details, file=sys.stderr)
    else:
        if versions:
            print(versions)
            print()
        print(matrix(runs))
        if details:
            print()
            print(details)
    if args.json:
        write_json(args.json, runs, level=args.level)
    if args.junit:
        write_junit(args.junit, runs)
    return 0 if all(run.ok for run in runs) else 1
