"""REQ-3: the accumulator — its width, and what happens when a sum leaves it.

Integer layers sum products of zero-point-corrected integers. int8 x int8 products
fit 16 bits, so an int32 accumulator holds about $2^{31} / 2^{14} = 131072$ worst-case
products before it can overflow; TOSA accumulates int16 x int8 in int48, and some
kernels use int64. What an overflowing sum gives is a property of the backend.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.errors import RefqValueError, invalid, wrong_type
from refq.registry.variants import VARIANTS_BY_NAME

# accumulator_overflow
OVERFLOW_ERROR = 0
OVERFLOW_WRAP = 1
OVERFLOW_UNPREDICTABLE = 2

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

ACCUMULATOR_BITS = {"int32": 32, "int48": 48, "int64": 64}


def accumulator_range(accumulator: str = "int32") -> tuple[int, int]:
    """REQ-3.1: the values an accumulator of type ``int32``, ``int48`` or ``int64`` holds:
    $[-2^{n-1}, 2^{n-1} - 1]$."""
    if not isinstance(accumulator, str) or accumulator not in ACCUMULATOR_BITS:
        raise invalid("accumulator", "one of " + ", ".join(ACCUMULATOR_BITS), accumulator)
    bits = ACCUMULATOR_BITS[accumulator]
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@kernel
def add_to_accumulator(total, term, bits, overflow):
    """REQ-3.2: $t + p$ in an accumulator of ``bits`` bits; returns ``(sum, overflowed)``.

    The exact sum is kept when it fits. Otherwise ``wrap`` reduces it modulo $2^{n}$ into
    the range (two's-complement hardware, numpy); ``error`` and ``unpredictable`` return
    the wrapped value too and report the overflow, which the caller turns into an error
    or an unpredictable mark. ``total`` and ``term`` are int64 values within the range;
    for 64 bits the sum is formed so that int64 itself never overflows.
    """
    if bits == 64:
        # The exact sum may not fit int64 itself: test before adding, and wrap by
        # moving both operands 2^63 toward zero, which keeps every step in range.
        if term > 0 and total > INT64_MAX - term:
            return (total + INT64_MIN) + (term + INT64_MIN), True
        if term < 0 and total < INT64_MIN - term:
            return (total - INT64_MIN) + (term - INT64_MIN), True
        return total + term, False
    exact = np.int64(total) + np.int64(term)
    half = np.int64(1) << (bits - 1)
    if -half <= exact < half:
        return exact, False
    modulus = np.int64(1) << bits
    return ((exact + half) & (modulus - 1)) - half, True


@kernel
def dot_product_accumulate(a, b, a_zero_point, b_zero_point, bits, overflow):
    """REQ-3.3: $\\sum_i (a_i - z_a)(b_i - z_b)$ in order, each step by REQ-3.2; returns ``(sum, overflowed)``.

    Each product of two zero-point-corrected integers of at most 16 bits is exact in int64.
    Under ``wrap`` the order does not matter (modular addition); under the other policies
    an intermediate overflow marks the whole sum even when the exact total fits.
    """
    total = np.int64(0)
    overflowed = False
    for i in range(a.size):
        term = (np.int64(a[i]) - a_zero_point) * (np.int64(b[i]) - b_zero_point)
        total, step_overflowed = add_to_accumulator(total, term, bits, overflow)
        overflowed = overflowed or step_overflowed
    return total, overflowed


def dot_product(a, b, *, a_zero_point: int = 0, b_zero_point: int = 0, accumulator: str = "int32",
                overflow: str = "wrap") -> tuple[int, bool]:
    """REQ-3.3: the accumulator of one output element. Returns ``(value, unpredictable)``;
    ``overflow="error"`` raises :class:`~refq.errors.RefqValueError` instead of returning an overflowed sum."""
    low, high = accumulator_range(accumulator)
    variant = VARIANTS_BY_NAME["accumulator_overflow"]
    if not isinstance(overflow, str) or overflow not in [v.name for v in variant.values]:
        raise invalid("overflow", "one of " + ", ".join(v.name for v in variant.values), overflow)
    code = variant.value(overflow).code
    arrays = []
    for name, values in (("a", a), ("b", b)):
        array = np.asarray(values)
        if array.dtype.kind not in "iu" or array.dtype == np.bool_ or array.ndim != 1:
            raise wrong_type(name, "a 1-D integer array", values)
        if array.size and (array.min() < -(2**16) or array.max() > 2**16):
            raise invalid(name, "integers of at most 16 bits", int(array.max()))
        arrays.append(array.astype(np.int64))
    if arrays[0].size != arrays[1].size:
        raise invalid("b", f"of the length of a ({arrays[0].size})", arrays[1].size)
    for name, value in (("a_zero_point", a_zero_point), ("b_zero_point", b_zero_point)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or abs(int(value)) > 2**16:
            raise invalid(name, "an integer of at most 16 bits", value)
    total, overflowed = dot_product_accumulate(arrays[0], arrays[1], np.int64(a_zero_point), np.int64(b_zero_point),
                                               ACCUMULATOR_BITS[accumulator], code)
    if overflowed and code == OVERFLOW_ERROR:
        raise RefqValueError(f"accumulator: the sum left the {accumulator} range [{low}, {high}]")
    return int(total), bool(overflowed and code == OVERFLOW_UNPREDICTABLE)
