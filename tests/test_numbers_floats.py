"""NUM-3: binary floating-point formats, checked against ml_dtypes, numpy, ONNX Runtime and an oracle.

Every pattern of every format of 16 bits or fewer is decoded, and every value,
every midpoint between neighbours and the overflow boundary are encoded, by
refq's scalar path, its Numba kernels, the independent oracle and a real backend.
binary32 gets a TestFloat-style table of patterns plus random ones (over 10^6
patterns per run); the exhaustive 2^32 check is marked slow.
"""

from __future__ import annotations

import bisect
import importlib.util
import math
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refq import RefqTypeError, RefqValueError
from refq._jit import pure_python
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
from refq.registry import FLOAT_FORMATS, float_format
from tests.oracle import floats as oracle

# Casting NaN, infinity and out-of-range values is what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")

# The signed formats with a zero; the scale formats (unsigned, or without zero: E8M0, UE4M3)
# have their own exhaustive tests in tests/test_numbers_floats_scale_formats.py.
SIGNED_FORMATS = [f for f in FLOAT_FORMATS if f.signed and f.has_zero]
SMALL_FORMATS = [f.name for f in SIGNED_FORMATS if f.total_bits <= 16]
TINY_FORMATS = [f.name for f in SIGNED_FORMATS if f.total_bits <= 8]
UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def backend_dtype(name: str) -> np.dtype:
    """The real backend's dtype: numpy's own for binary16/32, ml_dtypes' for the rest."""
    dtype_name = float_format(name).ml_dtypes_name
    return np.dtype(getattr(ml_dtypes, dtype_name, None) or dtype_name)


def all_patterns(name: str) -> np.ndarray:
    fmt = float_format(name)
    container = UINT[max(8, 1 << (fmt.total_bits - 1).bit_length())]
    return np.arange(1 << fmt.total_bits, dtype=np.uint64).astype(container)


def backend_patterns(values: np.ndarray, name: str) -> np.ndarray:
    """Cast ``values`` with the backend and return the pattern bits as uint64."""
    converted = values.astype(backend_dtype(name))
    return converted.view(UINT[converted.dtype.itemsize * 8]).astype(np.uint64)


def backend_source(values: np.ndarray, name: str) -> np.ndarray:
    """The inputs a backend converts with a single rounding, in the dtype to convert from.

    ml_dtypes converts float64 through float32 (a double rounding: ml_dtypes pull
    request 401), so ml_dtypes formats get the float32-exact inputs as float32;
    numpy's float64 -> float16 cast rounds once and takes every input.
    """
    if backend_dtype(name) == np.float16:
        return values
    exact = values.astype(np.float32).astype(np.float64)
    keep = (exact == values) | np.isnan(values)
    return values[keep].astype(np.float32)


def bits64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)


def encode_inputs(name: str) -> np.ndarray:
    """Every finite value, every midpoint, neighbours of midpoints, and the overflow area.

    Everything is exact in float64: a midpoint has one bit more than the format.
    The neighbours are taken both in float32 and in float64.
    """
    fmt = float_format(name)
    values = decode_array(all_patterns(name), name)
    positive = np.unique(values[np.isfinite(values) & (values >= 0)])
    midpoints = (positive[:-1] + positive[1:]) / 2
    top, spacing = positive[-1], positive[-1] - positive[-2]
    overflow_area = np.array([top + spacing / 2, top + spacing, top + 1.5 * spacing, 2 * top,
                              top * 2.0**20, 1e300, np.inf, float(min_subnormal(fmt)) / 2,
                              float(min_subnormal(fmt)) / 4, 1e-300, 5e-324])
    pieces = [positive, midpoints, overflow_area]
    for around in (midpoints, overflow_area[:3]):
        pieces += [np.nextafter(around, np.inf), np.nextafter(around, 0)]
        single = around.astype(np.float32)
        pieces += [np.nextafter(single, np.float32(np.inf)).astype(np.float64),
                   np.nextafter(single, np.float32(0)).astype(np.float64)]
    magnitudes = np.concatenate(pieces)
    return np.concatenate([magnitudes, -magnitudes])


# --- decode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL_FORMATS)
def test_decode_array(name):
    """Every pattern decodes to the backend's float64, bit for bit (NaNs by class and sign)."""
    patterns = all_patterns(name)
    ours = bits64(decode_array(patterns, name))
    theirs = bits64(patterns.view(backend_dtype(name)).astype(np.float64))
    our_nan = np.isnan(ours.view(np.float64))
    assert np.array_equal(our_nan, np.isnan(theirs.view(np.float64)))
    assert np.array_equal(ours[~our_nan], theirs[~our_nan])
    assert np.array_equal(ours[our_nan] >> np.uint64(63), theirs[our_nan] >> np.uint64(63))
    if name == "bfloat16":  # ml_dtypes widens bfloat16 NaNs like hardware: quiet, payload kept
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("name", SMALL_FORMATS)
def test_decode(name):
    """The scalar decode agrees with the oracle and with the kernel on every pattern."""
    patterns = all_patterns(name)
    kernel_values = decode_array(patterns, name)
    for pattern, kernel_value in zip(patterns.tolist(), kernel_values.tolist()):
        decoded = decode(pattern, name)
        kind, sign, value = oracle.decode(pattern, name)
        assert (decoded.kind, decoded.sign, decoded.value) == (kind, sign, value), hex(pattern)
        if value is not None:
            assert Fraction(kernel_value) == value
            assert math.copysign(1.0, kernel_value) == (-1.0 if sign else 1.0)
        elif kind == "infinity":
            assert kernel_value == (-math.inf if sign else math.inf)
        else:
            assert math.isnan(kernel_value)


def test_decode_fields():
    decoded = decode(0x7FC00001, "binary32")
    assert (decoded.sign, decoded.exponent, decoded.mantissa) == (0, 255, 0x400001)
    assert (decoded.kind, decoded.quiet, decoded.payload, decoded.value) == ("nan", True, 1, None)
    signalling = decode(0xFD01, "binary16")
    assert (signalling.sign, signalling.kind, signalling.quiet, signalling.payload) == (1, "nan", False, 0x101)
    assert decode(0x00000001).value == Fraction(1, 2**149)
    assert decode(0x3F800000).value == 1
    assert decode(0x80, "float8_e4m3fnuz").kind == "nan"
    assert decode(0x80, "float8_e4m3fn").kind == "zero"
    assert decode(0x7F, "float8_e4m3fn").kind == "nan"
    assert decode(0x7C, "float8_e5m2").kind == "infinity"
    assert decode(0x3F, "float6_e3m2fn").value == -28


# --- derived constants ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [f.name for f in SIGNED_FORMATS])
def test_constants(name):
    """max finite, min normal, min subnormal, epsilon against the oracle and ml_dtypes.finfo."""
    info = ml_dtypes.finfo(backend_dtype(name))
    assert max_finite(name) == oracle.DOCUMENTED_MAX[name] == Fraction(float(info.max))
    assert min_normal(name) == Fraction(float(info.smallest_normal))
    assert min_subnormal(name) == Fraction(float(info.smallest_subnormal))
    assert epsilon(name) == Fraction(float(info.eps))
    assert encode(max_finite(name), name) == oracle.largest_finite(name)


@pytest.mark.parametrize("name", ["binary16", "binary32"])
def test_ulp(name):
    """ulp equals numpy's spacing for every exponent (positive patterns, mantissa 0 and 1)."""
    fmt = float_format(name)
    dtype = backend_dtype(name)
    for exponent in range((1 << fmt.exponent_bits) - 1):
        for mantissa in (0, 1, (1 << fmt.mantissa_bits) - 2):
            pattern = (exponent << fmt.mantissa_bits) | mantissa
            value = np.array(pattern, dtype=UINT[fmt.total_bits]).view(dtype)
            assert ulp(pattern, name) == Fraction(float(np.spacing(value))), hex(pattern)
    with pytest.raises(RefqValueError, match="bits"):
        ulp(0x7F800000, "binary32")


@pytest.mark.parametrize("name", SMALL_FORMATS)
def test_next_up(name):
    """next_up/next_down step to the adjacent value among all the format's values (oracle)."""
    fmt = float_format(name)
    patterns = all_patterns(name).tolist()
    decoded = {p: oracle.decode(p, name) for p in patterns}

    def value_of(p):
        kind, sign, value = decoded[p]
        return (-math.inf if sign else math.inf) if kind == "infinity" else value

    ordered = sorted({value_of(p) for p in patterns if decoded[p][0] != "nan"})
    for p in patterns:
        up, down = next_up(p, name), next_down(p, name)
        if decoded[p][0] == "nan":
            assert up is None and down is None
            continue
        value = value_of(p)
        position = bisect.bisect_right(ordered, value)
        expect_up = ordered[position] if position < len(ordered) else (math.inf if fmt.has_infinity else None)
        position = bisect.bisect_left(ordered, value) - 1
        expect_down = ordered[position] if position >= 0 else (-math.inf if fmt.has_infinity else None)
        assert (None if up is None else value_of(up)) == expect_up, hex(p)
        assert (None if down is None else value_of(down)) == expect_down, hex(p)


@pytest.mark.parametrize("name", ["binary16", "binary32"])
def test_next_up_matches_nextafter(name):
    """next_up/next_down give numpy's nextafter bit for bit, signed zeros and infinities included."""
    fmt = float_format(name)
    dtype = backend_dtype(name)
    container = UINT[fmt.total_bits]
    if fmt.total_bits == 16:
        patterns = all_patterns(name)
    else:
        patterns = np.concatenate([binary32_patterns()[:60_000:3], np.array([0, 1, 0x80000000, 0x80000001,
                                   0x7F7FFFFF, 0x7F800000, 0xFF800000, 0xFF7FFFFF], dtype=np.uint32)])
    values = patterns.view(dtype)
    patterns = patterns[~np.isnan(values)]
    values = patterns.view(dtype)
    ups = np.nextafter(values, dtype.type(np.inf)).view(container).tolist()
    downs = np.nextafter(values, dtype.type(-np.inf)).view(container).tolist()
    assert [next_up(p, name) for p in patterns.tolist()] == ups
    assert [next_down(p, name) for p in patterns.tolist()] == downs


def test_next_up_ends():
    assert next_up(0x7E, "float8_e4m3fn") is None
    assert next_down(0xFE, "float8_e4m3fn") is None
    assert next_up(0x7B, "float8_e5m2") == 0x7C
    assert next_up(0x7C, "float8_e5m2") == 0x7C
    assert next_up(0xFC, "float8_e5m2") == 0xFB
    assert next_up(0x81, "float8_e4m3fnuz") == 0x00  # no -0: up from -min_subnormal is +0
    assert next_up(0x80000001, "binary32") == 0x80000000
    assert next_down(0x00000000, "binary32") == 0x80000001
    assert next_up(0x7FC00000, "binary32") is None


# --- encode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL_FORMATS)
def test_encode_array(name):
    """Values, midpoints and the overflow area encode like the backend's cast (non-saturating)."""
    values = encode_inputs(name)
    fmt = float_format(name)
    if fmt.has_nan:  # NaN into a format without NaN is an error in refq, unpredictable in ml_dtypes
        values = np.concatenate([values, [np.nan, -np.nan]])
    values = backend_source(values, name)
    with np.errstate(all="ignore"):
        theirs = backend_patterns(values, name)
    ours = encode_array(values, name, overflow="infinity").astype(np.uint64)
    mismatch = np.nonzero(ours != theirs)[0]
    assert mismatch.size == 0, [(values[i], hex(ours[i]), hex(theirs[i])) for i in mismatch[:5]]


@pytest.mark.parametrize("name", SMALL_FORMATS)
@pytest.mark.parametrize("overflow", ["infinity", "saturate"])
def test_encode(name, overflow):
    """The scalar Fraction path, the kernel and (on a subset) the oracle agree on every input."""
    values = encode_inputs(name)
    kernel = encode_array(values, name, overflow=overflow).tolist()
    # Every input for the small formats; for the 16-bit ones a quarter, and the oracle a sample.
    step, oracle_step = (1, 1) if float_format(name).total_bits <= 8 else (4, 92)
    for index, value in enumerate(values.tolist()):
        if index % step:
            continue
        ours = encode(value, name, overflow=overflow)
        assert ours == kernel[index], (value, hex(ours), hex(kernel[index]))
        if index % oracle_step == 0 and not math.isinf(value):
            expected = oracle.encode(math.copysign(1, value) < 0, abs(Fraction(value)), name, overflow)
            assert ours == expected, (value, hex(ours), hex(expected))


@pytest.mark.parametrize("name", [f.name for f in SIGNED_FORMATS])
@given(st.fractions(min_value=-10**6, max_value=10**6, max_denominator=10**12))
def test_encode_rational(name, value):
    """Rationals that no float holds (1/3, 1/10...) round like the oracle says."""
    for overflow in ("infinity", "saturate"):
        expected = oracle.encode(value < 0, abs(value), name, overflow)
        assert encode(value, name, overflow=overflow) == expected


def test_encode_overflow_boundary():
    """e4m3fn: (448, 464] rounds to 448, above 464 overflows; ties at 464 go to even 448."""
    assert encode(464, "float8_e4m3fn") == 0x7E
    assert encode(Fraction(464) + Fraction(1, 10**9), "float8_e4m3fn") == 0x7F
    assert encode(Fraction(464) + Fraction(1, 10**9), "float8_e4m3fn", overflow="saturate") == 0x7E
    assert encode(-500, "float8_e4m3fn") == 0xFF
    assert encode(248, "float8_e4m3fnuz") == 0x80  # the tie goes to even 256: overflow, NaN
    assert encode(61440, "float8_e5m2") == 0x7C  # tie to even 65536: infinity
    assert encode(61440, "float8_e5m2", overflow="saturate") == 0x7B
    assert encode(10**9, "float4_e2m1fn") == 0x7  # finite formats always saturate
    assert encode(float("inf"), "binary32", overflow="saturate") == 0x7F7FFFFF
    assert encode(float("-inf"), "binary32") == 0xFF800000
    assert encode(float("inf"), "float8_e4m3fn") == 0x7F
    assert encode(float("-inf"), "float6_e2m3fn") == 0x3F


def test_encode_signed_zero():
    assert encode(-0.0, "binary16") == 0x8000
    assert encode(Fraction(-1, 10**60), "bfloat16") == 0x8000
    assert encode(-1e-300, "float8_e4m3fnuz") == 0x00
    assert encode(-0.0, "float8_e5m2fnuz") == 0x00
    assert encode(0, "binary32") == 0
    # Half the smallest subnormal is a tie between 0 and it: even is 0.
    assert encode(min_subnormal("binary32") / 2, "binary32") == 0
    assert encode(min_subnormal("binary32") * 3 / 4, "binary32") == 1


def test_encode_nan():
    """NaN conversion: sign kept, payload's top bits kept, quiet bit set; numpy's cast agrees."""
    nans = np.array([0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FF4000000000000,
                     0x7FFC000000000000, 0xFFF0200000000000, 0x7FFFFFFFFFFFFFFF, 0x7FF8123456789ABC,
                     0xFFF0040000000000], dtype=np.uint64).view(np.float64)
    with np.errstate(all="ignore"):
        float32_bits = nans.astype(np.float32).view(np.uint32).tolist()
    assert encode_array(nans, "binary32").tolist() == float32_bits
    assert [encode(float(x), "binary32") for x in nans] == float32_bits
    # numpy's float16 cast keeps a signalling NaN signalling; compare the quiet inputs only.
    quiet = nans[(nans.view(np.uint64) >> np.uint64(51)) & np.uint64(1) == 1]
    assert encode_array(quiet, "binary16").tolist() == quiet.astype(np.float16).view(np.uint16).tolist()
    assert encode(float("nan"), "float8_e4m3fn") == 0x7F
    assert encode(-float("nan"), "float8_e4m3fn") == 0xFF
    assert encode(-float("nan"), "float8_e5m2fnuz") == 0x80
    assert encode(nans[5], "float8_e5m2") == 0xFE
    with pytest.raises(RefqValueError, match="value"):
        encode(float("nan"), "float4_e2m1fn")
    with pytest.raises(RefqValueError, match="x"):
        encode_array(np.array([1.0, np.nan]), "float6_e3m2fn")


def test_encode_scalar_types():
    """ints, Fractions, Python floats and numpy / ml_dtypes scalars all encode by exact value."""
    assert encode(1, "binary32") == 0x3F800000
    assert encode(np.int64(-3), "binary16") == 0xC200
    assert encode(Fraction(1, 3), "binary32") == 0x3EAAAAAB
    assert encode(np.float32(0.1), "binary32") == 0x3DCCCCCD
    assert encode(np.float64(0.1), "bfloat16") == 0x3DCD
    assert encode(ml_dtypes.bfloat16(1.5), "float8_e4m3fn") == 0x3C
    assert encode(10**400, "binary32", overflow="saturate") == 0x7F7FFFFF


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"])
def test_encode_saturate_onnxruntime(name):
    """overflow='saturate' matches ONNX Runtime's Cast(saturate=1) from float32, infinities included."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    element_type = {"float8_e4m3fn": TensorProto.FLOAT8E4M3FN, "float8_e5m2": TensorProto.FLOAT8E5M2,
                    "float8_e4m3fnuz": TensorProto.FLOAT8E4M3FNUZ,
                    "float8_e5m2fnuz": TensorProto.FLOAT8E5M2FNUZ}[name]
    nodes = [helper.make_node("Cast", ["x"], ["q"], to=element_type, saturate=1),
             helper.make_node("Cast", ["q"], ["y"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, "cast", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    values = encode_inputs(name).astype(np.float32)  # every input is exact in float32
    assert onnx is not None
    theirs = session.run(None, {"x": values})[0].astype(np.float64)
    ours = decode_array(encode_array(values, name, overflow="saturate"), name)
    assert np.array_equal(bits64(ours), bits64(theirs))


# --- binary32 -------------------------------------------------------------------------------


def significand_table(mantissa_bits: int) -> list[int]:
    """TestFloat-style significands: 0, 1, max, walking ones and zeros, runs from either end."""
    full = (1 << mantissa_bits) - 1
    table = {0, 1, full}
    for i in range(mantissa_bits):
        table.add(1 << i)
        table.add(full ^ (1 << i))
        table.add(full ^ ((1 << i) - 1))  # ones from the top
        table.add((1 << (i + 1)) - 1)  # ones from the bottom
    return sorted(table)


def binary32_patterns() -> np.ndarray:
    table = np.array(significand_table(23), dtype=np.uint32)
    exponents = np.arange(256, dtype=np.uint32) << np.uint32(23)
    structured = (exponents[:, None] | table[None, :]).ravel()
    structured = np.concatenate([structured, structured | np.uint32(0x80000000)])
    random = np.random.default_rng(2024).integers(0, 1 << 32, 1_000_000, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([structured, random])


def test_decode_array_binary32():
    """Over 10^6 binary32 patterns decode like numpy's float32 -> float64 cast, NaN payloads included."""
    patterns = binary32_patterns()
    assert patterns.size >= 1_000_000
    ours = bits64(decode_array(patterns, "binary32"))
    theirs = bits64(patterns.view(np.float32).astype(np.float64))
    assert np.array_equal(ours, theirs)


def test_encode_array_binary32():
    """Values, midpoints, their neighbours and random float64 patterns encode like numpy's cast."""
    patterns = binary32_patterns()
    values = patterns.view(np.float32).astype(np.float64)
    upper = np.nextafter(patterns.view(np.float32), np.float32(np.inf)).astype(np.float64)
    finite = np.isfinite(values) & np.isfinite(upper)
    midpoints = (values[finite] + upper[finite]) / 2
    random64 = np.random.default_rng(7).integers(0, 1 << 63, 500_000, dtype=np.int64)
    random64 = (random64.view(np.uint64) ^ (random64.view(np.uint64) << np.uint64(1))).view(np.float64)
    inputs = np.concatenate([values, midpoints, np.nextafter(midpoints, np.inf),
                             np.nextafter(midpoints, -np.inf), random64])
    with np.errstate(all="ignore"):
        theirs = inputs.astype(np.float32).view(np.uint32)
    ours = encode_array(inputs, "binary32")
    mismatch = np.nonzero(ours != theirs)[0]
    assert mismatch.size == 0, [(inputs[i], hex(ours[i]), hex(theirs[i])) for i in mismatch[:5]]
    # The scalar Fraction path and the oracle on a sample of the same inputs.
    for index in range(0, inputs.size, 997):
        value = float(inputs[index])
        assert encode(value, "binary32") == int(ours[index])
        if index % (997 * 5) == 0 and math.isfinite(value):
            assert oracle.encode(value < 0, abs(Fraction(value)), "binary32", "infinity") == int(ours[index])


def test_decode_binary32():
    """The scalar decode against struct / float.hex via numpy's view, on a sample."""
    patterns = binary32_patterns()[::97]
    floats = patterns.view(np.float32).astype(np.float64).tolist()
    for pattern, value in zip(patterns.tolist(), floats):
        decoded = decode(pattern, "binary32")
        kind, sign, exact = oracle.decode(pattern, "binary32")
        assert (decoded.kind, decoded.value) == (kind, exact)
        if exact is not None:
            assert float.fromhex(value.hex()) == value and Fraction(value) == exact


# --- JIT and interpreter --------------------------------------------------------------------


@pytest.mark.parametrize("name", [f.name for f in SIGNED_FORMATS])
def test_pure_python(name):
    """The kernels give the same bits compiled and interpreted."""
    fmt = float_format(name)
    rng = np.random.default_rng(11)
    patterns = rng.integers(0, 1 << fmt.total_bits, 300, dtype=np.uint64).astype(UINT[max(8, 1 << (
        fmt.total_bits - 1).bit_length())])
    values = np.concatenate([encode_inputs(name)[::17], [np.inf, -np.inf, 0.0, -0.0]]) if fmt.total_bits <= 16 \
        else rng.standard_normal(300) * 2.0 ** rng.integers(-160, 140, 300)
    if fmt.has_nan:
        values = np.concatenate([values, [np.nan, -np.nan]])
    compiled = (bits64(decode_array(patterns, name)),
                encode_array(values, name), encode_array(values, name, overflow="saturate"))
    with pure_python():
        interpreted = (bits64(decode_array(patterns, name)),
                       encode_array(values, name), encode_array(values, name, overflow="saturate"))
    for a, b in zip(compiled, interpreted):
        assert a.dtype == b.dtype and np.array_equal(a, b)


# --- bad input ------------------------------------------------------------------------------


def test_decode_unknown_format():
    with pytest.raises(RefqValueError, match="^format: .*binary32"):
        decode(0, "float7")


def test_decode_pattern_too_wide():
    with pytest.raises(RefqValueError, match="^bits: .*8-bit"):
        decode(0x100, "float8_e4m3fn")


def test_decode_negative_pattern():
    with pytest.raises(RefqValueError, match="^bits: "):
        decode(-1, "binary16")


def test_decode_pattern_not_int():
    with pytest.raises(RefqTypeError, match="^bits: "):
        decode(1.0, "binary16")


def test_encode_bad_overflow():
    with pytest.raises(RefqValueError, match="^overflow: .*saturate"):
        encode(1, "binary16", overflow="wrap")


def test_encode_not_a_number():
    with pytest.raises(RefqTypeError, match="^value: "):
        encode("1.5", "binary16")


def test_decode_array_bad_input():
    with pytest.raises(RefqValueError, match="^bits: "):
        decode_array(np.array([0, 64], dtype=np.uint8), "float6_e3m2fn")
    with pytest.raises(RefqTypeError, match="^bits: "):
        decode_array(np.array([1.0]), "binary16")


def test_encode_array_bad_input():
    with pytest.raises(RefqTypeError, match="^x: "):
        encode_array(np.array([1, 2]), "binary16")
    with pytest.raises(RefqValueError, match="^overflow: "):
        encode_array(np.array([1.0]), "binary16", overflow="clip")


# --- exhaustive binary32 (slow) -------------------------------------------------------------


@pytest.mark.slow
def test_decode_array_binary32_exhaustive():
    """All 2^32 binary32 patterns decode like numpy's cast (benchmarks/exhaustive_binary32.py)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "exhaustive_binary32.py"
    spec = importlib.util.spec_from_file_location("exhaustive_binary32", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mismatches, _ = module.check_all()
    assert mismatches == 0


# --- details --------------------------------------------------------------------------------


def test_bit_length():
    from refq.numbers.floats.arrays import bit_length

    numbers = [*range(600), *(2**k - 1 for k in range(1, 64)), *(2**k for k in range(63))]
    assert [bit_length(np.int64(n)) for n in numbers] == [n.bit_length() for n in numbers]
    with pure_python():
        assert [bit_length(np.int64(n)) for n in numbers] == [n.bit_length() for n in numbers]


def test_encode_double_rounding_example():
    """The spec's example: 1 + 2^-8 + 2^-40 is nearer 1 + 2^-7 than 1 (ml_dtypes, via float32, gives 1)."""
    value = 1 + 2.0**-8 + 2.0**-40
    assert encode(value, "bfloat16") == encode_array(np.array([value]), "bfloat16")[0] == 0x3F81
    assert oracle.encode(False, Fraction(value), "bfloat16", "infinity") == 0x3F81


def test_import_compiles_nothing():
    """Importing the floats module and the explain command imports no numba."""
    import subprocess
    import sys

    code = "import sys, refq.numbers.floats, refq.cli.explain; sys.exit('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1]).returncode == 0
