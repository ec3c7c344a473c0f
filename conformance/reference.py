"""refq's answers: defined in :mod:`refq.backends.reference` (derived from the operation records),
re-exported here for the conformance suite's callers: :func:`run`, and one function per operation
in the adapter signature returning ``(output, unpredictable)``."""

from refq.backends import reference as _reference
from refq.registry.operations import OPERATIONS

run = _reference.run
reference_callable = _reference.reference_callable
globals().update({operation.name: getattr(_reference, operation.name) for operation in OPERATIONS
                  if operation.reference is not None})

__all__ = ["reference_callable", "run", *(operation.name for operation in OPERATIONS if operation.reference)]
