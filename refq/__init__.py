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

__version__ = "0.1.0"

#: Public name -> ``module:attribute`` defining it; see docs/reference/api.md.
PUBLIC_API: dict[str, str] = {
    # Chapter AFF.
    "quantize": "refq.affine.quantize:quantize",
    "dequantize": "refq.affine.dequantize:dequantize",
    # Chapter QAT.
    "fake_quantize": "refq.qat.straight_through:fake_quantize",
    # Chapter NUM.
    "cast": "refq.numbers.floats.cast:cast",
    # Chapter REQ: the package itself, called as requantize_float (see refq/requantize/__init__.py).
    "requantize": "refq.requantize",
    # Chapter INT.
    "matmul_integer": "refq.integer_ops.matmul:matmul_integer",
    "qlinear_matmul": "refq.integer_ops.qlinear:qlinear_matmul",
    "conv_integer": "refq.integer_ops.conv:conv_integer",
    "qlinear_conv": "refq.integer_ops.qlinear:qlinear_conv",
    # Chapter OBS.
    "qparams_from_range": "refq.observers.qparams:qparams_from_range",
    "observe_minmax": "refq.observers.operations:observe_minmax",
    "observe_moving_average": "refq.observers.operations:observe_moving_average",
    "observe_histogram": "refq.observers.operations:observe_histogram",
    "calibrate_percentile": "refq.observers.operations:calibrate_percentile",
    "calibrate_entropy": "refq.observers.operations:calibrate_entropy",
    "search_mse": "refq.observers.operations:search_mse",
    "dynamic_quantize_linear": "refq.observers.dynamic:dynamic_quantize_linear",
    # Chapter ELT.
    "qlinear_add": "refq.elementwise.binary:qlinear_add",
    "qlinear_mul": "refq.elementwise.binary:qlinear_mul",
    "qlinear_sigmoid": "refq.elementwise.lookup:qlinear_sigmoid",
    "qlinear_leaky_relu": "refq.elementwise.lookup:qlinear_leaky_relu",
    "qlinear_tanh": "refq.elementwise.lookup:qlinear_tanh",
    "qlinear_global_average_pool": "refq.elementwise.pooling:qlinear_global_average_pool",
    "max_pool": "refq.elementwise.windows:max_pool",
    "qlinear_average_pool": "refq.elementwise.windows:qlinear_average_pool",
    "qlinear_concat": "refq.elementwise.concat:qlinear_concat",
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
