"""A `cmd:` backend written in Python: it runs a Python adapter on one case directory, as an
external program would (the protocol of docs/conformance/protocol.md).

    refq conform --backend "cmd:python conformance/examples/python_backend.py refq" --ops qlinear_matmul

The first argument is any ``--backend`` SPEC of a Python adapter; refq appends the case directory.
It reads ``case.json`` and the input files, calls the adapter's method for ``op`` with the inputs
in order and the attributes by keyword, and writes ``output.npy``. Exit status 3: the adapter has
no such method or raised NotImplementedError; 1: it raised anything else (a rejection).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

EXIT_UNSUPPORTED = 3


def load(directory: Path, entry):
    """One ``inputs`` entry of ``case.json``: None, an array, or a list of tuples of arrays."""
    if entry is None:
        return None
    if isinstance(entry, list):
        return [tuple(load(directory, element) for element in item) for item in entry]
    return np.load(directory / entry["file"], allow_pickle=False)


def main(argv: list[str]) -> int:
    from refq.conformance.loading import instantiate

    if len(argv) != 3:
        print("usage: python_backend.py SPEC CASE_DIR", file=sys.stderr)
        return 2
    spec, directory = argv[1], Path(argv[2])
    case = json.loads((directory / "case.json").read_text(encoding="utf-8"))
    adapter = instantiate(spec)
    if getattr(adapter, "configurable_profile", False):
        adapter.profile = case["profile"]
    method = getattr(adapter, case["op"], None)
    if not callable(method):
        return EXIT_UNSUPPORTED
    inputs = [load(directory, entry) for entry in case["inputs"].values()]
    try:
        with np.errstate(all="ignore"):
            output = method(*inputs, **case["attributes"])
    except NotImplementedError as error:
        print(error, file=sys.stderr)
        return EXIT_UNSUPPORTED
    except Exception as error:  # noqa: BLE001 - any failure is this backend rejecting the arguments
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    np.save(directory / "output.npy", np.asarray(output), allow_pickle=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
