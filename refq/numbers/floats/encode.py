"""NUM-3.12 to NUM-3.17: encoding an exact value, an infinity or a NaN into a format."""

from __future__ import annotations

import math
import numbers
import struct
from fractions import Fraction

import numpy as np

from refq.errors import invalid, wrong_type
from refq.numbers.floats.constants import largest_finite_pattern
from refq.numbers.rounding import round_rational
from refq.registry import FLOAT_FORMATS, FloatFormat, float_format

SATURATE = "saturate"
TO_INFINITY = "infinity"

#: The overflow policies of NUM-3.15, by name; the code is what kernels receive.
OVERFLOW_POLICIES = {SATURATE: 0, TO_INFINITY: 1}

#: numpy dtype names of the registered formats (ml_dtypes' types are not np.floating).
BINARY_FLOAT_DTYPE_NAMES = frozenset(f.ml_dtypes_name for f in FLOAT_FORMATS if f.ml_dtypes_name)

#: binary64, the format of Python floats, as the source of a NaN's payload.
_FLOAT64_MANTISSA_BITS = 52


def check_overflow(overflow: str) -> str:
    if not isinstance(overflow, str) or overflow not in OVERFLOW_POLICIES:
        raise invalid("overflow", "'saturate' or 'infinity'", overflow)
    return overflow


def encode(value: Fraction | int | float, format: str | FloatFormat = "binary32", *,
           overflow: str = TO_INFINITY) -> int:
    """NUM-3.12: encode a number into the bit pattern of a format.

    ``value`` is an exact rational (``int``, ``Fraction``) or a binary float
    (Python ``float``, any numpy floating scalar), whose exact value is used. A
    finite value is rounded by NUM-3.13, its zero sign kept by NUM-3.14 and its
    overflow resolved by NUM-3.15; infinities follow NUM-3.16 and NaNs NUM-3.17.
    An unsigned format has no negative values: a value below zero, $-\\infty$
    included, encodes as its NaN (as ml_dtypes casts into E8M0), and $-0$ as zero.
    """
    fmt = float_format(format)
    check_overflow(overflow)
    if is_binary_float(value):
        number = float(value)  # widening to binary64 is exact
        negative = math.copysign(1.0, number) < 0
        if math.isnan(number):
            return encode_nan(int(negative), _float64_payload(number), _FLOAT64_MANTISSA_BITS, fmt)
        if negative and not fmt.signed and number != 0:
            return nan_pattern(0, fmt)
        if math.isinf(number):
            return encode_infinity(int(negative), fmt, overflow)
        return round_to_format(int(negative) if fmt.signed else 0, abs(Fraction(number)), fmt, overflow)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Rational):
        raise wrong_type("value", "an int, Fraction or float", value)
    exact = Fraction(int(value)) if isinstance(value, numbers.Integral) else Fraction(value)
    if exact < 0 and not fmt.signed:
        return nan_pattern(0, fmt)
    return round_to_format(int(exact < 0), abs(exact), fmt, overflow)


def is_binary_float(value: object) -> bool:
    """Whether ``value`` is a binary float scalar: Python, numpy, or ml_dtypes (bfloat16, float8...)."""
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.generic) and value.dtype.name in BINARY_FLOAT_DTYPE_NAMES


def binade_exponent(magnitude: Fraction) -> int:
    """The integer $k$ with $2^k \\le$ ``magnitude`` $< 2^{k+1}$ (for ``magnitude`` > 0)."""
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    # The bit lengths bound the quotient within a factor of two either side.
    if magnitude < Fraction(2) ** exponent:
        exponent -= 1
    return exponent


def round_to_format(sign: int, magnitude: Fraction, fmt: FloatFormat, overflow: str) -> int:
    """Encode a finite value: round it (NUM-3.13), then keep a zero's sign (NUM-3.14) or resolve overflow (NUM-3.15)."""
    if magnitude == 0 and not fmt.has_zero:
        return nan_pattern(0, fmt)
    magnitude_pattern = round_magnitude(magnitude, fmt)
    if magnitude_pattern == 0 and fmt.has_zero:
        return signed_zero(sign, fmt)
    if magnitude_pattern > largest_finite_pattern(fmt):
        return overflow_pattern(sign, fmt, overflow)
    return (sign << (fmt.total_bits - 1)) | magnitude_pattern


def round_magnitude(magnitude: Fraction, fmt: FloatFormat) -> int:
    """NUM-3.13: round $|v|$ to nearest, ties to even, with gradual underflow.

    Returns the sign-less pattern $e \\cdot 2^M + m$ of the result, whose exponent
    may exceed the format's range: a result above the largest finite pattern
    overflows (NUM-3.15). With $k$ the binade exponent of $|v|$
    ($2^k \\le |v| < 2^{k+1}$), the spacing of the format's values near $|v|$ is the
    quantum $2^q$, $q = \\max(k, 1 - \\text{bias}) - M$: the binade's ulp, and below
    the smallest normal the fixed subnormal spacing, which makes underflow gradual.
    $|v| / 2^q$ is rounded to an integer $n$ by NUM-2.2, half to even. $n = 2^{M+1}$
    means the rounding carried into the next binade, where the same value is
    $2^M \\times 2^{q+1}$. A result $n \\ge 2^M$ is normal with biased exponent
    $q + M + \\text{bias}$ and mantissa $n - 2^M$; $n < 2^M$ is subnormal (or zero)
    with mantissa $n$.

    In a format without zero the exponent field 0 is a normal binade, so the
    quantum stops at $q = -\\text{bias} - M$ and a nonzero value that rounds to
    $n = 0$ (at most half the smallest value) does not underflow: it gives the
    pattern 0, the smallest value, as ml_dtypes does for E8M0. With no mantissa
    bits ($M = 0$) $n$ is 1 or 2, and the tie $1.5 \\times 2^k$ goes to the even
    $n = 2$: up, to $2^{k+1}$, whatever the parity of the exponent.
    """
    if magnitude == 0:
        return 0
    lowest_exponent = fmt.min_biased_exponent - fmt.bias
    quantum = max(binade_exponent(magnitude), lowest_exponent) - fmt.mantissa_bits
    count = round_rational(magnitude / Fraction(2) ** quantum, "half_to_even")
    hidden_bit = 1 << fmt.mantissa_bits
    if count == 2 * hidden_bit:
        count, quantum = hidden_bit, quantum + 1
    if count < hidden_bit:
        if not fmt.has_zero:
            return 0  # no underflow: the smallest value, exponent field 0
        return count  # a subnormal, or zero
    exponent, mantissa = quantum + fmt.mantissa_bits + fmt.bias, count - hidden_bit
    return (exponent << fmt.mantissa_bits) | mantissa


def signed_zero(sign: int, fmt: FloatFormat) -> int:
    """NUM-3.14: a value that is zero, or rounds to zero, keeps its sign.

    A negative value gives $-0$ (the sign bit alone) in every format that has
    $-0$; a ``fnuz`` format has a single zero, $+0$, since its $-0$ pattern is NaN,
    and so has an unsigned format with a zero (UE4M3). In a format without zero (E8M0)
    zero encodes as its NaN, as ml_dtypes does; ONNX's ``to_float8e8m0`` gives 0x00
    ($2^{-127}$) instead, which refq does not follow.
    """
    return sign << (fmt.total_bits - 1) if fmt.has_negative_zero else 0


def overflow_pattern(sign: int, fmt: FloatFormat, overflow: str) -> int:
    """NUM-3.15: the result for a value whose rounded magnitude exceeds the largest finite value.

    ``saturate`` gives the largest finite value with the value's sign.
    ``infinity`` gives the infinity of that sign where the format has
    infinities (``ieee``); else NaN where the format has one (``fn``: the NaN with
    the value's sign; ``fnuz``: its one NaN); else (``finite``) it saturates too.
    """
    sign_bit = sign << (fmt.total_bits - 1)
    if overflow == TO_INFINITY:
        if fmt.has_infinity:
            return sign_bit | (((1 << fmt.exponent_bits) - 1) << fmt.mantissa_bits)
        if fmt.has_nan:
            return nan_pattern(sign, fmt)
    return sign_bit | largest_finite_pattern(fmt)


def encode_infinity(sign: int, fmt: FloatFormat, overflow: str) -> int:
    """NUM-3.16: an infinite input is a value that overflows (NUM-3.15).

    So ``saturate`` gives the largest finite value even in a format that has
    infinities, and ``infinity`` keeps infinity where the format has it.
    """
    return overflow_pattern(sign, fmt, overflow)


def nan_pattern(sign: int, fmt: FloatFormat) -> int:
    """The NaN of an ``fn`` (with the given sign; unsigned: all ones) or ``fnuz`` format."""
    if fmt.specials == "fnuz":
        return 1 << (fmt.total_bits - 1)
    if not fmt.signed:
        return (1 << fmt.total_bits) - 1
    return (sign << (fmt.total_bits - 1)) | ((1 << (fmt.total_bits - 1)) - 1)


def encode_nan(sign: int, payload: int, payload_source_mantissa_bits: int, fmt: FloatFormat) -> int:
    """NUM-3.17: convert a NaN with a sign and a payload.

    Into an ``ieee`` format, as IEEE 754 ``convertFormat`` of a quiet NaN: the
    sign is kept, the quiet bit set, and the payload keeps its most significant
    bits (the source's $M_{src} - 1$ payload bits are cut, or zero-extended, to
    the format's $M - 1$). Into an ``fn`` format: its NaN with the same sign (an
    unsigned one has a single NaN, all ones: the sign is lost).
    Into a ``fnuz`` format: its one NaN (the sign is lost). A ``finite`` format
    has no NaN, and encoding a NaN into it is an error: ``RefqValueError``.
    """
    if fmt.specials == "finite":
        raise invalid("value", f"a number or infinity ({fmt.name} has no NaN)", float("nan"))
    if fmt.specials != "ieee":
        return nan_pattern(sign, fmt)
    shift = payload_source_mantissa_bits - fmt.mantissa_bits
    kept_payload = payload >> shift if shift >= 0 else payload << -shift
    quiet_bit = 1 << (fmt.mantissa_bits - 1)
    all_ones_exponent = (1 << fmt.exponent_bits) - 1
    return ((sign << (fmt.total_bits - 1)) | (all_ones_exponent << fmt.mantissa_bits)
            | quiet_bit | kept_payload)


def _float64_payload(number: float) -> int:
    """The payload of a binary64 NaN: its mantissa below the quiet bit."""
    bits = struct.unpack("<Q", struct.pack("<d", number))[0]
    return bits & ((1 << (_FLOAT64_MANTISSA_BITS - 1)) - 1)
