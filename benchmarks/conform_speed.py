"""Whole-suite speed: ``refq conform`` over every built-in backend at level 1 (target: under 20 s), with
each backend's worker start-up as the report gives it, and level 2 on one backend (target: under 60 s),
its vectors' build timed apart.

Each run is the command line itself, in a subprocess, with its default ``--jobs`` (the CPU count);
the wall time is the subprocess's, the per-backend seconds and start-up are read from its ``--json``
report. Level 2 is built on demand (``refq vectors build --level 2 --out DIR``): ``--level2-vectors DIR``
uses a root built before, otherwise the build runs in a temporary folder and is timed as its own row.

    python benchmarks/conform_speed.py [--level2 onnxruntime] [--level2-vectors DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from record import Measurement, print_routes, print_table, write  # beside this script

LEVEL_1_LIMIT, LEVEL_2_LIMIT = 20.0, 60.0


def refq_command() -> list[str]:
    return [sys.executable, "-m", "refq"]


def timed(arguments: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    began = time.perf_counter()
    completed = subprocess.run(refq_command() + arguments, capture_output=True, text=True)
    return time.perf_counter() - began, completed


def conform(arguments: list[str], folder: str) -> tuple[float, dict]:
    report = os.path.join(folder, "conform.json")
    seconds, completed = timed(["conform", "--no-progress", "--json", report, *arguments])
    if not os.path.exists(report):
        raise SystemExit(f"conform_speed: refq conform {' '.join(arguments)} wrote no report "
                         f"(exit {completed.returncode}): {completed.stderr.strip()[-400:]}")
    lines = [line for line in completed.stdout.splitlines() if "of which start-up" in line]
    print("\n".join(lines), flush=True)
    return seconds, json.loads(Path(report).read_text())


def backend_details(report: dict) -> dict:
    details = {}
    for backend in report["backends"]:
        if backend["available"]:
            details[f"{backend['backend']} seconds"] = backend["seconds"]
            details[f"{backend['backend']} start-up seconds"] = backend["startup_seconds"]
        else:
            details[f"{backend['backend']} unavailable"] = str(backend["unavailable"])
    return details


def level_one(folder: str) -> Measurement:
    seconds, report = conform(["--level", "1"], folder)
    available = [backend for backend in report["backends"] if backend["available"]]
    startup = sum(backend["startup_seconds"] for backend in available)
    slowest = max(available, key=lambda backend: backend["startup_seconds"])
    print(f"refq conform --level 1, {len(available)} backends: {seconds:.1f} s wall, {startup:.1f} s of start-up "
          f"summed over the backends (slowest: {slowest['backend']} {slowest['startup_seconds']:.1f} s)", flush=True)
    details = {"backends": len(available), "start-up seconds, summed": startup, **backend_details(report)}
    return Measurement("conform_speed", "refq conform", f"level 1, every built-in backend ({len(available)})", "s",
                       seconds, note=f"--jobs {os.cpu_count()} (the CPU count); start-up summed over the backends "
                       f"{startup:.1f} s, slowest {slowest['backend']} {slowest['startup_seconds']:.1f} s",
                       limit=LEVEL_1_LIMIT, details=details)


def level_two(backend: str, vectors: str | None, folder: str) -> list[Measurement]:
    measurements = []
    if vectors is None:
        vectors = os.path.join(folder, "vectors")
        seconds, completed = timed(["vectors", "build", "--level", "2", "--out", vectors])
        if completed.returncode != 0:
            raise SystemExit(f"conform_speed: refq vectors build --level 2 failed: {completed.stderr.strip()[-400:]}")
        cases = sum(1 for _ in Path(vectors, "level2").rglob("*.json"))
        print(f"refq vectors build --level 2: {seconds:.1f} s, {cases} files", flush=True)
        measurements.append(Measurement("conform_speed", "refq vectors build", "level 2, every operation", "s", seconds,
                                        note=f"{cases} files; built once, then run by any number of backends",
                                        details={"files": cases}))
    seconds, report = conform(["--level", "2", "--vectors", vectors, "--backend", backend], folder)
    [run] = report["backends"]
    summary = run["summary"]
    print(f"refq conform --level 2 --backend {backend}: {seconds:.1f} s wall", flush=True)
    measurements.append(Measurement(
        "conform_speed", "refq conform", f"level 2, {backend}", "s", seconds, limit=LEVEL_2_LIMIT,
        note=f"start-up {run['startup_seconds']:.1f} s; vectors built apart",
        details={"cases": len(run["cases"]), **backend_details(report),
                 **{f"summary {key}": value for key, value in summary.items() if isinstance(value, (int, float))}}))
    return measurements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level2", metavar="BACKEND", help="also run level 2 on this backend (e.g. onnxruntime)")
    parser.add_argument("--level2-vectors", metavar="DIR", help="a vectors root with level2/ built before")
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    print_routes()
    with tempfile.TemporaryDirectory(prefix="refq-conform-speed-") as folder:
        measurements = [level_one(folder)]
        if args.level2:
            measurements += level_two(args.level2, args.level2_vectors, folder)
    print_table(measurements)
    if args.json:
        write(measurements, args.json)


if __name__ == "__main__":
    main()
