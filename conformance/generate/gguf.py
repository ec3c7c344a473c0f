"""Cases for chapter GGF, ggml's block types: ``gguf_quantize`` and ``gguf_dequantize``.

Every case runs under both GGF profiles: ``ggml`` (the C reference) and ``gguf-py`` (the same
bytes, except the sign of a zero a block picks among its elements, GGF-2.1).

Quantize inputs are whole blocks, each drawn from one family, so that every family meets every
type: Gaussian, uniform and heavy-tailed values at scales from 2^-30 to 2^15; blocks of zeros of
both signs, with one non-zero element and with a zero minimum; constant blocks; exact ties of the
round-half-up conversions (a Q4_0 block with maximum -8 and elements on the half-integers); values
whose float16 scale overflows or underflows; a NaN and an infinity (unpredictable blocks).
Dequantize inputs are random bytes whose float16 fields are finite (a NaN result's sign and
payload are unpredictable, GGF-5.2, which a bit mask cannot express), followed by the blocks the
reference quantizes the Gaussian values into, for the types refq quantizes.

Importance-matrix cases (GGF-8) take rows of :data:`IMATRIX_ROW` elements (level 1: one row of the
finite :data:`IMATRIX_FAMILIES`; level 2: the quantize families) with one importance weight per
column, log-normal as llama.cpp's mean squared activations are, a tenth of them zero; they run under ``ggml``,
``gguf-py`` (whose quantize takes no importance matrix: its backend reports them unsupported) and
``ggml-native`` (GGF-4.2 places the weighted searches' FMAs too).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.gguf import BLOCK_TYPES, gguf_dequantize, gguf_quantize
from refq.gguf.api import UNPLACED_TYPES, WEIGHTED_TYPES

PROFILES = ("ggml", "gguf-py")
#: The quantize cases also run under ggml-native (GGF-4.2), for the types whose FMAs refq places;
#: dequantize has no multiply-add a build could fuse, so it is the same under every profile.
NATIVE = "ggml-native"
RANDOM_SEED = 2519
#: Blocks of each family per case: level 1 keeps the checked-in vectors small.
BLOCKS_PER_FAMILY = {1: 1, 2: 24}
#: The row length of the importance-matrix cases: a whole number of blocks of 32 and of super-blocks.
IMATRIX_ROW = 256
#: Random blocks per dequantize case.
RANDOM_BLOCKS = {1: 4, 2: 512}


def _family_block(family: str, elements: int, rng: np.random.Generator) -> np.ndarray:
    scale = np.float32(2.0 ** int(rng.integers(-30, 16)))
    if family == "gaussian":
        return (rng.standard_normal(elements) * scale).astype(np.float32)
    if family == "uniform":
        return (rng.uniform(-1, 1, elements) * scale).astype(np.float32)
    if family == "heavy_tailed":
        return (rng.standard_normal(elements) / np.maximum(rng.uniform(0, 1, elements), 1e-3)).astype(np.float32)
    if family == "zeros":
        return np.where(rng.random(elements) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
    if family == "one_nonzero":
        block = np.where(rng.random(elements) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
        block[rng.integers(elements)] = np.float32(rng.standard_normal())
        return block
    if family == "zero_minimum":
        block = np.abs(rng.standard_normal(elements)).astype(np.float32)
        block[rng.choice(elements, 2, replace=False)] = (np.float32(0.0), np.float32(-0.0))
        return block
    if family == "constant":
        return np.full(elements, np.float32(rng.standard_normal()), dtype=np.float32)
    if family == "half_ties":
        # Maximum -8: Q4_0's d is -8 / -8 = 1, so x * id + 8.5 is exact and every .5 is a tie.
        block = (rng.integers(-8, 8, elements) + np.float32(0.5)).astype(np.float32)
        block[rng.integers(elements)] = np.float32(-8.0)
        return block
    if family.startswith("near_ties"):
        # On, or one ulp beside, the midpoints of the Q4_0 / Q5_0 grid (``near_ties_16``, ``_32``) or of
        # the Q4_1 / Q5_1 grid (``near_ties_min_16``, ``_32``): where x * id + offset in one rounding
        # (an FMA, GGF-4.2) and in two truncate to different codes.
        levels = int(family.rsplit("_", 1)[1])
        step = np.float32(rng.uniform(0.5, 2.0) * scale)
        if "_min_" in family:
            block = ((rng.integers(0, levels - 1, elements) + np.float32(0.5)) * step).astype(np.float32)
            block[:2] = (np.float32(0.0), np.float32((levels - 1) * step))
        else:
            block = ((rng.integers(-levels // 2, levels // 2, elements) + np.float32(0.5)) * step).astype(np.float32)
            block[0] = np.float32(-(levels // 2) * step)
        nudge = rng.random(elements)
        block = np.where(nudge < 0.3, np.nextafter(block, np.float32(np.inf)), block)
        return np.where(nudge > 0.7, np.nextafter(block, np.float32(-np.inf)), block).astype(np.float32)
    if family == "scale_overflow":
        # d beyond float16's largest finite value (65504) for every type's divisor.
        return (rng.standard_normal(elements) * np.float32(2.0 ** 26)).astype(np.float32)
    if family == "scale_underflow":
        # d below float16's smallest subnormal (2^-24), and float32 subnormal elements.
        return (rng.standard_normal(elements) * np.float32(2.0 ** -40)).astype(np.float32)
    if family == "nan":
        block = rng.standard_normal(elements).astype(np.float32)
        block[rng.integers(elements)] = np.float32(np.nan)
        return block
    if family == "infinity":
        block = rng.standard_normal(elements).astype(np.float32)
        block[rng.integers(elements)] = np.float32(-np.inf)
        return block
    raise AssertionError(family)


FAMILIES = ("gaussian", "uniform", "heavy_tailed", "zeros", "one_nonzero", "zero_minimum", "constant",
            "half_ties", "scale_overflow", "scale_underflow", "nan", "infinity",
            "near_ties_16", "near_ties_32", "near_ties_min_16", "near_ties_min_32")


#: Families that fill a whole super-block of a K, TQ or IQ4_XS type on their own: the searches treat an
#: all-zero or constant super-block apart, and a NaN or infinity makes the whole super-block unpredictable.
WHOLE_SUPER_BLOCK = ("zeros", "constant", "nan")


def quantize_input(kind, blocks_per_family: int, rng: np.random.Generator) -> np.ndarray:
    """Each family in blocks of 32 elements. A type whose blocks are super-blocks of 256 takes the
    :data:`WHOLE_SUPER_BLOCK` families one super-block each, then super-blocks whose eight sub-blocks
    are each of another family (so sub-block scales differ by up to 2^45 within a super-block)."""
    if kind.block_elements == 32:
        blocks = [_family_block(family, 32, rng) for _ in range(blocks_per_family) for family in FAMILIES]
        return np.concatenate(blocks).astype(np.float32)
    sub_blocks = kind.block_elements // 32
    mixed = [family for family in FAMILIES if family not in ("nan",)]
    parts = []
    for _ in range(blocks_per_family):
        parts += [_family_block(family, kind.block_elements, rng) for family in WHOLE_SUPER_BLOCK]
        order = rng.permutation(np.resize(np.array(mixed), 2 * sub_blocks))
        parts += [_family_block(str(family), 32, rng) for family in order]
    return np.concatenate(parts).astype(np.float32)


def _finite_random_blocks(kind, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random blocks of ``kind`` whose values all decode finite (rejection per block)."""
    kept = []
    while len(kept) < count:
        block = rng.integers(0, 256, kind.block_bytes, dtype=np.uint8)
        with np.errstate(all="ignore"):
            if np.isfinite(gguf_dequantize(block, type=kind.name)).all():
                kept.append(block)
    return np.concatenate(kept)


def quantize_cases(level: int) -> Iterator[CaseSpec]:
    for kind in BLOCK_TYPES:
        if not kind.quantize:
            continue
        rng = np.random.default_rng([RANDOM_SEED, kind.ggml_id, level])
        x = quantize_input(kind, BLOCKS_PER_FAMILY[level], rng)
        yield CaseSpec(op="gguf_quantize", name=f"{kind.name.lower()}-families{'-random' if level == 2 else ''}",
                       inputs={"x": x, "imatrix": None}, attributes={"type": kind.name}, clauses=(),
                       description=f"{kind.name}: {x.size // kind.block_elements} blocks of "
                                   f"{kind.block_elements}, {BLOCKS_PER_FAMILY[level]} of each family: "
                                   + ", ".join(FAMILIES).replace("_", " "),
                       generator="gguf.quantize_cases", seed=RANDOM_SEED,
                       profiles=PROFILES if kind.name in UNPLACED_TYPES else (*PROFILES, NATIVE))


#: The finite families of the level-1 importance-matrix cases: one row of 256, one block of 32 each (a NaN
#: or infinity enters the row's or super-block's mean square and leaves all of it unpredictable).
IMATRIX_FAMILIES = ("gaussian", "uniform", "heavy_tailed", "zeros", "one_nonzero", "zero_minimum", "constant",
                    "half_ties")


def importance_matrix(rng: np.random.Generator, n_per_row: int = IMATRIX_ROW) -> np.ndarray:
    weights = rng.lognormal(0.0, 2.0, n_per_row)
    return np.where(rng.random(n_per_row) < 0.1, 0.0, weights).astype(np.float32)


def imatrix_cases(level: int) -> Iterator[CaseSpec]:
    for name in WEIGHTED_TYPES:
        kind = next(kind for kind in BLOCK_TYPES if kind.name == name)
        rng = np.random.default_rng([RANDOM_SEED, kind.ggml_id, level, 2])
        if level == 1:
            x = np.concatenate([_family_block(str(family), 32, rng) for family in rng.permutation(IMATRIX_FAMILIES)])
        else:
            x = quantize_input(kind, BLOCKS_PER_FAMILY[level], rng)
        imatrix = importance_matrix(rng)
        yield CaseSpec(op="gguf_quantize", name=f"{name.lower()}-imatrix{'-random' if level == 2 else ''}",
                       inputs={"x": x, "imatrix": imatrix}, attributes={"type": name}, clauses=("GGF-8.1",),
                       description=f"{name} with an importance matrix (GGF-8): {x.size // IMATRIX_ROW} rows of "
                                   f"{IMATRIX_ROW}, "
                                   + ("one block of 32 of each of " + ", ".join(IMATRIX_FAMILIES).replace("_", " ")
                                      if level == 1 else f"the families of {name.lower()}-families-random")
                                   + ", log-normal weights with a tenth of them zero",
                       generator="gguf.imatrix_cases", seed=RANDOM_SEED, profiles=(*PROFILES, NATIVE))


def dequantize_cases(level: int) -> Iterator[CaseSpec]:
    for kind in BLOCK_TYPES:
        rng = np.random.default_rng([RANDOM_SEED, kind.ggml_id, level, 1])
        parts = [_finite_random_blocks(kind, RANDOM_BLOCKS[level], rng)]
        if kind.quantize:
            gaussian = (rng.standard_normal(kind.block_elements * RANDOM_BLOCKS[level])).astype(np.float32)
            parts.append(gguf_quantize(gaussian, type=kind.name))
        blocks = np.concatenate(parts)
        yield CaseSpec(op="gguf_dequantize", name=f"{kind.name.lower()}-bytes{'-random' if level == 2 else ''}",
                       inputs={"blocks": blocks}, attributes={"type": kind.name}, clauses=(),
                       description=f"{kind.name}: {RANDOM_BLOCKS[level]} blocks of random bytes whose float16 "
                                   "fields decode finite" + (", then the blocks of as many Gaussian blocks"
                                                             if kind.quantize else ""),
                       generator="gguf.dequantize_cases", seed=RANDOM_SEED, profiles=PROFILES)


def error_cases(level: int) -> Iterator[CaseSpec]:
    if level != 1:
        return
    common = dict(clauses=(), generator="gguf.error_cases", seed=0, profiles=PROFILES, outcome="error")
    yield CaseSpec(op="gguf_quantize", name="error-partial-block",
                   inputs={"x": np.ones(33, np.float32), "imatrix": None},
                   attributes={"type": "Q4_0"}, description="33 values: not a whole number of Q4_0 blocks",
                   **common)
    yield CaseSpec(op="gguf_quantize", name="error-dequantize-only-type",
                   inputs={"x": np.ones(256, np.float32), "imatrix": None},
                   attributes={"type": "IQ2_XXS"},
                   description="IQ2_XXS: a type refq only dequantizes (its quantize needs an importance search)",
                   **common)
    yield CaseSpec(op="gguf_quantize", name="error-unknown-type",
                   inputs={"x": np.ones(32, np.float32), "imatrix": None},
                   attributes={"type": "Q4_2"}, description="Q4_2: not a ggml type (removed from ggml in 2023)",
                   **common)
    yield CaseSpec(op="gguf_quantize", name="error-imatrix-length",
                   inputs={"x": np.ones(256, np.float32), "imatrix": np.ones(48, np.float32)},
                   attributes={"type": "Q4_0"},
                   description="an importance matrix of 48 weights: not a whole number of Q4_0 blocks per row",
                   **{**common, "clauses": ("GGF-8.1",)})
    yield CaseSpec(op="gguf_dequantize", name="error-truncated-block", inputs={"blocks": np.zeros(35, np.uint8)},
                   attributes={"type": "Q8_0"}, description="35 bytes: one Q8_0 block (34 bytes) and one byte more",
                   **common)


GENERATORS = (quantize_cases, imatrix_cases, dequantize_cases, error_cases)
