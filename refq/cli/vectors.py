"""``refq vectors build`` and ``refq vectors verify``: generate the golden vectors, and check them."""

from __future__ import annotations

import argparse
import time


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    build = actions.add_parser("build", help="generate one level of vectors (deterministic, from fixed seeds)",
                               description="Generate one level of golden vectors. The level's previous files are "
                                           "removed first (only those of --ops when given).")
    build.add_argument("--level", type=int, default=1, help="1 (checked in) or 2 (larger, built on demand); default 1")
    build.add_argument("--out", default=None, help="root directory (default: the installed package's vectors)")
    build.add_argument("--ops", default=None, help="comma-separated operations (default: all with vectors)")
    verify = actions.add_parser("verify", help="check schema, hashes, completeness, and bit-identity with a fresh build",
                                description="Check every descriptor against the schema and its files' SHA-256, that no "
                                            "file is unreferenced, and that a fresh build is bit-identical.")
    verify.add_argument("--level", type=int, default=1, help="1 or 2 (default 1)")
    verify.add_argument("--root", default=None, help="root directory (default: the installed package's vectors)")
    verify.add_argument("--no-rebuild", action="store_true", help="skip the comparison with a fresh build")


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        return run_build(args)
    return run_verify(args)


def run_build(args: argparse.Namespace) -> int:
    from refq.cli.output_paths import check_folder
    from refq.conformance.generate.build import build

    check_folder(args.out, "--out")

    started = time.perf_counter()
    summary = build(args.level, args.out, args.ops)
    elapsed = time.perf_counter() - started
    print(f"level {args.level}: {summary.cases} cases, {summary.descriptors} descriptors, {summary.files} files, "
          f"{summary.bytes / 1e6:.2f} MB in {summary.level_directory} ({elapsed:.1f} s)")
    return 0


def _check_root(root: str | None, level: int) -> None:
    """A --root that holds no level-N folder is a usage error (exit 2), not a failed verification."""
    from pathlib import Path

    from refq.errors import invalid

    if root is None:
        return
    folder = Path(root)
    if not folder.is_dir():
        raise invalid("--root", "an existing vectors root folder", root)
    if not (folder / f"level{level}").is_dir():
        hint = (f" (a vectors root holds level1/ and level2/: try {folder.parent})"
                if folder.name in ("level1", "level2") else f" (run `refq vectors build --level {level} --out {root}`)")
        raise invalid("--root", f"a vectors root holding level{level}/{hint}", root)


def run_verify(args: argparse.Namespace) -> int:
    if args.level not in (1, 2):
        from refq.errors import invalid

        raise invalid("--level", "1 or 2", args.level)
    _check_root(args.root, args.level)
    from refq.conformance.generate.verify import verify

    report = verify(args.level, args.root, rebuild=not args.no_rebuild)
    per_op = ", ".join(f"{op} {count}" for op, count in sorted(report.per_op.items()))
    print(f"level {args.level} in {report.level_directory}: {report.cases} cases, {report.descriptors} descriptors "
          f"({per_op or 'none'}), {report.files} files, {report.bytes / 1e6:.2f} MB"
          f"{'; compared with a fresh build' if report.rebuilt else ''}")
    if report.ok:
        print("ok")
        return 0
    print(f"{len(report.problems)} problem(s):")
    for problem in report.problems:
        print(f"  {problem}")
    return 1
