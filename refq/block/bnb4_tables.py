"""BLK-7.1 and BLK-7.4: the code tables of bitsandbytes' 4-bit formats as float32 arrays, and what code
selection reads from them: the sorted positions, the float32 midpoints between neighbours, and the decision
tree's thresholds.

Everything here is derived from the registry's rows (:mod:`refq.registry.code_tables`), each value the
float32 nearest to its exact rational (NUM-3.13), a C literal rounded straight from its decimal digits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from refq.errors import invalid, wrong_type
from refq.numbers.floats.encode import encode
from refq.registry.code_tables import CODE_TABLES_BY_NAME, CodeTable

def nearest_float32(value: Fraction) -> np.float32:
    """The float32 nearest to ``value``, ties to even (NUM-3.13)."""
    return np.array([encode(value, "binary32")], dtype=np.uint32).view(np.float32)[0]


@dataclass(frozen=True)
class Bnb4Table:
    name: str
    #: Each code's float32 value, code 8 of FP4 +0 (the sign is bnb4_fp4_code8's, BLK-7.6).
    values: np.ndarray
    #: The codes in increasing order of value, equal values in increasing order of code (a stable sort).
    positions: np.ndarray
    #: fl32((s_i + s_(i+1)) / 2) of the sorted values s: the float32_midpoints bounds.
    midpoints: np.ndarray
    #: The decision tree's thresholds as float32, increasing.
    tree: np.ndarray
    tree_codes: np.ndarray
    tree_on_magnitude: bool
    #: The code of the largest value (the one bnb4_nan_code = largest gives a NaN).
    largest_code: int
    #: The code the registry writes "-0" (FP4's 8, whose sign bnb4_fp4_code8 sets), -1 where there is none.
    negative_zero_code: int


def _build(row: CodeTable) -> Bnb4Table:
    exact = row.exact_values()
    values = np.array([nearest_float32(value) for value in exact], dtype=np.float32)
    positions = np.array(sorted(range(16), key=lambda code: (exact[code], code)), dtype=np.uint8)
    ordered = [Fraction(float(values[code])) for code in positions]
    midpoints = np.array([nearest_float32((low + high) / 2) for low, high in zip(ordered, ordered[1:])],
                         dtype=np.float32)
    tree = np.array([nearest_float32(Fraction(literal)) for literal in row.tree_thresholds], dtype=np.float32)
    return Bnb4Table(row.name, values, positions, midpoints, tree, np.array(row.tree_codes, dtype=np.uint8),
                     row.tree_on_magnitude, int(positions[-1]), row.values.index("-0") if "-0" in row.values else -1)


@functools.cache
def bnb4_table(quant_type: object) -> Bnb4Table:
    """The table named ``quant_type`` (``"nf4"`` or ``"fp4"``); anything else is an error naming it."""
    if not isinstance(quant_type, str):
        raise wrong_type("quant_type", "the name of a 4-bit code table: " + ", ".join(CODE_TABLES_BY_NAME), quant_type)
    if quant_type not in CODE_TABLES_BY_NAME:
        raise invalid("quant_type", "a 4-bit code table: " + ", ".join(CODE_TABLES_BY_NAME), quant_type)
    return _build(CODE_TABLES_BY_NAME[quant_type])


def dequantize_values(table: Bnb4Table, code8_negative: bool) -> np.ndarray:
    """BLK-7.6: the value of each code as dequantize reads it: FP4's code 8 -0 under ``negative_zero``."""
    values = table.values.copy()
    if table.negative_zero_code >= 0 and code8_negative:
        values[table.negative_zero_code] = np.float32(-0.0)
    return values
