"""GGF-8: ggml's importance-matrix search, against ggml's ``ggml_quantize_chunk`` (the unfused build),
the exact oracle, and refq's own pure-Python path; the importance matrix's bad input.

The ggml tests skip unless ``refq ggml build`` has run (see tests/gguf_ggml.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.errors import RefqTypeError, RefqValueError
from refq.gguf import block_type, gguf_quantize, gguf_quantize_with_outcomes
from refq.gguf.api import IMATRIX_IGNORED_TYPES, WEIGHTED_TYPES
from refq.gguf.weighted_search import positive_search
from tests import gguf_ggml as ggml
from tests.oracle import gguf as oracle
from tests.test_gguf import adversarial_blocks, random_blocks

needs_ggml = pytest.mark.skipif(ggml.unavailable_reason() is not None, reason=str(ggml.unavailable_reason()))
ROW = 512


def importance(rng: np.random.Generator, kind: int, n_per_row: int = ROW) -> np.ndarray:
    """Importance matrices as llama.cpp's are (mean squared activations: positive, spread over decades),
    and edges the C code accepts: all ones, zeros among them, one column alone, negative weights."""
    if kind == 0:
        return (rng.lognormal(0.0, 2.0, n_per_row)).astype(np.float32)
    if kind == 1:
        return np.ones(n_per_row, dtype=np.float32)
    if kind == 2:
        return np.where(rng.random(n_per_row) < 0.3, 0.0, rng.random(n_per_row)).astype(np.float32)
    if kind == 3:
        one = np.zeros(n_per_row, dtype=np.float32)
        one[rng.integers(n_per_row)] = 1.0
        return one
    return rng.uniform(-1.0, 1.0, n_per_row).astype(np.float32)


def rows(rng: np.random.Generator, count: int, n_per_row: int = ROW) -> np.ndarray:
    """``count`` random rows, then the adversarial blocks of test_gguf padded to whole rows."""
    adversarial = adversarial_blocks(rng, 256)
    padding = (-adversarial.size) % n_per_row
    adversarial = np.concatenate([adversarial, rng.standard_normal(padding).astype(np.float32)])
    return np.concatenate([random_blocks(rng, count * n_per_row // 32, 32), adversarial])


def compare_with_ggml(name: str, x: np.ndarray, imatrix: np.ndarray, nan: str = "error") -> int:
    """The blocks refq and ggml_quantize_chunk give differently, less the unpredictable ones; returns the
    count of blocks compared."""
    ours, unpredictable = gguf_quantize_with_outcomes(x, type=name, imatrix=imatrix, nan=nan)
    theirs = ggml.backend("unfused").gguf_quantize(x, imatrix, type=name)
    size = block_type(name).block_bytes
    differ = (ours.reshape(-1, size) != theirs.reshape(-1, size)).any(axis=1)
    assert np.flatnonzero(differ & ~unpredictable).tolist() == []
    return int((~unpredictable).sum())


@needs_ggml
@pytest.mark.parametrize("name", WEIGHTED_TYPES)
def test_weighted_search_matches_ggml_quantize_chunk(name):
    """GGF-8.3 to GGF-8.8: byte-identical to ggml's _impl search on every predictable block."""
    rng = np.random.default_rng(80)
    x = rows(rng, 24)
    compared = 0
    with np.errstate(all="ignore"):
        for kind in range(5):
            compared += compare_with_ggml(name, x, importance(rng, kind))
    # Past about 2^20 the sums of squares and the scales overflow (GGF-1.4): the adversarial huge blocks.
    assert compared > 0.8 * 5 * x.size // block_type(name).block_elements


@needs_ggml
@pytest.mark.slow
@pytest.mark.parametrize("name", WEIGHTED_TYPES)
def test_weighted_search_matches_ggml_on_many_rows(name):
    rng = np.random.default_rng(81)
    with np.errstate(all="ignore"):
        for n_per_row in (256, 4096):
            x = rows(rng, 2048 * 256 // n_per_row, n_per_row)
            for kind in (0, 2, 4):
                compare_with_ggml(name, x, importance(rng, kind, n_per_row))


@needs_ggml
@pytest.mark.parametrize("name", ("Q4_0", "Q4_1", "Q4_K", "Q6_K"))
def test_nan_rows_are_unpredictable_and_the_others_match(name):
    """A NaN makes its row unpredictable in the blocks of 32 (it enters the row's mean square) and its
    super-block in the K types."""
    rng = np.random.default_rng(82)
    x = random_blocks(rng, 8 * ROW // 32, 32, largest=4)
    x[ROW + 5] = np.nan
    imatrix = importance(rng, 0)
    with np.errstate(all="ignore"):
        compare_with_ggml(name, x, imatrix, nan="unpredictable")
    _, unpredictable = gguf_quantize_with_outcomes(x, type=name, imatrix=imatrix, nan="unpredictable")
    per_row = ROW // block_type(name).block_elements
    expected = np.zeros(unpredictable.size, dtype=bool)
    if name in ("Q4_0", "Q4_1"):
        expected[per_row:2 * per_row] = True
    else:
        expected[(ROW + 5) // 256] = True
    assert unpredictable.tolist() == expected.tolist()


@needs_ggml
@pytest.mark.parametrize("name", IMATRIX_IGNORED_TYPES)
def test_types_that_ignore_the_importance_matrix(name):
    """ggml_quantize_chunk reads no importance matrix for these types: the reference bytes."""
    rng = np.random.default_rng(83)
    x = random_blocks(rng, 4 * ROW // 32, 32)
    imatrix = importance(rng, 0)
    with np.errstate(all="ignore"):
        assert np.array_equal(gguf_quantize(x, type=name, imatrix=imatrix), gguf_quantize(x, type=name))
        compare_with_ggml(name, x, imatrix)


@pytest.mark.parametrize("name", WEIGHTED_TYPES)
def test_jit_matches_pure_python(name):
    rng = np.random.default_rng(84)
    x = np.concatenate([random_blocks(rng, 2 * ROW // 32, 32), adversarial_blocks(rng, 256)[:ROW]])
    imatrix = importance(rng, 0)
    with np.errstate(all="ignore"):
        compiled = gguf_quantize_with_outcomes(x, type=name, imatrix=imatrix)
        with pure_python():
            interpreted = gguf_quantize_with_outcomes(x, type=name, imatrix=imatrix)
    assert np.array_equal(compiled[0], interpreted[0])
    assert np.array_equal(compiled[1], interpreted[1])


@pytest.mark.parametrize("name, levels", [("Q4_0", 16), ("Q5_0", 32)])
def test_weighted_symmetric_rows_match_exact_oracle(name, levels):
    """GGF-8.1 and GGF-8.3 against exact rationals: the weights and the weighted search of each block."""
    rng = np.random.default_rng(85)
    n_per_row = 64
    for _ in range(6):
        x = (rng.standard_normal(n_per_row) * 2.0 ** rng.integers(-8, 8)).astype(np.float32)
        imatrix = importance(rng, 0, n_per_row)
        ours = gguf_quantize(x, type=name, imatrix=imatrix)
        assert ours.tolist() == oracle.weighted_symmetric_nibbles(x.tolist(), imatrix.tolist(), levels)


def test_positive_search_matches_exact_oracle():
    """GGF-8.2 (make_qp_quants) against exact rationals on non-negative scales, as the K types give it."""
    rng = np.random.default_rng(86)
    for count, levels in ((8, 63), (16, 15)) * 30:
        x = (rng.random(count) ** 2 * 2.0 ** rng.integers(-10, 4)).astype(np.float32)
        weights = rng.lognormal(0.0, 1.5, count).astype(np.float32)
        codes = np.zeros(count, dtype=np.int32)
        scale, defined = positive_search(x, count, levels, weights, codes)
        exact_scale, exact_codes = oracle.positive_search(x.tolist(), weights.tolist(), levels)
        assert defined
        assert np.float32(scale) == np.float32(float(exact_scale))
        assert codes.tolist() == exact_codes


# --- bad input ---------------------------------------------------------------------------------


def test_importance_matrix_errors_name_imatrix():
    x = np.ones(512, dtype=np.float32)
    for bad in (np.ones((2, 256), np.float32), np.ones(48, np.float32), np.ones(384, np.float32),
                np.array([], np.float32)):
        with pytest.raises(RefqValueError, match="imatrix"):
            gguf_quantize(x, type="Q4_K", imatrix=bad)
    for value in (np.nan, np.inf, 1e39):
        bad = np.ones(256, dtype=np.float64)
        bad[3] = value
        with pytest.raises(RefqValueError, match="imatrix"):
            gguf_quantize(x, type="Q4_0", imatrix=bad)
    with pytest.raises(RefqTypeError, match="imatrix"):
        gguf_quantize(x, type="Q4_0", imatrix=np.array(["a"] * 256))
    for name in ("IQ4_NL", "IQ4_XS", "Q8_1", "Q8_K"):
        with pytest.raises(RefqValueError, match="imatrix"):
            gguf_quantize(x, type=name, imatrix=np.ones(256, np.float32))


def test_integer_importance_is_converted():
    x = np.linspace(-1, 1, 256, dtype=np.float32)
    assert np.array_equal(gguf_quantize(x, type="Q4_0", imatrix=np.arange(256)),
                          gguf_quantize(x, type="Q4_0", imatrix=np.arange(256, dtype=np.float32)))
