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


@kernel(inline=True)
def floor_log2(magnitude):
    """floor(log2(m)) of a positive finite float64, exactly (from its binary exponent)."""
    return math.frexp(magnitude)[1] - 1


#: ``block_zero_code`` codes.
ZERO_SIGN_BIT, ZERO_NEGATIVE = range(2)


@kernel(inline=True)
def encode_element(quotient, mantissa_bits, bias, max_code, bits_per_code, ties, zero_rule):
    """BLK-3.3: the code of v = x / 2^shift from ``quotient``, the pattern of fl32(v), the float32 product
    x * 2^-shift: rounded to the nearest value of the format (``ties``: 0 even, 1 toward zero), a magnitude
    of at least the largest normal (an infinity included) saturated to it, the sign bit kept (-0 included),
    or under ``zero_rule`` = ``ZERO_NEGATIVE`` also set where fl32(v) is zero.

    fl32(v) is v itself wherever that matters: dividing by a power of two is exact unless it overflows
    (fl32(v) infinite: v is at least 2^128 and saturates as well) or underflows (|v| below 2^-126, and then
    fl32(v) too is at most 2^-126, so both are below a quarter of every element format's smallest
    subnormal, 2^-16 or more, and round to zero). Exact integer arithmetic on fl32(v)'s significand,
    fl32(v) = significand * 2^(unit), without branches (so that the loop over a block vectorises)."""
    pattern = np.int64(quotient)
    magnitude = pattern & 0x7FFFFFFF
    field = magnitude >> 23
    significand = (magnitude & 0x7FFFFF) | ((field != 0) << 23)
    unit = max(field, 1) - 150
    # The binade the element value lies in (its quantum is 2^(exponent - m)); fl32(v)'s leading bit is
    # 2^(field - 127) (for a float32 subnormal the clamp to 1 - bias decides alone).
    exponent = max(field - 127, 1 - bias)
    # At least 23 - m (the element has fewer mantissa bits); 25 or more leaves 0, below half the quantum.
    right = min(exponent - mantissa_bits - unit, 25)
    half = 1 << (right - 1)
    # Adding half - 1 rounds a rest above half up; the tie rounds up too where it goes to an even code.
    tie_goes_up = (ties == 0) & ((significand >> right) & 1)
    steps = (significand + half - 1 + tie_goes_up) >> right
    # In the lowest binade the biased exponent field is 1, so a subnormal's code is ``steps`` itself, and
    # a carry out of the mantissa lands in the exponent field in every binade; an infinity's exponent 128
    # gives a code above max_code, which saturates.
    code = min(((exponent + bias) << mantissa_bits) + steps - (1 << mantissa_bits), max_code)
    negative = (pattern >> 31) | ((zero_rule == ZERO_NEGATIVE) & (magnitude == 0))
    return (negative << (bits_per_code - 1)) | code
