"""TOSA's ADD and MUL between RESCALEs (refq/backends/tosa.py: the graphs of MLIR's TFLite legalisation) on the
reference model against refq's ``binary_arithmetic = tosa_rescale`` (ELT-2.8, ELT-2.9): every int8 pair under a
few scale triples here, random scales, uint8 and broadcast shapes in the slow test."""

from __future__ import annotations

import numpy as np
import pytest

from refq.backends.interpreters import ENVIRONMENTS
from refq.elementwise.binary import qlinear_add, qlinear_mul

pytestmark = pytest.mark.skipif(not ENVIRONMENTS["tosa"].installed(),
                                reason="the tosa environment is not installed: run `refq backends install tosa`")
OPERATIONS = (("qlinear_add", qlinear_add), ("qlinear_mul", qlinear_mul))
#: (s_A, s_B, s_C, z_A, z_B, z_C): equal scales, the level-2 every-pair scales, unrelated ones, powers of two.
TRIPLES = ((0.05, 0.05, 0.1, 0, 0, 0), (0.1, 0.13, 0.02, 127, -128, 0), (0.0312, 0.0187, 0.0433, -3, 7, -2),
           (1.0, 0.5, 0.25, 5, -5, 1))


def _every_pair(dtype):
    info = np.iinfo(dtype)
    codes = np.arange(info.min, info.max + 1).astype(dtype)
    return codes.reshape(-1, 1), codes.reshape(1, -1)


def _compare(tosa, args) -> int:
    compared = 0
    for name, function in OPERATIONS:
        expected = function(*args, binary_arithmetic="tosa_rescale")
        got = tosa.method(name)(*args)
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        mismatches = np.argwhere(got != expected)
        assert mismatches.size == 0, (name, args[1::3], mismatches[:3])
        compared += expected.size
    return compared


def test_tosa_add_and_mul_equal_refq_on_every_int8_pair(tosa):
    A, B = _every_pair(np.int8)
    compared = 0
    for sa, sb, sc, za, zb, zc in TRIPLES:
        compared += _compare(tosa, (A, np.float32(sa), np.int8(za), B, np.float32(sb), np.int8(zb), np.float32(sc),
                                    np.int8(zc)))
    assert compared == len(TRIPLES) * 2 * 65536


def test_tosa_add_and_mul_differ_from_onnxruntimes_float32_arithmetic():
    A, B = _every_pair(np.int8)
    args = (A, np.float32(0.1), np.int8(3), B, np.float32(0.13), np.int8(-5), np.float32(0.02), np.int8(1))
    for _, function in OPERATIONS:
        assert np.any(function(*args) != function(*args, binary_arithmetic="tosa_rescale"))


@pytest.mark.slow
def test_tosa_add_and_mul_equal_refq_on_random_scales_uint8_and_broadcasts(tosa):
    rng = np.random.default_rng(16)
    compared = 0
    for dtype in (np.int8, np.uint8):
        info = np.iinfo(dtype)
        A, B = _every_pair(dtype)
        for _ in range(8):
            sa, sb, sc = (np.float32(v) for v in np.exp(rng.uniform(-6, 1, 3)))
            za, zb, zc = (dtype(v) for v in rng.integers(info.min, info.max + 1, 3))
            compared += _compare(tosa, (A, sa, za, B, sb, zb, sc, zc))
        for a_shape, b_shape in (((5, 6), ()), ((), (5, 6)), ((4, 6), (6,)), ((4, 1), (4, 6)), ((3, 1, 5), (1, 4, 1))):
            A = rng.integers(info.min, info.max + 1, a_shape).astype(dtype)
            B = rng.integers(info.min, info.max + 1, b_shape).astype(dtype)
            za, zb, zc = (dtype(v) for v in rng.integers(info.min, info.max + 1, 3))
            compared += _compare(tosa, (A, np.float32(0.021), za, B, np.float32(0.034), zb, np.float32(0.047), zc))
    assert compared > 2_000_000
