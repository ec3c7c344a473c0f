"""NUM-1: integers — ranges, two's complement, wrap/saturate, packing.

Checked against the bit-list oracle in tests/oracle/integers.py and against real
two's-complement machines: numpy's fixed-width integers, ml_dtypes' int2/int4, and
ONNX's own packing of INT4/UINT4/INT2/UINT2 tensors.
"""

from __future__ import annotations

import itertools

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import numpy_helper

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.numbers.integers import (
    from_twos_complement,
    int_encodings_table,
    integer_range,
    pack,
    packed_size,
    saturate,
    saturate_array,
    sign_extend,
    sign_magnitude_value,
    storage_dtype,
    to_twos_complement,
    unpack,
    wrap,
    wrap_array,
)
from refq.registry import IntegerFormat
from tests.oracle import integers as oracle

WIDTHS = range(1, 65)
FORMATS = [IntegerFormat(bits, signed) for bits in WIDTHS for signed in (True, False)]
SMALL_WIDTHS = range(1, 13)  # exhaustive over every pattern: 2^13 - 2 patterns in all


def _name(format: IntegerFormat) -> str:
    return format.name


# --- NUM-1.2 and NUM-1.3: ranges and storage -------------------------------------------


@pytest.mark.parametrize("format", FORMATS, ids=_name)
def test_integer_range(format):
    assert integer_range(format) == oracle.value_range(format.bits, format.signed)
    assert integer_range(format.name) == integer_range(format)
    if format.bits > 1:
        lowest, highest = oracle.value_range(format.bits, format.signed)
        assert integer_range(format, narrow=True) == (lowest + 1, highest)


def test_integer_range_narrow_is_symmetric():
    assert integer_range("int8", narrow=True) == (-127, 127)
    assert integer_range("int4", narrow=True) == (-7, 7)
    # Unsigned: [1, 255] is symmetric about the zero point 128 (TensorFlow's narrow_range).
    assert integer_range("uint8", narrow=True) == (1, 255)
    assert integer_range("int1") == (-1, 0)


@pytest.mark.parametrize("format", FORMATS, ids=_name)
def test_storage_dtype(format):
    dtype = storage_dtype(format)
    info = np.iinfo(dtype)
    lowest, highest = integer_range(format)
    assert info.min <= lowest and highest <= info.max
    assert (info.min < 0) == format.signed
    assert dtype.itemsize * 8 < 2 * format.bits or dtype.itemsize == 1  # the smallest that fits


@pytest.mark.parametrize("name", ["int2", "uint2", "int4", "uint4"])
def test_integer_range_matches_ml_dtypes(name):
    info = ml_dtypes.iinfo(getattr(ml_dtypes, name))
    assert integer_range(name) == (int(info.min), int(info.max))


# --- NUM-1.4 to NUM-1.6: two's complement ---------------------------------------------


@pytest.mark.parametrize("bits", SMALL_WIDTHS)
def test_from_twos_complement(bits):
    for pattern in range(2**bits):
        assert from_twos_complement(pattern, bits) == oracle.twos_complement_value(pattern, bits)


@given(st.integers(1, 64).flatmap(lambda bits: st.tuples(st.just(bits), st.integers(0, 2**bits - 1))))
def test_from_twos_complement_wide(bits_and_pattern):
    bits, pattern = bits_and_pattern
    assert from_twos_complement(pattern, bits) == oracle.twos_complement_value(pattern, bits)


@pytest.mark.parametrize("bits", [8, 16, 32, 64])
def test_from_twos_complement_matches_numpy(bits):
    # numpy reinterprets an unsigned pattern as its signed type: the machine's two's complement.
    rng = np.random.default_rng(bits)
    patterns = rng.integers(0, 2**bits, size=2000, dtype=np.uint64, endpoint=False).astype(f"uint{bits}")
    patterns[:4] = [0, 1, 2 ** (bits - 1), 2**bits - 1]
    signed = patterns.view(f"int{bits}")
    for pattern, value in zip(patterns.tolist(), signed.tolist()):
        assert from_twos_complement(pattern, bits) == value


@pytest.mark.parametrize("name", ["int2", "int4"])
def test_from_twos_complement_matches_ml_dtypes(name):
    bits = int(name[3:])
    for pattern in range(2**bits):
        value = from_twos_complement(pattern, bits)
        assert int(np.array(value, dtype=getattr(ml_dtypes, name))) == value


@pytest.mark.parametrize("bits", SMALL_WIDTHS)
def test_to_twos_complement(bits):
    lowest, highest = oracle.value_range(bits, True)
    for value in range(lowest, highest + 1):
        pattern = to_twos_complement(value, bits)
        assert pattern == oracle.encode_twos_complement(value, bits)
        assert from_twos_complement(pattern, bits) == value


@given(st.integers(1, 64).flatmap(lambda bits: st.tuples(st.just(bits), st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))))
def test_to_twos_complement_wide(bits_and_value):
    bits, value = bits_and_value
    assert to_twos_complement(value, bits) == oracle.encode_twos_complement(value, bits)


def test_sign_extend():
    for from_bits in range(1, 9):
        for to_bits in range(from_bits, 11):
            for pattern in range(2**from_bits):
                extended = sign_extend(pattern, from_bits, to_bits)
                assert 0 <= extended < 2**to_bits
                assert oracle.twos_complement_value(extended, to_bits) == oracle.twos_complement_value(pattern, from_bits)


def test_sign_extend_matches_numpy():
    # int8 -> int64 conversion is sign extension; compare the resulting bit patterns.
    patterns = np.arange(256, dtype=np.uint8)
    widened = patterns.view(np.int8).astype(np.int64).view(np.uint64)
    for pattern, expected in zip(patterns.tolist(), widened.tolist()):
        assert sign_extend(pattern, 8, 64) == expected


def test_sign_magnitude_value():
    for bits in SMALL_WIDTHS:
        for pattern in range(2**bits):
            assert sign_magnitude_value(pattern, bits) == oracle.sign_magnitude_value(pattern, bits)
    # The readings agree on the patterns whose top bit is 0, and of the others only on 1100.
    agree = [p for p in range(16) if sign_magnitude_value(p, 4) == from_twos_complement(p, 4)]
    assert agree == [*range(8), 0b1100]


def test_int_encodings_table():
    table = int_encodings_table(4)
    rows = table.strip().splitlines()[2:]
    assert len(rows) == 16
    assert rows[0] == "| `0000` | 0 | 0 | 0 |"
    assert rows[8] == "| `1000` | 8 | −0 | −8 |"
    assert rows[15] == "| `1111` | 15 | −7 | −1 |"


# --- NUM-1.7 and NUM-1.8: wrap and saturate --------------------------------------------

_WIDE_INTEGERS = st.integers(-(2**70), 2**70)


@given(st.sampled_from(FORMATS), _WIDE_INTEGERS)
def test_wrap(format, value):
    assert wrap(value, format) == oracle.wrap(value, format.bits, format.signed)


@given(st.sampled_from(FORMATS), _WIDE_INTEGERS, st.booleans())
def test_saturate(format, value, narrow):
    if narrow and format.bits == 1:
        return
    assert saturate(value, format, narrow=narrow) == oracle.saturate(value, format.bits, format.signed, narrow)


def test_wrap_examples():
    assert wrap(200, "int8") == -56
    assert saturate(200, "int8") == 127
    assert wrap(-1, "uint4") == 15
    assert saturate(-1, "uint4") == 0
    assert wrap(2**64 + 5, "uint64") == 5


@pytest.mark.parametrize("target", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "uint64"])
def test_wrap_matches_numpy_astype(target):
    # numpy's integer-to-integer astype is a C cast: modular reduction.
    rng = np.random.default_rng(7)
    values = rng.integers(-(2**63), 2**63 - 1, size=5000, dtype=np.int64, endpoint=True)
    values[:6] = [-(2**63), 2**63 - 1, -1, 0, 255, 256]
    assert np.array_equal(wrap_array(values, target), values.astype(target))
    expected = [wrap(v, target) for v in values.tolist()]
    assert values.astype(target).tolist() == expected


def _integer_arrays():
    rng = np.random.default_rng(2024)
    edges = [-(2**63), -(2**63) + 1, -(2**31) - 1, -129, -128, -1, 0, 1, 127, 128, 255, 256, 2**31, 2**63 - 1]
    yield np.array(edges + rng.integers(-(2**63), 2**63 - 1, 400, endpoint=True).tolist(), dtype=np.int64)
    yield np.array([0, 1, 2**63, 2**64 - 1] + rng.integers(0, 2**64 - 1, 400, dtype=np.uint64, endpoint=True).tolist(), dtype=np.uint64)
    yield np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    yield np.arange(0, 65536, 97, dtype=np.uint16)


def _float_arrays(with_infinity):
    for dtype in (np.float32, np.float64):
        values = [0.0, -0.0, 1.0, -1.0, 127.0, 128.0, -129.0, 255.0, 256.0, 2.0**31, -(2.0**31),
                  2.0**63, -(2.0**63), 2.0**64, 2.0**70, -(2.0**70), 3.0e38, -3.0e38,
                  9223371487098961920.0, 18446742974197923840.0]
        rng = np.random.default_rng(3)
        values += np.trunc(rng.normal(0, 1e6, 200)).tolist() + np.ldexp(rng.integers(1, 2**20, 200), rng.integers(0, 100, 200)).tolist()
        if with_infinity:
            values += [np.inf, -np.inf]
        yield np.array(values, dtype=dtype)


def _float_to_int(x: float) -> int:
    return int(x)  # exact for any finite integral float


@pytest.mark.parametrize("format", FORMATS[::3] + [IntegerFormat(64, True), IntegerFormat(64, False)], ids=_name)
def test_wrap_array(format):
    for values in _integer_arrays():
        result = wrap_array(values, format)
        assert result.dtype == storage_dtype(format) and result.shape == values.shape
        assert result.ravel().tolist() == [wrap(v, format) for v in values.ravel().tolist()]
    for values in _float_arrays(with_infinity=False):
        result = wrap_array(values, format)
        assert result.tolist() == [wrap(_float_to_int(v), format) for v in values.tolist()]


@pytest.mark.parametrize("format", FORMATS[::3] + [IntegerFormat(64, True), IntegerFormat(64, False)], ids=_name)
def test_saturate_array(format):
    narrow_options = (False,) if format.bits == 1 else (False, True)
    for narrow in narrow_options:
        lowest, highest = integer_range(format, narrow=narrow)
        for values in _integer_arrays():
            result = saturate_array(values, format, narrow=narrow)
            assert result.dtype == storage_dtype(format) and result.shape == values.shape
            assert result.ravel().tolist() == [saturate(v, format, narrow=narrow) for v in values.ravel().tolist()]
        for values in _float_arrays(with_infinity=True):
            expected = [lowest if v == -np.inf else highest if v == np.inf else saturate(_float_to_int(v), format, narrow=narrow)
                        for v in values.tolist()]
            assert saturate_array(values, format, narrow=narrow).tolist() == expected


def test_wrap_and_saturate_arrays_pure_python():
    values = next(_integer_arrays())[:120]
    floats = next(_float_arrays(with_infinity=True))
    for format in ("int4", "uint8", "int64", "uint64", "int33"):
        jit = (wrap_array(values, format), saturate_array(values, format), saturate_array(floats, format),
               wrap_array(floats[np.isfinite(floats)], format))
        with pure_python():
            interpreted = (wrap_array(values, format), saturate_array(values, format), saturate_array(floats, format),
                           wrap_array(floats[np.isfinite(floats)], format))
        for compiled_result, python_result in zip(jit, interpreted):
            assert compiled_result.dtype == python_result.dtype
            assert np.array_equal(compiled_result, python_result)


# --- NUM-1.9 and NUM-1.10: packing -----------------------------------------------------

PACKED_FORMATS = [IntegerFormat(bits, signed) for bits in (1, 2, 4) for signed in (True, False)]


@pytest.mark.parametrize("format", PACKED_FORMATS, ids=_name)
def test_pack(format):
    lowest, highest = integer_range(format)
    every = list(range(lowest, highest + 1))
    rng = np.random.default_rng(format.bits)
    for count in list(range(0, 19)) + [1001]:
        values = (every * (count // len(every) + 1))[:count] if count < 100 else rng.integers(lowest, highest + 1, count).tolist()
        array = np.array(values, dtype=storage_dtype(format))
        packed = pack(array, format)
        assert packed.dtype == np.uint8 and packed.size == packed_size(count, format.bits)
        assert packed.tolist() == oracle.pack(values, format.bits, format.signed)
        assert unpack(packed, format, count).tolist() == values


@pytest.mark.parametrize("format", PACKED_FORMATS, ids=_name)
def test_unpack(format):
    # Every byte value, including nonzero padding bits, read back as the oracle reads it.
    every_byte = np.arange(256, dtype=np.uint8)
    per_byte = 8 // format.bits
    for count in (256 * per_byte, 256 * per_byte - 1):
        result = unpack(every_byte, format, count)
        assert result.dtype == storage_dtype(format)
        assert result.tolist() == oracle.unpack(every_byte.tolist(), format.bits, format.signed, count)


@pytest.mark.parametrize("name", ["int4", "uint4", "int2", "uint2"])
def test_pack_matches_onnx(name):
    format = IntegerFormat(int(name[-1]), not name.startswith("u"))
    lowest, highest = integer_range(format)
    rng = np.random.default_rng(11)
    for count in (1, 2, 3, 4, 5, 7, 8, 33, 1000):
        values = rng.integers(lowest, highest + 1, count)
        tensor = numpy_helper.from_array(values.astype(getattr(ml_dtypes, name)))
        assert pack(values, format).tobytes() == tensor.raw_data
        onnx_values = numpy_helper.to_array(tensor).astype(np.int64)
        assert unpack(np.frombuffer(tensor.raw_data, np.uint8), format, count).tolist() == onnx_values.tolist()


def test_pack_matches_numpy_packbits():
    rng = np.random.default_rng(5)
    for count in (1, 7, 8, 9, 100):
        bits = rng.integers(0, 2, count).astype(np.uint8)
        assert np.array_equal(pack(bits, "uint1"), np.packbits(bits, bitorder="little"))
        # int1: the one-bit pattern of -1 is 1.
        assert np.array_equal(pack(-bits.astype(np.int8), "int1"), np.packbits(bits, bitorder="little"))


def test_pack_example_byte():
    # int4 [1, -2]: 1 in the low nibble, -2 (pattern 1110) in the high nibble: 0b1110_0001.
    assert pack(np.array([1, -2], dtype=np.int8), "int4").tolist() == [0b11100001]
    assert pack(np.array([1, -2, 3], dtype=np.int8), "int4").tolist() == [0xE1, 0x03]


def test_pack_pure_python():
    for format in PACKED_FORMATS:
        lowest, highest = integer_range(format)
        values = np.array(list(itertools.islice(itertools.cycle(range(lowest, highest + 1)), 37)), dtype=np.int8)
        compiled_packed = pack(values, format)
        compiled_unpacked = unpack(compiled_packed, format, 37)
        with pure_python():
            assert np.array_equal(pack(values, format), compiled_packed)
            assert np.array_equal(unpack(compiled_packed, format, 37), compiled_unpacked)


# --- Bad input: each public function refuses it, naming the argument -------------------


def _raises(error, argument, function, *args, **kwargs):
    with pytest.raises(error) as raised:
        function(*args, **kwargs)
    assert str(raised.value).startswith(f"{argument}:"), str(raised.value)


def test_integer_range_rejects_bad_input():
    _raises(RefqValueError, "format", integer_range, "int65")
    _raises(RefqValueError, "format", integer_range, "int0")
    _raises(RefqTypeError, "format", integer_range, 8)
    _raises(RefqValueError, "narrow", integer_range, "int1", narrow=True)
    _raises(RefqValueError, "narrow", integer_range, "uint1", narrow=True)
    _raises(RefqTypeError, "narrow", integer_range, "int8", narrow=1)


def test_storage_dtype_rejects_bad_input():
    _raises(RefqValueError, "format", storage_dtype, "float8")


def test_from_twos_complement_rejects_bad_input():
    _raises(RefqValueError, "bits", from_twos_complement, 0, 0)
    _raises(RefqValueError, "bits", from_twos_complement, 0, 65)
    _raises(RefqTypeError, "bits", from_twos_complement, 0, 8.0)
    _raises(RefqValueError, "pattern", from_twos_complement, 256, 8)
    _raises(RefqValueError, "pattern", from_twos_complement, -1, 8)
    _raises(RefqTypeError, "pattern", from_twos_complement, 1.0, 8)
    _raises(RefqTypeError, "pattern", from_twos_complement, True, 8)


def test_to_twos_complement_rejects_bad_input():
    _raises(RefqValueError, "value", to_twos_complement, 128, 8)
    _raises(RefqValueError, "value", to_twos_complement, -129, 8)
    _raises(RefqValueError, "value", to_twos_complement, 1, 1)
    _raises(RefqTypeError, "value", to_twos_complement, 1.5, 8)
    _raises(RefqValueError, "bits", to_twos_complement, 0, 100)


def test_sign_extend_rejects_bad_input():
    _raises(RefqValueError, "to_bits", sign_extend, 1, 8, 4)
    _raises(RefqValueError, "from_bits", sign_extend, 1, 0, 4)
    _raises(RefqValueError, "pattern", sign_extend, 16, 4, 8)


def test_sign_magnitude_value_rejects_bad_input():
    _raises(RefqValueError, "pattern", sign_magnitude_value, 16, 4)
    _raises(RefqValueError, "bits", sign_magnitude_value, 0, 65)


def test_wrap_and_saturate_reject_bad_input():
    _raises(RefqTypeError, "value", wrap, 1.0, "int8")
    _raises(RefqTypeError, "value", saturate, 1.0, "int8")
    _raises(RefqValueError, "format", wrap, 1, "int128")
    _raises(RefqValueError, "format", saturate, 1, "uint0")


def test_wrap_and_saturate_arrays_reject_bad_input():
    _raises(RefqTypeError, "values", wrap_array, [1, 2], "int8")
    _raises(RefqTypeError, "values", saturate_array, np.array([True]), "int8")
    _raises(RefqTypeError, "values", saturate_array, np.array([1.0], np.float16), "int8")
    _raises(RefqValueError, "values", saturate_array, np.array([np.nan]), "int8")
    _raises(RefqValueError, "values", saturate_array, np.array([0.5]), "int8")
    _raises(RefqValueError, "values", wrap_array, np.array([np.inf]), "int8")
    _raises(RefqValueError, "narrow", saturate_array, np.array([1]), "int1", narrow=True)


def test_pack_rejects_bad_input():
    _raises(RefqValueError, "format", pack, np.array([1], np.int8), "int8")
    _raises(RefqValueError, "format", pack, np.array([1], np.int8), "int3")
    _raises(RefqValueError, "values", pack, np.array([8], np.int8), "int4")
    _raises(RefqValueError, "values", pack, np.array([-1], np.int8), "uint4")
    _raises(RefqTypeError, "values", pack, np.array([1.0]), "int4")
    _raises(RefqTypeError, "values", pack, [1, 2], "int4")


def test_unpack_rejects_bad_input():
    _raises(RefqTypeError, "packed", unpack, np.array([1], np.int8), "int4", 2)
    _raises(RefqTypeError, "packed", unpack, b"\x01", "int4", 2)
    _raises(RefqValueError, "packed", unpack, np.array([1], np.uint8), "int4", 3)
    _raises(RefqValueError, "packed", unpack, np.array([1, 2], np.uint8), "int4", 2)
    _raises(RefqValueError, "count", unpack, np.array([], np.uint8), "int4", -1)
    _raises(RefqTypeError, "count", unpack, np.array([1], np.uint8), "int4", 2.0)
    _raises(RefqValueError, "format", unpack, np.array([1], np.uint8), "uint8", 1)


def test_int_encodings_table_rejects_bad_input():
    _raises(RefqValueError, "bits", int_encodings_table, 9)
    _raises(RefqTypeError, "bits", int_encodings_table, "4")
