"""Oracle for QAT (fake quantization masks and LSQ element gradients), written apart from refq.

Values are exact Fractions (float infinities and NaN for the specials), rounded to float32
by the AFF oracle's from-scratch rounding; rounding to an integer by the NUM-2 oracle.
It follows the spec's text (QAT-1.2, QAT-2.1, QAT-2.3), not refq's code. Signed zeros are
not modelled: the oracle says "zero", the torch comparison checks the sign.
"""

from __future__ import annotations

from fractions import Fraction

from tests.oracle.affine import fma32, is_infinite, is_nan, multiply, reciprocal32, round32
from tests.oracle.rounding import round_fraction


def mask(x, scale, zero_point: int, qmin: int, qmax: int) -> bool:
    """QAT-1.2: the rounded value plus the zero point lies in [qmin, qmax]."""
    value = round32(multiply(x, reciprocal32(scale)))
    if is_nan(value) or is_infinite(value):
        return False
    return qmin <= round_fraction(value, "half_to_even") + zero_point <= qmax


def backward_zero_point(zero_point: Fraction, qmin: int, qmax: int, per_channel: bool) -> int:
    """QAT-2.1 (backward): ties-to-even per channel; trunc(fl32(z + 1/2)) per tensor."""
    if per_channel:
        rounded = round_fraction(zero_point, "half_to_even")
        return min(max(rounded, qmin), qmax)
    shifted = min(max(round32(zero_point + Fraction(1, 2)), qmin), qmax)
    return int(shifted)  # int() of a Fraction truncates toward zero


def element_gradients(x, grad, scale, zero_point: int, qmin: int, qmax: int, grad_factor):
    """QAT-2.3 for finite x and grad: (dx, dscale, dzero_point) as exact values."""
    reciprocal = reciprocal32(scale)
    shifted = fma32(x, reciprocal, Fraction(zero_point))
    n = None if is_infinite(shifted) else round_fraction(shifted, "half_to_even")
    if n is not None and not -(2**63) <= n < 2**63:
        n = None  # outside int64: x86's conversion gives -2^63
    if n is not None and qmin <= n <= qmax:
        error = fma32(Fraction(n - zero_point), scale, -x)
        dscale = round32(round32(round32(grad * error) * reciprocal) * grad_factor)
        return grad, dscale, Fraction(0)
    below = n is None or n < qmin  # None: -2^63, the conversion of an infinite or huge sum
    distance = Fraction((qmin if below else qmax) - zero_point)
    dscale = round32(round32(grad * distance) * grad_factor)
    dzero_point = round32(round32(-grad * scale) * grad_factor)
    return Fraction(0), dscale, dzero_point
