"""Level 2 against the real engines: the LiteRT backends (``tflite``: reference kernels, ``tflite-optimized``,
``xnnpack``), the TOSA reference model (``tosa``, in its own interpreter), and the block-scaled formats' engines
(torchao's four MX scale modes and NVFP4, NVIDIA Model Optimizer's NVFP4 and MXFP4, bitsandbytes' and ONNX
Runtime's NF4/FP4), ONNX Runtime's MatMulNBits, the int4 group engines (compressed-tensors, HQQ, MLAS) and the
code packers (compressed-tensors, HQQ, torchao, the onnx package), each
on the level-2 vectors of the operations it offers, built here, judged against its
declared profile (slow: the build takes minutes)."""

from __future__ import annotations

import importlib.util

import pytest

from refq.backends.interpreters import ENVIRONMENTS
from refq.conformance.harness import case_paths, run_cases
from refq.conformance.runner import load_backend

#: The operations with vectors each engine's backend offers.
ENGINE_OPS = {
    "tflite": ("quantize_linear", "dequantize_linear", "qlinear_matmul", "qlinear_conv"),
    "tflite-optimized": ("quantize_linear", "dequantize_linear", "qlinear_matmul", "qlinear_conv"),
    "xnnpack": ("quantize_linear", "dequantize_linear", "qlinear_matmul", "qlinear_conv"),
    "tosa": ("matmul_integer", "conv_integer", "rescale", "table", "qlinear_add", "qlinear_mul"),
    **{f"torchao-{mode}": ("block_quantize", "block_dequantize") for mode in ("ceil", "even", "rceil")},
    # BLK-10's packing runs under torchao-floor alone (the four modes share one pack_uint4).
    "torchao-floor": ("block_quantize", "block_dequantize", "pack_codes", "unpack_codes"),
    # NVFP4's and NF4/FP4's dequantize have no level 2: level 1 already holds every scale with every code.
    "torchao-nvfp4": ("nvfp4_quantize",),
    "modelopt-nvfp4": ("nvfp4_quantize",),
    "modelopt-mxfp4": ("block_quantize", "block_dequantize"),
    "bitsandbytes-cpu": ("bnb4_quantize",),
    "onnxruntime-bnb4": ("bnb4_quantize",),
    "onnxruntime-matmulnbits": ("dequantize_linear",),
    # Int4 groups' dequantize has no level 2 either: its level-1 cases hold every code under every kind of scale.
    "compressed-tensors": ("int4_group_quantize", "pack_codes", "unpack_codes"),
    "hqq": ("int4_group_quantize", "pack_codes", "unpack_codes"),
    "onnx-reference": ("pack_codes", "unpack_codes"),
    "onnxruntime-mlas-int4": ("int4_group_quantize",),
}
#: The Python module whose presence says an engine is installed (tosa's lives in its own interpreter).
ENGINE_MODULES = {"tflite": "ai_edge_litert", "tflite-optimized": "ai_edge_litert", "xnnpack": "ai_edge_litert",
                  "torchao-nvfp4": "torchao", "modelopt-nvfp4": "modelopt", "modelopt-mxfp4": "modelopt",
                  "bitsandbytes-cpu": "bitsandbytes", "onnxruntime-bnb4": "onnxruntime",
                  "onnxruntime-matmulnbits": "onnxruntime", "compressed-tensors": "compressed_tensors", "hqq": "hqq",
                  "onnxruntime-mlas-int4": "onnxruntime", "onnx-reference": "onnx",
                  **{f"torchao-{mode}": "torchao" for mode in ("floor", "ceil", "even", "rceil")}}


def _installed(engine: str) -> bool:
    if engine == "tosa":
        return ENVIRONMENTS["tosa"].installed()
    return importlib.util.find_spec(ENGINE_MODULES[engine]) is not None


@pytest.fixture(scope="module")
def level2(tmp_path_factory):
    from refq.conformance.generate.build import build

    root = tmp_path_factory.mktemp("level2")
    build(level=2, out=root, ops=sorted({op for ops in ENGINE_OPS.values() for op in ops}))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(ENGINE_OPS))
def test_engine_conforms_on_level2_of_its_operations(engine, level2):
    """Every case of the engine's profile passes or is unsupported (a type or form the engine's operator does
    not take); each operation has passing cases with elements compared."""
    if not _installed(engine):
        pytest.skip(f"{engine}'s engine is not installed")
    with load_backend(engine) as backend:
        assert set(ENGINE_OPS[engine]) <= backend.operations
        results = run_cases(backend, case_paths(level=2, ops=ENGINE_OPS[engine], root=level2))
    failing = [(r.id, r.status, r.detail) for r in results if r.status not in ("pass", "unsupported")]
    assert not failing, failing
    for op in ENGINE_OPS[engine]:
        assert sum(r.total for r in results if r.op == op and r.status == "pass") > 0, (engine, op)
