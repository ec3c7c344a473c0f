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
    """One case, with its arrays loaded (inputs in the operation's ONNX order; a sequence input,
    such as ``qlinear_concat``'s ``inputs``, is a list of tuples of arrays)."""

    id: str
    op: str
    profile: str
    clauses: tuple[str, ...]
    description: str
    level: int
    attributes: dict
    inputs: dict[str, np.ndarray | None | list[tuple[np.ndarray | None, ...]]]
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


def check_sequences(descriptor: dict, where: str = "descriptor") -> None:
    """A list-valued input is exactly where the operation declares a sequence input (and nowhere
    else), each of its tuples with as many elements as the operation's tuples have."""
    from refq.registry.operations import OPERATIONS_BY_NAME

    operation = OPERATIONS_BY_NAME.get(descriptor["op"])
    sequences = operation.sequences if operation is not None else {}
    for name, entry in descriptor["inputs"].items():
        elements = sequences.get(name)
        if elements is None:
            if isinstance(entry, list):
                raise CaseFormatError(f"{where}: input {name!r} is a list, but {descriptor['op']} has no sequence "
                                      f"input of that name (sequence inputs: {', '.join(sequences) or 'none'})")
            continue
        if not isinstance(entry, list):
            raise CaseFormatError(f"{where}: input {name!r} of {descriptor['op']} must be a list of tuples "
                                  f"({', '.join(elements)}), got {type(entry).__name__}")
        for index, item in enumerate(entry):
            if len(item) != len(elements):
                raise CaseFormatError(f"{where}: {name}[{index}] has {len(item)} elements; a tuple of "
                                      f"{descriptor['op']}'s {name} has {len(elements)} ({', '.join(elements)})")
            for element, reference in zip(elements, item):
                if reference is None and not element.endswith("?"):
                    raise CaseFormatError(f"{where}: {name}[{index}] omits {element}, which is required")


def input_references(entry) -> list[dict]:
    """The array references of one ``inputs`` entry: none (null), itself, or each of its tuples' present elements."""
    if entry is None:
        return []
    if isinstance(entry, list):
        return [reference for item in entry for reference in item if reference is not None]
    return [entry]


def load_input(directory: Path, entry, *, check_hash: bool = True):
    """One ``inputs`` entry loaded: None, an array, or (a sequence input) a list of tuples of arrays."""
    if entry is None:
        return None
    if isinstance(entry, list):
        return [tuple(None if reference is None else load_array(directory, reference, check_hash=check_hash)
                      for reference in item) for item in entry]
    return load_array(directory, entry, check_hash=check_hash)


def _inside(directory: Path, path: Path) -> bool:
    """Whether ``path``, symbolic links followed, lies in ``directory``: a case reads its own files only."""
    try:
        path.resolve(strict=True).relative_to(directory.resolve(strict=True))
    except (OSError, ValueError, RuntimeError):  # missing, outside, or a symlink loop
        return False
    return True


def load_array(directory: Path, reference: dict, *, check_hash: bool = True) -> np.ndarray:
    path = directory / reference["file"]
    if not path.is_file():
        raise CaseFormatError(f"{path}: no such file (named by its descriptor)")
    if not _inside(directory, path):
        raise CaseFormatError(f"{path}: leads outside its case folder {directory} (a symbolic link?)")
    try:
        if check_hash and sha256(path) != reference["sha256"]:
            raise CaseFormatError(f"{path}: SHA-256 does not match its descriptor")
        # Whatever the bytes are (truncated, a pickle, a header numpy cannot parse), a malformed file
        # is a malformed case, never another exception.
        array = np.load(path, allow_pickle=False)
    except CaseFormatError:
        raise
    # numpy's header parser lets its tokenizer's errors through (the fuzzer found tokenize.TokenError):
    # any exception from parsing these untrusted bytes means the file is malformed.
    except Exception as error:  # noqa: BLE001
        raise CaseFormatError(f"{path}: not a readable .npy file ({type(error).__name__}: {error})") from None
    if not isinstance(array, np.ndarray):
        raise CaseFormatError(f"{path}: holds {type(array).__name__}, not one array")
    if str(array.dtype) != reference["dtype"] or list(array.shape) != reference["shape"]:
        raise CaseFormatError(f"{path}: dtype/shape {array.dtype}{list(array.shape)} differ from the descriptor")
    return array


def load_case(path: Path, *, check_hash: bool = True) -> Case:
    """Read one descriptor and its arrays, validating schema, hashes, dtypes and shapes."""
    path = Path(path)
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON or bad UTF-8
        raise CaseFormatError(f"{path}: cannot read the descriptor: {error}") from None
    if not isinstance(descriptor, dict):
        raise CaseFormatError(f"{path}: the descriptor is {type(descriptor).__name__}, not a JSON object")
    validate_descriptor(descriptor, str(path))
    check_sequences(descriptor, str(path))
    directory = path.parent
    inputs = {name: load_input(directory, entry, check_hash=check_hash) for name, entry in descriptor["inputs"].items()}
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
