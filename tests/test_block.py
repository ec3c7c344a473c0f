"""BLK: block-scaled formats (OCP MX), against the exact oracle (tests/oracle/block.py); the JIT path
against the pure-Python path of the same source; bad input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from refq._jit import pure_python
from refq.block import block_dequantize, block_quantize
from refq.block.elements import (ELEMENT_FORMATS, TIES_EVEN, TIES_TOWARD_ZERO, ZERO_NEGATIVE, ZERO_SIGN_BIT,
                                 decode_element, element_constants, element_decoding, element_values,
                                 encode_element)
from refq.block.api import DEQUANTIZE_VARIANTS, QUANTIZE_VARIANTS, block_dequantize_outcomes, block_quantize_outcomes
from refq.errors import RefqError
from refq.registry.profiles import EVERY_PROFILE_BY_NAME
from refq.registry.variants import VARIANTS_BY_NAME
from tests.oracle import block as oracle

F32 = np.float32
FORMATS = tuple(oracle.EMAX)
RULES = tuple(value.name for value in VARIANTS_BY_NAME["block_scale_rule"].values)
BLOCK_PROFILES = tuple(name for name, profile in EVERY_PROFILE_BY_NAME.items() if profile.block)


def _variants(profile: str) -> dict:
    values = EVERY_PROFILE_BY_NAME[profile].block
    return {"rule": values["block_scale_rule"], "infinity": values["block_infinity"], "nan": values["block_nan"],
            "tiny": values["block_tiny_scale"], "ties": values["block_element_ties"],
            "zero": values["block_zero_code"]}


def _power_of_two_edges(fmt: str) -> np.ndarray:
    """One block per amax: 2^k and its float32 neighbours for every float32 exponent k, and
    max_elem * 2^k one and two ulps above (where the rceil quotient lies just above a power of two)."""
    largest = float(oracle.floats.DOCUMENTED_MAX[fmt])
    amaxes = []
    for k in range(-149, 128):
        power = F32(math.ldexp(1.0, k))
        amaxes += [power, np.nextafter(power, F32(np.inf)), np.nextafter(power, F32(0))]
        scaled = math.ldexp(largest, k)
        if scaled < 3.4e38:
            top = F32(scaled)
            amaxes += [top, np.nextafter(top, F32(np.inf)), np.nextafter(np.nextafter(top, F32(np.inf)), F32(np.inf))]
    amaxes = np.array([a for a in amaxes if np.isfinite(a) and a > 0], dtype=F32)
    blocks = np.zeros((amaxes.size, 32), dtype=F32)
    blocks[:, 0] = amaxes
    blocks[:, 1] = -amaxes / F32(3)
    return blocks


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rule", [pytest.param(rule, marks=pytest.mark.slow) if rule.startswith("rceil") else rule
                                  for rule in RULES])
def test_scale_rule_matches_the_oracle_at_every_power_of_two(fmt, rule):
    _check_scale_rule(fmt, rule)


def _check_scale_rule(fmt: str, rule: str) -> None:
    blocks = _power_of_two_edges(fmt)
    result, _ = block_quantize_outcomes(blocks, format=fmt, profile="ocp-mx", block_scale_rule=rule)
    expected = [oracle.quantize_block([float(blocks[i, 0])], fmt, rule=rule)[0] for i in range(blocks.shape[0])]
    assert result["scales"].reshape(-1).tolist() == expected


@pytest.mark.parametrize("fmt", ["float8_e4m3fn", "float4_e2m1fn"])
@pytest.mark.parametrize("rule", ["rceil", "rceil_log2_float32"])
def test_rceil_rules_match_the_oracle_at_every_power_of_two(fmt, rule):
    """The two rceil rules' oracles (a float32 quotient, mpmath's logarithm) are the slow ones: two formats
    here, all five in the slow run above."""
    _check_scale_rule(fmt, rule)


def test_rceil_log2_float32_is_wrong_just_above_powers_of_two():
    """The issue's count: of the amaxes max * 2^k * (1 + 2^-23) (E4M3), the float32 logarithm takes most one
    code below the exact rceil; and its example 7168 (1 + 2^-23) -> 131, exact 132."""
    x = np.zeros((1, 32), F32)
    x[0, 0] = F32(7168) * (F32(1) + F32(2.0 ** -23))
    assert block_quantize(x, profile="torchao-rceil")[0].tolist() == [[131]]
    assert block_quantize_outcomes(x, profile="ocp-mx", block_scale_rule="rceil")[0]["scales"].tolist() == [[132]]
    blocks = _power_of_two_edges("float8_e4m3fn")
    low = block_quantize_outcomes(blocks, profile="ocp-mx", block_scale_rule="rceil_log2_float32")[0]["scales"]
    exact = block_quantize_outcomes(blocks, profile="ocp-mx", block_scale_rule="rceil")[0]["scales"]
    assert 200 < int((low != exact).sum()) < blocks.shape[0] / 3
    assert ((low == exact) | (low.astype(int) == exact.astype(int) - 1)).all()


def _adversarial_blocks(fmt: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blocks over the whole float32 range, exact ties of the element grid, zeros of both signs,
    subnormal and near-overflow blocks, an infinity, a NaN."""
    largest = float(oracle.floats.DOCUMENTED_MAX[fmt])
    parts = [(rng.standard_normal((24, 32)) * np.exp2(rng.integers(-150, 120, (24, 1)))).astype(F32)]
    # Ties: the block's amax is 2^(emax) * 2^k, so x / 2^k lands on element values and their midpoints.
    codes = rng.integers(0, 1 << oracle.floats.width(fmt), (8, 32))
    values = []
    for row in codes:
        decoded = [oracle.floats.decode(int(c), fmt) for c in row]
        values.append([float(v) if v is not None else 0.0 for _, _, v in decoded])
    grid = np.array(values)
    neighbour = np.roll(grid, 1, axis=1)
    ties = np.where(rng.random(grid.shape) < 0.5, (grid + neighbour) / 2, grid)
    ties[:, 0] = largest
    parts.append((ties * np.exp2(rng.integers(-100, 100, (8, 1)))).astype(F32))
    zeros = np.where(rng.random((2, 32)) < 0.5, F32(0.0), F32(-0.0)).astype(F32)
    parts.append(zeros)
    parts.append((rng.standard_normal((3, 32)) * 2.0 ** -140).astype(F32))
    parts.append((rng.uniform(-1, 1, (3, 32)) * 3.4e38).astype(F32))
    special = rng.standard_normal((2, 32)).astype(F32)
    special[0, 3], special[1, 7] = np.inf, np.nan
    parts.append(special)
    # Quotients that underflow to zero beside a huge element: 2^-150 exactly (a tie, to zero) and just above.
    underflow = (np.where(rng.random((1, 32)) < 0.5, -1.0, 1.0) * np.exp2(rng.integers(-149, -60, (1, 32))))
    underflow[0, :4] = (largest * 2.0 ** 100, 2.0 ** -149, -(2.0 ** -148), 3 * 2.0 ** -149)
    parts.append(underflow.astype(F32))
    return np.concatenate(parts)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("profile", BLOCK_PROFILES)
def test_quantize_matches_the_oracle(fmt, profile):
    blocks = _adversarial_blocks(fmt, np.random.default_rng([15, FORMATS.index(fmt)]))
    result, mask = block_quantize_outcomes(blocks, format=fmt, profile=profile)
    for i in range(blocks.shape[0]):
        scale, codes = oracle.quantize_block([float(v) for v in blocks[i]], fmt, **_variants(profile))
        if scale is None:
            assert mask is not None and mask["codes"][i].all() and mask["scales"][i].all()
        elif scale == oracle.NAN_SCALE:
            assert int(result["scales"][i, 0]) == scale, (i, blocks[i])
            assert mask is not None and mask["codes"][i].all() and not mask["scales"][i].any()
        else:
            assert int(result["scales"][i, 0]) == scale, (i, blocks[i])
            assert result["codes"][i].tolist() == codes, (i, blocks[i])


@pytest.mark.parametrize("fmt", FORMATS)
def test_half_toward_zero_ties(fmt):
    blocks = _adversarial_blocks(fmt, np.random.default_rng([16, FORMATS.index(fmt)]))[24:32]
    even = block_quantize_outcomes(blocks, format=fmt)[0]["codes"]
    toward_zero = block_quantize_outcomes(blocks, format=fmt, block_element_ties="half_toward_zero")[0]["codes"]
    for i in range(blocks.shape[0]):
        _, codes = oracle.quantize_block([float(v) for v in blocks[i]], fmt, ties="half_toward_zero")
        assert toward_zero[i].tolist() == codes
    assert (even != toward_zero).any()


def test_fp4_tie_toward_zero_example():
    """modelopt's MXFP4 rounding: -1.75 (scale 1) between -1.5 (code 11) and -2 (code 12)."""
    x = np.zeros(32, F32)
    x[:2] = (-1.75, 4.0)
    even = block_quantize_outcomes(x, format="float4_e2m1fn")[0]["codes"]
    toward_zero = block_quantize_outcomes(x, format="float4_e2m1fn", block_element_ties="half_toward_zero")[0]
    assert (int(even[0]), int(toward_zero["codes"][0])) == (12, 11)


@pytest.mark.parametrize("fmt", FORMATS)
def test_zero_quotients_get_the_sign_bit_under_negative(fmt):
    """block_zero_code = negative: +0, and every element whose float32 quotient underflows to zero (2^-150, the
    tie, included), get the sign code; a quotient just above 2^-150 keeps its own sign."""
    x = np.zeros((1, 32), F32)
    x[0, :5] = (2.0 ** 110, 2.0 ** -149, 3 * 2.0 ** -149, -(2.0 ** -149), 0.0)
    kept = block_quantize_outcomes(x, format=fmt)[0]["codes"][0]
    negative = block_quantize_outcomes(x, format=fmt, block_zero_code="negative")[0]["codes"][0]
    sign = 1 << (oracle.floats.width(fmt) - 1)
    shift = int(block_quantize_outcomes(x, format=fmt)[0]["scales"][0, 0]) - oracle.E8M0_BIAS
    underflows = [abs(Fraction(float(v)) / Fraction(2) ** shift) <= Fraction(1, 2 ** 150) for v in x[0]]
    assert underflows[1] and underflows[4]
    assert kept[4] == 0 and negative[4] == sign and negative[3] == sign
    for j in range(1, 32):
        assert negative[j] == (kept[j] | sign if underflows[j] else kept[j]), j


def test_modelopt_nan_and_infinity_blocks_are_open():
    x = np.ones((2, 32), F32)
    x[0, 3], x[1, 5] = np.nan, -np.inf
    result, mask = block_quantize_outcomes(x, format="float4_e2m1fn", profile="modelopt-mxfp4")
    assert mask["scales"].all() and mask["codes"].all()
    assert block_quantize_outcomes(x, format="float4_e2m1fn")[1]["scales"].tolist() == [[False], [False]]


def test_infinity_and_tiny_blocks_by_profile():
    x = np.zeros((2, 32), F32)
    x[0, :2] = (np.inf, 1.0)
    x[1, :2] = (F32(2.0 ** -130), F32(-(2.0 ** -131)))
    scales = {profile: block_quantize(x, profile=profile)[0].reshape(-1).tolist() for profile in BLOCK_PROFILES
              if profile != "modelopt-mxfp4"}  # its infinity block's scale is open
    assert scales["ocp-mx"][0] == 255
    assert scales["torchao-floor"][0] == scales["torchao-ceil"][0] == scales["torchao-even"][0] == 247
    assert scales["torchao-rceil"][0] == 254
    assert all(row[1] == 0 for row in scales.values())
    ocp = block_dequantize(*block_quantize(x[1:], profile="ocp-mx"))
    floor = block_dequantize(*block_quantize(x[1:], profile="torchao-floor"), profile="torchao-floor")
    assert ocp[0, :2].tolist() == [2.0 ** -130, -(2.0 ** -131)]
    assert floor[0, :2].tolist() == [2.0 ** -131, -(2.0 ** -132)]


def _dequantize_case(fmt: str, scales: range) -> tuple[np.ndarray, np.ndarray]:
    codes = np.arange(1 << oracle.floats.width(fmt), dtype=np.uint8)
    per_scale = np.resize(codes, max(32, codes.size))
    scale_codes = np.repeat(np.array(list(scales), dtype=np.uint8), per_scale.size // 32)
    return scale_codes.reshape(-1, 1), np.tile(per_scale, len(scales)).reshape(-1, 32)


def _check_dequantize(fmt: str, scales: range, profile: str = "ocp-mx") -> None:
    scale_codes, codes = _dequantize_case(fmt, scales)
    values, mask = block_dequantize_outcomes(scale_codes, codes, format=fmt, profile=profile)
    nan_scale = EVERY_PROFILE_BY_NAME[profile].block["block_nan_scale"]
    bits = values.view(np.uint32)
    for i in range(codes.shape[0]):
        for j in range(32):
            expected = oracle.dequantize_bits(int(scale_codes[i, 0]), int(codes[i, j]), fmt, nan_scale)
            if expected is None:
                assert math.isnan(values[i, j]) and (mask is not None and mask[i, j])
            else:
                assert int(bits[i, j]) == expected, (int(scale_codes[i, 0]), int(codes[i, j]))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("profile", ["ocp-mx", "modelopt-mxfp4"])
def test_dequantize_every_code_at_the_edge_scales(fmt, profile):
    _check_dequantize(fmt, (0, 1, 2, 100, 127, 150, 200, 240, 253, 254, 255), profile)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_dequantize_every_scale_and_code(fmt):
    _check_dequantize(fmt, range(256))


def test_dequantize_widened_nans():
    scale_codes = np.array([[255], [127]], np.uint8)
    codes = np.zeros((2, 32), np.uint8)
    codes[1, :2] = (0x7F, 0xFF)
    values = block_dequantize(scale_codes, codes, profile="torchao-floor").view(np.uint32)
    assert values[0].tolist() == [0x7FC00000] * 32
    assert values[1, :2].tolist() == [0x7FF00000, 0xFFF00000]
    e5m2 = block_dequantize(scale_codes[1:], np.full((1, 32), 0x7D, np.uint8), format="float8_e5m2",
                            profile="torchao-floor").view(np.uint32)
    assert e5m2[0, 0] == 0x7FE00000


def test_axis_and_shapes():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 3, 2)).astype(F32)
    scales, codes = block_quantize(x, axis=0, format="float4_e2m1fn")
    assert scales.shape == (2, 3, 2) and codes.shape == x.shape
    last_scales, last_codes = block_quantize(np.moveaxis(x, 0, -1), format="float4_e2m1fn")
    assert np.array_equal(np.moveaxis(codes, 0, -1), last_codes)
    assert np.array_equal(np.moveaxis(scales, 0, -1), last_scales)
    back = block_dequantize(scales, codes, axis=0, format="float4_e2m1fn")
    assert np.array_equal(np.moveaxis(back, 0, -1), block_dequantize(last_scales, last_codes, format="float4_e2m1fn"))
    assert block_quantize(x, axis=1, block_size=3)[0].shape == (64, 1, 2)


def _rounding_edges(fmt: str) -> np.ndarray:
    """Every float32 quotient a rounding step can turn on: each value of ``fmt``, each midpoint between
    neighbouring values, and the float32 neighbours of both; around the largest normal, and the
    infinity; float32's subnormals' edges; both signs."""
    largest = oracle.floats.largest_finite(fmt)
    values = [Fraction(oracle.floats.decode(code, fmt)[2]) for code in range(largest + 1)]
    points = values + [(low + high) / 2 for low, high in zip(values, values[1:])]
    top_quantum = values[-1] - values[-2]
    points += [values[-1] + top_quantum / 2, values[-1] * 4, Fraction(2) ** -126, Fraction(2) ** -149]
    edges = []
    for point in points:
        centre = F32(point)
        assert Fraction(float(centre)) == point, (fmt, point)  # every such point is a float32
        edges += [centre, np.nextafter(centre, F32(np.inf)), np.nextafter(centre, F32(0))]
    magnitudes = np.array(edges + [F32(np.inf)], dtype=F32)
    return np.concatenate([magnitudes, -magnitudes])


@pytest.mark.parametrize("fmt", FORMATS)
def test_element_rounding_at_every_edge(fmt):
    """BLK-3.3 on every quotient a rounding step turns on, compiled and interpreted, under both tie rules
    and both zero codes, against the oracle's rounding of the exact quotient."""
    quotients = _rounding_edges(fmt)
    patterns = quotients.view(np.uint32)
    constants = element_constants(ELEMENT_FORMATS[fmt])
    for ties, tie_code in (("half_to_even", TIES_EVEN), ("half_toward_zero", TIES_TOWARD_ZERO)):
        for zero_code in (ZERO_SIGN_BIT, ZERO_NEGATIVE):
            expected = []
            for q in quotients:
                negative = bool(np.signbit(q)) or (zero_code == ZERO_NEGATIVE and q == 0)
                if np.isinf(q):
                    expected.append(oracle.floats.encode(negative, Fraction(0), fmt, "saturate")
                                    | oracle.floats.largest_finite(fmt))
                else:
                    expected.append(oracle.encode_element(Fraction(float(q)), negative, fmt, ties))
            compiled = [int(encode_element(p, constants, tie_code, zero_code)) for p in patterns]
            with pure_python():
                interpreted = [int(encode_element(p, constants, tie_code, zero_code)) for p in patterns]
            assert compiled == expected, (fmt, ties, zero_code)
            assert interpreted == expected, (fmt, ties, zero_code)


@pytest.mark.parametrize("fmt", FORMATS)
def test_element_decoding_is_the_table(fmt):
    """BLK-4.1 and BLK-4.2: decode_element's arithmetic gives element_values' pattern for every code,
    compiled and interpreted (NaN codes' widened patterns included)."""
    element = ELEMENT_FORMATS[fmt]
    decoding = element_decoding(element)
    expected = element_values(element).view(np.uint32).tolist()
    codes = range(1 << element.bits)
    compiled = [int(np.float32(decode_element(np.uint8(code), decoding)).view(np.uint32)) for code in codes]
    with pure_python():
        interpreted = [int(np.float32(decode_element(np.uint8(code), decoding)).view(np.uint32)) for code in codes]
    assert compiled == expected
    assert interpreted == expected


def test_jit_matches_pure_python():
    rng = np.random.default_rng(4)
    for fmt in FORMATS:
        x = _adversarial_blocks(fmt, rng)[:, :16]
        for profile in BLOCK_PROFILES:
            compiled = block_quantize_outcomes(x, format=fmt, block_size=16, profile=profile)[0]
            with pure_python():
                interpreted = block_quantize_outcomes(x, format=fmt, block_size=16, profile=profile)[0]
            assert compiled.tobytes() == interpreted.tobytes(), (fmt, profile)
        scale_codes, codes = _dequantize_case(fmt, (0, 1, 127, 254, 255))
        for profile in ("torchao-floor", "modelopt-mxfp4"):
            compiled = block_dequantize(scale_codes, codes, format=fmt, profile=profile)
            # numpy warns where the float32 product overflows, and at 0 times infinity
            with pure_python(), np.errstate(over="ignore", invalid="ignore"):
                interpreted = block_dequantize(scale_codes, codes, format=fmt, profile=profile)
            assert compiled.tobytes() == interpreted.tobytes(), (fmt, profile)


@pytest.mark.parametrize(("call", "argument"), [
    (lambda: block_quantize(np.ones(33, F32)), "block_size"),
    (lambda: block_quantize(np.ones(32, F32), block_size=0), "block_size"),
    (lambda: block_quantize(np.ones(32, F32), format="int8"), "format"),
    (lambda: block_quantize(np.ones(32, F32), format="float8_e4m3fnuz"), "format"),
    (lambda: block_quantize(np.ones(32, np.int32)), "x"),
    (lambda: block_quantize(np.ones(32, F32), axis=1), "axis"),
    (lambda: block_quantize(np.ones(32, F32), profile="onnx"), "profile"),
    (lambda: block_quantize_outcomes(np.ones(32, F32), block_scale_rule="round"), "block_scale_rule"),
    (lambda: block_dequantize(np.zeros(2, np.uint8), np.zeros(32, np.uint8)), "scales"),
    (lambda: block_dequantize(np.zeros(1, np.uint8), np.zeros((1, 32), np.uint8)), "scales"),
    (lambda: block_dequantize(np.zeros(1, np.int32), np.zeros(32, np.uint8)), "scales"),
    (lambda: block_dequantize(np.zeros(1, np.uint8), np.full(32, 16, np.uint8), format="float4_e2m1fn"), "codes"),
    (lambda: block_dequantize(np.zeros(1, np.uint8), np.zeros(32, np.int8)), "codes"),
    (lambda: block_dequantize(np.zeros(1, np.uint8), np.zeros(31, np.uint8)), "block_size"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(RefqError) as raised:
        call()
    assert str(raised.value).startswith(argument + ":")


def test_variants_of_the_profiles_are_the_registry_ones():
    for name in BLOCK_PROFILES:
        values = EVERY_PROFILE_BY_NAME[name].block
        assert set(values) == {*QUANTIZE_VARIANTS, *DEQUANTIZE_VARIANTS}
        for variant, value in values.items():
            VARIANTS_BY_NAME[variant].value(value)


@pytest.mark.parametrize("profile", [pytest.param(name, marks=pytest.mark.slow)
                                     if name in ("torchao-ceil", "torchao-even") else name for name in BLOCK_PROFILES])
def test_level1_vectors_match_the_oracle(profile):
    """The checked-in golden vectors, against the oracle rather than refq: every block of every quantize case
    (blocks along the last axis, or moved there), every element of every dequantize case."""
    from refq.conformance.case import load_case
    from refq.conformance.harness import case_paths

    checked = 0
    for path in case_paths(ops=["block_quantize", "block_dequantize"]):
        if path.stem != profile:
            continue
        case = load_case(path)
        if case.expects_error:
            continue
        fmt, axis = case.attributes["format"], case.attributes["axis"]
        size = case.attributes["block_size"]
        if case.op == "block_quantize":
            blocks = np.moveaxis(case.inputs["x"], axis, -1).reshape(-1, size)
            scales = np.moveaxis(case.expected["scales"], axis, -1).reshape(-1)
            codes = np.moveaxis(case.expected["codes"], axis, -1).reshape(-1, size)
            for i in range(blocks.shape[0]):
                scale, expected = oracle.quantize_block([float(v) for v in blocks[i]], fmt, **_variants(profile))
                if scale is not None:
                    assert int(scales[i]) == scale, (path, i)
                if scale not in (None, oracle.NAN_SCALE):
                    assert codes[i].tolist() == expected, (path, i)
                checked += 1
        else:
            bits = case.expected.view(np.uint32).reshape(-1)
            codes = case.inputs["codes"].reshape(-1)
            scales = np.repeat(case.inputs["scales"].reshape(-1), size)
            nan_scale = EVERY_PROFILE_BY_NAME[profile].block["block_nan_scale"]
            for i in range(codes.size):
                expected = oracle.dequantize_bits(int(scales[i]), int(codes[i]), fmt, nan_scale)
                if expected is None:
                    assert np.isnan(case.expected.reshape(-1)[i]), (path, i)
                else:
                    assert int(bits[i]) == expected, (path, i)
                checked += 1
    assert checked > 5000
