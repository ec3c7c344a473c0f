"""The hand-written mutants of the integer operations: an ignored optional zero point, a 16-bit accumulator."""

from __future__ import annotations

import numpy as np

from refq.backends.reference import RefqBackend
from refq.conformance.mutant_adapter import Mutant
from refq.registry.operations import OPERATIONS_BY_NAME


def _ignoring(operation: str, input_name: str, name: str) -> type[Mutant]:
    position = OPERATIONS_BY_NAME[operation].input_names.index(input_name)
    correct = getattr(RefqBackend, operation)

    def method(self, *inputs, **attributes):
        correct(self, *inputs, **attributes)  # reject what the reference rejects
        inputs = list(inputs) + [None] * (position + 1 - len(inputs))
        inputs[position] = None
        return correct(self, *inputs, **attributes)

    method.__name__ = operation
    return type(name, (Mutant,), {"__doc__": f"{operation} ignores {input_name} (the optional input taken as 0).",
                                  "__module__": __name__, "clause": "INT-2.2" if operation == "matmul_integer"
                                  else "INT-3.2", "operations": (operation,), operation: method})


IGNORED_INPUTS = (_ignoring("matmul_integer", "a_zero_point", "IgnoresAZeroPoint"),
                  _ignoring("matmul_integer", "b_zero_point", "IgnoresBZeroPoint"),
                  _ignoring("conv_integer", "x_zero_point", "ConvIgnoresXZeroPoint"),
                  _ignoring("conv_integer", "w_zero_point", "ConvIgnoresWZeroPoint"))
globals().update({mutant.__name__: mutant for mutant in IGNORED_INPUTS})


class Accumulator16Bit(Mutant):
    """matmul_integer accumulates in 16 bits and wraps (the int32 sum modulo 2^16)."""

    clause = "INT-2.4"
    operations = ("matmul_integer",)

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None):
        total = RefqBackend.matmul_integer(self, a, b, a_zero_point, b_zero_point).astype(np.int64)
        return ((total + 2**15) % 2**16 - 2**15).astype(np.int32)
