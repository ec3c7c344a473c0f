"""refq: a bit-exact reference specification of neural-network quantization.

The spec's operations are functions of this package, with numpy arrays in and out::

    import numpy as np
    import refq

    q = refq.quantize(np.array([0.3, -1.7], np.float32), 0.1, 3, dtype="int8", profile="onnx")
    x = refq.dequantize(q, 0.1, 3, dtype="int8")

Importing refq is cheap: a function's chapter is imported when the function is
first looked up (module ``__getattr__``), numpy with it, and numba, compiling the
kernels, only when a kernel is first called.
"""

from __future__ import annotations

import importlib

from refq.errors import RefqError, RefqTypeError, RefqValueError
from refq.registry.operations import OPERATIONS

__version__ = "0.1.0"

#: The top-level functions that are not one operation of the conformance suite.
_OTHER_FUNCTIONS: dict[str, str] = {
    # Chapter REQ: the package itself, called as requantize_float (see refq/requantize/__init__.py).
    "requantize": "refq.requantize",
    # Chapter OBS: the range-to-parameters step and the MSE search every observer shares.
    "qparams_from_range": "refq.observers.qparams:qparams_from_range",
    "search_mse": "refq.observers.operations:search_mse",
}

#: Public name -> ``module:attribute`` defining it; see docs/reference/api.md. Each operation's
#: record names its own (``Operation.public``), in registry order; then the other functions.
PUBLIC_API: dict[str, str] = {
    **{operation.public_name: operation.public for operation in OPERATIONS if operation.public},
    **_OTHER_FUNCTIONS,
}

__all__ = ["RefqError", "RefqTypeError", "RefqValueError", "__version__", *PUBLIC_API]


def __getattr__(name: str):
    location = PUBLIC_API.get(name)
    if location is None:
        raise AttributeError(f"module 'refq' has no attribute {name!r}")
    module_name, _, attribute = location.partition(":")
    value = importlib.import_module(module_name)
    if attribute:
        value = getattr(value, attribute)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *PUBLIC_API})
