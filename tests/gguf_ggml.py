"""ggml itself, for the GGUF tests and benchmark: the library ``refq ggml build`` compiles
(:mod:`refq.backends.ggml_build`), in both builds, called through the ``ggml`` backend's adapter.

Without a build (``refq ggml build`` not run, or no gcc) every test that needs ggml skips, naming
the command; the README's install command runs it.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from refq.backends import ggml_build
from refq.backends.ggml import GgmlBackend


def unavailable_reason() -> str | None:
    try:
        for build in ggml_build.REFERENCE_BUILDS:
            ggml_build.built_library(build)
    except ggml_build.GgmlUnavailable as error:
        return str(error)
    return None


@cache
def backend(build: str) -> GgmlBackend:
    """The adapter on ``build`` ("unfused": the ggml backend itself; "fused": the fixed x86-64-v3 library)."""
    return GgmlBackend(build)


def quantize(build: str, type_name: str, x: np.ndarray) -> np.ndarray:
    """ggml's ``quantize_row_<type>_ref`` on the float32 values ``x``: the bytes of the blocks."""
    return backend(build).gguf_quantize(np.ascontiguousarray(x, dtype=np.float32).reshape(-1), type=type_name)


def dequantize(build: str, type_name: str, blocks: np.ndarray) -> np.ndarray:
    """ggml's ``dequantize_row_<type>`` on the bytes ``blocks``."""
    return backend(build).gguf_dequantize(np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1), type=type_name)


def type_size(type_name: str) -> tuple[int, int]:
    """ggml's own (elements, bytes) of one block of ``type_name``."""
    _, elements, size = backend("unfused")._block(type_name)
    return elements, size
