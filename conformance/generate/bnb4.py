"""Cases for BLK-7, bitsandbytes' NF4 and FP4: ``bnb4_quantize`` and ``bnb4_dequantize``.

Every case runs under both profiles (``bitsandbytes-cpu`` and ``onnxruntime-bnb4``), the error cases under
``bitsandbytes-cpu`` alone (the same argument errors under either). Quantize inputs are blocks of 64, one
family per block: every selection threshold of both rules (the float32 midpoints and the decision tree's
literals) with its float32 neighbours, in a block of absmax 1; Gaussian blocks over a wide range of scales;
zeros of both signs; a NaN; an infinity; absmaxes below 1e-38 and below 2^-128 (where the two reciprocals part)
and near float32's largest (whose reciprocal is subnormal); then a last, partial block, so the size is odd
(the tail rule and the padding nibble). Dequantize inputs are every byte, so every pair of codes, under
absmaxes from the smallest subnormal to infinity and NaN.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.block.bnb4_tables import bnb4_table
from refq.conformance.generate.case_spec import CaseSpec

PROFILES = ("bitsandbytes-cpu", "onnxruntime-bnb4")
QUANT_TYPES = ("nf4", "fp4")
RANDOM_SEED = 1507
BLOCK = 64
F32 = np.float32
#: Gaussian blocks per case, and the length of the last, partial block.
GAUSSIAN_BLOCKS = {1: 3, 2: 1024}
TAIL = 37
#: Absmax values of the dequantize cases, one per block (16 blocks of 64 hold every byte twice).
DEQUANTIZE_ABSMAX = (1.0, 0.5, 3.0, 1.5e-45, 0.0, -1.5, 2.0 ** -127, 1e-38, 0.1, 7.0, 3.0e38, np.finfo(F32).max,
                     np.inf, np.nan, 65504.0, 2.0 ** -126)


def thresholds(quant_type: str) -> np.ndarray:
    """Every threshold of both selection rules for ``quant_type`` (the tree's on both signs where it compares
    magnitudes), each with its float32 neighbours, sorted."""
    table = bnb4_table(quant_type)
    tree = np.concatenate([table.tree, -table.tree]) if table.tree_on_magnitude else table.tree
    points = np.unique(np.concatenate([table.midpoints, tree]).astype(F32))
    neighbours = np.concatenate([points, np.nextafter(points, F32(np.inf)), np.nextafter(points, F32(-np.inf))])
    return np.unique(neighbours.astype(F32))


def threshold_blocks(quant_type: str) -> np.ndarray:
    """Blocks of absmax 1 (element 0 is 1.0) holding every value of :func:`thresholds`, zeros after."""
    values = thresholds(quant_type)
    per_block = BLOCK - 1
    count = -(-values.size // per_block)
    body = np.zeros(count * per_block, F32)
    body[:values.size] = values
    return np.concatenate([np.ones((count, 1), F32), body.reshape(count, per_block)], axis=1)


def special_blocks(rng: np.random.Generator) -> np.ndarray:
    def scaled(scale: float) -> np.ndarray:
        return (rng.uniform(-1, 1, BLOCK) * scale).astype(F32)

    zeros = np.where(rng.random(BLOCK) < 0.5, F32(0.0), F32(-0.0)).astype(F32)
    nan = scaled(1.0)
    nan[7] = np.nan
    infinity = scaled(1.0)
    infinity[3] = -np.inf
    below_floor = scaled(5e-39)  # absmax below bitsandbytes' 1e-38 clamp
    below_reciprocal = scaled(2.0 ** -130)  # 1 / absmax overflows: ONNX Runtime scales to infinities
    below_reciprocal[::5] = 0.0
    near_max = scaled(3.4e38)  # a subnormal reciprocal
    near_max[0] = np.finfo(F32).max
    return np.stack([zeros, nan, infinity, below_floor, below_reciprocal, near_max])


def quantize_input(quant_type: str, level: int, rng: np.random.Generator) -> np.ndarray:
    gaussian = (rng.standard_normal((GAUSSIAN_BLOCKS[level], BLOCK))
                * np.exp2(rng.integers(-60, 60, (GAUSSIAN_BLOCKS[level], 1)))).astype(F32)
    tail = (rng.standard_normal(TAIL) * 3.0).astype(F32)
    return np.concatenate([threshold_blocks(quant_type).reshape(-1), gaussian.reshape(-1),
                           special_blocks(rng).reshape(-1), tail]).astype(F32)


def quantize_cases(level: int) -> Iterator[CaseSpec]:
    for index, quant_type in enumerate(QUANT_TYPES):
        rng = np.random.default_rng([RANDOM_SEED, index, level])
        x = quantize_input(quant_type, level, rng)
        yield CaseSpec(op="bnb4_quantize", name=f"{quant_type}-families{'-random' if level == 2 else ''}",
                       inputs={"x": x}, attributes={"quant_type": quant_type, "block_size": BLOCK}, clauses=(),
                       description=f"{quant_type}: {x.size} values in blocks of {BLOCK}: every threshold and its "
                                   "neighbours, Gaussian blocks, zeros, a NaN, an infinity, tiny and near-overflow "
                                   f"blocks, a last block of {TAIL}",
                       generator="bnb4.quantize_cases", seed=RANDOM_SEED, profiles=PROFILES)


def dequantize_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    codes = np.tile(np.arange(256, dtype=np.uint8), 2)
    absmax = np.array(DEQUANTIZE_ABSMAX, dtype=F32)
    for quant_type in QUANT_TYPES:
        yield CaseSpec(op="bnb4_dequantize", name=f"{quant_type}-every-code",
                       inputs={"absmax": absmax, "codes": codes},
                       attributes={"quant_type": quant_type, "block_size": BLOCK, "size": None}, clauses=(),
                       description=f"{quant_type}: every byte twice, under {absmax.size} absmax values from the "
                                   "smallest subnormal to infinity and NaN",
                       generator="bnb4.dequantize_cases", seed=0, profiles=PROFILES)


def error_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    common = dict(clauses=(), generator="bnb4.error_cases", seed=0, profiles=("bitsandbytes-cpu",), outcome="error")
    yield CaseSpec(op="bnb4_quantize", name="error-unknown-table", inputs={"x": np.ones(64, F32)},
                   attributes={"quant_type": "int4", "block_size": 64},
                   description="int4: not a 4-bit code table of BLK-7.1", **common)
    yield CaseSpec(op="bnb4_dequantize", name="error-absmax-length",
                   inputs={"absmax": np.ones(2, F32), "codes": np.zeros(32, np.uint8)},
                   attributes={"quant_type": "nf4", "block_size": 64, "size": None},
                   description="two absmax values for one block of 64 codes: nothing is broadcast", **common)
    yield CaseSpec(op="bnb4_dequantize", name="error-size",
                   inputs={"absmax": np.ones(1, F32), "codes": np.zeros(32, np.uint8)},
                   attributes={"quant_type": "nf4", "block_size": 64, "size": 66},
                   description="66 values do not fit in 32 bytes", **common)


GENERATORS = (quantize_cases, dequantize_cases, error_cases)
