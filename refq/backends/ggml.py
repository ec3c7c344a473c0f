"""ggml's own C block quantizers (``quantize_row_*_ref``, ``dequantize_row_*``) through ctypes."""

from __future__ import annotations

import ctypes

import numpy as np

from refq.backends.ggml_build import SOURCE_RELEASE, built_library


def c_name(type_name: str) -> str:
    """The type's name as ggml's function names spell it: ``q4_0``, ``q4_K``, ``iq4_nl``."""
    return type_name.lower().replace("_k", "_K")


class GgmlBackend:
    """``gguf_quantize`` and ``gguf_dequantize`` through the library ``refq ggml build`` compiles
    without FMA contraction (:mod:`refq.backends.ggml_build`): ggml's reference, profile ``ggml``.

    Quantize calls ``quantize_row_<type>_ref`` (with an importance matrix ``ggml_quantize_chunk``, GGF-8),
    dequantize ``dequantize_row_<type>``; a type ggml has no such function for (the lattice IQ types'
    quantize, Q8_1's dequantize, Q8_1 and Q8_K in ggml_quantize_chunk) is NotImplementedError.
    The C functions do not check their arguments, so this adapter checks what C would read out of
    bounds: a length that is not a whole number of blocks is a ValueError.
    """

    name = "ggml"
    profile = "ggml"
    build = "unfused"

    def __init__(self, build: str = "unfused") -> None:
        #: "unfused" (the backend, profile ggml) or "fused" (the x86-64-v3 library with FMAs, ggml-native).
        self.build = build
        self._library = ctypes.CDLL(str(built_library(self.build)))
        self._library.ggml_type_size.restype = ctypes.c_size_t
        self._library.ggml_blck_size.restype = ctypes.c_int64
        self._library.ggml_quantize_init.restype = None
        #: The release of the sources compiled (llama-cpp-python's, which vendors ggml).
        self.version = SOURCE_RELEASE[1]

    def _block(self, type: str) -> tuple[int, int, int]:
        from refq.gguf.types import BLOCK_TYPES_BY_NAME

        known = BLOCK_TYPES_BY_NAME.get(type)
        if known is None:
            raise ValueError(f"type {type!r}: not a ggml block type")
        kind = known.ggml_id
        return kind, int(self._library.ggml_blck_size(kind)), int(self._library.ggml_type_size(kind))

    def _function(self, name: str):
        try:
            function = getattr(self._library, name)
        except AttributeError:
            raise NotImplementedError(f"ggml has no {name}") from None
        function.restype = None
        return function

    def gguf_quantize(self, x, imatrix=None, *, type="Q4_0") -> np.ndarray:
        """``quantize_row_<type>_ref`` without ``imatrix``; with it, ``ggml_quantize_chunk(type, x, out, 0,
        nrows, n_per_row, imatrix)``, ``n_per_row`` the importance matrix's length (GGF-8)."""
        kind, elements, size = self._block(type)
        values = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(-1))
        if values.size % elements:
            raise ValueError(f"x: {values.size} values are not a whole number of {type} blocks of {elements}")
        if imatrix is not None:
            return self._quantize_chunk(values, np.ascontiguousarray(np.asarray(imatrix, dtype=np.float32).reshape(-1)),
                                        type, kind, elements, size)
        function = self._function(f"quantize_row_{c_name(type)}_ref")
        self._library.ggml_quantize_init(kind)
        out = np.zeros(values.size // elements * size, dtype=np.uint8)
        function(values.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p),
                 ctypes.c_int64(values.size))
        return out

    def _quantize_chunk(self, values, weights, type, kind, elements, size) -> np.ndarray:
        # ggml_quantize_chunk asserts (aborting the process) where these do not hold: checked here.
        if type in ("Q8_1", "Q8_K"):
            raise NotImplementedError(f"ggml_quantize_chunk has no {type}")
        if weights.size == 0 or weights.size % elements or values.size % weights.size:
            raise ValueError(f"imatrix: {weights.size} weights are not one per column of whole rows of {type} "
                             f"blocks ({values.size} values)")
        chunk = self._library.ggml_quantize_chunk
        chunk.restype = ctypes.c_size_t
        chunk.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                          ctypes.c_int64, ctypes.c_void_p)
        out = np.zeros(values.size // elements * size, dtype=np.uint8)
        chunk(kind, values.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), 0,
              values.size // weights.size, weights.size, weights.ctypes.data_as(ctypes.c_void_p))
        return out

    def gguf_dequantize(self, blocks, *, type="Q4_0") -> np.ndarray:
        kind, elements, size = self._block(type)
        function = self._function(f"dequantize_row_{c_name(type)}")
        data = np.ascontiguousarray(np.asarray(blocks, dtype=np.uint8).reshape(-1))
        if data.size % size:
            raise ValueError(f"blocks: {data.size} bytes are not a whole number of {type} blocks of {size}")
        out = np.zeros(data.size // size * elements, dtype=np.float32)
        function(data.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(out.size))
        return out


class GgmlNativeBackend(GgmlBackend):
    """ggml's reference compiled by gcc for x86-64-v3 with FMA contraction (``refq ggml build``'s fused
    library, :data:`refq.backends.ggml_build.FLAGS`), profile ``ggml-native``: gcc fuses the
    multiply-adds GGF-4.2 places. The build's target is fixed, so its bytes are the same on every CPU
    that runs it; a CPU without x86-64-v3's instructions (AVX2, FMA, F16C, ...) cannot run it, and the
    backend is then not available."""

    name = "ggml-native"
    profile = "ggml-native"

    def __init__(self) -> None:
        from refq.backends.ggml_build import GgmlUnavailable, missing_cpu_flags

        missing = missing_cpu_flags()
        if missing:
            raise GgmlUnavailable("ggml-native runs ggml built for x86-64-v3 (gcc -march=x86-64-v3 -mtune=znver3); "
                                  f"this CPU lacks {', '.join(missing)}")
        super().__init__("fused")


class GgmlCpuX86Backend:
    """ggml-cpu's x86 SIMD activation quantizer, ``quantize_row_q8_0`` and ``quantize_row_q8_1`` of
    ``src/ggml-cpu/arch/x86/quants.c`` (the AVX2 branch, ``refq ggml build``'s x86-simd library), as
    ``gguf_quantize`` under the profile ``ggml-cpu-x86`` (GGF-4.3).

    It quantizes Q8_0 and Q8_1 only (every other type, and an importance matrix, is NotImplementedError:
    ggml-cpu quantizes nothing else this way) and has no ``gguf_dequantize``. The library is built for
    x86-64-v3: a CPU without AVX2, FMA or F16C cannot run it, and the backend is then not available.
    """

    name = "ggml-cpu-x86"
    profile = "ggml-cpu-x86"
    #: The types the library quantizes, with the bytes of one block.
    TYPES = {"Q8_0": 34, "Q8_1": 36}

    def __init__(self) -> None:
        from refq.backends.ggml_build import GgmlUnavailable, missing_cpu_flags

        missing = missing_cpu_flags()
        if missing:
            raise GgmlUnavailable("ggml-cpu-x86 runs ggml-cpu's AVX2 activation quantizer (x86-64-v3); "
                                  f"this CPU lacks {', '.join(missing)}")
        self._library = ctypes.CDLL(str(built_library("x86-simd")))
        #: The release of the sources compiled (llama-cpp-python's, which vendors ggml).
        self.version = SOURCE_RELEASE[1]

    def gguf_quantize(self, x, imatrix=None, *, type) -> np.ndarray:
        """``quantize_row_q8_0`` or ``quantize_row_q8_1`` of ggml-cpu on the flattened float32 ``x``."""
        if type not in self.TYPES:
            from refq.gguf.types import BLOCK_TYPES_BY_NAME

            if type not in BLOCK_TYPES_BY_NAME:
                raise ValueError(f"type {type!r}: not a ggml block type")
            raise NotImplementedError(f"ggml-cpu's x86 activation quantizer has no {type} (Q8_0 and Q8_1 only)")
        if imatrix is not None:
            raise NotImplementedError("ggml-cpu's activation quantizer takes no importance matrix")
        values = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(-1))
        if values.size % 32:
            raise ValueError(f"x: {values.size} values are not a whole number of {type} blocks of 32")
        function = getattr(self._library, f"quantize_row_{type.lower()}")
        function.restype = None
        out = np.zeros(values.size // 32 * self.TYPES[type], dtype=np.uint8)
        function(values.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p),
                 ctypes.c_int64(values.size))
        return out
