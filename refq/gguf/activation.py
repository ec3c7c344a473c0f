"""GGF-4.3: ggml-cpu's x86 SIMD activation quantizer, ``quantize_row_q8_0`` and ``quantize_row_q8_1``.

Every ``vec_dot`` of ggml's CPU backend quantizes its float32 activations into Q8_0 or Q8_1 blocks
with these functions, not with ``quantize_row_q8_*_ref`` (GGF-2.6, GGF-2.7). On x86 with AVX or AVX2
(``src/ggml-cpu/arch/x86/quants.c``) they take the reciprocal ``127 / A`` instead of ``1 / (A / 127)``,
round half to even (``_mm256_round_ps``) instead of half away from zero (``roundf``), and convert with
``cvtps2dq``, whose integer indefinite ``-2^31`` saturates to the code -128 for a product that is not a
finite number. The layout of the blocks is GGF-1.1's.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.gguf.half import half_pattern, store_half
from refq.gguf.legacy import BLOCK, largest_magnitude

#: ``cvtps2dq``'s result for NaN, infinities and values outside int32: the integer indefinite.
INTEGER_INDEFINITE = -(2**31)
#: The binary16 pattern of x86's default NaN (0xFFC00000, negative and quiet) through ``vcvtps2ph``.
X86_DEFAULT_NAN_HALF = 0xFE00


@kernel
def simd_reciprocal(largest):
    """``id = (A != 0) ? 127.f / A : 0``: one float32 division, infinite when ``127 / A`` overflows
    (``A`` below about 3.7e-37, float32 subnormals included)."""
    if largest != np.float32(0.0):
        return np.float32(127.0) / largest
    return np.float32(0.0)


@kernel
def simd_conversion(product):
    """``_mm256_round_ps`` (nearest, ties to even), then ``_mm256_cvtps_epi32``: the int32 nearest to
    ``product``, the integer indefinite -2^31 for a product that is NaN, infinite or beyond int32."""
    if not (abs(product) < np.float32(2.0**31)):  # also true for NaN
        return INTEGER_INDEFINITE
    return int(np.rint(product))


@kernel
def saturated_code(converted):
    """``_mm256_packs_epi32`` then ``_mm256_packs_epi16``: the int32 saturated to int16, then to int8."""
    return min(127, max(-128, converted))


@kernel
def wrapped_int32(total):
    """``total`` modulo 2^32, as a signed int32 (``_mm256_add_epi32`` and ``hsum_i32_8`` wrap)."""
    return ((total + 2**31) & 0xFFFFFFFF) - 2**31


@kernel
def simd_sum_pattern(total, d):
    """Q8_1's ``s = GGML_CPU_FP32_TO_FP16(d * sum)``: the int32 sum converted to float32 (ties to even),
    times ``d`` in float32, to binary16 by ``vcvtps2ph`` (ties to even). The product is NaN only as
    ``inf * 0`` (an infinite ``d``, a sum that wrapped to 0): x86's default NaN, whose binary16 is 0xFE00."""
    product = np.float32(total) * d
    if product != product:
        return X86_DEFAULT_NAN_HALF
    return half_pattern(product)


@kernel
def quantize_bytes_x86_simd(x, out, undefined, with_sum, block_bytes):
    """GGF-4.3: Q8_0 (and Q8_1, ``with_sum``) as ggml-cpu's x86 SIMD ``quantize_row_q8_0`` / ``_q8_1``:
    ``d = A / 127``, ``id = 127 / A``, ``q = sat8(cvt(rint(x * id)))`` ties to even, -128 where ``x * id``
    is not finite; Q8_1 stores ``s = fp16(fl32(sum32) * d)``, ``sum32`` the int32 sum (wrapping) of the
    conversions before saturation. Every conversion is defined by the instruction set, so no block is
    ``undefined``; a NaN in ``x`` is GGF-5.1's."""
    bits = x.view(np.int32)
    for b in range(x.size // BLOCK):
        start = b * BLOCK
        largest = largest_magnitude(bits, start, BLOCK)
        d = largest / np.float32(127.0)
        multiplier = simd_reciprocal(largest)
        o = b * block_bytes
        store_half(out, o, half_pattern(d))
        codes = o + block_bytes - BLOCK
        total = 0
        for j in range(BLOCK):
            converted = simd_conversion(x[start + j] * multiplier)
            out[codes + j] = saturated_code(converted) & 0xFF
            total += converted
        if with_sum:
            store_half(out, o + 2, simd_sum_pattern(wrapped_int32(total), d))
