"""Chapter ELT against the independent oracle in tests/oracle/elementwise.py (exact integers,
each float32 step emulated with Fractions, constants read from their decimal text).

Every check runs refq twice, Numba-compiled and interpreted (``pure_python``), and counts the
elements it compared.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from refq._jit import pure_python
from refq.elementwise import (logistic, max_pool, qlinear_add, qlinear_average_pool, qlinear_concat,
                              qlinear_global_average_pool, qlinear_leaky_relu, qlinear_mul, qlinear_sigmoid)
from refq.elementwise.lookup import hyperbolic_tangent, qlinear_tanh
from tests.oracle import elementwise as oracle

DTYPES = (np.uint8, np.int8)
SCALE_PAIRS = 40
ELEMENTS = 64  # per scale set, in the default run


def exact(value) -> Fraction:
    return Fraction(float(value))


def signed(dtype) -> bool:
    return np.dtype(dtype) == np.int8


def random_scale(rng, low: float, high: float) -> np.float32:
    return np.float32(10.0 ** rng.uniform(low, high))


def random_zero_point(rng, dtype):
    """A random zero point, at a range end a quarter of the time."""
    info = np.iinfo(dtype)
    if rng.random() < 0.25:
        return dtype(info.min if rng.random() < 0.5 else info.max)
    return dtype(rng.integers(info.min, info.max + 1))


def codes(rng, dtype, shape) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def both_paths(function, *args, **kwargs) -> np.ndarray:
    """refq compiled and interpreted must agree; return the result."""
    compiled = function(*args, **kwargs)
    with pure_python():
        interpreted = function(*args, **kwargs)
    assert compiled.dtype == interpreted.dtype and np.array_equal(compiled, interpreted)
    return compiled


def compare(result: np.ndarray, expected) -> int:
    """Assert refq's ``result`` equals the oracle's nested list; return the element count."""
    assert result.shape == oracle.shape_of(expected) or (result.ndim == 0 and not isinstance(expected, list))
    assert result.tolist() == expected
    return result.size


# --- ELT-2 ---------------------------------------------------------------------------------------------------

BROADCASTS = (((ELEMENTS,), (ELEMENTS,)), ((4, 16), (16,)), ((1,), (8, 8)), ((), (64,)), ((64,), ()),
              ((8, 1), (8, 8)), ((2, 1, 8), (4, 1)), ((1, 4), (16, 1)))


def binary_arguments(rng, dtype, shapes, a_scale, b_scale, c_scale):
    a, b = codes(rng, dtype, shapes[0]), codes(rng, dtype, shapes[1])
    zero_points = [random_zero_point(rng, dtype) for _ in range(3)]
    return (a, a_scale, zero_points[0], b, b_scale, zero_points[1], c_scale, zero_points[2])


def oracle_binary(function, arguments, dtype):
    a, a_scale, a_zero, b, b_scale, b_zero, c_scale, c_zero = arguments
    return function(a.tolist(), exact(a_scale), int(a_zero), b.tolist(), exact(b_scale), int(b_zero), exact(c_scale),
                    int(c_zero), signed(dtype))


@pytest.mark.parametrize("operation", ["qlinear_add", "qlinear_mul"])
def test_binary(operation):
    """Random codes over 40 scale sets, every broadcast pattern (both span roles of ELT-1.3)."""
    rng = np.random.default_rng(2027 if operation == "qlinear_mul" else 2028)
    ours, theirs = {"qlinear_add": (qlinear_add, oracle.qlinear_add),
                    "qlinear_mul": (qlinear_mul, oracle.qlinear_mul)}[operation]
    checked = 0
    for index in range(SCALE_PAIRS):
        dtype = DTYPES[index % 2]
        # Scales over several decades, so ties, saturation and the fused constant's rounding all occur.
        scales = [random_scale(rng, -4, 1) for _ in range(3)]
        arguments = binary_arguments(rng, dtype, BROADCASTS[index % len(BROADCASTS)], *scales)
        checked += compare(both_paths(ours, *arguments), oracle_binary(theirs, arguments, dtype))
    assert checked >= SCALE_PAIRS * ELEMENTS


@pytest.mark.parametrize("operation", ["qlinear_add", "qlinear_mul"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_ties(operation, dtype):
    """Scale ratios 1/2 and 3/2 (add) or m = 1/2 (mul): every odd sum is a tie, both operand orders."""
    rng = np.random.default_rng(7)
    ours, theirs = {"qlinear_add": (qlinear_add, oracle.qlinear_add),
                    "qlinear_mul": (qlinear_mul, oracle.qlinear_mul)}[operation]
    checked = 0
    for shapes in (((64,), (64,)), ((1,), (64,)), ((64,), (1,))):
        for scales in ((1.0, 3.0, 2.0), (0.5, 0.25, 1.0), (1.5, 0.5, 1.0)):
            arguments = binary_arguments(rng, dtype, shapes, *(np.float32(s) for s in scales))
            checked += compare(both_paths(ours, *arguments), oracle_binary(theirs, arguments, dtype))
    assert checked == 9 * 64


def test_qlinear_add_operand_swap_is_visible():
    """The swap of ELT-1.3 changes the last bit: with A the per-span scalar (shape (1,)) the oracle
    gives another code at index 203 than with A repeated to B's shape (parameters of
    tests/test_elementwise.py, where ONNX Runtime confirms the swapped result)."""
    every = np.arange(-128, 128).astype(np.int8)
    a_scale, b_scale, c_scale = (np.uint32(bits).view(np.float32) for bits in (1041058097, 999173153, 1072704774))
    scalar = np.array([41], np.int8)
    rest = (a_scale, np.int8(-49), every, b_scale, np.int8(126), c_scale, np.int8(-49))
    swapped = oracle_binary(oracle.qlinear_add, (scalar,) + rest, np.int8)
    unswapped = oracle_binary(oracle.qlinear_add, (np.repeat(scalar, 256),) + rest, np.int8)
    assert [i for i in range(256) if swapped[i] != unswapped[i]] == [203]
    assert compare(both_paths(qlinear_add, scalar, *rest), swapped) == 256
    assert compare(both_paths(qlinear_add, np.repeat(scalar, 256), *rest), unswapped) == 256


def test_qlinear_add_fused_constant_is_visible():
    """ELT-2.3's fused multiply-add in f shows in one output of these parameters (found by random
    search): computing f with two separately rounded products gives another code for (96, 65)."""
    a_scale, b_scale, c_scale = (np.uint32(bits).view(np.float32) for bits in (1058169692, 1050331781, 1055403749))
    arguments = (np.arange(256, dtype=np.uint8), a_scale, np.uint8(172), np.full(256, 65, np.uint8), b_scale,
                 np.uint8(18), c_scale, np.uint8(169))
    expected = oracle_binary(oracle.qlinear_add, arguments, np.uint8)
    assert compare(both_paths(qlinear_add, *arguments), expected) == 256
    x_ratio, y_ratio, _ = oracle.add_constants(exact(a_scale), 172, exact(b_scale), 18, exact(c_scale), 169)
    unfused = oracle.add(Fraction(169), -oracle.add(oracle.multiply(x_ratio, Fraction(172)),
                                                    oracle.multiply(y_ratio, Fraction(18))))
    others = [oracle.add_element(x, 65, x_ratio, y_ratio, unfused, 0, 255) for x in range(256)]
    assert [x for x in range(256) if others[x] != expected[x]] == [96]


def test_qlinear_add_saturation_and_range_ends():
    """Every pair of codes with the zero points at the range ends and a small output scale."""
    for dtype in DTYPES:
        info = np.iinfo(dtype)
        every = np.arange(info.min, info.max + 1).astype(dtype)
        arguments = (every.reshape(256, 1)[::5], np.float32(0.1), dtype(info.max), every.reshape(1, 256),
                     np.float32(0.13), dtype(info.min), np.float32(0.02), dtype(0))
        result = both_paths(qlinear_add, *arguments)
        assert compare(result, oracle_binary(oracle.qlinear_add, arguments, dtype)) == 52 * 256
        assert {int(info.min), int(info.max)} <= set(np.unique(result).tolist())


# --- ELT-3 ---------------------------------------------------------------------------------------------------


def float_sweep(rng, bound: float) -> np.ndarray:
    """Random float32 values over [-1.2 bound, 1.2 bound], tiny ones, and the clamp ends with their neighbours."""
    ends = np.array([bound, -bound], np.float32)
    return np.concatenate([rng.uniform(-1.2 * bound, 1.2 * bound, 400).astype(np.float32),
                           (rng.standard_normal(200) * 2).astype(np.float32),
                           np.float32(10.0) ** rng.uniform(-30, -1, 40).astype(np.float32),
                           ends, np.nextafter(ends, np.float32(0)), np.nextafter(ends, np.float32(100)),
                           np.array([0.0, 1e-45, -1e-45, 0.5, -0.5, 1.0, -1.0, 3e38, -3e38], np.float32)])


@pytest.mark.parametrize("function, theirs, bound", [(logistic, oracle.logistic, 18.0),
                                                     (hyperbolic_tangent, oracle.tanh, 9.0)])
def test_float_functions(function, theirs, bound):
    """ELT-3.3 and ELT-3.7 on single float32 values: every step as the oracle rounds it."""
    values = float_sweep(np.random.default_rng(31), bound)
    compiled = np.array([function(v) for v in values], np.float32)
    with pure_python():
        interpreted = np.array([function(v) for v in values[::7]], np.float32)
    assert np.array_equal(compiled[::7].view(np.uint32), interpreted.view(np.uint32))
    mismatches = [float(v) for v, got in zip(values, compiled) if exact(got) != theirs(exact(v))]
    assert not mismatches, mismatches[:5]


def table_case(rng, dtype):
    x_scale, y_scale = random_scale(rng, -3, 0), random_scale(rng, -3.5, -1)
    return x_scale, random_zero_point(rng, dtype), y_scale, random_zero_point(rng, dtype)


TABLES = {
    "sigmoid": (qlinear_sigmoid, lambda **_: oracle.logistic),
    "tanh": (qlinear_tanh, lambda **_: oracle.tanh),
    "leaky_relu": (qlinear_leaky_relu, lambda alpha: oracle.leaky_relu(exact(np.float32(alpha)))),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_lookup_tables(name):
    """Every code through the table (ELT-3.2 with ONNX Runtime's QuantizeLinear), 24 scale sets,
    plus scale pairs that put dequantized values on quantization ties."""
    ours, theirs = TABLES[name]
    rng = np.random.default_rng(41)
    checked = 0
    cases = [(DTYPES[i % 2],) + table_case(rng, DTYPES[i % 2]) for i in range(24)]
    # s_y = 2 s_x / (a power of two): the identity part of leaky_relu, and small tanh / sigmoid slopes, tie.
    cases += [(dtype, np.float32(2.0**-5), dtype(0), np.float32(2.0**-4), dtype(0)) for dtype in DTYPES]
    for index, (dtype, x_scale, x_zero, y_scale, y_zero) in enumerate(cases):
        attributes = {"alpha": (0.01, 0.2, 0.5, -0.75, 1.5)[index % 5]} if name == "leaky_relu" else {}
        every = np.arange(256, dtype=np.uint8).view(dtype)
        result = both_paths(ours, every, x_scale, x_zero, y_scale, y_zero, **attributes)
        entries = oracle.table(theirs(**attributes), exact(x_scale), int(x_zero), exact(y_scale), int(y_zero),
                               signed(dtype))
        checked += compare(result, oracle.look_up(every.tolist(), entries, signed(dtype)))
    assert checked == 26 * 256


# --- ELT-4 and ELT-6 -------------------------------------------------------------------------------------------


def pool_parameters(rng, dtype):
    return (random_scale(rng, -2, 0), random_zero_point(rng, dtype), random_scale(rng, -2.5, 0),
            random_zero_point(rng, dtype))


def test_global_average_pool():
    rng = np.random.default_rng(51)
    checked = 0
    for index, (shape, channels_last) in enumerate((((2, 3, 5, 4), 0), ((1, 4, 7), 0), ((2, 3, 3, 4), 1),
                                                    ((1, 2, 3, 2, 5), 1), ((1, 3, 6, 6), 0), ((3, 1, 16), 0))):
        dtype = DTYPES[index % 2]
        x_scale, x_zero, y_scale, y_zero = pool_parameters(rng, dtype)
        x = codes(rng, dtype, shape)
        if index == 4:  # range ends and an output scale far smaller than the input's: both saturations
            x = np.where(rng.random(shape) < 0.5, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
            x_scale, y_scale = np.float32(0.5), np.float32(0.01)
        result = both_paths(qlinear_global_average_pool, x, x_scale, x_zero, y_scale, y_zero,
                            channels_last=channels_last)
        checked += compare(result, oracle.global_average_pool(x.tolist(), exact(x_scale), int(x_zero),
                                                              exact(y_scale), int(y_zero), signed(dtype),
                                                              bool(channels_last)))
    assert checked > 20


WINDOWS = (
    ((1, 2, 6, 6), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ((1, 2, 7, 6), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((2, 1, 7, 8), {"kernel_shape": [3, 2], "strides": [2, 3], "ceil_mode": 1}),
    ((1, 2, 5, 7), {"kernel_shape": [2, 3], "strides": [2, 2], "pads": [0, 1, 1, 2]}),
    ((1, 3, 11), {"kernel_shape": [4], "strides": [3], "pads": [2, 1]}),
    ((1, 1, 4, 5, 3), {"kernel_shape": [2, 3, 2], "strides": [1, 2, 1], "pads": [1, 0, 0, 0, 1, 1]}),
    ((1, 2, 4, 4), {"kernel_shape": [4, 4]}),  # the whole input: ELT-6.4
    ((1, 2, 5, 5), {"kernel_shape": [3, 3], "strides": [3, 3], "pads": [1, 1, 2, 2], "ceil_mode": 1}),
)


def test_max_pool():
    rng = np.random.default_rng(61)
    checked = 0
    for index, (shape, attributes) in enumerate(WINDOWS):
        dtype = DTYPES[index % 2]
        extra = {"dilations": [2] * (len(shape) - 2)} if index in (1, 4) else {}
        x = codes(rng, dtype, shape)
        result = both_paths(max_pool, x, **attributes, **extra)
        checked += compare(result, oracle.max_pool(x.tolist(), signed(dtype), **attributes, **extra))
    assert checked > 100


@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(count_include_pad):
    rng = np.random.default_rng(71 + count_include_pad)
    checked = 0
    for index, (shape, attributes) in enumerate(WINDOWS):
        for channels_last in (0, 1):
            dtype = DTYPES[(index + channels_last) % 2]
            x_scale, x_zero, y_scale, y_zero = pool_parameters(rng, dtype)
            x = codes(rng, dtype, shape)
            if channels_last:
                x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
            keywords = dict(attributes, count_include_pad=count_include_pad, channels_last=channels_last)
            result = both_paths(qlinear_average_pool, x, x_scale, x_zero, y_scale, y_zero, **keywords)
            checked += compare(result, oracle.average_pool(x.tolist(), exact(x_scale), int(x_zero), exact(y_scale),
                                                           int(y_zero), signed(dtype), **keywords))
    assert checked > 200


# --- ELT-7 ---------------------------------------------------------------------------------------------------


def test_qlinear_concat():
    """Random concatenations with scales that differ, equal the output's, or double it (ties)."""
    rng = np.random.default_rng(81)
    checked = 0
    for index in range(24):
        dtype = DTYPES[index % 2]
        y_scale, y_zero = random_scale(rng, -2, 0), random_zero_point(rng, dtype)
        rank = 1 + index % 3
        axis = int(rng.integers(-rank, rank))
        base = list(rng.integers(1, 4, rank))
        inputs = []
        for part in range(1 + index % 3):
            shape = list(base)
            shape[axis] = int(rng.integers(1, 5))
            kind = (index + part) % 3
            scale, zero = ((y_scale, y_zero) if kind == 0 else (np.float32(2 * y_scale), y_zero) if kind == 1 else
                           (random_scale(rng, -2, 0), random_zero_point(rng, dtype)))
            inputs.append((codes(rng, dtype, shape), scale, zero))
        result = both_paths(qlinear_concat, y_scale, y_zero, inputs, axis=axis)
        expected = oracle.qlinear_concat(exact(y_scale), int(y_zero),
                                         [(x.tolist(), exact(s), int(z)) for x, s, z in inputs], axis, signed(dtype))
        checked += compare(result, expected)
    assert checked > 100


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_pools_with_automatic_padding(auto_pad):
    """ELT-6.7: the pads ONNX Runtime derives, including a kernel shorter than the stride (negative pads)."""
    rng = np.random.default_rng(101)
    checked = 0
    for index, (shape, kernel, strides, ceil_mode) in enumerate((
            ((1, 2, 7, 6), [3, 2], [2, 2], 0), ((1, 1, 9), [2], [4], 0), ((2, 1, 5, 8), [3, 3], [1, 3], 1),
            ((1, 2, 6, 5), [1, 2], [3, 3], 0))):
        dtype = DTYPES[index % 2]
        x = codes(rng, dtype, shape)
        attributes = {"kernel_shape": kernel, "strides": strides, "ceil_mode": ceil_mode}
        pads = oracle.resolved_pads(x.tolist(), kernel, strides, None, auto_pad)
        result = both_paths(max_pool, x, auto_pad=auto_pad, **attributes)
        checked += compare(result, oracle.max_pool(x.tolist(), signed(dtype), pads=pads, **attributes))
        parameters = pool_parameters(rng, dtype)
        result = both_paths(qlinear_average_pool, x, *parameters, auto_pad=auto_pad, **attributes)
        parameters = (exact(parameters[0]), int(parameters[1]), exact(parameters[2]), int(parameters[3]))
        checked += compare(result, oracle.average_pool(x.tolist(), *parameters, signed(dtype), pads=pads,
                                                       **attributes))
    assert checked > 50


@pytest.mark.parametrize("rule", ["rounded_integer_division", "tosa_reciprocal"])
def test_integer_average_rules(rule):
    """ELT-6.8 to 6.10 (the tflite and tosa profiles' average_division), ties included: codes of
    one scale, so every quotient with an even count can be a tie."""
    rng = np.random.default_rng(111)
    checked = 0
    for index, (shape, attributes) in enumerate(WINDOWS[:6]):
        dtype = np.int8 if rule == "tosa_reciprocal" else DTYPES[index % 2]
        scale, zero = random_scale(rng, -2, 0), random_zero_point(rng, dtype)
        output_zero = zero if rule == "rounded_integer_division" else random_zero_point(rng, dtype)
        x = codes(rng, dtype, shape)
        result = both_paths(qlinear_average_pool, x, scale, zero, scale, output_zero, average_division=rule,
                            **attributes)
        checked += compare(result, oracle.integer_average_pool(x.tolist(), int(zero), int(output_zero),
                                                               signed(dtype), rule, **attributes))
    assert checked > 100
