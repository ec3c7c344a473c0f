"""``refq backends install NAME``: create the interpreter of a backend whose package cannot share refq's
environment (:mod:`refq.backends.interpreters`): a virtual environment with the engine at its verified
release and refq installed there without dependencies. Installing again does nothing."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from refq.backends.interpreters import ENVIRONMENTS, cache_folder_description

    parser.add_argument("action", choices=("install",),
                        help=f"install: create the backend's environment under {cache_folder_description()}")
    parser.add_argument("name", choices=tuple(ENVIRONMENTS),
                        help="the backend whose environment to create: " + ", ".join(
                            f"{name} ({environment.requirements[0]})" for name, environment in ENVIRONMENTS.items()))


def run(args: argparse.Namespace) -> int:
    from refq.backends.interpreters import EnvironmentUnavailable, install
    from refq.errors import RefqValueError

    try:
        python, created = install(args.name)
    except (EnvironmentUnavailable, OSError) as error:
        raise RefqValueError(f"backends install {args.name}: {error}") from None
    print(f"{args.name}: {python} ({'installed' if created else 'already installed'})")
    return 0
