"""Cases for chapter BLK, the block-scaled formats (OCP MX): ``block_quantize`` and ``block_dequantize``.

Every case runs under each BLK profile (``ocp-mx``, torchao's four scale modes, modelopt's MXFP4), except the error
cases, which are the same argument errors under every profile and run under ``ocp-mx`` alone.

Quantize inputs are blocks of 32, one family per block, so that every family meets every element
format: Gaussian blocks over the whole float32 range; amaxes just above and below powers of two and
just above ``max_elem * 2^k`` (where the float32 logarithm of rceil_log2_float32 rounds down); ties at
every element step (each block's largest element is the format's largest normal times a power of two,
the others element values and the midpoints between neighbours); blocks of zeros of both signs;
subnormal and tiny blocks (scale code 0); near-overflow blocks; an infinity; a NaN; tiny elements beside a
huge one, whose quotients underflow to zero. Dequantize
inputs are every element code under scales from 0 to 255 (every code meets the smallest, the
largest, the NaN scale and a spread between).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from refq.block.elements import ELEMENT_FORMATS, element_values
from refq.conformance.generate.case_spec import CaseSpec

PROFILES = ("ocp-mx", "torchao-floor", "torchao-ceil", "torchao-even", "torchao-rceil", "modelopt-mxfp4")
RANDOM_SEED = 1515
#: Blocks of each random family per case.
BLOCKS_PER_FAMILY = {1: 2, 2: 64}
#: Scale codes of the dequantize cases.
DEQUANTIZE_SCALES = {1: (0, 1, 2, 3, 64, 120, 126, 127, 128, 134, 200, 250, 253, 254, 255), 2: tuple(range(256))}
F32 = np.float32
BLOCK = 32


def _gaussian(rng: np.random.Generator, count: int) -> np.ndarray:
    return (rng.standard_normal((count, BLOCK)) * np.exp2(rng.integers(-140, 120, (count, 1)))).astype(F32)


def _power_of_two_edges(fmt, rng: np.random.Generator, count: int) -> np.ndarray:
    """Blocks whose amax is 2^k, one ulp above or below, or max_elem * 2^k one ulp above."""
    blocks = (rng.uniform(-0.5, 0.5, (count, BLOCK))).astype(F32)
    for i in range(count):
        k = int(rng.integers(-126, 120))
        power = F32(math.ldexp(1.0, k))
        scaled = math.ldexp(fmt.max_normal, k)
        above_max = np.nextafter(F32(scaled), F32(np.inf)) if scaled < 2.0 ** 127 else power
        edge = (power, np.nextafter(power, F32(np.inf)), np.nextafter(power, F32(0)), above_max)[i % 4]
        blocks[i] *= edge
        blocks[i, i % BLOCK] = edge if i % 3 else -edge
    return blocks


def _ties(fmt, rng: np.random.Generator, count: int) -> np.ndarray:
    """x / 2^e on element values and on the midpoints of neighbouring values: every step of the grid."""
    values = element_values(fmt)
    # np.abs: the grid holds both zeros, and which one np.unique keeps depends on the CPU's sort kernel;
    # a vector must be the same bytes wherever it is built.
    positive = np.unique(np.abs(values[np.isfinite(values) & (values >= 0)]))
    midpoints = (positive[:-1] + positive[1:]) / 2
    grid = np.concatenate([positive, midpoints])
    blocks = []
    for i in range(count):
        row = rng.choice(grid, BLOCK) * np.where(rng.random(BLOCK) < 0.5, -1.0, 1.0)
        row[0] = fmt.max_normal
        blocks.append(row * math.ldexp(1.0, int(rng.integers(-100, 100))))
    return np.array(blocks, dtype=F32)


def _special(rng: np.random.Generator) -> np.ndarray:
    zeros = np.where(rng.random(BLOCK) < 0.5, F32(0.0), F32(-0.0)).astype(F32)
    subnormal = (rng.standard_normal(BLOCK) * 2.0 ** -140).astype(F32)
    tiny = (rng.uniform(-1, 1, BLOCK) * 2.0 ** -125).astype(F32)
    overflow = (rng.uniform(-1, 1, BLOCK) * 3.4e38).astype(F32)
    overflow[0] = F32(np.finfo(F32).max)
    infinity = rng.standard_normal(BLOCK).astype(F32)
    infinity[5] = -np.inf
    nan = rng.standard_normal(BLOCK).astype(F32)
    nan[9] = np.nan
    # Elements whose float32 quotient underflows to zero, of both signs, beside a huge one (block_zero_code).
    underflow = (np.where(rng.random(BLOCK) < 0.5, -1.0, 1.0) * np.exp2(rng.integers(-149, -60, BLOCK))).astype(F32)
    underflow[3] = F32(1e30)
    return np.stack([zeros, subnormal, tiny, overflow, infinity, nan, underflow])


FAMILIES = ("gaussian", "power-of-two edges", "ties at every element step", "zeros of both signs", "subnormal",
            "tiny (scale code 0)", "near overflow", "an infinity", "a NaN", "quotients that underflow to zero")


def quantize_input(fmt, level: int, rng: np.random.Generator) -> np.ndarray:
    count = BLOCKS_PER_FAMILY[level]
    return np.concatenate([_gaussian(rng, count), _power_of_two_edges(fmt, rng, 4 * count), _ties(fmt, rng, count),
                           _special(rng)]).astype(F32)


def quantize_cases(level: int) -> Iterator[CaseSpec]:
    for index, (name, fmt) in enumerate(ELEMENT_FORMATS.items()):
        rng = np.random.default_rng([RANDOM_SEED, index, level])
        x = quantize_input(fmt, level, rng)
        yield CaseSpec(op="block_quantize", name=f"{name}-families{'-random' if level == 2 else ''}",
                       inputs={"x": x}, attributes={"format": name, "axis": -1, "block_size": BLOCK}, clauses=(),
                       description=f"{name}: {x.shape[0]} blocks of {BLOCK}: " + ", ".join(FAMILIES),
                       generator="block.quantize_cases", seed=RANDOM_SEED, profiles=PROFILES)
    if level == 1:
        rng = np.random.default_rng([RANDOM_SEED, 99])
        x = (rng.standard_normal((48, 3)) * np.exp2(rng.integers(-20, 20, (1, 3)))).astype(F32)
        yield CaseSpec(op="block_quantize", name="axis-0-blocks-of-16", inputs={"x": x},
                       attributes={"format": "float8_e4m3fn", "axis": 0, "block_size": 16}, clauses=("BLK-1.3",),
                       description="48 x 3 values, blocks of 16 along axis 0: 3 x 3 scales",
                       generator="block.quantize_cases", seed=RANDOM_SEED, profiles=PROFILES)


def dequantize_cases(level: int) -> Iterator[CaseSpec]:
    for name, fmt in ELEMENT_FORMATS.items():
        codes = np.resize(np.arange(1 << fmt.bits, dtype=np.uint8), max(BLOCK, 1 << fmt.bits))
        scales = np.array(DEQUANTIZE_SCALES[level], dtype=np.uint8)
        per_scale = codes.size // BLOCK
        yield CaseSpec(op="block_dequantize", name=f"{name}-every-code{'-every-scale' if level == 2 else ''}",
                       inputs={"scales": np.repeat(scales, per_scale), "codes": np.tile(codes, scales.size)},
                       attributes={"format": name, "axis": -1, "block_size": BLOCK}, clauses=(),
                       description=f"{name}: every code under {scales.size} scale codes from 0 to 255",
                       generator="block.dequantize_cases", seed=0, profiles=PROFILES)


def error_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    common = dict(clauses=(), generator="block.error_cases", seed=0, profiles=("ocp-mx",), outcome="error")
    yield CaseSpec(op="block_quantize", name="error-partial-block", inputs={"x": np.ones(33, F32)},
                   attributes={"format": "float8_e4m3fn", "axis": -1, "block_size": 32},
                   description="33 values: block size 32 does not divide the axis", **common)
    yield CaseSpec(op="block_quantize", name="error-unknown-format", inputs={"x": np.ones(32, F32)},
                   attributes={"format": "float8_e4m3fnuz", "axis": -1, "block_size": 32},
                   description="float8_e4m3fnuz: not an MX element format", **common)
    yield CaseSpec(op="block_dequantize", name="error-scales-shape",
                   inputs={"scales": np.zeros(2, np.uint8), "codes": np.zeros(32, np.uint8)},
                   attributes={"format": "float8_e4m3fn", "axis": -1, "block_size": 32},
                   description="two scales for one block of codes: nothing is broadcast", **common)
    yield CaseSpec(op="block_dequantize", name="error-code-out-of-range",
                   inputs={"scales": np.zeros(1, np.uint8), "codes": np.full(32, 16, np.uint8)},
                   attributes={"format": "float4_e2m1fn", "axis": -1, "block_size": 32},
                   description="code 16: not a 4-bit FP4 code", **common)


GENERATORS = (quantize_cases, dequantize_cases, error_cases)
