"""``refq versions``: every real engine's installed release against the releases refq was verified with.

A release that is not verified is reported, never an error: exit status 0 either way.
``--constraints`` prints ``constraints.txt`` (the verified releases, pinned), from the same record.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--constraints", action="store_true",
                        help="print the pip constraints file of the verified releases (constraints.txt)")


def table() -> str:
    from refq.registry.verified import VERIFIED, check_package

    rows = [("package", "installed", "verified", "status", "used by")]
    for entry in VERIFIED:
        check = check_package(entry.package)
        used_by = ", ".join(entry.backends) if entry.backends else entry.why
        # A source build has no pip metadata: its release is what `refq conform` reads from its backend.
        status = ("source build (refq ggml build)" if entry.source_build
                  else f"own interpreter (refq backends install {entry.environment})" if entry.environment
                  else check.status.replace("_", " "))
        rows.append((entry.package, check.installed or "-", ", ".join(entry.versions), status, used_by))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4]
                     for row in rows)


def run(args: argparse.Namespace) -> int:
    from refq.registry.verified import constraints_text

    print(constraints_text() if args.constraints else table(), end="" if args.constraints else "\n")
    return 0
