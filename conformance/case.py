"""A conformance case: its descriptor (``<name>.json``, validated against the shipped JSON
Schema) and its ``.npy`` arrays, always loaded with ``allow_pickle=False``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from refq.errors import RefqValueError, invalid

SCHEMA_VERSION = 1


class CaseFormatError(RefqValueError):
    """A descriptor or one of its files is malformed, fails the schema, or fails its hash."""


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema every case descriptor satisfies."""
    text = resources.files("refq.conformance").joinpath("schema", f"case-v{SCHEMA_VERSION}.schema.json").read_text()
    return json.loads(text)


def vectors_root() -> Path:
    """Where the installed golden vectors live (``<level>/<op>/<case>/``)."""
    return Path(str(resources.files("refq.conformance").joinpath("vectors")))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Case:
    """One case, with its arrays loaded (inputs in the operation's ONNX order)."""

    id: str
    op: str
    profile: str
    clauses: tuple[str, ...]
    description: str
    level: int
    attributes: dict
    inputs: dict[str, np.ndarray | None]
    outcome: str  # "valid" or "error"
    expected: np.ndarray | None = None
    unpredictable: np.ndarray | None = None
    reason: str = ""
    generator: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def expects_error(self) -> bool:
        return self.outcome == "error"


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    # Checking the schema itself once, not on every case, is most of the harness's speed.
    validator_class = jsonschema.validators.validator_for(schema())
    validator_class.check_schema(schema())
    return validator_class(schema())


def validate_descriptor(descriptor: dict, where: str = "descriptor") -> None:
    import jsonschema

    try:
        _validator().validate(descriptor)
    except jsonschema.ValidationError as error:
        raise CaseFormatError(f"{where}: does not satisfy the case schema: {error.message}") from None


def load_array(directory: Path, reference: dict, *, check_hash: bool = True) -> np.ndarray:
    path = directory / reference["file"]
    if check_hash and sha256(path) != reference["sha256"]:
        raise CaseFormatError(f"{path}: SHA-256 does not match its descriptor")
    array = np.load(path, allow_pickle=False)
    if str(array.dtype) != reference["dtype"] or list(array.shape) != reference["shape"]:
        raise CaseFormatError(f"{path}: dtype/shape {array.dtype}{list(array.shape)} differ from the descriptor")
    return array


def load_case(path: Path, *, check_hash: bool = True) -> Case:
    """Read one descriptor and its arrays, validating schema, hashes, dtypes and shapes."""
    path = Path(path)
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CaseFormatError(f"{path}: cannot read the descriptor: {error}") from None
    validate_descriptor(descriptor, str(path))
    directory = path.parent
    inputs = {name: None if ref is None else load_array(directory, ref, check_hash=check_hash)
              for name, ref in descriptor["inputs"].items()}
    expected = descriptor["expected"]
    case = Case(
        id=descriptor["id"], op=descriptor["op"], profile=descriptor["profile"],
        clauses=tuple(descriptor["clauses"]), description=descriptor["description"], level=descriptor["level"],
        attributes=descriptor["attributes"], inputs=inputs, outcome=expected["outcome"],
        generator=descriptor["generator"], path=path,
    )
    if case.outcome == "valid":
        case.expected = load_array(directory, expected["output"], check_hash=check_hash)
        if expected.get("unpredictable"):
            case.unpredictable = load_array(directory, expected["unpredictable"], check_hash=check_hash)
    else:
        case.reason = expected["reason"]
    return case


def iter_case_paths(root: Path | None = None, *, level: int = 1, ops: set[str] | None = None,
                    profile: str | None = None) -> Iterator[Path]:
    """Descriptor paths of the vectors up to ``level``, filtered by operation and profile."""
    if level not in (1, 2):
        raise invalid("level", "1 or 2", level)
    root = vectors_root() if root is None else Path(root)
    for current in range(1, level + 1):
        base = root / f"level{current}"
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.json")):
            op = path.relative_to(base).parts[0]
            if ops is not None and op not in ops:
                continue
            if profile is not None and path.stem != profile:
                continue
            yield path
