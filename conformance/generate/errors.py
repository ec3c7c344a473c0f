"""Error cases: arguments a conforming backend must reject (outcome "error").

Each case breaks exactly one rule of AFF-1 or AFF-4.1; the descriptor's ``reason`` is
the message refq's reference raises for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.conformance.generate.parameters import PROFILE_NAMES

X = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0], dtype=np.float32)


def error_case(op: str, name: str, data, scale, zero_point, *, dtype: str, axis=None, block_size=None,
               clauses: tuple[str, ...], description: str) -> CaseSpec:
    data_name = "x" if op == "quantize_linear" else "q"
    return CaseSpec(
        op=op, name=name,
        inputs={data_name: np.array(data, order="C"), "scale": np.array(scale, dtype=np.float32, order="C"),
                "zero_point": np.array(zero_point, order="C")},
        attributes={"axis": axis, "block_size": block_size, "dtype": dtype},
        clauses=clauses, description=description, generator="errors.invalid_arguments", seed=0,
        profiles=PROFILE_NAMES, outcome="error")


def invalid_arguments(level: int) -> Iterator[CaseSpec]:
    """One case per rule at level 1; level 2 repeats the scale and zero point rules for dequantize."""
    if level == 2:
        yield from invalid_dequantize_parameters()
        return
    zero = np.int8(0)
    for label, scale in (("zero", 0.0), ("negative", -0.5), ("nan", np.nan), ("infinity", np.inf)):
        yield error_case("quantize_linear", f"error-scale-{label}", X, np.float32(scale), zero, dtype="int8",
                         clauses=("AFF-1.1",), description=f"scale {label} ({scale!r}): a scale is finite and > 0")
    yield error_case("quantize_linear", "error-zero-point-out-of-range", X, np.float32(0.5), np.int8(8),
                     dtype="int4", clauses=("AFF-1.3",),
                     description="int4 with zero point 8 (held in an int8 container): outside [-8, 7]")
    matrix = X.reshape(2, 3)
    yield error_case("quantize_linear", "error-per-axis-scale-length", matrix, np.full(2, 0.5, np.float32),
                     np.zeros(2, np.int8), dtype="int8", axis=1, clauses=("AFF-1.4",),
                     description="per-axis along axis 1 of length 3 with 2 scales and zero points")
    yield error_case("quantize_linear", "error-axis-out-of-range", matrix, np.full(3, 0.5, np.float32),
                     np.zeros(3, np.int8), dtype="int8", axis=2, clauses=("AFF-1.4",),
                     description="axis 2 of an input of rank 2")
    wide = np.linspace(-2, 2, 20, dtype=np.float32).reshape(2, 10)
    yield error_case("quantize_linear", "error-blocked-block-count", wide, np.full((2, 2), 0.5, np.float32),
                     np.zeros((2, 2), np.int8), dtype="int8", axis=1, block_size=4, clauses=("AFF-1.4",),
                     description="blocked along axis 1 of length 10 with block size 4 needs 3 blocks; 2 given")
    yield error_case("dequantize_linear", "error-input-out-of-range", np.array([-8, 0, 7, 9], dtype=np.int8),
                     np.float32(0.5), np.int8(0), dtype="int4", clauses=("AFF-4.1",),
                     description="int4 input holding 9 in its int8 container: outside [-8, 7]")



def invalid_dequantize_parameters() -> Iterator[CaseSpec]:
    q = np.array([-3, 0, 5], dtype=np.int8)
    for label, scale in (("zero", 0.0), ("negative", -0.25), ("nan", np.nan), ("infinity", np.inf)):
        yield error_case("dequantize_linear", f"error-scale-{label}", q, np.float32(scale), np.int8(0), dtype="int8",
                         clauses=("AFF-1.1",), description=f"scale {label} ({scale!r}): a scale is finite and > 0")
    yield error_case("dequantize_linear", "error-zero-point-out-of-range", np.array([0, 3], dtype=np.uint8),
                     np.float32(0.5), np.uint8(16), dtype="uint4", clauses=("AFF-1.3",),
                     description="uint4 with zero point 16 (held in a uint8 container): outside [0, 15]")


GENERATORS = (invalid_arguments,)
