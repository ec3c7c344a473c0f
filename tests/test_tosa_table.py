"""ELT-8: the tosa backend's ``table`` (TOSA TABLE on the reference model) against refq: the level-1 vectors, every
int8 code and every int16 code through several tables, and the elements the model leaves unpredictable."""

from __future__ import annotations

import numpy as np
import pytest

from refq.backends.interpreters import ENVIRONMENTS
from refq.conformance.generate import table as generator
from refq.conformance.harness import case_paths, run_cases
from refq.elementwise.table import table_with_outcomes

pytestmark = pytest.mark.skipif(not ENVIRONMENTS["tosa"].installed(),
                                reason="the tosa environment is not installed: run `refq backends install tosa`")


def _compare(tosa, values: np.ndarray, entries: np.ndarray) -> tuple[int, int]:
    outcome = tosa.runner.call("table_with_status", {"input": values, "table": entries}, {}, 600)
    assert outcome.kind == "returned", outcome.message
    engine_output, engine_unpredictable = outcome.value[0], outcome.value[1].astype(bool)
    output, unpredictable = table_with_outcomes(values, entries)
    mask = np.zeros(values.shape, bool) if unpredictable is None else unpredictable
    np.testing.assert_array_equal(engine_unpredictable, mask)
    np.testing.assert_array_equal(engine_output[~mask], output[~mask].astype(np.int64))
    return int((~mask).sum()), int(mask.sum())


def test_tosa_conforms_on_every_level1_table_case(tosa):
    results = run_cases(tosa, case_paths(ops=("table",)))
    assert len(results) == 2
    assert {result.status for result in results} == {"pass"}, [(r.id, r.detail) for r in results]


def test_every_code_through_several_tables(tosa):
    rng = np.random.default_rng(8)
    compared = 0
    for _ in range(4):
        compared += _compare(tosa, np.arange(-128, 128).astype(np.int8), rng.integers(-128, 128, 256).astype(np.int8))[0]
    every = np.arange(-32768, 32768).astype(np.int16)
    for steep in (False, True, False):
        compared += _compare(tosa, every, generator.int16_table(rng, steep))[0]
    assert compared == 4 * 256 + 3 * 65536 - 128


def test_what_the_model_leaves_unpredictable_is_what_refq_marks(tosa):
    """A random table: most slopes leave int16; the model's unpredictable elements are refq's mask."""
    rng = np.random.default_rng(9)
    values = rng.integers(-32768, 32768, 300).astype(np.int16)
    compared, unpredictable = _compare(tosa, values, rng.integers(-32768, 32768, 513).astype(np.int16))
    assert compared and unpredictable


def test_tosa_rejects_a_table_of_another_length(tosa):
    outcome = tosa.call("table", {"input": np.zeros(3, np.int16), "table": np.zeros(512, np.int16)}, {})
    assert outcome.kind == "raised", outcome
