"""The registry: the one machine-readable source of formats, clauses, rounding modes,
variants and profiles. Spec tables, adapters, vectors and docs derive from it."""

from __future__ import annotations

from refq.errors import invalid, wrong_type
from refq.registry.clauses import CHAPTERS, CLAUSES, Chapter, Clause
from refq.registry.formats import (
    FLOAT_FORMAT_ALIASES,
    FLOAT_FORMATS,
    INTEGER_BITS,
    SPECIAL_VALUE_CONVENTIONS,
    FloatFormat,
    IntegerFormat,
)
from refq.registry.rounding import ROUNDING_MODES, RoundingMode

_FLOATS_BY_NAME = {f.name: f for f in FLOAT_FORMATS}
_ROUNDING_BY_NAME = {m.name: m for m in ROUNDING_MODES}
_CLAUSES_BY_ID = {c.id: c for c in CLAUSES}


def float_format(name: str | FloatFormat, argument: str = "format") -> FloatFormat:
    """Look up a float format by name or alias (``binary32``, ``float16``, ``float8_e4m3fn``...)."""
    if isinstance(name, FloatFormat):
        return name
    if not isinstance(name, str):
        raise wrong_type(argument, "a float format name", name)
    key = FLOAT_FORMAT_ALIASES.get(name.lower(), name.lower())
    try:
        return _FLOATS_BY_NAME[key]
    except KeyError:
        raise invalid(argument, "one of " + ", ".join(sorted(_FLOATS_BY_NAME)), name) from None


def integer_format(name: str | IntegerFormat, argument: str = "dtype") -> IntegerFormat:
    """Look up an integer format by name: ``int1``..``int64``, ``uint1``..``uint64``."""
    if isinstance(name, IntegerFormat):
        return name
    if not isinstance(name, str):
        raise wrong_type(argument, "an integer format name such as 'int8'", name)
    lowered = name.lower()
    signed = not lowered.startswith("uint")
    digits = lowered[3:] if signed else lowered[4:]
    if (lowered.startswith("int") or not signed) and digits.isdigit() and int(digits) in INTEGER_BITS:
        return IntegerFormat(int(digits), signed)
    raise invalid(argument, "int1..int64 or uint1..uint64", name)


def rounding_mode(name: str | RoundingMode, argument: str = "rounding") -> RoundingMode:
    if isinstance(name, RoundingMode):
        return name
    if not isinstance(name, str) or name not in _ROUNDING_BY_NAME:
        raise invalid(argument, "one of " + ", ".join(_ROUNDING_BY_NAME), name)
    return _ROUNDING_BY_NAME[name]


def clause(clause_id: str) -> Clause:
    try:
        return _CLAUSES_BY_ID[clause_id]
    except KeyError:
        raise invalid("clause_id", "a clause ID listed in refq.registry.CLAUSES", clause_id) from None


__all__ = [
    "CHAPTERS", "CLAUSES", "Chapter", "Clause", "FLOAT_FORMATS", "FLOAT_FORMAT_ALIASES",
    "INTEGER_BITS", "SPECIAL_VALUE_CONVENTIONS", "FloatFormat", "IntegerFormat",
    "ROUNDING_MODES", "RoundingMode", "float_format", "integer_format", "rounding_mode", "clause",
]
