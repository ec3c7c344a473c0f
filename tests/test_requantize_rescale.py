"""REQ-2.8, REQ-2.9: TOSA RESCALE (refq.requantize.rescale) against the exact oracle, the JIT against pure
Python, TOSA's ERROR_IFs as errors naming the argument, and REQ-2.6's shift of 1."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.conformance.generate import rescale as generator
from refq.errors import RefqError
from refq.requantize import fixed_point
from refq.requantize.rescale import OUTPUT_TYPES, rescale, rescale_with_outcomes
from tests.oracle import requantize as oracle

RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
          "int32": (-(2**31), 2**31 - 1)}


def _oracle(values, multipliers, shifts, input_zp, output_zp, dtype, scale32, rounding, per_channel):
    qmin, qmax = RANGES[dtype]
    expected = np.zeros(values.shape, np.int64)
    unpredictable = np.zeros(values.shape, bool)
    for index in np.ndindex(values.shape):
        channel = index[-1] if per_channel else 0
        q = oracle.tosa_rescale(int(values[index]), input_zp, int(multipliers[channel]), int(shifts[channel]),
                                output_zp, qmin, qmax, scale32, rounding == "double_round")
        if q is None:
            unpredictable[index] = True
        else:
            expected[index] = q
    return expected, unpredictable


def _check(values, multipliers, shifts, input_zp=None, output_zp=None, *, dtype="int8", scale32=True,
           rounding="double_round", per_channel=False) -> int:
    """refq (JIT and pure Python) against the oracle; returns the elements compared."""
    arguments = dict(dtype=dtype, scale32=scale32, rounding_mode=rounding, per_channel=per_channel)
    output, unpredictable = rescale_with_outcomes(values, multipliers, shifts, input_zp, output_zp, **arguments)
    assert output.dtype == np.dtype(dtype) and output.shape == values.shape
    expected, expected_unpredictable = _oracle(values, np.asarray(multipliers).reshape(-1),
                                               np.asarray(shifts).reshape(-1), int(input_zp or 0),
                                               int(output_zp or 0), dtype, scale32, rounding, per_channel)
    np.testing.assert_array_equal(unpredictable, expected_unpredictable)
    predictable = ~unpredictable
    np.testing.assert_array_equal(output[predictable].astype(np.int64), expected[predictable])
    with pure_python():
        interpreted = rescale_with_outcomes(values, multipliers, shifts, input_zp, output_zp, **arguments)
    np.testing.assert_array_equal(interpreted[0], output)
    np.testing.assert_array_equal(interpreted[1], unpredictable)
    return int(predictable.sum())


@pytest.mark.parametrize("rounding", ["double_round", "single_round"])
def test_every_shift_with_ties_and_edges_equals_the_oracle(rounding):
    """The level-2 generator's int32 grid (every shift 2..62, random and tie-making multipliers, edge, outside
    and tie values, shifts 0, 1, 63 and a negative multiplier) to int32, int16 and int8."""
    inputs = generator.every_shift_inputs(60, np.random.default_rng(3))
    compared = 0
    for dtype, zero in (("int32", None), ("int16", None), ("int8", -3)):
        compared += _check(inputs["input"], inputs["multiplier"], inputs["shift"], None, zero, dtype=dtype,
                           rounding=rounding, per_channel=True)
    assert compared > 20_000


def test_the_tie_grid_holds_ties():
    """The crafted values make v * M / 2^s end in exactly one half at every shift 2..61."""
    rng = np.random.default_rng(4)
    for shift in range(2, 62):
        multiplier = generator.tie_multiplier(shift)
        assert 0 < multiplier < 2**31
        for value in generator.tie_values(shift, 6, rng):
            assert -(2 ** (shift - 1)) <= value < 2 ** (shift - 1)
            assert (value * multiplier) % 2**shift == 2 ** (shift - 1), (shift, value)


@pytest.mark.parametrize(("input_type", "dtype"), generator.PAIRS)
def test_every_type_pair_with_zero_points_equals_the_oracle(input_type, dtype):
    rng = np.random.default_rng(sum(map(ord, input_type + dtype)))
    info = np.iinfo(np.dtype(input_type))
    low, high = (-(2**47), 2**47) if input_type == "int64" else (info.min, info.max + 1)
    values = rng.integers(low, high, (40, 5)).astype(input_type)
    values[0, :] = low
    values[1, :] = high - 1
    scale32 = input_type != "int64"
    top = 2**31 if scale32 else 2**15
    input_zp, output_zp = generator._zero_point(input_type, rng), generator._zero_point(dtype, rng)
    for per_channel in (False, True):
        channels = 5 if per_channel else 1
        for rounding in ("single_round", "double_round") if scale32 else ("single_round",):
            multipliers = rng.integers(0, top, channels)
            shifts = rng.integers(2, 63, channels)
            _check(values, multipliers, shifts, None if input_zp is None else input_zp[0],
                   None if output_zp is None else output_zp[0], dtype=dtype, scale32=scale32, rounding=rounding,
                   per_channel=per_channel)


def test_rank_0_and_per_tensor():
    assert rescale(np.int32(7), 2**30, 31).tolist() == 4  # 3.5, ties toward +infinity
    assert rescale(np.array([1, 2, 3, -5], np.int32), [2**30], [31]).tolist() == [1, 1, 2, -2]
    assert rescale(np.array([1, 2, 3, -5], np.int32), [2**30], [31], rounding_mode="single_round").tolist() == \
        [1, 1, 2, -2]


def test_uint8_and_uint16_are_read_and_written_unsigned():
    assert rescale(np.array([200, 255, 0], np.uint8), 2**30, 30, np.uint8(250)).tolist() == [-50, 5, -128]
    assert rescale(np.array([100, -100, 5], np.int16), 2**30, 30, None, np.uint8(200), dtype="uint8").tolist() == \
        [255, 100, 205]
    assert rescale(np.array([60000, 0], np.uint16), 2**30, 30, np.uint16(32768), dtype="int16").tolist() == \
        [27232, -32768]


@pytest.mark.parametrize(("arguments", "keywords", "argument"), [
    ((np.zeros(2, np.uint8), 2**30, 30), {"dtype": "uint8"}, "dtype"),
    ((np.zeros(2, np.uint8), 2**30, 30), {"dtype": "int32"}, "dtype"),
    ((np.zeros(2, np.int32), 2**30, 30), {"dtype": "uint16"}, "dtype"),
    ((np.zeros(2, np.int64), 2**14, 30), {"dtype": "int16"}, "scale32"),
    ((np.zeros(2, np.int16), 2**14, 30), {"scale32": False}, "rounding_mode"),
    ((np.zeros(2, np.int32), 2**30, 30), {"rounding_mode": "inexact_round"}, "rounding_mode"),
    ((np.int32(3), [2**30], [30]), {"per_channel": True}, "per_channel"),
    ((np.zeros((2, 3), np.int32), [2**30, 2**30], [30, 30]), {"per_channel": True}, "multiplier"),
    ((np.zeros((2, 3), np.int32), [2**30] * 3, [30, 30]), {"per_channel": True}, "shift"),
    ((np.zeros(2, np.int32), 2**31, 30), {}, "multiplier"),
    ((np.zeros(2, np.int16), 2**15, 30), {"scale32": False, "rounding_mode": "single_round"}, "multiplier"),
    ((np.zeros(2, np.int32), 2**30, 128), {}, "shift"),
    ((np.zeros(2, np.int16), 2**30, 30, np.int16(1)), {}, "input_zp"),
    ((np.zeros(2, np.uint16), 2**30, 30, np.uint16(1)), {"dtype": "int16"}, "input_zp"),
    ((np.zeros(2, np.int32), 2**30, 30, None, np.int32(1)), {"dtype": "int32"}, "output_zp"),
    ((np.zeros(2, np.int8), 2**30, 30, np.array([1, 2], np.int8)), {}, "input_zp"),
    ((np.zeros(2, np.float32), 2**30, 30), {}, "input"),
    ((np.zeros(2, np.int32), 2**30, 30), {"dtype": "int64"}, "dtype"),
])
def test_tosa_error_ifs_are_errors_naming_the_argument(arguments, keywords, argument):
    with pytest.raises(RefqError, match=argument):
        rescale(*arguments, **keywords)


def test_outside_shifts_and_negative_multipliers_are_unpredictable():
    """REQ-2.9: the element is marked and holds the output zero point, saturated."""
    values = np.array([[5, -5, 0, 9]], np.int32)
    output, unpredictable = rescale_with_outcomes(values, [2**30, 2**30, 2**30, -1], [0, 1, 63, 31],
                                                  None, np.int8(-3), per_channel=True)
    assert unpredictable.all() and output.tolist() == [[-3, -3, -3, -3]]
    assert set(OUTPUT_TYPES) == set(RANGES)


def test_fixed_point_marks_a_shift_of_1_unpredictable():
    """REQ-2.6: TOSA REQUIREs s >= 2; refq used to accept s = 1 unmarked (the reference model: UNPREDICTABLE)."""
    for bits, rounding in ((32, "double_round"), (32, "single_round"), (16, "single_round")):
        q, unpredictable = fixed_point.requantize_fixed_point_with_outcomes(np.array([0, 1], np.int32), 1, 1,
                                                                            bits=bits, rounding=rounding)
        assert unpredictable.all(), bits
    q, unpredictable = fixed_point.requantize_fixed_point_with_outcomes(np.array([0, 1], np.int32), 1, 2)
    assert not unpredictable.any()
