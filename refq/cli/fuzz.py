"""``refq fuzz``: differential fuzzing of a backend against refq, with shrinking.

Exit status 0 when no disagreement was found, 1 when one was (the minimal counterexample
is printed with its trace), 2 for a usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    from refq.conformance.fuzz import DEFAULT_MAX_EXAMPLES, OPERATIONS

    parser.add_argument("--backend", required=True, metavar="SPEC",
                        help="a built-in name, package.module:attr, path/to/file.py:attr, a plugin or 'cmd:COMMAND ...'")
    parser.add_argument("--op", required=True, choices=OPERATIONS, help="the operation to fuzz")
    parser.add_argument("--profile", help="judge against this profile instead of the backend's own")
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, metavar="N",
                        help=f"examples Hypothesis tries (default {DEFAULT_MAX_EXAMPLES})")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the seed of every draw (default 0)")
    parser.add_argument("--save-vector", metavar="DIR",
                        help="write the counterexample as a golden-vector case under DIR (a vectors root: "
                             "refq conform --vectors DIR runs it)")
    parser.add_argument("--database", metavar="DIR",
                        help="Hypothesis example database (default $REFQ_FUZZ_DATABASE or ~/.cache/refq/hypothesis)")
    parser.add_argument("--no-database", action="store_true", help="neither read nor keep earlier examples")
    parser.add_argument("--dtypes", metavar="LIST", help="comma-separated integer types (cast: target formats) to draw")
    parser.add_argument("--granularities", metavar="LIST",
                        help="comma-separated granularities to draw: per_tensor, per_axis, blocked")
    parser.add_argument("--isolate", action="store_true",
                        help="run a Python adapter in the harness's worker process (survives crashes; slower)")


def run(args: argparse.Namespace) -> int:
    from refq.conformance.fuzz import fuzz, report

    def names(text):
        return None if text is None else [name.strip() for name in text.split(",") if name.strip()]

    result = fuzz(args.backend, args.op, profile=args.profile, max_examples=args.max_examples, seed=args.seed,
                  database=Path(args.database) if args.database else None, use_database=not args.no_database,
                  isolate=args.isolate, dtypes=names(args.dtypes), granularities=names(args.granularities),
                  save_vector=Path(args.save_vector) if args.save_vector else None)
    print(report(result))
    return 1 if result.found else 0
