"""NUM-3.21 to NUM-3.23: casts into E8M0 under ``round_mode`` and the three range rules, and NaN into
the formats without NaN.

Each rule is checked against an oracle (tests/oracle/e8m0.py) on float32 bit fields with Python integers
(a different route from refq's, which works on ``numpy.frexp`` of the float64 value), and against
the real engine it names: ONNX Runtime's ``Cast`` for ``range_first``, onnx.reference's
``to_float8e8m0`` for ``exponent_field``, ml_dtypes for ``nearest_value`` under ``nearest`` and for
``opposite_sign_zero``. The inputs are every sign and float32 exponent field with mantissas at each
rounding boundary; every float32 is behind ``@pytest.mark.slow``.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import numpy_helper

import refq
from refq.backends.reference import cast as reference_cast
from refq.errors import RefqValueError
from tests.oracle.e8m0 import oracle

pytestmark = pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")

E8M0 = "float8_e8m0fnu"
ROUND_MODES = ("nearest", "up", "down")
SATURATES = (False, True)
#: Mantissas at each boundary the rules look at: zero, the first and second bits, the ties, their neighbours.
BOUNDARY_MANTISSAS = (0, 1, 2, 0x1FFFFF, 0x200000, 0x3FFFFF, 0x400000, 0x400001, 0x5FFFFF, 0x600000, 0x600001,
                      0x7FFFFE, 0x7FFFFF)


def structured_inputs(random_mantissas: int = 300) -> np.ndarray:
    """Every sign and exponent field with the boundary mantissas and some random ones, as float32."""
    rng = np.random.default_rng(2126)
    mantissas = np.concatenate([np.array(BOUNDARY_MANTISSAS, np.uint32),
                                rng.integers(0, 1 << 23, random_mantissas).astype(np.uint32)])
    bits = ((np.arange(2, dtype=np.uint32)[:, None, None] << 31)
            | (np.arange(256, dtype=np.uint32)[None, :, None] << 23) | mantissas[None, None, :])
    return bits.reshape(-1).view(np.float32)


@pytest.mark.parametrize("rule", ("nearest_value", "range_first", "exponent_field"))
@pytest.mark.parametrize("saturate", SATURATES)
@pytest.mark.parametrize("round_mode", ROUND_MODES)
def test_cast_e8m0_equals_oracle(round_mode, saturate, rule):
    x = structured_inputs(random_mantissas=20)
    got = refq.cast(x, E8M0, saturate=saturate, round_mode=round_mode, e8m0_conversion=rule)
    expected = [oracle(int(bits), round_mode, saturate, rule) for bits in x.view(np.uint32)]
    differ = np.flatnonzero(got != np.array(expected, dtype=np.uint8))
    assert differ.size == 0, [(hex(int(x.view(np.uint32)[i])), int(got[i]), expected[i]) for i in differ[:5]]


def test_cast_e8m0_nearest_value_equals_ml_dtypes():
    """Under ``nearest`` the default rule is NUM-3.13, ml_dtypes' cast (negative values and zeros: NaN)."""
    x = structured_inputs()
    expected = x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    assert np.array_equal(refq.cast(x, E8M0), expected)


@pytest.mark.parametrize("saturate", SATURATES)
@pytest.mark.parametrize("round_mode", ROUND_MODES)
def test_cast_e8m0_exponent_field_equals_onnx_reference(round_mode, saturate):
    x = structured_inputs()
    expected = numpy_helper.to_float8e8m0(x, saturate, round_mode).view(np.uint8)
    got = refq.cast(x, E8M0, saturate=saturate, round_mode=round_mode, e8m0_conversion="exponent_field")
    assert np.array_equal(got, expected)


def _onnxruntime_e8m0(x: np.ndarray, round_mode: str, saturate: bool) -> np.ndarray:
    from refq.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend().cast(x, to=E8M0, saturate=saturate, round_mode=round_mode)


@pytest.mark.parametrize("saturate", SATURATES)
@pytest.mark.parametrize("round_mode", ROUND_MODES)
def test_cast_e8m0_range_first_equals_onnxruntime(round_mode, saturate):
    x = structured_inputs()
    expected = _onnxruntime_e8m0(x, round_mode, saturate)
    got = refq.cast(x, E8M0, saturate=saturate, round_mode=round_mode, e8m0_conversion="range_first")
    assert np.array_equal(got, expected)
    assert np.array_equal(reference_cast(x, to=E8M0, saturate=saturate, round_mode=round_mode,
                                         profile="onnxruntime")[0], expected)


@pytest.mark.slow
@pytest.mark.parametrize("saturate", SATURATES)
@pytest.mark.parametrize("round_mode", ROUND_MODES)
def test_cast_e8m0_range_first_equals_onnxruntime_on_every_float32(round_mode, saturate):
    chunk = 1 << 26
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        got = refq.cast(x, E8M0, saturate=saturate, round_mode=round_mode, e8m0_conversion="range_first")
        assert np.array_equal(got, _onnxruntime_e8m0(x, round_mode, saturate)), hex(start)


def test_onnx_profile_leaves_negative_e8m0_inputs_unpredictable():
    x = np.array([-2.0, -0.0, 0.0, 1.1, -np.inf], dtype=np.float32)
    patterns, unpredictable = reference_cast(x, to=E8M0, saturate=True, round_mode="up", profile="onnx")
    assert patterns.tolist()[2:4] == [0x00, 0x80]
    assert unpredictable.tolist() == [True, True, False, False, True]
    assert reference_cast(x, to=E8M0, saturate=True, round_mode="up", profile="onnxruntime")[1] is None


NAN_BITS = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFA5A5A5], dtype=np.uint32)


@pytest.mark.parametrize("to", ("float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn"))
def test_nan_into_formats_without_nan(to):
    nans = NAN_BITS.view(np.float32)
    x = np.concatenate([nans, np.array([1.0, -0.0], np.float32)])
    with pytest.raises(RefqValueError, match="x"):
        refq.cast(x, to)
    zeros = refq.cast(x, to, finite_format_nan="opposite_sign_zero")
    ml_dtypes_type = getattr(ml_dtypes, to)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(zeros, x.astype(ml_dtypes_type).view(np.uint8))
    largest = refq.cast(x, to, finite_format_nan="largest")
    largest_pattern = np.array([ml_dtypes.finfo(ml_dtypes_type).max], ml_dtypes_type).view(np.uint8)[0]
    assert (largest[:nans.size] == largest_pattern).all()
    assert np.array_equal(largest[nans.size:], zeros[nans.size:])


@pytest.mark.parametrize(("keywords", "argument"), [
    ({"to": E8M0, "round_mode": "ceiling"}, "round_mode"),
    ({"to": "float8_e4m3fn", "round_mode": "up"}, "round_mode"),
    ({"to": E8M0, "e8m0_conversion": "onnx"}, "e8m0_conversion"),
    ({"to": "float4_e2m1fn", "finite_format_nan": "zero"}, "finite_format_nan"),
])
def test_cast_refuses_bad_rules(keywords, argument):
    with pytest.raises(RefqValueError, match=argument):
        refq.cast(np.ones(3, np.float32), **keywords)
