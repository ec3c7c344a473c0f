"""refq itself as a backend: its reference answers (:mod:`refq.conformance.reference`)."""

from __future__ import annotations


class RefqBackend:
    """refq itself, for every operation that has a reference, under ``profile``.

    It claims the ``onnx`` profile; since refq computes every profile, the harness
    sets ``profile`` to the one asked for with ``--profile`` (``configurable_profile``).
    """

    name = "refq"
    profile = "onnx"
    #: The harness may set ``profile`` to any profile name before calling.
    configurable_profile = True

    def __init__(self, profile: str = "onnx") -> None:
        import refq

        self.version = refq.__version__
        self.profile = profile


def _operation_method(name: str):
    """The adapter method for operation ``name``: inputs positionally in ONNX order, attributes
    by keyword, answered by :func:`refq.conformance.reference.run` under the adapter's profile."""
    from refq.registry.operations import OPERATIONS_BY_NAME

    operation = OPERATIONS_BY_NAME[name]
    input_names = [input_name.rstrip("?") for input_name in operation.inputs]

    def method(self, *inputs, **attributes):
        from refq.conformance.reference import run

        if len(inputs) > len(input_names):
            raise TypeError(f"{name}() takes at most {len(input_names)} inputs, got {len(inputs)}")
        padded = list(inputs) + [None] * (len(input_names) - len(inputs))
        return run(name, dict(zip(input_names, padded)), attributes, self.profile)[0]

    method.__name__ = name
    method.__doc__ = f"refq's answer for ``{operation.signature}``."
    return method


def _add_operations(cls):
    from refq.registry.operations import OPERATIONS

    for operation in OPERATIONS:
        if operation.reference is not None:
            setattr(cls, operation.name, _operation_method(operation.name))
    return cls


_add_operations(RefqBackend)
