"""The ``cmd:`` protocol: an external program as a backend (C, C++, CUDA, Rust, a simulator).

For each case the harness makes a fresh directory holding ``case.json`` (the case's
descriptor without its expected output) and one ``.npy`` file per input (per element of
each tuple of a sequence input, ``inputs-0-X.npy``...), runs
``COMMAND ... <case_dir>`` and reads ``<case_dir>/output.npy``. Exit status 0 means
an answer, 3 means *unsupported*, any other status means the program rejected the
arguments. The full protocol is in ``docs/conformance/protocol.md``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from refq.backends.arguments import contiguous
from refq.conformance.outcome import Outcome
from refq.errors import invalid
from refq.registry.operations import DEFAULT_PROFILE, OPERATIONS_BY_NAME

#: Exit status by which a command says it does not implement a case.
EXIT_UNSUPPORTED = 3
#: The last bytes of the command's stderr kept in a report.
STDERR_TAIL = 400


def _file_entry(file_name: str, array: np.ndarray) -> dict:
    return {"file": file_name, "dtype": str(array.dtype), "shape": list(array.shape)}


def input_file_names(case) -> dict[str, str | list[list[str | None]] | None]:
    """The file each present input is written to: ``<name>.npy``; for a sequence input (a list of
    tuples) ``<name>-<index>-<element>.npy``, the element named by the operation's registry entry."""
    operation = OPERATIONS_BY_NAME.get(case.op)
    sequences = operation.sequences if operation else {}
    names: dict = {}
    for name, value in case.inputs.items():
        if value is None:
            names[name] = None
        elif isinstance(value, (list, tuple)):
            elements = [element.rstrip("?") for element in sequences.get(name, ())]
            names[name] = [[None if array is None else
                            f"{name}-{index}-{elements[position] if position < len(elements) else position}.npy"
                            for position, array in enumerate(item)] for index, item in enumerate(value)]
        else:
            names[name] = f"{name}.npy"
    return names


def case_descriptor(case, input_files: dict) -> dict:
    """``case.json``: what the command may read. Attributes come first, with every default filled in,
    so that the first ``"dtype"`` key in the file is the ``dtype`` attribute. A sequence input is a
    list of tuples, each a list of file entries (or null), as in the case's descriptor."""
    operation = OPERATIONS_BY_NAME.get(case.op)
    attributes = {**(operation.attributes if operation else {}), **case.attributes}
    inputs = {}
    for name, value in case.inputs.items():
        if value is None:
            inputs[name] = None
        elif isinstance(value, (list, tuple)):
            inputs[name] = [[None if array is None else _file_entry(file_name, array)
                             for file_name, array in zip(files, item)]
                            for files, item in zip(input_files[name], value)]
        else:
            inputs[name] = _file_entry(input_files[name], value)
    return {
        "schema_version": 1,
        "attributes": attributes,
        "op": case.op,
        "id": case.id,
        "profile": case.profile,
        "clauses": list(case.clauses),
        "description": case.description,
        "inputs": inputs,
        "outcome": case.outcome,
    }


def write_case_directory(case, directory: Path) -> None:
    """Write ``case.json`` and the input ``.npy`` files of ``case`` into ``directory``."""
    files = input_file_names(case)
    for name, value in case.inputs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs = [(file_name, array) for names, item in zip(files[name], value)
                     for file_name, array in zip(names, item) if array is not None]
        else:
            pairs = [(files[name], value)]
        for file_name, array in pairs:
            # contiguous(), not np.ascontiguousarray, which would write a per-tensor scale of shape () as (1,).
            np.save(directory / file_name, contiguous(np.asarray(array)), allow_pickle=False)
    text = json.dumps(case_descriptor(case, files), indent=2)
    (directory / "case.json").write_text(text + "\n", encoding="utf-8")


def read_output(output: Path) -> Outcome:
    """The program's ``output.npy``: any bytes that are not one array (truncated, a pickle, a header
    numpy cannot parse, a symbolic link out of the case folder) are a bad return, never an exception."""
    if output.is_symlink() or not output.is_file():
        return Outcome("bad_return", message="output.npy is not a plain file in the case folder")
    try:
        value = np.load(output, allow_pickle=False)
    # numpy's header parser lets its tokenizer's errors through (tokenize.TokenError): any exception
    # from parsing the program's bytes is its bad return.
    except Exception as error:  # noqa: BLE001
        return Outcome("bad_return", message=f"output.npy cannot be read: {type(error).__name__}: {error}")
    if not isinstance(value, np.ndarray):
        return Outcome("bad_return", message=f"output.npy holds {type(value).__name__}, not one array")
    return Outcome("returned", value=value)


class CommandBackend:
    """An external program run once per call (``cmd:COMMAND ...``): the command runner of
    :mod:`refq.conformance.runner`."""

    def __init__(self, spec: str, profile: str | None = None) -> None:
        command = spec[len("cmd:"):].strip()
        try:
            self.argv = shlex.split(command)
        except ValueError as error:
            raise invalid("--backend", f"cmd:COMMAND with a command line shlex can split ({error})", spec) from None
        if not self.argv:
            raise invalid("--backend", "cmd: followed by a command", spec)
        self.spec = spec
        self.name = spec
        self.profile = profile or DEFAULT_PROFILE
        self.version = ""
        #: A command's operations are not known in advance: it answers exit status 3 for the ones it lacks.
        self.operations = tuple(OPERATIONS_BY_NAME)

    def call(self, op: str, inputs: dict, attributes: dict, timeout: float, case=None) -> Outcome:
        """Run the program on one call. ``case`` (a :class:`~refq.conformance.case.Case` holding these
        inputs and attributes) supplies the id, profile, clauses and description ``case.json`` shows;
        without it they are those of a probe under the backend's profile."""
        from refq.conformance.case import Case

        if case is None:
            case = Case(id=f"{op}/call", op=op, profile=self.profile if isinstance(self.profile, str) else
                        DEFAULT_PROFILE, clauses=(), description="", level=1, attributes=attributes, inputs=inputs,
                        outcome="valid")
        elif case.inputs is not inputs or case.attributes is not attributes:
            case = replace(case, inputs=inputs, attributes=attributes)
        with tempfile.TemporaryDirectory(prefix="refq-case-") as temporary:
            directory = Path(temporary)
            write_case_directory(case, directory)
            try:
                process = subprocess.Popen([*self.argv, str(directory)], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, start_new_session=True)
            except OSError as error:
                return Outcome("crashed", message=f"cannot run {self.argv[0]!r}: {error}")
            try:
                _, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The whole process group: a shell wrapper's children must not outlive the case.
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                return Outcome("timeout", message=f"no answer within {timeout:g} s; the command was killed")
            tail = stderr.decode(errors="replace").strip()[-STDERR_TAIL:]
            code = process.returncode
            if code == EXIT_UNSUPPORTED:
                return Outcome("raised", message=f"exit status 3 (unsupported) {tail}".strip(),
                               not_implemented=True)
            if code < 0:
                name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
                return Outcome("crashed", message=f"the command died of signal {name} {tail}".strip())
            if code != 0:
                return Outcome("raised", message=f"exit status {code} {tail}".strip())
            output = directory / "output.npy"
            if not output.is_file():
                return Outcome("bad_return", message="exit status 0 but no output.npy was written")
            return read_output(output)

    def close(self) -> None:
        pass
