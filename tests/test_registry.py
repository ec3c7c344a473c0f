"""The registry against the spec text: clause IDs, implementing names, directives, look-ups."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refq.errors import RefqTypeError, RefqValueError
from refq.registry import (
    CHAPTERS,
    CLAUSES,
    FLOAT_FORMAT_ALIASES,
    FLOAT_FORMATS,
    ROUNDING_MODES,
    clause,
    float_format,
    integer_format,
    rounding_mode,
)
from refq.registry.tables import TABLES, exact_value, markdown_table, render_table, table

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
CLAUSE_MARK = re.compile(r"\[\[([^\]]*)\]\]")
WELL_FORMED_ID = re.compile(r"[A-Z]+-\d+(\.\d+)*")
DIRECTIVE = re.compile(r"<!--\s*refq:([a-z-]+)\s+(\S+)\s*-->")
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def spec_text_outside_code(path: Path) -> str:
    """A spec file with fenced code blocks and code spans blanked, as the docs hook reads it."""
    kept, fence = [], None
    for line in path.read_text(encoding="utf-8").split("\n"):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening[1][0] == fence[0] and len(opening[1]) >= len(fence):
                fence = None
            kept.append("")
        elif opening:
            fence = opening[1]
            kept.append("")
        else:
            kept.append(re.sub(r"(`+).*?\1", "", line))
    return "\n".join(kept)


def spec_files() -> list[Path]:
    return sorted(SPEC_DIR.glob("*.md"))


def spec_marks() -> Counter[str]:
    return Counter(m for path in spec_files() for m in CLAUSE_MARK.findall(spec_text_outside_code(path)))


def spec_directives(kind: str) -> list[str]:
    return [argument for path in spec_files()
            for found_kind, argument in DIRECTIVE.findall(spec_text_outside_code(path)) if found_kind == kind]


def resolve(dotted: str) -> object:
    module_name, _, qualname = dotted.partition(":")
    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


# --- clauses and chapters ----------------------------------------------------------------


def test_clause_ids_well_formed_and_unique():
    ids = [c.id for c in CLAUSES]
    assert [i for i in ids if not WELL_FORMED_ID.fullmatch(i)] == []
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_clause_prefixes_are_chapters():
    prefixes = {c.prefix for c in CHAPTERS}
    assert [c.id for c in CLAUSES if c.id.split("-", 1)[0] not in prefixes] == []


def test_chapters_unique_and_have_spec_files():
    assert len({c.prefix for c in CHAPTERS}) == len(CHAPTERS)
    assert len({c.slug for c in CHAPTERS}) == len(CHAPTERS)
    assert [c.slug for c in CHAPTERS if not (SPEC_DIR / f"{c.slug}.md").is_file()] == []


def test_spec_files_are_chapters():
    assert [p.name for p in spec_files() if p.stem not in {c.slug for c in CHAPTERS}] == []


def test_clause_marks_well_formed():
    assert [m for m in spec_marks() if not WELL_FORMED_ID.fullmatch(m)] == []


def test_registered_clauses_appear_once_in_spec():
    marks = spec_marks()
    missing = [c.id for c in CLAUSES if marks[c.id] == 0]
    repeated = [c.id for c in CLAUSES if marks[c.id] > 1]
    assert missing == [], "registered in refq/registry/clauses.py but absent from spec/"
    assert repeated == [], "a clause ID opens more than one paragraph of spec/"


def test_spec_clauses_are_registered():
    registered = {c.id for c in CLAUSES}
    assert sorted(set(spec_marks()) - registered) == []


def test_clauses_in_their_chapter_file():
    slug_of = {c.prefix: c.slug for c in CHAPTERS}
    misplaced = []
    for path in spec_files():
        for mark in CLAUSE_MARK.findall(spec_text_outside_code(path)):
            if slug_of.get(mark.split("-", 1)[0]) != path.stem:
                misplaced.append((path.name, mark))
    assert misplaced == []


@pytest.mark.parametrize("name", sorted({n for c in CLAUSES for n in c.implemented_by}))
def test_implemented_by_resolves(name):
    assert ":" in name and name.startswith("refq."), "names are written module:qualname"
    resolve(name)


def test_clause_lookup():
    first = CLAUSES[0]
    assert clause(first.id) is first


def test_clause_lookup_unknown():
    with pytest.raises(RefqValueError, match="^clause_id: "):
        clause("NUM-999")


# --- directives in spec/ -------------------------------------------------------------------


def test_spec_directives_are_known():
    kinds = {kind for path in spec_files() for kind, _ in DIRECTIVE.findall(spec_text_outside_code(path))}
    assert kinds <= {"source", "implements", "table"}


@pytest.mark.parametrize("name", sorted(set(spec_directives("source"))))
def test_source_directive_resolves(name):
    import inspect

    target = resolve(name)
    assert inspect.getsource(getattr(target, "py_func", target))


@pytest.mark.parametrize("name", sorted(set(spec_directives("table"))))
def test_table_directive_resolves(name):
    assert name in TABLES


# --- table generators ----------------------------------------------------------------------


def assert_markdown_table(text: str) -> None:
    lines = text.rstrip("\n").split("\n")
    assert len(lines) >= 3, "a header, a delimiter row and at least one row"
    assert re.fullmatch(r"\|(-+\|)+", lines[1].replace(" ", "").replace(":", "")), lines[1]
    columns = lines[1].count("|") - 1
    for line in lines:
        assert line.startswith("|") and line.endswith("|"), line
        assert len(re.findall(r"(?<!\\)\|", line)) - 1 == columns, line


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_generator(name):
    try:
        text = render_table(name)
    except ImportError as error:  # a chapter's helper not written yet
        pytest.skip(f"table {name} needs {error.name}")
    assert_markdown_table(text)


def test_table_unknown():
    with pytest.raises(RefqValueError, match="^name: must be one of .*rounding-modes"):
        render_table("no-such-table")


def test_table_wrong_type():
    with pytest.raises(RefqTypeError, match="^name: "):
        render_table(3)


def test_table_register_twice():
    with pytest.raises(RefqValueError, match="^name: "):
        table("rounding-modes")(lambda: "")


def test_markdown_table():
    assert markdown_table(("a", "b"), [(1, "x|y")]) == "| a | b |\n|---|---|\n| 1 | x\\|y |\n"


def test_markdown_table_ragged_row():
    with pytest.raises(RefqValueError, match="^rows: "):
        markdown_table(("a", "b"), [(1,)])


def test_table_rounding_modes_lists_every_mode():
    text = render_table("rounding-modes")
    assert all(f"`{m.name}`" in text for m in ROUNDING_MODES)


def test_table_float_formats_lists_every_format():
    text = render_table("float-formats")
    rows = {line.split("|")[1].strip(): line for line in text.split("\n")[2:] if line}
    assert list(rows) == [f"`{f.name}`" for f in FLOAT_FORMATS]
    binary32 = [cell.strip() for cell in rows["`binary32`"].split("|")[2:9]]
    assert binary32 == ["32", "8", "23", "127", "`ieee`", "yes", "yes"]
    e8m0 = [cell.strip() for cell in rows["`float8_e8m0fnu`"].split("|")[2:9]]
    assert e8m0 == ["8", "8", "0", "127", "`fn`", "no", "no"]


def float_format_rows() -> dict[str, list[str]]:
    text = render_table("float-formats")
    header, _, *rows = text.rstrip("\n").split("\n")
    names = [cell.strip() for cell in header.split("|")[1:-1]]
    return {cells[0].strip("`"): dict(zip(names, cells)) for cells in
            ([cell.strip() for cell in row.split("|")[1:-1]] for row in rows)}


@pytest.mark.parametrize("fmt", [f for f in FLOAT_FORMATS if f.ml_dtypes_name], ids=lambda f: f.name)
def test_table_float_formats_extremes_match_ml_dtypes(fmt):
    """The derived columns agree with an independent implementation of every format."""
    import numpy as np

    ml_dtypes = pytest.importorskip("ml_dtypes")
    row = float_format_rows()[fmt.name]
    if "max finite" not in row:
        pytest.skip("refq.numbers.floats does not provide the derived constants yet")
    info = ml_dtypes.finfo(np.dtype(getattr(ml_dtypes, fmt.ml_dtypes_name, fmt.ml_dtypes_name)))
    assert row["max finite"] == exact_value(Fraction(float(info.max)))
    assert row["min normal"] == exact_value(Fraction(float(info.smallest_normal)))
    assert row["min subnormal"] == exact_value(Fraction(float(info.smallest_subnormal)))


def parse_exact_value(text: str) -> Fraction:
    """Read back what exact_value wrote, independently of how it chose the form."""
    sign = -1 if text.startswith("−") else 1
    text = text.lstrip("−")
    form = re.fullmatch(r"\$(?:(\d+) \\times )?2\^\{(-?\d+)\}\$ ≈ −?[\d.e+-]+", text)
    if form:
        return sign * int(form[1] or 1) * Fraction(2) ** int(form[2])
    assert re.fullmatch(r"\d+(\.\d+)?", text), text
    return sign * Fraction(text)


@given(st.integers(-(2**80), 2**80), st.integers(-160, 160))
def test_exact_value(numerator, exponent):
    value = numerator * Fraction(2) ** exponent
    assert parse_exact_value(exact_value(value)) == value


@pytest.mark.parametrize("value, text", [(448, "448"), (Fraction(-7, 2), "−3.5"), (Fraction(1, 512), "0.001953125"),
                                         (Fraction(1, 2**149), "$2^{-149}$ ≈ 1.4012985e-45"),
                                         ((2**24 - 1) * 2**104, "$16777215 \\times 2^{104}$ ≈ 3.4028235e+38")])
def test_exact_value_examples(value, text):
    assert exact_value(value) == text


def test_exact_value_not_dyadic():
    with pytest.raises(RefqValueError, match="^value: "):
        exact_value(Fraction(1, 3))


def test_table_clause_index_links_every_clause():
    text = render_table("clause-index")
    slug_of = {c.prefix: c.slug for c in CHAPTERS}
    for c in CLAUSES:
        assert f"[{c.id}](/spec/{slug_of[c.id.split('-')[0]]}.md#{c.id})" in text
        for name in c.implemented_by:
            assert f"][{name.replace(':', '.')}]" in text


# --- look-ups by name ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FLOAT_FORMATS, ids=lambda f: f.name)
def test_float_format(fmt):
    assert float_format(fmt.name) is fmt
    assert float_format(fmt.name.upper()) is fmt
    assert float_format(fmt) is fmt


@pytest.mark.parametrize("alias", sorted(FLOAT_FORMAT_ALIASES))
def test_float_format_alias(alias):
    assert float_format(alias).name == FLOAT_FORMAT_ALIASES[alias]


def test_float_format_unknown():
    with pytest.raises(RefqValueError, match=r"^format: must be one of .*binary32.*got 'float7'"):
        float_format("float7")


def test_float_format_argument_named():
    with pytest.raises(RefqValueError, match="^dtype: "):
        float_format("nope", "dtype")


def test_float_format_wrong_type():
    with pytest.raises(RefqTypeError, match="^format: "):
        float_format(32)


@pytest.mark.parametrize("name, bits, signed", [("int1", 1, True), ("int4", 4, True), ("uint8", 8, False),
                                                ("INT32", 32, True), ("uint64", 64, False)])
def test_integer_format(name, bits, signed):
    fmt = integer_format(name)
    assert (fmt.bits, fmt.signed, fmt.name) == (bits, signed, name.lower())
    assert integer_format(fmt) is fmt


@pytest.mark.parametrize("name", ["int0", "uint65", "int", "uint", "float8", "int-4", "int 8", "integer8", ""])
def test_integer_format_unknown(name):
    with pytest.raises(RefqValueError, match="^dtype: must be int1..int64 or uint1..uint64"):
        integer_format(name)


def test_integer_format_wrong_type():
    with pytest.raises(RefqTypeError, match="^dtype: "):
        integer_format(8)


@pytest.mark.parametrize("mode", ROUNDING_MODES, ids=lambda m: m.name)
def test_rounding_mode(mode):
    assert rounding_mode(mode.name) is mode
    assert rounding_mode(mode) is mode


def test_rounding_mode_codes_unique():
    assert len({m.code for m in ROUNDING_MODES}) == len(ROUNDING_MODES)


@pytest.mark.parametrize("name", ["nearest", "HALF_TO_EVEN", "", 0])
def test_rounding_mode_unknown(name):
    with pytest.raises(RefqValueError, match="^rounding: must be one of half_to_even"):
        rounding_mode(name)
