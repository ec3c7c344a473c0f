"""NUM-2: rounding exact rationals and floats to integers.

Checked against the oracle in tests/oracle/rounding.py (exact rationals and
integer bit decoding, written separately), against Python's exact ``round``,
``math.floor``/``ceil``/``trunc`` on Fractions, and against numpy's rint, floor,
ceil and trunc, which run the C library / hardware roundToIntegral.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.numbers.rounding import (
    CEIL,
    FLOOR,
    HALF_TO_EVEN,
    ROUNDING_EXAMPLE_VALUES,
    TOWARD_ZERO,
    round_array,
    round_float,
    round_rational,
    round_to_integral,
    rounding_examples_table,
)
from refq.registry import ROUNDING_MODES
from tests.oracle import rounding as oracle

MODE_NAMES = [mode.name for mode in ROUNDING_MODES]


def test_modes_match_oracle_names():
    assert tuple(MODE_NAMES) == oracle.MODES
    assert [mode.code for mode in ROUNDING_MODES] == list(range(len(ROUNDING_MODES)))


# --- NUM-2.2: exact rationals ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODE_NAMES)
def test_round_rational(mode):
    # Every n/d with small d: all ties (d even), near-ties and integers, both signs.
    for denominator in range(1, 13):
        for numerator in range(-60, 61):
            value = Fraction(numerator, denominator)
            assert round_rational(value, mode) == oracle.round_fraction(value, mode), value


@given(st.fractions(), st.sampled_from(MODE_NAMES))
def test_round_rational_hypothesis(value, mode):
    assert round_rational(value, mode) == oracle.round_fraction(value, mode)


@given(st.fractions() | st.integers(-(2**80), 2**80).map(lambda n: Fraction(2 * n + 1, 2)))
def test_round_rational_matches_python(value):
    # Python rounds Fractions exactly: round() ties to even; floor/ceil/trunc are directed.
    assert round_rational(value, "half_to_even") == round(value)
    assert round_rational(value, "floor") == math.floor(value)
    assert round_rational(value, "ceil") == math.ceil(value)
    assert round_rational(value, "toward_zero") == math.trunc(value)


def test_round_rational_accepts_integers():
    assert round_rational(7, "ceil") == 7
    assert round_rational(np.int64(-3)) == -3


def test_rounding_examples_table():
    table = rounding_examples_table()
    lines = table.strip().splitlines()
    assert lines[0] == "| mode | 2.5 | 3.5 | −2.5 | −0.5 | 1.3 | −1.3 |"
    assert lines[2] == "| `half_to_even` | 2 | 4 | −2 | 0 | 1 | −1 |"
    assert lines[3] == "| `half_away_from_zero` | 3 | 4 | −3 | −1 | 1 | −1 |"
    assert len(lines) == 2 + len(ROUNDING_MODES)
    for line, mode in zip(lines[2:], MODE_NAMES):
        cells = [cell.strip() for cell in line.strip("|").split("|")[1:]]
        expected = [str(oracle.round_fraction(v, mode)).replace("-", "−") for v in ROUNDING_EXAMPLE_VALUES]
        assert cells == expected


# --- NUM-2.3 and NUM-2.4: floats -------------------------------------------------------


def _float32_patterns() -> np.ndarray:
    """About 1.4 million float32 patterns where rounding is delicate.

    Ties k + 1/2 and their two neighbours either side, for small k and for k just
    below 2^22 (where 1/2 is the spacing); every float32 within 2^16 patterns of 2^23
    and of 2^24 (where floats become integral, then even); the smallest subnormals;
    zeros, infinities, NaNs and the largest finite values; all of both signs.
    """
    k = np.concatenate([np.arange(0, 60000), np.arange(2**22 - 20000, 2**22)]).astype(np.float32)
    ties = (k + np.float32(0.5)).view(np.uint32)  # exact: k < 2^22
    around_ties = (ties[:, None].astype(np.int64) + np.arange(-2, 3)).ravel()
    two_23 = int(np.float32(2.0**23).view(np.uint32))
    two_24 = int(np.float32(2.0**24).view(np.uint32))
    blocks = [np.arange(two_23 - 2**16, two_23 + 2**16), np.arange(two_24 - 2**16, two_24 + 2**16),
              np.arange(0, 2**16), np.arange(0x3E800000, 0x3F400000, 64)]  # 0.25 .. 0.75, every 64th
    specials = [0x7F800000, 0x7F7FFFFF, 0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x4B000000, 0x4AFFFFFF]
    positive = np.unique(np.concatenate([around_ties, *blocks, specials]))
    patterns = np.concatenate([positive, positive | 0x80000000]).astype(np.uint32)
    return patterns


@pytest.fixture(scope="module")
def float32_patterns() -> np.ndarray:
    return _float32_patterns()


@pytest.fixture(scope="module")
def float32_oracle(float32_patterns) -> np.ndarray:
    """Oracle results, one column per mode, for every pattern of the fixture."""
    rows = [oracle.round_float_pattern_all_modes(p) for p in float32_patterns.tolist()]
    return np.array(rows, dtype=np.uint32)


def test_float32_patterns_are_many(float32_patterns):
    assert float32_patterns.size >= 10**6


@pytest.mark.parametrize("mode", MODE_NAMES)
def test_round_array_float32_matches_oracle(mode, float32_patterns, float32_oracle):
    column = MODE_NAMES.index(mode)
    rounded = round_array(float32_patterns.view(np.float32), mode)
    assert rounded.dtype == np.float32
    mismatches = np.flatnonzero(rounded.view(np.uint32) != float32_oracle[:, column])
    assert mismatches.size == 0, [hex(p) for p in float32_patterns[mismatches[:10]]]


def test_bulk_oracle_matches_fraction_oracle(float32_patterns, float32_oracle):
    # The fast integer oracle against the Fraction-based one, on a spread-out subset.
    for row in range(0, float32_patterns.size, 97):
        pattern = int(float32_patterns[row])
        for column, mode in enumerate(MODE_NAMES):
            assert oracle.round_float_pattern(pattern, mode) == float32_oracle[row, column]


_NUMPY_EQUIVALENTS = {"half_to_even": np.rint, "floor": np.floor, "ceil": np.ceil, "toward_zero": np.trunc}


@pytest.mark.parametrize("mode", list(_NUMPY_EQUIVALENTS))
def test_round_array_matches_numpy(mode, float32_patterns):
    as_float32 = float32_patterns.view(np.float32)
    with np.errstate(invalid="ignore"):  # signalling NaNs among the inputs
        as_float64 = as_float32.astype(np.float64)
    for values in (as_float32, as_float64):
        ours = round_array(values, mode)
        with np.errstate(invalid="ignore"):
            theirs = _NUMPY_EQUIVALENTS[mode](values)
        is_nan = np.isnan(values)
        # NaN: numpy may quiet a signalling NaN; refq returns it unchanged (NUM-2.3).
        assert np.isnan(ours[is_nan]).all() and np.isnan(theirs[is_nan]).all()
        unsigned = np.uint32 if values.dtype == np.float32 else np.uint64
        assert np.array_equal(ours[~is_nan].view(unsigned), theirs[~is_nan].view(unsigned))


def _float64_patterns() -> np.ndarray:
    k = np.concatenate([np.arange(0, 20000), np.arange(2**51 - 20000, 2**51)]).astype(np.float64)
    ties = (k + 0.5).view(np.uint64)
    around = (ties[:, None] + np.arange(-2, 3).astype(np.uint64)).ravel()  # wraps harmlessly for +0.5
    two_52 = int(np.float64(2.0**52).view(np.uint64))
    blocks = [np.arange(two_52 - 4096, two_52 + 4096, dtype=np.uint64), np.arange(0, 4096, dtype=np.uint64)]
    specials = np.array([0x7FF0000000000000, 0x7FEFFFFFFFFFFFFF, 0x7FF8000000000000, 0x7FF0000000000001],
                        dtype=np.uint64)
    positive = np.unique(np.concatenate([around, *blocks, specials]))
    return np.concatenate([positive, positive | np.uint64(1 << 63)])


@pytest.mark.parametrize("mode", MODE_NAMES)
def test_round_array_float64_matches_oracle(mode):
    patterns = _float64_patterns()[::3]
    rounded = round_array(patterns.view(np.float64), mode).view(np.uint64)
    for pattern, result in zip(patterns.tolist(), rounded.tolist()):
        assert result == oracle.round_float_pattern(pattern, mode, oracle.BINARY64), hex(pattern)


@given(st.integers(0, 2**64 - 1), st.sampled_from(MODE_NAMES))
def test_round_float_float64_hypothesis(pattern, mode):
    value = np.uint64(pattern).view(np.float64)
    result = round_float(value, mode)
    assert int(np.float64(result).view(np.uint64)) == oracle.round_float_pattern(pattern, mode, oracle.BINARY64)


@given(st.integers(0, 2**32 - 1), st.sampled_from(MODE_NAMES))
def test_round_float_float32_hypothesis(pattern, mode):
    value = np.uint32(pattern).view(np.float32)
    result = round_float(value, mode)
    assert isinstance(result, np.float32)
    assert int(result.view(np.uint32)) == oracle.round_float_pattern(pattern, mode)


def test_round_float_keeps_python_float():
    assert round_float(2.5) == 2.0 and type(round_float(2.5)) is float
    assert math.copysign(1.0, round_float(-0.5)) == -1.0
    assert type(round_float(np.float64(2.5))) is np.float64


def test_round_to_integral_pure_python(float32_patterns, float32_oracle):
    # The interpreted kernel, value by value, on every 60th pattern (about 23 thousand).
    subset = slice(None, None, 60)
    patterns = float32_patterns[subset]
    expected = float32_oracle[subset]
    with pure_python():
        for column, mode in enumerate(MODE_NAMES):
            rounded = round_array(patterns.view(np.float32), mode)
            assert np.array_equal(rounded.view(np.uint32), expected[:, column])
        for x in patterns[:2000].view(np.float32):
            assert round_to_integral(x, HALF_TO_EVEN).dtype == np.float32


def test_round_to_integral_scalar_matches_array(float32_patterns):
    # The scalar kernel called from Python (float32 in, Python float out) against the array kernel.
    values = float32_patterns[::500].view(np.float32)
    for code in (HALF_TO_EVEN, TOWARD_ZERO, FLOOR, CEIL):
        scalar = np.array([round_to_integral(x, code) for x in values], dtype=np.float32)
        array = round_array(values, MODE_NAMES[code])
        assert np.array_equal(scalar.view(np.uint32), array.view(np.uint32))


def test_round_array_keeps_shape():
    values = np.arange(-12, 12, dtype=np.float64).reshape(2, 3, 4) / 4
    result = round_array(values, "half_away_from_zero")
    assert result.shape == (2, 3, 4) and result.dtype == np.float64
    assert result.ravel().tolist() == [float(oracle.round_fraction(Fraction(n, 4), "half_away_from_zero"))
                                       for n in range(-12, 12)]


# --- Bad input --------------------------------------------------------------------------


def _raises(error, argument, function, *args, **kwargs):
    with pytest.raises(error) as raised:
        function(*args, **kwargs)
    assert str(raised.value).startswith(f"{argument}:"), str(raised.value)


def test_round_rational_rejects_bad_input():
    _raises(RefqValueError, "mode", round_rational, Fraction(1, 2), "nearest")
    _raises(RefqTypeError, "value", round_rational, 0.5)
    _raises(RefqTypeError, "value", round_rational, "1/2")
    _raises(RefqTypeError, "value", round_rational, True)


def test_round_float_rejects_bad_input():
    _raises(RefqValueError, "mode", round_float, 0.5, "banker")
    _raises(RefqTypeError, "x", round_float, 1)
    _raises(RefqTypeError, "x", round_float, np.float16(0.5))
    _raises(RefqTypeError, "x", round_float, Fraction(1, 2))


def test_round_to_integral_rejects_bad_mode_code():
    _raises(RefqValueError, "mode", round_to_integral, 0.5, 7)
    _raises(RefqValueError, "mode", round_to_integral, 1.0, -1)
    with pure_python():
        _raises(RefqValueError, "mode", round_to_integral, 0.5, 7)


def test_round_array_rejects_bad_input():
    _raises(RefqValueError, "mode", round_array, np.zeros(2), "up")
    _raises(RefqTypeError, "values", round_array, np.zeros(2, dtype=np.int32))
    _raises(RefqTypeError, "values", round_array, [0.5, 1.5])


# --- Exhaustive (slow) ------------------------------------------------------------------


def _bit_level_round(patterns: np.ndarray) -> dict[str, np.ndarray]:
    """A third implementation, for the exhaustive run: float32 rounding on the bit fields, in numpy.

    With biased exponent E, a normal float32 has 150 - E fraction bits (a subnormal
    149); the integer part is the significand shifted right by that many bits, and
    the bits shifted out, against half their scale, decide the nearest modes.
    Returns the result patterns for every mode.
    """
    sign = patterns >> np.uint32(31)
    biased = (patterns >> np.uint32(23)) & np.uint32(0xFF)
    normal = biased > 0
    significand = (patterns & np.uint32(0x7FFFFF)) | (normal.astype(np.uint32) << np.uint32(23))
    # Capped at 26: from 25 on the value is below 1/2 anyway, and every quantity fits 32 bits.
    fraction_bits = np.clip(150 - biased.astype(np.int32) - ~normal, 0, 26).astype(np.uint32)
    whole = significand >> fraction_bits
    remainder = significand - (whole << fraction_bits)
    scale = np.uint32(1) << fraction_bits
    twice = remainder << np.uint32(1)
    negative = sign == 1
    above_half, at_half, inexact = twice > scale, twice == scale, remainder > 0
    up_masks = {
        "half_to_even": above_half | (at_half & ((whole & np.uint32(1)) == 1)),
        "half_away_from_zero": above_half | at_half,
        "half_toward_positive": above_half | (at_half & ~negative),
        "half_toward_zero": above_half,
        "toward_zero": np.zeros(patterns.shape, bool),
        "floor": negative & inexact,
        "ceil": ~negative & inexact,
    }
    unchanged = (biased == 255) | ~inexact
    results = {}
    for mode, up in up_masks.items():
        magnitude = (whole + up).astype(np.float32)  # at most 2^24: exact
        rounded = np.where(negative, -magnitude, magnitude).view(np.uint32)
        results[mode] = np.where(unchanged, patterns, rounded)
    return results


@pytest.mark.slow
def test_round_array_exhaustive_float32():
    """All 2^32 float32 patterns, every mode: against the bit-level rounding and numpy."""
    chunk = 2**24
    for start in range(0, 2**32, chunk):
        patterns = np.arange(start, start + chunk, dtype=np.uint32)
        values = patterns.view(np.float32)
        not_nan = ~np.isnan(values)
        expected = _bit_level_round(patterns)
        for mode in MODE_NAMES:
            ours = round_array(values, mode).view(np.uint32)
            bad = np.flatnonzero(ours != expected[mode])
            assert bad.size == 0, (mode, [hex(p) for p in patterns[bad[:10]]])
            if mode in _NUMPY_EQUIVALENTS:
                with np.errstate(invalid="ignore"):
                    theirs = _NUMPY_EQUIVALENTS[mode](values).view(np.uint32)
                assert np.array_equal(ours[not_nan], theirs[not_nan]), mode


def test_half_toward_positive_is_not_floor_of_x_plus_half():
    # The spec's warning: in binary32, 0.5 - 2^-25 plus 0.5 rounds up to 1.0 before floor sees it.
    x = np.float32(0.5) - np.float32(2.0**-25)
    assert np.floor(x + np.float32(0.5)) == np.float32(1.0)
    assert round_float(x, "half_toward_positive") == np.float32(0.0)
    assert oracle.round_float_pattern(int(x.view(np.uint32)), "half_toward_positive") == 0
