"""The hand-written mutants of the integer operations: a 16-bit accumulator (the ignored optional inputs are
:mod:`.mutant_inputs`')."""

from __future__ import annotations

import numpy as np

from refq.backends.reference import RefqBackend
from refq.conformance.mutant_adapter import Mutant


class Accumulator16Bit(Mutant):
    """matmul_integer accumulates in 16 bits and wraps (the int32 sum modulo 2^16)."""

    clause = "INT-2.4"
    operations = ("matmul_integer",)

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None):
        total = RefqBackend.matmul_integer(self, a, b, a_zero_point, b_zero_point).astype(np.int64)
        return ((total + 2**15) % 2**16 - 2**15).astype(np.int32)
