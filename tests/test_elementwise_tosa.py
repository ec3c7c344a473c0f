"""ELT-2.8 and ELT-2.9: TOSA's integer sum and product (``binary_arithmetic = tosa_rescale``, the ``tosa`` profile)
against the oracle in tests/oracle/tosa_arithmetic.py, compiled and interpreted (``pure_python``); the profile
lookup and the errors. The TOSA reference model runs them in tests/test_tosa_binary.py."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.elementwise.binary import (qlinear_add, qlinear_add_under_profile, qlinear_mul, qlinear_mul_under_profile,
                                     tosa_sum_rescales)
from refq.errors import RefqError
from tests.oracle import tosa_arithmetic as oracle

#: (s_A, s_B, s_C, z_A, z_B, z_C): equal scales (both inputs the larger), the usual ones, a power-of-two set.
SCALES = ((0.05, 0.05, 0.1, 0, 0, 0), (0.1, 0.13, 0.02, 127, -128, 0), (0.0312, 0.0187, 0.0433, -3, 7, -2),
          (1.0, 0.5, 0.25, 5, -5, 1))
OPERATIONS = ((qlinear_add, oracle.tosa_sum), (qlinear_mul, oracle.tosa_product))


def _inputs(dtype, rows: int, seed: int):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    return (rng.integers(info.min, info.max + 1, (rows, 1)).astype(dtype),
            rng.integers(info.min, info.max + 1, (1, 64)).astype(dtype))


def _oracle(function, A, B, scales, dtype) -> np.ndarray:
    sa, sb, sc, za, zb, zc = scales
    info = np.iinfo(dtype)
    f = [oracle.float32(s) for s in (sa, sb, sc)]
    return np.array([[function(int(a), za, int(b), zb, f[0], f[1], f[2], zc, info.min, info.max) for b in B[0]]
                     for a in A[:, 0]])


@pytest.mark.parametrize("dtype", (np.int8, np.uint8))
@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("operation, function", OPERATIONS)
def test_tosa_arithmetic_equals_the_oracle_compiled_and_interpreted(operation, function, scales, dtype):
    sa, sb, sc, za, zb, zc = scales
    if dtype == np.uint8:
        za, zb, zc = za + 128, zb + 128, zc + 128
    scales = (sa, sb, sc, za, zb, zc)
    A, B = _inputs(dtype, 16, int(sa * 1000))
    args = (A, np.float32(sa), dtype(za), B, np.float32(sb), dtype(zb), np.float32(sc), dtype(zc))
    compiled = operation(*args, binary_arithmetic="tosa_rescale")
    with pure_python():
        interpreted = operation(*args, binary_arithmetic="tosa_rescale")
    expected = _oracle(function, A, B, scales, dtype)
    assert compiled.dtype == dtype and np.array_equal(compiled, interpreted)
    assert np.array_equal(compiled.astype(np.int64), expected), np.argwhere(compiled != expected)[:3]


def test_tosa_arithmetic_equals_the_oracle_on_every_int8_pair():
    codes = np.arange(-128, 128, dtype=np.int8)
    A, B = codes.reshape(256, 1), codes.reshape(1, 256)
    compared = 0
    for operation, function in OPERATIONS:
        scales = (0.1, 0.13, 0.02, 3, -5, 1)
        args = (A, np.float32(0.1), np.int8(3), B, np.float32(0.13), np.int8(-5), np.float32(0.02), np.int8(1))
        got = operation(*args, binary_arithmetic="tosa_rescale")
        assert np.array_equal(got.astype(np.int64), _oracle(function, A, B, scales, np.int8))
        compared += got.size
    assert compared == 2 * 65536


def test_the_tosa_profile_names_tosa_arithmetic_and_onnxruntime_the_float32_one():
    A, B = _inputs(np.int8, 8, 1)
    args = (A, np.float32(0.1), np.int8(3), B, np.float32(0.13), np.int8(-5), np.float32(0.02), np.int8(1))
    for operation, under_profile in ((qlinear_add, qlinear_add_under_profile), (qlinear_mul, qlinear_mul_under_profile)):
        assert np.array_equal(under_profile(*args, profile="tosa"), operation(*args, binary_arithmetic="tosa_rescale"))
        assert np.array_equal(under_profile(*args, profile="onnxruntime"), operation(*args))
    # The arithmetic is not ONNX Runtime's: every int8 pair at these scales differs somewhere.
    codes = np.arange(-128, 128, dtype=np.int8)
    every = (codes.reshape(256, 1), np.float32(0.1), np.int8(3), codes.reshape(1, 256), np.float32(0.13), np.int8(-5),
             np.float32(0.02), np.int8(1))
    assert np.any(qlinear_mul(*every) != qlinear_mul(*every, binary_arithmetic="tosa_rescale"))


def test_the_larger_scale_takes_one_rescale_the_other_two():
    a_steps, b_steps, (multiplier, shift) = tosa_sum_rescales(np.float32(0.13), np.float32(0.1), np.float32(0.02))
    assert list(a_steps) == [2**30, 11, 0, 0, 0]  # 2^19
    assert list(b_steps[:2]) == [2**30, 10] and b_steps[4] == 1  # 2^20, then 0.1 / 0.26
    assert shift >= 30


def test_tosa_arithmetic_refuses_what_its_rescales_cannot_hold():
    A = np.zeros((2,), np.int8)
    with pytest.raises(RefqError, match="C_scale"):
        qlinear_add(A, np.float32(1.0), None, A, np.float32(1.0), None, np.float32(1e-7),
                    binary_arithmetic="tosa_rescale")
    with pytest.raises(RefqError, match="C_scale"):
        qlinear_mul(A, np.float32(1.0), None, A, np.float32(1.0), None, np.float32(1e-5),
                    binary_arithmetic="tosa_rescale")
    with pytest.raises(RefqError, match="binary_arithmetic"):
        qlinear_add(A, np.float32(1.0), None, A, np.float32(1.0), None, np.float32(1.0), binary_arithmetic="tosa")
