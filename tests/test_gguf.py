"""GGF: refq's ggml block types against gguf-py (the ``gguf`` package), an exact oracle, and
refq's own pure-Python path; bad input. ggml itself is in test_gguf_ggml.py."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.gguf import BLOCK_TYPES, block_type, gguf_dequantize, gguf_quantize, gguf_quantize_with_outcomes
from refq.gguf.half import HALF_VALUES, half_pattern
from tests.oracle import gguf as oracle

gguf = pytest.importorskip("gguf", reason="gguf-py is the `gguf` extra: pip install -e '.[gguf]'")
from gguf import quants  # noqa: E402

#: The types gguf-py quantizes (its numpy code), and those it dequantizes.
GGUF_PY_QUANTIZE = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4")
GGUF_PY_DEQUANTIZE = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
                      "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S",
                      "IQ1_M", "NVFP4")
QUANTIZED_TYPES = tuple(t.name for t in BLOCK_TYPES if t.quantize)
DEQUANTIZED_TYPES = tuple(t.name for t in BLOCK_TYPES if t.name != "Q8_1")
#: Where each type keeps its float16 scale fields (d, and m for the asymmetric types).
#: (TQ1_0, TQ2_0 and Q8_0 take d from magnitudes, always +0 or more; MXFP4 has no float16 field.)
ZERO_SIGN_FIELDS = {"Q4_0": (0,), "Q5_0": (0,), "Q4_1": (0, 2), "Q5_1": (0, 2), "Q8_0": (), "TQ1_0": (), "TQ2_0": (),
                    "MXFP4": ()}


def gguf_py_quantize(x: np.ndarray, name: str) -> np.ndarray:
    kind = gguf.GGMLQuantizationType[name]
    with np.errstate(all="ignore"):
        return quants.quantize(x.reshape(-1, block_type(name).block_elements), kind).reshape(-1)


def gguf_py_dequantize(blocks: np.ndarray, name: str) -> np.ndarray:
    kind = gguf.GGMLQuantizationType[name]
    with np.errstate(all="ignore"):
        return quants.dequantize(blocks.reshape(-1, block_type(name).block_bytes), kind).reshape(-1)


def same_floats(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Elementwise: identical bits, or both NaN (a NaN's sign and payload are unpredictable, GGF-5.2)."""
    return (ours.view(np.uint32) == theirs.view(np.uint32)) | (np.isnan(ours) & np.isnan(theirs))


# --- inputs ------------------------------------------------------------------------------------


def random_blocks(rng: np.random.Generator, blocks: int, size: int, largest: int = 20) -> np.ndarray:
    """N(0,1), uniform and heavy-tailed blocks at magnitudes from 2^-20 to 2^largest, one per block
    (past about 2^16 a scale overflows float16 and is stored as infinity)."""
    shape = (blocks, size)
    kinds = rng.integers(0, 4, blocks)[:, None]
    values = np.where(kinds == 0, rng.standard_normal(shape), 0.0)
    values = np.where(kinds == 1, rng.uniform(-1, 1, shape), values)
    values = np.where(kinds == 2, rng.standard_t(2, shape), values)
    values = np.where(kinds == 3, rng.uniform(0, 1, shape), values)  # one-sided, as after a ReLU
    scale = 2.0 ** rng.integers(-20, largest + 1, blocks)[:, None]
    return (values * scale).astype(np.float32).reshape(-1)


def adversarial_blocks(rng: np.random.Generator, size: int) -> np.ndarray:
    """Blocks built to reach the edges: exact ties of every rounding step and their float32
    neighbours, all-equal and one-hot blocks, zeros of both signs, subnormal and huge values."""
    blocks = []
    for levels in (8, 16, 127):
        # With max = -levels the scale is 1: x / d + offset lands exactly on integers and halves.
        for offset in (0.0, 0.5):
            ties = (np.arange(size) % (2 * levels) - levels + offset).astype(np.float32)
            ties[0] = -levels
            for power in (0, -3, 5):
                tie_block = ties * np.float32(2.0**power)
                blocks += [tie_block, np.nextafter(tie_block, np.float32(np.inf)),
                           np.nextafter(tie_block, np.float32(-np.inf))]
                blocks.append(-tie_block)
    for value in (1.0, -1.0, 3.0e-5, 65504.0, 1e30, -2.5):
        blocks.append(np.full(size, value, dtype=np.float32))
        one_hot = np.zeros(size, dtype=np.float32)
        one_hot[rng.integers(size)] = value
        blocks.append(one_hot)
    blocks.append(np.zeros(size, dtype=np.float32))
    blocks.append(np.full(size, -0.0, dtype=np.float32))
    blocks.append(np.where(rng.integers(0, 2, size) == 1, np.float32(-0.0), np.float32(0.0)))
    signed_zeros = np.where(rng.integers(0, 2, size) == 1, np.float32(-0.0), np.float32(0.0))
    signed_zeros[size // 2] = 0.75
    blocks.append(signed_zeros)
    for magnitude in (1e-39, 1e-44, 1e-37, 1e-30, 1e35, 3.0e38):
        blocks.append((rng.uniform(-1, 1, size) * magnitude).astype(np.float32))
    blocks.append(rng.choice(np.array([np.float32(3.0e38), np.float32(-3.0e38), np.float32(1.0)]), size))
    return np.concatenate(blocks).astype(np.float32)


# --- float16 -------------------------------------------------------------------------------------


def test_half_pattern_matches_numpy_near_every_half():
    """GGF-1.2: every binary16 value, the midpoints between neighbours and their float32 neighbours."""
    finite = HALF_VALUES[np.isfinite(HALF_VALUES)].astype(np.float64)
    finite = np.unique(finite)
    midpoints = ((finite[1:] + finite[:-1]) / 2).astype(np.float32)
    values = np.concatenate([finite.astype(np.float32), midpoints, np.nextafter(midpoints, np.float32(np.inf)),
                             np.nextafter(midpoints, np.float32(-np.inf)),
                             np.array([65519.996, 65520.0, 1e38, np.inf, -np.inf], dtype=np.float32)])
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16).view(np.uint16)
    got = np.array([half_pattern(v) for v in values], dtype=np.uint16)
    assert np.array_equal(got, expected)
    assert half_pattern(np.float32(np.nan)) == 0x7E00
    assert half_pattern(-np.float32(np.nan)) == 0xFE00


def test_half_values_decode_every_pattern():
    """HALF_VALUES (numpy's widening) against NUM-3.5's decode of every binary16 pattern, and numpy's."""
    from refq.numbers.floats.arrays import decode_array

    patterns = np.arange(1 << 16, dtype=np.uint16)
    decoded = decode_array(patterns.astype(np.uint32), "binary16").astype(np.float32)
    assert same_floats(HALF_VALUES, decoded).all()
    widened = patterns.view(np.float16).astype(np.float32)
    assert same_floats(HALF_VALUES, widened).all()
    nan = np.isnan(widened)
    assert np.array_equal(HALF_VALUES.view(np.uint32)[~nan], widened.view(np.uint32)[~nan])
    assert (HALF_VALUES.view(np.uint32)[nan] & 0x00400000).all(), "a NaN widens quiet"


# --- against gguf-py -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GGUF_PY_QUANTIZE)
def test_quantize_matches_gguf_py(name):
    size = block_type(name).block_elements
    rng = np.random.default_rng(14)
    x = np.concatenate([random_blocks(rng, 20_000 * 32 // size, size), adversarial_blocks(rng, size)])
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name)
    theirs = gguf_py_quantize(x, name)
    rows = block_type(name).block_bytes
    ours, theirs = ours.reshape(-1, rows), theirs.reshape(-1, rows)
    zero_sign = np.zeros_like(ours, dtype=bool)
    for field in ZERO_SIGN_FIELDS[name]:
        # gguf_zero_sign = unpredictable: the sign bit of a zero d or m.
        is_zero = (ours[:, field] == 0) & ((ours[:, field + 1] & 0x7F) == 0)
        zero_sign[:, field + 1] = is_zero
    mask = np.where(zero_sign, np.uint8(0x7F), np.uint8(0xFF))
    differ = ((ours & mask) != (theirs & mask)).any(axis=1)
    assert unpredictable.sum() < 40, "only infinities and overflowing reciprocals are unpredictable"
    assert np.flatnonzero(differ & ~unpredictable).tolist() == []
    assert (~unpredictable).sum() > 20_000 * 32 // size


@pytest.mark.parametrize("name", GGUF_PY_DEQUANTIZE)
def test_dequantize_matches_gguf_py(name):
    """GGF-2.8, GGF-3.11: every byte pattern, and blocks refq quantized."""
    kind = block_type(name)
    rng = np.random.default_rng(15)
    random_bytes = rng.integers(0, 256, 4096 * kind.block_bytes, dtype=np.uint8)
    inputs = [random_bytes]
    if kind.quantize:
        inputs.append(gguf_quantize(random_blocks(rng, 512 if kind.block_elements == 256 else 4096,
                                                  kind.block_elements), type=name))
    for blocks in inputs:
        ours = gguf_dequantize(blocks, type=name)
        theirs = gguf_py_dequantize(blocks, name)
        assert same_floats(ours, theirs).all()


@pytest.mark.parametrize("name", GGUF_PY_QUANTIZE)
def test_nan_blocks_under_the_unpredictable_variant(name):
    """GGF-5.1: with nan='unpredictable' a NaN only makes its own block unpredictable."""
    size = block_type(name).block_elements
    rng = np.random.default_rng(16)
    x = random_blocks(rng, 16, size)
    x[5 * size + 3] = np.nan
    x[9 * size] = -np.nan
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name, nan="unpredictable")
    assert np.flatnonzero(unpredictable).tolist() == [5, 9]
    theirs = gguf_py_quantize(x, name).reshape(16, -1)
    kept = np.ones(16, dtype=bool)
    kept[[5, 9]] = False
    assert np.array_equal(ours.reshape(16, -1)[kept], theirs[kept])


# --- the exact oracle --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, exact, blocks", [("Q8_0", oracle.q8_0, 60), ("Q4_0", oracle.q4_0, 60),
                                                  ("Q6_K", oracle.q6_k, 1)])
def test_quantize_matches_exact_oracle(name, exact, blocks):
    size = block_type(name).block_elements
    rng = np.random.default_rng(17)
    x = random_blocks(rng, blocks, size, largest=10)
    if size == 32:
        adversarial = adversarial_blocks(rng, size).reshape(-1, size)
        # Finite float16 scales, no zeros (the oracle has no signed zero).
        finite = [b for b in adversarial if np.all(np.abs(b) > 1e-30) and np.all(np.abs(b) < 6e4)]
        x = np.concatenate([x, *finite[:40]])
    ours = gguf_quantize(x, type=name).reshape(-1, block_type(name).block_bytes)
    for index, block in enumerate(x.reshape(-1, size)):
        assert ours[index].tolist() == exact(block), index


@pytest.mark.slow
def test_q6_k_matches_exact_oracle_many_blocks():
    rng = np.random.default_rng(18)
    x = random_blocks(rng, 40, 256, largest=10)
    ours = gguf_quantize(x, type="Q6_K").reshape(-1, 210)
    for index, block in enumerate(x.reshape(-1, 256)):
        assert ours[index].tolist() == oracle.q6_k(block), index


# --- JIT against pure Python --------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUANTIZED_TYPES)
def test_jit_matches_pure_python(name):
    kind = block_type(name)
    rng = np.random.default_rng(19)
    count = 1 if kind.block_elements == 256 else 64
    x = random_blocks(rng, count, kind.block_elements)
    if kind.block_elements == 32:
        x = np.concatenate([x, adversarial_blocks(rng, 32)[:32 * 40]])
    compiled = gguf_quantize_with_outcomes(x, type=name)
    with np.errstate(all="ignore"), pure_python():
        interpreted = gguf_quantize_with_outcomes(x, type=name)
        interpreted_values = gguf_dequantize(interpreted[0], type=name) if name != "Q8_1" else None
    assert np.array_equal(compiled[0], interpreted[0])
    assert np.array_equal(compiled[1], interpreted[1])
    if interpreted_values is not None:
        assert same_floats(gguf_dequantize(compiled[0], type=name), interpreted_values).all()


def test_mxfp4_infinite_blocks_jit_matches_pure_python():
    # A block whose largest magnitude is infinite has e = 0 (GGF-1.3's undefined cast), so its other
    # elements are coded against 2^-128, a float32 subnormal, by the level-by-level search: the compiled
    # and interpreted searches must agree on the levels, midpoints and signed zeros of that scale too.
    unit = 2.0 ** -128
    magnitudes = [m * unit for m in np.arange(0, 14, 0.25)] + [2.0 ** -149, 1e-38, 1.0, 3e38]
    values = np.array([0.0, -0.0] + magnitudes + [-m for m in magnitudes], dtype=np.float32)
    rng = np.random.default_rng(31)
    x = rng.choice(values, (300, 32)).astype(np.float32)
    x[np.arange(300), rng.integers(32, size=300)] = np.where(np.arange(300) % 2 == 0, np.inf, -np.inf)
    compiled = gguf_quantize_with_outcomes(x.ravel(), type="MXFP4")
    with np.errstate(all="ignore"), pure_python():
        interpreted = gguf_quantize_with_outcomes(x.ravel(), type="MXFP4")
    assert np.array_equal(compiled[0], interpreted[0])
    assert np.array_equal(compiled[1], interpreted[1])
    assert (compiled[0].reshape(300, 17)[:, 0] == 0).all()


# --- sizes and bad input ----------------------------------------------------------------------------------


def test_block_sizes_match_gguf_py():
    for kind in BLOCK_TYPES:
        if kind.name == "Q8_1":
            continue  # gguf-py still lists Q8_1's old float32 d and s (40 bytes); ggml's block is 36
        if kind.name not in gguf.GGMLQuantizationType.__members__:
            continue  # newer than gguf-py 0.19 (Q2_0): its sizes are checked against ggml's own
        assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[kind.name]] == (kind.block_elements, kind.block_bytes)
        assert int(gguf.GGMLQuantizationType[kind.name]) == kind.ggml_id


def test_unknown_type():
    with pytest.raises(RefqValueError, match="^type: "):
        gguf_quantize(np.zeros(32, np.float32), type="Q4_2")
    with pytest.raises(RefqValueError, match="^type: "):
        gguf_dequantize(np.zeros(18, np.uint8), type=None)


def test_wrong_block_length():
    with pytest.raises(RefqValueError, match="^x: .*whole number of Q4_K blocks"):
        gguf_quantize(np.zeros(320, np.float32), type="Q4_K")


def test_truncated_buffer():
    blocks = gguf_quantize(np.ones(64, np.float32), type="Q8_0")
    with pytest.raises(RefqValueError, match="^blocks: .*truncated"):
        gguf_dequantize(blocks[:-1], type="Q8_0")
    with pytest.raises(RefqValueError, match="^blocks: "):
        gguf_dequantize(bytes(blocks[:40]), type="Q8_0")


def test_nan_is_an_error_by_default():
    x = np.zeros(64, np.float32)
    x[40] = np.nan
    with pytest.raises(RefqValueError, match="^x: .*NaN at flat index 40"):
        gguf_quantize(x, type="Q4_0")
    with pytest.raises(RefqValueError, match="^nan: "):
        gguf_quantize(x, type="Q4_0", nan="skip")


def test_wrong_input_types():
    with pytest.raises(RefqTypeError, match="^x: "):
        gguf_quantize(np.zeros(32, np.int32), type="Q4_0")
    with pytest.raises(RefqTypeError, match="^blocks: "):
        gguf_dequantize(np.zeros(18, np.int16), type="Q4_0")
    with pytest.raises(RefqValueError, match="^imatrix: "):
        gguf_quantize(np.zeros(256, np.float32), type="IQ4_NL", imatrix=np.ones(256, np.float32))


def test_bytes_round_trip_and_other_float_inputs():
    x = np.linspace(-3, 3, 256)
    assert np.array_equal(gguf_quantize(x, type="Q4_K"), gguf_quantize(x.astype(np.float32), type="Q4_K"))
    blocks = gguf_quantize(x, type="Q6_K")
    assert np.array_equal(gguf_dequantize(bytes(blocks), type="Q6_K"), gguf_dequantize(blocks, type="Q6_K"))


GRID_TYPES = ("IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M")


@pytest.mark.parametrize("name", GRID_TYPES)
def test_grid_dequantize_jit_matches_pure_python(name):
    kind = block_type(name)
    blocks = np.random.default_rng(26).integers(0, 256, 3 * kind.block_bytes, dtype=np.uint8)
    compiled = gguf_dequantize(blocks, type=name)
    with np.errstate(all="ignore"), pure_python():
        interpreted = gguf_dequantize(blocks, type=name)
    assert same_floats(compiled, interpreted).all()


def test_sign_table_is_gguf_py_ksigns():
    from refq.gguf.grids import even_parity_signs

    assert even_parity_signs().tobytes() == quants.IQ2_XXS.ksigns


def test_grid_types_have_no_quantize():
    with pytest.raises(RefqValueError, match="^type: "):
        gguf_quantize(np.zeros(256, np.float32), type="IQ2_XXS")


def _block_maxima_cases() -> list[np.ndarray]:
    """Blocks of 32 where the integer maxima (legacy.signed_maximum, largest_magnitude) could part
    from C's one-by-one scan: ties of +-a across and within quarters, zeros of both signs, NaN at
    every position, infinities."""
    rng = np.random.default_rng(14)
    cases = [np.zeros(32, np.float32), np.full(32, -0.0, np.float32), np.full(32, np.nan, np.float32)]
    for _ in range(400):
        block = rng.choice(np.float32([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0]), 32).astype(np.float32)
        if rng.random() < 0.3:
            block[rng.integers(0, 32, rng.integers(1, 4))] = rng.choice(np.float32([np.nan, np.inf, -np.inf]))
        cases.append(block)
    for values in ([0.0, -0.0, 1.0, 0.5], [0.0, -0.0, -1.0, -0.5], [0.0, -0.0]):
        # A smallest or largest element that is a zero of either sign: C keeps the first zero it meets.
        for _ in range(100):
            block = rng.choice(np.float32(values), 32).astype(np.float32)
            if rng.random() < 0.3:
                block[rng.integers(0, 32, rng.integers(1, 4))] = np.nan
            cases.append(block)
    return cases


def test_block_maxima_match_the_one_by_one_scan():
    """GGF-2.1: the maxima and minima the fast kernels use equal C's sequential scans, bit for bit."""
    from refq.gguf import legacy

    for block in _block_maxima_cases():
        chosen, largest = np.float32(0.0), np.float32(0.0)
        amax = np.float32(0.0)
        low, high = np.float32(3.4028235e38), np.float32(-3.4028235e38)
        for value in block:
            if largest < abs(value):  # quantize_row_q4_0_ref
                largest, chosen = abs(value), value
            amax = amax if amax > abs(value) else abs(value)  # quantize_row_q8_0_ref's MAX
            if value < low:  # quantize_row_q4_1_ref
                low = value
            if value > high:
                high = value
        expected = np.float32([chosen, amax, low, high]).view(np.uint32)
        bits = block.view(np.int32)
        got = np.float32([legacy.signed_maximum(bits, 0, 32), legacy.largest_magnitude(bits, 0, 32),
                          *legacy.minimum_and_maximum(bits, 0, 32)])
        assert (got.view(np.uint32) == expected).all(), block


@pytest.mark.parametrize("name", ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K"))
def test_dequantize_of_random_bytes_jit_matches_pure_python(name):
    """The dequantizers specialised on their block size (a constant stride, a run-time loop count)
    decode any bytes, NaN and infinite scales included, as their pure-Python source does."""
    kind = block_type(name)
    blocks = np.random.default_rng(23).integers(0, 256, 37 * kind.block_bytes, dtype=np.uint8)
    compiled = gguf_dequantize(blocks, type=name)
    with np.errstate(all="ignore"), pure_python():
        interpreted = gguf_dequantize(blocks, type=name)
    assert same_floats(compiled, interpreted).all()
