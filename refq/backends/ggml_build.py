"""ggml's C block quantizers, built from source into a small shared library for the ``ggml`` backend.

ggml ships no wheel of its own; llama-cpp-python's source distribution (on the Python package
index) vendors it under ``vendor/llama.cpp/ggml``. ``refq ggml build`` fetches that release with
pip (:data:`SOURCE_RELEASE`), keeps only the ggml folder, and compiles ``ggml.c``,
``ggml-quants.c`` and ``ggml-threading.cpp`` with gcc into ``~/.cache/refq-ggml/<build>-<hash>``:

- ``unfused``: ``-O2 -ffp-contract=off``, every float operation rounded on its own: ggml's
  reference, the ``ggml`` profile;
- ``fused``: ``-O2 -march=x86-64-v3 -mtune=znver3``, gcc contracting products and sums into FMAs
  where it chooses (its default ``-ffp-contract=fast``): the ``ggml-native`` profile
  (``gguf_contraction = gcc_x86_64``, GGF-4.2). A fixed target, not ``-march=native``: the same
  code on every CPU it runs on (AVX2, FMA, F16C, BMI2, MOVBE: x86-64-v3, AVX-512 CPUs included),
  which is what ``-march=native`` gives on an AMD Zen 3 CPU (znver3, without AVX-512: assembly
  identical). ``-march=native`` itself differs by CPU: on an AVX-512 CPU gcc vectorises
  ``make_qx_quants``'s trial loop and leaves its sums unfused, and Intel tunings fuse more of
  ``make_qkx2_quants``'s sums (:func:`refq.gguf.contracted.symmetric_search_placed`).

- ``x86-simd``: ggml-cpu's own ``quantize_row_q8_0`` and ``quantize_row_q8_1`` (``src/ggml-cpu/arch/x86/
  quants.c``, the activation quantizer every ``vec_dot`` of the CPU backend calls) with the flags of
  ggml's ``haswell`` CPU variant (:data:`X86_SIMD_FLAGS`, x86-64-v3: AVX2, FMA, F16C, BMI2): the
  ``ggml-cpu-x86`` profile (``gguf_activation_quantizer = x86_simd``, GGF-4.3). The two functions have
  an AVX2 branch, an AVX one with the same arithmetic and a scalar fallback to ``_ref``, and no
  AVX-512 branch: an AVX-512 build (``-march=native`` there, ggml's skylakex variant) compiles the same
  AVX2 code. This build is one object on its own, linked with ``-z defs`` (it needs no other symbol).

Only the exported quantize and dequantize entry points are kept: a version script and
``--gc-sections`` drop the rest of ggml, which would need its CPU backend's sources. Nothing here
runs at import; the download and the compilers run only when asked to build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from refq.registry.verified import ENGINES

#: The llama-cpp-python release whose vendored ggml the profile ``ggml`` was verified with (ggml 0.25.3):
#: the one source-build record of refq/registry/verified.py.
SOURCE_RELEASE = next((entry.package, entry.pinned) for entry in ENGINES if "ggml" in entry.backends)
#: ggml's ``haswell`` CPU variant (ggml/src/CMakeLists.txt: SSE42 AVX F16C FMA AVX2 BMI2; the CPU backend's
#: CMake adds one -m flag and one GGML_ definition each) at CMake's Release -O3.
X86_SIMD_FLAGS = ("-O3", "-msse4.2", "-mf16c", "-mfma", "-mbmi2", "-mavx", "-mavx2", "-DGGML_SSE42", "-DGGML_F16C",
                  "-DGGML_FMA", "-DGGML_BMI2", "-DGGML_AVX", "-DGGML_AVX2")
FLAGS = {
    "unfused": ("-O2", "-ffp-contract=off"),
    "fused": ("-O2", "-march=x86-64-v3", "-mtune=znver3"),
    "x86-simd": X86_SIMD_FLAGS,
}
#: The builds of ggml-quants.c's reference code; ``x86-simd`` is ggml-cpu's activation quantizer alone.
REFERENCE_BUILDS = ("unfused", "fused")
#: What the ``fused`` build needs of the CPU that runs it (x86-64-v3), as /proc/cpuinfo names the flags.
FUSED_CPU_FLAGS = ("sse3", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm", "avx", "avx2", "bmi1", "bmi2",
                   "f16c", "fma", "abm", "movbe", "xsave")


def missing_cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """The :data:`FUSED_CPU_FLAGS` this machine's CPU (or the /proc/cpuinfo text ``cpuinfo``) lacks; all
    of them where there is no /proc/cpuinfo (not Linux on x86-64)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    line = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    flags = set(line.partition(":")[2].split()) | ({"sse3"} if "pni" in line.split() else set())
    return [flag for flag in FUSED_CPU_FLAGS if flag not in flags]
COMMON = ("-fPIC", "-ffunction-sections", "-fdata-sections", "-DNDEBUG", "-D_GNU_SOURCE")
EXPORTS = ("{ global: quantize_row_*; dequantize_row_*; ggml_quantize_init; ggml_quantize_chunk; "
           "ggml_type_size; ggml_blck_size; local: *; };\n")
SOURCES = ("src/ggml.c", "src/ggml-quants.c", "src/ggml-threading.cpp")
HEADERS = ("src/ggml-quants.h", "src/ggml-common.h", "src/ggml-impl.h", "include/ggml.h")
LIBRARY_NAME = "libggml-quants.so"
X86_SIMD_EXPORTS = "{ global: quantize_row_q8_0; quantize_row_q8_1; local: *; };\n"
X86_SIMD_SOURCES = ("src/ggml-cpu/arch/x86/quants.c",)
X86_SIMD_HEADERS = (*HEADERS, "include/ggml-cpu.h", "src/ggml-cpu/simd-mappings.h", "src/ggml-cpu/quants.h",
                    "src/ggml-cpu/ggml-cpu-impl.h")
X86_SIMD_LIBRARY_NAME = "libggml-cpu-x86-quants.so"


def _parts(build: str) -> tuple[tuple[str, ...], tuple[str, ...], str, str]:
    """The sources, headers, version script and library name of ``build``."""
    if build == "x86-simd":
        return X86_SIMD_SOURCES, X86_SIMD_HEADERS, X86_SIMD_EXPORTS, X86_SIMD_LIBRARY_NAME
    return SOURCES, HEADERS, EXPORTS, LIBRARY_NAME


class GgmlUnavailable(ImportError):
    """ggml's sources or its build are missing (an ImportError: a backend whose engine is not installed)."""


#: The builds' folder under the user's home.
CACHE_FOLDER = (".cache", "refq-ggml")


def cache_folder() -> Path:
    return Path(os.environ.get("REFQ_GGML_CACHE") or Path.home().joinpath(*CACHE_FOLDER))


def cache_folder_description() -> str:
    """Where :func:`cache_folder` puts the builds, in words (for the docs)."""
    return f"~/{'/'.join(CACHE_FOLDER)} ($REFQ_GGML_CACHE when set)"


def _is_source(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (*SOURCES, *HEADERS, "src/ggml-version.h.in"))


def _has_sources_of(build: str, folder: Path) -> bool:
    sources, headers, _, _ = _parts(build)
    return all((folder / name).is_file() for name in (*sources, *headers))


def source_folder() -> Path | None:
    """The ggml sources: ``REFQ_GGML_SOURCE``, else those ``refq ggml build`` unpacked, else None."""
    configured = os.environ.get("REFQ_GGML_SOURCE")
    candidates = [Path(configured)] if configured else [
        cache_folder() / "source" / f"{SOURCE_RELEASE[0]}-{SOURCE_RELEASE[1]}" / "ggml",
        *sorted(Path("/tmp/llsd").glob("*/vendor/llama.cpp/ggml"))]
    return next((folder for folder in candidates if _is_source(folder)), None)


def unpack(sdist: Path) -> Path:
    """Extract the vendored ggml folder of llama-cpp-python's sdist ``sdist`` into the cache."""
    target = cache_folder() / "source" / f"{SOURCE_RELEASE[0]}-{SOURCE_RELEASE[1]}" / "ggml"
    marker = "/vendor/llama.cpp/ggml/"
    cache_folder().mkdir(parents=True, exist_ok=True)
    try:
        archive = tarfile.open(sdist)
    except (OSError, tarfile.TarError) as error:
        raise GgmlUnavailable(f"{sdist}: not a readable .tar.gz ({error})") from None
    with archive:
        members = [member for member in archive.getmembers() if marker in member.name and member.isfile()]
        if not members:
            raise GgmlUnavailable(f"{sdist}: no vendor/llama.cpp/ggml folder in this archive")
        staging = Path(tempfile.mkdtemp(dir=cache_folder()))
        for member in members:
            relative = member.name.split(marker, 1)[1]
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    return target


def download() -> Path:
    """Fetch :data:`SOURCE_RELEASE`'s sdist with pip (no build, no dependencies) and unpack its ggml."""
    cache_folder().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_folder()) as folder:
        name, version = SOURCE_RELEASE
        result = subprocess.run([sys.executable, "-m", "pip", "download", f"{name}=={version}", "--no-deps",
                                 "--no-binary", ":all:", "-d", folder],
                                capture_output=True, text=True)
        archives = sorted(Path(folder).glob("*.tar.gz"))
        if not archives:
            last = (result.stderr.strip().splitlines() or ["no archive"])[-1]
            raise GgmlUnavailable(f"pip download {name}=={version} failed: {last}")
        return unpack(archives[0])


def library_path(build: str, folder: Path) -> Path:
    sources, headers, exports, library_name = _parts(build)
    digest = hashlib.sha256(" ".join(FLAGS[build] + COMMON).encode())
    if build == "x86-simd":  # the reference builds' keys stay as they were: their caches stay valid
        digest.update(exports.encode())
    for name in (*sources, *headers):
        digest.update((folder / name).read_bytes())
    return cache_folder() / f"{build}-{digest.hexdigest()[:16]}" / library_name


def compile_library(build: str, folder: Path) -> Path:
    """Compile ``build`` of the sources in ``folder`` (once: the path is keyed by their hash)."""
    shared = library_path(build, folder)
    if shared.is_file():
        return shared
    sources, _, exports, _ = _parts(build)
    if not _has_sources_of(build, folder):
        raise GgmlUnavailable(f"{folder}: not the sources of ggml's {build} build")
    for compiler in ("gcc", "g++"):
        if shutil.which(compiler) is None:
            raise GgmlUnavailable(f"{compiler} not found: it compiles ggml's C sources")
    target = shared.parent
    target.mkdir(parents=True, exist_ok=True)
    template = (folder / "src/ggml-version.h.in").read_text()
    (target / "ggml-version.h").write_text(
        template.replace("@GGML_VERSION@", "refq").replace("@GGML_BUILD_COMMIT@", "unknown"))
    (target / "exports.map").write_text(exports)
    include = ["-I", str(target), "-I", str(folder / "include"), "-I", str(folder / "src")]
    if build == "x86-simd":
        include += ["-I", str(folder / "src" / "ggml-cpu")]
    objects = []
    for name in sources:
        compiler = "g++" if name.endswith(".cpp") else "gcc"
        obj = target / (Path(name).stem + ".o")
        _run([compiler, *FLAGS[build], *COMMON, *include, "-c", str(folder / name), "-o", str(obj)])
        objects.append(str(obj))
    partial = target / "partial.so"
    # x86-simd: -z defs proves the two functions need nothing of ggml beyond their own file.
    closed = ["-Wl,-z,defs"] if build == "x86-simd" else []
    _run(["g++", "-shared", "-Wl,--gc-sections", *closed, f"-Wl,--version-script={target / 'exports.map'}",
          "-o", str(partial), *objects, "-lm", "-lpthread"])
    partial.rename(shared)
    return shared


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise GgmlUnavailable(f"{' '.join(command[:2])} ... failed: {last}")


def built_library(build: str = "unfused") -> Path:
    """The library of ``build`` if ``refq ggml build`` made it; GgmlUnavailable naming the command if not."""
    folder = source_folder()
    if folder is not None:
        shared = library_path(build, folder)
        if shared.is_file():
            return shared
    raise GgmlUnavailable(f"ggml's {build} library is not built: run `refq ggml build` (it fetches "
                          f"{SOURCE_RELEASE[0]} {SOURCE_RELEASE[1]}'s sources with pip and compiles them with gcc)")


def build(builds=("unfused", "fused", "x86-simd"), sdist: Path | None = None) -> dict[str, Path]:
    """Unpack (``sdist``) or download the sources where none are found, then compile each of ``builds``."""
    folder = unpack(Path(sdist)) if sdist is not None else source_folder() or download()
    return {name: compile_library(name, folder) for name in builds}
