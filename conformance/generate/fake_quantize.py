"""Cases for ``fake_quantize``: the quantize cases' inputs, per-tensor and per-axis (PyTorch
has no blocked fake quantization), under the profiles whose backends fake-quantize."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from refq.conformance.generate import quantize
from refq.conformance.generate.case_spec import CaseSpec

OP = "fake_quantize"
#: The profile of torch.fake_quantize_*, and ONNX's QuantizeLinear -> DequantizeLinear pair.
PROFILES = ("pytorch-fake-quant", "onnx")


def from_quantize(level: int) -> Iterator[CaseSpec]:
    """Reuse the per-tensor boundary table and the per-axis cases of quantize_linear."""
    for spec in (*quantize.full_boundaries(level), *quantize.per_axis(level)):
        if spec.attributes.get("block_size") is not None:
            continue
        attributes = {"axis": spec.attributes["axis"], "dtype": spec.attributes["dtype"]}
        yield replace(spec, op=OP, attributes=attributes, profiles=PROFILES,
                      clauses=tuple(dict.fromkeys((*spec.clauses, "AFF-4.2"))),
                      description="quantize then dequantize: " + spec.description,
                      generator="fake_quantize.from_quantize")


GENERATORS = (from_quantize,)
