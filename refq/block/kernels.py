"""BLK-3 and BLK-4: one block at a time, quantize (scale code, then element codes) and dequantize."""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.block.elements import (TIES_EVEN, TIES_TOWARD_ZERO, ZERO_NEGATIVE, ZERO_SIGN_BIT, decode_element,
                                 encode_element)
from refq.block.scale import (E8M0_BIAS, E8M0_LARGEST, E8M0_MIN_EXPONENT, E8M0_NAN, FLOOR, RCEIL, scale_code,
                              shared_exponent)

#: ``block_infinity`` codes.
NAN_SCALE, FLOAT32_EXPONENT_FIELD, LARGEST_SCALE, INFINITY_UNPREDICTABLE = range(4)
#: ``block_nan`` codes.
NAN_RULE_SCALE, NAN_RULE_UNPREDICTABLE = range(2)
#: ``block_nan_scale`` codes.
NAN_SCALE_DECODES_NAN, NAN_SCALE_POWER_OF_TWO = range(2)
#: What :func:`block_scale_code` returns for a block whose scale (and so its codes) is unpredictable.
UNPREDICTABLE_SCALE = -1
#: ``block_tiny_scale`` codes.
TINY_EXACT, TINY_FLOAT32_MIN_NORMAL, TINY_UNIT = range(3)
#: The float32 exponent field of an infinity, read as an exponent (255 - 127).
INFINITY_EXPONENT_FIELD = 128


@kernel(inline=True)
def magnitude_value(pattern):
    """The positive finite float32 whose pattern is ``pattern``: its bits read as a float32."""
    return np.uint32(pattern).view(np.float32)


@kernel(inline=True)
def largest_magnitude(row):
    """The pattern of the largest magnitude of a block, ``row`` its float32 values viewed as uint32: a
    float32's magnitude orders like its pattern without the sign, NaNs above the infinity."""
    largest = np.uint32(0)
    for j in range(row.shape[0]):
        largest = max(largest, np.uint32(row[j] & np.uint32(0x7FFFFFFF)))
    return largest


@kernel(inline=True)
def block_scale_code(largest, infinity, nan_rule, rule, emax, mantissa_bits, max_normal, bounds):
    """BLK-2.6 to BLK-2.8: the E8M0 code of a block whose largest magnitude has the pattern ``largest``
    (:func:`largest_magnitude`), or ``UNPREDICTABLE_SCALE`` where ``block_nan`` or ``block_infinity``
    leaves it open."""
    if largest > 0x7F800000:
        return UNPREDICTABLE_SCALE if nan_rule == NAN_RULE_UNPREDICTABLE else E8M0_NAN
    if largest == 0x7F800000 and infinity == NAN_SCALE:
        return E8M0_NAN
    if largest == 0x7F800000 and infinity == INFINITY_UNPREDICTABLE:
        return UNPREDICTABLE_SCALE
    if largest == 0x7F800000:
        if infinity == LARGEST_SCALE:
            return E8M0_LARGEST
        return scale_code(INFINITY_EXPONENT_FIELD - emax)
    if largest == 0:
        return scale_code(E8M0_MIN_EXPONENT)
    return scale_code(shared_exponent(magnitude_value(largest), rule, emax, mantissa_bits, max_normal, bounds))


@kernel(inline=True)
def divisor_exponent(code, tiny):
    """BLK-3.2: the exponent of the power of two the elements are divided by, for scale code ``code``."""
    if code == 0:
        if tiny == TINY_FLOAT32_MIN_NORMAL:
            return E8M0_MIN_EXPONENT + 1
        if tiny == TINY_UNIT:
            return 0
    return code - E8M0_BIAS


@kernel(inline=True)
def power_of_two(exponent):
    """2^exponent as a float32, for an exponent of -149 to 127: a normal one built from its exponent field
    (no library call in the loop over blocks)."""
    if exponent >= -126:
        return np.uint32((exponent + 127) << 23).view(np.float32)
    return np.float32(math.ldexp(1.0, exponent))


@kernel(inline=True)
def encode_row(row, factor, constants, ties, zero_rule, out):
    """BLK-3.3's code of fl32(x * factor) for every x of ``row``, into ``out``."""
    for j in range(row.shape[0]):
        out[j] = encode_element(np.float32(row[j] * factor).view(np.uint32), constants, ties, zero_rule)


@kernel(inline=True)
def chunk_scales(bits, first, last, infinity, nan_rule, rule, tiny, emax, mantissa_bits, max_normal, bounds, scales,
                 scale_open, unpredictable, largest, factors):
    """BLK-2.6 to BLK-3.2 for blocks ``first`` to ``last`` - 1: each one's scale code into ``scales`` (and
    ``scale_open``, ``unpredictable``), and the factor its elements are multiplied by into ``factors[block -
    first]``, 0 for a block without a scale (``largest``: room for their largest magnitudes)."""
    # The blocks' largest magnitudes first, a loop of their own, which overlaps them (and the scale rule's
    # float32 division) where one loop would run each block's steps in turn.
    for block in range(first, last):
        largest[block - first] = largest_magnitude(bits[block])
    for block in range(first, last):
        code = block_scale_code(largest[block - first], infinity, nan_rule, rule, emax, mantissa_bits, max_normal,
                                bounds)
        # A block without a scale (NaN, or open) is encoded too, by 0, and its codes zeroed afterwards: a
        # test in the loop over the blocks' elements would keep the compiler from vectorising it.
        factors[block - first] = np.float32(0.0)
        if code == E8M0_NAN or code == UNPREDICTABLE_SCALE:
            scales[block] = E8M0_NAN if code == E8M0_NAN else 0
            scale_open[block] = code == UNPREDICTABLE_SCALE
            unpredictable[block] = True
            continue
        scales[block] = code
        # One float32 product per element: x * 2^-shift is fl32(x / 2^shift), 2^-shift a float32 for
        # every divisor exponent (-127 to 127).
        factors[block - first] = power_of_two(-divisor_exponent(code, tiny))


#: How many blocks :func:`quantize_blocks` finds the scales of before it encodes their elements.
CHUNK_BLOCKS = 64


@kernel
def quantize_blocks(x, bits, scales, codes, unpredictable, scale_open, rule, infinity, nan_rule, tiny, ties,
                    zero_rule, emax, mantissa_bits, max_normal, constants, bounds):
    """BLK-3.1 and BLK-3.4: every row of ``x`` (``bits``: x viewed as uint32) is a block; its scale code into
    ``scales``, its element codes into ``codes`` (``constants``: the element format's
    :func:`~refq.block.elements.element_constants`); a block whose scale is NaN has unpredictable element
    codes (BLK-3.4), written as zeros, and one whose scale is unpredictable (BLK-2.8) has its scale, written
    as 0, marked in ``scale_open`` too. :data:`CHUNK_BLOCKS` blocks at a time, their scales first
    (:func:`chunk_scales`) and then their elements (:func:`encode_row`): a block's elements wait for its
    scale, and the processor overlaps the scales of neighbouring blocks (and their elements) where it cannot
    overlap one block's two steps."""
    factors = np.empty(CHUNK_BLOCKS, dtype=np.float32)
    largest = np.empty(CHUNK_BLOCKS, dtype=np.uint32)
    for first in range(0, x.shape[0], CHUNK_BLOCKS):
        last = min(first + CHUNK_BLOCKS, x.shape[0])
        # floor and rceil (OCP's rule and torchao's CPU one) each a loop of their own, the rule a constant there.
        if rule == FLOOR:
            chunk_scales(bits, first, last, infinity, nan_rule, FLOOR, tiny, emax, mantissa_bits, max_normal, bounds,
                         scales, scale_open, unpredictable, largest, factors)
        elif rule == RCEIL:
            chunk_scales(bits, first, last, infinity, nan_rule, RCEIL, tiny, emax, mantissa_bits, max_normal, bounds,
                         scales, scale_open, unpredictable, largest, factors)
        else:
            chunk_scales(bits, first, last, infinity, nan_rule, rule, tiny, emax, mantissa_bits, max_normal, bounds,
                         scales, scale_open, unpredictable, largest, factors)
        for block in range(first, last):
            row, out, factor = x[block], codes[block], factors[block - first]
            # Each variant pair its own loop, its values constants there: a test in the loop costs a fifth.
            if ties == TIES_EVEN and zero_rule == ZERO_SIGN_BIT:
                encode_row(row, factor, constants, TIES_EVEN, ZERO_SIGN_BIT, out)
            elif ties == TIES_EVEN:
                encode_row(row, factor, constants, TIES_EVEN, ZERO_NEGATIVE, out)
            elif zero_rule == ZERO_SIGN_BIT:
                encode_row(row, factor, constants, TIES_TOWARD_ZERO, ZERO_SIGN_BIT, out)
            else:
                encode_row(row, factor, constants, TIES_TOWARD_ZERO, ZERO_NEGATIVE, out)
        for block in range(first, last):
            if unpredictable[block]:
                codes[block, :] = 0


#: float32's default NaN, positive and quiet (what torch writes for NaN).
DEFAULT_NAN = np.uint32(0x7FC00000).view(np.float32)


@kernel
def dequantize_blocks(scales, codes, values, decoding, nan_scale, out):
    """BLK-4.1 and BLK-4.2: code value (``values``, :func:`~refq.block.elements.element_values`, or the same
    from :func:`~refq.block.elements.decode_element` with ``decoding``, its constants) times
    2^(scale code - 127) (a float32, subnormal for code 0), one float32 product, correctly rounded; a NaN
    code's widened pattern passes through the product unchanged; a NaN scale makes the block float32's
    default NaN, or under ``block_nan_scale = power_of_two`` is 2^128, +infinity in float32."""
    for block in range(codes.shape[0]):
        code = int(scales[block])
        if code == E8M0_NAN and nan_scale == NAN_SCALE_POWER_OF_TWO:
            for j in range(codes.shape[1]):
                out[block, j] = values[codes[block, j]] * np.float32(np.inf)
            continue
        if code == E8M0_NAN:
            for j in range(codes.shape[1]):
                out[block, j] = DEFAULT_NAN
            continue
        scale = power_of_two(code - E8M0_BIAS)
        row, values_out = codes[block], out[block]
        # An FP8 code is decoded from its fields (a gather from its 256 values is slower); an FP6 or FP4 code
        # is looked up in its format's 64 or 16 values (faster than the fields).
        if values.shape[0] == 256:
            for j in range(row.shape[0]):
                values_out[j] = np.float32(decode_element(row[j], decoding) * scale)
        else:
            for j in range(row.shape[0]):
                values_out[j] = values[row[j]] * scale
