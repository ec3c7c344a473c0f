"""``refq fingerprint``: which variant values a backend implements, and the nearest profile."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from refq.errors import invalid


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", action="append", default=[], metavar="SPEC",
                        help="a built-in name, package.module:attr, path/to/file.py:attr, a plugin or cmd:COMMAND "
                             "(repeatable)")
    parser.add_argument("--all", action="store_true", help="every built-in backend that loads here")
    parser.add_argument("--json", metavar="PATH", help="write the fingerprints as JSON")
    parser.add_argument("--markdown", action="store_true",
                        help="print the tables of docs/conformance/fingerprints.md instead of the text report")


def fingerprints(specs: list[str], skip_unavailable: bool) -> list:
    from refq.conformance import fingerprint
    from refq.conformance.loading import BackendUnavailable

    results = []
    for spec in specs:
        try:
            adapter = fingerprint.load(spec)
        except BackendUnavailable:
            if skip_unavailable:
                continue
            raise
        try:
            results.append(fingerprint.fingerprint(adapter))
        finally:
            if hasattr(adapter, "close"):
                adapter.close()
    return results


def run(args: argparse.Namespace) -> int:
    from refq.conformance import fingerprint

    specs = list(args.backend) + (fingerprint.all_builtin() if args.all else [])
    if not specs:
        raise invalid("--backend", "at least one SPEC, or --all", None)
    results = fingerprints(specs, skip_unavailable=args.all)
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        print(fingerprint.render_markdown(results), end="")
    else:
        for result in results:
            fingerprint.render_text(print, result)
    return 0
