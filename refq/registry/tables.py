"""Markdown tables generated from the registry, for the spec and the docs site.

A spec page asks for a table with ``<!-- refq:table NAME -->``; the docs build
replaces the marker with ``TABLES[NAME]()``. The table is computed from the
registry (and from refq's own clause functions for derived values), so a fact is
typed once and every table that shows it agrees.

Links in the tables are written for the docs site: a link starting with ``/`` is
resolved against the docs root, and ``[text][dotted.name]`` is a cross-reference
to that object's entry in the API reference.

A new table is one function decorated with ``@table("name")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction

from refq.errors import invalid, wrong_type
from refq.registry.clauses import CHAPTERS, CLAUSES, Clause
from refq.registry.formats import FLOAT_FORMATS, SPECIAL_VALUE_CONVENTIONS, FloatFormat
from refq.registry.rounding import ROUNDING_MODES

#: Table name -> function of no arguments returning the table as Markdown.
TABLES: dict[str, Callable[[], str]] = {}


def table(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register the decorated zero-argument function as the generator of table ``name``."""

    def register(generator: Callable[[], str]) -> Callable[[], str]:
        if name in TABLES:
            raise invalid("name", "a table name not registered yet", name)
        TABLES[name] = generator
        return generator

    return register


def render_table(name: str) -> str:
    """Return table ``name`` as Markdown; an unknown name raises ``RefqValueError``."""
    if not isinstance(name, str):
        raise wrong_type("name", "a table name", name)
    if name not in TABLES:
        raise invalid("name", "one of " + ", ".join(sorted(TABLES)), name)
    return TABLES[name]()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Format ``rows`` under ``header`` as a pipe table; ``|`` inside a cell is escaped."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise invalid("rows", f"rows of {len(header)} cells like the header", row)
        lines.append("| " + " | ".join(cell(value) for value in row) + " |")
    return "\n".join(lines) + "\n"


def clause_link(clause_id: str) -> str:
    """A Markdown link to the permalink of clause ``clause_id`` on its chapter's page."""
    prefix = clause_id.split("-", 1)[0]
    slug = next((c.slug for c in CHAPTERS if c.prefix == prefix), None)
    if slug is None:
        raise invalid("clause_id", "an ID whose prefix is a chapter in refq.registry.CHAPTERS", clause_id)
    return f"[{clause_id}](/spec/{slug}.md#{clause_id})"


def api_link(dotted_name: str) -> str:
    """A cross-reference to the API entry of ``module:qualname`` (or ``module.qualname``)."""
    identifier = dotted_name.replace(":", ".")
    return f"[`{identifier.rsplit('.', 1)[-1]}`][{identifier}]"


@table("chapters")
def chapters_table() -> str:
    """The spec's chapters in reading order, with how many clauses each has."""

    def count(prefix: str) -> int:
        return sum(1 for c in CLAUSES if c.id.split("-", 1)[0] == prefix)

    rows = [(f"[{c.title}](/spec/{c.slug}.md)", f"`{c.prefix}`", count(c.prefix)) for c in CHAPTERS]
    return markdown_table(("chapter", "clause prefix", "clauses"), rows)


def _implementations(clause: Clause) -> str:
    return ", ".join(api_link(name) for name in clause.implemented_by) or "descriptive"


@table("clause-index")
def clause_index_table() -> str:
    """Every clause: its permalink, its title, and the refq objects that execute it."""
    rows = [(clause_link(c.id), c.title, _implementations(c)) for c in CLAUSES]
    return markdown_table(("clause", "title", "implemented by"), rows)


@table("public-api")
def public_api_table() -> str:
    """The top-level functions (``refq.quantize``...), each linked to its entry in the API reference."""
    from refq import PUBLIC_API

    rows = []
    for name, location in PUBLIC_API.items():
        module, _, attribute = location.partition(":")
        if not attribute:  # refq.requantize: the chapter's package, called as requantize_float
            rows.append((f"`refq.{name}`", f"the package [`{module}`][{module}], called as "
                         + api_link(f"{module}.float_multiplier:requantize_float")))
        else:
            rows.append((f"`refq.{name}`", api_link(location) + f" in [`{module}`][{module}]"))
    return markdown_table(("function", "defined as"), rows)


@table("rounding-modes")
def rounding_modes_table() -> str:
    """The rounding modes, their kernel codes, rules, and who uses each."""
    rows = [(f"`{m.name}`", m.code, m.rule, "; ".join(m.used_by) or "—") for m in ROUNDING_MODES]
    return markdown_table(("mode", "code", "rule", "used by"), rows)


@table("special-value-conventions")
def special_value_conventions_table() -> str:
    """The special-value conventions and which formats follow each."""
    rows = []
    for convention, meaning in SPECIAL_VALUE_CONVENTIONS.items():
        formats = ", ".join(f"`{f.name}`" for f in FLOAT_FORMATS if f.specials == convention) or "—"
        rows.append((f"`{convention}`", meaning, formats))
    return markdown_table(("convention", "meaning", "formats"), rows)


def _float_derived_columns() -> list[tuple[str, Callable[[FloatFormat], str]]]:
    """Columns computed by refq.numbers.floats; empty while that module lacks them."""
    try:
        from refq.numbers import floats
    except ImportError:
        return []
    columns = []
    for header, function_name in (
        ("max finite", "max_finite"),
        ("min normal", "min_normal"),
        ("min subnormal", "min_subnormal"),
    ):
        function = getattr(floats, function_name, None)
        if function is not None:
            columns.append((header, lambda fmt, function=function: exact_value(function(fmt))))
    return columns


def exact_value(value: Fraction | int) -> str:
    """Write a dyadic rational exactly, with a decimal approximation when that is long.

    Short decimals (at most 10 significant digits, such as 448 or 0.015625) are
    written out; otherwise the value is $n \\times 2^{k}$ with $n$ odd (just
    $2^{k}$ when $n = 1$), followed by its value to 8 significant digits.
    """
    exact = Fraction(value)
    if exact == 0:
        return "0"
    sign = "−" if exact < 0 else ""
    magnitude = abs(exact)
    if magnitude.denominator & (magnitude.denominator - 1):
        raise invalid("value", "a dyadic rational (denominator a power of two)", value)
    # A dyadic rational has a finite decimal expansion: scale by 10^k until integral.
    digits, places = magnitude, 0
    while digits.denominator != 1:
        digits, places = digits * 10, places + 1
    decimal = str(digits.numerator)
    if len(decimal.rstrip("0")) <= 10 and places <= 12 and len(decimal) - places <= 10:
        if places:
            decimal = decimal.rjust(places + 1, "0")
            decimal = decimal[:-places] + "." + decimal[-places:]
        return sign + decimal
    odd, exponent = magnitude.numerator, -(magnitude.denominator.bit_length() - 1)
    while odd % 2 == 0:
        odd, exponent = odd // 2, exponent + 1
    power = f"2^{{{exponent}}}"
    exact_form = power if odd == 1 else f"{odd} \\times {power}"
    return f"{sign}${exact_form}$ ≈ {sign}{float(magnitude):.8g}"


@table("float-formats")
def float_formats_table() -> str:
    """Every float format's fields, bias, special-value convention, sign and zero flags, and extreme values."""
    derived = _float_derived_columns()
    header = ["format", "bits", "exponent bits", "mantissa bits", "bias", "specials", "sign bit", "zero"]
    header += [name for name, _ in derived]
    rows = []
    for fmt in FLOAT_FORMATS:
        row = [f"`{fmt.name}`", fmt.total_bits, fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, f"`{fmt.specials}`",
               "yes" if fmt.signed else "no", "yes" if fmt.has_zero else "no"]
        row += [column(fmt) for _, column in derived]
        rows.append(row)
    return markdown_table(header, rows)


def _from_section_helper(result: object) -> str:
    """Accept what a chapter's table helper returns: Markdown, or a (header, rows) pair."""
    if isinstance(result, str):
        return result if result.endswith("\n") else result + "\n"
    header, rows = result  # type: ignore[misc]
    return markdown_table(header, rows)


@table("int4-encodings")
def int4_encodings_table() -> str:
    """Every 4-bit pattern read as int4 and as uint4 (from refq.numbers.integers)."""
    from refq.numbers.integers import int_encodings_table

    return _from_section_helper(int_encodings_table(4))


@table("rounding-examples")
def rounding_examples_table() -> str:
    """Sample values rounded under every mode (from refq.numbers.rounding)."""
    from refq.numbers.rounding import rounding_examples_table as examples

    return _from_section_helper(examples())


@table("variants")
def variants_table() -> str:
    from refq.registry.variants import VARIANTS

    rows = []
    for variant in VARIANTS:
        values = "<br>".join(f"`{value.name}`: {value.meaning}" for value in variant.values)
        rows.append((f"`{variant.name}`", variant.operation, clause_link(variant.clause), variant.question, values))
    return markdown_table(("variant", "operation", "clause", "question", "values"), rows)


@table("profiles")
def profiles_table() -> str:
    from refq.registry.profiles import PROFILES
    from refq.registry.variants import VARIANTS

    names = [variant.name for variant in VARIANTS if variant.operation in ("quantize", "dequantize")]
    header = ("variant", *(f"`{profile.name}`" for profile in PROFILES))
    rows = []
    for name in names:
        cells = []
        for profile in PROFILES:
            value = profile.quantize.get(name, profile.dequantize.get(name, ""))
            per_axis = profile.quantize_per_axis.get(name)
            cells.append(f"`{value}`" + (f" (per-axis: `{per_axis}`)" if per_axis else ""))
        rows.append((f"`{name}`", *cells))
    return markdown_table(header, rows)


@table("profile-sources")
def profile_sources_table() -> str:
    from refq.registry.profiles import PROFILES

    rows = [(f"`{p.name}`", p.title, "<br>".join(p.sources), p.notes) for p in PROFILES]
    return markdown_table(("profile", "implementation", "sources", "notes"), rows)


@table("verified-releases")
def verified_releases_table() -> str:
    """Every profile, and the engine releases it was verified against (refq/registry/verified.py)."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME
    from refq.registry.verified import ENGINES

    rows = []
    for name in EVERY_PROFILE_BY_NAME:
        engines = [entry for entry in ENGINES if name in entry.profiles]
        if engines:
            releases = "<br>".join(f"{entry.package} {', '.join(entry.versions)}" for entry in engines)
            backends = ", ".join(f"`{backend}`" for entry in engines
                                 for backend, profile in zip(entry.backends, entry.profiles) if profile == name)
        else:
            releases, backends = "not run against its engine here: read from source, a hypothesis", "—"
        rows.append((f"`{name}`", releases, backends))
    return markdown_table(("profile", "verified with", "built-in backends"), rows)


# --- requantize (REQ) ---
@table("requantize-profiles")
def requantize_profiles_table() -> str:
    """The requantization variant values of every profile that names them (REQ)."""
    from refq.registry.profiles import REQUANTIZE_PROFILES_BY_NAME
    from refq.registry.variants import VARIANTS

    profiles = list(REQUANTIZE_PROFILES_BY_NAME.values())
    header = ("variant", *(f"`{profile.name}`" for profile in profiles))
    rows = [(f"`{variant.name}`", *(f"`{profile.requantize[variant.name]}`" if variant.name in profile.requantize
                                     else "—" for profile in profiles))
            for variant in VARIANTS if variant.operation == "requantize"]
    return markdown_table(header, rows)
# --- end requantize ---


# --- bnb4 (BLK-7) ---
@table("bnb4-profiles")
def bnb4_profiles_table() -> str:
    """The BLK-7 variant values of every profile of bitsandbytes' 4-bit formats."""
    from refq.registry.profiles import BNB4_PROFILES
    from refq.registry.variants import VARIANTS

    header = ("variant", *(f"`{profile.name}`" for profile in BNB4_PROFILES))
    rows = [(f"`{variant.name}`", *(f"`{profile.bnb4[variant.name]}`" for profile in BNB4_PROFILES))
            for variant in VARIANTS if variant.operation == "block_bnb4"]
    return markdown_table(header, rows)


@table("bnb4-thresholds")
def bnb4_thresholds_table() -> str:
    """Each code table's selection thresholds (BLK-7.4): the float32 midpoint and the decision tree's literal
    rounded to float32, and how many float32 steps the literal lies above the midpoint."""
    import numpy as np

    from refq.numbers.floats.encode import encode
    from refq.registry.code_tables import CODE_TABLES

    def float32(value: Fraction) -> np.float32:
        return np.array([encode(value, "binary32")], dtype=np.uint32).view(np.float32)[0]

    def pattern(value) -> str:
        return f"`{int(np.float32(value).view(np.uint32)):#010x}`"

    def ordinal(value) -> int:
        """The float32's place on the number line, in float32 steps from 0."""
        bits = int(np.float32(value).view(np.uint32))
        return -(bits & 0x7FFFFFFF) if bits >> 31 else bits

    rows = []
    for row in CODE_TABLES:
        ordered = sorted(Fraction(float(float32(value))) for value in row.exact_values())
        midpoints = [float32((low + high) / 2) for low, high in zip(ordered, ordered[1:])]
        midpoints = midpoints[-len(row.tree_thresholds):]  # FP4's tree compares magnitudes: the upper half
        for midpoint, literal in zip(midpoints, row.tree_thresholds):
            value = float32(Fraction(literal))
            steps = ordinal(value) - ordinal(midpoint)
            rows.append((f"`{row.name}`", f"{float(midpoint):.9g} ({pattern(midpoint)})", f"`{literal}f`",
                         pattern(value), f"{steps:+d}" if steps else "0"))
    return markdown_table(("table", "float32 midpoint", "tree literal", "literal as float32", "steps above"), rows)
# --- end bnb4 ---


# --- nvfp4 (BLK-8) ---
@table("nvfp4-profiles")
def nvfp4_profiles_table() -> str:
    """The BLK-8 variant values of every NVFP4 profile."""
    from refq.registry.profiles import NVFP4_PROFILES
    from refq.registry.variants import VARIANTS

    header = ("variant", *(f"`{profile.name}`" for profile in NVFP4_PROFILES))
    rows = [(f"`{variant.name}`", *(f"`{profile.nvfp4[variant.name]}`" for profile in NVFP4_PROFILES))
            for variant in VARIANTS if variant.operation == "block_nvfp4"]
    return markdown_table(header, rows)
# --- end nvfp4 ---


# --- int4 groups (BLK-9) ---
@table("int4-group-profiles")
def int4_group_profiles_table() -> str:
    """The BLK-9 variant values of every int4 group profile."""
    from refq.registry.profiles import INT4_GROUP_PROFILES
    from refq.registry.variants import VARIANTS

    header = ("variant", *(f"`{profile.name}`" for profile in INT4_GROUP_PROFILES))
    rows = [(f"`{variant.name}`", *(f"`{profile.int4_group[variant.name]}`" for profile in INT4_GROUP_PROFILES))
            for variant in VARIANTS if variant.operation == "block_int4"]
    return markdown_table(header, rows)
# --- end int4 groups ---


# --- code packing (BLK-10) ---
@table("packing-profiles")
def packing_profiles_table() -> str:
    """The BLK-10 variant values of every profile that packs codes."""
    from refq.registry.profiles import PACKING_PROFILES
    from refq.registry.variants import VARIANTS

    # Profiles that pack alike (ONNX's text and its reference, torchao's four MX scale modes) share a column.
    columns: dict[tuple, list[str]] = {}
    for profile in PACKING_PROFILES:
        if profile.packing:
            columns.setdefault(tuple(sorted(profile.packing.items())), []).append(f"`{profile.name}`")
    header = ("variant", *(", ".join(names) for names in columns.values()))
    rows = [(f"`{variant.name}`", *(f"`{dict(packing)[variant.name]}`" for packing in columns))
            for variant in VARIANTS if variant.operation == "block_packing"]
    return markdown_table(header, rows)
# --- end code packing ---
