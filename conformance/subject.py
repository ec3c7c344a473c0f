"""The backend under test for ``refq fuzz`` and ``refq sweep``: called in this process (fast;
a Python adapter object or SPEC), or through the harness (a ``cmd:`` program, or a Python
adapter isolated in its worker process).
"""

from __future__ import annotations



from refq.conformance.case import Case
from refq.conformance.worker import Outcome, call_adapter
from refq.errors import invalid
from refq.registry.operations import OPERATIONS_BY_NAME


class Subject:
    """A backend to call operation by operation.

    ``backend`` is an adapter object (called in this process), or a SPEC string: ``cmd:``
    programs always go through the harness; Python adapters run in this process unless
    ``isolate`` is True (then in the harness's worker process, which survives crashes).
    ``profile`` overrides the one the backend declares.
    """

    def __init__(self, backend, profile: str | None = None, *, isolate: bool = False, timeout: float = 60.0) -> None:
        from refq.registry.profiles import EVERY_PROFILE_BY_NAME

        if profile is not None and profile not in EVERY_PROFILE_BY_NAME:
            raise invalid("--profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), profile)
        if not isinstance(timeout, (int, float)) or not timeout > 0:
            raise invalid("timeout", "a positive number of seconds", timeout)
        self.timeout = timeout
        self._harness = None
        self._adapter = None
        if isinstance(backend, str) and (backend.startswith("cmd:") or isolate):
            from refq.conformance.harness import load_backend

            self._harness = load_backend(backend, profile)
            self.spec, self.name, self.version = backend, self._harness.name, self._harness.version
            self._declared = self._harness.profile
            self.operations = self._harness.operations
            return
        from refq.conformance.loading import describe, instantiate

        adapter = instantiate(backend) if isinstance(backend, str) else backend
        spec = backend if isinstance(backend, str) else f"{type(adapter).__module__}:{type(adapter).__qualname__}"
        info = describe(adapter, spec, tuple(OPERATIONS_BY_NAME))
        if profile is not None and info["configurable_profile"]:
            adapter.profile = profile
        self._adapter = adapter
        self.spec, self.name, self.version = spec, info["name"], info["version"]
        self._declared = profile or info["profile"]
        self.operations = frozenset(info["operations"])

    def profile_for(self, op: str) -> str:
        if isinstance(self._declared, dict):
            return self._declared.get(op) or self._declared.get("default") or "onnx"
        return self._declared

    def supports(self, op: str) -> bool:
        return op in self.operations

    def call(self, op: str, inputs: dict, attributes: dict) -> Outcome:
        if self._adapter is not None:
            return call_adapter(self._adapter, op, inputs, attributes)
        case = Case(id=f"{op}/probe", op=op, profile=self.profile_for(op), clauses=(), description="", level=1,
                    attributes=attributes, inputs=inputs, outcome="valid")
        return self._harness.call(case, self.timeout)

    def close(self) -> None:
        if self._harness is not None:
            self._harness.close()

    def __enter__(self) -> Subject:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
