"""Cases for BLK-9, weight-only int4 groups: ``int4_group_quantize`` and ``int4_group_dequantize``.

Quantize cases run under the three profiles, symmetric where the profile has a symmetric mode (HQQ has none).
Each row of ``x`` is one family of groups, so every group of a row is the same kind:

- ties: half-integers times a power of two, so that x / s + z lands on .5 under many scales (the element and
  zero-point rounding rules part there, and so do x / s and x * (1 / s));
- Gaussian rows over a wide range of magnitudes, and rows of random float32 bit patterns;
- all-equal groups (positive and negative), all-positive groups (HQQ's zero point below its codes), groups of
  zeros of one sign and of both signs;
- a NaN, +inf and -inf in an otherwise Gaussian group, and an all-NaN group;
- subnormal groups and groups near float32's largest value;
- ranges near HQQ's 1e-4 bound (its inverse scale becomes 1) and below 15 / 2e4 (its clamp);
- a group whose largest magnitude is positive and one whose largest is negative (MLAS's signed extreme).

One more case has rows of 80 in groups of 32, so its last group is partial (MLAS takes it; compressed-tensors
and HQQ need the group size to divide the row). Dequantize inputs are every code from -8 to 15 under scales and
zero points that include 0, negative and fractional values, the extremes of float32, infinities and NaN, and
codes 0 to 15 with integer zero points 0 to 7 in groups of 32, which every engine's dequantize takes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec

PROFILES = ("compressed-tensors", "hqq", "onnxruntime-mlas-int4")
#: The profiles with a symmetric mode (``int4_symmetric_scale`` other than ``unsupported``).
SYMMETRIC_PROFILES = ("compressed-tensors", "onnxruntime-mlas-int4")
RANDOM_SEED = 2309
F32 = np.float32
GROUP_SIZES = (32, 128)
#: Rows of each random family per case.
RANDOM_ROWS = {1: 1, 2: 64}
#: Rows of each random family of ties and of Gaussian values per case.
TIE_ROWS = {1: 3, 2: 256}
#: The length of a row: two groups of 32, one of 128.
COLUMNS = 64


def family_rows(columns: int, level: int, rng: np.random.Generator) -> np.ndarray:
    """The rows of one quantize case, ``columns`` long: :data:`RANDOM_ROWS` of each random family, one of each
    special family."""
    count = RANDOM_ROWS[level]

    def gaussian(rows: int = 1, low: int = -20, high: int = 20) -> np.ndarray:
        return rng.standard_normal((rows, columns)) * np.exp2(rng.integers(low, high, (rows, 1)))

    ties = rng.integers(-30, 31, (TIE_ROWS[level], columns)) / 2 * np.exp2(rng.integers(-12, 12, (TIE_ROWS[level], 1)))
    bits = rng.integers(0, 2 ** 32, (count, columns), dtype=np.uint64).astype(np.uint32).view(F32)
    bits = np.where(np.isfinite(bits), bits, F32(1.0))
    mixed_zeros = np.where(rng.random(columns) < 0.5, F32(0.0), F32(-0.0))
    nan, infinity, negative_infinity = gaussian(), gaussian(), gaussian()
    nan[0, ::13] = np.nan
    infinity[0, 5::29] = np.inf
    negative_infinity[0, 3::31] = -np.inf
    positive = np.abs(gaussian()) + 1.0
    extreme_positive = rng.uniform(-1.0, 1.0, (1, columns))
    extreme_positive[0, ::16] = 1.5
    extreme_negative = -extreme_positive
    near_unit_bound = rng.random((1, columns)) * np.float32(1e-4)
    near_clamp = rng.random((1, columns)) * 6e-4 - 3e-4
    rows = [ties, gaussian(TIE_ROWS[level], -60, 60), bits, np.full((1, columns), 0.3), np.full((1, columns), -2.5),
            positive, np.zeros((1, columns)), np.full((1, columns), -0.0), mixed_zeros[None, :], nan, infinity,
            negative_infinity, np.full((1, columns), np.nan), gaussian() * 2.0 ** -140,
            rng.uniform(-1, 1, (1, columns)) * 3.4e38, near_unit_bound, near_clamp, extreme_positive,
            extreme_negative]
    return np.concatenate([np.asarray(row, dtype=F32) for row in rows]).astype(F32)


def quantize_cases(level: int) -> Iterator[CaseSpec]:
    for index, group_size in enumerate(GROUP_SIZES):
        rng = np.random.default_rng([RANDOM_SEED, index, level])
        x = family_rows(max(group_size, COLUMNS), level, rng)
        for symmetric in (True, False):
            profiles = SYMMETRIC_PROFILES if symmetric else PROFILES
            kind = "symmetric" if symmetric else "asymmetric"
            yield CaseSpec(op="int4_group_quantize",
                           name=f"{kind}-groups-of-{group_size}{'-random' if level == 2 else ''}",
                           inputs={"x": x}, attributes={"group_size": group_size, "symmetric": symmetric},
                           clauses=(), description=f"{kind}, {x.shape[0]} rows of {x.shape[1]} in groups of "
                           f"{group_size}: ties at every rounding, Gaussian and random-bit rows, equal, "
                           "all-positive and zero groups of both signs, NaN, infinities, subnormal and "
                           "near-overflow groups, HQQ's small ranges, positive and negative extremes",
                           generator="int4_group.quantize_cases", seed=RANDOM_SEED, profiles=profiles)
    if level != 1:
        return
    rng = np.random.default_rng([RANDOM_SEED, 99])
    partial = (rng.integers(-15, 16, (6, 80)) / 2 * np.exp2(rng.integers(-6, 6, (6, 1)))).astype(F32)
    for symmetric in (True, False):
        kind = "symmetric" if symmetric else "asymmetric"
        yield CaseSpec(op="int4_group_quantize", name=f"{kind}-partial-last-group", inputs={"x": partial},
                       attributes={"group_size": 32, "symmetric": symmetric}, clauses=(),
                       description=f"{kind}: rows of 80 in groups of 32, the last group of 16",
                       generator="int4_group.quantize_cases", seed=RANDOM_SEED,
                       profiles=SYMMETRIC_PROFILES if symmetric else PROFILES)


#: Scales and zero points of the dequantize case, one pair per group of 24 (every code -8..15 once).
DEQUANTIZE_SCALES = (0.1, 1.0, -0.25, 0.0, -0.0, 2.0 ** -149, 3.4e38, np.inf, np.nan, 1e-3, 7.0, 2.0 ** -126)
DEQUANTIZE_ZERO_POINTS = (0.0, 8.0, 3.0, -8.0, 7.5, 9.447518, -2.25, 15.0, 0.0, np.nan, 1e30, -0.0)


def dequantize_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    codes = np.tile(np.arange(-8, 16, dtype=np.int8), (len(DEQUANTIZE_SCALES), 1))
    scales = np.array(DEQUANTIZE_SCALES, dtype=F32).reshape(-1, 1)
    zero_points = np.array(DEQUANTIZE_ZERO_POINTS, dtype=F32).reshape(-1, 1)
    yield CaseSpec(op="int4_group_dequantize", name="every-code",
                   inputs={"scales": scales, "zero_points": zero_points, "codes": codes},
                   attributes={"group_size": 24}, clauses=(),
                   description=f"every code -8..15 in {codes.shape[0]} rows, each one group with its own scale and "
                               "zero point: zero, negative, fractional, subnormal, huge, infinite and NaN ones",
                   generator="int4_group.dequantize_cases", seed=0, profiles=PROFILES)


#: Scales of the dequantize case every engine runs: codes 0 to 15 twice per group of 32, integer zero points 0 to 7
#: (what compressed-tensors' int8 zero points and MLAS's uint4 ones both hold).
ENGINE_SCALES = (0.1, -0.25, 0.0, 2.0 ** -149, 3.4e38, np.inf, np.nan, 7.0)


def engine_dequantize_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    rows = len(ENGINE_SCALES)
    codes = np.tile(np.arange(16, dtype=np.int8), (rows, 4))
    scales = np.array([ENGINE_SCALES, ENGINE_SCALES[::-1]], dtype=F32).T.copy()
    zero_points = (np.arange(2 * rows, dtype=F32) % 8).reshape(rows, 2)
    yield CaseSpec(op="int4_group_dequantize", name="codes-0-to-15",
                   inputs={"scales": scales, "zero_points": zero_points, "codes": codes},
                   attributes={"group_size": 32}, clauses=(),
                   description=f"codes 0..15 twice in each of {2 * rows} groups of 32, integer zero points 0..7, "
                               "scales zero, negative, subnormal, huge, infinite and NaN: what every engine takes",
                   generator="int4_group.engine_dequantize_cases", seed=0, profiles=PROFILES)


def error_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    common = dict(clauses=(), generator="int4_group.error_cases", seed=0, profiles=("compressed-tensors",),
                  outcome="error")
    yield CaseSpec(op="int4_group_quantize", name="error-group-size", inputs={"x": np.ones((2, 64), F32)},
                   attributes={"group_size": 0, "symmetric": True},
                   description="a group size of 0: not a positive integer", **common)
    yield CaseSpec(op="int4_group_dequantize", name="error-scales-shape",
                   inputs={"scales": np.ones((2, 1), F32), "zero_points": np.zeros((2, 2), F32),
                           "codes": np.zeros((2, 64), np.int8)},
                   attributes={"group_size": 32},
                   description="one scale per row for two groups per row: nothing is broadcast", **common)
    yield CaseSpec(op="int4_group_dequantize", name="error-codes-range",
                   inputs={"scales": np.ones((1, 1), F32), "zero_points": np.zeros((1, 1), F32),
                           "codes": np.full((1, 32), 16, np.int8)},
                   attributes={"group_size": 32},
                   description="a code of 16: not an int4 code, signed or unsigned", **common)


GENERATORS = (quantize_cases, dequantize_cases, engine_dequantize_cases, error_cases)
