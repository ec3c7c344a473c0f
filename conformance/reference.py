"""refq's own answer for each operation, in the adapter signature (inputs in ONNX order,
attributes keyword-only), under a named profile.

Each function returns ``(output, unpredictable)``: the expected array and a boolean mask
of elements the profile leaves *unpredictable* (or None). Invalid arguments raise a
``RefqError``: those are the cases a conforming backend must reject.
"""

from __future__ import annotations

import numpy as np

from refq.affine import dequantize, quantize_with_outcomes
from refq.errors import invalid
from refq.numbers.floats import encode_array
from refq.registry.operations import OPERATIONS_BY_NAME


def quantize_linear(x, scale, zero_point, *, axis=None, block_size=None, dtype="int8", profile="onnx"):
    return quantize_with_outcomes(x, scale, zero_point, dtype=dtype, axis=axis, block_size=block_size,
                                  profile=profile)


def dequantize_linear(q, scale, zero_point, *, axis=None, block_size=None, dtype="int8", profile="onnx"):
    return dequantize(q, scale, zero_point, dtype=dtype, axis=axis, block_size=block_size, profile=profile), None


def fake_quantize(x, scale, zero_point, *, axis=None, dtype="int8", profile="pytorch-fake-quant"):
    """Quantize then dequantize under one profile: the forward pass of fake quantization."""
    q, unpredictable = quantize_with_outcomes(x, scale, zero_point, dtype=dtype, axis=axis, profile=profile)
    return dequantize(q, scale, zero_point, dtype=dtype, axis=axis, profile=profile), unpredictable


def cast(x, *, to="float8_e4m3fn", saturate=False, profile="onnx"):
    """Cast float32 ``x`` to the bit patterns of ``to`` (ONNX Cast with its saturate attribute).

    The ONNX text says a NaN casts to NaN but not to which of the target's NaN patterns
    (sign, payload), and backends differ: NaN inputs are *unpredictable* under ``onnx``.
    """
    values = np.asarray(x, dtype=np.float32)
    patterns = encode_array(values, to, overflow="saturate" if saturate else "infinity")
    nan_inputs = np.isnan(values)
    return patterns, (nan_inputs if nan_inputs.any() else None)


def run(op: str, inputs: dict, attributes: dict, profile: str):
    """Run operation ``op`` with ``inputs`` (ONNX order) and ``attributes`` under ``profile``."""
    operation = OPERATIONS_BY_NAME.get(op)
    if operation is None or operation.reference is None:
        known = sorted(name for name, o in OPERATIONS_BY_NAME.items() if o.reference)
        raise invalid("op", "an operation with a reference implementation: " + ", ".join(known), op)
    function = globals()[op]
    return function(*inputs.values(), **attributes, profile=profile)
