"""INT-2.7: the VNNI route of matmul_integer gives INT-2.3's portable kernel's values and the oracle's.

Every comparison is element for element: the route (``byte_dot_products``), the portable
kernel (``dot_products`` of the centred operands) and the Python-integer oracle of
tests/oracle/integer_ops.py. The tests of the route itself skip on CPUs without
AVX512-VNNI, where refq never takes it.
"""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.integer_ops import matmul_integer, vnni_matmul
from refq.integer_ops.matmul import byte_dot_products, dot_products, matmul_operands
from tests.oracle import integer_ops as oracle

needs_vnni = pytest.mark.skipif(not vnni_matmul.available() or not vnni_matmul.use_byte_route(1),
                                reason="no AVX512-VNNI here (or kernels interpreted): refq never takes the route")

TYPE_PAIRS = [("uint8", "uint8"), ("int8", "int8"), ("uint8", "int8"), ("int8", "uint8")]


def codes(rng: np.random.Generator, dtype: str, shape) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def both_routes(a, b, a_zero_point, b_zero_point) -> tuple[np.ndarray, np.ndarray]:
    operands = matmul_operands(a, b, a_zero_point, b_zero_point)
    return byte_dot_products(operands), dot_products(operands.rows, operands.columns, operands.batch)


def wrapped_exact(a, b, a_zero_points, b_zero_points) -> np.ndarray:
    """The exact sum in int64 (no overflow for these K), reduced modulo 2^32: the oracle's arithmetic."""
    exact = ((a.astype(np.int64) - np.asarray(a_zero_points, np.int64).reshape(-1, 1))
             @ (b.astype(np.int64) - np.asarray(b_zero_points, np.int64).reshape(1, -1)))
    return ((exact + 2**31) % 2**32 - 2**31).astype(np.int32)


@needs_vnni
@pytest.mark.parametrize("a_type, b_type", TYPE_PAIRS)
def test_route_equals_portable_kernel_and_oracle(a_type, b_type):
    """Random shapes around the tile's edges (6 rows, 64 columns, 4 bytes of K) and the tiny and empty ones."""
    rng = np.random.default_rng(17)
    shapes = [(1, 1, 1), (0, 3, 2), (2, 0, 3), (3, 5, 0), (6, 4, 64), (7, 5, 65), (5, 3, 63), (12, 8, 128)]
    shapes += [tuple(int(v) for v in rng.integers(1, limit)) for limit in ((20, 70, 140),) * 24]
    checked = 0
    for rows, depth, columns in shapes:
        a, b = codes(rng, a_type, (rows, depth)), codes(rng, b_type, (depth, columns))
        per_row = rng.random() < 0.5
        a_zero_point = codes(rng, a_type, (rows,) if per_row else ())
        b_zero_point = codes(rng, b_type, (columns,) if rng.random() < 0.5 else ())
        route, portable = both_routes(a, b, a_zero_point, b_zero_point)
        a_zero_points = np.broadcast_to(a_zero_point, (rows,)).tolist()
        b_zero_points = np.broadcast_to(b_zero_point, (columns,)).tolist()
        expected = oracle.matmul(a.tolist(), b.tolist(), a_zero_points, b_zero_points) if depth else \
            [[0] * columns for _ in range(rows)]
        assert route.dtype == np.int32 and route.shape == (rows, columns)
        np.testing.assert_array_equal(route, portable, err_msg=str((rows, depth, columns)))
        assert route.tolist() == expected
        checked += route.size
    assert checked > 10_000


@needs_vnni
@pytest.mark.parametrize("a_type, b_type", TYPE_PAIRS)
def test_route_at_the_range_ends(a_type, b_type):
    """Codes and zero points at both ends of their ranges: every product is 0 or ±255², and the
    +-128 offsets of the byte operands move the zero points to the ends of int16."""
    a_info, b_info = np.iinfo(a_type), np.iinfo(b_type)
    a = np.array([[a_info.min, a_info.max] * 150, [a_info.max] * 300, [a_info.min] * 300], a_type)
    b = np.array([[b_info.min] * 70, [b_info.max] * 70] * 150, b_type)
    b[::3, 1::2] = b_info.max
    for a_zero_point in (a_info.min, a_info.max, np.array([a_info.min, a_info.max, a_info.min], a_type)):
        for b_zero_point in (b_info.min, b_info.max, np.resize(np.array([b_info.min, b_info.max], b_type), 70)):
            a_zero, b_zero = np.asarray(a_zero_point, a_type), np.asarray(b_zero_point, b_type)
            route, portable = both_routes(a, b, a_zero, b_zero)
            np.testing.assert_array_equal(route, portable)
            np.testing.assert_array_equal(route, wrapped_exact(a, b, np.broadcast_to(a_zero, (3,)),
                                                               np.broadcast_to(b_zero, (70,))))


@needs_vnni
@pytest.mark.parametrize("a_type, b_type", TYPE_PAIRS)
def test_route_wraps_like_int32(a_type, b_type):
    # 40,001 products of magnitude up to 255^2 pass 2^31: the sums wrap, and K is not a multiple of 4.
    a_info, b_info = np.iinfo(a_type), np.iinfo(b_type)
    depth = 40_001
    a = np.full((7, depth), a_info.max, a_type)
    a[1, ::5] = a_info.min
    a[3] = a_info.min
    b = np.full((depth, 66), b_info.min, b_type)
    b[:, 1] = b_info.max
    b[::3, 2] = b_info.max
    a_zero_points = np.array([a_info.min] * 6 + [a_info.max], a_type)
    b_zero_points = np.resize(np.array([b_info.max, b_info.min, 0 if b_type == "int8" else 128], b_type), 66)
    route, portable = both_routes(a, b, a_zero_points, b_zero_points)
    exact = ((a.astype(np.int64) - a_zero_points.astype(np.int64)[:, None])
             @ (b.astype(np.int64) - b_zero_points.astype(np.int64)[None, :]))
    assert (np.abs(exact) > 2**31).any()
    np.testing.assert_array_equal(route, ((exact + 2**31) % 2**32 - 2**31).astype(np.int32))
    np.testing.assert_array_equal(route, portable)


@needs_vnni
def test_route_broadcasts_batches_and_vectors():
    rng = np.random.default_rng(5)
    cases = [((2, 1, 7, 9), (3, 9, 70), np.int8(-7), codes(rng, "uint8", (3, 1, 70))),
             ((3, 13), (2, 13, 4), codes(rng, "int8", (3,)), np.uint8(9)),
             ((13,), (13, 66), np.int8(3), np.uint8(200)),
             ((2, 3, 8), (8,), np.int8(-128), np.uint8(255))]
    for a_shape, b_shape, a_zero_point, b_zero_point in cases:
        a, b = codes(rng, "int8", a_shape), codes(rng, "uint8", b_shape)
        operands = matmul_operands(a, b, a_zero_point, b_zero_point)
        route = operands.shaped(byte_dot_products(operands))
        portable = operands.shaped(dot_products(operands.rows, operands.columns, operands.batch))
        np.testing.assert_array_equal(route, portable)
        np.testing.assert_array_equal(matmul_integer(a, b, a_zero_point, b_zero_point), portable)


@needs_vnni
def test_matmul_integer_takes_the_route_on_the_benchmark_shape():
    rng = np.random.default_rng(0)
    a, b = codes(rng, "int8", (512, 512)), codes(rng, "int8", (512, 512))
    result = matmul_integer(a, b, np.int8(3), np.int8(-5))
    operands = matmul_operands(a, b, np.int8(3), np.int8(-5))
    np.testing.assert_array_equal(result, dot_products(operands.rows, operands.columns, ()))
    np.testing.assert_array_equal(result, wrapped_exact(a, b, [3] * 512, [-5] * 512))


@needs_vnni
def test_int16_pairs_variant_still_adds_the_pairs_losses():
    """INT-2.6 joins the route's exact sums: uint8 x int8 with saturating pairs, compiled == interpreted."""
    a = np.array([[255, 255, 255, 0, 255]], np.uint8)
    b = np.array([[127, -128], [127, -128], [127, 5], [1, 1], [127, -128]], np.int8)
    compiled = matmul_integer(a, b, u8s8_products="int16_pairs")
    with pure_python():
        interpreted = matmul_integer(a, b, u8s8_products="int16_pairs")
    np.testing.assert_array_equal(compiled, interpreted)
    # Pairs (k0, k1), (k2, k3), (k4, 0): 64770 saturates to 32767, and -65280 to -32768.
    assert compiled.tolist() == [[32767 + 255 * 127 + 255 * 127, -32768 + 255 * 5 - 255 * 128]]
    assert matmul_integer(a, b).tolist() == oracle.matmul(a.tolist(), b.tolist(), [0], [0, 0])


def test_pure_python_never_takes_the_route():
    with pure_python():
        assert not vnni_matmul.use_byte_route(4)


def test_routing_respects_the_depth_limit():
    assert not vnni_matmul.use_byte_route(vnni_matmul.MAX_DEPTH + 1)
