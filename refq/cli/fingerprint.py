"""``refq fingerprint``: which variant values a backend implements, and the nearest profile.

Exit status 0 when the backend's answers agree with the profile it declares, 1 when they deviate
from it (or a probe errored: a wrong dtype, a crash, a hang), 2 for a usage error. Python adapters
run in the worker process, so a crash or a hang costs one probe.
"""

from __future__ import annotations

import argparse
import json
import sys

from refq.errors import invalid


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", action="append", default=[], metavar="SPEC",
                        help="a built-in name, package.module:attr, path/to/file.py:attr, a plugin or cmd:COMMAND "
                             "(repeatable)")
    parser.add_argument("--all", action="store_true", help="every built-in backend that loads here")
    parser.add_argument("--json", metavar="PATH", help="write the fingerprints as JSON")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per probe call (default 60); a backend that hangs costs that probe")
    parser.add_argument("--markdown", action="store_true",
                        help="print the tables of docs/conformance/fingerprints.md instead of the text report")


def fingerprints(specs: list[str], skip_unavailable: bool, timeout: float = 60.0) -> list:
    from refq.conformance import fingerprint
    from refq.conformance.harness import check_declared_profile
    from refq.conformance.loading import BackendUnavailable

    results = []
    for spec in specs:
        try:
            backend = fingerprint.load(spec, timeout=timeout)
        except BackendUnavailable:
            if skip_unavailable:
                continue
            raise
        with backend:
            check_declared_profile(backend)
            results.append(fingerprint.fingerprint(backend))
    return results


def run(args: argparse.Namespace) -> int:
    from refq.cli.output_paths import check_file, write_all
    from refq.conformance import fingerprint

    specs = list(args.backend) + (fingerprint.all_builtin() if args.all else [])
    if not specs:
        raise invalid("--backend", "at least one SPEC, or --all", None)
    if not args.timeout > 0 or args.timeout == float("inf"):
        raise invalid("--timeout", "a positive, finite number of seconds", args.timeout)
    check_file(args.json, "--json")
    results = fingerprints(specs, skip_unavailable=args.all, timeout=args.timeout)
    if not results:
        raise invalid("--backend", "a backend that loads here", ", ".join(specs))
    if args.markdown:
        print(fingerprint.render_markdown(results), end="")
    else:
        for result in results:
            fingerprint.render_text(print, result)
    found = [(result.backend, line) for result in results for line in fingerprint.deviations(result)]
    # The verdict goes to stderr under --markdown, whose stdout is a page.
    stream = sys.stderr if args.markdown else sys.stdout
    if found:
        print(f"\n{len(found)} deviation(s) from the declared profile, or errors:", file=stream)
        for backend, line in found:
            print(f"  {backend}: {line}", file=stream)
    sys.stdout.flush()
    if args.json:
        written = write_all([("--json", args.json,
                              json.dumps([r.to_json() for r in results], indent=2) + "\n")])
        if written:
            return written
    return 1 if found else 0
