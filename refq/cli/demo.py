"""``refq demo``: train, calibrate, quantize and run two small digits models end to end, and print
the size / accuracy / bit-exactness / speed table (needs torch, onnx, onnxruntime, scikit-learn)."""

from __future__ import annotations

import argparse
import sys

from refq.errors import invalid


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="fewer training epochs and one timing run (what the test suite runs)")
    parser.add_argument("--model", action="append", choices=("mlp", "cnn"),
                        help="only this model; repeatable (default: mlp and cnn)")


def run(args: argparse.Namespace) -> int:
    try:
        from refq.demo import report
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise invalid("refq demo", "torch, onnx, onnxruntime and scikit-learn installed (pip install 'refq[all]' "
                      "scikit-learn)", f"missing {error.name}") from None
    settings = report.Settings.quick() if args.quick else report.Settings()
    architectures = tuple(dict.fromkeys(args.model or ("mlp", "cnn")))
    result = report.build_report(settings, architectures,
                                 log=lambda message: print(message, file=sys.stderr, flush=True))
    print("$ refq demo" + (" --quick" if args.quick else ""))
    print(report.format_report(result))
    return 0
