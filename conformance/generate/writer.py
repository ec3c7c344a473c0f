"""Write one case directory: its inputs, and for each profile refq's expected output and a
descriptor. Outputs are named after their content hash, so profiles that agree share a file."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from refq.affine.profiles import resolve_variants
from refq.conformance import records, reference
from refq.conformance.case import SCHEMA_VERSION
from refq.conformance.generate.case_spec import CaseSpec
from refq.elementwise.binary import profile_arithmetic
from refq.errors import RefqError
from refq.registry import CLAUSES
from refq.registry.operations import OPERATIONS_BY_NAME

CLAUSE_ORDER = {clause.id: position for position, clause in enumerate(CLAUSES)}
#: Operations whose vectors run under every affine profile.
AFFINE_OPERATIONS = ("quantize_linear", "dequantize_linear")
#: The clause of TOSA's integer arithmetic (binary_arithmetic = tosa_rescale) for the operations that have it.
TOSA_BINARY_CLAUSES = {"qlinear_add": "ELT-2.8", "qlinear_mul": "ELT-2.9"}


def npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` file of ``array`` (format 1.0 header, no pickle): the same bytes on every run."""
    buffer = io.BytesIO()
    np.save(buffer, np.array(array, order="C"), allow_pickle=False)
    return buffer.getvalue()


def save_array(directory: Path, file_name: str, data: bytes, array: np.ndarray) -> dict:
    path = directory / file_name
    if not path.exists():
        path.write_bytes(data)
    return {"file": file_name, "sha256": hashlib.sha256(data).hexdigest(), "dtype": str(array.dtype),
            "shape": list(array.shape)}


def save_by_content(directory: Path, prefix: str, array: np.ndarray) -> dict:
    """Save under ``<prefix>-<first 12 hex digits of the SHA-256>.npy``."""
    data = npy_bytes(array)
    return save_array(directory, f"{prefix}-{hashlib.sha256(data).hexdigest()[:12]}.npy", data, array)


def stable_json(descriptor: dict) -> str:
    """Keys sorted at every level except inside ``inputs``, which keeps the operation's ONNX
    input order: readers pass the inputs positionally in the order the file lists them."""
    def ordered(value):
        if isinstance(value, dict):
            return {key: ordered(value[key]) for key in sorted(value)}
        if isinstance(value, list):
            return [ordered(item) for item in value]
        return value

    body = ordered({key: value for key, value in descriptor.items() if key != "inputs"})
    body["inputs"] = {name: ordered(entry) for name, entry in descriptor["inputs"].items()}
    body = {key: body[key] for key in sorted(body)}
    return json.dumps(body, indent=2, allow_nan=False) + "\n"


def clauses_for(spec: CaseSpec, profile: str, outcome_clauses: tuple[str, ...]) -> list[str]:
    """The operation's clauses, the case's, and those the profile and outcome add, in spec order."""
    ids = [*OPERATIONS_BY_NAME[spec.op].clauses, *spec.clauses, *outcome_clauses]
    if spec.op in AFFINE_OPERATIONS:
        ids.append("AFF-5.2")
    if spec.op == "quantize_linear":
        variants = resolve_variants(profile, "quantize", per_axis=spec.attributes["axis"] is not None, overrides={})
        if variants["zero_point_placement"].name == "before_rounding_fused":
            ids.append("AFF-3.7")
    if spec.op in TOSA_BINARY_CLAUSES and profile_arithmetic(profile) == "tosa_rescale":
        ids.append(TOSA_BINARY_CLAUSES[spec.op])
    unknown = [clause_id for clause_id in ids if clause_id not in CLAUSE_ORDER]
    if unknown:
        raise AssertionError(f"case {spec.op}/{spec.name}: unknown clause IDs {unknown}")
    return sorted(set(ids), key=CLAUSE_ORDER.__getitem__)


def expected_for(spec: CaseSpec, profile: str, directory: Path) -> tuple[dict, tuple[str, ...]]:
    """The descriptor's ``expected`` object under ``profile``, and the outcome's clauses."""
    try:
        # Signalling NaNs raise numpy's "invalid" flag on conversion; they are inputs on purpose.
        with np.errstate(invalid="ignore", over="ignore"):
            output, unpredictable = reference.run(spec.op, dict(spec.inputs), dict(spec.attributes), profile)
    except RefqError as error:
        if spec.outcome != "error":
            raise AssertionError(f"case {spec.op}/{spec.name} under {profile}: the reference raised {error}") from None
        return {"outcome": "error", "reason": str(error)}, ("AFF-2.1",)
    if spec.outcome != "valid":
        raise AssertionError(f"case {spec.op}/{spec.name} under {profile}: meant to be an error, the reference "
                             f"accepted it")
    expected = {"outcome": "valid", "output": save_by_content(directory, "expected", output)}
    if records.any_set(unpredictable):
        mask = unpredictable if records.is_record(unpredictable) else unpredictable.astype(np.bool_)
        expected["unpredictable"] = save_by_content(directory, "unpredictable", mask)
        return expected, ("AFF-2.1",)
    return expected, ()


def save_input(directory: Path, name: str, value, elements: tuple[str, ...] | None) -> dict | list | None:
    """The descriptor entry of one input, its files written: ``<name>.npy``, or for a sequence input
    one ``<name>-<index>-<element>.npy`` per present element of each tuple (``inputs-0-X_scale.npy``)."""
    if value is None:
        return None
    if elements is None:
        return save_array(directory, f"{name}.npy", npy_bytes(value), value)
    return [[None if array is None else
             save_array(directory, f"{name}-{index}-{element.rstrip('?')}.npy", npy_bytes(array), array)
             for element, array in zip(elements, item, strict=True)] for index, item in enumerate(value)]


def write_case(spec: CaseSpec, level: int, level_directory: Path) -> int:
    """Write the case directory ``<level>/<op>/<name>/``; returns the number of descriptors."""
    directory = level_directory / spec.op / spec.name
    directory.mkdir(parents=True, exist_ok=False)  # two specs with one name would overwrite each other
    sequences = OPERATIONS_BY_NAME[spec.op].sequences
    inputs = {name: save_input(directory, name, value, sequences.get(name)) for name, value in spec.inputs.items()}
    for profile in spec.profiles:
        expected, outcome_clauses = expected_for(spec, profile, directory)
        descriptor = {
            "schema_version": SCHEMA_VERSION,
            "id": f"{spec.op}/{spec.name}/{profile}",
            "op": spec.op,
            "profile": profile,
            "clauses": clauses_for(spec, profile, outcome_clauses),
            "description": spec.description,
            "level": level,
            "generator": {"name": spec.generator, "seed": spec.seed},
            "attributes": spec.attributes,
            "inputs": inputs,
            "expected": expected,
        }
        (directory / f"{profile}.json").write_text(stable_json(descriptor), encoding="utf-8")
    return len(spec.profiles)
