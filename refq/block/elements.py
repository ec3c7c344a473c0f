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


def element_decoding(fmt: ElementFormat) -> tuple:
    """The constants :func:`decode_element` reads for ``fmt``: the code's sign bit, the mask of its
    magnitude, the first magnitude that is no finite value (2^(bits - 1) where every one is), the shift
    that moves a magnitude's exponent and mantissa fields onto float32's, and 2^(127 - bias)."""
    magnitudes = 1 << (fmt.bits - 1)
    values = element_values(fmt)[:magnitudes]
    special = [code for code in range(magnitudes) if not np.isfinite(values[code])]
    return (np.uint32(magnitudes), np.uint32(magnitudes - 1), np.uint32(special[0] if special else magnitudes),
            np.uint32(FRACTION_BITS - fmt.mantissa_bits), np.float32(math.ldexp(1.0, 127 - fmt.bias)))


@kernel(inline=True)
def decode_element(code, decoding):
    """BLK-4.1 and BLK-4.2: the float32 value of the element code ``code`` (``decoding``:
    :func:`element_decoding`'s constants for its format), what :func:`element_values` lists, computed so that
    a loop of it vectorises. A magnitude's exponent and mantissa fields, moved onto float32's, are the pattern
    of v * 2^(bias - 127): an exponent field e reads as 2^(e - 127), and a subnormal code's field 0 as a
    float32 subnormal of the same mantissa; the product by 2^(127 - bias) is then exact. A magnitude from the
    first one that is no finite value up (e5m2's exponent field of ones, e4m3fn's one NaN) has float32's
    exponent field of ones: an infinity for mantissa 0, else the NaN widened (BLK-4.2: its mantissa at the
    top of float32's, the quiet bit set). The sign is the code's."""
    sign_bit, magnitude_mask, first_special, shift, unbias = decoding
    magnitude = np.uint32(np.uint32(code) & magnitude_mask)
    fields = np.uint32(magnitude << shift)
    finite = np.float32(fields.view(np.float32) * unbias)
    mantissa = np.uint32(fields & np.uint32(0x7FFFFF))
    quiet = np.uint32(0x400000) if mantissa != 0 else np.uint32(0)
    special = np.uint32(np.uint32(0x7F800000) | mantissa | quiet).view(np.float32)
    value = np.float32(special if magnitude >= first_special else finite)
    negative = np.uint32(0x80000000) if np.uint32(code) & sign_bit else np.uint32(0)
    return np.uint32(value.view(np.uint32) | negative).view(np.float32)


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


#: ``block_element_ties`` codes.
TIES_EVEN, TIES_TOWARD_ZERO = range(2)
#: A float32 significand's fraction bits: 2^23 quanta of a binade lie between it and the next.
FRACTION_BITS = 23


def element_constants(fmt: ElementFormat) -> tuple:
    """The float32 constants :func:`encode_element` reads for ``fmt``, computed once for a whole array:
    the largest normal, the smallest normal 2^(1 - bias), 2^(23 - m), 2^(bias - 1 + m) (a subnormal
    value's count of quanta per unit), 2^(m - 23), 2^m, and the sign bit of a code."""
    m = fmt.mantissa_bits
    return (np.float32(fmt.max_normal), np.float32(math.ldexp(1.0, 1 - fmt.bias)),
            np.float32(math.ldexp(1.0, FRACTION_BITS - m)), np.float32(math.ldexp(1.0, fmt.bias - 1 + m)),
            np.float32(math.ldexp(1.0, m - FRACTION_BITS)), np.float32(1 << m), np.uint32(1 << (fmt.bits - 1)))


@kernel(inline=True)
def encode_element(quotient, constants, ties, zero_rule):
    """BLK-3.3: the code of v = x / 2^shift from ``quotient``, the pattern of fl32(v), the float32 product
    x * 2^-shift (never a NaN: a NaN makes the block's scale NaN or open, BLK-2.6): rounded to the
    nearest value of the format (``ties``: :data:`TIES_EVEN` or :data:`TIES_TOWARD_ZERO`), a magnitude
    of at least the largest normal (an infinity included) saturated to it, the sign bit kept (-0
    included), or under ``zero_rule`` = ``ZERO_NEGATIVE`` also set where fl32(v) is zero.
    ``constants`` are :func:`element_constants`' for the format.

    fl32(v) is v itself wherever that matters: dividing by a power of two is exact unless it overflows
    (fl32(v) infinite: v is at least 2^128 and saturates as well) or underflows (|v| below 2^-126, and then
    fl32(v) too is at most 2^-126, so both are below a quarter of every element format's smallest
    subnormal, 2^-16 or more, and round to zero).

    The rounding is float32 arithmetic, exact but for one addition (so that a loop of it runs on float32
    lanes): a = |fl32(v)| is first saturated, which rounding then leaves alone (it is monotonic and the
    largest normal is a value of the format). The quantum q of a's binade (the subnormals' below the
    smallest normal) is 2^-m times that binade; a + 2^23 q lies in [2^23 q, 2^24 q), where float32's
    spacing is q, so that one float32 addition rounds a to a multiple of q, ties to even, and subtracting
    2^23 q again is exact (Sterbenz). A tie rounded up shows as a difference of exactly q / 2 from a
    (the difference is exact too), and ``half_toward_zero`` takes q back. The code of the rounded value r
    is r / q for a subnormal one; a normal one's float32 pattern lies (code - 2^m) steps of 2^(23 - m)
    above the smallest normal's (a carry into the next binade included). Both counts are integers below
    2^8, exact in float32."""
    largest, smallest_normal, quanta, subnormal_quanta, pattern_steps, implicit, sign_bit = constants
    pattern = np.uint32(quotient)
    magnitude = np.uint32(pattern & np.uint32(0x7FFFFFFF))
    a = np.float32(min(magnitude.view(np.float32), largest))
    binade = np.float32(max(np.uint32(a.view(np.uint32) & np.uint32(0x7F800000)).view(np.float32), smallest_normal))
    anchor = np.float32(binade * quanta)
    even = np.float32(np.float32(a + anchor) - anchor)
    quantum = np.float32(anchor * np.float32(2.0 ** -FRACTION_BITS))
    tie_rounded_up = np.float32(even - a) == np.float32(quantum * np.float32(0.5))
    # & and |, not and/or: no branch in the loop over a block.
    rounded = np.float32(even - (quantum if (ties == TIES_TOWARD_ZERO) & tie_rounded_up else np.float32(0.0)))
    if rounded < smallest_normal:
        code = np.float32(rounded * subnormal_quanta)
    else:
        steps = np.uint32(rounded.view(np.uint32) - np.float32(smallest_normal).view(np.uint32))
        code = np.float32(np.float32(np.int32(steps)) * pattern_steps) + implicit
    negative = (pattern >= np.uint32(0x80000000)) | ((zero_rule == ZERO_NEGATIVE) & (magnitude == 0))
    return np.uint32(np.int32(code)) | (sign_bit if negative else np.uint32(0))
