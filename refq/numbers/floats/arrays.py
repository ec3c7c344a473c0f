"""NUM-3.18 and NUM-3.19: whole arrays of patterns to binary64 and back, as Numba kernels.

The kernels compute with the integer fields of binary64 patterns only, never
with floating-point arithmetic, so every step is exact and the compiled and
interpreted paths agree bit for bit. binary64 holds every value of every
registered format and every midpoint between two neighbours (at most 24
significant bits, exponents within binary64's normal range), so these two
conversions lose nothing, and exhaustive tests can run through them.

A format reaches a kernel as six integers: exponent bits, mantissa bits, bias,
the code of its special-value convention, whether it has a sign bit, and whether
it has a zero.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.floats.encode import BINARY_FLOAT_DTYPE_NAMES, OVERFLOW_POLICIES, TO_INFINITY, check_overflow
from refq.registry import FloatFormat, float_format

IEEE = 0
FN = 1
FNUZ = 2
FINITE = 3
SPECIALS_CODES = {"ieee": IEEE, "fn": FN, "fnuz": FNUZ, "finite": FINITE}

SATURATE_CODE = OVERFLOW_POLICIES["saturate"]
INFINITY_CODE = OVERFLOW_POLICIES["infinity"]

# binary64: 52 mantissa bits, 11 exponent bits, bias 1023. A binary64 pattern is
# handled as a signed 64-bit integer, so its sign bit is the integer's sign.
MANTISSA_BITS_64 = 52
BIAS_64 = 1023
SIGN_BIT_64 = np.int64(-(2**63))
INFINITY_64 = 0x7FF0000000000000
QUIET_NAN_64 = 0x7FF8000000000000
MAGNITUDE_MASK_64 = 0x7FFFFFFFFFFFFFFF
MANTISSA_MASK_64 = (1 << 52) - 1
PAYLOAD_MASK_64 = (1 << 51) - 1


def format_parameters(fmt: FloatFormat) -> tuple[int, int, int, int, int, int]:
    """The six integers a kernel receives for ``fmt``."""
    return (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, SPECIALS_CODES[fmt.specials],
            int(fmt.signed), int(fmt.has_zero))


def container_dtype(fmt: FloatFormat) -> type:
    """The narrowest unsigned integer type that holds a pattern of ``fmt``."""
    if fmt.total_bits <= 8:
        return np.uint8
    return np.uint16 if fmt.total_bits <= 16 else np.uint32


@kernel
def bit_length(n):
    """The number of bits of the non-negative integer ``n`` (0 for 0)."""
    length = 0
    while n >= 256:  # a byte at a time first: binary64 significands have 53 bits
        n >>= 8
        length += 8
    while n > 0:
        n >>= 1
        length += 1
    return length


@kernel
def pattern_to_float64_bits(pattern, exponent_bits, mantissa_bits, bias, specials, signed, has_zero):
    """NUM-3.18: the binary64 pattern (as int64) with the same value as ``pattern``.

    Finite values convert exactly: a normal keeps its mantissa, moved to the top
    of binary64's, and its unbiased exponent; a subnormal is normalised. An
    infinity stays infinite. A NaN of an ``ieee`` format keeps its sign and
    payload and becomes quiet (IEEE 754 ``convertFormat``, which widening
    hardware also does); the NaN of an ``fn`` or ``fnuz`` format, which has no
    payload, becomes binary64's default quiet NaN with the pattern's sign bit.
    An unsigned format's patterns have no sign bit (``signed`` 0: the shift
    leaves 0); a format without zero (``has_zero`` 0) reads exponent 0 as normal.
    """
    pattern = np.int64(pattern)
    sign = pattern >> (exponent_bits + mantissa_bits) if signed == 1 else 0
    exponent = (pattern >> mantissa_bits) & ((1 << exponent_bits) - 1)
    mantissa = pattern & ((1 << mantissa_bits) - 1)
    all_ones_exponent = exponent == (1 << exponent_bits) - 1
    all_ones_mantissa = mantissa == (1 << mantissa_bits) - 1
    to_top = MANTISSA_BITS_64 - mantissa_bits
    if specials == IEEE and all_ones_exponent:
        if mantissa == 0:
            magnitude = INFINITY_64
        else:
            magnitude = QUIET_NAN_64 | (mantissa << to_top)
    elif (specials == FN and all_ones_exponent and all_ones_mantissa) or (
        specials == FNUZ and sign == 1 and exponent == 0 and mantissa == 0
    ):
        magnitude = QUIET_NAN_64
    elif has_zero == 0:
        magnitude = ((exponent - bias + BIAS_64) << MANTISSA_BITS_64) | (mantissa << to_top)
    elif exponent == 0 and mantissa == 0:
        magnitude = 0
    elif exponent == 0:
        # mantissa * 2^(1 - bias - M) with the leading one of mantissa at bit `top`.
        top = bit_length(mantissa) - 1
        biased = top + 1 - bias - mantissa_bits + BIAS_64
        magnitude = (biased << MANTISSA_BITS_64) | ((mantissa - (1 << top)) << (MANTISSA_BITS_64 - top))
    else:
        magnitude = ((exponent - bias + BIAS_64) << MANTISSA_BITS_64) | (mantissa << to_top)
    magnitude = np.int64(magnitude)
    return magnitude | SIGN_BIT_64 if sign == 1 else magnitude


@kernel
def decode_to_float64(patterns, out, exponent_bits, mantissa_bits, bias, specials, signed, has_zero):
    """Decode every pattern of the 1-d array ``patterns`` into the float64 array ``out``."""
    out_bits = out.view(np.int64)
    for i in range(patterns.size):
        out_bits[i] = pattern_to_float64_bits(patterns[i], exponent_bits, mantissa_bits, bias, specials,
                                              signed, has_zero)


@kernel
def largest_finite_magnitude(exponent_bits, mantissa_bits, specials):
    """The pattern (sign bit 0) of the largest finite value, as in NUM-3.6."""
    all_ones_exponent = (1 << exponent_bits) - 1
    all_ones_mantissa = (1 << mantissa_bits) - 1
    if specials == IEEE:
        return ((all_ones_exponent - 1) << mantissa_bits) | all_ones_mantissa
    if specials == FN:
        return (1 << (exponent_bits + mantissa_bits)) - 2  # below the all-ones NaN, also with M = 0
    return (all_ones_exponent << mantissa_bits) | all_ones_mantissa


@kernel
def overflow_to_pattern(sign, exponent_bits, mantissa_bits, specials, overflow):
    """NUM-3.15 and NUM-3.16 for kernels: the result of an overflow or an infinite input."""
    sign_bit = sign << (exponent_bits + mantissa_bits)
    if overflow == INFINITY_CODE:
        if specials == IEEE:
            return sign_bit | (((1 << exponent_bits) - 1) << mantissa_bits)
        if specials == FN:
            return sign_bit | ((1 << (exponent_bits + mantissa_bits)) - 1)
        if specials == FNUZ:
            return 1 << (exponent_bits + mantissa_bits)
    return sign_bit | largest_finite_magnitude(exponent_bits, mantissa_bits, specials)


@kernel
def nan_to_pattern(sign, payload_64, exponent_bits, mantissa_bits, specials, signed):
    """NUM-3.17 for kernels: a binary64 NaN with ``sign`` and 51-bit ``payload_64``.

    ``finite`` formats have no NaN; :func:`encode_array` rejects NaN inputs for them
    before any kernel runs, and this returns 0 only so that the kernel is total.
    An unsigned format's one NaN is all ones.
    """
    if signed == 0:
        return (1 << (exponent_bits + mantissa_bits)) - 1
    total_bits = 1 + exponent_bits + mantissa_bits
    if specials == IEEE:
        quiet_bit = 1 << (mantissa_bits - 1)
        kept_payload = payload_64 >> (MANTISSA_BITS_64 - mantissa_bits)
        all_ones_exponent = (1 << exponent_bits) - 1
        return (sign << (total_bits - 1)) | (all_ones_exponent << mantissa_bits) | quiet_bit | kept_payload
    if specials == FN:
        return (sign << (total_bits - 1)) | ((1 << (total_bits - 1)) - 1)
    if specials == FNUZ:
        return 1 << (total_bits - 1)
    return 0


@kernel
def round_scaled_integer(sign, significand, exponent2, exponent_bits, mantissa_bits, bias, specials, has_zero,
                         overflow):
    """NUM-3.13 to NUM-3.15 for kernels: round $(-1)^s \\times$ ``significand`` $\\times 2^{e_2}$.

    The same steps as :func:`refq.numbers.floats.encode.round_to_format`, with the
    division by the quantum done as a right shift of ``significand`` (< 2^53) and
    the half-to-even decision made on the shifted-out remainder. ``sign`` is 0
    for an unsigned format (its negative inputs never reach this). In a format
    without zero, zero is its NaN (all ones: such formats are ``fn`` and unsigned)
    and a value rounding to zero gives the pattern 0, its smallest value.
    """
    if significand == 0:
        if has_zero == 0:
            return (1 << (exponent_bits + mantissa_bits)) - 1
        return sign << (exponent_bits + mantissa_bits) if specials != FNUZ else 0
    binade = exponent2 + bit_length(significand) - 1
    lowest_exponent = 1 - bias if has_zero == 1 else -bias
    quantum = max(binade, lowest_exponent) - mantissa_bits
    shift = quantum - exponent2
    if shift <= 0:
        count = significand << -shift  # a multiple of the quantum: exact, below 2^(M+1)
    elif shift > 53:
        count = 0  # the value is below half the quantum
    else:
        count = significand >> shift
        remainder = significand & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if remainder > half or (remainder == half and (count & 1) == 1):
            count += 1
    if count == 0:
        if has_zero == 0:
            return 0
        return sign << (exponent_bits + mantissa_bits) if specials != FNUZ else 0
    hidden_bit = 1 << mantissa_bits
    if count == 2 * hidden_bit:
        count = hidden_bit
        quantum += 1
    if count >= hidden_bit:
        magnitude = ((quantum + mantissa_bits + bias) << mantissa_bits) | (count - hidden_bit)
    else:
        magnitude = count
    if magnitude > largest_finite_magnitude(exponent_bits, mantissa_bits, specials):
        return overflow_to_pattern(sign, exponent_bits, mantissa_bits, specials, overflow)
    return (sign << (exponent_bits + mantissa_bits)) | magnitude


@kernel
def float64_bits_to_pattern(bits, exponent_bits, mantissa_bits, bias, specials, signed, has_zero, overflow):
    """NUM-3.19: encode one binary64 pattern (as int64), by NUM-3.12 to NUM-3.17."""
    bits = np.int64(bits)
    sign = 1 if bits < 0 else 0
    magnitude = bits & MAGNITUDE_MASK_64
    exponent64 = magnitude >> MANTISSA_BITS_64
    mantissa64 = magnitude & MANTISSA_MASK_64
    if exponent64 == 0x7FF and mantissa64 != 0:
        return nan_to_pattern(sign, mantissa64 & PAYLOAD_MASK_64, exponent_bits, mantissa_bits, specials, signed)
    if signed == 0 and sign == 1:
        if magnitude != 0:
            return (1 << (exponent_bits + mantissa_bits)) - 1  # below zero: the NaN (NUM-3.12)
        sign = 0
    if exponent64 == 0x7FF:
        return overflow_to_pattern(sign, exponent_bits, mantissa_bits, specials, overflow)
    # The exact value is significand * 2^exponent2, with binary64's own subnormals.
    if exponent64 == 0:
        significand = mantissa64
        exponent2 = 1 - BIAS_64 - MANTISSA_BITS_64
    else:
        significand = mantissa64 | (1 << MANTISSA_BITS_64)
        exponent2 = exponent64 - BIAS_64 - MANTISSA_BITS_64
    return round_scaled_integer(sign, significand, exponent2, exponent_bits, mantissa_bits, bias, specials, has_zero,
                                overflow)


@kernel
def encode_from_float64(values, out, exponent_bits, mantissa_bits, bias, specials, signed, has_zero, overflow):
    """Encode every element of the 1-d float64 array ``values`` into the pattern array ``out``."""
    value_bits = values.view(np.int64)
    for i in range(values.size):
        out[i] = float64_bits_to_pattern(value_bits[i], exponent_bits, mantissa_bits, bias, specials, signed,
                                         has_zero, overflow)


def decode_array(bits, format: str | FloatFormat = "binary32") -> np.ndarray:
    """Decode an array of bit patterns into a float64 array of the same shape (NUM-3.18)."""
    fmt = float_format(format)
    patterns = np.asarray(bits)
    if patterns.dtype.kind not in "iu":
        raise wrong_type("bits", f"an integer array of {fmt.name} bit patterns", bits)
    if patterns.size and (int(patterns.min()) < 0 or int(patterns.max()) >= 1 << fmt.total_bits):
        bad = patterns[(patterns < 0) | (patterns >= 1 << fmt.total_bits)].flat[0]
        raise invalid("bits", f"{fmt.total_bits}-bit patterns 0..{(1 << fmt.total_bits) - 1} "
                      f"for {fmt.name}", int(bad))
    flat = np.ascontiguousarray(patterns.reshape(-1))
    out = np.empty(flat.size, dtype=np.float64)
    decode_to_float64(flat, out, *format_parameters(fmt))
    return out.reshape(patterns.shape)


def encode_array(x, format: str | FloatFormat = "binary32", *, overflow: str = TO_INFINITY) -> np.ndarray:
    """Encode an array of floats into bit patterns of ``format`` (NUM-3.19).

    ``x`` is any array of binary floats (float16, float32, float64, or an
    ml_dtypes float type), converted exactly to float64 first. The result has ``x``'s shape and the narrowest
    unsigned dtype holding a pattern: uint8, uint16 or uint32.
    """
    fmt = float_format(format)
    check_overflow(overflow)
    values = np.asarray(x)
    if values.dtype.kind != "f" and values.dtype.name not in BINARY_FLOAT_DTYPE_NAMES:
        raise wrong_type("x", "an array of binary floats (float16/32/64, ml_dtypes float types)", x)
    with np.errstate(invalid="ignore"):  # widening a signalling NaN raises numpy's 'invalid' flag
        flat = np.ascontiguousarray(values.reshape(-1), dtype=np.float64)
    if not fmt.has_nan and np.isnan(flat).any():
        raise invalid("x", f"numbers or infinities ({fmt.name} has no NaN)", float("nan"))
    out = np.empty(flat.size, dtype=container_dtype(fmt))
    encode_from_float64(flat, out, *format_parameters(fmt), OVERFLOW_POLICIES[overflow])
    return out.reshape(values.shape)
