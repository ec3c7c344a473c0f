"""Generators of quantize_linear cases.

Every case runs under every profile; refq's reference gives each profile's expected
output. The values come from :mod:`.boundaries` and :mod:`.values`; random draws use
``np.random.default_rng`` with the seed recorded in the descriptor.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.boundaries import (
    exponent_window,
    float32_boundaries,
    neighbours,
    significand_patterns,
    unique_in_order,
)
from refq.conformance.generate.case_spec import CaseSpec
from refq.conformance.generate.parameters import (
    INEXACT_SCALE,
    PROFILE_NAMES,
    WIDTHS,
    exact_scale,
    off_centre_zero_point,
    target,
    zero_point_array,
    zero_points,
)
from refq.conformance.generate.values import int32_edges, near_steps, saturation_edges, specials, ties

OP = "quantize_linear"
#: Fixed seeds, one per generator that draws random numbers.
PER_AXIS_SEED = 1101
BLOCKED_SEED = 1102
RANDOM_SEED = 1103
#: The scale of the edge cases: exact ties, and a reciprocal that is not exact.
EDGE_SCALE = exact_scale(3, -7)
#: At most this many ties per level-1 edge case: all of them up to 8 bits.
TIE_LIMIT = 288
#: What level 1 keeps of the width x zero point and width x axis crossings (level 2 has the rest).
LEVEL1_BOTH_ENDS = ("int8", "uint8")
LEVEL1_PER_AXIS = (("int8", 1), ("uint4", 0))
#: Per-channel (per-block) scales: powers of two, short odd multiples of them, a long one.
CHANNEL_SCALES = (exact_scale(1, -4), exact_scale(3, -7), exact_scale(5, -9), INEXACT_SCALE,
                  exact_scale(7, -11), exact_scale(1, 0))


def case(name: str, x, scale, zero_point, dtype: str, *, axis=None, block_size=None, clauses=(),
         description: str, generator: str, seed: int = 0) -> CaseSpec:
    chosen = target(dtype)
    return CaseSpec(
        op=OP, name=name,
        inputs={"x": np.array(x, dtype=np.float32, order="C"),
                "scale": np.array(scale, dtype=np.float32, order="C"),
                "zero_point": zero_point_array(zero_point, chosen)},
        attributes={"axis": axis, "block_size": block_size, "dtype": dtype},
        clauses=tuple(clauses), description=description, generator=generator, seed=seed, profiles=PROFILE_NAMES)


def full_boundaries(level: int) -> Iterator[CaseSpec]:
    """The whole binary32 boundary table (every exponent field), per-tensor; int8 at level 1,
    the other widths at level 2."""
    x = float32_boundaries()
    for dtype in [dtype for dtype in WIDTHS if (dtype == "int8") == (level == 1)]:
        zero_point = off_centre_zero_point(target(dtype))
        yield case(f"boundaries-full-{dtype}", x, INEXACT_SCALE, zero_point, dtype,
                   clauses=("AFF-1.5", "AFF-3.2", "AFF-3.4", "AFF-3.5", "AFF-3.6"),
                   description=f"{dtype}, zero point {zero_point}, scale {float(INEXACT_SCALE)!r}: the float32 "
                               f"boundary table, every exponent field x significands 0, 1, all ones, walking ones "
                               f"and runs of ones, both signs ({x.size} values: zeros, subnormals, normals, "
                               f"infinities, quiet and signalling NaNs)",
                   generator="quantize.full_boundaries")


def edge_values(dtype: str, zero_point: int, scale: np.float32, level: int) -> np.ndarray:
    chosen = target(dtype)
    window = exponent_window(scale, -3, chosen.format.bits + 2)
    # Level 1 keeps every tie of the 8-bit and narrower types, a spread of them for 16 bits.
    tie_values = ties(chosen, zero_point, scale, limit=None if level == 2 else TIE_LIMIT)
    ends = saturation_edges(chosen, zero_point, scale)
    wide = int32_edges(scale)
    return unique_in_order(np.concatenate([
        specials(), float32_boundaries(window, significand_patterns(23)),
        tie_values, neighbours(tie_values), ends, neighbours(ends), wide, neighbours(wide),
    ]))


def edges(level: int) -> Iterator[CaseSpec]:
    """Per width, with the zero point at each end of the range: the boundary table over the
    exponents that matter for the type, exact ties with one ulp either side, saturation
    edges and their neighbours, int32 conversion limits. Level 1 keeps the zero point at
    qmax for int8 and uint8 only (the tree stays small); level 2 has the rest."""
    for dtype in WIDTHS:
        chosen = target(dtype)
        for end, zero_point in (("qmin", chosen.qmin), ("qmax", chosen.qmax)):
            if (end == "qmin" or dtype in LEVEL1_BOTH_ENDS) != (level == 1):
                continue
            x = edge_values(dtype, zero_point, EDGE_SCALE, level)
            yield case(f"edges-{dtype}-zero-point-{end}", x, EDGE_SCALE, zero_point, dtype,
                       clauses=("AFF-3.2", "AFF-3.3", "AFF-3.4", "AFF-3.5", "AFF-3.6"),
                       description=f"{dtype}, zero point {zero_point} ({end}), scale 3*2^-7: exact ties (k + 1/2)s and "
                                   f"one ulp either side, saturation edges (qmin - z + d)s and (qmax - z + d)s for "
                                   f"d in -1, -1/2, 0, 1/2, 1 and their neighbours, +-2^31 s and +-2^32 s, the "
                                   f"float32 boundary table over the exponents around s ({x.size} values)",
                       generator="quantize.edges")


def parameter_grid(dtype: str, count: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` (scale, zero point) pairs: cycling through the channel scales and the zero
    points of the type (both ends included), or drawn from them with ``rng``."""
    choices = zero_points(target(dtype))
    if rng is None:
        scales = [CHANNEL_SCALES[i % len(CHANNEL_SCALES)] for i in range(count)]
        points = [choices[i % len(choices)] for i in range(count)]
    else:
        scales = [CHANNEL_SCALES[i] for i in rng.integers(0, len(CHANNEL_SCALES), count)]
        points = [choices[i] for i in rng.integers(0, len(choices), count)]
    return np.array(scales, dtype=np.float32), np.array(points, dtype=np.int64)


def with_specials(x: np.ndarray) -> np.ndarray:
    """NaN, infinities and zeros at the start of every line along the last axis (for each channel)."""
    x = x.copy()
    extra = specials()
    x[..., :extra.size] = extra
    return x


def per_axis(level: int) -> Iterator[CaseSpec]:
    """Per-axis scales and zero points along a middle axis and along axis 0, each channel its
    own scale and zero point (both range ends among them); level 2 has every width."""
    rng = np.random.default_rng(PER_AXIS_SEED)
    length = 48 if level == 1 else 4096
    layouts = [(dtype, axis) for axis in (1, 0) for dtype in WIDTHS]
    for dtype, axis in [layout for layout in layouts if (layout in LEVEL1_PER_AXIS) == (level == 1)]:
        chosen = target(dtype)
        channels = len(CHANNEL_SCALES)
        scales, points = parameter_grid(dtype, channels, None)
        shape = (2, channels, length) if axis == 1 else (channels, length)
        view = [1] * len(shape)
        view[axis] = channels
        x = near_steps(rng, chosen, np.broadcast_to(scales.reshape(view), shape),
                       np.broadcast_to(points.reshape(view), shape))
        x = with_specials(x)
        where = "a middle axis" if axis == 1 else "axis 0"
        yield case(f"per-axis-{dtype}-axis-{axis}", x, scales, points, dtype, axis=axis,
                   clauses=("AFF-3.4", "AFF-3.5", "AFF-3.6"),
                   description=f"{dtype}, per-axis along {where} of shape {shape}: {channels} channels with their "
                               f"own scale and zero point (zero points at both range ends among them); values at "
                               f"integers, exact ties, one ulp either side of ties and random points, NaN, "
                               f"infinities and zeros",
                   generator="quantize.per_axis", seed=PER_AXIS_SEED)


def blocked(level: int) -> Iterator[CaseSpec]:
    """Blocked quantization along a middle axis whose length is not a multiple of the block
    size, so the last block is partial."""
    rng = np.random.default_rng(BLOCKED_SEED)
    block_size, length = (4, 10) if level == 1 else (32, 1000)
    outer, inner = (2, 3) if level == 1 else (4, 16)
    blocks = -(-length // block_size)
    for dtype in [dtype for dtype in WIDTHS if (dtype == "int4") == (level == 1)]:
        chosen = target(dtype)
        scales, points = parameter_grid(dtype, outer * blocks * inner, rng)
        scales = scales.reshape(outer, blocks, inner)
        points = points.reshape(outer, blocks, inner)
        element_scales = np.repeat(scales, block_size, axis=1)[:, :length]
        element_points = np.repeat(points, block_size, axis=1)[:, :length]
        x = near_steps(rng, chosen, element_scales, element_points)
        x[0, :5, 0] = specials()
        yield case(f"blocked-{dtype}", x, scales, points, dtype, axis=1, block_size=block_size,
                   clauses=("AFF-3.4", "AFF-3.5", "AFF-3.6"),
                   description=f"{dtype}, blocked along axis 1 of shape {(outer, length, inner)} with block size "
                               f"{block_size}: {blocks} blocks, the last one partial ({length % block_size} of "
                               f"{block_size}); each block its own scale and zero point",
                   generator="quantize.blocked", seed=BLOCKED_SEED)


def random_data(level: int) -> Iterator[CaseSpec]:
    """Uniform random values over the range and ten percent past either end."""
    rng = np.random.default_rng(RANDOM_SEED)
    count = 2048 if level == 1 else 1 << 18
    for dtype in ("int8",) if level == 1 else WIDTHS:
        chosen = target(dtype)
        zero_point = off_centre_zero_point(chosen)
        low = (chosen.qmin - zero_point) - 0.1 * (chosen.qmax - chosen.qmin)
        span = 1.2 * (chosen.qmax - chosen.qmin)
        x = ((low + span * rng.random(count)) * np.float64(INEXACT_SCALE)).astype(np.float32)
        yield case(f"random-{dtype}" if level == 1 else f"random-{dtype}-large", x, INEXACT_SCALE, zero_point, dtype, clauses=("AFF-3.4", "AFF-3.5"),
                   description=f"{dtype}, zero point {zero_point}, scale {float(INEXACT_SCALE)!r}: {count} uniform "
                               f"random values over the range and 10% past either end",
                   generator="quantize.random_data", seed=RANDOM_SEED)


def scale_extremes(level: int) -> Iterator[CaseSpec]:
    """The smallest subnormal scale (its float32 reciprocal overflows to infinity, and
    0 * inf is NaN) at level 1; the largest finite scale (its reciprocal is subnormal) at level 2."""
    x = float32_boundaries(significands=(0, 1, (1 << 23) - 1))
    extremes = (("smallest-subnormal", np.float32(np.ldexp(1.0, -149)), 1),
                ("largest-finite", np.finfo(np.float32).max, 2))
    for label, scale, _ in [extreme for extreme in extremes if extreme[2] == level]:
        yield case(f"scale-{label}", x, scale, 0, "int8", clauses=("AFF-1.1", "AFF-3.2", "AFF-3.6"),
                   description=f"int8, zero point 0, the {label.replace('-', ' ')} float32 scale {float(scale)!r}: "
                               f"every exponent field x significands 0, 1, all ones, both signs",
                   generator="quantize.scale_extremes")


def subnormal_operands(level: int) -> Iterator[CaseSpec]:
    """Level 1: where flushing subnormals to zero (AFF-3.9, XNNPACK) changes the integer. A scale of 2^127 has a
    subnormal reciprocal: flushed, every finite x gives the zero point. At the scale 2^-126 the subnormal x next to
    2^-126 gives +-1 with gradual underflow and 0 flushed. 16 values each (whole groups of 8, as the optimized
    LiteRT kernels take them)."""
    if level != 1:
        return
    large = np.float32(2.0**127)
    x = np.array([large, -large, np.finfo(np.float32).max, -np.finfo(np.float32).max, 2.0**126, -(2.0**126),
                  1.5 * 2.0**127, 1.25 * 2.0**127, 0.75 * 2.0**127, 2.0**125, 1.0, -1.0, 0.0, -0.0, 3.0e38, -3.0e38],
                 np.float32)
    yield case("subnormal-reciprocal-int8", x, large, 3, "int8", clauses=("AFF-3.2", "AFF-3.9"),
               description="int8, zero point 3, scale 2^127, whose float32 reciprocal 2^-127 is subnormal: finite x "
                           "around the scale and the largest float32 (flushed subnormals give 3 throughout)",
               generator="quantize.subnormal_operands")
    smallest_normal = np.float32(2.0**-126)
    below = np.nextafter(smallest_normal, np.float32(0))
    x = np.array([below, -below, np.float32(0.75 * 2.0**-126), -np.float32(0.75 * 2.0**-126), 2.0**-127,
                  np.float32(0.625 * 2.0**-126), smallest_normal, -smallest_normal,
                  np.nextafter(smallest_normal, np.float32(1)), 2.0**-125, 1.5 * 2.0**-126, -1.5 * 2.0**-126,
                  2.0**-149, -(2.0**-149), 0.0, 2.0**-120], np.float32)
    yield case("subnormal-inputs-int8", x, smallest_normal, 0, "int8", clauses=("AFF-3.2", "AFF-3.9"),
               description="int8, zero point 0, scale 2^-126: subnormal x near 2^-126 (which give +-1 under IEEE "
                           "arithmetic and 0 flushed) beside the smallest normals",
               generator="quantize.subnormal_operands")


def zero_point_forms(level: int) -> Iterator[CaseSpec]:
    """Level 1: the input forms the other cases leave out. The zero point at the top of uint2 and uint16
    (whose other level-1 cases have it at qmin), and a per-tensor scale and zero point given as
    1-element arrays (shape (1,)), which the operator accepts as per tensor."""
    if level != 1:
        return
    for dtype in ("uint2", "uint16"):
        chosen = target(dtype)
        tie_values = ties(chosen, chosen.qmax, EDGE_SCALE, limit=64)
        ends = saturation_edges(chosen, chosen.qmax, EDGE_SCALE)
        x = unique_in_order(np.concatenate([specials(), tie_values, neighbours(tie_values), ends, neighbours(ends)]))
        yield case(f"zero-point-qmax-{dtype}", x, EDGE_SCALE, chosen.qmax, dtype, clauses=("AFF-1.2", "AFF-3.3", "AFF-3.5", "AFF-3.6"),
                   description=f"{dtype}, zero point {chosen.qmax} (qmax: its top bit set), scale 3*2^-7: exact ties "
                               f"and one ulp either side, saturation edges and their neighbours ({x.size} values)",
                   generator="quantize.zero_point_forms")
    chosen = target("int8")
    tie_values = ties(chosen, -37, EDGE_SCALE, limit=64)
    x = unique_in_order(np.concatenate([specials(), tie_values, neighbours(tie_values)]))
    yield case("one-element-parameters-int8", x, [EDGE_SCALE], [-37], "int8", clauses=("AFF-1.3", "AFF-3.3", "AFF-3.6"),
               description=f"int8, scale 3*2^-7 and zero point -37 as 1-element arrays (shape (1,)): per tensor; "
                           f"exact ties and one ulp either side ({x.size} values)",
               generator="quantize.zero_point_forms")


GENERATORS = (full_boundaries, edges, per_axis, blocked, random_data, scale_extremes, subnormal_operands,
              zero_point_forms)
