"""BLK-8 against the real engine: torchao's NVFP4 (the torchao-nvfp4 backend) equals the torchao-nvfp4 profile on
every tensor scale, block scale and code of 2^20 mixed values and of the generator's constructed tensors
(near-ties, zeros, NaN, infinity, a subnormal tensor scale, float32's largest), and on dequantize of every E4M3
scale byte with every code under several tensor scales. The bytes the profile leaves open are skipped and
counted: the comparison must cover nearly everything."""

from __future__ import annotations

import numpy as np
import pytest

from refq.block.nvfp4 import nvfp4_dequantize_outcomes, nvfp4_quantize_outcomes
from refq.conformance.generate.nvfp4 import every_scale_and_code, family_tensor, mixed_values, special_tensors

pytest.importorskip("torchao")
F32 = np.float32


@pytest.fixture(scope="module")
def engine():
    from refq.backends.torchao_nvfp4 import TorchaoNvfp4Backend

    return TorchaoNvfp4Backend()


def differing(refq_record: np.ndarray, mask, engine_record: np.ndarray) -> tuple[dict, int]:
    """Per field, the elements that differ where the profile predicts them, and how many were compared."""
    counts, compared = {}, 0
    for field in ("tensor_scale", "block_scales", "codes"):
        ours = np.asarray(refq_record[field])
        theirs = np.asarray(engine_record[field])
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, field
        if ours.dtype == F32:
            ours, theirs = ours.view(np.uint32), theirs.view(np.uint32)
        open_bits = np.zeros(ours.shape, bool) if mask is None else np.asarray(mask[field])
        counts[field] = int(np.count_nonzero((ours != theirs) & ~open_bits))
        compared += int(np.count_nonzero(~open_bits))
    return counts, compared


def check_quantize(engine, x: np.ndarray) -> int:
    result, mask = nvfp4_quantize_outcomes(x, profile="torchao-nvfp4")
    counts, compared = differing(result, mask, engine.nvfp4_quantize(x))
    assert counts == {"tensor_scale": 0, "block_scales": 0, "codes": 0}
    values, value_mask = nvfp4_dequantize_outcomes(result["tensor_scale"], result["block_scales"], result["codes"],
                                                   profile="torchao-nvfp4")
    theirs = engine.nvfp4_dequantize(result["tensor_scale"], result["block_scales"], result["codes"])
    open_values = np.zeros(values.shape, bool) if value_mask is None else value_mask
    assert not np.count_nonzero((values.view(np.uint32) != theirs.view(np.uint32)) & ~open_values)
    assert np.array_equal(np.isnan(values), np.isnan(theirs))
    return compared


def test_mixed_values(engine):
    """2^20 mixed values: the tensor scale, 65,536 block scales and 524,288 code bytes, every one predicted."""
    x = mixed_values(1 << 20, 1508)
    assert check_quantize(engine, x) == 1 + x.size // 16 + x.size // 2


def test_the_generator_tensors(engine):
    rng = np.random.default_rng(1509)
    check_quantize(engine, family_tensor(1, rng))
    for name, (tensor, _) in special_tensors(rng).items():
        compared = check_quantize(engine, tensor)
        if name not in ("zeros", "nan"):  # NaN scales leave every byte open there
            assert 2 * compared >= 1 + tensor.size // 16 + tensor.size // 2, name


def test_wide_range_rows_hit_the_floor(engine):
    """Rows scaled by 2^-140 to 2^100 in one tensor: most blocks' scales reach torchao's 2^-6 floor."""
    rng = np.random.default_rng(1510)
    x = (rng.standard_normal((64, 256)) * np.exp2(rng.integers(-140, 100, (64, 1)))).astype(F32)
    check_quantize(engine, x)
    scales = nvfp4_quantize_outcomes(x, profile="torchao-nvfp4")[0]["block_scales"]
    assert (scales == 0x08).mean() > 0.5


@pytest.mark.parametrize("stored", [F32(2048) / F32(2688), F32(1.0), F32(1e-40), F32(3.0e38), F32(0.0)])
def test_dequantize_every_scale_and_code(engine, stored):
    scales, codes = every_scale_and_code()
    tensor_scale = np.array(stored, F32)
    values, mask = nvfp4_dequantize_outcomes(tensor_scale, scales, codes, profile="torchao-nvfp4")
    theirs = engine.nvfp4_dequantize(tensor_scale, scales, codes)
    open_values = np.zeros(values.shape, bool) if mask is None else mask
    assert not np.count_nonzero((values.view(np.uint32) != theirs.view(np.uint32)) & ~open_values)
    assert np.array_equal(np.isnan(values), np.isnan(theirs))
    assert open_values.mean() < 0.1  # 0 * inf: a zero code times an overflowed scale


def test_fingerprint_names_torchao(engine):
    """Of the 216 combinations of BLK-8's quantize variants, only torchao-nvfp4's explains torchao's outputs on
    the fingerprint's probes (its NaN codes follow the NaN's bits: neither 7 nor 0)."""
    from refq.conformance.fingerprint_block import NVFP4_PROFILES, fingerprint_nvfp4

    (result,) = fingerprint_nvfp4(engine)
    assert result.status == "ok", result.detail
    assert result.consistent == [NVFP4_PROFILES["torchao-nvfp4"]]
