"""NUM-3.20: ONNX Runtime's float8 conversion, against ONNX Runtime's own ``Cast``.

ONNX Runtime (the real engine, through refq's ``onnxruntime`` backend) casts float32 to every float8
format, float16 and bfloat16 exactly as ``refq.cast`` with ``float8_conversion="onnxruntime_float8"``
says; under ``"nearest"`` (NUM-3.15) the two differ on the two windows of NUM-3.20 and nowhere else.
The default run checks every float32 in and around both windows and a million random patterns; the
slow run checks every float32 into each float8 format.
"""

from __future__ import annotations

import numpy as np
import pytest

import refq
from refq.backends.onnx_cast_model import CAST_TARGETS, READ_AS
from refq.errors import RefqError
from refq.numbers.floats import decode_array
from refq.numbers.floats.cast import ONNXRUNTIME_OVERFLOW_WINDOWS
from refq.registry import float_format

#: The float8 element formats (E8M0, a scale format with its own rules, is tests/test_numbers_floats_e8m0.py's).
FLOAT8 = tuple(name for name in CAST_TARGETS if name.startswith("float8") and name != "float8_e8m0fnu")
#: The targets of NUM-3.20's rounding: every one but E8M0.
ELEMENT_TARGETS = tuple(name for name in CAST_TARGETS if name != "float8_e8m0fnu")


@pytest.fixture(scope="module")
def onnxruntime():
    from refq.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend()


def every_float32_between(low: float, high: float) -> np.ndarray:
    """Every float32 of [low, high) and its negation."""
    patterns = np.arange(np.float32(low).view(np.int32), np.float32(high).view(np.int32), dtype=np.int32)
    positive = patterns.view(np.float32)
    return np.concatenate([positive, -positive])


def random_patterns(count: int, seed: int) -> np.ndarray:
    bits = np.random.default_rng(seed).integers(0, 1 << 32, count, dtype=np.uint64).astype(np.uint32)
    return bits.view(np.float32)


def not_nan_input(x: np.ndarray) -> np.ndarray:
    # ONNX leaves a NaN input's NaN pattern open (NUM-3.17; unpredictable in the vectors).
    return ~np.isnan(x)


@pytest.mark.parametrize("to", FLOAT8)
def test_the_read_back_cast_keeps_every_pattern(to):
    """The backend reads float8 results through a second Cast to float16: every non-NaN pattern survives it
    (ONNX Runtime's own float8 -> float16 conversion on all 256 patterns, as an initializer)."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from refq.backends.onnx_cast_model import IR_VERSION, OPSET, read_patterns

    import ml_dtypes

    patterns = np.arange(256, dtype=np.uint8)
    codes = numpy_helper.from_array(patterns.view(getattr(ml_dtypes, float_format(to).ml_dtypes_name)), "codes")
    graph = helper.make_graph([helper.make_node("Cast", ["codes"], ["y"], to=getattr(TensorProto, READ_AS[to]))],
                              "read_back", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
                              initializer=[codes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    (halves,) = onnxruntime.InferenceSession(model.SerializeToString(),
                                            providers=["CPUExecutionProvider"]).run(None, {})
    values = decode_array(patterns, to)
    assert np.array_equal(halves.astype(np.float64)[~np.isnan(values)], values[~np.isnan(values)])
    back = read_patterns(halves, to)
    assert np.array_equal(back[~np.isnan(values)], patterns[~np.isnan(values)])
    assert np.isnan(decode_array(back[np.isnan(values)], to)).all()


@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("to", list(ELEMENT_TARGETS))
def test_onnxruntime_cast_is_num_3_20(onnxruntime, to, saturate):
    """Every float32 of [440, 520) and [57000, 66000) (both windows, the overflow thresholds and beyond) and
    2^18 random patterns, through ONNX Runtime's Cast: equal to refq's ``onnxruntime_float8`` on every
    non-NaN input; refq's ``nearest`` differs exactly on the inputs of the format's window."""
    if saturate and not to.startswith("float8"):
        with pytest.raises(NotImplementedError, match="saturate"):
            onnxruntime.cast(np.zeros(1, np.float32), to=to, saturate=True)
        return
    x = np.concatenate([every_float32_between(440, 520), every_float32_between(57000, 66000),
                        random_patterns(1 << 18, seed=3120), np.array([0.0, -0.0, np.inf, -np.inf], np.float32)])
    got = onnxruntime.cast(x, to=to, saturate=saturate)
    keep = not_nan_input(x)
    expected = refq.cast(x, to, saturate=saturate, float8_conversion="onnxruntime_float8")
    assert got.dtype == expected.dtype
    assert np.array_equal(got[keep], expected[keep])
    nearest = refq.cast(x, to, saturate=saturate)
    window = ONNXRUNTIME_OVERFLOW_WINDOWS.get(to)
    inside = np.zeros(x.shape, bool)
    if window is not None and not saturate:
        low, high, _ = window
        inside = (np.abs(x) >= low) & (np.abs(x) < high)
        assert inside.sum() > 0
    assert np.array_equal(nearest[keep] != expected[keep], inside[keep])


@pytest.mark.parametrize(("to", "value", "onnxruntime_pattern", "nearest_pattern"), [
    ("float8_e4m3fn", 464.0, 0x7E, 0x7E),  # the tie rounds down to 448 (even): no overflow either way
    ("float8_e4m3fn", 470.0, 0x7F, 0x7F),  # rounds up from 448: NaN under both
    ("float8_e4m3fn", 480.0, 0x7E, 0x7F),
    ("float8_e4m3fn", np.nextafter(np.float32(496), np.float32(0)), 0x7E, 0x7F),
    ("float8_e4m3fn", 496.0, 0x7F, 0x7F),
    ("float8_e4m3fn", -484.0, 0xFE, 0xFF),
    ("float8_e5m2", np.nextafter(np.float32(61440), np.float32(0)), 0x7B, 0x7B),
    ("float8_e5m2", 61440.0, 0x7E, 0x7C),  # the tie: 57344's mantissa is odd, so it goes up
    ("float8_e5m2", -65535.0, 0xFE, 0xFC),
    ("float8_e5m2", 65536.0, 0x7C, 0x7C),
])
def test_the_windows_edges(to, value, onnxruntime_pattern, nearest_pattern):
    x = np.array([value], np.float32)
    assert refq.cast(x, to, float8_conversion="onnxruntime_float8")[0] == onnxruntime_pattern
    assert refq.cast(x, to)[0] == nearest_pattern
    assert refq.cast(x, to, saturate=True, float8_conversion="onnxruntime_float8")[0] == \
        refq.cast(x, to, saturate=True)[0]


def test_the_profiles_float8_conversion():
    from refq.backends.reference import cast

    x = np.array([480.0, 61440.0], np.float32)
    assert cast(x, to="float8_e4m3fn", profile="onnxruntime")[0][0] == 0x7E
    assert cast(x, to="float8_e4m3fn", profile="onnx")[0][0] == 0x7F
    assert cast(x, to="float8_e5m2", profile="onnxruntime")[0][1] == 0x7E
    assert cast(x, to="float8_e5m2", profile="pytorch")[0][1] == 0x7C  # a profile naming no cast value: NUM-3
    assert cast(x, to="float8_e4m3fn", profile="onnx", float8_conversion="onnxruntime_float8")[0][0] == 0x7E


def test_bad_float8_conversion_is_named():
    with pytest.raises(RefqError, match="float8_conversion"):
        refq.cast(np.zeros(2, np.float32), "float8_e4m3fn", float8_conversion="truncate")


@pytest.mark.slow
@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("to", FLOAT8)
def test_every_float32(onnxruntime, to, saturate):
    """All 2^32 float32 patterns through ONNX Runtime's Cast, in chunks of 2^24 (about 2 min per case)."""
    chunk = 1 << 24
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        keep = not_nan_input(x)
        got = onnxruntime.cast(x, to=to, saturate=saturate)
        expected = refq.cast(x, to, saturate=saturate, float8_conversion="onnxruntime_float8")
        assert np.array_equal(got[keep], expected[keep]), hex(start)
