"""What a generator hands the writer: one case, before refq computes its expected outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CaseSpec:
    """One case directory: the same inputs and attributes, run under each of ``profiles``.

    ``inputs`` maps the operation's input names to arrays, in ONNX order (a sequence input of
    the registry, such as ``qlinear_concat``'s ``inputs``, to a list of tuples of arrays); ``clauses``
    lists the clauses the case exercises beyond the operation's own; ``outcome`` is
    what the generator intends ("valid" or "error"), checked against the reference so
    that a generator bug cannot turn a meant error case into a valid one unnoticed.
    """

    op: str
    name: str
    inputs: dict[str, np.ndarray | list[tuple[np.ndarray | None, ...]]]
    attributes: dict
    clauses: tuple[str, ...]
    description: str
    generator: str
    seed: int
    profiles: tuple[str, ...]
    outcome: str = "valid"
