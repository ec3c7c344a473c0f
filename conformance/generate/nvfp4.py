"""Cases for BLK-8, NVIDIA's NVFP4: ``nvfp4_quantize`` and ``nvfp4_dequantize``.

Every case runs under the three NVFP4 profiles, the error cases under ``torchao-nvfp4`` alone (the same
argument errors under each). The tensor scale is one value per array, so what depends on the tensor's amax
is a case of its own: a family tensor of amax 2048 (near-ties of every E2M1 midpoint under every block amax of
a list, so that the three arithmetic orders part; Gaussian blocks over a wide range of scales, which the
floors of the block scale part; zeros of both signs); an all-zero tensor; a NaN; an infinity; a tensor whose
scale amax / 2688 is float32's smallest subnormal; one near float32's largest. Dequantize runs every E4M3
scale byte with all sixteen codes under a normal tensor value, and the upper positive scale bytes under a
subnormal one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec

PROFILES = ("torchao-nvfp4", "modelopt-nvfp4", "transformer-engine-nvfp4")
ERROR_PROFILE = "torchao-nvfp4"
RANDOM_SEED = 1508
BLOCK = 16
F32 = np.float32
TENSOR_AMAX = F32(2048.0)
#: The E2M1 midpoints, where a scaled element is a tie.
MIDPOINTS = (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0)
#: Block amaxes of the near-tie blocks: small integers, halves and the neighbours of 896 (x = -256 ties there).
TIE_AMAXES = (1.0, 3.0, 7.5, 37.0, 128.0, 256.0, 300.0, 877.7143, 896.0, 1000.0, 1536.0, 2048.0)
#: Gaussian blocks per level, and the binary exponents they are scaled by.
GAUSSIAN_BLOCKS = {1: 48, 2: 8192}
GAUSSIAN_EXPONENTS = (-40, 9)


def tie_blocks() -> np.ndarray:
    """Per block amax b: one block per sign holding b and fl32(b t / 6) for each midpoint t with both float32
    neighbours (the exact tie of one order is a near-tie of another), then zeros."""
    blocks = []
    for amax in TIE_AMAXES:
        b = F32(amax)
        ties = np.array([F32(b * F32(t)) / F32(6.0) for t in MIDPOINTS], dtype=F32)
        near = np.concatenate([ties, np.nextafter(ties, F32(np.inf)), np.nextafter(ties, F32(0))])
        for sign in (F32(1.0), F32(-1.0)):
            body = np.zeros(2 * BLOCK, F32)
            body[0] = b
            body[BLOCK] = b
            values = (sign * near).astype(F32)
            body[1:1 + BLOCK - 1] = values[:BLOCK - 1]
            body[BLOCK + 1:BLOCK + 1 + values.size - (BLOCK - 1)] = values[BLOCK - 1:]
            blocks.append(body.reshape(2, BLOCK))
    return np.concatenate(blocks)


def family_tensor(level: int, rng: np.random.Generator) -> np.ndarray:
    """The family tensor, rows of 64 values (4 blocks), amax 2048 (its first element)."""
    count = GAUSSIAN_BLOCKS[level]
    gaussian = (rng.standard_normal((count, BLOCK))
                * np.exp2(rng.integers(*GAUSSIAN_EXPONENTS, (count, 1)))).astype(F32)
    zeros = np.where(rng.random((2, BLOCK)) < 0.5, F32(0.0), F32(-0.0)).astype(F32)
    head = np.zeros((1, BLOCK), F32)
    head[0, 0] = TENSOR_AMAX
    head[0, 1:] = (rng.uniform(-1, 1, BLOCK - 1) * 2048).astype(F32)
    blocks = np.concatenate([head, tie_blocks(), gaussian, zeros])
    padding = (-blocks.shape[0]) % 4
    blocks = np.concatenate([blocks, np.zeros((padding, BLOCK), F32)])
    return blocks.reshape(-1, 4 * BLOCK)


def special_tensors(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, str]]:
    def uniform(scale: float, rows: int = 2) -> np.ndarray:
        return (rng.uniform(-1, 1, (rows, 2 * BLOCK)) * scale).astype(F32)

    nan = uniform(3.0)
    nan[1, 5] = np.nan
    infinity = uniform(3.0)
    infinity[0, 20] = -np.inf
    # amax / 2688 is 1.4 of float32's smallest subnormal, rounded to 1: block scales a / (6 s) far above 448.
    tiny_amax = F32(2688 * 1.4 * 2.0 ** -149)
    subnormal_scale = (uniform(1.0, rows=4) * tiny_amax).astype(F32)
    subnormal_scale[0, 0] = tiny_amax
    huge = uniform(3.0e38)
    huge[0, 0] = np.finfo(F32).max
    return {
        "zeros": (np.zeros((1, 2 * BLOCK), F32), "an all-zero tensor: amax 0"),
        "nan": (nan, "a NaN makes the tensor amax NaN"),
        "infinity": (infinity, "an infinity makes the tensor amax infinite"),
        "subnormal-scale": (subnormal_scale, "amax 5.3e-42: amax / 2688 is float32's smallest subnormal, a / (6 s) "
                                             "overflows E4M3 without a ceiling"),
        "huge": (huge, "amax float32's largest"),
    }


def quantize_cases(level: int) -> Iterator[CaseSpec]:
    rng = np.random.default_rng([RANDOM_SEED, level])
    x = family_tensor(level, rng)
    yield CaseSpec(op="nvfp4_quantize", name=f"families{'-random' if level == 2 else ''}", inputs={"x": x},
                   attributes={}, clauses=(),
                   description=f"{x.size} values, tensor amax 2048: near-ties of every E2M1 midpoint under "
                               f"{len(TIE_AMAXES)} block amaxes, Gaussian blocks scaled by 2^-40 to 2^8, zeros "
                               "of both signs",
                   generator="nvfp4.quantize_cases", seed=RANDOM_SEED, profiles=PROFILES)
    if level != 1:
        return
    for name, (tensor, description) in special_tensors(rng).items():
        yield CaseSpec(op="nvfp4_quantize", name=name, inputs={"x": tensor}, attributes={}, clauses=(),
                       description=description, generator="nvfp4.quantize_cases", seed=RANDOM_SEED,
                       profiles=PROFILES)


def mixed_values(count: int, seed: int) -> np.ndarray:
    """Gaussian, uniform over 60 binades, Laplace and heavy-tailed values, a quarter each, rows of 1024: the
    engine tests' realistic tensor."""
    rng = np.random.default_rng(seed)
    quarter = count // 4
    parts = [rng.standard_normal(quarter), rng.uniform(-1, 1, quarter) * np.exp2(rng.integers(-30, 30, quarter)),
             rng.laplace(size=quarter) * 100, rng.standard_t(2, quarter)]
    return np.concatenate(parts).astype(np.float32).reshape(-1, 1024)


def every_scale_and_code() -> tuple[np.ndarray, np.ndarray]:
    """Block scales 0..255 (one block each, rows of 4 blocks) and every code in every block."""
    scales = np.arange(256, dtype=np.uint8).reshape(64, 4)
    codes = np.arange(16, dtype=np.uint8)
    pairs = (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8)
    return scales, np.tile(pairs, (64, 4))


def dequantize_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    scales, codes = every_scale_and_code()
    yield CaseSpec(op="nvfp4_dequantize", name="every-code",
                   inputs={"tensor_scale": np.array(F32(2048.0) / F32(2688.0), F32), "block_scales": scales,
                           "codes": codes},
                   attributes={}, clauses=(), description="every E4M3 scale byte with all 16 codes, tensor "
                                                          "value fl32(2048 / 2688)",
                   generator="nvfp4.dequantize_cases", seed=0, profiles=PROFILES)
    # The upper positive scale bytes (64 to 127, 2^-1 to NaN) under a subnormal tensor value: subnormal results.
    yield CaseSpec(op="nvfp4_dequantize", name="subnormal-tensor",
                   inputs={"tensor_scale": np.array(1e-40, F32), "block_scales": scales[16:32],
                           "codes": codes[16:32]},
                   attributes={}, clauses=(), description="scale bytes 64 to 127 with all 16 codes, tensor value "
                                                          "1e-40 (a subnormal)",
                   generator="nvfp4.dequantize_cases", seed=0, profiles=PROFILES)


def error_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    common = dict(clauses=(), generator="nvfp4.error_cases", seed=0, profiles=(ERROR_PROFILE,), outcome="error")
    yield CaseSpec(op="nvfp4_quantize", name="error-last-axis", inputs={"x": np.ones((2, 24), F32)},
                   attributes={}, description="a last axis of 24: 16 does not divide it", **common)
    yield CaseSpec(op="nvfp4_dequantize", name="error-block-scales-shape",
                   inputs={"tensor_scale": np.array(1.0, F32), "block_scales": np.zeros((2, 1), np.uint8),
                           "codes": np.zeros((2, 16), np.uint8)},
                   attributes={}, description="one block scale per row for two blocks per row: nothing is broadcast",
                   **common)
    yield CaseSpec(op="nvfp4_dequantize", name="error-tensor-scale-shape",
                   inputs={"tensor_scale": np.ones(2, F32), "block_scales": np.zeros((1, 1), np.uint8),
                           "codes": np.zeros((1, 8), np.uint8)},
                   attributes={}, description="two tensor scales for one tensor", **common)


GENERATORS = (quantize_cases, dequantize_cases, error_cases)
