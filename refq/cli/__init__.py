"""The ``refq`` command line.

Each subcommand lives in its own module of this package with two functions:
``configure(parser)`` adds its arguments and ``run(args) -> int`` executes it.
Bad input of any kind prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from refq.errors import RefqError

#: Subcommand name -> (module in refq.cli, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("explain", "show the bits, class and exact value of a number in any format"),
}


class UsageError(RefqError):
    """A command line that does not parse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the whole usage block
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="refq", description="refq: bit-exact reference quantization.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"refq.cli.{module_name}")
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args._run(args)
    except (RefqError, ValueError, TypeError, OverflowError) as error:
        # ValueError/TypeError: refq validates its input, but a parse of a user's
        # number may still fail inside the standard library; never a traceback.
        message = str(error)
        if not message.startswith("refq"):
            message = f"refq: error: {message}"
        print(message, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
