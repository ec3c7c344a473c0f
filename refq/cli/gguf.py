"""``refq gguf verify MODEL.gguf``: every tensor of a GGUF file well formed, and (with ``--source``)
exactly what ggml's reference quantizer makes of the source weights, under which profile
(:mod:`refq.gguf.verify`).

Exit status: 0 every tensor well formed (and reproduced, with a source); 1 a tensor is malformed
or reproduced under no profile; 2 bad input, a file the gguf reader cannot read included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("verify",), help="verify: check the file's tensors")
    parser.add_argument("model", type=Path, help="the .gguf file")
    parser.add_argument("--source", type=Path, default=None,
                        help="the weights it was quantized from: a .safetensors file (tensors by name) or a .npy")
    parser.add_argument("--tensor", default=None, help="check only this tensor (the one a .npy source holds)")
    parser.add_argument("--json", type=Path, default=None, help="also write the checks as JSON to this path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _progress(enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tensors", end="", file=sys.stderr)
        if done == total:
            print(file=sys.stderr)

    return show


def run(args: argparse.Namespace) -> int:
    from refq.cli.output_paths import check_file, write_all
    from refq.gguf.verify import to_json, verify

    check_file(args.json, "--json")
    checks = verify(args.model, source=args.source, tensor=args.tensor, progress=_progress(not args.no_progress))
    width = max((len(check.name) for check in checks), default=6)
    for check in checks:
        if check.status == "malformed":
            verdict = "MALFORMED: " + "; ".join(check.problems)
        elif check.status == "unchecked":
            verdict = "unchecked (a type refq does not define)"
        elif check.fits is None:
            verdict = "well formed" + (f", {check.blocks} blocks" if check.blocks else "")
        elif check.fits:
            verdict = "reproduced: " + ", ".join(check.fits) if check.fits != ["exact"] else "equals the source"
        else:
            verdict = "NOT REPRODUCED: " + "; ".join(check.problems)
        print(f"{check.name.ljust(width)}  {check.type:<8} {'x'.join(map(str, check.shape)):<14} {verdict}")
    failed = sum(check.failed for check in checks)
    print(f"{args.model}: {len(checks)} tensors, {failed} failed")
    written = 0
    if args.json is not None:
        written = write_all([("--json", args.json, json.dumps(to_json(checks), indent=2) + "\n")])
    return written or (1 if failed else 0)
