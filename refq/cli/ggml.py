"""``refq ggml build``: fetch ggml's sources (llama-cpp-python's sdist, with pip) and compile the
library the ``ggml`` backend and the GGF tests call (:mod:`refq.backends.ggml_build`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build",), help="build: unpack or download the sources, then compile")
    parser.add_argument("--sdist", type=Path, default=None,
                        help="a llama-cpp-python .tar.gz already downloaded (default: pip downloads the pinned one "
                             "unless sources are already unpacked)")
    parser.add_argument("--builds", default="unfused,fused,x86-simd",
                        help="comma-separated: unfused (-ffp-contract=off, the reference), fused (-march=x86-64-v3 "
                             "-mtune=znver3, FMAs contracted: ggml-native), x86-simd (ggml-cpu's AVX2 "
                             "quantize_row_q8_0 / q8_1: ggml-cpu-x86)")


def run(args: argparse.Namespace) -> int:
    from refq.backends import ggml_build
    from refq.errors import RefqValueError, invalid

    builds = [name.strip() for name in args.builds.split(",") if name.strip()]
    for name in builds:
        if name not in ggml_build.FLAGS:
            raise invalid("--builds", "names among " + ", ".join(ggml_build.FLAGS), name)
    if not builds:
        raise invalid("--builds", "at least one build", args.builds)
    if args.sdist is not None and not args.sdist.is_file():
        raise invalid("--sdist", "an existing llama-cpp-python .tar.gz", str(args.sdist))
    try:
        libraries = ggml_build.build(tuple(builds), args.sdist)
    except (ggml_build.GgmlUnavailable, OSError) as error:
        raise RefqValueError(f"ggml build: {error}") from None
    for name, path in libraries.items():
        print(f"ggml {name}: {path}")
    return 0
