"""GGF-6.12 to GGF-6.14: ggml's NVFP4, blocks of 64 as four sub-blocks of 16 FP4 (E2M1) codes,
each sub-block with an unsigned E4M3 (UE4M3) scale; no tensor scale.

ggml's UE4M3 conversion is its own, not OCP's or NVIDIA's: it rounds the scale's mantissa
half up, maps every value of the top binade (256 and more) to its largest code 0x7E (448),
and keeps a scale just below the smallest normal at the largest subnormal.
"""

from __future__ import annotations

import math

import numpy as np

from refq._jit import kernel
from refq.gguf.nonlinear import FP4_LEVELS, nearest_fp4

BLOCK = 64
SUB_BLOCK = 16
BLOCK_BYTES = 36
UE4M3_LARGEST = np.float32(448.0)


@kernel
def ue4m3_code(value):
    """GGF-6.12: ggml's ``ggml_fp32_to_ue4m3``. 0 for ``value <= 0`` or NaN; ``value`` clamped to 448;
    below 2^-6 the subnormal ``(int)(value * 512 + 0.5)`` (float32) clamped to [0, 7]; else the
    exponent ``e = E + 7`` and the top three mantissa bits plus the next bit (half up, carrying into
    the exponent), 0x7E whenever ``e`` reaches 15."""
    if not value > np.float32(0.0):
        return 0
    if value > UE4M3_LARGEST:
        value = UE4M3_LARGEST
    fraction, binade = math.frexp(float(value))  # value = fraction * 2^binade, fraction in [0.5, 1)
    exponent = binade - 1 + 7
    if exponent <= 0:
        mantissa = int(value * np.float32(512.0) + np.float32(0.5))
        if mantissa > 7:
            mantissa = 7
        return mantissa if mantissa >= 1 else 0
    if exponent >= 15:
        return 0x7E
    # The significand's first three fraction bits, plus the fourth (the rounding bit): exact in float64.
    significand = 2.0 * fraction - 1.0
    mantissa = int(significand * 8.0) + (int(significand * 16.0) & 1)
    if mantissa > 7:
        mantissa = 0
        exponent += 1
        if exponent >= 15:
            return 0x7E
    return (exponent << 3) | mantissa


@kernel
def ue4m3_half(code):
    """GGF-6.13: half the value of UE4M3 ``code`` (``ggml_ue4m3_to_fp32``, exact): bit 7 is ignored,
    codes 0 and 0x7F give 0, exponent field 0 is subnormal (``m 2^-9``), else ``(1 + m/8) 2^(e - 7)``."""
    if code == 0 or code == 0x7F:
        return np.float32(0.0)
    exponent = (np.int64(code) >> 3) & 0xF
    mantissa = np.int64(code) & 7
    if exponent == 0:
        raw = math.ldexp(float(mantissa), -9)
    else:
        raw = math.ldexp(1.0 + mantissa / 8.0, int(exponent) - 7)
    return np.float32(raw) * np.float32(0.5)


@kernel
def quantize_nvfp4(x, out, undefined):
    """GGF-6.12: NVFP4: per sub-block of 16, the largest magnitude ``A`` (from 0, ``A < |x|``), the scale
    code ``ue4m3_code(A / 6)``, ``d = ue4m3_half(code)``, and each element the nearest doubled E2M1 level
    times ``d`` (MXFP4's rule, GGF-6.7); bytes: four codes, then per sub-block 8 bytes of nibble pairs
    (element ``j`` low, ``j + 8`` high)."""
    for b in range(x.size // BLOCK):
        o = b * BLOCK_BYTES
        for s in range(BLOCK // SUB_BLOCK):
            start = b * BLOCK + s * SUB_BLOCK
            largest = np.float32(0.0)
            for j in range(start, start + SUB_BLOCK):
                if largest < abs(x[j]):
                    largest = abs(x[j])
            code = ue4m3_code(largest / np.float32(6.0))
            out[o + s] = code
            d = ue4m3_half(code)
            for j in range(SUB_BLOCK // 2):
                low = nearest_fp4(x[start + j], d)
                high = nearest_fp4(x[start + SUB_BLOCK // 2 + j], d)
                out[o + 4 + s * (SUB_BLOCK // 2) + j] = low | (high << 4)


#: GGF-6.13's h(c) for every byte (bit 7 ignored), looked up per sub-block: ue4m3_half's float64
#: ldexp costs more than the sub-block's 16 products. Built by ue4m3_half itself, interpreted (at
#: import a kernel would import numba and compile).
UE4M3_HALVES = np.array([ue4m3_half.py_func(code) for code in range(256)], dtype=np.float32)
#: The magnitudes of FP4_LEVELS' codes 0-7 (0, 1, 2, 3, 4, 6, 8, 12), a nibble each: code k at bits 4k.
E2M1_MAGNITUDES = sum(int(FP4_LEVELS[k]) << (4 * k) for k in range(8))


@kernel(inline=True)
def doubled_e2m1(code):
    """``FP4_LEVELS[code]`` as a float32, for a 4-bit ``code``: its magnitude shifted out of
    E2M1_MAGNITUDES, negated (two's complement, so code 8 is +0 as in the table) when bit 3 is set.
    A table indexed by each element's code does not vectorise; shifts and an integer negation do."""
    magnitude = (E2M1_MAGNITUDES >> (4 * (code & 7))) & 0xF
    negative = code >> 3
    return np.float32((magnitude ^ -negative) + negative)


@kernel
def dequantize_nvfp4(blocks, out):
    """GGF-6.14: NVFP4: ``y = level * ue4m3_half(code)`` in float32, per sub-block."""
    # The 8 bytes of a sub-block, read from the sizes: a loop of a constant 8 is unrolled into scalar
    # code before the compiler could vectorise it (legacy.dequantize_bytes).
    eight = out.size // max(1, blocks.size // BLOCK_BYTES) // 8
    for b in range(blocks.size // BLOCK_BYTES):
        # Views indexed from 0: indices that need no wrap-around check.
        block = blocks[b * BLOCK_BYTES:(b + 1) * BLOCK_BYTES]
        values = out[b * BLOCK:(b + 1) * BLOCK]
        for s in range(BLOCK // SUB_BLOCK):
            d = UE4M3_HALVES[block[s]]
            packed = block[4 + s * (SUB_BLOCK // 2):4 + (s + 1) * (SUB_BLOCK // 2)]
            sub = values[s * SUB_BLOCK:(s + 1) * SUB_BLOCK]
            for j in range(eight):
                pair = np.int64(packed[j])
                sub[j] = doubled_e2m1(pair & 0xF) * d
                sub[SUB_BLOCK // 2 + j] = doubled_e2m1(pair >> 4) * d
