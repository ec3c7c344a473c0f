"""NUM-3 for the block-scale formats: E8M0 (unsigned, no zero) and UE4M3 (unsigned).

Every pattern of both formats is decoded and checked against an exact oracle written
here from the formats' definitions (OCP MX 1.0 5.4.1 for E8M0; E4M3FN without its sign
bit for UE4M3), and E8M0 against ml_dtypes. Encoding is checked on every float32 that
reaches a boundary (every exponent with the mantissas around each format's midpoints,
float32 subnormals and specials) and on random float32s: against ml_dtypes for E8M0
(and, on non-negative inputs, ml_dtypes' float8_e4m3fn for UE4M3), and for both formats
against the oracle, the scalar Fraction ``encode`` and the interpreted kernels. The whole
float32 space is behind ``@pytest.mark.slow``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

import refq
from refq._jit import pure_python
from refq.cli import main
from refq.errors import RefqValueError
from refq.numbers.floats import (
    decode,
    decode_array,
    encode,
    encode_array,
    epsilon,
    max_finite,
    min_normal,
    min_subnormal,
    next_down,
    next_up,
    ulp,
)

pytestmark = pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")

E8M0 = "float8_e8m0fnu"
UE4M3 = "float8_ue4m3"
SCALE_FORMATS = (E8M0, UE4M3)
PATTERN_COUNT = {E8M0: 256, UE4M3: 128}
NAN_PATTERN = {E8M0: 0xFF, UE4M3: 0x7F}
LARGEST_PATTERN = {E8M0: 0xFE, UE4M3: 0x7E}
#: The value one step above the largest, as if the exponent were unbounded: where overflow begins.
BEYOND_LARGEST = {E8M0: Fraction(2) ** 128, UE4M3: Fraction(480)}
POLICIES = ("infinity", "saturate")


def oracle_value(pattern: int, name: str) -> Fraction | None:
    """The exact value of a pattern from the format's definition; None for the NaN."""
    if pattern == NAN_PATTERN[name]:
        return None
    if name == E8M0:
        return Fraction(2) ** (pattern - 127)
    exponent, mantissa = pattern >> 3, pattern & 7
    if exponent == 0:
        return Fraction(mantissa, 8) * Fraction(2) ** -6
    return (1 + Fraction(mantissa, 8)) * Fraction(2) ** (exponent - 7)


def finite_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The finite patterns in increasing order of value, and their values (exact in float64)."""
    patterns = [p for p in range(PATTERN_COUNT[name]) if oracle_value(p, name) is not None]
    values = [oracle_value(p, name) for p in patterns]
    assert values == sorted(values)
    return np.array(patterns), np.array([float(v) for v in values])


def tie_goes_up(lower_pattern: np.ndarray, name: str) -> np.ndarray:
    """Round half to even on the significand: for E8M0 (no mantissa) the significands of 2^k and
    2^(k+1) at the quantum 2^k are 1 and 2, so a tie always goes up; for UE4M3, up from an odd mantissa."""
    if name == E8M0:
        return np.ones(lower_pattern.shape, dtype=bool)
    return (lower_pattern & 1) == 1


def oracle_encode(x: np.ndarray, name: str, overflow: str) -> np.ndarray:
    """The pattern of every float64 in ``x`` by the encode rules, by comparisons with exact midpoints."""
    patterns, values = finite_table(name)
    overflowed = NAN_PATTERN[name] if overflow == "infinity" else LARGEST_PATTERN[name]
    grid = np.append(values, float(BEYOND_LARGEST[name]))
    magnitude = np.where(np.isinf(x), np.inf, x)
    index = np.clip(np.searchsorted(grid, magnitude, side="right") - 1, 0, len(values) - 1)
    lower, upper = grid[index], grid[index + 1]
    midpoint = (lower + upper) / 2  # exact: both have at most 4 significant bits
    go_up = (magnitude > midpoint) | ((magnitude == midpoint) & tie_goes_up(patterns[index], name))
    result = np.where(go_up, np.append(patterns, -1)[index + 1], patterns[index])
    result = np.where(result == -1, overflowed, result)
    result = np.where(magnitude < values[0], patterns[0], result)  # E8M0: nothing below 2^-127
    result = np.where(np.isinf(x) & (x > 0), overflowed, result)
    zero = NAN_PATTERN[name] if name == E8M0 else 0
    result = np.where(x == 0, zero, result)
    result = np.where(np.isnan(x) | (x < 0), NAN_PATTERN[name], result)
    return result.astype(np.uint8)


def boundary_float32s() -> np.ndarray:
    """Every float32 exponent and sign, with the top 4 mantissa bits free and the low 19 bits at
    and around 0, a half (the UE4M3 midpoints), and all ones; E8M0's midpoints (mantissa 0x400000)
    and their neighbours are among them, and so are float32's subnormals near each point."""
    low = np.array([0, 1, 2, 0x3FFFE, 0x3FFFF, 0x40000, 0x40001, 0x7FFFE, 0x7FFFF], dtype=np.uint32)
    exponents = np.arange(256, dtype=np.uint32)[:, None, None]
    top = np.arange(16, dtype=np.uint32)[None, :, None]
    magnitudes = ((exponents << 23) | (top << 19) | low[None, None, :]).reshape(-1)
    patterns = np.concatenate([magnitudes, magnitudes | np.uint32(0x80000000)])
    return patterns.view(np.float32)


def random_float32s(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1 << 32, count, dtype=np.uint64).astype(np.uint32).view(np.float32)


def ml_dtypes_e8m0(x: np.ndarray) -> np.ndarray:
    return x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)


def mismatches(ours: np.ndarray, theirs: np.ndarray, x: np.ndarray) -> list:
    where = np.flatnonzero(ours != theirs)
    return [(float(x[i]), int(ours[i]), int(theirs[i])) for i in where[:5]]


# --- decode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCALE_FORMATS)
def test_decode_every_pattern(name):
    """decode and decode_array give the oracle's exact value for every pattern; NaN where it says."""
    patterns = np.arange(PATTERN_COUNT[name], dtype=np.uint8)
    kernel_values = decode_array(patterns, name)
    for pattern, kernel_value in zip(patterns.tolist(), kernel_values.tolist()):
        expected = oracle_value(pattern, name)
        decoded = decode(pattern, name)
        assert decoded.sign == 0
        if expected is None:
            assert decoded.kind == "nan" and math.isnan(kernel_value), hex(pattern)
        else:
            assert decoded.value == expected == Fraction(kernel_value), hex(pattern)
            assert decoded.kind == ("zero" if expected == 0 else "subnormal" if pattern < 8 and name == UE4M3
                                    else "normal"), hex(pattern)


def test_decode_e8m0_as_ml_dtypes():
    """All 256 patterns widen to float64 bit for bit as ml_dtypes widens them (NaN included)."""
    patterns = np.arange(256, dtype=np.uint8)
    ours = decode_array(patterns, E8M0).view(np.uint64)
    theirs = patterns.view(ml_dtypes.float8_e8m0fnu).astype(np.float64).view(np.uint64)
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("name", SCALE_FORMATS)
def test_pattern_out_of_range(name):
    with pytest.raises(RefqValueError, match="^bits: "):
        decode(PATTERN_COUNT[name], name)
    with pytest.raises(RefqValueError, match="^bits: "):
        decode_array(np.array([PATTERN_COUNT[name]], dtype=np.uint16), name)


# --- constants and neighbours ---------------------------------------------------------------


def test_constants_e8m0_match_ml_dtypes_finfo():
    info = ml_dtypes.finfo(ml_dtypes.float8_e8m0fnu)
    assert max_finite(E8M0) == Fraction(float(info.max)) == Fraction(2) ** 127
    assert min_normal(E8M0) == Fraction(float(info.smallest_normal)) == Fraction(2) ** -127
    assert min_subnormal(E8M0) == Fraction(float(info.smallest_subnormal)) == Fraction(2) ** -127
    assert epsilon(E8M0) == Fraction(float(info.eps)) == 1


def test_constants_ue4m3_from_the_definition():
    _, values = finite_table(UE4M3)
    assert max_finite(UE4M3) == Fraction(values[-1]) == 448
    assert min_normal(UE4M3) == Fraction(1, 64)
    assert min_subnormal(UE4M3) == Fraction(values[1]) == Fraction(1, 512)
    assert epsilon(UE4M3) == Fraction(1, 8)


@pytest.mark.parametrize("name", SCALE_FORMATS)
def test_next_up_next_down_and_ulp(name):
    """Neighbours step through the oracle's ordered values; the ends have none (no negatives, no infinity)."""
    patterns, values = finite_table(name)
    for position, pattern in enumerate(patterns.tolist()):
        up, down = next_up(pattern, name), next_down(pattern, name)
        assert up == (int(patterns[position + 1]) if position + 1 < len(patterns) else None)
        assert down == (int(patterns[position - 1]) if position > 0 else None)
        if position + 1 < len(patterns) and values[position] > 0:
            # the spacing above a value is its ulp, except where the next binade begins
            spacing = Fraction(values[position + 1]) - Fraction(values[position])
            assert ulp(pattern, name) in (spacing, spacing / 2)
    assert next_up(NAN_PATTERN[name], name) is None and next_down(NAN_PATTERN[name], name) is None
    assert ulp(0, E8M0) == Fraction(2) ** -127


# --- encode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCALE_FORMATS)
@pytest.mark.parametrize("overflow", POLICIES)
def test_encode_boundaries_against_the_oracle_and_fraction_encode(name, overflow):
    """Every boundary float32: the kernel, the oracle and the scalar Fraction ``encode`` agree."""
    x = boundary_float32s()
    ours = encode_array(x, name, overflow=overflow)
    expected = oracle_encode(x.astype(np.float64), name, overflow)
    assert not mismatches(ours, expected, x), mismatches(ours, expected, x)
    # NaNs are a handful of the 73,728 values: the scalar path on every finite one and the specials.
    scalar = [encode(v, name, overflow=overflow) for v in x[::3].tolist()]
    assert scalar == ours[::3].tolist()


def test_encode_e8m0_boundaries_as_ml_dtypes():
    """ml_dtypes has no saturating cast: its E8M0 cast is the ``infinity`` policy."""
    x = boundary_float32s()
    ours, theirs = encode_array(x, E8M0), ml_dtypes_e8m0(x)
    assert not mismatches(ours, theirs, x), mismatches(ours, theirs, x)


def test_encode_ue4m3_as_ml_dtypes_e4m3fn_on_non_negative_values():
    """UE4M3 is float8_e4m3fn without the sign bit: on every non-negative input (NaNs too) its
    pattern is ml_dtypes' e4m3fn pattern, whose sign bit is then 0."""
    x = np.concatenate([boundary_float32s(), random_float32s(1 << 20, seed=16)])
    x = x[~np.signbit(x)]
    ours = encode_array(x, UE4M3)
    theirs = x.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    assert x.size > 500_000 and not mismatches(ours, theirs, x), mismatches(ours, theirs, x)


@pytest.mark.parametrize("name", SCALE_FORMATS)
def test_encode_random_float32s(name):
    """2^20 random float32 patterns: the kernel against the oracle (and ml_dtypes for E8M0),
    both policies; the scalar Fraction ``encode`` on 2^13 of them."""
    x = random_float32s(1 << 20, seed=15)
    for overflow in POLICIES:
        ours = encode_array(x, name, overflow=overflow)
        expected = oracle_encode(x.astype(np.float64), name, overflow)
        assert not mismatches(ours, expected, x), mismatches(ours, expected, x)
        if name == E8M0 and overflow == "infinity":
            assert not mismatches(ours, ml_dtypes_e8m0(x), x)
        sample = x[: 1 << 13]
        assert [encode(v, name, overflow=overflow) for v in sample.tolist()] == ours[: 1 << 13].tolist()


def test_encode_rules_e8m0():
    """The rules NUM-3.12 to NUM-3.17 state for E8M0, value by value (each as ml_dtypes casts it)."""
    cases = {
        1.0: 0x7F, 1.5: 0x80, 3.0: 0x81, 0.75: 0x7F,  # ties 1.5 x 2^k go up, whatever the exponent's parity
        1.4999999: 0x7F, 2.0**-127: 0x00, 2.0**-130: 0x00, 2.0**-149: 0x00,  # nothing below 2^-127: no underflow
        2.0**127: 0xFE, 2.0**127 * 1.5: 0xFF, math.inf: 0xFF,  # overflow: NaN (no infinity)
        0.0: 0xFF, -0.0: 0xFF, -1.0: 0xFF, -math.inf: 0xFF, math.nan: 0xFF,  # no zero, no negatives
    }
    x = np.array(list(cases), dtype=np.float64)
    assert encode_array(x, E8M0).tolist() == list(cases.values())
    assert [encode(v, E8M0) for v in cases] == list(cases.values())
    assert ml_dtypes_e8m0(x.astype(np.float32)).tolist() == list(cases.values())
    assert encode(2.0**127 * 1.5, E8M0, overflow="saturate") == 0xFE
    assert encode(math.inf, E8M0, overflow="saturate") == 0xFE
    assert encode(-math.inf, E8M0, overflow="saturate") == 0xFF
    assert encode(Fraction(-1, 3), E8M0) == 0xFF and encode(0, E8M0) == 0xFF
    assert encode(5e-324, E8M0) == 0x00 == encode_array(np.array([5e-324]), E8M0)[0]
    assert encode(Fraction(3, 2) * Fraction(2) ** 200, E8M0, overflow="saturate") == 0xFE


def test_encode_rules_ue4m3():
    cases = {448.0: 0x7E, 464.0: 0x7E, 464.00003: 0x7F, 2.0**-10: 0x00, 2.0**-10 * 1.0001: 0x01,
             -0.0: 0x00, 0.0: 0x00, -1e-30: 0x7F, -1.0: 0x7F, math.inf: 0x7F, math.nan: 0x7F}
    x = np.array(list(cases), dtype=np.float64)
    assert encode_array(x, UE4M3).tolist() == list(cases.values())
    assert [encode(v, UE4M3) for v in cases] == list(cases.values())
    assert encode(1000, UE4M3, overflow="saturate") == 0x7E
    assert encode(math.inf, UE4M3, overflow="saturate") == 0x7E


@pytest.mark.parametrize("name", SCALE_FORMATS)
def test_pure_python(name):
    """The kernels give the same bits compiled and interpreted (boundary values, every pattern)."""
    x = np.concatenate([boundary_float32s()[::5], random_float32s(2000, seed=3)])
    patterns = np.arange(PATTERN_COUNT[name], dtype=np.uint8)
    compiled = [encode_array(x, name, overflow=p) for p in POLICIES] + [decode_array(patterns, name).view(np.uint64)]
    with pure_python():
        interpreted = [encode_array(x, name, overflow=p) for p in POLICIES]
        interpreted.append(decode_array(patterns, name).view(np.uint64))
    for a, b in zip(compiled, interpreted):
        assert np.array_equal(a, b)


# --- through the registry: refq.cast and refq explain ---------------------------------------


def test_cast_accepts_the_scale_formats():
    x = np.array([1.0, 1.5, 0.0, -2.0, 3e38, 1e-45], dtype=np.float32)
    assert refq.cast(x, "float8_e8m0fnu").tolist() == [0x7F, 0x80, 0xFF, 0xFF, 0xFF, 0x00]
    assert refq.cast(x, "e8m0", saturate=True).tolist() == [0x7F, 0x80, 0xFF, 0xFF, 0xFE, 0x00]
    assert refq.cast(x, "ue4m3", saturate=True).tolist() == [0x38, 0x3C, 0x00, 0x7F, 0x7E, 0x00]


def test_explain_accepts_the_scale_formats(capsys):
    assert main(["explain", "1.5", "--format", "float8_e8m0fnu"]) == 0
    out = capsys.readouterr().out
    assert "pattern   0x80" in out and "value     2" in out
    assert main(["explain", "0x7f", "--format", "float8_ue4m3"]) == 0
    assert "NaN" in capsys.readouterr().out


def test_explain_negative_value_or_zero_into_a_scale_format(capsys):
    """NUM-3.12, NUM-3.14: the NaN a negative value or a zero encodes as is said, and the bits show
    only the fields the format has (E8M0: the exponent alone)."""
    assert main(["explain", "-1", "--format", "float8_ue4m3"]) == 0
    out = capsys.readouterr().out
    assert "has no code for a negative value (NUM-3.12)" in out and "bits      [1111|111]" in out
    assert main(["explain", "0", "--format", "float8_e8m0fnu"]) == 0
    out = capsys.readouterr().out
    assert "float8_e8m0fnu has no zero (NUM-3.14)" in out and "bits      [11111111]" in out


# --- the whole float32 space ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", SCALE_FORMATS)
def test_encode_every_float32(name):
    """All 2^32 float32 patterns, in chunks: the kernel against the oracle, both policies, and
    against ml_dtypes for E8M0 (the oracle makes it long: about 6 s per 2^24 values and policy
    on a shared core, so well over an hour for both formats)."""
    chunk = 1 << 24
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        wide = x.astype(np.float64)
        for overflow in POLICIES:
            ours = encode_array(x, name, overflow=overflow)
            assert not mismatches(ours, oracle_encode(wide, name, overflow), x)
            if name == E8M0 and overflow == "infinity":
                assert not mismatches(ours, ml_dtypes_e8m0(x), x)
