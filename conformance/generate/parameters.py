"""The quantization parameters the quantize and dequantize generators draw from."""

from __future__ import annotations

import numpy as np

from refq.affine.parameters import Target, target_type
from refq.registry.profiles import PROFILES

#: Every profile gets a descriptor in each quantize/dequantize case directory.
PROFILE_NAMES: tuple[str, ...] = tuple(profile.name for profile in PROFILES)

#: The integer types of ONNX QuantizeLinear's output (opset 21-25), sub-byte types included.
WIDTHS: tuple[str, ...] = ("int8", "uint8", "int16", "uint16", "int4", "uint4", "int2", "uint2")

#: The types whose every value fits in a small case: dequantize runs through all of them.
SMALL_WIDTHS: tuple[str, ...] = ("int8", "uint8", "int4", "uint4", "int2", "uint2")


def target(dtype: str) -> Target:
    return target_type(dtype, max_bits=32)


def exact_scale(odd: int, exponent: int) -> np.float32:
    """$m \\cdot 2^e$ with a small odd $m$: $(k + 1/2) \\cdot s$ is then exact in float32 for every
    $k$ of a 16-bit range, so $x / s$ is an exact tie while $x \\cdot \\mathrm{fl}(1/s)$ is not
    (for $m > 1$), which separates division from the reciprocal product."""
    return np.float32(np.ldexp(np.float64(odd), exponent))


#: A scale with a long significand (fl32(1/57.8)): nothing about it is exact.
INEXACT_SCALE = np.float32(1 / 57.8)


def off_centre_zero_point(chosen: Target) -> int:
    """A zero point three eighths of the way up the range: nonzero for every type, neither end."""
    return chosen.qmin + (chosen.qmax - chosen.qmin) * 3 // 8


def zero_points(chosen: Target) -> list[int]:
    """Both range ends, the off-centre value, and the middle (0 for a signed type)."""
    middle = (chosen.qmin + chosen.qmax + 1) // 2
    return list(dict.fromkeys([chosen.qmin, chosen.qmax, off_centre_zero_point(chosen), middle]))


def zero_point_array(values, chosen: Target) -> np.ndarray:
    """Zero points stored in the target's container type (int4 in int8, like the output)."""
    return np.asarray(values, dtype=np.int64).astype(chosen.container)
