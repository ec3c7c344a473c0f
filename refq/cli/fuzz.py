"""``refq fuzz``: differential fuzzing of a backend against refq, with shrinking.

Exit status 0 when no disagreement was found, 1 when one was (the minimal counterexample
is printed with its trace), 2 for a usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    from refq.conformance.fuzz import DEFAULT_MAX_EXAMPLES, OPERATIONS, default_database_description

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
                        help=f"Hypothesis example database (default {default_database_description()})")
    parser.add_argument("--no-database", action="store_true", help="neither read nor keep earlier examples")
    parser.add_argument("--dtypes", metavar="LIST", help="comma-separated integer types (cast, quantize_linear_float: target formats) to draw")
    parser.add_argument("--granularities", metavar="LIST",
                        help="comma-separated granularities to draw: per_tensor, per_axis, blocked")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one call may take (default 60); the first call that hangs ends the run "
                             "as its counterexample")
    parser.add_argument("--in-process", action="store_true",
                        help="call a Python adapter in this process instead of the worker process "
                             "(a crash of the adapter then ends the run)")
    parser.add_argument("--isolate", action="store_true", help=argparse.SUPPRESS)  # the default now; kept working


def run(args: argparse.Namespace) -> int:
    import sys

    from refq.cli.output_paths import check_folder
    from refq.conformance.fuzz import fuzz, report, save_case

    def names(text):
        return None if text is None else [name.strip() for name in text.split(",") if name.strip()]

    if not 0 < args.timeout < float("inf"):
        from refq.errors import invalid

        raise invalid("--timeout", "a positive, finite number of seconds", args.timeout)
    check_folder(args.save_vector, "--save-vector")
    if args.database and not args.no_database:
        check_folder(args.database, "--database")
    result = fuzz(args.backend, args.op, profile=args.profile, max_examples=args.max_examples, seed=args.seed,
                  database=Path(args.database) if args.database else None, use_database=not args.no_database,
                  isolate=not args.in_process, dtypes=names(args.dtypes), granularities=names(args.granularities),
                  timeout=args.timeout)
    # The counterexample is printed before it is saved: a failed save must not lose it.
    print(report(result))
    sys.stdout.flush()
    if result.found and args.save_vector:
        try:
            result.saved = save_case(result, Path(args.save_vector))
        except OSError as error:
            print(f"refq: error: --save-vector: cannot write the case under {args.save_vector} "
                  f"({error.strerror or error}); the counterexample is printed above", file=sys.stderr)
            return 2
        print(f"written as a golden-vector case: {result.saved}")
    return 1 if result.found else 0
