"""ELT-2.7 ``qlinear_mul`` against the independent oracle in tests/oracle/elementwise.py
(exact integer product, each float32 step emulated with Fractions)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from refq.elementwise import qlinear_mul
from tests.oracle import elementwise as oracle

SCALE_PAIRS = 40
ELEMENTS = 64  # per scale set, in the default run


def test_qlinear_mul():
    rng = np.random.default_rng(2027)
    checked = 0
    for index in range(SCALE_PAIRS):
        dtype = (np.uint8, np.int8)[index % 2]
        info = np.iinfo(dtype)
        # Scales over several decades, so products, ties and saturation all occur.
        a_scale, b_scale, c_scale = (np.float32(10.0 ** rng.uniform(-4, 1)) for _ in range(3))
        a_zero, b_zero, c_zero = (dtype(rng.integers(info.min, info.max + 1)) for _ in range(3))
        a = rng.integers(info.min, info.max + 1, ELEMENTS).astype(dtype)
        b = rng.integers(info.min, info.max + 1, ELEMENTS).astype(dtype)
        result = qlinear_mul(a, a_scale, a_zero, b, b_scale, b_zero, c_scale, c_zero)
        assert result.dtype == dtype
        ratio = oracle.multiplier(Fraction(float(a_scale)), Fraction(float(b_scale)), Fraction(float(c_scale)))
        for position in range(ELEMENTS):
            expected = oracle.qlinear_mul_element(int(a[position]), int(a_zero), int(b[position]), int(b_zero),
                                                  ratio, int(c_zero), int(info.min), int(info.max))
            assert int(result[position]) == expected, (index, position)
            checked += 1
    assert checked == SCALE_PAIRS * ELEMENTS


def test_qlinear_mul_multiplier_half_ties_to_even():
    """m = 1/2 exactly: odd products are ties."""
    a = np.arange(-20, 21, dtype=np.int8)
    b = np.ones_like(a)
    result = qlinear_mul(a, np.float32(1.0), np.int8(0), b, np.float32(0.5), np.int8(0), np.float32(1.0), np.int8(3))
    ratio = oracle.multiplier(Fraction(1), Fraction(1, 2), Fraction(1))
    expected = [oracle.qlinear_mul_element(int(x), 0, 1, 0, ratio, 3, -128, 127) for x in a]
    assert result.tolist() == expected
