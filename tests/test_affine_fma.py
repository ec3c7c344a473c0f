"""AFF-3.7: the float32 fused multiply-add, $\\mathrm{fl_{32}}(a b + c)$ rounded once.

Three independent references: the Fraction oracle (tests/oracle/affine.py) on every
constructed case and on a sample; a vectorised exact computation in Python integers
(numpy object arrays, below) on over a million cases; and constructed cases where the
float64 sum lands exactly on a float32 midpoint, on which the naive double rounding
$\\mathrm{fl_{32}}(\\mathrm{fl_{64}}(a b + c))$ goes the wrong way, so the test can fail.
"""

from __future__ import annotations

from fractions import Fraction

import numba
import numpy as np
import pytest

from refq._jit import pure_python
from refq.affine.steps import fused_multiply_add_float32
from tests.oracle import affine as oracle

_fma = fused_multiply_add_float32.compiled


@numba.njit(cache=False)
def _fma_elements(a, b, c, out):
    for i in range(a.size):
        out[i] = _fma(a[i], b[i], c[i])


def refq_fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=np.float32)
    _fma_elements(a, b, c.astype(np.int64), out)
    return out


def bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def float32_from_pattern(pattern: int) -> np.float32:
    return np.array([pattern], dtype=np.uint32).view(np.float32)[0]


# --- a vectorised exact reference in Python integers -------------------------------------


def _fields(patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed integer significand and power of two of finite float32 patterns."""
    patterns = patterns.astype(np.int64)
    biased = (patterns >> 23) & 0xFF
    fraction = patterns & 0x7FFFFF
    significand = np.where(biased == 0, fraction, fraction | 0x800000)
    power = np.where(biased == 0, -149, biased - 150)
    return np.where(patterns >> 31 == 1, -significand, significand), power


def exact_fma_bits(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The float32 patterns of a*b + c rounded once, ties to even, for finite a, b and integer c.

    The exact value is ``numerator * 2^low`` with a Python-int numerator (object array);
    it is cut to the float32 spacing at its magnitude (fixed below 2^-126) and the
    remainder compared with half that spacing.
    """
    significand_a, power_a = _fields(bits(a))
    significand_b, power_b = _fields(bits(b))
    product = significand_a * significand_b  # < 2^48: exact in int64
    power = power_a + power_b
    low = np.minimum(power, 0)
    numerator = (product.astype(object) << (power - low).astype(object)) + (
        c.astype(np.int64).astype(object) << (-low).astype(object))
    negative = numerator < 0
    magnitude = np.abs(numerator)
    length = np.frompyfunc(int.bit_length, 1, 1)(magnitude).astype(np.int64)
    quantum = np.maximum(length - 1 + low, -126) - 23
    cut = np.maximum(quantum - low, 0)
    cut_object = cut.astype(object)
    kept = magnitude >> cut_object
    twice_remainder = (magnitude - (kept << cut_object)) << 1
    spacing = np.ones(cut.shape, dtype=object) << cut_object
    round_up = (twice_remainder > spacing) | ((twice_remainder == spacing) & (kept % 2 == 1) & (cut > 0))
    kept = (kept + round_up).astype(np.int64)  # at most 2^24
    value = np.ldexp(kept.astype(np.float64), (low + cut).astype(np.int32))
    with np.errstate(over="ignore"):
        result = value.astype(np.float32)  # exact, or 2^128 and beyond overflowing to inf
    result = np.where(negative, -result, result)
    return bits(result)


def _random_cases(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite a, b and integer zero points c: a third quantization-like (b the reciprocal of a
    scale, a near (k + 1/2) times the scale), a third any finite patterns, a third moderate."""
    rng = np.random.default_rng(seed)
    third = count // 3
    scale = np.ldexp(rng.uniform(1, 2, third), rng.integers(-24, 4, third)).astype(np.float32)
    reciprocal = (np.float32(1) / scale).astype(np.float32)
    k = rng.integers(-70000, 70000, third)
    near_tie = ((k + 0.5) * scale.astype(np.float64)).astype(np.float32)
    wiggle = rng.integers(-2, 3, third).astype(np.int32)
    near_tie = (near_tie.view(np.int32) + wiggle).view(np.float32)
    any_a = rng.integers(0, 2**32, third, dtype=np.uint64).astype(np.uint32).view(np.float32)
    any_b = rng.integers(0, 2**32, third, dtype=np.uint64).astype(np.uint32).view(np.float32)
    rest = count - 2 * third
    moderate_a = np.ldexp(rng.uniform(-2, 2, rest), rng.integers(-40, 40, rest)).astype(np.float32)
    moderate_b = np.ldexp(rng.uniform(-2, 2, rest), rng.integers(-40, 40, rest)).astype(np.float32)
    a = np.concatenate([near_tie, any_a, moderate_a])
    b = np.concatenate([reciprocal, any_b, moderate_b])
    finite = np.isfinite(a) & np.isfinite(b)
    a, b = a[finite], b[finite]
    c = rng.integers(-32768, 65536, a.size)
    c[rng.random(a.size) < 0.1] = 0
    return a, b, c


def constructed_midpoint_cases(candidates: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float32 a, b and integer c whose exact a*b + c lies within half a float64 spacing of a
    float32 midpoint, on either side, but not on it: fl64(a*b + c) is the midpoint.

    With $c$ of $L$ bits, the midpoint bit of the sum is $2^{L-25}$ and float64 keeps bits down
    to $2^{L-53}$. The product is $N \\cdot 2^E$ with $N = H \\cdot 2^w \\pm t$: $H$ odd supplies
    the lowest float32 bits and the midpoint bit, 28 zero (or, for $-t$, one) bits follow, and
    $0 < t < 2^{w-29}$ is the tail below half a float64 spacing. $N$ must split into two
    factors below $2^{24}$ (the float32 significands): draw the factor $A$, solve for $t$
    modulo $A$, and keep the draws where $t$ came out small enough.
    """
    rng = np.random.default_rng(seed)
    c = rng.integers(1, 2**16, candidates)
    length = np.frexp(c.astype(np.float64))[1]  # the bit length of c
    high_bits = rng.integers(1, 6, candidates)
    high = rng.integers(2 ** (high_bits - 1), 2**high_bits) | 1
    w = 48 - high_bits
    direction = rng.choice(np.array([1, -1]), candidates)
    shifted = high << w
    factor = rng.integers(-(-shifted // 2**24) + 1, 2**24)
    tail = (-direction * shifted) % factor
    product = shifted + direction * tail
    other = product // factor
    keep = (tail > 0) & (tail < 2 ** (w - 29)) & (other < 2**24)
    split = rng.integers(-20, 21, candidates)
    a = np.ldexp(factor.astype(np.float64), split).astype(np.float32)
    b = np.ldexp(other.astype(np.float64), length - 25 - w - split).astype(np.float32)
    mirror = (rng.random(candidates) < 0.5) & (c <= 32768)  # negative zero points too
    a, c = np.where(mirror, -a, a), np.where(mirror, -c, c)
    return a[keep], b[keep], c[keep]


def is_float32_midpoint(value: Fraction) -> bool:
    """Not a float32, and as far from its rounding as from the float32 on its other side."""
    rounded = oracle.round32(value)
    mirrored = 2 * value - rounded
    return rounded != value and oracle.round32(mirrored) == mirrored


def test_fused_multiply_add_float32_constructed_midpoints():
    a, b, c = constructed_midpoint_cases(100_000, seed=7)
    a, b, c = a[:400], b[:400], c[:400]
    assert a.size == 400
    got = bits(refq_fma(a, b, c))
    naive_differs = 0
    for index in range(a.size):
        x, y, z = Fraction(float(a[index])), Fraction(float(b[index])), Fraction(int(c[index]))
        exact = x * y + z
        midpoint = oracle.round64(exact)
        # The construction: float64 lands on the midpoint of two float32 neighbours.
        assert midpoint != exact and is_float32_midpoint(midpoint)
        expected = oracle.float32_bits(oracle.fma32(x, y, z))
        assert got[index] == expected, (x, y, z)
        naive_differs += oracle.float32_bits(oracle.naive_fma32(x, y, z)) != expected
    # Ties to even sends the midpoint the wrong way for about half of them.
    assert naive_differs > a.size // 4


def test_fused_multiply_add_float32_overflow_midpoint():
    # 31 * 1082401 = 2^25 - 1: a*b = 2^128 - 2^103 is the midpoint between the largest
    # float32 and 2^128. Exactly on it, ties to even overflows; a zero point of -1 pulls the
    # exact value below it (to the largest float32) though float64 cannot tell the difference.
    a = np.float32(31 * 2.0**50)
    b = np.float32(1082401 * 2.0**53)
    largest = np.finfo(np.float32).max
    for sign in (1, -1):
        for c, expected in ((-1, largest), (0, np.inf), (1, np.inf)):
            got = refq_fma(np.array([sign * a], np.float32), np.array([b]), np.array([sign * c]))[0]
            assert bits(got) == bits(np.float32(sign * expected)), (sign, c)
            assert bits(got) == oracle.float32_bits(oracle.fma32(
                Fraction(float(sign * a)), Fraction(float(b)), Fraction(sign * c)))


def test_fused_multiply_add_float32_specials():
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.5, -3.0, 1e-45, np.finfo(np.float32).max]
    for x in specials:
        for r in specials:
            for c in (0, 1, -7):
                got = refq_fma(np.array([x], np.float32), np.array([r], np.float32), np.array([c]))[0]
                expected = oracle.fma32(oracle.float32_value(np.float32(x)), oracle.float32_value(np.float32(r)),
                                        Fraction(c))
                if oracle.is_nan(expected):
                    assert np.isnan(got), (x, r, c)
                else:
                    # Only a nonzero negative product that underflows keeps a minus sign: -0 + 0 is +0.
                    product = np.float64(x) * np.float64(r)
                    negative_zero = expected == 0 and c == 0 and product < 0
                    assert bits(got) == oracle.float32_bits(expected, negative_zero), (x, r, c)


def test_fused_multiply_add_float32_million():
    a, b, c = (np.concatenate(parts) for parts in zip(
        _random_cases(1_030_000, seed=2024), constructed_midpoint_cases(4_000_000, seed=11)))
    assert a.size >= 1_000_000
    got = bits(refq_fma(a, b, c))
    expected = exact_fma_bits(a, b, c)
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, [(a[i], b[i], c[i]) for i in mismatches[:5]]
    # The double rounding the kernel avoids: wrong on thousands of the constructed cases.
    with np.errstate(over="ignore"):
        naive = (a.astype(np.float64) * b.astype(np.float64) + c).astype(np.float32)
    assert np.count_nonzero(bits(naive) != expected) > 5000
    # The integer reference itself, checked on a sample against the Fraction oracle.
    sample = np.random.default_rng(5).choice(a.size, 4000, replace=False)
    for i in sample:
        exact = oracle.fma32(Fraction(float(a[i])), Fraction(float(b[i])), Fraction(int(c[i])))
        negative_zero = exact == 0 and c[i] == 0 and np.float64(a[i]) * np.float64(b[i]) < 0
        assert expected[i] == oracle.float32_bits(exact, negative_zero), (a[i], b[i], c[i])


def test_fused_multiply_add_float32_jit_equals_pure_python():
    a, b, c = (np.concatenate(parts) for parts in zip(
        _random_cases(3000, seed=99), constructed_midpoint_cases(100_000, seed=3)))
    compiled = bits(refq_fma(a, b, c))
    with pure_python(), np.errstate(over="ignore"):
        interpreted = bits(np.array([fused_multiply_add_float32(a[i], b[i], c[i]) for i in range(a.size)],
                                    dtype=np.float32))
    assert compiled.tolist() == interpreted.tolist()


@pytest.mark.slow
def test_fused_multiply_add_float32_ten_million():
    for seed in range(10):
        a, b, c = _random_cases(1_000_000, seed=1000 + seed)
        assert (bits(refq_fma(a, b, c)) == exact_fma_bits(a, b, c)).all()
