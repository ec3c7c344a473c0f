"""INT-5.4: which ``u8s8_products`` value (INT-2.6) an engine's kernels take on this CPU.

MLAS (ONNX Runtime) and FBGEMM (PyTorch) pick their uint8 x int8 kernels at run time by
the CPU's features. The rules below follow their dispatch: a ``VPDPBUSD`` kernel where the
CPU has VNNI (summing exactly), ``VPMADDUBSW`` on AVX2 and AVX-512 without it (int16
pairs). Measured: exact on an AVX512-VNNI CPU, ``int16_pairs`` on an AVX2 one; the AVX-VNNI
and AMX rules are read from MLAS's and FBGEMM's dispatch code, not measured.
Elsewhere (no AVX2, or not x86) the answer is None: refq does not know, and the tests
that need it skip.
"""

from __future__ import annotations

import functools
import platform


@functools.cache
def host_features() -> frozenset[str]:
    """The CPU features LLVM detects on this machine (names as LLVM spells them: ``avx2``, ``avx512vnni``)."""
    from llvmlite import binding

    features = binding.get_host_cpu_features()
    return frozenset(name for name in features if features[name])


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def mlas_u8s8_products() -> str | None:
    """MLAS: AVX512-VNNI, AVX-VNNI or AMX kernels sum exactly; AVX2 (and AVX-512 without VNNI) ones pair."""
    if not is_x86():
        return None
    features = host_features()
    if features & {"avx512vnni", "avxvnni", "amx-int8"}:
        return "exact"
    return "int16_pairs" if "avx2" in features else None


def fbgemm_u8s8_products() -> str | None:
    """FBGEMM: AVX512-VNNI kernels sum exactly; AVX2 and AVX-512 ones pair (it has no AVX-VNNI kernels)."""
    if not is_x86():
        return None
    features = host_features()
    if "avx512vnni" in features:
        return "exact"
    return "int16_pairs" if "avx2" in features else None
