"""BLK-8, NVIDIA's NVFP4: refq against the exact oracle (tests/oracle/nvfp4.py) on near-ties, Gaussian blocks
over a wide range of scales, zeros, NaN, infinities and tiny and huge tensors under every profile and every
variant value, compiled and interpreted; dequantize of every scale byte and code; the masks; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.block.nvfp4 import (DEQUANTIZE_VARIANTS, QUANTIZE_VARIANTS, nvfp4_dequantize, nvfp4_dequantize_outcomes,
                              nvfp4_quantize, nvfp4_quantize_outcomes)
from refq.conformance.generate.nvfp4 import PROFILES, every_scale_and_code, family_tensor, special_tensors
from refq.errors import RefqError
from refq.registry.profiles import EVERY_PROFILE_BY_NAME
from refq.registry.variants import VARIANTS
from tests.oracle import nvfp4 as oracle

F32 = np.float32
VALUES = {variant.name: [value.name for value in variant.values] for variant in VARIANTS
          if variant.operation == "block_nvfp4"}


def profile_variants(profile: str) -> dict:
    return dict(EVERY_PROFILE_BY_NAME[profile].nvfp4)


def tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(15)
    chosen = {"families": family_tensor(1, rng)}
    chosen.update({name: tensor for name, (tensor, _) in special_tensors(rng).items()})
    return chosen


TENSORS = tensors()


def unpack(packed: np.ndarray) -> np.ndarray:
    flat = packed.reshape(-1)
    return np.stack([flat & 0xF, flat >> 4], axis=1).reshape(-1)


def check_against_oracle(x: np.ndarray, variants: dict) -> None:
    result, mask = nvfp4_quantize_outcomes(x, profile="torchao-nvfp4",
                                           **{name: variants[name] for name in QUANTIZE_VARIANTS})
    stored, scales, codes = oracle.quantize(x.astype(float).tolist(), variants)
    tensor_scale = result["tensor_scale"]
    if stored == oracle.NAN:
        assert np.isnan(tensor_scale) and mask["tensor_scale"]
    elif oracle.is_inf(stored):
        assert np.isinf(tensor_scale) and np.sign(tensor_scale) == stored[1]
    else:
        assert tensor_scale == stored
    refq_scales = result["block_scales"].reshape(-1)
    scale_mask = np.zeros(refq_scales.size, bool) if mask is None else mask["block_scales"].reshape(-1)
    for index, code in enumerate(scales):
        if code is None:
            assert scale_mask[index] and refq_scales[index] & 0x7F == 0x7F, index
        else:
            assert not scale_mask[index] and refq_scales[index] == code, (index, refq_scales[index], code)
    refq_codes = unpack(result["codes"])
    byte_mask = np.zeros(result["codes"].size, bool) if mask is None else mask["codes"].reshape(-1)
    for index, code in enumerate(codes):
        if code is None:
            assert byte_mask[index // 2], index
        elif not byte_mask[index // 2]:
            assert refq_codes[index] == code, (index, refq_codes[index], code)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", sorted(TENSORS))
def test_quantize_is_the_oracle_under_every_profile(profile, name):
    check_against_oracle(TENSORS[name], profile_variants(profile))


@pytest.mark.parametrize(("variant", "value"), [(name, value) for name in QUANTIZE_VARIANTS for value in VALUES[name]])
def test_quantize_is_the_oracle_under_every_variant_value(variant, value):
    """Each value of each variant, the others torchao's, on the family tensor and the tiny and zero tensors."""
    variants = {name: v for name, v in profile_variants("torchao-nvfp4").items() if name in QUANTIZE_VARIANTS}
    variants[variant] = value
    for name in ("families", "subnormal-scale", "zeros"):
        check_against_oracle(TENSORS[name], variants)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's scalars warn of the infinities IEEE 754 gives
@pytest.mark.parametrize("profile", PROFILES)
def test_compiled_and_interpreted_give_the_same_bits(profile):
    for name, x in TENSORS.items():
        compiled, compiled_mask = nvfp4_quantize_outcomes(x, profile=profile)
        with pure_python():
            interpreted, interpreted_mask = nvfp4_quantize_outcomes(x, profile=profile)
        assert compiled.tobytes() == interpreted.tobytes(), name
        assert (compiled_mask is None) == (interpreted_mask is None), name
        if compiled_mask is not None:
            assert compiled_mask.tobytes() == interpreted_mask.tobytes(), name
    scales, codes = every_scale_and_code()
    stored = np.array(0.75, F32)
    compiled = nvfp4_dequantize(stored, scales, codes, profile=profile)
    with pure_python():
        interpreted = nvfp4_dequantize(stored, scales, codes, profile=profile)
    assert compiled.tobytes() == interpreted.tobytes()


@pytest.mark.parametrize("formula", VALUES["nvfp4_dequantize_scale"])
@pytest.mark.parametrize("stored", [F32(2048) / F32(2688), F32(1e-40), F32(3.0e38), F32(0.0), F32(np.inf)])
def test_dequantize_is_the_oracle_on_every_scale_and_code(formula, stored):
    scales, codes = every_scale_and_code()
    out, mask = nvfp4_dequantize_outcomes(np.array(stored, F32), scales, codes, profile="torchao-nvfp4",
                                          nvfp4_dequantize_scale=formula)
    expected = oracle.dequantize(oracle.from_float(float(stored)), scales.reshape(-1).tolist(),
                                 unpack(codes).tolist(), {"nvfp4_dequantize_scale": formula})
    flat = out.reshape(-1)
    nan = np.isnan(flat)
    assert (mask is None) == (not nan.any())
    for index, value in enumerate(expected):
        if value == oracle.NAN:
            assert nan[index], index
        elif oracle.is_inf(value):
            assert np.isinf(flat[index]) and np.sign(flat[index]) == value[1], index
        else:
            assert flat[index] == float(value), (index, flat[index], value)


def test_dequantize_keeps_the_sign_of_zero_codes():
    out = nvfp4_dequantize(np.array(1.0, F32), np.full((1, 1), 0x38, np.uint8), np.full((1, 8), 0x80, np.uint8))
    assert np.signbit(out[0, 1::2]).all() and not np.signbit(out[0, 0::2]).any()


def test_the_three_profiles_part_where_the_text_says():
    """BLK-8.2's tie (x = -256, block amax 896, tensor amax 2048), an all-zero tensor, and -0."""
    x = np.zeros((1, 32), F32)
    x[0, 0], x[0, 1], x[0, 16] = -256, 896, 2048
    codes = {profile: nvfp4_quantize(x, profile=profile)[2][0, 0] & 0xF for profile in PROFILES}
    assert codes == {"torchao-nvfp4": 12, "modelopt-nvfp4": 11, "transformer-engine-nvfp4": 11}
    zeros = {profile: nvfp4_quantize(np.zeros((1, 16), F32), profile=profile) for profile in PROFILES}
    assert zeros["torchao-nvfp4"][1][0, 0] & 0x7F == 0x7F
    assert zeros["modelopt-nvfp4"][2][0, 0] == 0x77  # NaN elements take code 7
    assert zeros["transformer-engine-nvfp4"][1][0, 0] == 0 and not zeros["transformer-engine-nvfp4"][2].any()
    negative = np.array([[1.0] + [-0.0] * 15], F32)
    assert nvfp4_quantize(negative, profile="torchao-nvfp4")[2][0, 1] == 0x88
    assert nvfp4_quantize(negative, profile="modelopt-nvfp4")[2][0, 1] == 0x00


def test_shapes_follow_the_last_axis():
    x = np.random.default_rng(3).standard_normal((2, 3, 32)).astype(F32)
    tensor_scale, scales, codes = nvfp4_quantize(x)
    assert tensor_scale.shape == () and tensor_scale.dtype == F32
    assert scales.shape == (2, 3, 2) and codes.shape == (2, 3, 16)
    assert nvfp4_dequantize(tensor_scale, scales, codes).shape == x.shape
    flat = nvfp4_quantize(x.reshape(-1))
    assert flat[1].tobytes() == scales.tobytes() and flat[2].tobytes() == codes.tobytes()


BAD_QUANTIZE = [
    (lambda: nvfp4_quantize(np.ones(24, F32)), "x"),
    (lambda: nvfp4_quantize(np.ones((2, 0), F32)), "x"),
    (lambda: nvfp4_quantize(np.ones(16, np.int32)), "x"),
    (lambda: nvfp4_quantize(np.ones(16, F32), profile="ocp-mx"), "profile"),
    (lambda: nvfp4_quantize_outcomes(np.ones(16, F32), nvfp4_scale_floor="zero"), "nvfp4_scale_floor"),
]
BAD_DEQUANTIZE = [
    (lambda: nvfp4_dequantize(np.ones(1, F32), np.zeros(1, np.uint8), np.zeros(8, np.uint8)), "tensor_scale"),
    (lambda: nvfp4_dequantize(np.array(1.0), np.zeros(1, np.uint8), np.zeros(8, np.uint8)), "tensor_scale"),
    (lambda: nvfp4_dequantize(np.array(1.0, F32), np.zeros(2, np.uint8), np.zeros(8, np.uint8)), "block_scales"),
    (lambda: nvfp4_dequantize(np.array(1.0, F32), np.zeros(1, np.int8), np.zeros(8, np.uint8)), "block_scales"),
    (lambda: nvfp4_dequantize(np.array(1.0, F32), np.zeros(1, np.uint8), np.zeros(6, np.uint8)), "codes"),
    (lambda: nvfp4_dequantize(np.array(1.0, F32), np.zeros(1, np.uint8), np.zeros(8, F32)), "codes"),
]


@pytest.mark.parametrize(("call", "argument"), BAD_QUANTIZE + BAD_DEQUANTIZE)
def test_bad_input_is_an_error_naming_the_argument(call, argument):
    with pytest.raises(RefqError, match=argument):
        call()


def test_every_variant_is_a_keyword_of_its_operation():
    assert set(QUANTIZE_VARIANTS) | set(DEQUANTIZE_VARIANTS) == set(VALUES)
    for profile in PROFILES:
        assert set(EVERY_PROFILE_BY_NAME[profile].nvfp4) == set(VALUES)


class ProfileBackend:
    """refq itself under one NVFP4 profile, as a backend for the fingerprint."""

    version = ""

    def __init__(self, profile: str) -> None:
        self.name = self.profile = profile

    def nvfp4_quantize(self, x):
        return nvfp4_quantize_outcomes(x, profile=self.profile)[0]


@pytest.mark.parametrize("profile", ["modelopt-nvfp4", "transformer-engine-nvfp4"])
def test_fingerprint_names_each_profiles_values(profile):
    """BLK-8's fingerprint chapter: of the 216 combinations, the profile's is the most specific consistent one
    (``payload``, which leaves NaN codes open, is consistent beside its NaN rule and nothing else is)."""
    from refq.conformance.fingerprint_block import NVFP4_PROFILES, fingerprint_nvfp4

    (result,) = fingerprint_nvfp4(ProfileBackend(profile))
    assert result.status == "ok", result.detail
    assert result.variants == {name: [value] for name, value in NVFP4_PROFILES[profile].items()}
    others = [{name: value for name, value in combination.items() if value != NVFP4_PROFILES[profile][name]}
              for combination in result.consistent]
    assert sorted(others, key=len) == [{}, {"nvfp4_element_nan": "payload"}]
