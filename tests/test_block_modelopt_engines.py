"""BLK against NVIDIA Model Optimizer (nvidia-modelopt 0.47.0 on the CPU), the real engine: NVFP4QTensor equals the
modelopt-nvfp4 profile and MXFP4QTensor the modelopt-mxfp4 profile, on mixed and constructed tensors and on
dequantize of every scale with every code; the level-1 vectors pass through the harness; the fingerprints name
both. Elements the profiles leave open are skipped and counted: nearly everything is compared."""

from __future__ import annotations

import numpy as np
import pytest

from refq.block.api import block_dequantize_outcomes, block_quantize_outcomes
from refq.block.nvfp4 import nvfp4_dequantize_outcomes, nvfp4_quantize_outcomes
from refq.conformance.generate.nvfp4 import every_scale_and_code, family_tensor, mixed_values, special_tensors
from refq.conformance.harness import case_paths, run_cases

pytest.importorskip("modelopt")

F32 = np.float32
FP4 = "float4_e2m1fn"


@pytest.fixture(scope="module")
def nvfp4():
    from refq.backends.modelopt import ModeloptNvfp4Backend

    return ModeloptNvfp4Backend()


@pytest.fixture(scope="module")
def mxfp4():
    from refq.backends.modelopt import ModeloptMxfp4Backend

    return ModeloptMxfp4Backend()


def _differing(ours: np.ndarray, theirs: np.ndarray, open_bits) -> tuple[int, int]:
    """(predicted elements that differ, predicted elements): float32 compared by bits, NaN results by NaN-ness."""
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    open_bits = np.zeros(ours.shape, bool) if open_bits is None else np.asarray(open_bits)
    if ours.dtype == F32:
        same = (ours.view(np.uint32) == theirs.view(np.uint32)) | (np.isnan(ours) & np.isnan(theirs))
    else:
        same = ours == theirs
    return int(np.count_nonzero(~same & ~open_bits)), int(np.count_nonzero(~open_bits))


def check_nvfp4(engine, x: np.ndarray) -> int:
    result, mask = nvfp4_quantize_outcomes(x, profile="modelopt-nvfp4")
    theirs = engine.nvfp4_quantize(x)
    compared = 0
    for field in ("tensor_scale", "block_scales", "codes"):
        wrong, count = _differing(np.asarray(result[field]), np.asarray(theirs[field]),
                                  None if mask is None else mask[field])
        assert wrong == 0, field
        compared += count
    values, value_mask = nvfp4_dequantize_outcomes(result["tensor_scale"], result["block_scales"], result["codes"],
                                                   profile="modelopt-nvfp4")
    decoded = engine.nvfp4_dequantize(result["tensor_scale"], result["block_scales"], result["codes"])
    assert _differing(values, decoded, value_mask)[0] == 0
    return compared


def test_nvfp4_mixed_values(nvfp4):
    """2^20 mixed values: the tensor scale, 65,536 block scales and 524,288 code bytes, every one predicted."""
    x = mixed_values(1 << 20, 1508)
    assert check_nvfp4(nvfp4, x) == 1 + x.size // 16 + x.size // 2


def test_nvfp4_generator_tensors(nvfp4):
    """Near-ties, zeros, NaN, infinity, a subnormal tensor scale (block scales above 448: modelopt 0.47.0 clamps
    them), float32's largest."""
    rng = np.random.default_rng(1509)
    check_nvfp4(nvfp4, family_tensor(1, rng))
    for name, (tensor, _) in special_tensors(rng).items():
        compared = check_nvfp4(nvfp4, tensor)
        if name not in ("zeros", "nan"):  # NaN scales leave every byte open there
            assert 2 * compared >= 1 + tensor.size // 16 + tensor.size // 2, name


def test_nvfp4_wide_range_rows_hit_the_floor(nvfp4):
    """Rows scaled by 2^-140 to 2^100 in one tensor: many block scales reach modelopt's 2^-9 floor (code 0x01)."""
    rng = np.random.default_rng(1510)
    x = (rng.standard_normal((64, 256)) * np.exp2(rng.integers(-140, 100, (64, 1)))).astype(F32)
    check_nvfp4(nvfp4, x)
    assert (nvfp4_quantize_outcomes(x, profile="modelopt-nvfp4")[0]["block_scales"] == 0x01).mean() > 0.3


@pytest.mark.parametrize("stored", [F32(2048) / F32(2688), F32(1.0), F32(1e-40), F32(3.0e38), F32(0.0)])
def test_nvfp4_dequantize_every_scale_and_code(nvfp4, stored):
    """Code 8 is +0 in modelopt's table (nvfp4_code8 = positive_zero): 2 of every 16 elements depend on it."""
    scales, codes = every_scale_and_code()
    tensor_scale = np.array(stored, F32)
    values, mask = nvfp4_dequantize_outcomes(tensor_scale, scales, codes, profile="modelopt-nvfp4")
    wrong, compared = _differing(values, nvfp4.nvfp4_dequantize(tensor_scale, scales, codes), mask)
    assert wrong == 0 and compared > 0.9 * values.size
    negative = nvfp4_dequantize_outcomes(tensor_scale, scales, codes, profile="modelopt-nvfp4",
                                         nvfp4_code8="negative_zero")[0]
    assert _differing(negative, nvfp4.nvfp4_dequantize(tensor_scale, scales, codes), mask)[0] > 0


def mx_blocks(rng: np.random.Generator, count: int) -> np.ndarray:
    """Gaussian blocks from 2^-150 to 2^120; amaxes 6 * 2^k one ulp above (where the float32 logarithm rounds
    down); ties of the E2M1 grid; zeros of both signs; quotients that underflow to zero; an infinity; a NaN."""
    gaussian = rng.standard_normal((count, 32)) * np.exp2(rng.integers(-150, 120, (count, 1)))
    exponents = rng.integers(-140, 110, count)
    edges = rng.uniform(-1, 1, (count, 32)) * np.exp2(exponents[:, None])
    edges[:, 0] = np.nextafter(np.ldexp(F32(6), exponents).astype(F32), F32(np.inf))
    grid = np.array([0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6])
    ties = rng.choice(grid, (count, 32)) * np.where(rng.random((count, 32)) < 0.5, -1, 1)
    ties = ties * np.exp2(rng.integers(-100, 100, (count, 1)))
    ties[:, 0] = 6 * np.exp2(rng.integers(-100, 100, count))
    special = np.zeros((5, 32))
    special[1] = -0.0
    special[2] = np.where(rng.random(32) < 0.5, -1, 1) * np.exp2(rng.integers(-149, -40, 32))
    special[2, 0] = 2.0 ** 100
    special[3, 3] = np.inf
    special[4, 5] = np.nan
    return np.concatenate([gaussian, edges, ties, special]).astype(F32)


def test_mxfp4_quantize_equals_modelopt(mxfp4):
    """Every scale and code of the blocks, but for the NaN and infinity blocks (their uint8 conversion is
    undefined: block_nan, block_infinity = unpredictable)."""
    x = mx_blocks(np.random.default_rng(1530), 512)
    result, mask = block_quantize_outcomes(x, format=FP4, profile="modelopt-mxfp4")
    theirs = mxfp4.block_quantize(x, format=FP4)
    for field in ("scales", "codes"):
        wrong, compared = _differing(result[field], theirs[field], mask[field])
        assert wrong == 0, field
        assert compared == result[field].size - (2 if field == "scales" else 64), field
    # The rules the profile names, where they show: ties toward zero, every zero quotient code 8.
    ocp = block_quantize_outcomes(x, format=FP4, profile="ocp-mx", block_scale_rule="rceil_log2_float32")[0]
    assert (ocp["codes"] != theirs["codes"])[~mask["codes"]].sum() > 100


def test_mxfp4_dequantize_every_scale_and_code(mxfp4):
    """Scale 255 is 2^128 = +inf in modelopt: the infinities are compared, the NaNs of its zero codes open."""
    scales = np.arange(256, dtype=np.uint8).reshape(-1, 1)
    codes = np.tile(np.arange(16, dtype=np.uint8), (256, 2))
    values, mask = block_dequantize_outcomes(scales, codes, format=FP4, profile="modelopt-mxfp4")
    wrong, compared = _differing(values, mxfp4.block_dequantize(scales, codes, format=FP4), mask)
    assert wrong == 0 and compared == values.size - 4
    assert np.isinf(values[255]).sum() == 28


def test_mxfp4_declines_other_element_formats(mxfp4):
    with pytest.raises(NotImplementedError):
        mxfp4.block_quantize(np.ones((1, 32), F32), format="float8_e4m3fn")


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "ops"), [("modelopt-nvfp4", ("nvfp4_quantize", "nvfp4_dequantize")),
                                              ("modelopt-mxfp4", ("block_quantize", "block_dequantize"))])
def test_modelopt_conforms_to_its_profile(backend, ops):
    """The level-1 vectors through the harness: every case passes, or is unsupported (an MX element format
    other than FP4). Slow (a worker each, whose start-up imports modelopt); CI's `refq conform` runs the same
    level 1 on every built-in backend, and tests/test_engines_level2.py level 2."""
    results = run_cases(backend, case_paths(ops=list(ops)))
    assert results and all(result.status in ("pass", "unsupported") for result in results), \
        [(r.id, r.status, r.detail) for r in results if r.status not in ("pass", "unsupported")]
    assert {result.op for result in results if result.status == "pass"} == set(ops)


def test_fingerprints_name_modelopt(nvfp4, mxfp4):
    """Of BLK-8's quantize combinations modelopt-nvfp4's, and of BLK's modelopt-mxfp4's, is the one that explains
    modelopt's outputs opening the fewest elements (the others consistent differ by an unpredictable value:
    nvfp4_element_nan = payload, block_nan or block_infinity = unpredictable)."""
    from refq.conformance.fingerprint_block import NVFP4_PROFILES, PROFILES, fingerprint_block, fingerprint_nvfp4

    e4m3, fp4 = fingerprint_block(mxfp4)
    assert e4m3.status == "unsupported"
    (nvfp4_result,) = fingerprint_nvfp4(nvfp4)
    for result, expected in ((nvfp4_result, NVFP4_PROFILES["modelopt-nvfp4"]), (fp4, PROFILES["modelopt-mxfp4"])):
        assert result.status == "ok", result.detail
        assert result.variants == {name: [value] for name, value in expected.items()}
        assert expected in result.consistent
        assert all(combination == expected or {"payload", "unpredictable"} & set(combination.values())
                   for combination in result.consistent)
