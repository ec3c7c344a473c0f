"""Generators of dequantize_linear cases: every value of the small types, the edges of the
16- and 32-bit ones, several scales and zero points, per-axis and blocked."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.conformance.generate.parameters import (
    INEXACT_SCALE,
    PROFILE_NAMES,
    SMALL_WIDTHS,
    exact_scale,
    off_centre_zero_point,
    target,
    zero_point_array,
    zero_points,
)

OP = "dequantize_linear"
EDGE_SEED = 2101
BLOCKED_SEED = 2102
#: Channel scales: an exact one, a long one, one so large that (q - z) * s overflows float32,
#: one so small that the products are subnormal (rounded by gradual underflow), and 1.
#: The zero point of each wide type's level-1 edge case.
LEVEL1_ZERO_POINTS = {"int16": lambda chosen: chosen.qmax, "uint16": off_centre_zero_point,
                      "int32": lambda chosen: 0}
CHANNEL_SCALES = (exact_scale(1, -4), INEXACT_SCALE, np.float32(np.finfo(np.float32).max / np.float32(3)),
                  exact_scale(3, -140), np.float32(1))


def case(name: str, q, scale, zero_point, dtype: str, *, axis=None, block_size=None, clauses=(),
         description: str, generator: str, seed: int = 0) -> CaseSpec:
    chosen = target(dtype)
    return CaseSpec(
        op=OP, name=name,
        inputs={"q": np.array(q, dtype=chosen.container, order="C"),
                "scale": np.array(scale, dtype=np.float32, order="C"),
                "zero_point": zero_point_array(zero_point, chosen)},
        attributes={"axis": axis, "block_size": block_size, "dtype": dtype},
        clauses=tuple(clauses), description=description, generator=generator, seed=seed, profiles=PROFILE_NAMES)


def every_value(dtype: str) -> np.ndarray:
    chosen = target(dtype)
    return np.arange(chosen.qmin, chosen.qmax + 1, dtype=np.int64)


def all_values(level: int) -> Iterator[CaseSpec]:
    """Every value of each small type, per-tensor with an off-centre zero point (level 1)."""
    for dtype in SMALL_WIDTHS if level == 1 else ():
        zero_point = off_centre_zero_point(target(dtype))
        q = every_value(dtype)
        yield case(f"every-value-{dtype}", q, INEXACT_SCALE, zero_point, dtype,
                   description=f"every {dtype} value, zero point {zero_point}, scale {float(INEXACT_SCALE)!r}",
                   generator="dequantize.all_values")


def all_values_per_axis(level: int) -> Iterator[CaseSpec]:
    """Every value of each small type in every channel; the channels cross the scales of
    :data:`CHANNEL_SCALES` with the zero points of the type (both range ends among them);
    int8 at level 1, the other small types at level 2."""
    for dtype in [dtype for dtype in SMALL_WIDTHS if (dtype == "int8") == (level == 1)]:
        chosen = target(dtype)
        pairs = [(scale, point) for scale in CHANNEL_SCALES for point in zero_points(chosen)]
        scales = np.array([scale for scale, _ in pairs], dtype=np.float32)
        points = np.array([point for _, point in pairs], dtype=np.int64)
        q = np.broadcast_to(every_value(dtype), (len(pairs), chosen.qmax - chosen.qmin + 1))
        yield case(f"every-value-per-axis-{dtype}", q, scales, points, dtype, axis=0,
                   clauses=("AFF-1.4",),
                   description=f"every {dtype} value in each of {len(pairs)} channels (axis 0): scales 2^-4, "
                               f"{float(INEXACT_SCALE)!r}, max/3 (overflows to infinity), 3*2^-140 (subnormal "
                               f"results) and 1, crossed with zero points {zero_points(chosen)}",
                   generator="dequantize.all_values_per_axis")


def edge_values(dtype: str, rng: np.random.Generator, count: int) -> np.ndarray:
    """The range ends and their neighbours, -1, 0, 1, every power of two and its neighbours
    inside the range, and ``count`` random values."""
    chosen = target(dtype)
    bits = chosen.format.bits
    powers = np.array([1 << k for k in range(bits)], dtype=np.int64)
    candidates = np.concatenate([
        [chosen.qmin, chosen.qmin + 1, chosen.qmax - 1, chosen.qmax, -1, 0, 1],
        powers - 1, powers, powers + 1, -powers - 1, -powers, -powers + 1,
        rng.integers(chosen.qmin, chosen.qmax, count, endpoint=True),
    ])
    inside = candidates[(candidates >= chosen.qmin) & (candidates <= chosen.qmax)]
    return np.array(list(dict.fromkeys(inside.tolist())), dtype=np.int64)


def wide_edges(level: int) -> Iterator[CaseSpec]:
    """int16, uint16 and int32 (the type of ONNX biases): edge values, one zero point per type
    at level 1 (int16 at qmax, uint16 off-centre, int32 at 0), the others at level 2."""
    rng = np.random.default_rng(EDGE_SEED)
    count = 256 if level == 1 else 1 << 16
    for dtype in ("int16", "uint16", "int32"):
        chosen = target(dtype)
        q = edge_values(dtype, rng, count)
        # int32 zero points other than 0 are allowed by refq but not used by ONNX; keep 0 there.
        choices = [0] if dtype == "int32" else zero_points(chosen)
        level1_choice = LEVEL1_ZERO_POINTS[dtype](chosen)
        for zero_point in [z for z in choices if (z == level1_choice) == (level == 1)]:
            yield case(f"edges-{dtype}-zero-point-{zero_point}", q, INEXACT_SCALE, zero_point, dtype,
                       description=f"{dtype} range ends, +-1, 0, powers of two and their neighbours, {count} random "
                                   f"values; zero point {zero_point}, scale {float(INEXACT_SCALE)!r}",
                       generator="dequantize.wide_edges", seed=EDGE_SEED)


def blocked(level: int) -> Iterator[CaseSpec]:
    """Blocked along the last axis, the last block partial."""
    rng = np.random.default_rng(BLOCKED_SEED)
    block_size, length = (4, 10) if level == 1 else (32, 1000)
    rows = 3 if level == 1 else 64
    blocks = -(-length // block_size)
    for dtype in [dtype for dtype in SMALL_WIDTHS if (dtype == "int4") == (level == 1)]:
        chosen = target(dtype)
        choices = zero_points(chosen)
        scales = np.array([CHANNEL_SCALES[i] for i in rng.integers(0, len(CHANNEL_SCALES), rows * blocks)],
                          dtype=np.float32).reshape(rows, blocks)
        points = np.array([choices[i] for i in rng.integers(0, len(choices), rows * blocks)]).reshape(rows, blocks)
        q = rng.integers(chosen.qmin, chosen.qmax, (rows, length), endpoint=True)
        yield case(f"blocked-{dtype}", q, scales, points, dtype, axis=1, block_size=block_size,
                   description=f"{dtype}, blocked along axis 1 of shape {(rows, length)} with block size {block_size}: "
                               f"{blocks} blocks, the last one partial; random values, scales and zero points",
                   generator="dequantize.blocked", seed=BLOCKED_SEED)


#: The channel scales whose products stay finite (MatMulNBits' adapter multiplies by an identity matrix, where
#: one infinite weight would make its row NaN through 0 * inf).
FINITE_SCALES = (exact_scale(1, -4), INEXACT_SCALE, exact_scale(1, 100), exact_scale(3, -140), np.float32(1))
#: (dtype, rows, length, block size) of the 4-bit weight cases: MatMulNBits' block sizes, a partial last block.
WEIGHT_SHAPES = {1: (("uint4", 4, 200, 32), ("int4", 3, 72, 16)),
                 2: tuple((dtype, 16, 1000, size) for dtype in ("uint4", "int4") for size in (16, 64, 128, 256))}


def weight_blocks(level: int) -> Iterator[CaseSpec]:
    """4-bit weights blocked along their last axis as MatMulNBits stores them (block sizes 16 to 256), the last
    block partial; random codes, finite scales, random zero points of the whole range."""
    rng = np.random.default_rng([BLOCKED_SEED, level])
    for dtype, rows, length, block_size in WEIGHT_SHAPES[level]:
        chosen = target(dtype)
        blocks = -(-length // block_size)
        scales = np.array(FINITE_SCALES, dtype=np.float32)[rng.integers(0, len(FINITE_SCALES), (rows, blocks))]
        q = rng.integers(chosen.qmin, chosen.qmax, (rows, length), endpoint=True)
        points = rng.integers(chosen.qmin, chosen.qmax, (rows, blocks), endpoint=True)
        shape = f"shape {(rows, length)}, block size {block_size}: {blocks} blocks a row, the last one partial"
        yield case(f"weight-blocks-{dtype}-{block_size}", q, scales, points, dtype, axis=1, block_size=block_size,
                   description=f"{dtype} weights, {shape}; random codes, finite scales and zero points",
                   generator="dequantize.weight_blocks", seed=BLOCKED_SEED)


def zero_point_forms(level: int) -> Iterator[CaseSpec]:
    """Level 1: uint16 with the zero point at qmax (its top bit set; the other uint16 case is off centre),
    int32 with a large odd zero point (the other int32 case has 0, which no difference variant tells
    apart), and a per-tensor scale and zero point as 1-element arrays (shape (1,))."""
    if level != 1:
        return
    rng = np.random.default_rng(EDGE_SEED)
    chosen = target("uint16")
    yield case("zero-point-qmax-uint16", edge_values("uint16", rng, 64), INEXACT_SCALE, chosen.qmax, "uint16",
               clauses=("AFF-1.2", "AFF-4.2"),
               description=f"uint16 range ends, +-1, 0, powers of two and their neighbours, 64 random values; zero "
                           f"point {chosen.qmax} (qmax), scale {float(INEXACT_SCALE)!r}",
               generator="dequantize.zero_point_forms", seed=EDGE_SEED)
    large = 2**30 + 3
    yield case("zero-point-large-int32", edge_values("int32", rng, 64), INEXACT_SCALE, large, "int32",
               clauses=("AFF-1.2", "AFF-1.3", "AFF-4.2"),
               description=f"int32 range ends, +-1, 0, powers of two and their neighbours, 64 random values; zero "
                           f"point {large} (odd, past 2^24: q - z leaves int32 and float32's exact integers), "
                           f"scale {float(INEXACT_SCALE)!r}",
               generator="dequantize.zero_point_forms", seed=EDGE_SEED)
    yield case("one-element-parameters-int8", every_value("int8"), [INEXACT_SCALE], [-37], "int8",
               clauses=("AFF-1.3", "AFF-4.2"),
               description=f"every int8 value, scale {float(INEXACT_SCALE)!r} and zero point -37 as 1-element "
                           f"arrays (shape (1,)): per tensor",
               generator="dequantize.zero_point_forms")


GENERATORS = (all_values, all_values_per_axis, wide_edges, blocked, weight_blocks, zero_point_forms)
