"""REQ-1.6: a scaled accumulator that an integer conversion cannot hold.

Backends that clamp $v = \\mathrm{fl}(a \\cdot m)$ in floating point (MLAS, ``onnx.reference``)
saturate any $v$. Backends that convert $v$ to int32 before they clamp (PyTorch's QNNPACK
kernels with ``cvtps2dq``, PT2E's reference representation with a float-to-int32 cast) hit a
conversion C and C++ leave undefined once the integer is outside int32; those elements are
unpredictable.
"""

from __future__ import annotations

import numpy as np

from refq.errors import invalid
from refq.registry.variants import variant_code
from refq.requantize.float_multiplier import FLOAT32, accumulator_array, multiplier_array

#: The int32 range; a float32 or float64 $v$ whose conversion lands outside it overflows.
INT32_LOW = -(2.0**31)
INT32_HIGH = 2.0**31


def conversion_overflow_mask(accumulator, multiplier, *, axis=None, precision: str = "float32") -> np.ndarray:
    """REQ-1.6: True where $v = \\mathrm{fl}(a \\cdot m)$ (REQ-1.2) is at or beyond $2^{31}$ or below
    $-2^{31}$: the elements whose int32 conversion overflows, under any rounding of $v$.

    ``multiplier`` is one value or, with ``axis``, one per index of that axis of ``accumulator``.
    Rounding to nearest could bring a $v$ just below $-2^{31}$ back to $-2^{31}$; such a float32 $v$
    does not exist ($-2^{31} - 128$ is its neighbour), and in float64 the mask is conservative.
    """
    precision_code = variant_code("requantize_precision", precision, "precision")
    values = accumulator_array(accumulator)
    multipliers = multiplier_array(multiplier, precision_code)
    if multipliers.size != 1 or axis is not None:
        if axis is None:
            raise invalid("axis", "the channel axis when there is one multiplier per channel", None)
        shape = [1] * values.ndim
        shape[axis] = multipliers.size
        multipliers = multipliers.reshape(shape)
    if precision_code == FLOAT32:
        scaled = values.astype(np.float32) * multipliers.astype(np.float32)
    else:
        scaled = values.astype(np.float64) * multipliers
    with np.errstate(invalid="ignore"):
        return (scaled >= INT32_HIGH) | (scaled < INT32_LOW)
