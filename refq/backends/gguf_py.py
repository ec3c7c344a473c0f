"""gguf-py's numpy block quantizers (the ``gguf`` package llama.cpp's conversion scripts use) as GGF's operations."""

from __future__ import annotations

import warnings

import numpy as np


class GgufPyBackend:
    """``gguf_quantize`` and ``gguf_dequantize`` through ``gguf.quants.quantize`` / ``dequantize``.

    gguf-py quantizes Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0 and MXFP4 (and the float types), and
    raises NotImplementedError for the others, which refq reports as unsupported. The input is one
    row: the blocks in the order of the elements, as GGF-5.1 lays them out.
    """

    name = "gguf-py"
    profile = "gguf-py"

    def __init__(self) -> None:
        import gguf
        from gguf import quants

        self._types = gguf.GGMLQuantizationType
        self._quants = quants
        self.version = getattr(gguf, "__version__", None) or _distribution_version()

    def _type(self, type):
        from refq.gguf.types import BLOCK_TYPES_BY_NAME

        try:
            return self._types[type]
        except KeyError:
            if type in BLOCK_TYPES_BY_NAME:  # a ggml type newer than this gguf-py (Q2_0 in 0.19)
                raise NotImplementedError(f"gguf-py {self.version} has no type {type}") from None
            raise ValueError(f"type {type!r}: not a ggml type") from None

    def gguf_quantize(self, x, imatrix=None, *, type="Q4_0") -> np.ndarray:
        if imatrix is not None:
            raise NotImplementedError("gguf-py's quantize takes no importance matrix (GGF-8)")
        with warnings.catch_warnings():
            # Scales beyond float16 overflow to infinity on purpose (as ggml's conversion does).
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.ascontiguousarray(self._quants.quantize(np.asarray(x).reshape(1, -1), self._type(type))
                                        .reshape(-1))

    def gguf_dequantize(self, blocks, *, type="Q4_0") -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values = self._quants.dequantize(np.asarray(blocks).reshape(1, -1), self._type(type))
        return np.ascontiguousarray(values.reshape(-1))


def _distribution_version() -> str:
    from importlib import metadata

    return metadata.version("gguf")
