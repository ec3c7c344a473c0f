"""Clause IDs: every normative statement of the spec, and the refq function that executes it.

The spec's Markdown marks a clause with ``[[ID]]`` at the start of a paragraph;
the docs render it as a permalink. Tests check that the IDs here and the IDs in
``spec/`` are the same set, each appearing once, and that every implementing
name resolves to a real refq object.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    prefix: str
    slug: str  # file name in spec/ without .md
    title: str


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    #: Dotted names (``module:qualname``) of the refq objects that execute the clause;
    #: empty for purely descriptive clauses (notation, informative contrasts).
    implemented_by: tuple[str, ...] = ()


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("NUM", "numbers", "Number formats"),
)

_NUMBERS_INTEGERS: tuple[Clause, ...] = (
    # NUM-1.x: integers, two's complement, packing (filled by the integers section).
)

_NUMBERS_ROUNDING: tuple[Clause, ...] = (
    Clause("NUM-2.1", "Rounding modes", ("refq.registry.rounding:ROUNDING_MODES",)),
    Clause("NUM-2.2", "Rounding an exact rational to an integer", ("refq.numbers.rounding:round_rational",)),
    Clause("NUM-2.3", "Rounding a float to an integral float", ("refq.numbers.rounding:round_to_integral",)),
)

_NUMBERS_FLOATS: tuple[Clause, ...] = (
    # NUM-3.x: binary floating-point formats (filled by the floats section).
)

CLAUSES: tuple[Clause, ...] = (*_NUMBERS_INTEGERS, *_NUMBERS_ROUNDING, *_NUMBERS_FLOATS)
