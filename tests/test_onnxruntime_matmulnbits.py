"""AFF-4's blocked dequantize against ONNX Runtime's MatMulNBits (the onnxruntime-matmulnbits backend): its 4-bit
weights, dequantized inside the operator and read back through an identity matrix, equal refq's dequantize_linear
under the onnxruntime profile on every element; the level-1 weight cases pass through the harness."""

from __future__ import annotations

import numpy as np
import pytest

import refq
from refq.conformance.harness import case_paths, run_cases

pytest.importorskip("onnxruntime")
F32 = np.float32
RANGES = {"uint4": (0, 15, np.uint8), "int4": (-8, 7, np.int8)}
#: Scales whose products stay finite: exact, inexact, large, subnormal products, 1.
SCALES = np.array([2.0 ** -4, 0.0123, 2.0 ** 100, 3 * 2.0 ** -140, 1.0], F32)


@pytest.fixture(scope="module")
def engine():
    from refq.backends.onnxruntime_matmulnbits import OnnxRuntimeMatMulNBitsBackend

    return OnnxRuntimeMatMulNBitsBackend()


@pytest.mark.parametrize("dtype", RANGES)
@pytest.mark.parametrize(("rows", "length", "block_size"), [(8, 64, 16), (5, 100, 32), (4, 256, 64), (3, 300, 128),
                                                            (2, 512, 256)])
def test_matmulnbits_dequantizes_as_refq(engine, dtype, rows, length, block_size):
    low, high, container = RANGES[dtype]
    rng = np.random.default_rng([1540, rows, length])
    blocks = -(-length // block_size)
    q = rng.integers(low, high, (rows, length), endpoint=True).astype(container)
    scales = SCALES[rng.integers(0, SCALES.size, (rows, blocks))]
    scales[0, 0] = SCALES[3]
    for zero_point in (None, rng.integers(low, high, (rows, blocks), endpoint=True).astype(container)):
        theirs = engine.dequantize_linear(q, scales, zero_point, axis=1, block_size=block_size, dtype=dtype)
        ours = refq.dequantize(q, scales, zero_point, axis=1, block_size=block_size, dtype=dtype, profile="onnxruntime")
        assert theirs.view(np.uint32).tolist() == ours.view(np.uint32).tolist()
    assert (ours != 0).any() and (np.abs(ours[ours != 0]) < np.finfo(F32).tiny).any()  # subnormal products met


@pytest.mark.parametrize("call", [
    lambda e: e.dequantize_linear(np.zeros((2, 32), np.uint8), np.ones((2, 4), F32), axis=1, block_size=8,
                                  dtype="uint4"),
    lambda e: e.dequantize_linear(np.zeros((2, 32), np.uint8), np.ones((2, 1), F32), axis=0, block_size=16,
                                  dtype="uint4"),
    lambda e: e.dequantize_linear(np.zeros(32, np.uint8), np.ones(2, F32), axis=0, block_size=16, dtype="uint4"),
    lambda e: e.dequantize_linear(np.zeros((2, 32), np.int8), np.ones((2, 2), F32), axis=1, block_size=16,
                                  dtype="int8"),
    # 15 * 3e38 overflows: through the identity the row would be NaN
    lambda e: e.dequantize_linear(np.full((1, 16), 15, np.uint8), np.full((1, 1), 3e38, F32), axis=1,
                                  block_size=16, dtype="uint4"),
])
def test_other_forms_are_declined(engine, call):
    with pytest.raises(NotImplementedError):
        call(engine)


def test_matmulnbits_conforms_on_its_weight_cases():
    results = run_cases("onnxruntime-matmulnbits", case_paths(ops=["dequantize_linear"]))
    passed = [r for r in results if r.status == "pass"]
    assert {r.id.split("/")[1] for r in passed} == {"weight-blocks-uint4-32", "weight-blocks-int4-16"}
    assert all(r.status in ("pass", "unsupported") for r in results)
