"""The adapter of the docs' home page: QuantizeLinear per tensor in numpy, nothing else.

    refq conform --backend conformance/examples/numpy_backend.py:Backend
"""

import numpy as np

RANGES = {"int8": (-128, 127, np.int8), "uint8": (0, 255, np.uint8)}


class Backend:
    name = "my-numpy-backend"
    profile = "onnx"  # the profile it claims to follow

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        if dtype not in RANGES or np.ndim(scale) != 0:
            raise NotImplementedError  # counted as unsupported, not as a failure
        scale = np.float32(scale)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError("scale must be finite and > 0")  # bad input must be refused
        low, high, container = RANGES[dtype]
        zero = 0 if zero_point is None else int(zero_point)
        with np.errstate(all="ignore"):
            q = np.rint(x / scale) + zero  # float32 division, ties to even
            return np.clip(q, low, high).astype(container)
