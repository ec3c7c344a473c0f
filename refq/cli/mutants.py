"""``refq mutation-score``: run every deliberately wrong backend against the vectors."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--level", type=int, default=1, choices=(1, 2), help="vectors up to this level (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")


def run(args: argparse.Namespace) -> int:
    from refq.conformance.mutants import DERIVED_PROFILE, INVALID_VALUES, MUTANTS, PENDING, mutation_score

    score = mutation_score(args.level, timeout=args.timeout)
    print(f"on {score.source}")
    width = max(len(m.__name__) for m in MUTANTS)
    for mutant in MUTANTS:
        count = score.caught[mutant.__name__]
        verdict = f"caught by {count} of {score.cases[mutant.__name__]} cases" if count else "SURVIVED"
        if mutant.__name__ in score.equivalent:
            verdict = "equivalent (not killable)"
        print(f"  {mutant.__name__:<{width}}  {verdict:<28} {mutant.defect()}")
    for name, (_, _, reason) in INVALID_VALUES.items():
        print(f"  {name:<{width}}  {'no single-defect mutant':<28} under {DERIVED_PROFILE}: {reason}")
    for name, defect in PENDING.items():
        print(f"  {name:<{width}}  {'pending (no reference)':<28} {defect}")
    for profile, failures in score.correct.items():
        state = "passes" if not failures else f"FAILS {len(failures)} cases: {', '.join(failures[:5])}"
        print(f"  correct adapter ({profile}): {state}")
    print(score.summary())
    return 0 if score.perfect else 1
