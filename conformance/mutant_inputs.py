"""Input-form mutants: every optional input of every operation record ignored, every per-axis zero point
read as its first value.

For each operation record (:mod:`refq.registry.operations`) with a reference, each optional input
(a name ending in "?": a zero point, a bias) gives one mutant that takes it as absent, so a zero
point counts as 0 and a bias as none, under :data:`DERIVED_PROFILE` (every record's vectors are
written under it). Such a mutant survives every case that leaves the input out
or gives it its neutral value: the vectors must hold one that gives it another.
"""

from __future__ import annotations

from refq.backends.reference import RefqBackend
from refq.conformance.mutant_adapter import Mutant
from refq.conformance.mutant_derived import DERIVED_PROFILE, camel
from refq.registry.operations import OPERATIONS, OPERATIONS_BY_NAME


#: Operations whose optional inputs :data:`DERIVED_PROFILE` never reads, and the profile their input-form
#: mutants run under instead: ONNX Runtime ignores a float quantize's zero point and refuses a nonzero one in
#: a float dequantize (AFF-6.2, AFF-6.4), where the ONNX text adds and subtracts it; TOSA's RESCALE has
#: vectors under tosa only (REQ-2.8); ggml block types exist only under the GGF profiles (GGF-5.1).
INPUT_PROFILES = {"quantize_linear_float": "onnx", "dequantize_linear_float": "onnx", "rescale": "tosa",
                  "gguf_quantize": "ggml"}


def _ignoring(operation, input_name: str) -> type[Mutant]:
    position = operation.input_names.index(input_name)
    correct = getattr(RefqBackend, operation.name)

    def method(self, *inputs, **attributes):
        correct(self, *inputs, **attributes)  # reject what the reference rejects
        inputs = list(inputs) + [None] * (position + 1 - len(inputs))
        inputs[position] = None
        return correct(self, *inputs, **attributes)

    method.__name__ = operation.name
    return type(f"{camel(operation.name)}Ignores{camel(input_name)}", (Mutant,), {
        "__doc__": f"{operation.name} ignores {input_name} (the optional input taken as absent).",
        "__module__": __name__, "clause": operation.clauses[0], "operations": (operation.name,),
        "profile": INPUT_PROFILES.get(operation.name, DERIVED_PROFILE),
        "ignored_input": (operation.name, input_name), operation.name: method})


IGNORED_INPUTS: tuple[type[Mutant], ...] = tuple(
    _ignoring(operation, name) for operation in OPERATIONS if operation.reference is not None
    for name in operation.input_names if name in operation.optional_inputs)
globals().update({mutant.__name__: mutant for mutant in IGNORED_INPUTS})


#: The zero points an operation accepts with more than one value (INT-2.1: per row of ``a``, per column of
#: ``b``; INT-3.2 and INT-4.1: per output channel of ``w``); the elementwise operations take one value only.
PER_AXIS_ZERO_POINTS: dict[str, tuple[str, ...]] = {
    "matmul_integer": ("a_zero_point", "b_zero_point"),
    "conv_integer": ("w_zero_point",),
    "qlinear_matmul": ("b_zero_point",),
    "qlinear_conv": ("w_zero_point",),
}


def _first_only(operation, input_name: str) -> type[Mutant]:
    import numpy as np

    position = operation.input_names.index(input_name)
    correct = getattr(RefqBackend, operation.name)

    def method(self, *inputs, **attributes):
        correct(self, *inputs, **attributes)  # reject what the reference rejects
        inputs = list(inputs) + [None] * (position + 1 - len(inputs))
        given = inputs[position]
        if given is not None and np.size(given) > 1:
            given = np.asarray(given)
            inputs[position] = np.full_like(given, given.reshape(-1)[0])
        return correct(self, *inputs, **attributes)

    method.__name__ = operation.name
    return type(f"{camel(operation.name)}{camel(input_name)}FirstOnly", (Mutant,), {
        "__doc__": f"{operation.name} gives every row, column or channel the first value of a per-axis "
                   f"{input_name}.",
        "__module__": __name__, "clause": operation.clauses[0], "operations": (operation.name,),
        "profile": DERIVED_PROFILE, operation.name: method})


FIRST_ZERO_POINT_ONLY: tuple[type[Mutant], ...] = tuple(
    _first_only(OPERATIONS_BY_NAME[name], input_name) for name, inputs in PER_AXIS_ZERO_POINTS.items()
    for input_name in inputs)
globals().update({mutant.__name__: mutant for mutant in FIRST_ZERO_POINT_ONLY})
