"""GGF-4.3: ggml-cpu's x86 SIMD Q8_0 and Q8_1 (``gguf_activation_quantizer = x86_simd``) against its
exact oracle, the same source interpreted, and the reference it departs from. ggml itself:
tests/test_gguf_activation_ggml.py."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.conformance.generate.gguf_activation import FAMILIES, SMALLEST_FINITE_RECIPROCAL, activation_blocks
from refq.errors import RefqValueError
from refq.gguf import gguf_quantize, gguf_quantize_with_outcomes
from refq.gguf.api import gguf_quantize_outcomes
from tests.oracle import gguf_activation as oracle

SIZES = {"Q8_0": 34, "Q8_1": 36}


def simd(x, type_name):
    return gguf_quantize(x, type=type_name, nan="unpredictable", activation_quantizer="x86_simd").reshape(
        -1, SIZES[type_name])


def codes(blocks: np.ndarray) -> np.ndarray:
    return blocks[:, -32:].view(np.int8).astype(int)


def half_integer_block() -> np.ndarray:
    """A = 127, so r = 1 both ways: -15.5, -14.5, ..., 15.5 are exact ties."""
    block = (np.arange(32, dtype=np.float32) - np.float32(15.5)).astype(np.float32)
    block[0] = np.float32(127.0)
    return block


def gaussian_blocks(rng, count: int) -> np.ndarray:
    scales = np.float32(2.0) ** rng.integers(-30, 30, count).astype(np.float32)
    return (rng.standard_normal((count, 32)) * scales[:, None]).astype(np.float32).reshape(-1)


@pytest.mark.parametrize("type_name", SIZES)
def test_matches_exact_oracle(type_name):
    rng = np.random.default_rng(43)
    x = np.concatenate([activation_blocks(1, rng, type_name), gaussian_blocks(rng, 200), half_integer_block()])
    blocks = x.reshape(-1, 32)
    ours = simd(x, type_name)
    checked = 0
    for index, block in enumerate(blocks):
        if np.isnan(block).any():
            continue
        assert ours[index].tolist() == oracle.quantize_block(block, type_name == "Q8_1"), index
        checked += 1
    assert checked == blocks.shape[0] - 1  # one NaN block (the family "nan")


@pytest.mark.parametrize("type_name", SIZES)
def test_jit_matches_pure_python(type_name):
    rng = np.random.default_rng(44)
    x = np.concatenate([activation_blocks(1, rng, type_name), gaussian_blocks(rng, 64)])
    compiled = gguf_quantize_with_outcomes(x, type=type_name, nan="unpredictable", activation_quantizer="x86_simd")
    with np.errstate(all="ignore"), pure_python():
        interpreted = gguf_quantize_with_outcomes(x, type=type_name, nan="unpredictable",
                                                  activation_quantizer="x86_simd")
    assert np.array_equal(compiled[0], interpreted[0])
    assert np.array_equal(compiled[1], interpreted[1])


def test_ties_round_to_even():
    x = half_integer_block()
    ours, reference = codes(simd(x, "Q8_0"))[0], codes(gguf_quantize(x, type="Q8_0").reshape(-1, 34))[0]
    assert ours[1:].tolist() == [int(np.rint(v)) for v in x[1:]]  # 14.5 -> 14, -14.5 -> -14
    assert reference[1:].tolist() == [int(np.copysign(np.floor(abs(v) + 0.5), v)) for v in x[1:]]
    # Every element is a tie k + 1/2; the rules part where k is even (15.5 -> 16 both ways, 14.5 -> 14 or 15).
    assert np.flatnonzero(ours != reference).tolist() == [j for j in range(1, 32) if np.floor(abs(x[j])) % 2 == 0]


def test_overflowing_reciprocal_gives_minus_128():
    """Below 3.7321948e-37, 127 / A is +inf: every code -128 (a zero too: 0 * inf is NaN); Q8_1's 32
    indefinites wrap to a sum of 0, so s = +0. At that A, r is the largest float32 and codes are finite."""
    rng = np.random.default_rng(45)
    below = np.nextafter(SMALLEST_FINITE_RECIPROCAL, np.float32(0.0))
    for largest in (np.float32(2.0**-149), np.float32(1e-40), np.float32(2.0**-126), below):
        x = (rng.uniform(-1, 1, 32) * largest).astype(np.float32)
        x[3], x[7] = largest, np.float32(0.0)
        for type_name in SIZES:
            assert (codes(simd(x, type_name)) == -128).all(), (largest, type_name)
        assert simd(x, "Q8_1")[0, 2:4].tolist() == [0, 0]
    x = np.zeros(32, np.float32)
    x[0] = SMALLEST_FINITE_RECIPROCAL
    assert codes(simd(x, "Q8_0"))[0].tolist() == [127] + [0] * 31


def test_infinities_and_q8_1_sum():
    """An infinity: d = inf, r = 0, the infinity's code -128 (inf * 0 is NaN) and the others 0; Q8_1's s is
    fp16(-2^31 * inf) = -inf for one infinity, and x86's NaN 0xFE00 for two (the sum wraps to 0)."""
    x = np.ones(64, np.float32)
    x[5], x[32 + 1], x[32 + 9] = np.inf, -np.inf, np.inf
    blocks = simd(x, "Q8_1")
    assert blocks[:, :2].tolist() == [[0x00, 0x7C], [0x00, 0x7C]]
    assert blocks[:, 2:4].tolist() == [[0x00, 0xFC], [0x00, 0xFE]]
    assert codes(blocks)[0].tolist() == [0] * 5 + [-128] + [0] * 26
    # The reference's roundf of a NaN converts to int8 undefinedly (GGF-1.5); the SIMD block is exact.
    assert gguf_quantize_with_outcomes(x, type="Q8_1")[1].tolist() == [True, True]
    assert gguf_quantize_with_outcomes(x, type="Q8_1", activation_quantizer="x86_simd")[1].tolist() == [False, False]


def test_zero_block_is_the_reference_one():
    x = np.where(np.arange(64) % 3 == 0, np.float32(-0.0), np.float32(0.0)).astype(np.float32)
    for type_name in SIZES:
        assert np.array_equal(simd(x, type_name), gguf_quantize(x, type=type_name).reshape(-1, SIZES[type_name]))
        assert not simd(x, type_name).any()


def test_gaussian_blocks_differ_in_one_code_by_one():
    """Where 1 / (A / 127) and 127 / A differ in float32 a product can cross a half-integer: one code of
    a few N(0,1) blocks moves by one (measured on 2^19 blocks: 40)."""
    x = np.random.default_rng(0).standard_normal(32 * 65536).astype(np.float32)
    ours, reference = simd(x, "Q8_0"), gguf_quantize(x, type="Q8_0").reshape(-1, 34)
    differ = np.flatnonzero((ours != reference).any(axis=1))
    assert differ.size > 0
    assert (ours[differ, :2] == reference[differ, :2]).all()  # the same d
    moved = np.abs(codes(ours[differ]) - codes(reference[differ]))
    assert (moved.sum(axis=1) == 1).all()


def test_profile_routes_the_variant():
    rng = np.random.default_rng(46)
    x = activation_blocks(1, rng)
    for type_name in SIZES:
        under_profile, unpredictable = gguf_quantize_outcomes(x, type=type_name, profile="ggml-cpu-x86")
        assert np.array_equal(under_profile, simd(x, type_name).reshape(-1))
        nan_block = FAMILIES.index("nan")
        assert np.flatnonzero(unpredictable.reshape(-1, SIZES[type_name]).any(axis=1)).tolist() == [nan_block]
        assert np.array_equal(gguf_quantize_outcomes(x, type=type_name, profile="ggml")[0],
                              gguf_quantize_with_outcomes(x, type=type_name, nan="unpredictable")[0])
    # Every other type is the reference's under either value.
    gaussian = rng.standard_normal(512).astype(np.float32)
    assert np.array_equal(gguf_quantize_outcomes(gaussian, type="Q4_0", profile="ggml-cpu-x86")[0],
                          gguf_quantize(gaussian, type="Q4_0"))


def test_unknown_value_names_the_argument():
    with pytest.raises(RefqValueError, match="activation_quantizer"):
        gguf_quantize(np.ones(32, np.float32), type="Q8_0", activation_quantizer="avx512")
    with pytest.raises(RefqValueError, match="gguf_activation_quantizer"):
        gguf_quantize_outcomes(np.ones(32, np.float32), type="Q8_0", gguf_activation_quantizer="neon")
