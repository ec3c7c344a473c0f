"""The ``refq`` command line.

Each subcommand lives in its own module of this package with two functions:
``configure(parser)`` adds its arguments and ``run(args) -> int`` executes it.
Bad input of any kind is a refq error (``refq.errors``): it prints one line on
stderr and exits with status 2. Any other exception is a bug (in refq, or in a
user's adapter) and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from refq.errors import RefqError

#: Subcommand name -> (module in refq.cli, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("explain", "show the bits, class and exact value of a number in any format"),
    "quantize": ("quantize", "quantize values under a profile; --trace explains each step"),
    "vectors": ("vectors", "build the golden vectors from fixed seeds, or verify them (schema, hashes, rebuild)"),
    "conform": ("conform", "run backends against the golden vectors; prints the operation x backend matrix"),
    "versions": ("versions", "the installed release of every real engine against the releases refq was verified with"),
    "fingerprint": ("fingerprint", "find which variant values a backend implements and its nearest profile"),
    "size": ("size", "model size in bytes at each bit width: refq size --params 70e9 --bits 4"),
    "mutation-score": ("mutants", "run the deliberately wrong backends against the vectors: the suite's score"),
    "fuzz": ("fuzz", "differential fuzzing of a backend against refq; shrinks a disagreement to a minimal case"),
    "sweep": ("sweep", "every float32 (or small-format) input through a backend and refq, compared bit for bit"),
    "gguf": ("gguf", "check a GGUF file: every tensor well formed, and the reference's bytes for its source weights"),
    "ggml": ("ggml", "build ggml's C block quantizers from llama-cpp-python's sources (the ggml backend)"),
    "backends": ("backends", "install a backend's own interpreter, for an engine whose pins conflict with refq's (tosa)"),
    "run": ("run", "run a quantized ONNX model node by node beside ONNX Runtime or another profile: the first tensor that differs"),
    "demo": ("demo", "train, quantize and run two digits models end to end; size, accuracy, bit-exactness, speed"),
}


class UsageError(RefqError):
    """A command line that does not parse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the whole usage block
        # "refq: error: conform: argument --level: ...", the one form every refq error line has.
        command = self.prog.removeprefix("refq").strip()
        raise UsageError(f"refq: error: {command}: {message}" if command else f"refq: error: {message}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; subcommand modules are imported only for ``command`` (all when None),
    so ``refq explain`` never pays for importing what ``refq conform`` needs."""
    parser = _Parser(prog="refq", description="refq: bit-exact reference quantization.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if command in (None, name):
            module = importlib.import_module(f"refq.cli.{module_name}")
            module.configure(sub)
            sub.add_argument("--verbose", action="store_true",
                             help="on an error raised by an adapter, show its traceback too")
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        command = next((word for word in argv if not word.startswith("-")), None)
        args = None
        args = build_parser(command if command in COMMANDS else "").parse_args(argv)
        return args._run(args)
    except RefqError as error:
        # Only refq's own errors: every validation raises one before computing, so a
        # plain ValueError or TypeError here is a bug, not bad input, and must show.
        details = getattr(error, "details", "")
        verbose = getattr(args, "verbose", False)
        if details and verbose:
            print(details.rstrip(), file=sys.stderr)
        message = str(error) + (" (--verbose shows the traceback)" if details and not verbose else "")
        if not message.startswith("refq: error:"):
            message = f"refq: error: {message}"
        print(message, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
