"""Cases for TOSA's ``TABLE`` operator (``table``, ELT-8), under the ``tosa`` profile only.

int8: every code through a random table. int16: the codes at both ends of every interval of 128 (fractions 0,
1, 126 and 127) and random codes, through a smooth table (a sampled curve) with one pair of entries whose
slope leaves int16 (unpredictable, ELT-8.3) and slopes of exactly 32767 and -32768 (valid). Level 2: every
int16 code through three tables, every int8 code through three.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec

PROFILES = ("tosa",)


def case(name: str, values: np.ndarray, entries: np.ndarray, *, description: str, generator: str,
         seed: int) -> CaseSpec:
    return CaseSpec(op="table", name=name, inputs={"input": np.array(values, order="C"),
                                                   "table": np.array(entries, order="C")},
                    attributes={}, clauses=(), description=description, generator=f"table.{generator}", seed=seed,
                    profiles=PROFILES)


def int16_table(rng: np.random.Generator, steep: bool) -> np.ndarray:
    """513 entries of a sampled tanh-like curve with noise; with ``steep``, intervals 3 to 6 get slopes 65535
    (outside int16), -32767, 32767 and -32768 (the ends of int16)."""
    curve = 30000 * np.tanh(np.linspace(-3, 3, 513)) + rng.integers(-50, 50, 513)
    entries = np.clip(np.round(curve), -32768, 32767).astype(np.int64)
    if steep:
        entries[3:8] = (-32768, 32767, 0, 32767, -1)  # intervals 3..6: slopes 65535, -32767, 32767, -32768
    return entries.astype(np.int16)


def int16_codes(rng: np.random.Generator, random_count: int) -> np.ndarray:
    starts = np.arange(-32768, 32768, 128)
    edges = np.concatenate([starts, starts + 1, starts + 126, starts + 127])
    return np.concatenate([edges, rng.integers(-32768, 32768, random_count)]).astype(np.int16)


def by_level(level: int) -> Iterator[CaseSpec]:
    rng = np.random.default_rng(2083)
    every_int8 = np.arange(-128, 128).astype(np.int8)
    tables8 = 1 if level == 1 else 3
    for number in range(tables8):
        yield case(f"int8-every-code-{number}", every_int8, rng.integers(-128, 128, 256).astype(np.int8),
                   description="every int8 code through a random 256-entry table", generator="by_level", seed=2083)
    if level == 1:
        yield case("int16-interval-edges-steep", int16_codes(rng, 64), int16_table(rng, steep=True),
                   description="int16 codes at fractions 0, 1, 126, 127 of every interval and random codes; a "
                               "smooth table with slopes 65535 (unpredictable), -32767, 32767 and -32768",
                   generator="by_level", seed=2083)
        return
    every_int16 = np.arange(-32768, 32768).astype(np.int16)
    for number, steep in enumerate((False, True, False)):
        entries = int16_table(rng, steep) if number < 2 else rng.integers(-32768, 32768, 513).astype(np.int16)
        yield case(f"int16-every-code-{number}", every_int16, entries,
                   description="every int16 code through " + ("a random table (many slopes outside int16)"
                                                              if number == 2 else "a smooth table"
                                                              + (" with steep intervals" if steep else "")),
                   generator="by_level", seed=2083)


GENERATORS = (by_level,)
