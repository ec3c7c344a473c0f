"""``refq vectors verify``: a vector tree is valid, complete, and exactly what a fresh build gives.

Checks, in order: every descriptor satisfies the schema and sits where its fields say
(``level<N>/<op>/<case>/<profile>.json``); its inputs are listed in the operation's ONNX
order, a sequence input as a list of tuples shaped as the operation declares; its clause IDs exist; every file it references exists with the recorded SHA-256,
dtype and shape; each affine case directory has a descriptor for every profile; no file
lies in the tree unreferenced; and a fresh build into a temporary directory produces the
same file names with the same bytes.
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

from refq.conformance.case import CaseFormatError, check_sequences, input_references, load_array, schema
from refq.conformance.generate.build import build, check_level, level_directory
from refq.conformance.generate.parameters import PROFILE_NAMES
from refq.conformance.generate.writer import AFFINE_OPERATIONS
from refq.registry import CLAUSES
from refq.registry.operations import OPERATIONS_BY_NAME

KNOWN_CLAUSES = {clause.id for clause in CLAUSES}


@dataclass
class VerifyReport:
    level_directory: Path
    descriptors: int = 0
    cases: int = 0
    files: int = 0
    bytes: int = 0
    per_op: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems



def _inputs_in_onnx_order(names: list[str], declared) -> bool:
    """Every input of the record in its order, where trailing optional ones (``B?``) may be left out, as
    ONNX leaves them out and the runners pass the adapter its default for them."""
    wanted = [name.rstrip("?") for name in declared]
    if names != wanted[:len(names)]:
        return False
    return all(name.endswith("?") for name in declared[len(names):])


def referenced_files(descriptor: dict) -> list[str]:
    files = [reference["file"] for entry in descriptor["inputs"].values() for reference in input_references(entry)]
    expected = descriptor["expected"]
    for key in ("output", "unpredictable"):
        if expected.get(key):
            files.append(expected[key]["file"])
    return files


@lru_cache(maxsize=1)
def schema_validator():
    """A validator built once: ``jsonschema.validate`` re-checks the schema itself on every call."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


def read_descriptor(path: Path) -> dict:
    """The descriptor at ``path``, checked against the schema (what ``load_case`` checks first)."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CaseFormatError(f"cannot read the descriptor: {error}") from None
    error = next(iter(schema_validator().iter_errors(descriptor)), None)
    if error is not None:
        raise CaseFormatError(f"does not satisfy the case schema: {error.message}")
    check_sequences(descriptor, "descriptor")
    return descriptor


def check_arrays(path: Path, descriptor: dict) -> list[str]:
    """Each referenced file exists and matches its SHA-256, dtype and shape (via ``load_array``)."""
    problems = []
    for name in referenced_files(descriptor):
        references = [reference for entry in descriptor["inputs"].values() for reference in input_references(entry)]
        entry = next(entry for entry in [*references, descriptor["expected"].get("output"),
                                         descriptor["expected"].get("unpredictable")]
                     if entry is not None and entry["file"] == name)
        if not (path.parent / name).is_file():
            problems.append(f"{name}: referenced but missing")
            continue
        try:
            load_array(path.parent, entry)
        except (CaseFormatError, OSError, ValueError) as error:
            problems.append(str(error).replace(str(path.parent) + "/", ""))
    return problems


def check_descriptor(path: Path, base: Path, level: int, report: VerifyReport) -> set[Path]:
    """Check one descriptor; returns the paths of the files it references."""
    where = path.relative_to(base)
    try:
        descriptor = read_descriptor(path)
    except CaseFormatError as error:
        report.problems.append(f"{where}: {error}")
        return set()
    report.problems.extend(f"{where}: {problem}" for problem in check_arrays(path, descriptor))
    op, profile, case_id = descriptor["op"], descriptor["profile"], descriptor["id"]
    parts = where.parts
    if len(parts) != 3:
        report.problems.append(f"{where}: not at <op>/<case>/<profile>.json")
    else:
        op_directory, case_name, _ = parts
        if (op, profile, descriptor["level"]) != (op_directory, path.stem, level):
            report.problems.append(f"{where}: op/profile/level {op}/{profile}/{descriptor['level']} differ from "
                                   f"its place in the tree")
        if case_id != f"{op_directory}/{case_name}/{path.stem}":
            report.problems.append(f"{where}: id {case_id!r} is not {op_directory}/{case_name}/{path.stem}")
    operation = OPERATIONS_BY_NAME.get(op)
    if operation is None or operation.reference is None:
        report.problems.append(f"{where}: {op!r} is not an operation with a reference implementation")
    elif not _inputs_in_onnx_order(list(descriptor["inputs"]), operation.inputs):
        report.problems.append(f"{where}: inputs {list(descriptor['inputs'])} are not {op}'s, in ONNX order")
    unknown = sorted(set(descriptor["clauses"]) - KNOWN_CLAUSES)
    if unknown:
        report.problems.append(f"{where}: unknown clause IDs {unknown}")
    report.descriptors += 1
    report.per_op[op] = report.per_op.get(op, 0) + 1
    return {path.parent / name for name in referenced_files(descriptor)}


def compare_trees(expected: Path, actual: Path, report: VerifyReport, limit: int = 20) -> None:
    """Every file of the fresh build ``expected`` is in ``actual`` with the same bytes, and no more."""
    fresh = {path.relative_to(expected) for path in expected.rglob("*") if path.is_file()}
    present = {path.relative_to(actual) for path in actual.rglob("*") if path.is_file()}
    differences = [f"{name}: missing (a fresh build writes it)" for name in sorted(fresh - present)]
    differences += [f"{name}: not written by a fresh build" for name in sorted(present - fresh)]
    differences += [f"{name}: differs from a fresh build" for name in sorted(fresh & present)
                    if (expected / name).read_bytes() != (actual / name).read_bytes()]
    report.problems.extend(differences[:limit])
    if len(differences) > limit:
        report.problems.append(f"... and {len(differences) - limit} more differences from a fresh build")


def verify(level: int = 1, root: Path | str | None = None, *, rebuild: bool = True) -> VerifyReport:
    """Verify ``level``'s vectors under ``root`` (default: the installed package's)."""
    check_level(level)
    base = level_directory(None if root is None else Path(root), level)
    report = VerifyReport(base)
    if not base.is_dir():
        report.problems.append(f"{base}: no level-{level} vectors (run `refq vectors build --level {level}`)")
        return report
    files = sorted(path for path in base.rglob("*") if path.is_file())
    report.files, report.bytes = len(files), sum(path.stat().st_size for path in files)
    descriptors = [path for path in files if path.suffix == ".json"]
    referenced: set[Path] = set()
    for path in descriptors:
        referenced |= check_descriptor(path, base, level, report)
    for stray in sorted(set(files) - referenced - set(descriptors)):
        report.problems.append(f"{stray.relative_to(base)}: not referenced by any descriptor")
    case_directories = sorted({path.parent for path in descriptors})
    report.cases = len(case_directories)
    for directory in case_directories:
        if directory.parent.name in AFFINE_OPERATIONS:
            absent = [name for name in PROFILE_NAMES if not (directory / f"{name}.json").is_file()]
            if absent:
                report.problems.append(f"{directory.relative_to(base)}: no descriptor for profiles {absent}")
    if rebuild:
        with tempfile.TemporaryDirectory(prefix="refq-vectors-") as temporary:
            fresh = build(level, temporary)
            compare_trees(fresh.level_directory, base, report)
        report.rebuilt = True
    return report
