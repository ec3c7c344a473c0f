"""ELT-8: TOSA TABLE (refq.elementwise.table) against the exact oracle, the JIT against pure Python, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.conformance.generate import table as generator
from refq.elementwise.table import table, table_with_outcomes
from refq.errors import RefqError
from tests.oracle.elementwise import tosa_table


def _check(values: np.ndarray, entries: np.ndarray, pure_python_step: int = 1) -> int:
    """refq against the oracle on every element, and pure Python against the JIT on every ``pure_python_step``-th."""
    output, unpredictable = table_with_outcomes(values, entries)
    mask = np.zeros(values.shape, bool) if unpredictable is None else unpredictable
    listed = [int(e) for e in entries]
    expected = [tosa_table(int(v), listed) for v in values.reshape(-1)]
    assert mask.reshape(-1).tolist() == [e is None for e in expected]
    got = output.reshape(-1).tolist()
    assert [g for g, e in zip(got, expected) if e is not None] == [e for e in expected if e is not None]
    sample = np.ascontiguousarray(values.reshape(-1)[::pure_python_step])
    with pure_python():
        interpreted = table_with_outcomes(sample, entries)
    np.testing.assert_array_equal(interpreted[0], output.reshape(-1)[::pure_python_step])
    interpreted_mask = np.zeros(sample.shape, bool) if interpreted[1] is None else interpreted[1]
    np.testing.assert_array_equal(interpreted_mask, mask.reshape(-1)[::pure_python_step])
    return int((~mask).sum())


def test_every_int8_code():
    rng = np.random.default_rng(1)
    codes = np.arange(-128, 128).astype(np.int8)
    entries = rng.integers(-128, 128, 256).astype(np.int8)
    assert table(codes, entries).dtype == np.int8
    assert _check(codes, entries) == 256


@pytest.mark.parametrize("steep", [False, True])
def test_every_int16_code(steep):
    rng = np.random.default_rng(2)
    codes = np.arange(-32768, 32768).astype(np.int16)
    entries = generator.int16_table(rng, steep)
    assert table(codes, entries).dtype == np.int32
    compared = _check(codes, entries, pure_python_step=7)
    assert compared == 65536 - (128 if steep else 0)


def test_slopes_at_the_ends_of_int16_are_valid():
    entries = np.zeros(513, np.int16)
    entries[0], entries[1], entries[2] = -32768, -1, -32768  # slopes 32767, then -32767
    _, unpredictable = table_with_outcomes(np.array([-32768, -32767, -32640, -32513], np.int16), entries)
    assert unpredictable is None
    entries[0], entries[1] = 2, -32767  # slope -32769
    _, unpredictable = table_with_outcomes(np.array([-32768, -32640], np.int16), entries)
    assert unpredictable.tolist() == [True, False]


def test_the_last_code_reads_the_last_two_entries():
    entries = np.zeros(513, np.int16)
    entries[511], entries[512] = 100, 227
    assert table(np.array([32767, 32640], np.int16), entries).tolist() == [100 * 128 + 127 * 127, 100 * 128]


@pytest.mark.parametrize(("values", "entries", "argument"), [
    (np.zeros(3, np.int32), np.zeros(513, np.int32), "input"),
    (np.zeros(3, np.int16), np.zeros(513, np.int32), "table"),
    (np.zeros(3, np.int16), np.zeros(512, np.int16), "table"),
    (np.zeros(3, np.int8), np.zeros(513, np.int8), "table"),
    (np.zeros(3, np.uint8), np.zeros(256, np.uint8), "input"),
])
def test_errors_name_the_argument(values, entries, argument):
    with pytest.raises(RefqError, match=argument):
        table(values, entries)
