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
FLAGS = {
    "unfused": ("-O2", "-ffp-contract=off"),
    "fused": ("-O2", "-march=x86-64-v3", "-mtune=znver3"),
}
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
    digest = hashlib.sha256(" ".join(FLAGS[build] + COMMON).encode())
    for name in (*SOURCES, *HEADERS):
        digest.update((folder / name).read_bytes())
    return cache_folder() / f"{build}-{digest.hexdigest()[:16]}" / LIBRARY_NAME


def compile_library(build: str, folder: Path) -> Path:
    """Compile ``build`` of the sources in ``folder`` (once: the path is keyed by their hash)."""
    shared = library_path(build, folder)
    if shared.is_file():
        return shared
    for compiler in ("gcc", "g++"):
        if shutil.which(compiler) is None:
            raise GgmlUnavailable(f"{compiler} not found: it compiles ggml's C sources")
    target = shared.parent
    target.mkdir(parents=True, exist_ok=True)
    template = (folder / "src/ggml-version.h.in").read_text()
    (target / "ggml-version.h").write_text(
        template.replace("@GGML_VERSION@", "refq").replace("@GGML_BUILD_COMMIT@", "unknown"))
    (target / "exports.map").write_text(EXPORTS)
    include = ["-I", str(target), "-I", str(folder / "include"), "-I", str(folder / "src")]
    objects = []
    for name in SOURCES:
        compiler = "g++" if name.endswith(".cpp") else "gcc"
        obj = target / (Path(name).stem + ".o")
        _run([compiler, *FLAGS[build], *COMMON, *include, "-c", str(folder / name), "-o", str(obj)])
        objects.append(str(obj))
    partial = target / "partial.so"
    _run(["g++", "-shared", "-Wl,--gc-sections", f"-Wl,--version-script={target / 'exports.map'}",
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


def build(builds=("unfused", "fused"), sdist: Path | None = None) -> dict[str, Path]:
    """Unpack (``sdist``) or download the sources where none are found, then compile each of ``builds``."""
    folder = unpack(Path(sdist)) if sdist is not None else source_folder() or download()
    return {name: compile_library(name, folder) for name in builds}
