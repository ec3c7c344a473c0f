"""ggml itself, for the GGUF tests: ``ggml.c`` and ``ggml-quants.c`` built into a small shared library.

The sources come from llama-cpp-python's source distribution, which vendors llama.cpp and ggml
(``vendor/llama.cpp/ggml``). Set ``REFQ_GGML_SOURCE`` to that ``ggml`` folder, or leave an unpacked
sdist under ``/tmp/llsd``; without sources (or without gcc) every test that needs ggml skips.
Each build goes into ``~/.cache/refq-ggml/<hash of the sources and flags>`` once:

- ``unfused``: ``-O2 -ffp-contract=off``, every float operation rounded on its own (the reference);
- ``fused``: ``-O2 -march=native``, gcc contracting products and sums into FMAs where it chooses.

Only the exported quantize and dequantize entry points are kept (a version script and
``--gc-sections`` drop the rest of ggml, which would need the backend sources).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import numpy as np

FLAGS = {
    "unfused": ["-O2", "-ffp-contract=off"],
    "fused": ["-O2", "-march=native"],
}
COMMON = ["-fPIC", "-ffunction-sections", "-fdata-sections", "-DNDEBUG", "-D_GNU_SOURCE"]
EXPORTS = ("{ global: quantize_row_*; dequantize_row_*; ggml_quantize_init; ggml_quantize_chunk; "
           "ggml_type_size; ggml_blck_size; local: *; };\n")
SOURCES = ("src/ggml.c", "src/ggml-quants.c", "src/ggml-threading.cpp")


def source_folder() -> Path | None:
    configured = os.environ.get("REFQ_GGML_SOURCE")
    candidates = [Path(configured)] if configured else sorted(Path("/tmp/llsd").glob("*/vendor/llama.cpp/ggml"))
    for folder in candidates:
        if all((folder / name).is_file() for name in SOURCES) and (folder / "src/ggml-version.h.in").is_file():
            return folder
    return None


def unavailable_reason() -> str | None:
    if source_folder() is None:
        return ("ggml sources not found: `pip download llama-cpp-python --no-deps --no-binary :all: -d /tmp/llsd` "
                "and unpack it, or set REFQ_GGML_SOURCE")
    if shutil.which("gcc") is None or shutil.which("g++") is None:
        return "gcc/g++ not found"
    return None


@cache
def library(build: str) -> ctypes.CDLL:
    """The ggml library of ``build`` ("unfused" or "fused"), built on first use."""
    folder = source_folder()
    assert folder is not None, unavailable_reason()
    digest = hashlib.sha256(" ".join(FLAGS[build] + COMMON).encode())
    for name in (*SOURCES, "src/ggml-quants.h", "src/ggml-common.h", "src/ggml-impl.h", "include/ggml.h"):
        digest.update((folder / name).read_bytes())
    target = Path.home() / ".cache" / "refq-ggml" / f"{build}-{digest.hexdigest()[:16]}"
    shared = target / "libggml-quants.so"
    if not shared.is_file():
        target.mkdir(parents=True, exist_ok=True)
        template = (folder / "src/ggml-version.h.in").read_text()
        (target / "ggml-version.h").write_text(
            template.replace("@GGML_VERSION@", "refq-test").replace("@GGML_BUILD_COMMIT@", "unknown"))
        (target / "exports.map").write_text(EXPORTS)
        include = ["-I", str(target), "-I", str(folder / "include"), "-I", str(folder / "src")]
        objects = []
        for name in SOURCES:
            compiler = "g++" if name.endswith(".cpp") else "gcc"
            obj = target / (Path(name).stem + ".o")
            subprocess.run([compiler, *FLAGS[build], *COMMON, *include, "-c", str(folder / name), "-o", str(obj)],
                           check=True, capture_output=True)
            objects.append(str(obj))
        partial = target / "partial.so"
        subprocess.run(["g++", "-shared", "-Wl,--gc-sections", f"-Wl,--version-script={target / 'exports.map'}",
                        "-o", str(partial), *objects, "-lm", "-lpthread"], check=True, capture_output=True)
        partial.rename(shared)
    return ctypes.CDLL(str(shared))


def c_name(type_name: str) -> str:
    """The type's name as ggml's function names spell it: ``q4_0``, ``q4_K``, ``iq4_nl``."""
    return type_name.lower().replace("_k", "_K")


def quantize(build: str, type_name: str, x: np.ndarray) -> np.ndarray:
    """ggml's ``quantize_row_<type>_ref`` on the float32 values ``x``: the bytes of the blocks."""
    import gguf

    lib = library(build)
    kind = gguf.GGMLQuantizationType[type_name]
    values = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    blocks = values.size // lib.ggml_blck_size(int(kind))
    out = np.zeros(blocks * lib.ggml_type_size(int(kind)), dtype=np.uint8)
    function = getattr(lib, f"quantize_row_{c_name(type_name)}_ref")
    function.restype = None
    function(values.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(values.size))
    return out


def dequantize(build: str, type_name: str, blocks: np.ndarray) -> np.ndarray:
    """ggml's ``dequantize_row_<type>`` on the bytes ``blocks``."""
    import gguf

    lib = library(build)
    kind = gguf.GGMLQuantizationType[type_name]
    data = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1)
    elements = data.size // lib.ggml_type_size(int(kind)) * lib.ggml_blck_size(int(kind))
    out = np.zeros(elements, dtype=np.float32)
    function = getattr(lib, f"dequantize_row_{c_name(type_name)}")
    function.restype = None
    function(data.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(elements))
    return out


def type_size(type_name: str) -> tuple[int, int]:
    """ggml's own (elements, bytes) of one block of ``type_name``."""
    import gguf

    lib = library("unfused")
    kind = int(gguf.GGMLQuantizationType[type_name])
    lib.ggml_type_size.restype = ctypes.c_size_t
    lib.ggml_blck_size.restype = ctypes.c_int64
    return lib.ggml_blck_size(kind), lib.ggml_type_size(kind)
