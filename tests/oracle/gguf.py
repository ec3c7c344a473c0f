"""Oracle for GGF (ggml block types), written apart from refq: exact rationals, rounded by hand.

Every intermediate value is an exact ``Fraction``; each float32 operation of the C reference
is the exact result rounded to float32 (ties to even) by the affine oracle's ``round32``, and a
float16 field is rounded the same way to binary16. Integer rounding is exact: ``nearest_int``
is round-half-even of the exact float32 value, ``roundf`` round-half-away, a C cast truncation.
It covers finite, not all-zero blocks (a Fraction has no signed zero) of Q4_0, Q8_0 and Q6_K,
the last with its whole symmetric scale search (GGF-3.1); and the importance-matrix search (GGF-8):
Q4_0 and Q5_0 rows with their weights (a correctly rounded sqrtf from integer square roots) and the
weighted symmetric search, and ``make_qp_quants`` (GGF-8.2).
"""

from __future__ import annotations

import math
from fractions import Fraction

from tests.oracle.affine import BinaryFloat, binary_exponent, float32_value, round32, round_to_float

FLOAT16 = BinaryFloat(11, -14, 15)


def fl(value: Fraction) -> Fraction:
    rounded = round32(value)
    assert isinstance(rounded, Fraction), "the oracle covers finite float32 arithmetic only"
    return rounded


def half(value: Fraction) -> Fraction:
    rounded = round_to_float(value, FLOAT16)
    assert isinstance(rounded, Fraction), "the oracle covers finite float16 scales only"
    return rounded


def half_bytes(value: Fraction, negative: bool = False) -> list[int]:
    """The binary16 pattern of an fp16 value, little-endian; a zero has the sign ``negative`` (that of
    the value before rounding, which may have underflowed)."""
    sign = 0x8000 if value < 0 or (value == 0 and negative) else 0
    magnitude = abs(value)
    if magnitude == 0:
        pattern = sign
    else:
        exponent = max(binary_exponent(magnitude), -14)
        significand = magnitude / Fraction(2) ** (exponent - 10)
        assert significand.denominator == 1
        count = significand.numerator
        pattern = sign | (count if count < 1024 else ((exponent + 15) << 10) | (count - 1024))
    return [pattern & 0xFF, pattern >> 8]


def half_even(value: Fraction) -> int:
    floor = math.floor(value)
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def q8_0(block) -> list[int]:
    x = [float32_value(v) for v in block]
    d = fl(max(abs(v) for v in x) / 127)
    inverse = fl(1 / d) if d else Fraction(0)
    codes = [half_away(fl(v * inverse)) for v in x]
    return half_bytes(half(d)) + [c & 0xFF for c in codes]


def q4_0(block) -> list[int]:
    x = [float32_value(v) for v in block]
    chosen = Fraction(0)
    for v in x:  # the first element of largest magnitude
        if abs(v) > abs(chosen):
            chosen = v
    d = fl(chosen / -8)
    inverse = fl(1 / d) if d else Fraction(0)
    codes = [min(15, math.trunc(fl(fl(v * inverse) + Fraction(17, 2)))) for v in x]
    return half_bytes(half(d), d < 0) + [codes[j] | (codes[j + 16] << 4) for j in range(16)]


def symmetric_search(x: list[Fraction], levels: int,
                     weights: list[Fraction] | None = None) -> tuple[Fraction, list[int]]:
    """GGF-3.1 from its text: the trial ``-levels / max`` and the 18 trials ``-(levels + 0.1 k) / max``;
    the weights ``x^2`` unless ``weights`` are given (GGF-8.3)."""
    chosen = Fraction(0)
    for v in x:
        if abs(v) > abs(chosen):
            chosen = v
    if abs(chosen) < fl(Fraction(1e-15)):
        return Fraction(0), [0] * len(x)

    def trial(iscale):
        codes = [max(-levels, min(levels - 1, half_even(fl(iscale * v)))) for v in x]
        sum_lx = sum_l2 = Fraction(0)
        for i, (v, l) in enumerate(zip(x, codes)):
            w = fl(v * v) if weights is None else weights[i]
            sum_lx = fl(sum_lx + fl(fl(w * v) * l))
            sum_l2 = fl(sum_l2 + fl(fl(w * l) * l))
        return codes, sum_lx, sum_l2

    codes, sum_lx, sum_l2 = trial(fl(Fraction(-levels) / chosen))
    scale = fl(sum_lx / sum_l2) if sum_l2 else Fraction(0)
    best = fl(scale * sum_lx)
    tenth = fl(Fraction(0.1))
    for k in [*range(-9, 0), *range(1, 10)]:
        candidate, s_lx, s_l2 = trial(fl(-fl(levels + fl(tenth * k)) / chosen))
        if s_l2 > 0 and fl(s_lx * s_lx) > fl(best * s_l2):
            codes, scale = candidate, fl(s_lx / s_l2)
            best = fl(scale * s_lx)
    return scale, [c + levels for c in codes]


def q6_k(block) -> list[int]:
    x = [float32_value(v) for v in block]
    codes: list[int] = []
    scales = []
    for j in range(16):
        scale, sub_codes = symmetric_search(x[16 * j:16 * j + 16], 32)
        scales.append(scale)
        codes += sub_codes
    max_scale = Fraction(0)
    for s in scales:
        if abs(s) > abs(max_scale):
            max_scale = s
    assert abs(max_scale) >= fl(Fraction(1e-15)), "the oracle covers blocks that are not all zero"
    iscale = fl(Fraction(-128) / max_scale)
    unrounded = fl(1 / iscale)
    d = half(unrounded)
    int8_scales = [min(127, half_even(fl(iscale * s))) for s in scales]
    for j in range(16):
        dj = fl(d * int8_scales[j])
        if dj == 0:
            continue
        for i in range(16):
            codes[16 * j + i] = max(-32, min(31, half_even(fl(x[16 * j + i] / dj)))) + 32
    low = [0] * 128
    high = [0] * 64
    for j in (0, 128):
        for l in range(32):
            q = [codes[j + l + 32 * k] for k in range(4)]
            low[j // 2 + l] = (q[0] & 0xF) | ((q[2] & 0xF) << 4)
            low[j // 2 + l + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4)
            high[j // 4 + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6)
    return low + high + [s & 0xFF for s in int8_scales] + half_bytes(d, unrounded < 0)


def sqrt32(value: Fraction) -> Fraction:
    """sqrtf: the float32 nearest to the exact square root of ``value`` (>= 0), from integer square roots."""
    bits = 160
    root = math.isqrt(math.floor(value * 4**bits))
    low, high = round32(Fraction(root, 2**bits)), round32(Fraction(root + 1, 2**bits))
    # The root lies in [low, high): one float32 unless a rounding boundary falls within 2^-160 of it.
    assert low == high, "the square root is too close to a float32 rounding boundary"
    return low


def importance_weights(x: list[Fraction], imatrix: list[Fraction], sigma2: Fraction) -> list[Fraction]:
    """GGF-8.1: ``qw * sqrtf(sigma2 + x^2)``, every operation rounded to float32."""
    return [fl(q * sqrt32(fl(sigma2 + fl(v * v)))) for v, q in zip(x, imatrix)]


def weighted_symmetric_nibbles(row, imatrix, levels: int) -> list[int]:
    """GGF-8.3: one row of Q4_0 (``levels`` 16) or Q5_0 (32) with the importance matrix ``imatrix``."""
    x = [float32_value(v) for v in row]
    qw = [float32_value(v) for v in imatrix]
    total = Fraction(0)
    for v in x:
        total = fl(total + fl(v * v))
    sigma2 = fl(total / len(x))
    out: list[int] = []
    for start in range(0, len(x), 32):
        block = x[start:start + 32]
        scale, codes = symmetric_search(block, levels // 2, importance_weights(block, qw[start:start + 32], sigma2))
        assert scale != 0, "the oracle covers blocks whose scale is not zero (a Fraction has no signed zero)"
        out += half_bytes(half(scale), scale < 0)
        if levels == 32:
            mask = sum(((c >> 4) & 1) << j for j, c in enumerate(codes))
            out += [(mask >> (8 * k)) & 0xFF for k in range(4)]
        out += [(codes[j] & 0xF) | ((codes[j + 16] & 0xF) << 4) for j in range(16)]
    return out


def positive_search(x, weights, levels: int) -> tuple[Fraction, list[int]]:
    """GGF-8.2 (``make_qp_quants``) from its text, for non-negative finite ``x`` not all below 1e-15."""
    x = [float32_value(v) for v in x]
    w = [float32_value(v) for v in weights]
    largest = max([Fraction(0), *x])
    assert largest >= fl(Fraction(1e-15))
    iscale = fl(Fraction(levels) / largest)
    codes = [half_even(fl(iscale * v)) for v in x]
    scale = fl(1 / iscale)

    def error(codes, scale):
        total = Fraction(0)
        for v, l, wi in zip(x, codes, w):
            difference = fl(v - fl(scale * l))
            total = fl(total + fl(fl(wi * difference) * difference))
        return total

    best = error(codes, scale)
    tenth = fl(Fraction(0.1))
    for k in [*range(-4, 0), *range(1, 5)]:
        trial = fl(fl(fl(tenth * k) + levels) / largest)
        candidate = [min(levels, half_even(fl(trial * v))) for v in x]
        mse = error(candidate, fl(1 / trial))
        if mse < best:
            best, iscale = mse, trial
    codes = [min(levels, half_even(fl(iscale * v))) for v in x]
    sum_lx = sum_l2 = Fraction(0)
    for v, l, wi in zip(x, codes, w):
        sum_lx = fl(sum_lx + fl(fl(wi * v) * l))
        sum_l2 = fl(sum_l2 + fl(fl(wi * l) * l))
    for _ in range(5):
        changed = 0
        for i, (v, wi) in enumerate(zip(x, w)):
            slx = fl(sum_lx - fl(fl(wi * v) * codes[i]))
            sl2 = fl(sum_l2 - fl(fl(wi * codes[i]) * codes[i]))
            if slx > 0 and sl2 > 0:
                new = min(levels, half_even(fl(fl(v * sl2) / slx)))
                if new != codes[i]:
                    slx = fl(slx + fl(fl(wi * v) * new))
                    sl2 = fl(sl2 + fl(fl(wi * new) * new))
                    if fl(fl(slx * slx) * sum_l2) > fl(fl(sum_lx * sum_lx) * sl2):
                        codes[i], sum_lx, sum_l2 = new, slx, sl2
                        changed += 1
        if not changed:
            break
    return (fl(sum_lx / sum_l2) if sum_l2 > 0 else Fraction(0)), codes
