"""BLK-1.2 and BLK-3.3: the MX element formats and the rounding of a scaled value into one of them.

The parameters come from the number formats of the registry (NUM): an element format is a signed
float format with zeros; ``emax`` is the exponent of its largest normal value, which the scale rules
of BLK-2 subtract.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.floats.arrays import decode_array
from refq.numbers.floats.decode import decode
from refq.registry import float_format


@dataclass(frozen=True)
class ElementFormat:
    name: str
    bits: int
    exponent_bits: int
    mantissa_bits: int
    bias: int
    #: The largest finite magnitude.
    max_normal: float
    #: floor(log2(max_normal)): OCP's emax_elem.
    emax: int
    #: The code of +max_normal (saturation's result, the sign bit added).
    max_code: int


def _element_format(name: str) -> ElementFormat:
    fmt = float_format(name)
    # The positive codes in order of magnitude: the largest finite one is the largest normal (pure Python
    # decode, so that importing the chapter compiles nothing).
    positive = [decode(code, fmt) for code in range(1 << (fmt.total_bits - 1))]
    max_code = max(code for code, decoded in enumerate(positive) if decoded.value is not None)
    max_normal = float(positive[max_code].value)
    return ElementFormat(fmt.name, fmt.total_bits, fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, max_normal,
                         math.frexp(max_normal)[1] - 1, max_code)


#: OCP MX v1.0's element formats (5.3): FP8 E4M3 and E5M2, FP6 E3M2 and E2M3, FP4 E2M1.
ELEMENT_FORMATS: dict[str, ElementFormat] = {name: _element_format(name) for name in (
    "float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn")}


def element_format(format: object) -> ElementFormat:
    """The MX element format named ``format`` (a registry name or alias); anything else is an error naming it."""
    if not isinstance(format, str):
        raise wrong_type("format", "the name of an MX element format", format)
    try:
        name = float_format(format).name
    except Exception:
        name = format
    if name not in ELEMENT_FORMATS:
        raise invalid("format", "an MX element format: " + ", ".join(ELEMENT_FORMATS), format)
    return ELEMENT_FORMATS[name]


@functools.cache
def element_values(fmt: ElementFormat) -> np.ndarray:
    """BLK-4.1: the exact value of every code of ``fmt`` as a float32 (every element value is one; e5m2's
    infinities infinite), a NaN code's value the pattern of BLK-4.2."""
    codes = np.arange(1 << fmt.bits, dtype=np.uint8)
    values = decode_array(codes, float_format(fmt.name)).astype(np.float32)
    nan_bits = element_nan_bits(fmt)
    return np.where(nan_bits != 0, nan_bits, values.view(np.uint32)).astype(np.uint32).view(np.float32)


def element_nan_bits(fmt: ElementFormat) -> np.ndarray:
    """BLK-4.2: for each code of ``fmt``, the float32 pattern of its NaN widened and quieted (sign kept, the
    mantissa bits at the top of float32's mantissa, the quiet bit set, as torch's casts widen); 0 for a code
    that is no NaN."""
    codes = np.arange(1 << fmt.bits, dtype=np.uint32)
    sign = (codes >> (fmt.bits - 1)) & 1
    mantissa = codes & ((1 << fmt.mantissa_bits) - 1)
    widened = (sign << 31) | np.uint32(0x7FC00000) | (mantissa << (23 - fmt.mantissa_bits))
    values = decode_array(codes.astype(np.uint8), float_format(fmt.name))
    return np.where(np.isnan(values), widened, 0).astype(np.uint32)


@kernel
def floor_log2(magnitude):
    """floor(log2(m)) of a positive finite float64, exactly (from its binary exponent)."""
    return math.frexp(magnitude)[1] - 1


@kernel
def significand_length(significand):
    """The number of bits of a significand below 2^24 (0 for 0), without branches: five halving steps."""
    wide = (significand >> 16) != 0
    length = 16 * wide
    significand = significand >> (16 * wide)
    wide = (significand >> 8) != 0
    length += 8 * wide
    significand = significand >> (8 * wide)
    wide = (significand >> 4) != 0
    length += 4 * wide
    significand = significand >> (4 * wide)
    wide = (significand >> 2) != 0
    length += 2 * wide
    significand = significand >> (2 * wide)
    wide = (significand >> 1) != 0
    return length + wide + ((significand >> wide) != 0)


#: ``block_zero_code`` codes.
ZERO_SIGN_BIT, ZERO_NEGATIVE = range(2)


@kernel
def encode_element(bits, shift, mantissa_bits, bias, max_code, bits_per_code, ties, zero_rule):
    """BLK-3.3: the code of x / 2^shift, x the finite or infinite float32 whose pattern is ``bits``
    (-127 <= shift <= 127): rounded to the nearest value of the format (``ties``: 0 even, 1 toward zero), a
    magnitude of at least the largest normal (an infinity included) saturated to it, the sign bit kept (-0
    included), or under ``zero_rule`` = ``ZERO_NEGATIVE`` also set where the float32 quotient is zero: x = ±0,
    or x / 2^shift at most 2^-150 (which rounds to zero, the tie included: zero's significand is even).
    Exact integer arithmetic on x's significand, x / 2^shift = significand * 2^unit, without branches (so that
    the loop over a block vectorises)."""
    pattern = np.int64(bits)
    magnitude = pattern & 0x7FFFFFFF
    field = magnitude >> 23
    normal = field != 0
    significand = (magnitude & 0x7FFFFF) | (normal << 23)
    unit = max(field, 1) - 150 - shift
    # floor(log2(x / 2^shift)), and the binade the element value lies in (its quantum is 2^(exponent - m)).
    length = significand_length(significand)
    top = unit + length - 1
    # The quotient is at most 2^-150 when its leading bit is below 2^-150, or at it with nothing after it.
    power_of_two = significand == (1 << max(length - 1, 0))
    quotient_zero = (significand == 0) | (top < -150) | ((top == -150) & power_of_two)
    negative = (pattern >> 31) | ((zero_rule == ZERO_NEGATIVE) & quotient_zero)
    sign = negative << (bits_per_code - 1)
    exponent = max(top, 1 - bias)
    right = exponent - mantissa_bits - unit
    shifted = min(max(right, 0), 26)  # a right shift of 26 or more leaves 0, below a quarter of the quantum
    steps = (significand << max(-right, 0)) >> shifted
    rest = significand & ((1 << shifted) - 1)
    half = (1 << shifted) >> 1
    tie_goes_up = (ties == 0) & ((steps & 1) == 1)
    steps += (shifted > 0) & ((rest > half) | ((rest == half) & tie_goes_up))
    # In the lowest binade the biased exponent field is 1, so a subnormal's code is ``steps`` itself, and
    # a carry out of the mantissa lands in the exponent field in every binade.
    code = min(((exponent + bias) << mantissa_bits) + steps - (1 << mantissa_bits), max_code)
    return sign | (max_code if magnitude >= 0x7F800000 else code)
