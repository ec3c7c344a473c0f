"""ELT-5: ReLU, ReLU6 and clamp fused into a quantized operation through its output bounds.

An activation that clamps to an interval commutes with quantization (which is
monotone): instead of dequantizing, clamping and quantizing again, the producing
operation saturates to the quantized interval ends instead of the type's range.
"""

from __future__ import annotations

import numpy as np

from refq.affine.quantize import quantize
from refq.elementwise.operands import DTYPES, single_scale
from refq.errors import invalid, wrong_type

ACTIVATIONS = ("none", "relu", "relu6", "clamp")


def _quantized_bound(value: float, scale: np.float32, zero_point: int, dtype: str) -> int:
    return int(quantize(np.array([value], np.float32), scale, np.array(zero_point), dtype=dtype,
                        profile="onnxruntime")[0])


def fused_activation_bounds(activation: str, scale, zero_point, *, dtype: str = "int8", lower: float | None = None,
                            upper: float | None = None) -> tuple[int, int]:
    """ELT-5.1: the output bounds $[q_{lo}, q_{hi}]$ that fuse ``activation`` into an output of
    ``scale`` and ``zero_point``:

    * ``none``: $[q_{min}, q_{max}]$;
    * ``relu``: $[\\max(q_{min}, z), q_{max}]$ (real 0 is exactly the code $z$);
    * ``relu6``: $[\\max(q_{min}, z), Q(6)]$;
    * ``clamp``: $[Q(\\mathit{lower}), Q(\\mathit{upper})]$,

    with $Q$ ONNX Runtime's ``QuantizeLinear`` (AFF-3, profile ``onnxruntime``: divide,
    round half to even, add $z$, saturate).
    """
    if activation not in ACTIVATIONS:
        raise invalid("activation", "one of " + ", ".join(repr(a) for a in ACTIVATIONS), activation)
    if dtype not in DTYPES:
        raise invalid("dtype", "'int8' or 'uint8'", dtype)
    step = single_scale(scale, "scale")
    if isinstance(zero_point, (bool, float)) or not np.issubdtype(np.asarray(zero_point).dtype, np.integer):
        raise wrong_type("zero_point", f"an integer in the range of {dtype}", zero_point)
    info = np.iinfo(dtype)
    zero = int(zero_point)
    if not info.min <= zero <= info.max:
        raise invalid("zero_point", f"in [{info.min}, {info.max}]", zero)
    if activation == "none":
        return int(info.min), int(info.max)
    if activation == "relu":
        return max(int(info.min), zero), int(info.max)
    if activation == "relu6":
        return max(int(info.min), zero), _quantized_bound(6.0, step, zero, dtype)
    for name, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not np.isfinite(value):
            raise invalid(name, "a finite float (clamp needs both bounds)", value)
    if lower > upper:
        raise invalid("upper", f"at least lower ({lower})", upper)
    return _quantized_bound(lower, step, zero, dtype), _quantized_bound(upper, step, zero, dtype)


def clamp_output(q, lower: int, upper: int) -> np.ndarray:
    """ELT-5.2: $\\min(\\max(q, q_{lo}), q_{hi})$ on quantized codes, in their own type."""
    values = np.asarray(q)
    if values.dtype.name not in DTYPES:
        raise invalid("q", "an int8 or uint8 array", f"{values.dtype} array")
    return np.clip(values, lower, upper).astype(values.dtype)
