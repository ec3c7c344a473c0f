"""The optional ``out=`` array of quantize and dequantize (AFF-3.1, AFF-4.2)."""

from __future__ import annotations

import numpy as np
import pytest

from refq.affine import dequantize, quantize
from refq.errors import RefqTypeError, RefqValueError

X = np.linspace(-1.5, 1.5, 120, dtype=np.float32).reshape(4, 30)


@pytest.mark.parametrize("profile", ["onnx", "pytorch", "onnx-reference"])
def test_quantize_writes_into_out(profile: str) -> None:
    out = np.empty(X.shape, np.int8)
    result = quantize(X, np.float32(0.01), 3, profile=profile, out=out)
    assert result is out
    assert np.array_equal(out, quantize(X, np.float32(0.01), 3, profile=profile))


@pytest.mark.parametrize("formula", ["subtract_then_multiply", "multiply_then_subtract"])
def test_dequantize_writes_into_out(formula: str) -> None:
    q = quantize(X, np.float32(0.01), 3)
    out = np.empty(X.shape, np.float32)
    assert dequantize(q, np.float32(0.01), 3, out=out, dequantize_formula=formula) is out
    expected = dequantize(q, np.float32(0.01), 3, dequantize_formula=formula)
    assert np.array_equal(out.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("out", [np.empty(5, np.int8), np.empty(X.shape, np.int16), np.empty((30, 4), np.int8).T])
def test_quantize_rejects_unsuitable_out(out) -> None:
    with pytest.raises(RefqValueError, match="^out:"):
        quantize(X, np.float32(0.01), out=out)


def test_quantize_rejects_non_array_out() -> None:
    with pytest.raises(RefqTypeError, match="^out:"):
        quantize(X, np.float32(0.01), out=[0] * X.size)
