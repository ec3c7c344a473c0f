"""An informative table: every n-bit pattern read as unsigned, sign-magnitude and two's complement."""

from __future__ import annotations

from refq.errors import invalid
from refq.numbers.integers._arguments import exact_integer
from refq.numbers.integers.twos_complement import from_twos_complement, sign_magnitude_value

#: Wider tables stop being readable (2^bits rows).
_MAX_TABLE_BITS = 8


def int_encodings_table(bits: int) -> str:
    """Markdown table of all $2^n$ patterns of ``bits`` bits, in increasing pattern order."""
    bits = exact_integer(bits, "bits")
    if not 1 <= bits <= _MAX_TABLE_BITS:
        raise invalid("bits", f"a width in 1..{_MAX_TABLE_BITS} (the table has 2^bits rows)", bits)
    lines = [
        "| pattern | unsigned | sign-magnitude | two's complement |",
        "|:-:|--:|--:|--:|",
    ]
    for pattern in range(1 << bits):
        sign_magnitude = sign_magnitude_value(pattern, bits)
        if sign_magnitude == 0 and pattern >> (bits - 1):
            shown_sign_magnitude = "−0"
        else:
            shown_sign_magnitude = str(sign_magnitude).replace("-", "−")
        twos = str(from_twos_complement(pattern, bits)).replace("-", "−")
        lines.append(f"| `{pattern:0{bits}b}` | {pattern} | {shown_sign_magnitude} | {twos} |")
    return "\n".join(lines) + "\n"
