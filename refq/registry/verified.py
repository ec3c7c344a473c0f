"""Verified versions: the exact release of every real engine each profile was checked against.

This is the one record of them. ``constraints.txt`` (used by the README's install command)
is rendered from it and a test keeps the two equal; ``refq conform`` and the spec's profile
pages read it. A release that is not listed is *not verified*: ``refq conform`` says so,
and its JSON and JUnit reports carry a warning, never a failure. Whether a backend still
computes what its profile says is decided by the behavioural tests and the golden vectors,
whatever version is installed.

A release joins ``versions`` once the whole test suite and ``refq conform`` passed with it
(the last one listed is the one ``constraints.txt`` pins).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class VerifiedPackage:
    #: The distribution name pip installs.
    package: str
    #: Releases the suite passed with, oldest first; the last is pinned by ``constraints.txt``.
    versions: tuple[str, ...]
    #: Built-in backends (``refq.backends.BUILTIN`` names) that run this package.
    backends: tuple[str, ...] = ()
    #: The profile each of ``backends`` declares (same order): the values checked by running this package.
    profiles: tuple[str, ...] = ()
    #: Why a package without backends is pinned.
    why: str = ""
    #: Not installed by pip but fetched as source and compiled (``refq ggml build``): its release is the
    #: sources', which its backend reports as its version; constraints.txt does not pin it.
    source_build: bool = False
    #: Installed into an interpreter of its own (``refq backends install NAME``, :mod:`refq.backends.interpreters`)
    #: because its pins conflict with refq's environment: the name of that environment. Its release is what its
    #: backend reports; constraints.txt does not pin it.
    environment: str = ""
    #: The rest of what that environment installs, pinned (the engine's own dependencies, at the releases verified).
    requirements: tuple[str, ...] = ()

    @property
    def pinned(self) -> str:
        return self.versions[-1]


#: The real engines, one row per package.
ENGINES: tuple[VerifiedPackage, ...] = (
    VerifiedPackage("onnxruntime", ("1.32.0",),
                    backends=("onnxruntime", "onnxruntime-bnb4", "onnxruntime-matmulnbits", "onnxruntime-mlas-int4"),
                    profiles=("onnxruntime", "onnxruntime-bnb4", "onnxruntime", "onnxruntime-mlas-int4")),
    VerifiedPackage("onnx", ("1.23.2",), backends=("onnx-reference",), profiles=("onnx-reference",)),
    VerifiedPackage("torch", ("2.13.0",), backends=("torch", "torch-fake-quant", "torch-pt2e", "torch-qnnpack"),
                    profiles=("pytorch", "pytorch-fake-quant", "pytorch-pt2e", "pytorch-qnnpack")),
    # The casts of the onnx profile (NUM chapter); 0.6.0 and 0.7.0 give the same bits on every vector and test.
    VerifiedPackage("ml_dtypes", ("0.6.0", "0.7.0"), backends=("ml_dtypes",), profiles=("onnx",)),
    # The GGF chapter's block types (gguf-py's numpy code).
    VerifiedPackage("gguf", ("0.19.0",), backends=("gguf-py",), profiles=("gguf-py",)),
    # ggml's C, vendored by llama-cpp-python's source release (ggml 0.25.3), compiled by `refq ggml build`.
    VerifiedPackage("llama-cpp-python", ("0.3.36",), backends=("ggml", "ggml-native", "ggml-cpu-x86"),
                    profiles=("ggml", "ggml-native", "ggml-cpu-x86"), source_build=True),
    # The BLK chapter's MX formats (torchao.prototype.mx_formats, one backend per ScaleCalculationMode) and BLK-8's
    # NVFP4; installed with --no-deps so that pip leaves torch as it is.
    VerifiedPackage("torchao", ("0.18.0",),
                    backends=("torchao-floor", "torchao-ceil", "torchao-even", "torchao-rceil", "torchao-nvfp4"),
                    profiles=("torchao-floor", "torchao-ceil", "torchao-even", "torchao-rceil", "torchao-nvfp4")),
    # BLK-8's NVFP4 (NVFP4QTensor) and BLK's MXFP4 (MXFP4QTensor) on the CPU; pip resolves its dependencies under
    # constraints.txt, so torch stays.
    VerifiedPackage("nvidia-modelopt", ("0.47.0",), backends=("modelopt-nvfp4", "modelopt-mxfp4"),
                    profiles=("modelopt-nvfp4", "modelopt-mxfp4")),
    # BLK-7's NF4 and FP4 (bitsandbytes' CPU path); installed with --no-deps like torchao, so that pip leaves torch.
    VerifiedPackage("bitsandbytes", ("0.50.2",), backends=("bitsandbytes-cpu",), profiles=("bitsandbytes-cpu",)),
    # BLK-9's weight-only int4 groups: compressed-tensors' group quantization (it needs transformers, pydantic,
    # loguru) and HQQ's round-to-nearest Quantizer (optimize=False).
    VerifiedPackage("compressed-tensors", ("0.20.0",), backends=("compressed-tensors",),
                    profiles=("compressed-tensors",)),
    VerifiedPackage("hqq", ("0.2.8.post1",), backends=("hqq",), profiles=("hqq",)),
    # LiteRT (TensorFlow Lite's runtime): reference kernels, optimized kernels, and the XNNPACK delegate.
    VerifiedPackage("ai-edge-litert", ("2.3.0",), backends=("tflite", "tflite-optimized", "xnnpack"),
                    profiles=("tflite", "tflite-optimized", "xnnpack")),
    # The TOSA reference model and serialization library; it pins numpy<2.2, ml-dtypes, flatbuffers and jsonschema.
    VerifiedPackage("tosa-tools", ("2026.8.0",), backends=("tosa",), profiles=("tosa",), environment="tosa",
                    requirements=("numpy==2.1.3", "ml-dtypes==0.5.3", "flatbuffers==25.2.10", "jsonschema==4.24.0",
                                  "semver==3.0.4")),
)

#: Libraries refq itself computes with: pinned so that a fresh machine reproduces the documented results.
COMPUTES_WITH: tuple[VerifiedPackage, ...] = (
    VerifiedPackage("numpy", ("2.4.6",), why="refq's arrays, and the float32 arithmetic of the pure-Python path"),
    VerifiedPackage("numba", ("0.68.1",), why="compiles every kernel"),
    VerifiedPackage("llvmlite", ("0.50.0",), why="numba's code generator (the VNNI intrinsics, FMA)"),
    # Not arithmetic: `refq sweep --scheduler` ships chunks and results through them, and a client and
    # workers of different releases may not speak the same protocol.
    VerifiedPackage("dask", ("2026.8.0",), why="the task graph of `refq sweep --scheduler`"),
    VerifiedPackage("distributed", ("2026.8.0",), why="the cluster `refq sweep --scheduler` runs on"),
)

VERIFIED: tuple[VerifiedPackage, ...] = ENGINES + COMPUTES_WITH
VERIFIED_BY_PACKAGE = {entry.package: entry for entry in VERIFIED}
VERIFIED_BY_BACKEND = {backend: entry for entry in ENGINES for backend in entry.backends}


def public_version(version: str) -> str:
    """The release without its local label: torch's ``2.13.0+cpu`` is release ``2.13.0``."""
    return version.split("+", 1)[0]


def installed_version(package: str) -> str | None:
    """The installed release of ``package`` (its distribution metadata), or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class VersionCheck:
    """One package's installed release against the verified ones."""

    package: str
    installed: str | None
    verified: tuple[str, ...]
    source_build: bool = False
    #: Installed into an interpreter of its own (``refq backends install NAME``, :mod:`refq.backends.interpreters`)
    #: because its pins conflict with refq's environment: the name of that environment. Its release is what its
    #: backend reports; constraints.txt does not pin it.
    environment: str = ""
    #: The rest of what that environment installs, pinned (the engine's own dependencies, at the releases verified).
    requirements: tuple[str, ...] = ()

    @property
    def is_verified(self) -> bool:
        return self.installed is not None and public_version(self.installed) in self.verified

    @property
    def status(self) -> str:
        """``verified``, ``not_verified`` or ``not_installed``."""
        if self.installed is None:
            return "not_installed"
        return "verified" if self.is_verified else "not_verified"

    def text(self) -> str:
        verified = ", ".join(self.verified)
        if self.installed is None:
            if self.source_build:
                return f"{self.package} sources not built (verified: {verified}; run refq ggml build)"
            if self.environment:
                return (f"{self.package} not installed (verified: {verified}; "
                        f"run refq backends install {self.environment})")
            return f"{self.package} not installed (verified: {verified})"
        if self.is_verified:
            return f"verified with {self.package} {self.installed}"
        return f"not verified with {self.package} {self.installed} (verified: {verified})"


def check_package(package: str, installed: str | None = None) -> VersionCheck:
    """Check ``package``'s installed release (or ``installed``, when given) against the record."""
    entry = VERIFIED_BY_PACKAGE[package]
    if entry.source_build:  # not a distribution pip knows: only what its backend reports
        return VersionCheck(package, installed, entry.versions, source_build=True)
    if entry.environment:  # installed in another interpreter: only what its backend reports there
        return VersionCheck(package, installed, entry.versions, environment=entry.environment)
    return VersionCheck(package, installed if installed is not None else installed_version(package), entry.versions)


def check_backend(backend: str, version: str | None = None) -> VersionCheck | None:
    """The check for a built-in backend's package; None for refq itself and for other adapters.
    ``version`` is the backend's own (``backend.version``): a source build's release is only known so."""
    entry = VERIFIED_BY_BACKEND.get(backend)
    if entry is None:
        return None
    return check_package(entry.package, version if entry.source_build or entry.environment else None)


def unverified() -> list[VersionCheck]:
    """Every recorded package installed at a release that is not verified."""
    checks = [check_package(entry.package) for entry in VERIFIED]
    return [check for check in checks if check.status == "not_verified"]


def constraints_text() -> str:
    """The text of ``constraints.txt``: every recorded package pinned to its last verified release."""
    lines = ["# Generated from refq/registry/verified.py (`refq versions --constraints`); do not edit by hand.",
             "# The releases refq's profiles, vectors and docs were verified with. Test against the newest",
             "# releases instead: pip install -U onnx onnxruntime ml_dtypes (torch stays 2.13.0 here), then refq conform."]
    lines += [f"{entry.package}=={entry.pinned}" for entry in VERIFIED
              if not entry.source_build and not entry.environment]
    return "\n".join(lines) + "\n"


def failure_note(checks: list[VersionCheck] | None = None) -> str:
    """What a failing behavioural test adds to its message: which installed releases are not verified
    (``checks``: default, every recorded package's), so that a release that changed bits names itself."""
    checks = unverified() if checks is None else [check for check in checks if check.status == "not_verified"]
    return "\n".join(f"{check.package} {check.installed} is installed, but refq was verified with "
                     f"{check.package} {', '.join(check.verified)}: if this test runs {check.package}, "
                     f"this failure is what {check.package} {check.installed} changed." for check in checks)
