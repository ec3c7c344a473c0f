"""Generators of cast cases (ONNX Cast from float32 to the 8- and 4-bit float formats).

Every input is derived from the target format's parameters: each representable value,
the midpoints between neighbours and one float32 ulp either side of them, the overflow
boundary (the largest finite value, the tie with the next value the exponent range
would allow, and beyond), the underflow boundary, zeros, infinities and NaNs. A format
without NaN gets its NaNs in a case of their own (NUM-3.23), so that a backend refusing
them is judged unsupported there only. E8M0 gets a case per ``round_mode`` (NUM-3.21).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.boundaries import neighbours, unique_in_order
from refq.conformance.generate.case_spec import CaseSpec
from refq.numbers.floats import decode_array
from refq.registry import FloatFormat, float_format
from refq.registry.operations import OPERATIONS_BY_NAME

OP = "cast"
PROFILES = ("onnx", "onnxruntime", "onnx-reference")
E8M0 = "float8_e8m0fnu"
#: The profiles that give a NaN a pattern in a format without NaN (onnxruntime's refuses it: NUM-3.17).
NAN_PROFILES = ("onnx", "onnx-reference")
REFUSING_PROFILES = tuple(profile for profile in PROFILES if profile not in NAN_PROFILES)
RANDOM_SEED = 3101
#: The float formats ONNX Cast converts float32 to that are narrower than 16 bits.
TARGETS = tuple(name for name in OPERATIONS_BY_NAME[OP].onnx_values["to"] if float_format(name).total_bits < 16)


def representable(fmt: FloatFormat) -> np.ndarray:
    """Every non-NaN value of ``fmt`` as float32 (exact: the formats are narrower than float32)."""
    values = decode_array(np.arange(1 << fmt.total_bits, dtype=np.uint32), fmt)
    return values[~np.isnan(values)].astype(np.float32)


def float32_nans() -> np.ndarray:
    """Quiet and signalling NaNs of both signs, with small and large payloads."""
    patterns = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7FA5A5A5],
                        dtype=np.uint32)
    return patterns.view(np.float32)


def cast_inputs(fmt: FloatFormat, rng: np.random.Generator | None, extra: int) -> np.ndarray:
    values = representable(fmt)
    # Finite only: an ieee format's infinity is not its largest value (the overflow boundary is below it).
    positive = np.unique(values[(values > 0) & np.isfinite(values)])
    midpoints = ((positive[:-1].astype(np.float64) + positive[1:]) / 2).astype(np.float32)
    largest, spacing = positive[-1], positive[-1] - positive[-2]
    beyond = np.float32(largest + spacing)  # the next value, were the exponent range unlimited
    # The tie as largest + half the step: (largest + beyond) / 2 overflows float32 for E8M0.
    with np.errstate(over="ignore"):  # E8M0's 2 * largest is an infinity, already an input
        overflow = np.array([largest, largest + (beyond - largest) / np.float32(2), beyond, 2 * largest,
                             np.finfo(np.float32).max], dtype=np.float32)
    smallest = positive[0]
    underflow = np.array([smallest / 2, smallest / 4, np.float32(np.ldexp(1.0, -149)),
                          np.finfo(np.float32).tiny], dtype=np.float32)
    positive_edges = np.concatenate([midpoints, neighbours(midpoints), overflow, neighbours(overflow),
                                     underflow, neighbours(underflow)])
    parts = [values, positive_edges, -positive_edges, np.array([0.0, -0.0, np.inf, -np.inf], dtype=np.float32)]
    if fmt.has_nan:
        parts.append(float32_nans())
    if rng is not None:
        # Level 2: random float32 patterns whose exponents span the format's range and a little past it.
        low = max(1, 127 + 1 - fmt.bias - fmt.mantissa_bits - 2)
        high = min(254, 127 + (1 << fmt.exponent_bits) - fmt.bias + 2)
        exponents = rng.integers(low, high, extra, endpoint=True).astype(np.uint32)
        significands = rng.integers(0, 1 << 23, extra).astype(np.uint32)
        signs = rng.integers(0, 2, extra).astype(np.uint32) << 31
        parts.append((signs | (exponents << 23) | significands).view(np.float32))
    return unique_in_order(np.concatenate(parts))


def every_target(level: int) -> Iterator[CaseSpec]:
    """Each target format with saturate False and True; level 2 adds 65536 random float32
    values over the format's exponent range to the same boundary values."""
    for name in TARGETS:
        fmt = float_format(name)
        rng = np.random.default_rng(RANDOM_SEED) if level == 2 else None
        x = cast_inputs(fmt, rng, 1 << 16)
        round_modes = OPERATIONS_BY_NAME[OP].values["round_mode"] if name == E8M0 else ("nearest",)
        for saturate, round_mode in ((saturate, mode) for saturate in (False, True) for mode in round_modes):
            mode_part = f"-{round_mode}" if name == E8M0 else ""
            yield CaseSpec(
                op=OP, name=f"{name}{mode_part}-saturate-{str(saturate).lower()}{'-random' if level == 2 else ''}",
                inputs={"x": x},
                attributes={"to": name, "saturate": saturate, **({"round_mode": round_mode} if name == E8M0 else {})},
                clauses=("NUM-3.6", "NUM-3.8", "NUM-3.14") + (("NUM-3.21", "NUM-3.22") if name == E8M0 else ()),
                description=f"float32 to {name}, saturate={saturate}: every representable value, the midpoints "
                            f"between neighbours and one float32 ulp either side, the overflow boundary "
                            f"(max finite, the tie with the next value, beyond), the underflow boundary, zeros, "
                            f"infinities{', NaNs' if fmt.has_nan else ' (no NaN: the format has none)'} "
                            f"({x.size} values)",
                generator="cast.every_target", seed=RANDOM_SEED if level == 2 else 0, profiles=PROFILES)


def nans_without_nan(level: int) -> Iterator[CaseSpec]:
    """NUM-3.23: NaNs of both signs and payloads, among numbers, cast to each format without NaN."""
    if level != 1:
        return
    for name in TARGETS:
        fmt = float_format(name)
        if fmt.has_nan:
            continue
        x = np.concatenate([float32_nans(), np.array([0.0, -0.0, 1.0, -1.0, np.inf], dtype=np.float32)])
        yield CaseSpec(
            op=OP, name=f"{name}-nan", inputs={"x": x}, attributes={"to": name, "saturate": False},
            clauses=("NUM-3.23",),
            description=f"float32 NaNs (quiet and signalling, both signs) among numbers, to {name}, which has no "
                        "NaN: the profile's finite_format_nan decides (an error where refused)",
            generator="cast.nans_without_nan", seed=0, profiles=NAN_PROFILES)
        yield CaseSpec(
            op=OP, name=f"error-{name}-nan", inputs={"x": x}, attributes={"to": name, "saturate": False},
            clauses=("NUM-3.17", "NUM-3.23"),
            description=f"the same NaNs to {name} under a profile that refuses them (finite_format_nan = error)",
            generator="cast.nans_without_nan", seed=0, profiles=REFUSING_PROFILES, outcome="error")


GENERATORS = (every_target, nans_without_nan)
