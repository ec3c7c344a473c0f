"""BLK-7, bitsandbytes' NF4 and FP4: refq against the exact oracle (tests/oracle/bnb4.py) on every threshold
and its neighbours and on special blocks, under every profile and every value of each variant; the compiled
kernels against the pure-Python path of the same source; what each variant changes; bad input."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from refq._jit import pure_python
from refq.block.bnb4 import bnb4_dequantize, bnb4_dequantize_outcomes, bnb4_quantize, bnb4_quantize_outcomes
from refq.block.bnb4_tables import bnb4_table
from refq.conformance.generate.bnb4 import quantize_input, special_blocks, thresholds
from refq.errors import RefqTypeError, RefqValueError
from refq.registry.profiles import BNB4_PROFILES
from refq.registry.variants import VARIANTS
from tests.oracle import bnb4 as oracle

F32 = np.float32
QUANT_TYPES = ("nf4", "fp4")
PROFILES = tuple(profile.name for profile in BNB4_PROFILES)
QUANTIZE_VARIANTS = ("bnb4_thresholds", "bnb4_nan_code", "bnb4_absmax_nan", "bnb4_reciprocal", "bnb4_tail")
VALUES = {variant.name: tuple(value.name for value in variant.values) for variant in VARIANTS
          if variant.operation == "block_bnb4"}


def unpack(packed: np.ndarray) -> list[int]:
    return [int(code) for byte in packed for code in (byte >> 4, byte & 0xF)]


def oracle_absmax(value) -> float:
    if value == oracle.NAN:
        return float("nan")
    if isinstance(value, tuple):
        return float("inf")
    return float(value)


def adversarial(quant_type: str, seed: int = 7) -> np.ndarray:
    """Every threshold with its neighbours in a block of absmax 1, the special blocks, two Gaussian blocks and a
    partial last block of 37 (an odd size)."""
    rng = np.random.default_rng(seed)
    values = thresholds(quant_type)
    body = np.zeros(-(-values.size // 63) * 63, F32)
    body[:values.size] = values
    blocks = np.concatenate([np.ones((body.size // 63, 1), F32), body.reshape(-1, 63)], axis=1).reshape(-1)
    gaussian = (rng.standard_normal(128) * 10.0).astype(F32)
    return np.concatenate([blocks, special_blocks(rng).reshape(-1), gaussian,
                           (rng.standard_normal(37) * 3).astype(F32)])


def assert_quantize_matches_oracle(x, quant_type, block_size, variants):
    result, mask = bnb4_quantize_outcomes(x, quant_type=quant_type, block_size=block_size,
                                          profile="bitsandbytes-cpu", **variants)
    assert mask is None
    absmaxes, codes = oracle.quantize(list(x), quant_type, block_size, variants)
    expected = np.array([oracle_absmax(value) for value in absmaxes], F32)
    assert np.array_equal(result["absmax"].view(np.uint32), expected.view(np.uint32))
    got = unpack(result["codes"])
    assert got == codes, [(i, float(x[i]) if i < x.size else None, g, c)
                          for i, (g, c) in enumerate(zip(got, codes)) if g != c][:5]


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_tables_are_the_oracle_tables(quant_type):
    table = bnb4_table(quant_type)
    assert tuple(Fraction(float(v)) for v in table.values) == oracle.table_values(quant_type)


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_thresholds_increase(quant_type):
    """select_code counts the thresholds below a value by groups, which needs them in increasing order."""
    table = bnb4_table(quant_type)
    for thresholds in (table.midpoints, table.tree):
        assert len(thresholds) <= 15 and np.all(np.diff(thresholds.astype(np.float64)) >= 0)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_quantize_equals_oracle_under_each_profile(quant_type, profile):
    variants = {name: value for name, value in next(p for p in BNB4_PROFILES if p.name == profile).bnb4.items()
                if name in QUANTIZE_VARIANTS}
    assert_quantize_matches_oracle(adversarial(quant_type), quant_type, 64, variants)


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_quantize_equals_oracle_under_every_combination_of_variants(quant_type):
    """The 32 combinations of the five quantize variants, on the adversarial input in blocks of 32 (a partial
    last block of 5)."""
    x = adversarial(quant_type, seed=11)
    for combination in itertools.product(*(VALUES[name] for name in QUANTIZE_VARIANTS)):
        assert_quantize_matches_oracle(x, quant_type, 32, dict(zip(QUANTIZE_VARIANTS, combination)))


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_dequantize_equals_oracle_on_every_code(quant_type):
    from refq.conformance.generate.bnb4 import DEQUANTIZE_ABSMAX

    codes = np.tile(np.arange(256, dtype=np.uint8), 2)
    absmax = np.array(DEQUANTIZE_ABSMAX, F32)
    for code8, zero_sign in itertools.product(VALUES["bnb4_fp4_code8"], VALUES["bnb4_zero_sign"]):
        variants = {"bnb4_fp4_code8": code8, "bnb4_zero_sign": zero_sign}
        result, mask = bnb4_dequantize_outcomes(absmax, codes, quant_type=quant_type, **variants)
        expected = oracle.dequantize(unpack(codes), list(absmax), quant_type, 64, variants)
        assert np.array_equal(mask, np.array([value == oracle.NAN for value in expected]))
        for got, want in zip(result, expected):
            if want == oracle.NAN:
                assert np.isnan(got)
            elif isinstance(want, tuple) and want[0] == oracle.INF:
                assert got == want[1] * np.inf
            else:
                sign, magnitude = want
                assert Fraction(float(got)) == magnitude and np.signbit(got) == (sign < 0), (got, want)


def test_jit_equals_pure_python():
    rng = np.random.default_rng(3)
    for quant_type in QUANT_TYPES:
        x = np.concatenate([adversarial(quant_type), quantize_input(quant_type, 1, rng)])
        codes = np.arange(256, dtype=np.uint8)
        absmax = (rng.standard_normal(8) * 100).astype(F32)
        for profile in PROFILES:
            compiled = bnb4_quantize_outcomes(x, quant_type=quant_type, block_size=32, profile=profile)[0]
            values = bnb4_dequantize(absmax, codes, quant_type=quant_type, profile=profile)
            with pure_python(), np.errstate(over="ignore", invalid="ignore"):  # 1 / absmax overflows, 0 * inf
                interpreted = bnb4_quantize_outcomes(x, quant_type=quant_type, block_size=32, profile=profile)[0]
                interpreted_values = bnb4_dequantize(absmax, codes, quant_type=quant_type, profile=profile)
            assert compiled.tobytes() == interpreted.tobytes()
            assert values.tobytes() == interpreted_values.tobytes()


def _codes(x, quant_type="nf4", block_size=64, **variants) -> list[int]:
    return unpack(bnb4_quantize_outcomes(np.asarray(x, F32), quant_type=quant_type, block_size=block_size,
                                         **variants)[0]["codes"])


def test_each_variant_value_changes_a_result():
    """One input per variant on which its values give different codes (or values)."""
    table = bnb4_table("nf4")
    # A midpoint where the literal lies above it: the midpoint itself is the upper code under the tree.
    block = np.zeros(64, F32)
    block[0], block[1] = 1.0, table.midpoints[8]
    assert _codes(block, bnb4_thresholds="float32_midpoints")[1] == 8
    assert _codes(block, bnb4_thresholds="decision_tree")[1] == 8
    block[1] = np.nextafter(table.midpoints[8], F32(1))
    assert _codes(block, bnb4_thresholds="float32_midpoints")[1] == 9
    assert _codes(block, bnb4_thresholds="decision_tree")[1] == 8
    nan = np.ones(64, F32)
    nan[2] = np.nan
    assert _codes(nan, bnb4_nan_code="largest", bnb4_absmax_nan="ignored")[2] == 15
    assert _codes(nan, bnb4_nan_code="zero", bnb4_absmax_nan="ignored")[2] == 0
    assert set(_codes(nan, bnb4_absmax_nan="propagates")) == {15}
    assert _codes(nan, bnb4_absmax_nan="propagates", bnb4_nan_code="zero") == [0] * 64
    assert _codes(nan, bnb4_absmax_nan="ignored", bnb4_nan_code="zero").count(0) == 1
    tiny = np.full(64, 1e-40, F32)
    tiny[1] = 0.0
    assert _codes(tiny, bnb4_reciprocal="clamped")[:2] == [7, 7]  # 1e-40 * 1e38 = 0.01
    assert _codes(tiny, bnb4_reciprocal="zero_guarded", bnb4_nan_code="zero")[:2] == [15, 0]  # inf, 0 * inf = NaN
    # x / a and x * fl32(1 / a) part on a partial block (found by search below).
    tail = _tail_where_division_differs()
    assert _codes(tail, block_size=64, bnb4_tail="divide") != _codes(tail, block_size=64, bnb4_tail="reciprocal")
    fp4_zero = np.zeros(32, np.uint8)
    fp4_zero[0] = 0x88
    absmax = np.ones(1, F32)
    assert not np.signbit(bnb4_dequantize(absmax, fp4_zero, quant_type="fp4", profile="bitsandbytes-cpu")[0])
    assert np.signbit(bnb4_dequantize_outcomes(absmax, fp4_zero, quant_type="fp4", bnb4_fp4_code8="negative_zero",
                                               bnb4_zero_sign="product")[0][0])
    assert not np.signbit(bnb4_dequantize(absmax, fp4_zero, quant_type="fp4", profile="onnxruntime-bnb4")[0])


def _tail_where_division_differs() -> np.ndarray:
    rng = np.random.default_rng(5)
    table = bnb4_table("nf4")
    for _ in range(1000):
        a = F32(rng.uniform(1, 2))
        x = (np.float64(table.midpoints) * np.float64(a)).astype(F32)
        x = np.concatenate([[a], x, np.nextafter(x, F32(2)), np.nextafter(x, F32(-2))]).astype(F32)
        divided = (x.astype(np.float64) / np.float64(a)).astype(F32)
        multiplied = (x.astype(np.float64) * np.float64(F32(1.0 / np.float64(a)))).astype(F32)
        if any((d <= m) != (e <= m) for d, e in zip(divided, multiplied) for m in table.midpoints):
            return np.concatenate([np.zeros(64, F32), x])
    raise AssertionError("no absmax found where x / a and x * (1 / a) fall on two sides of a midpoint")


def test_fp4_zeros_under_each_threshold_rule():
    """bitsandbytes' sorted table puts code 0 before code 8: small negatives and zeros take 0, small positives
    8; the tree gives the sign bit to v < 0."""
    x = np.zeros(64, F32)
    x[:4] = [1.0, 1e-3, -1e-3, -0.0]
    assert _codes(x, "fp4", bnb4_thresholds="float32_midpoints")[:4] == [3, 8, 0, 0]
    assert _codes(x, "fp4", bnb4_thresholds="decision_tree")[:4] == [3, 0, 8, 0]


def test_odd_size_pads_with_the_code_of_zero():
    for quant_type, zero_code in (("nf4", 7), ("fp4", 0)):
        absmax, packed = bnb4_quantize(np.array([1.0, 0.5, -1.0], F32), quant_type=quant_type)
        assert packed.size == 2 and packed[1] & 0xF == zero_code
        assert bnb4_dequantize(absmax, packed, quant_type=quant_type, size=3).size == 3


@pytest.mark.parametrize("call, argument", [
    (lambda: bnb4_quantize(np.ones(4, F32), quant_type="int4"), "quant_type"),
    (lambda: bnb4_quantize(np.ones(4, F32), quant_type=4), "quant_type"),
    (lambda: bnb4_quantize(np.ones(4, np.int32)), "x"),
    (lambda: bnb4_quantize(np.ones(0, F32)), "x"),
    (lambda: bnb4_quantize(np.ones(4, F32), block_size=0), "block_size"),
    (lambda: bnb4_quantize(np.ones(4, F32), block_size=2.0), "block_size"),
    (lambda: bnb4_quantize(np.ones(4, F32), profile="ocp-mx"), "profile"),
    (lambda: bnb4_quantize_outcomes(np.ones(4, F32), bnb4_tail="round"), "bnb4_tail"),
    (lambda: bnb4_dequantize(np.ones(2, F32), np.zeros(32, np.uint8)), "absmax"),
    (lambda: bnb4_dequantize(np.ones(1, np.float64), np.zeros(32, np.uint8)), "absmax"),
    (lambda: bnb4_dequantize(np.ones(1, F32), np.zeros(32, np.int8)), "codes"),
    (lambda: bnb4_dequantize(np.ones(1, F32), np.zeros((4, 8), np.uint8)), "codes"),
    (lambda: bnb4_dequantize(np.ones(1, F32), np.zeros(32, np.uint8), size=66), "size"),
    (lambda: bnb4_dequantize(np.ones(1, F32), np.zeros(32, np.uint8), size="64"), "size"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises((RefqValueError, RefqTypeError), match=f"^{argument}"):
        call()
