"""Fuzzing the readers of untrusted files (issue 18 item 7): the vector loader
(:func:`refq.conformance.case.load_case`) and the ``cmd:`` protocol's reader of ``output.npy``
(:func:`refq.conformance.command.read_output`).

Corrupted JSON, truncated and mistyped ``.npy`` files, wrong SHA-256 and symbolic links out of the
case folder: the loader must answer each with a refq error (or load a case that is still valid),
the reader with a *bad return*; neither may raise anything else.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refq.conformance.case import iter_case_paths, load_case
from refq.conformance.command import CommandBackend, read_output
from refq.errors import RefqError

EXAMPLES = 150
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: A small shipped case to corrupt: its descriptor and the arrays it names.
SOURCE = next(iter_case_paths(ops={"quantize_linear"}))

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=8)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@st.composite
def corrupted_npy(draw) -> bytes:
    """The bytes of a valid .npy file, truncated, with bytes overwritten, with a rewritten header, or noise."""
    array = draw(st.sampled_from([np.arange(6, dtype=np.int8).reshape(2, 3), np.float32([1.5, -0.0, np.nan]),
                                  np.zeros((), np.uint16), np.array(["text"])]))
    data = bytearray(_npy_bytes(array))
    how = draw(st.sampled_from(["truncate", "overwrite", "header", "noise"]))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if how == "overwrite":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "header":
        header = draw(st.sampled_from([
            "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
            "{'descr': 'nonsense', 'fortran_order': False, 'shape': (2,), }",
            "{'descr': '<f4', 'shape': (2,), }",
            "__import__('os')",
            "{'descr': '<f4', 'fortran_order': 'yes', 'shape': 'wide', }",
        ]))
        body = header.encode("latin1")
        body += b" " * (-(len(body) + 11) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body + bytes(data[128:])
    return draw(st.binary(max_size=200))


def _copy_case(folder: Path) -> Path:
    """A copy of SOURCE's case folder under ``folder``; returns the copied descriptor."""
    target = folder / "level1" / SOURCE.parents[1].name / SOURCE.parent.name
    shutil.copytree(SOURCE.parent, target)
    return target / SOURCE.name


def _loads_or_refq_error(descriptor: Path, check_hash: bool = True) -> None:
    try:
        load_case(descriptor, check_hash=check_hash)
    except RefqError:
        pass


def _array_files(descriptor: Path) -> list[str]:
    data = json.loads(descriptor.read_text(encoding="utf-8"))
    names = [entry["file"] for entry in data["inputs"].values() if isinstance(entry, dict)]
    output = data["expected"].get("output")
    return names + ([output["file"]] if output else [])


def _set(tree, path: list, value):
    """``tree`` with the element at ``path`` (keys and indices) replaced by ``value`` (removed when value is ...)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict) and head in tree:
        if value is ... and not rest:
            del tree[head]
        else:
            tree[head] = _set(tree[head], rest, value)
    elif isinstance(tree, list) and isinstance(head, int) and head < len(tree):
        tree[head] = _set(tree[head], rest, None if value is ... else value)
    return tree


def _paths(tree, prefix=()) -> list[list]:
    found = [list(prefix)]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += _paths(value, (*prefix, index))
    return found


def test_the_source_case_loads():
    case = load_case(SOURCE)
    assert case.op == "quantize_linear" and case.expected is not None


@FUZZ
@given(st.data())
def test_corrupted_descriptor_is_a_refq_error(data):
    with tempfile.TemporaryDirectory() as temporary:
        descriptor = _copy_case(Path(temporary))
        text = descriptor.read_text(encoding="utf-8")
        how = data.draw(st.sampled_from(["truncate", "bytes", "field", "remove", "not_an_object"]))
        if how == "truncate":
            descriptor.write_text(text[:data.draw(st.integers(0, len(text) - 1))], encoding="utf-8")
        elif how == "bytes":
            descriptor.write_bytes(data.draw(st.binary(max_size=300)))
        elif how == "not_an_object":
            descriptor.write_text(json.dumps(data.draw(json_values.filter(lambda v: not isinstance(v, dict)))))
        else:
            tree = json.loads(text)
            path = data.draw(st.sampled_from(_paths(tree)[1:]))
            value = ... if how == "remove" else data.draw(json_values)
            descriptor.write_text(json.dumps(_set(tree, path, value)), encoding="utf-8")
        _loads_or_refq_error(descriptor)


@FUZZ
@given(st.data(), corrupted_npy())
def test_corrupted_npy_is_a_refq_error(data, payload):
    with tempfile.TemporaryDirectory() as temporary:
        descriptor = _copy_case(Path(temporary))
        name = data.draw(st.sampled_from(_array_files(descriptor)))
        (descriptor.parent / name).write_bytes(payload)
        how = data.draw(st.sampled_from(["stale_hash", "fresh_hash", "unchecked"]))
        if how == "fresh_hash":  # the hash matches the corrupt bytes: np.load itself meets them
            tree = json.loads(descriptor.read_text(encoding="utf-8"))
            digest = hashlib.sha256(payload).hexdigest()
            for entry in [*tree["inputs"].values(), tree["expected"].get("output")]:
                if isinstance(entry, dict) and entry.get("file") == name:
                    entry["sha256"] = digest
            descriptor.write_text(json.dumps(tree), encoding="utf-8")
        _loads_or_refq_error(descriptor, check_hash=how != "unchecked")


def test_a_stale_hash_is_named():
    with tempfile.TemporaryDirectory() as temporary:
        descriptor = _copy_case(Path(temporary))
        name = _array_files(descriptor)[0]
        with open(descriptor.parent / name, "ab") as stream:
            stream.write(b"\0")
        with pytest.raises(RefqError, match="SHA-256"):
            load_case(descriptor)


@pytest.mark.parametrize("check_hash", [True, False])
def test_a_symlink_out_of_the_case_folder_is_refused(check_hash):
    """Even one whose target has the right bytes (and so the right hash): a case reads its own folder only."""
    with tempfile.TemporaryDirectory() as temporary:
        descriptor = _copy_case(Path(temporary))
        name = _array_files(descriptor)[0]
        outside = Path(temporary) / "outside.npy"
        shutil.move(descriptor.parent / name, outside)
        (descriptor.parent / name).symlink_to(outside)
        with pytest.raises(RefqError, match="outside its case folder"):
            load_case(descriptor, check_hash=check_hash)


def test_a_missing_array_file_is_a_refq_error():
    with tempfile.TemporaryDirectory() as temporary:
        descriptor = _copy_case(Path(temporary))
        (descriptor.parent / _array_files(descriptor)[0]).unlink()
        with pytest.raises(RefqError, match="no such file"):
            load_case(descriptor)


@FUZZ
@given(corrupted_npy())
def test_a_corrupted_command_output_is_a_bad_return(payload):
    with tempfile.TemporaryDirectory() as temporary:
        output = Path(temporary) / "output.npy"
        output.write_bytes(payload)
        outcome = read_output(output)
        assert outcome.kind in ("returned", "bad_return")
        if outcome.kind == "returned":
            assert isinstance(outcome.value, np.ndarray)


def test_a_command_output_symlinked_out_of_the_folder_is_a_bad_return():
    with tempfile.TemporaryDirectory() as temporary:
        outside = Path(temporary) / "elsewhere.npy"
        np.save(outside, np.int8([1, 2]))
        (Path(temporary) / "case").mkdir()
        output = Path(temporary) / "case" / "output.npy"
        output.symlink_to(outside)
        assert read_output(output).kind == "bad_return"


@pytest.mark.parametrize("payload", [b"", b"\x93NUMPY", _npy_bytes(np.int8([1, 2]))[:20], b"not an array"])
def test_a_command_writing_a_broken_output_costs_one_call(tmp_path, payload):
    """End to end: a real cmd: program copying broken bytes to output.npy is a bad return, not a crash of refq."""
    source = tmp_path / "payload" / "output.npy"
    source.parent.mkdir()
    source.write_bytes(payload)
    backend = CommandBackend(f"cmd:cp {source}")
    outcome = backend.call("cast", {"x": np.float32([1.0])}, {"to": "float8_e4m3fn", "saturate": False}, timeout=30)
    assert outcome.kind == "bad_return", outcome
