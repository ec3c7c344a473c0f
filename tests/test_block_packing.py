"""BLK-10, code packing: refq's pack_codes and unpack_codes against the oracle (tests/oracle/packing.py) under
every combination of the four variants' values, at every width from 1 to 8 bits and at row lengths that put a
field at every offset of a unit; the compiled kernels against the pure-Python path; round trips; that every
pair of values of each variant gives different units on some input; the real engines (compressed-tensors, HQQ,
torchao, onnx) through their adapters on every width they pack, and the engine behaviours the spec names; bad
input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refq._jit import pure_python
from refq.block.packing import code_range, pack_codes, unpack_codes
from refq.errors import RefqError, RefqTypeError, RefqValueError
from refq.registry.profiles import PACKING_PROFILES
from refq.registry.variants import VARIANTS
from tests.oracle import packing as oracle

VALUES = {variant.name: tuple(value.name for value in variant.values) for variant in VARIANTS
          if variant.operation == "block_packing"}
LAYOUTS = [dict(zip(VALUES, combination)) for combination in itertools.product(*VALUES.values())]
#: Row lengths: 1 to 17 put a field at every offset of a byte, and with 31 to 33 and 65 every offset of a word
#: for widths that do not divide 32; 40 is a multiple of every plane count.
LENGTHS = (*range(1, 18), 31, 32, 33, 40, 65)
#: The leading shape of the pack inputs (three rows) and the base profile the overrides replace.
ROWS = 3
BASE = "onnx"


def layout_id(layout: dict) -> str:
    return "-".join(layout.values())


def random_codes(bits: int, field: str, shape, rng: np.random.Generator) -> np.ndarray:
    low, high = code_range(bits, field)
    if field == "modular":  # signed and unsigned codes both, in arrays of their own dtype
        low, high = (low, (1 << (bits - 1)) - 1) if rng.random() < 0.5 else (0, high)
    return rng.integers(low, high + 1, shape).astype(np.int8 if low < 0 else np.uint8)


def oracle_pack(codes: np.ndarray, bits: int, layout: dict) -> np.ndarray:
    width = oracle.unit_bits(bits, layout["code_unit"])
    streams = [codes.reshape(-1)] if layout["code_extent"] == "tensor" else codes.reshape(-1, codes.shape[-1])
    units = [[oracle.signed_unit(value, width)
              for value in oracle.stream_units([oracle.field(int(c), bits, layout["code_field"]) for c in stream],
                                               bits, width, layout["code_order"])] for stream in streams]
    array = np.array(units, np.uint8 if width == 8 else np.int32)
    return array.reshape(-1) if layout["code_extent"] == "tensor" else array.reshape(*codes.shape[:-1], -1)


@pytest.mark.parametrize("layout", LAYOUTS, ids=layout_id)
def test_pack_and_unpack_match_the_oracle(layout):
    rng = np.random.default_rng(sum(map(ord, layout_id(layout))))
    checked = 0
    for bits in range(1, 9):
        width = oracle.unit_bits(bits, layout["code_unit"])
        for length in LENGTHS:
            codes = random_codes(bits, layout["code_field"], (ROWS, length), rng)
            packed = pack_codes(codes, bits=bits, profile=BASE, **layout)
            expected = oracle_pack(codes, bits, layout)
            assert packed.dtype == expected.dtype and np.array_equal(packed, expected), (bits, length)
            # Unpack reads random units, the bits no field reaches included.
            random_units = rng.integers(0, 1 << width, packed.shape, dtype=np.uint64)
            units = random_units.astype(np.uint8) if width == 8 else random_units.astype(np.uint32).view(np.int32)
            signed = layout["code_field"] == "offset" or (layout["code_field"] == "modular" and rng.random() < 0.5)
            count = ROWS * length if layout["code_extent"] == "tensor" else length
            codes_back = unpack_codes(units, bits=bits, length=count, signed=signed, profile=BASE, **layout)
            streams = units.reshape(1, -1) if layout["code_extent"] == "tensor" else units.reshape(ROWS, -1)
            expected_codes = [oracle.code(value, bits, layout["code_field"], signed)
                              for stream in streams
                              for value in oracle.stream_fields([int(u) % 2 ** width for u in stream], count, bits,
                                                                width, layout["code_order"])]
            assert codes_back.dtype == (np.int8 if signed else np.uint8)
            assert codes_back.reshape(-1).tolist() == expected_codes, (bits, length)
            checked += 1
    assert checked == 8 * len(LENGTHS)


@pytest.mark.parametrize("layout", LAYOUTS[::5], ids=layout_id)
def test_compiled_kernels_match_pure_python(layout):
    rng = np.random.default_rng(7)
    for bits in (1, 3, 4, 5, 8):
        codes = random_codes(bits, layout["code_field"], (4, 97), rng)
        compiled = pack_codes(codes, bits=bits, profile=BASE, **layout)
        with pure_python():
            interpreted = pack_codes(codes, bits=bits, profile=BASE, **layout)
        assert np.array_equal(compiled, interpreted)
        count = codes.size if layout["code_extent"] == "tensor" else codes.shape[-1]
        signed = codes.dtype == np.int8 and layout["code_field"] != "unsigned"
        back = unpack_codes(compiled, bits=bits, length=count, signed=signed, profile=BASE, **layout)
        with pure_python():
            back_interpreted = unpack_codes(compiled, bits=bits, length=count, signed=signed, profile=BASE, **layout)
        assert np.array_equal(back, back_interpreted) and np.array_equal(back.reshape(codes.shape), codes)


@settings(deadline=None, max_examples=150)
@given(layout=st.sampled_from(LAYOUTS), bits=st.integers(1, 8),
       shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), seed=st.integers(0, 2 ** 32 - 1))
def test_unpack_inverts_pack(layout, bits, shape, seed):
    codes = random_codes(bits, layout["code_field"], tuple(shape), np.random.default_rng(seed))
    packed = pack_codes(codes, bits=bits, profile=BASE, **layout)
    count = codes.size if layout["code_extent"] == "tensor" else codes.shape[-1]
    signed = codes.dtype == np.int8
    back = unpack_codes(packed, bits=bits, length=count, signed=signed, profile=BASE, **layout)
    assert back.dtype == codes.dtype and np.array_equal(back.reshape(codes.shape), codes)


@pytest.mark.parametrize("variant", list(VALUES))
def test_every_pair_of_values_of_each_variant_differs(variant):
    """Each value changes the units (or the codes a value takes) of some input at some width, the other variants
    held at ONNX's values."""
    rng = np.random.default_rng(3)
    probes = [(bits, random_codes(bits, "offset", (2, 13), rng)) for bits in (3, 4)]
    probes += [(bits, random_codes(bits, "unsigned", (2, 13), rng)) for bits in (3, 4)]

    def outcome(value, bits, codes):
        try:
            return pack_codes(codes, bits=bits, profile=BASE, **{variant: value}).tobytes()
        except RefqError as error:
            return type(error).__name__
    for first, second in itertools.combinations(VALUES[variant], 2):
        assert any(outcome(first, bits, codes) != outcome(second, bits, codes) for bits, codes in probes), \
            (first, second)


def test_every_packing_profile_names_every_variant():
    assert PACKING_PROFILES
    for profile in PACKING_PROFILES:
        assert set(profile.packing) == set(VALUES), profile.name
        assert all(profile.packing[name] in VALUES[name] for name in VALUES), profile.name


# --- the engines --------------------------------------------------------------------------------------------


def _backend(name: str):
    from refq.conformance.loading import BackendUnavailable, instantiate

    try:
        return instantiate(name)
    except BackendUnavailable as error:
        pytest.skip(str(error))


#: Each engine's backend, the widths it packs, whether its codes are signed, and whether it takes any row length.
ENGINES = [("compressed-tensors", tuple(range(1, 9)), (True,), True), ("hqq", (1, 2, 3, 4, 8), (False,), False),
           ("torchao-floor", (4,), (False,), False), ("onnx-reference", (2, 4), (True, False), True)]


@pytest.mark.parametrize("name, widths, signs, any_length", ENGINES, ids=[engine[0] for engine in ENGINES])
def test_engine_matches_refq_on_every_width(name, widths, signs, any_length):
    backend = _backend(name)
    profile = backend.profile
    rng = np.random.default_rng(11)
    checked = 0
    for bits, signed, length in itertools.product(widths, signs, range(1, 81)):
        planes = {1: 8, 2: 4, 4: 2}.get(bits, 1) if name == "hqq" else 2 if name.startswith("torchao") else 1
        if not any_length and length % planes:
            continue
        low, high = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1))
        codes = rng.integers(low, high + 1, (ROWS, length)).astype(np.int8 if signed else np.uint8)
        expected = pack_codes(codes, bits=bits, profile=profile)
        packed = backend.pack_codes(codes, bits=bits)
        assert packed.dtype == expected.dtype and np.array_equal(packed, expected), (bits, signed, length)
        count = codes.size if expected.ndim == 1 else length
        width = 8 if expected.dtype == np.uint8 else 32
        noise = rng.integers(0, 1 << width, expected.shape, dtype=np.uint64)
        units = noise.astype(np.uint8) if width == 8 else noise.astype(np.uint32).view(np.int32)
        codes_back = backend.unpack_codes(units, bits=bits, length=count, signed=signed)
        reference = unpack_codes(units, bits=bits, length=count, signed=signed, profile=profile)
        assert codes_back.dtype == reference.dtype and np.array_equal(codes_back, reference), (bits, signed, length)
        checked += 1
    assert checked >= 80 * len(widths) // 2


def test_hqq_planes_need_whole_parts():
    """BLK-10.4: BitPack raises at 4 bits on an odd row and returns units of the wrong shape at 2 bits; at 3 bits
    it pads to ten parts, as BLK-10.3 does."""
    torch = pytest.importorskip("torch")
    bitpack = pytest.importorskip("hqq.core.bitpack").BitPack
    with pytest.raises(RuntimeError):
        bitpack.pack_4bit_u8(torch.zeros((5, 3), dtype=torch.uint8))
    assert tuple(bitpack.pack_2bit_u8(torch.zeros((6, 3), dtype=torch.uint8)).shape) != (2, 3)
    codes = np.arange(21, dtype=np.uint8).reshape(1, 21) % 8
    packed = bitpack.pack_3bit_32(torch.from_numpy(codes.T.copy()).to(torch.int32)).numpy().T
    assert np.array_equal(packed, pack_codes(codes, bits=3, profile="hqq"))


def test_compressed_tensors_carries_and_truncates():
    """What BLK-10.4 and BLK-10.5 make errors, compressed-tensors does silently: a code beyond the offset range
    carries into the next field, and too few words unpack to fewer codes."""
    torch = pytest.importorskip("torch")
    helpers = pytest.importorskip("compressed_tensors.compressors.pack_quantized.helpers")
    packed = helpers.pack_to_int32(torch.tensor([[8, 0]], dtype=torch.int8), 4).numpy()
    assert packed.tolist() == [[0x90]]  # 8 + 8 = 16 spills into the second field, whose own 0 + 8 is 8
    with pytest.raises(RefqValueError, match="^codes: "):
        pack_codes(np.array([[8, 0]], np.int8), bits=4, profile="compressed-tensors")
    fewer = helpers.unpack_from_int32(torch.zeros((1, 1), dtype=torch.int32), 4, torch.Size((1, 16))).numpy()
    assert fewer.shape == (1, 8)
    with pytest.raises(RefqValueError, match="^packed: "):
        unpack_codes(np.zeros((1, 1), np.int32), bits=4, length=16, profile="compressed-tensors")


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, argument, error", [
    (lambda: pack_codes(np.zeros((2, 3), np.int8), bits=4, code_order="diagonal"), "code_order", RefqValueError),
    (lambda: pack_codes(np.zeros((2, 3), np.int8), bits=4, code_layout="rows"), "code_layout", RefqValueError),
    (lambda: pack_codes(np.zeros((), np.int8)), "codes", RefqValueError),
    (lambda: pack_codes(np.zeros((2, 3), np.int8), bits=2.0), "bits", RefqTypeError),
    (lambda: pack_codes(np.full(3, -1, np.int8), profile="hqq"), "codes", RefqValueError),
    (lambda: unpack_codes(np.zeros((2, 2), np.uint8)), "packed", RefqValueError),
    (lambda: unpack_codes(np.zeros(2, np.uint8), signed=1), "signed", RefqTypeError),
    (lambda: unpack_codes(np.zeros((2, 2), np.uint8), bits=3, profile="hqq"), "packed", RefqTypeError),
])
def test_bad_input_names_the_argument(call, argument, error):
    with pytest.raises(error, match=f"^{argument}: "):
        call()
