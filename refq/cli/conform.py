"""``refq conform``: run backends against the golden vectors and print the matrix.

Exit status 0 when cases ran and none failed or errored, 1 when one did, 2 for a usage error
(finding no case to run included). The
report starts with one line per backend: verified with its installed release, or not
(``refq.registry.verified``; a warning, never a failure).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

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
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="backends run at the same time, each in its own worker (default: the CPU count; "
                             "1 draws the progress bar)")
    parser.add_argument("--all", action="store_true",
                        help="list every operation in the matrix, those no backend supports included")
    parser.add_argument("--figure", action="store_true",
                        help="with --markdown: put the matrix as an SVG figure (a colour per operation and "
                             "backend) before the tables")
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


def _check_level(args: argparse.Namespace) -> None:
    """Level 2 runs only where it was built: running level 1 in its place would report a level never checked."""
    from pathlib import Path

    from refq.conformance.case import vectors_root

    if args.level != 2:
        return
    root = Path(args.vectors) if args.vectors is not None else vectors_root()
    level_two = root / "level2"
    if not (level_two.is_dir() and next(level_two.rglob("*.json"), None) is not None):
        where = f"under {root}" if args.vectors is not None else "in the installed vectors"
        raise invalid("--level", f"1, or 2 once `refq vectors build --level 2` has built it (no level2/ {where})",
                      args.level)


def _check_cases_for(backend, paths: list, args: argparse.Namespace, ops: list[str] | None) -> None:
    """A profile (asked for, or declared by the backend) with no case for the chosen operations is a usage error."""
    from refq.conformance.harness import select_cases

    if select_cases(backend, paths, args.profile):
        return
    which = ", ".join(ops) if ops else "any operation"
    offered = ", ".join(sorted({path.stem for path in paths}))
    if args.profile is not None:
        raise invalid("--profile", f"a profile with level-{args.level} cases for {which} (cases exist under: "
                                   f"{offered})", args.profile)
    raise invalid(f"--backend {backend.spec}", f"a backend whose profile has cases for {which} (it declares "
                                              f"{backend.profile!r}; cases exist under: {offered}; or pass --profile)",
                  backend.name)


def run(args: argparse.Namespace) -> int:
    from refq.backends import BUILTIN
    from refq.cli.output_paths import check_file, write_all
    from refq.conformance.harness import case_paths, check_declared_profile, load_backend, run_cases
    from refq.conformance.loading import BackendUnavailable
    from refq.conformance.report import (BackendRun, failure_details, json_text, junit_xml, matrix,
                                         matrix_markdown, matrix_svg, version_lines)
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME
    from refq.registry.verified import check_backend

    if args.level not in (1, 2):
        raise invalid("--level", "1 or 2", args.level)
    if not args.timeout > 0:
        raise invalid("--timeout", "a positive number of seconds", args.timeout)
    if args.figure and not args.markdown:
        raise invalid("--figure", "used with --markdown (the figure is part of the Markdown page)", True)
    if args.jobs is not None and args.jobs < 1:
        raise invalid("--jobs", "a number of backends >= 1", args.jobs)
    if args.details < 0:
        raise invalid("--details", "a number of cases >= 0", args.details)
    if args.profile is not None and args.profile not in EVERY_PROFILE_BY_NAME:
        raise invalid("--profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), args.profile)
    # Before the run, not after it: a report that cannot be written must not cost the run.
    check_file(args.json, "--json")
    check_file(args.junit, "--junit")
    if args.json is not None and args.junit is not None and Path(args.json).absolute() == Path(args.junit).absolute():
        raise invalid("--junit", "a path other than --json's", args.junit)
    ops = _ops(args.ops)
    _check_level(args)
    paths = case_paths(level=args.level, ops=ops, root=args.vectors)
    if not paths:
        # Exit status 0 must mean something was checked and passed: finding no case is a usage error.
        raise _nothing_to_run(args, ops)
    explicit = bool(args.backend)
    specs = args.backend or list(BUILTIN)
    jobs = min(len(specs), args.jobs or os.cpu_count() or 1)
    # One progress bar cannot show several backends at once: with jobs > 1 the summary lines say it all.
    progress = False if args.no_progress or jobs > 1 else None

    def run_backend(spec: str) -> BackendRun:
        start = time.perf_counter()
        try:
            backend = load_backend(spec, args.profile)
        except BackendUnavailable as error:
            if explicit:
                raise
            return BackendRun(spec, spec, args.profile or "", "", [], unavailable=str(error),
                              verification=check_backend(spec))
        startup = time.perf_counter() - start
        with backend:
            check_declared_profile(backend)
            if explicit:
                _check_cases_for(backend, paths, args, ops)
            results = run_cases(backend, paths, profile=args.profile, timeout=args.timeout, progress=progress)
        return BackendRun(spec, backend.name, backend.profile, backend.version, results,
                          seconds=time.perf_counter() - start, startup_seconds=startup,
                          verification=check_backend(backend.name, backend.version))

    from refq.conformance.worker import reusing_workers

    # A backend's worker, once done, takes the next backend: torch and torchao are imported once per job.
    with reusing_workers(limit=jobs):
        if jobs == 1:
            runs = [run_backend(spec) for spec in specs]
        else:
            # Each backend computes in its own worker process; this process only feeds and compares.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                runs = list(pool.map(run_backend, specs))
    details = failure_details(runs, cases_per_backend=args.details)
    versions = version_lines(runs)
    if args.markdown:
        # stdout is the page's Markdown; the version lines are for the person running it
        if versions:
            print(versions, file=sys.stderr)
        if args.figure:
            # A block-level wrapper: Markdown passes its content through as it is.
            print(f'<div class="refq-matrix-figure">\n{matrix_svg(runs)}</div>\n')
        print(matrix_markdown(runs), end="")
        if details:
            print(details, file=sys.stderr)
    else:
        if versions:
            print(versions)
            print()
        print(matrix(runs, every_operation=args.all))
        if details:
            print()
            print(details)
    sys.stdout.flush()
    # Printed first, written second: a write that fails now loses nothing (the report goes to a temporary file).
    writes = []
    if args.json:
        writes.append(("--json", args.json, json_text(runs, level=args.level)))
    if args.junit:
        writes.append(("--junit", args.junit, junit_xml(runs)))
    written = write_all(writes)
    if written:
        return written
    if not all(run.ok for run in runs):
        return 1
    if all(run.unavailable for run in runs):
        print("refq: error: --backend: no backend could run here: " + "; ".join(run.unavailable for run in runs),
              file=sys.stderr)
        return 2
    if not any(run.checked for run in runs):
        print("refq: error: --ops: nothing was checked: every case is unsupported by "
              + ", ".join(run.name for run in runs) + " (choose operations the backend implements)", file=sys.stderr)
        return 2
    return 0
