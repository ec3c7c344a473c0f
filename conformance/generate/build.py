"""``refq vectors build``: generate one level of golden vectors into a directory tree."""

from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from refq.conformance.case import vectors_root
from refq.conformance.generate.case_spec import CaseSpec
from refq.conformance.generate.writer import write_case
from refq.errors import invalid, wrong_type
from refq.registry.operations import OPERATIONS

#: The generator modules the operation records name, in registry order (each module once).
GENERATOR_MODULES = tuple(importlib.import_module(f"refq.conformance.generate.{name}") for name in
                          dict.fromkeys(name for operation in OPERATIONS for name in operation.generators))
#: Every generator, in build order.
GENERATORS = tuple(generator for module in GENERATOR_MODULES for generator in module.GENERATORS)
#: The operations whose records name a generator.
OPERATIONS_WITH_VECTORS: tuple[str, ...] = tuple(operation.name for operation in OPERATIONS if operation.generators)
LEVELS = (1, 2)


@dataclass(frozen=True)
class BuildSummary:
    level_directory: Path
    cases: int
    descriptors: int
    files: int
    bytes: int


def check_level(level) -> int:
    if isinstance(level, bool) or level not in LEVELS:
        raise invalid("level", "1 or 2", level)
    return level


def check_ops(ops) -> tuple[str, ...] | None:
    """None (every operation), or the named operations, each one with vectors."""
    if ops is None:
        return None
    if isinstance(ops, str):
        ops = [name.strip() for name in ops.split(",") if name.strip()]
    try:
        names = tuple(ops)
    except TypeError:
        raise wrong_type("ops", "operation names", ops) from None
    for name in names:
        if name not in OPERATIONS_WITH_VECTORS:
            raise invalid("ops", "operations among " + ", ".join(OPERATIONS_WITH_VECTORS), name)
    if not names:
        raise invalid("ops", "at least one operation", ops)
    return names


def case_specs(level: int = 1, ops=None) -> list[CaseSpec]:
    """Every case of ``level`` (restricted to ``ops``), in build order."""
    check_level(level)
    wanted = check_ops(ops)
    specs = [spec for generator in GENERATORS for spec in generator(level)]
    names = [(spec.op, spec.name) for spec in specs]
    if len(set(names)) != len(names):
        raise AssertionError("two generated cases share a name")
    return [spec for spec in specs if wanted is None or spec.op in wanted]


def level_directory(root: Path | None, level: int) -> Path:
    return (vectors_root() if root is None else Path(root)) / f"level{level}"


def build(level: int = 1, out: Path | str | None = None, ops=None) -> BuildSummary:
    """Write ``level``'s vectors under ``out`` (default: the installed package's vectors).

    The level's previous files are removed first (only those of ``ops`` when given), so no
    stale case survives a rebuild.
    """
    check_level(level)
    wanted = check_ops(ops)
    specs = case_specs(level, wanted)
    target = level_directory(None if out is None else Path(out), level)
    if target.exists() and not target.is_dir():
        raise invalid("out", "a directory", str(target))
    for stale in [target] if wanted is None else [target / op for op in wanted]:
        if stale.exists():
            shutil.rmtree(stale)
    target.mkdir(parents=True, exist_ok=True)
    descriptors = sum(write_case(spec, level, target) for spec in specs)
    written = [path for path in target.rglob("*") if path.is_file()]
    return BuildSummary(target, len(specs), descriptors, len(written), sum(path.stat().st_size for path in written))
