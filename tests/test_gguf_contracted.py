"""GGF-4.2: ggml's quantizers as gcc 12 -O2 -march=x86-64-v3 -mtune=znver3 compiles them
(``gguf_contraction = gcc_x86_64``, the ``ggml-native`` profile), against that very build: ``refq
ggml build``'s fused library, whose fixed target makes its bytes the same on every CPU that runs it.
Each type is checked on inputs where the fused build's bytes differ from the unfused build's, so
that the check tells the two apart."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.backends import ggml_build
from refq.backends.ggml import GgmlNativeBackend
from refq.errors import RefqValueError
from refq.gguf import BLOCK_TYPES, block_type
from refq.gguf.api import FUSED_TYPES, UNPLACED_TYPES, gguf_quantize_outcomes, gguf_quantize_with_outcomes
from refq.gguf.contracted import symmetric_search_placed
from tests import gguf_ggml as ggml

needs_fused_build = [
    pytest.mark.skipif(ggml.unavailable_reason() is not None, reason=str(ggml.unavailable_reason())),
    pytest.mark.skipif(bool(ggml_build.missing_cpu_flags()),
                       reason=f"the fused build (x86-64-v3) cannot run here: the CPU lacks "
                              f"{', '.join(ggml_build.missing_cpu_flags())}"),
]
LEGACY = {"Q4_0": (16, False), "Q5_0": (32, False), "Q4_1": (16, True), "Q5_1": (32, True)}


def near_ties(name: str, blocks: int, seed: int) -> np.ndarray:
    """Blocks whose elements sit on, or one ulp beside, the midpoints of their own grid: where
    ``x * id + offset`` in one rounding or two truncates differently."""
    levels, asymmetric = LEGACY[name]
    rng = np.random.default_rng(seed)
    n = 32 * blocks
    step = rng.uniform(0.5, 2, blocks).astype(np.float32).repeat(32)
    if asymmetric:
        x = ((rng.integers(0, levels - 1, n) + 0.5) * step).astype(np.float32)
        x[::32], x[1::32] = 0, (levels - 1) * step[1::32]
    else:
        x = ((rng.integers(-levels // 2, levels // 2, n) + 0.5) * step).astype(np.float32)
        x[::32] = -(levels // 2) * step[::32]
    x = np.where(rng.random(n) < 0.3, np.nextafter(x, np.float32(np.inf)), x)
    return np.where(rng.random(n) < 0.3, np.nextafter(x, np.float32(-np.inf)), x).astype(np.float32)


def mixed_super_blocks(blocks: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = rng.choice([0.01, 1, 100], blocks).repeat(256)
    return (rng.standard_normal(256 * blocks) * scale).astype(np.float32)


def q3_k_near_ties(blocks: int, seed: int) -> np.ndarray:
    """Super-blocks whose sub-blocks of 16 hold half-integer multiples of a step, one ulp beside or on
    them, the largest magnitude ``-4 step``: ``nearest_int(iscale * x)`` sits on its ties, where the
    product rounded once or twice decides (random super-blocks differ in about 1 in 10,000)."""
    rng = np.random.default_rng(seed)
    n = 256 * blocks
    step = rng.uniform(0.5, 2, n // 16).astype(np.float32).repeat(16)
    x = ((rng.integers(-4, 4, n) + 0.5) * step).astype(np.float32)
    x[::16] = -4 * step[::16]
    x = np.where(rng.random(n) < 0.3, np.nextafter(x, np.float32(np.inf)), x)
    return np.where(rng.random(n) < 0.3, np.nextafter(x, np.float32(-np.inf)), x).astype(np.float32)


def inputs(name: str) -> np.ndarray:
    if name in LEGACY:
        return near_ties(name, 4096, 31)
    if name == "Q3_K":
        return np.concatenate([q3_k_near_ties(1024, 35), mixed_super_blocks(1024, 32)])
    # Q8_K's only FMA is its codes' nearest_int: about 1 super-block in 1,500 changes; IQ4_NL's are its
    # two sums, about 1 block of 32 in 16,000 (8 of these 131,072).
    return mixed_super_blocks(16_384 if name in ("Q8_K", "IQ4_NL") else 2048, 32)


@needs_fused_build[0]
@needs_fused_build[1]
@pytest.mark.parametrize("name", FUSED_TYPES)
def test_fused_types_match_the_fused_build(name):
    x = inputs(name)
    rows = block_type(name).block_bytes
    ours, unpredictable = gguf_quantize_outcomes(x, type=name, profile="ggml-native")
    ours, unpredictable = ours.reshape(-1, rows), unpredictable.reshape(-1, rows).any(axis=1)
    fused = ggml.quantize("fused", name, x).reshape(-1, rows)
    unfused = ggml.quantize("unfused", name, x).reshape(-1, rows)
    differs = (fused != unfused).any(axis=1) & ~unpredictable
    assert differs.sum() > 0, "these inputs do not tell the builds apart"
    mismatched = (ours != fused).any(axis=1) & ~unpredictable
    assert not mismatched.any(), f"{int(mismatched.sum())} of {len(ours)} blocks differ from the fused build"


@needs_fused_build[0]
@needs_fused_build[1]
def test_nvfp4_is_the_reference_in_the_fused_build():
    """NVFP4's FMAs in the fused build have exact products (``|k d - x|``, UE4M3's ``v * 512 + 0.5`` and
    ``1 + m / 8``, GGF-4.2): under ``ggml-native`` it is the reference, byte for byte that build's, on
    scales swept over UE4M3's range (its subnormal codes included) and elements on or beside its levels'
    midpoints."""
    rng = np.random.default_rng(33)
    n = 64 * 8192
    swept = rng.uniform(-1, 1, n) * (6 * 2.0 ** rng.uniform(-14, 10, n // 16)).repeat(16)
    midpoints = np.array([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12], np.float32)
    ties = rng.choice(midpoints, n) * (2.0 ** rng.integers(-10, 8, n // 16)).repeat(16) * rng.choice([-1, 1], n)
    ties = ties.astype(np.float32)
    beside = np.nextafter(ties, rng.choice([-np.inf, np.inf], n).astype(np.float32))
    ties = np.where(rng.random(n) < 2 / 3, beside, ties)
    x = np.concatenate([swept.astype(np.float32), ties.astype(np.float32), mixed_super_blocks(256, 34)])
    native, unpredictable = gguf_quantize_outcomes(x, type="NVFP4", profile="ggml-native")
    reference, _ = gguf_quantize_outcomes(x, type="NVFP4", profile="ggml")
    assert not unpredictable.any()
    assert np.array_equal(native, reference)
    assert np.array_equal(native, ggml.quantize("fused", "NVFP4", x))


def test_q6_k_inputs_tell_the_trial_placements_apart():
    """The Q6_K inputs above exercise the placement of make_qx_quants's trial sums: fused (the
    fixed x86-64-v3 build) and unfused (gcc's AVX-512 vectorisation of that loop, -march=native on
    an AVX-512 CPU) keep another trial or another scale on some sub-blocks, so the comparison with
    the build checks that placement too."""
    x = inputs("Q6_K")
    codes = np.zeros(256, np.int32)
    searches = differ = 0
    for base in range(0, x.size, 256):
        for start in range(0, 256, 16):
            scalar = symmetric_search_placed(x[base:base + 256], start, 16, 32, codes, False)
            vectorised = symmetric_search_placed(x[base:base + 256], start, 16, 32, codes, True)
            searches += 1
            differ += (scalar[2], scalar[0]) != (vectorised[2], vectorised[0])
    assert searches == 2048 * 16 and differ > 0


def test_native_backend_names_the_missing_instructions(monkeypatch):
    """Without x86-64-v3's instructions the fused build cannot run: the backend is unavailable, and
    says which the CPU lacks."""
    assert ggml_build.missing_cpu_flags("flags\t: fpu sse sse2 pni ssse3 sse4_1 sse4_2 popcnt cx16 lahf_lm avx") == [
        "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]
    assert ggml_build.missing_cpu_flags("") == list(ggml_build.FUSED_CPU_FLAGS)
    monkeypatch.setattr(ggml_build, "missing_cpu_flags", lambda: ["avx2", "fma"])
    with pytest.raises(ggml_build.GgmlUnavailable, match="x86-64-v3.*lacks avx2, fma"):
        GgmlNativeBackend()


@pytest.mark.parametrize("name", FUSED_TYPES)
def test_fused_compiled_equals_interpreted(name):
    x = inputs(name)[: 8 * block_type(name).block_elements]
    compiled = gguf_quantize_with_outcomes(x, type=name, contraction="gcc_x86_64")
    with pure_python():
        interpreted = gguf_quantize_with_outcomes(x, type=name, contraction="gcc_x86_64")
    assert np.array_equal(compiled[0], interpreted[0]) and np.array_equal(compiled[1], interpreted[1])


def test_unfused_profile_is_unchanged_by_the_fused_kernels():
    """The reference (``ggml``) still gives the unfused build's bytes where the fused build differs."""
    if ggml.unavailable_reason() is not None:
        pytest.skip(str(ggml.unavailable_reason()))
    for name in ("Q4_0", "Q4_K", "Q6_K"):
        x = inputs(name)
        ours, _ = gguf_quantize_outcomes(x, type=name, profile="ggml")
        assert np.array_equal(ours, ggml.quantize("unfused", name, x)), name


@pytest.mark.parametrize("name", [kind.name for kind in BLOCK_TYPES if kind.quantize])
def test_unplaced_types_are_refused_under_gcc_x86_64(name):
    """A type whose FMAs GGF-4.2 does not place (none now) is refused under ggml-native; every other
    quantizes there."""
    x = np.zeros(block_type(name).block_elements, np.float32)
    if name in UNPLACED_TYPES:
        with pytest.raises(RefqValueError, match="type"):
            gguf_quantize_outcomes(x, type=name, profile="ggml-native")
    else:
        gguf_quantize_outcomes(x, type=name, profile="ggml-native")


def test_contracted_leaves_the_affected_types_open():
    x = mixed_super_blocks(2, 5)
    _, open_bytes = gguf_quantize_outcomes(x, type="Q4_K", profile="ggml", gguf_contraction="contracted")
    assert open_bytes.all()
    _, open_bytes = gguf_quantize_outcomes(x[:64], type="Q8_0", profile="ggml", gguf_contraction="contracted")
    assert not open_bytes.any()
    with pytest.raises(RefqValueError, match="contraction"):
        gguf_quantize_with_outcomes(x, type="Q4_K", contraction="fast")
