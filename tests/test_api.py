"""The top-level functions: ``refq.quantize`` and the others, looked up lazily, each the chapter's own
function, each rejecting a bad argument with a refq error that names it."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import refq
from refq._jit import pure_python
from refq.errors import RefqError

ROOT = Path(__file__).resolve().parents[1]
F32 = np.float32


def defined(location: str) -> object:
    module_name, _, attribute = location.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


@pytest.mark.parametrize("name", sorted(refq.PUBLIC_API))
def test_public_name_is_the_chapter_function(name):
    assert getattr(refq, name) is defined(refq.PUBLIC_API[name])
    assert callable(getattr(refq, name))


def test_dir_lists_the_public_names():
    assert set(refq.PUBLIC_API) <= set(dir(refq))
    assert set(refq.PUBLIC_API) <= set(refq.__all__)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_function"):
        refq.no_such_function  # noqa: B018


def test_import_refq_loads_neither_numba_nor_numpy():
    """``import refq`` is cheap: the public functions are looked up lazily."""
    code = "import sys, refq; print(sorted(m for m in ('numba', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_looking_up_every_function_compiles_nothing():
    """Looking a function up imports its chapter (numpy), not numba: that waits for the first call."""
    code = ("import sys, refq\nfor name in refq.PUBLIC_API: getattr(refq, name)\n"
            "print('numba' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_requantize_is_callable_and_still_the_chapter():
    accumulator = np.array([100, -7, 2**20], np.int32)
    assert np.array_equal(refq.requantize(accumulator, F32(0.5), 3, dtype="int8"),
                          refq.requantize.requantize_float(accumulator, F32(0.5), 3, dtype="int8"))
    assert refq.requantize.fixed_point.__name__ == "refq.requantize.fixed_point"
    assert list(inspect.signature(refq.requantize).parameters)[:3] == ["accumulator", "multiplier", "zero_point"]


def test_quantize_keywords_as_numpy_users_pass_them():
    x = np.array([0.25, 0.75, -1.7], F32)
    assert refq.quantize(x, 0.5).tolist() == [0, 2, -3]  # zero point omitted: 0; int8; ties to even (onnx)
    assert refq.quantize(x, 0.5, 3, dtype="uint8", rounding="half_away_from_zero").tolist() == [4, 5, 0]
    blocked = refq.quantize(np.arange(6, dtype=F32), np.array([1, 2], F32), axis=0, block_size=3)
    assert blocked.tolist() == [0, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("to", ["float8_e4m3fn", "float8_e5m2", "bfloat16", "float16"])
@pytest.mark.parametrize("saturate", [False, True])
def test_cast_matches_ml_dtypes(to, saturate):
    """refq.cast against ml_dtypes' own conversion (round to nearest even), saturated by clipping first."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    target = np.dtype(getattr(ml_dtypes, to)) if to != "float16" else np.dtype(np.float16)
    rng = np.random.default_rng(13)
    x = np.concatenate([rng.standard_normal(2000).astype(F32) * F32(2) ** rng.integers(-30, 30, 2000).astype(F32),
                        np.array([0.0, -0.0, np.inf, -np.inf, 1e30, -1e30], F32)])
    finite_max = float(np.finfo(target).max) if to != "float16" else 65504.0
    source = np.clip(x, -finite_max, finite_max) if saturate else x
    with np.errstate(over="ignore"):  # float16's own overflow to infinity, which is what is compared
        expected = source.astype(target).view(np.uint8 if target.itemsize == 1 else np.uint16)
    got = refq.cast(x, to, saturate=saturate)
    if saturate:  # ONNX saturates finite values only; an infinity stays one where the format has it
        keep = np.isfinite(x) | (target.itemsize == 1 and to == "float8_e4m3fn")
        assert np.array_equal(got[keep], expected[keep])
    else:
        assert np.array_equal(got, expected)


E = "RefqValueError|RefqTypeError"
X = np.array([0.5, -1.0], F32)
I8 = np.array([[1, 2], [3, 4]], np.int8)
U8 = np.array([[1, 2], [3, 4]], np.uint8)
IMAGE = np.zeros((1, 1, 3, 3), np.uint8)
WEIGHTS = np.ones((1, 1, 2, 2), np.int8)
Z8, ZI8 = np.uint8(0), np.int8(0)

BAD_CALLS = [
    ("quantize", lambda: refq.quantize(X, -1.0), "scale"),
    ("quantize", lambda: refq.quantize("a", 1.0), "x"),
    ("quantize", lambda: refq.quantize(X, 1.0, dtype="int99"), "dtype"),
    ("quantize", lambda: refq.quantize(X, 1.0, axis=5), "axis"),
    ("quantize", lambda: refq.quantize(X, 1.0, axis=0, block_size=0), "block_size"),
    ("quantize", lambda: refq.quantize(X, 1.0, profile="nope"), "profile"),
    ("quantize", lambda: refq.quantize(X, 1.0, rounding="sideways"), "rounding"),
    ("quantize", lambda: refq.quantize(X, 1.0, colour="red"), "colour"),
    ("dequantize", lambda: refq.dequantize(np.array([1], np.int8), 0.0), "scale"),
    ("dequantize", lambda: refq.dequantize([1.5], 1.0), "q"),
    ("fake_quantize", lambda: refq.fake_quantize(X, 0.0), "scale"),
    ("cast", lambda: refq.cast(X, "float7"), "to"),
    ("cast", lambda: refq.cast(X, "float8_e4m3fn", float8_conversion="truncate"), "float8_conversion"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 1.0, to="int8"), "to"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 0.0), "scale"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 1.0, np.int8(0)), "zero_point"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 1.0, np.uint8(0x7F)), "zero_point"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 1.0, saturate="yes"), "saturate"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 1.0, float_zero_point="maybe"), "float_zero_point"),
    ("quantize_to_float", lambda: refq.quantize_to_float(X, 1.0, to="float4_e2m1fn", zero_point=np.uint8(0x10)),
     "zero_point"),
    ("dequantize_from_float", lambda: refq.dequantize_from_float(np.array([1], np.int8), 1.0), "q"),
    ("dequantize_from_float", lambda: refq.dequantize_from_float(np.array([0x10], np.uint8), 1.0,
                                                                 dtype="float4_e2m1fn"), "q"),
    ("dequantize_from_float", lambda: refq.dequantize_from_float(np.array([1], np.uint8), 1.0, np.uint8(0x38),
                                                                 float_dequantize_zero_point="refused"), "zero_point"),
    ("cast", lambda: refq.cast(X, 3), "to"),
    ("cast", lambda: refq.cast(X, "bfloat16", saturate="yes"), "saturate"),
    ("cast", lambda: refq.cast([1, 2], "bfloat16"), "x"),
    ("requantize", lambda: refq.requantize(np.array([1], np.int32), -1.0), "multiplier"),
    ("requantize", lambda: refq.requantize(np.array([1.5]), 0.5), "accumulator"),
    ("matmul_integer", lambda: refq.matmul_integer(I8.astype(F32), I8), "a"),
    ("matmul_integer", lambda: refq.matmul_integer(I8, np.ones((3, 2), np.int8)), "b"),
    ("matmul_integer", lambda: refq.matmul_integer(I8, I8, 500), "a_zero_point"),
    ("qlinear_matmul", lambda: refq.qlinear_matmul(U8, F32(0.1), Z8, I8, F32(0.1), ZI8, F32(-1), Z8), "y_scale"),
    ("conv_integer", lambda: refq.conv_integer(IMAGE, WEIGHTS, pads=[1]), "pads"),
    ("qlinear_conv", lambda: refq.qlinear_conv(IMAGE, F32(0.1), Z8, WEIGHTS, F32(0.1), ZI8, F32(0), Z8), "y_scale"),
    ("qparams_from_range", lambda: refq.qparams_from_range(1.0, 0.0, dtype="x"), "dtype"),
    ("observe_minmax", lambda: refq.observe_minmax(3), "batches"),
    ("observe_moving_average", lambda: refq.observe_moving_average([X], averaging_constant=2.0),
     "averaging_constant"),
    ("observe_histogram", lambda: refq.observe_histogram([X], bins=0), "bins"),
    ("calibrate_percentile", lambda: refq.calibrate_percentile([X], percentile=200), "percentile"),
    ("calibrate_entropy", lambda: refq.calibrate_entropy([X], num_bins=-1), "num_bins"),
    ("search_mse", lambda: refq.search_mse([X], candidates=0), "candidates"),
    ("dynamic_quantize_linear", lambda: refq.dynamic_quantize_linear(X, profile="nope"), "profile"),
    ("dynamic_quantize_linear", lambda: refq.dynamic_quantize_linear("abc"), "x"),
    ("qlinear_add", lambda: refq.qlinear_add(U8, F32(0.1), Z8, U8, F32(-0.1), Z8, F32(0.1), Z8), "B_scale"),
    ("qlinear_mul", lambda: refq.qlinear_mul(U8, F32(0.1), Z8, I8, F32(0.1), Z8, F32(0.1), Z8), "B"),
    ("qlinear_sigmoid", lambda: refq.qlinear_sigmoid(U8, F32(0), Z8, F32(0.1), Z8), "X_scale"),
    ("qlinear_leaky_relu", lambda: refq.qlinear_leaky_relu(U8, F32(0.1), Z8, F32(0.1), Z8, alpha="x"), "alpha"),
    ("qlinear_tanh", lambda: refq.qlinear_tanh(X, F32(0.1), Z8, F32(0.1), Z8), "X"),
    ("qlinear_global_average_pool", lambda: refq.qlinear_global_average_pool(U8, F32(0.1), Z8, F32(0.1), Z8), "X"),
    ("max_pool", lambda: refq.max_pool(IMAGE, kernel_shape=[0, 0]), "kernel_shape"),
    ("qlinear_average_pool", lambda: refq.qlinear_average_pool(IMAGE, F32(0.1), Z8, F32(0.1), Z8,
                                                               kernel_shape=[2, 2], auto_pad="X"), "auto_pad"),
    ("qlinear_concat", lambda: refq.qlinear_concat(F32(0.1), Z8, [], axis=0), "inputs"),
    ("qlinear_concat", lambda: refq.qlinear_concat(F32(0.1), Z8, [(U8, F32(0.1), Z8)], axis=9), "axis"),
    ("gguf_quantize", lambda: refq.gguf_quantize(np.ones(33, F32), type="Q4_0"), "x"),
    ("gguf_quantize", lambda: refq.gguf_quantize(np.ones(32, F32), type="Q4_2"), "type"),
    ("gguf_dequantize", lambda: refq.gguf_dequantize(np.zeros(35, np.uint8), type="Q8_0"), "blocks"),
    ("block_quantize", lambda: refq.block_quantize(np.ones(33, F32)), "block_size"),
    ("block_quantize", lambda: refq.block_quantize(np.ones(32, F32), format="int4"), "format"),
    ("block_dequantize", lambda: refq.block_dequantize(np.zeros(2, np.uint8), np.zeros(32, np.uint8)), "scales"),
    ("bnb4_quantize", lambda: refq.bnb4_quantize(np.ones(64, F32), quant_type="int4"), "quant_type"),
    ("bnb4_dequantize", lambda: refq.bnb4_dequantize(np.ones(2, F32), np.zeros(32, np.uint8)), "absmax"),
    ("nvfp4_quantize", lambda: refq.nvfp4_quantize(np.ones(24, F32)), "x"),
    ("nvfp4_dequantize", lambda: refq.nvfp4_dequantize(np.array(1.0, F32), np.zeros(2, np.uint8),
                                                       np.zeros(8, np.uint8)), "block_scales"),
    ("int4_group_quantize", lambda: refq.int4_group_quantize(np.ones(64, F32), group_size=0), "group_size"),
    ("int4_group_quantize", lambda: refq.int4_group_quantize(np.ones(64, F32), profile="hqq"), "symmetric"),
    ("int4_group_dequantize", lambda: refq.int4_group_dequantize(np.ones(1, F32), np.zeros(2, F32),
                                                                 np.zeros(32, np.int8), group_size=32), "zero_points"),
    ("pack_codes", lambda: refq.pack_codes(np.full(8, 16, np.uint8), bits=4), "codes"),
    ("pack_codes", lambda: refq.pack_codes(np.zeros(8, np.int8), bits=0), "bits"),
    ("pack_codes", lambda: refq.pack_codes(np.zeros(8, np.int16)), "codes"),
    ("pack_codes", lambda: refq.pack_codes(np.zeros(8, np.int8), profile="pytorch"), "profile"),
    ("unpack_codes", lambda: refq.unpack_codes(np.zeros(3, np.uint8), length=8), "packed"),
    ("unpack_codes", lambda: refq.unpack_codes(np.zeros(4, np.int32), length=8), "packed"),
    ("unpack_codes", lambda: refq.unpack_codes(np.zeros(4, np.uint8), length=0), "length"),
    ("unpack_codes", lambda: refq.unpack_codes(np.zeros(4, np.int32), signed=False, profile="compressed-tensors"),
     "signed"),
    ("unpack_codes", lambda: refq.unpack_codes(np.zeros(4, np.uint8), signed=True, profile="hqq"), "signed"),
]


@pytest.mark.parametrize("name, call, argument", BAD_CALLS, ids=[f"{n}-{a}" for n, _, a in BAD_CALLS])
def test_bad_argument_is_a_refq_error_naming_it(name, call, argument):
    with pure_python(), pytest.raises(RefqError, match=f"^{argument}: "):
        call()


def test_every_public_function_has_a_bad_argument_case():
    assert sorted(set(refq.PUBLIC_API) - {name for name, _, _ in BAD_CALLS}) == []
