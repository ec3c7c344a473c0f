"""Generators of quantize_linear_float and dequantize_linear_float cases (AFF-6: ONNX QuantizeLinear and
DequantizeLinear with a float8, float6 or float4 type).

Quantize inputs are the cast generator's boundary values of the format (every value, the midpoints
and their neighbours, the overflow and underflow boundaries, zeros, infinities, NaNs) under a scale
of 1, where the division is exact and each boundary reaches the cast as it is; then the same values
times 3 under a scale of 3 (the quotient rounded once more), per axis and blocked layouts, and a
nonzero zero point, where the ONNX text and ONNX Runtime part (AFF-6.2). Dequantize takes every
pattern of the format under per-tensor, per-axis and blocked scales; a nonzero zero point is
subtracted under the ONNX text and refused by ONNX Runtime (AFF-6.4). The formats of OCP MX's
elements, quantize and dequantize, also take E8M0 block scales over that type's whole range (AFF-6.5).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.conformance.generate.cast import cast_inputs
from refq.numbers.floats import encode_array
from refq.registry import float_format
from refq.registry.operations import OPERATIONS_BY_NAME

QUANTIZE, DEQUANTIZE = "quantize_linear_float", "dequantize_linear_float"
PROFILES = ("onnx", "onnxruntime", "onnx-reference")
TARGETS = OPERATIONS_BY_NAME[QUANTIZE].values["to"]
GENERATOR = "float_targets"


def pattern(value: float, name: str) -> np.ndarray:
    """The uint8 pattern of ``value`` (exact in the format) as a zero point."""
    return encode_array(np.array(value, np.float32), name, overflow="infinity").astype(np.uint8)


RANDOM_SEED = 3601


def quantize_cases(level: int) -> Iterator[CaseSpec]:
    """Level 1: the boundary cases; level 2: 65,536 random float32 per format over its exponent range
    under two scales, both saturations."""
    if level == 2:
        yield from random_quantize_cases()
        return
    common = dict(op=QUANTIZE, generator=f"{GENERATOR}.quantize_cases", seed=0, profiles=PROFILES)
    for name in TARGETS:
        fmt = float_format(name)
        boundaries = cast_inputs(fmt, None, 0)
        saturations = (False, True) if name.startswith("float8") else (True,)
        for saturate in saturations:
            yield CaseSpec(name=f"{name}-saturate-{str(saturate).lower()}", inputs={"x": boundaries,
                                                                                  "scale": np.float32(1),
                                                                                  "zero_point": None},
                           attributes={"to": name, "saturate": saturate}, clauses=("NUM-3.15",),
                           description=f"float32 to {name}, scale 1 (the division exact), saturate={saturate}: the "
                                       f"cast's boundary values ({boundaries.size} values)", **common)
        yield CaseSpec(name=f"{name}-zero-point", inputs={"x": boundaries[:64], "scale": np.float32(1),
                                                           "zero_point": pattern(1.0, name)},
                       attributes={"to": name}, clauses=(),
                       description="a zero point of 1.0: added by the ONNX text's formula, ignored by ONNX "
                                   "Runtime", **common)
    # The layouts, once: AFF-1.4's, as for integer targets.
    name = "float8_e4m3fn"
    boundaries = cast_inputs(float_format(name), None, 0)
    with np.errstate(over="ignore", invalid="ignore"):
        tripled = (boundaries * np.float32(3)).astype(np.float32)
    yield CaseSpec(name=f"{name}-scale-3", inputs={"x": tripled, "scale": np.float32(3), "zero_point": None},
                   attributes={"to": name}, clauses=(),
                   description="the boundary values times 3 under scale 3: the quotient rounded to float32 first",
                   **common)
    rows = np.resize(boundaries, (4, 32)).astype(np.float32)
    scales = np.array([1, 0.5, 3, 2 ** -10], np.float32)
    yield CaseSpec(name=f"{name}-per-axis", inputs={"x": rows, "scale": scales, "zero_point": None}, attributes={"to": name, "axis": 0},
                   clauses=(), description="four rows of boundary values, one scale each (1, 0.5, 3, 2^-10)",
                   **common)
    yield CaseSpec(name=f"{name}-blocked", inputs={"x": rows, "scale": np.resize(scales, (4, 2)), "zero_point": None},
                   attributes={"to": name, "axis": 1, "block_size": 16}, clauses=(),
                   description="blocks of 16 along axis 1, eight scales", **common)
    yield from e8m0_quantize_cases(common)


#: AFF-6.5's E8M0 scales: the formats of OCP MX's elements, blocks of 32 along the last axis.
E8M0_TARGETS = ("float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn")
#: The exponents of the E8M0 scales, one per row of blocks: the ends of its range and values between.
E8M0_EXPONENTS = np.array([-127, -126, -100, -3, 0, 5, 100, 127])


def e8m0_scales() -> np.ndarray:
    """Two E8M0 scales per row (blocks of 32 in rows of 64), float32 powers of two from 2^-127 to 2^127."""
    return np.exp2(np.stack([E8M0_EXPONENTS, E8M0_EXPONENTS[::-1]], axis=1)).astype(np.float32)


def e8m0_quantize_cases(common: dict) -> Iterator[CaseSpec]:
    scales = e8m0_scales()
    for name in E8M0_TARGETS:
        boundaries = np.resize(cast_inputs(float_format(name), None, 0), (8, 64)).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            x = (boundaries * np.repeat(scales, 32, axis=1)).astype(np.float32)
        yield CaseSpec(name=f"{name}-e8m0-scales", inputs={"x": x, "scale": scales, "zero_point": None},
                       attributes={"to": name, "axis": 1, "block_size": 32, "scale_type": "float8_e8m0fnu"},
                       clauses=("AFF-6.5",),
                       description=f"the boundary values of {name} times E8M0 block scales from 2^-127 to 2^127, "
                                   "blocks of 32 (OCP MX's layout with its scales given)", **common)


def random_quantize_cases() -> Iterator[CaseSpec]:
    common = dict(op=QUANTIZE, generator=f"{GENERATOR}.quantize_cases", seed=RANDOM_SEED, profiles=PROFILES)
    for name in TARGETS:
        x = cast_inputs(float_format(name), np.random.default_rng(RANDOM_SEED), 1 << 16)
        for saturate in ((False, True) if name.startswith("float8") else (True,)):
            for scale in (np.float32(1), np.float32(0.37)):
                with np.errstate(over="ignore", invalid="ignore"):
                    scaled = (x * scale).astype(np.float32)
                yield CaseSpec(name=f"{name}-saturate-{str(saturate).lower()}-scale-{scale:g}-random",
                               inputs={"x": scaled, "scale": scale, "zero_point": None},
                               attributes={"to": name, "saturate": saturate}, clauses=(),
                               description=f"the boundary values and 65,536 random float32 over {name}'s exponent "
                                           f"range, times {scale:g} under scale {scale:g}", **common)


def dequantize_cases(level: int) -> Iterator[CaseSpec]:
    """Level 1 only: every pattern is already in it."""
    if level == 2:
        return
    common = dict(op=DEQUANTIZE, generator=f"{GENERATOR}.dequantize_cases", seed=0)
    scales = np.array([1, 3.3, 2 ** -120, 2 ** 100], np.float32)
    for name in TARGETS:
        every = np.arange(1 << float_format(name).total_bits, dtype=np.uint8)
        yield CaseSpec(name=f"{name}-every-pattern", inputs={"q": np.tile(every, (4, 1)), "scale": scales,
                                                                         "zero_point": None},
                       attributes={"dtype": name, "axis": 0}, clauses=(), profiles=PROFILES,
                       description=f"every pattern of {name} under four scales, one per row (1, 3.3, 2^-120, 2^100: "
                                   f"the product's underflow and overflow)", **common)
        zero = {"q": every, "scale": np.float32(2), "zero_point": pattern(1.0, name)}
        # onnx.reference refuses it for float8 like ONNX Runtime, and answers for float6 and float4.
        float8 = name.startswith("float8")
        yield CaseSpec(name=f"{name}-zero-point", inputs=zero, attributes={"dtype": name}, clauses=(),
                       profiles=("onnx",) + (() if float8 else ("onnx-reference",)),
                       description="a zero point of 1.0, subtracted (the ONNX text)"
                                   + ("" if float8 else "; onnx.reference subtracts it for float6, ignores it for "
                                                        "float4"), **common)
        yield CaseSpec(name=f"{name}-error-zero-point", inputs=zero, attributes={"dtype": name}, clauses=(),
                       profiles=("onnxruntime",) + (("onnx-reference",) if float8 else ()), outcome="error",
                       description="a zero point of 1.0: ONNX Runtime refuses any but 0"
                                   + (" (and onnx.reference for the float8 types)" if float8 else ""), **common)
    for name in E8M0_TARGETS:
        every = np.resize(np.arange(1 << float_format(name).total_bits, dtype=np.uint8), (8, 64))
        yield CaseSpec(name=f"{name}-e8m0-scales", inputs={"q": every, "scale": e8m0_scales(), "zero_point": None},
                       attributes={"dtype": name, "axis": 1, "block_size": 32, "scale_type": "float8_e8m0fnu"},
                       clauses=("AFF-6.5",), profiles=PROFILES,
                       description="every pattern under E8M0 block scales from 2^-127 to 2^127, blocks of 32", **common)
    name = "float8_e4m3fn"
    every = np.arange(256, dtype=np.uint8)
    yield CaseSpec(name=f"{name}-blocked", inputs={"q": every.reshape(4, 64), "scale": np.resize(scales, (4, 4)),
                                                        "zero_point": None},
                   attributes={"dtype": name, "axis": 1, "block_size": 16}, clauses=(), profiles=PROFILES,
                   description="blocks of 16 along axis 1", **common)


GENERATORS = (quantize_cases, dequantize_cases)
