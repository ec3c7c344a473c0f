"""One backend runner for every command: ``conform``, ``fingerprint``, ``fuzz``, ``sweep``,
``mutation-score`` and the pytest plugin all call a backend through :class:`Backend`.

The contract (documented once, on ``docs/conformance/protocol.md``):

- A runner has ``call(operation, inputs, attributes, timeout, case=None) -> Outcome`` and
  ``close()``. ``inputs`` is a dict in the operation's ONNX order (None for an absent optional
  input; a sequence input is a list of tuples); ``attributes`` are keywords. It never raises
  for the backend's faults: a crash, a hang, an exception or a wrong return is an
  :class:`~refq.conformance.outcome.Outcome`. ``case`` only names the call (the id, profile
  and description a ``cmd:`` program reads in ``case.json``).
- Three runners: :class:`InProcess` (an adapter object called in this process: fast, but a
  crash ends the run and ``timeout`` cannot be enforced), the worker process
  (:class:`refq.conformance.worker.Worker`, the adapter in a fresh interpreter that survives
  crashes and hangs) and the command (:class:`refq.conformance.command.CommandBackend`, a
  ``cmd:`` program run once per call).
- :class:`Backend` is the facade: it knows the backend's name, version, operations and profile,
  answers ``missing`` for an operation the backend lacks, and types every input exactly as
  the vector format stores it (:func:`typed_inputs`), whoever the caller is.
- :func:`load_backend` makes one from an adapter object or a ``--backend`` SPEC: ``cmd:``
  programs always run as commands, Python SPECs in the worker process unless ``isolate`` is
  False, adapter objects in this process. A backend whose class names an ``environment`` always
  runs in a worker under that environment's interpreter (:func:`interpreter`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from refq.conformance.loading import BackendUnavailable, describe, instantiate, is_command, resolve_target
from refq.conformance.outcome import Outcome, call_adapter
from refq.conformance.patterns import PatternRange, materialized
from refq.errors import invalid
from refq.registry.operations import DEFAULT_PROFILE, OPERATIONS_BY_NAME, Operation

#: Seconds a call may take when the caller names no timeout.
DEFAULT_TIMEOUT = 60.0


# --- typing the inputs --------------------------------------------------------------------------------------


def _container(dtype_name) -> np.dtype | None:
    """The numpy container of integer format ``dtype_name`` (int4 in int8), None if it is no integer format."""
    from refq.registry import integer_format

    try:
        fmt = integer_format(dtype_name)
    except Exception:  # noqa: BLE001 - a bad dtype attribute is the backend's to reject, not the runner's
        return None
    bits = next(width for width in (8, 16, 32, 64) if fmt.bits <= width)
    return np.dtype(f"{'int' if fmt.signed else 'uint'}{bits}")


def declared_dtype(operation: Operation, name: str, attributes: dict, typed: dict) -> np.dtype | None:
    """The dtype input ``name`` has in the vector format, None where the record leaves it to the caller."""
    kind = operation.input_types.get(name)
    if kind is None or "|" in kind:
        return None
    if kind == "target":
        return _container(attributes.get("dtype", operation.attributes.get("dtype", "int8")))
    if kind.startswith("like:"):
        other = typed.get(kind[len("like:"):])
        return other.dtype if isinstance(other, np.ndarray) else None
    return np.dtype(kind)


def _typed(operation: Operation, name: str, value, attributes: dict, typed: dict):
    """``value`` as an array of its declared dtype. Arrays pass unchanged (an error case's wrong
    dtype must reach the backend); numpy scalars become 0-d arrays of their own dtype; Python
    numbers and lists take the declared dtype, integers only where they convert exactly."""
    if value is None or isinstance(value, (np.ndarray, PatternRange)):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    dtype = declared_dtype(operation, name, attributes, typed)
    if dtype is None:
        raise invalid(name, f"a numpy array for {operation.name} (its dtype, "
                            f"{operation.input_types.get(name, 'unknown')}, is not implied)", value)
    given = np.asarray(value)
    if dtype.kind in "iu":
        if given.dtype.kind not in "iub" or given.size and (given.min() < np.iinfo(dtype).min
                                                            or given.max() > np.iinfo(dtype).max):
            raise invalid(name, f"integers that {dtype} holds", value)
    return given.astype(dtype)


def typed_inputs(op: str, inputs: dict, attributes: dict) -> dict:
    """``inputs`` typed exactly as the vector format stores them (see :func:`_typed`)."""
    operation = OPERATIONS_BY_NAME.get(op)
    if operation is None:
        return dict(inputs)
    typed: dict = {}
    for name, value in inputs.items():
        if name in operation.sequences and isinstance(value, (list, tuple)):
            elements = [element.rstrip("?") for element in operation.sequences[name]]
            items = []
            for item in value:
                context = dict(typed)
                items.append(tuple(_typed(operation, elements[position] if position < len(elements) else "",
                                          element, attributes, context) for position, element in enumerate(item)))
            typed[name] = items
        else:
            typed[name] = _typed(operation, name, value, attributes, typed)
    return typed


# --- the runners --------------------------------------------------------------------------------------------


class InProcess:
    """An adapter object called in this process."""

    def __init__(self, adapter, spec: str, profile: str | None = None) -> None:
        self.adapter = adapter
        self.info = describe(adapter, spec, tuple(OPERATIONS_BY_NAME))
        if profile is not None and self.info["configurable_profile"]:
            adapter.profile = profile

    def call(self, op: str, inputs: dict, attributes: dict, timeout: float, case=None) -> Outcome:
        return call_adapter(self.adapter, op, inputs, attributes, keep_raw=True)

    def close(self) -> None:
        pass


class Backend:
    """A loaded backend behind one of the runners.

    ``profile`` is what it is judged against: the profile it declares (a name, or a dict
    operation -> name), or the one the caller asked for.
    """

    def __init__(self, spec: str, name: str, profile: str | dict, version: str, operations: Iterable[str],
                 runner, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.spec = spec
        self.name = name
        self.profile = profile
        self.version = version
        self.operations = frozenset(operations)
        self.runner = runner
        self.timeout = timeout

    @property
    def adapter(self):
        """The adapter object when it runs in this process, else None."""
        return getattr(self.runner, "adapter", None)

    def profile_for(self, op: str) -> str:
        if isinstance(self.profile, dict):
            return self.profile.get(op) or self.profile.get("default") or DEFAULT_PROFILE
        return self.profile

    def supports(self, op: str) -> bool:
        return op in self.operations

    def call(self, op: str, inputs: dict, attributes: dict, timeout: float | None = None, *, case=None) -> Outcome:
        """Call operation ``op``; see the module's contract."""
        if not self.supports(op):
            return Outcome("missing", message=f"the backend has no method {op}")
        inputs = typed_inputs(op, inputs, attributes)
        if not getattr(self.runner, "makes_patterns", False):
            inputs = materialized(inputs)
        if case is None and is_command(self.spec):
            from refq.conformance.case import Case

            case = Case(id=f"{op}/probe", op=op, profile=self.profile_for(op), clauses=(), description="", level=1,
                        attributes=attributes, inputs=inputs, outcome="valid")
        return self.runner.call(op, inputs, attributes, self.timeout if timeout is None else timeout, case=case)

    def method(self, op: str):
        """The backend seen as an adapter: ``backend.method(op)(*inputs, **attributes)`` returns the
        output array, raises NotImplementedError where the backend does not support the call, and
        raises the adapter's own exception in this process (RuntimeError elsewhere) when it fails."""
        names = OPERATIONS_BY_NAME[op].input_names

        def adapter_method(*inputs, **attributes):
            padded = list(inputs) + [None] * (len(names) - len(inputs))
            return self.value(self.call(op, dict(zip(names, padded)), attributes))

        adapter_method.__name__ = op
        return adapter_method

    @staticmethod
    def value(outcome: Outcome):
        """The output of a call, or the exception :meth:`method` describes."""
        if outcome.kind == "returned":
            return outcome.value
        if isinstance(outcome.raw, BaseException):
            raise outcome.raw
        if outcome.unsupported:
            raise NotImplementedError(outcome.message)
        if outcome.kind == "bad_return" and outcome.raw is not None:
            return outcome.raw
        raise RuntimeError(f"{outcome.kind}: {outcome.message}")

    def __getattr__(self, name: str):
        # Only operation names reach here (the facade's own attributes are found first).
        if name in OPERATIONS_BY_NAME and name in self.__dict__.get("operations", ()):
            return self.method(name)
        raise AttributeError(name)

    def run_case(self, case, timeout: float | None = None) -> Outcome:
        """Call the backend on a conformance case (its inputs and attributes, as stored)."""
        return self.call(case.op, case.inputs, case.attributes, timeout, case=case)

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_profile(profile: str | None) -> None:
    if profile is not None:
        from refq.registry.profiles import EVERY_PROFILE_BY_NAME

        if profile not in EVERY_PROFILE_BY_NAME:
            raise invalid("--profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), profile)


def interpreter(target, spec: str) -> str | None:
    """The Python backend ``target`` (SPEC resolved) runs under when it is not this one: its class's
    ``environment`` (:mod:`refq.backends.interpreters`); BackendUnavailable when that environment is
    not installed."""
    environment = getattr(target, "environment", None)
    if not isinstance(environment, str) or not environment:
        return None
    from refq.backends.interpreters import EnvironmentUnavailable, python_for

    try:
        return str(python_for(environment))
    except EnvironmentUnavailable as error:
        raise BackendUnavailable(f"--backend {spec}: not available here: {error}") from None


def load_backend(backend, profile: str | None = None, *, isolate: bool = True,
                 timeout: float = DEFAULT_TIMEOUT) -> Backend:
    """The :class:`Backend` for ``backend``: a ``--backend`` SPEC (see :mod:`refq.conformance.loading`),
    an adapter object, or a :class:`Backend` (returned as is). ``profile`` overrides the one it declares.

    Raises :class:`~refq.conformance.loading.BackendUnavailable` when its package does
    not import or its worker fails to start, and a RefqValueError for a malformed SPEC.
    """
    if isinstance(backend, Backend):
        return backend
    check_profile(profile)
    if not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise invalid("timeout", "a positive, finite number of seconds", timeout)
    if isinstance(backend, str) and is_command(backend):
        from refq.conformance.command import CommandBackend

        command = CommandBackend(backend, profile)
        return Backend(backend, command.name, command.profile, command.version, command.operations, command, timeout)
    # A malformed SPEC is a usage error here, not a failed worker.
    try:
        target = resolve_target(backend) if isinstance(backend, str) else None
    except ImportError as error:  # a plugin whose package does not import, as instantiate() says it
        raise BackendUnavailable(f"--backend {backend}: not available here: {error}") from None
    python = interpreter(target, backend) if isinstance(backend, str) else None
    if isinstance(backend, str) and (isolate or python is not None):
        from refq.conformance.worker import Worker

        worker = Worker(backend, profile, python)
        info = worker.info
        return Backend(backend, info["name"], profile or info["profile"], info["version"], info["operations"],
                       worker, timeout)
    adapter = instantiate(backend, target) if isinstance(backend, str) else backend
    spec = backend if isinstance(backend, str) else f"{type(adapter).__module__}:{type(adapter).__qualname__}"
    runner = InProcess(adapter, spec, profile)
    info = runner.info
    return Backend(spec, info["name"], profile or info["profile"], info["version"], info["operations"], runner,
                   timeout)


__all__ = ["Backend", "BackendUnavailable", "DEFAULT_TIMEOUT", "InProcess", "Outcome", "check_profile",
           "declared_dtype", "load_backend", "typed_inputs"]
