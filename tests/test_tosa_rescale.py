"""REQ-2.8, REQ-2.9: the tosa backend's ``rescale`` (TOSA RESCALE on the reference model, in its own interpreter)
against refq's ``rescale``: the level-1 vectors, and element by element on every shift 2..62 with random and
tie-making multipliers, every pair of input and output types with zero points, and where the model reports
TOSA_UNPREDICTABLE (``rescale_with_status`` splits such a graph down to the elements)."""

from __future__ import annotations

import numpy as np
import pytest

from refq.backends.interpreters import ENVIRONMENTS
from refq.conformance.generate import rescale as generator
from refq.conformance.harness import case_paths, run_cases
from refq.requantize.rescale import rescale_with_outcomes

pytestmark = pytest.mark.skipif(not ENVIRONMENTS["tosa"].installed(),
                                reason="the tosa environment is not installed: run `refq backends install tosa`")


def _compare(tosa, values, multipliers, shifts, input_zp=None, output_zp=None, **attributes) -> tuple[int, int]:
    """The model's output and UNPREDICTABLE elements against refq's; returns (elements compared, unpredictable)."""
    inputs = {"input": values, "multiplier": np.asarray(multipliers, np.int32), "shift": np.asarray(shifts, np.int32),
              "input_zp": input_zp, "output_zp": output_zp}
    outcome = tosa.runner.call("rescale_with_status", inputs, attributes, 600)
    assert outcome.kind == "returned", outcome.message
    engine_output, engine_unpredictable = outcome.value[0], outcome.value[1].astype(bool)
    output, unpredictable = rescale_with_outcomes(*inputs.values(), **attributes)
    np.testing.assert_array_equal(engine_unpredictable, unpredictable)
    np.testing.assert_array_equal(engine_output[~unpredictable], output[~unpredictable].astype(np.int64))
    return int((~unpredictable).sum()), int(unpredictable.sum())


def _in_range(rng, shifts, rows: int, low: int = -(2**31), high: int = 2**31) -> np.ndarray:
    """Random values of [low, high) within TOSA's range [-2^(s-1), 2^(s-1)) of each channel's shift."""
    columns = [rng.integers(max(low, -(1 << (int(s) - 1))), min(high, 1 << (int(s) - 1)), rows) for s in shifts]
    return np.stack(columns, axis=1)


def test_tosa_conforms_on_every_level1_rescale_case(tosa):
    results = run_cases(tosa, case_paths(ops=("rescale",)))
    assert len(results) == 5
    assert {result.status for result in results} == {"pass"}, [(r.id, r.detail) for r in results]
    assert sum(result.total for result in results) > 1000


@pytest.mark.parametrize("rounding", ["double_round", "single_round"])
def test_every_shift_and_the_tie_grid_equal_refq(tosa, rounding):
    """Every shift 2..62 per channel with random multipliers, to int32 (no saturation hides a bit), int16 and
    int8; then the tie grid (v M / 2^s ends in one half) and its neighbours, to int32."""
    rng = np.random.default_rng(62)
    shifts = np.arange(2, 63)
    values = _in_range(rng, shifts, 2000).astype(np.int32)
    multipliers = rng.integers(0, 2**31, shifts.size)
    compared = 0
    for dtype, zero in (("int32", None), ("int16", None), ("int8", np.int8(-3))):
        compared += _compare(tosa, values, multipliers, shifts, None, zero, dtype=dtype, rounding_mode=rounding,
                             per_channel=True)[0]
    tie_shifts = np.arange(2, 62)
    ties = np.stack([generator.tie_values(int(s), 1000, rng) for s in tie_shifts], axis=1)
    limits = np.array([2 ** (int(s) - 1) for s in tie_shifts])
    grid = np.concatenate([ties, np.minimum(ties + 1, limits - 1), np.maximum(ties - 1, -limits)])
    grid = np.clip(grid, -(2**31), 2**31 - 1).astype(np.int32)
    tie_multipliers = [generator.tie_multiplier(int(s)) for s in tie_shifts]
    compared += _compare(tosa, grid, tie_multipliers, tie_shifts, dtype="int32", rounding_mode=rounding,
                         per_channel=True)[0]
    assert compared > 500_000


@pytest.mark.parametrize(("input_type", "dtype"), generator.PAIRS)
def test_every_type_pair_with_zero_points_equals_refq(tosa, input_type, dtype):
    """Random codes, both ends of the input type, random zero points (uint16: 32768), per tensor and per
    channel, at shifts where TOSA's range holds every value (so that no graph is UNPREDICTABLE)."""
    rng = np.random.default_rng(sum(map(ord, input_type + dtype)))
    info = np.iinfo(np.dtype(input_type))
    low, high = (-(2**47), 2**47) if input_type == "int64" else (info.min, info.max + 1)
    values = rng.integers(low, high, (200, 6)).astype(input_type)
    values[0], values[1] = low, high - 1
    scale32 = input_type != "int64"
    lowest_shift = {8: 10, 16: 18, 32: 33, 64: 32}[info.bits]
    input_zp, output_zp = generator._zero_point(input_type, rng), generator._zero_point(dtype, rng)
    compared = 0
    for per_channel in (False, True):
        channels = 6 if per_channel else 1
        for rounding in ("single_round", "double_round") if scale32 else ("single_round",):
            multipliers = rng.integers(0, 2**31 if scale32 else 2**15, channels)
            shifts = rng.integers(lowest_shift, 63, channels)
            compared += _compare(tosa, values, multipliers, shifts, input_zp, output_zp, dtype=dtype,
                                 scale32=scale32, rounding_mode=rounding, per_channel=per_channel)[0]
    assert compared >= 200 * 6 * 2


def test_what_the_model_leaves_unpredictable_is_what_refq_marks(tosa):
    """Both ends of the range and one past each at every shift, the tie grid, shifts 0, 1 and 63 and a
    negative multiplier (the generator's every-shift inputs); int48 results past int32 in the 16-bit form."""
    inputs = generator.every_shift_inputs(2, np.random.default_rng(9))
    compared, unpredictable = _compare(tosa, *inputs.values(), dtype="int8", rounding_mode="double_round",
                                       per_channel=True)
    assert unpredictable >= 4 * 6 + 2 * 30
    wide = generator.int48_inputs(4, np.random.default_rng(10))
    compared16, unpredictable16 = _compare(tosa, *wide.values(), dtype="int16", scale32=False,
                                           rounding_mode="single_round", per_channel=True)
    assert unpredictable16 and compared16


def test_tosa_rejects_what_tosa_errors_on(tosa):
    """TOSA's ERROR_IFs are rejections there too (the vectors' error cases are refq's RefqErrors)."""
    outcome = tosa.call("rescale", {"input": np.zeros(2, np.int32), "multiplier": np.array([2**30], np.int32),
                                    "shift": np.array([30], np.int32), "input_zp": None, "output_zp": None},
                        {"dtype": "uint8"})
    assert outcome.kind == "raised", outcome
