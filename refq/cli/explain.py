"""``refq explain VALUE [--format NAME]``: the bits, class and exact value of a number.

VALUE is a decimal (``0.1``, ``-3``, ``1e-40``, even ``1/3``), a hex float
(``0x1.8p-3``: it has a ``p`` or a ``.``), ``inf`` or ``nan``, or a raw bit pattern
(``0x3f800000``, ``0b0011``: a hex literal without ``p`` and ``.``, or a binary
literal). A float format shows the pattern's fields (NUM-3.1), class, exact value
as a rational and as its full decimal expansion, its neighbours and its ulp; a
decimal is first encoded (NUM-3.12) and the rounding it needed is explained. An
integer format (``int4``, ``uint8``...) shows the two's-complement pattern, the
weight of each set bit, and the range (NUM-1).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from fractions import Fraction

from refq.errors import RefqValueError, invalid
from refq.numbers.floats.constants import largest_finite_pattern, max_finite, next_down, next_up, ulp
from refq.numbers.floats.decode import NAN, ZERO, DecodedFloat, decode
from refq.numbers.floats.encode import OVERFLOW_POLICIES, TO_INFINITY, binade_exponent, encode, round_magnitude
from refq.registry import FloatFormat, IntegerFormat, float_format, integer_format

VALUE_FORMS = "a decimal (0.1, -3, 1e-40), a hex float (0x1.8p-3), inf, nan, or a bit pattern (0x3f800000, 0b0011)"

#: ANSI colours of the sign, exponent and mantissa fields, used only on a terminal.
COLOURS = ("\033[31m", "\033[32m", "\033[34m")
RESET = "\033[0m"

# argparse takes "-1e-40" or "-inf" for an option; these are numbers.
NEGATIVE_NUMBER = re.compile(r"^-(\d|\.\d|inf|nan|0x|0b)", re.IGNORECASE)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("value", metavar="VALUE", help=VALUE_FORMS)
    parser.add_argument("--format", "-f", default="binary32",
                        help="a float format (binary32, bfloat16, float8_e4m3fn...) "
                             "or an integer format (int4, uint8...); default binary32")
    parser.add_argument("--overflow", default=TO_INFINITY,
                        help="overflow policy for a decimal VALUE: " + " or ".join(OVERFLOW_POLICIES)
                             + f" (default {TO_INFINITY})")
    parser._negative_number_matcher = NEGATIVE_NUMBER  # private, but the only way to accept "-1e-40"


#: Far beyond every format's range (binary64 spans about 1e-324 to 1e308), and exact values this long still
#: print (Python refuses to print an int of more than 4300 digits).
MAX_DECIMAL_DIGITS = 4000
MAX_BINARY_EXPONENT = 13_000  # 2**13000 has about 3900 digits


@dataclass(frozen=True)
class Parsed:
    """A command-line VALUE: a raw bit pattern, or a number (``None`` value for inf and NaN)."""

    text: str
    pattern: int | None = None
    number: Fraction | None = None
    special: str | None = None  # "inf" or "nan"
    negative: bool = False


def parse_value(text: str) -> Parsed:
    """Read VALUE; anything that is not one of the accepted forms is a RefqValueError."""
    body = text.strip().lower().replace("_", "")
    negative = body.startswith("-")
    unsigned = body.lstrip("+-") if body[:1] in "+-" and body[1:2] not in "+-" else body
    try:
        if unsigned.startswith("0b") or (unsigned.startswith("0x") and not re.search(r"[p.]", unsigned)):
            if unsigned != body:
                raise invalid("VALUE", "a bit pattern without a sign (the sign is a bit of the pattern)", text)
            return Parsed(text, pattern=int(unsigned, 0))
        if unsigned.startswith("0x"):
            number = parse_hex_float(unsigned)
        elif unsigned in ("inf", "infinity", "nan"):
            return Parsed(text, special=unsigned[:3], negative=negative)
        else:
            # Fraction would build 10**exponent exactly: hours of work for 1e99999999999.
            exponent = re.search(r"e([+-]?\d+)$", unsigned)
            if len(unsigned) + (abs(int(exponent[1])) if exponent else 0) > MAX_DECIMAL_DIGITS:
                raise invalid("VALUE", f"a decimal of at most {MAX_DECIMAL_DIGITS} digits, exponent included", text)
            number = Fraction(unsigned)
    except (ValueError, ZeroDivisionError):
        raise invalid("VALUE", VALUE_FORMS, text) from None
    return Parsed(text, number=-number if negative else number, negative=negative)


def parse_hex_float(text: str) -> Fraction:
    """The exact value of a hex float such as ``0x1.8p-3`` (no sign)."""
    match = re.fullmatch(r"0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?", text)
    if not match or not (match[1] or match[2]):
        raise ValueError(text)
    whole, fraction, exponent = match[1], match[2] or "", int(match[3] or 0)
    if abs(exponent) > MAX_BINARY_EXPONENT:  # 2**exponent exactly: as slow as a huge decimal exponent
        raise ValueError(text)
    return Fraction(int(whole + fraction, 16), 16 ** len(fraction)) * Fraction(2) ** exponent


def run(args: argparse.Namespace) -> int:
    parsed = parse_value(args.value)
    name = args.format
    if isinstance(name, str) and name.lower().startswith(("int", "uint")):
        lines = explain_integer(parsed, integer_format(name, "--format"))
    else:
        try:
            fmt = float_format(name, "--format")
        except RefqValueError:
            raise invalid("--format", "a float format (binary32, bfloat16, float8_e4m3fn...) "
                          "or an integer format (int1..int64, uint1..uint64)", name) from None
        lines = explain_float(parsed, fmt, args.overflow, colour=sys.stdout.isatty())
    print("\n".join(lines))
    return 0


# --- floats ----------------------------------------------------------------------------------


def explain_float(parsed: Parsed, fmt: FloatFormat, overflow: str, colour: bool = False) -> list[str]:
    lines = []
    if parsed.pattern is not None:
        bits = parsed.pattern
        if bits >= 1 << fmt.total_bits:
            raise invalid("VALUE", f"a {fmt.total_bits}-bit pattern for {fmt.name}", parsed.text)
        lines.append(f"{fmt.name} pattern {hex_pattern(bits, fmt)}")
    else:
        value = float("-inf" if parsed.negative else "inf") if parsed.special == "inf" else \
            float("-nan" if parsed.negative else "nan") if parsed.special == "nan" else parsed.number
        if parsed.special == "nan" and not fmt.has_nan:
            raise invalid("VALUE", f"a number or infinity ({fmt.name} has no NaN)", parsed.text)
        bits = encode(value, fmt, overflow=overflow)
        lines.append(f"input     {parsed.text}" + (f" = {rational(parsed.number)}" if parsed.number is not None
                                                    and parsed.number.denominator != 1 else ""))
        lines += rounding_lines(parsed, bits, fmt, overflow)
        lines.append(f"pattern   {hex_pattern(bits, fmt)}")
    decoded = decode(bits, fmt)
    lines.append(f"bits      {bracketed_fields(decoded, fmt, colour)}")
    lines.append(f"          sign {decoded.sign}, exponent {decoded.exponent}, mantissa {decoded.mantissa}")
    lines.append(f"class     {class_text(decoded, fmt)}")
    if decoded.value is not None:
        lines.append(f"formula   {formula(decoded, fmt)}")
        lines.append(f"value     {equal_forms(decoded.value, decimal=False)}")
        lines.append(f"decimal   {exact_decimal(decoded.value)}")
    if decoded.kind != NAN:
        lines.append(f"next down {neighbour(next_down(bits, fmt), fmt)}")
        lines.append(f"next up   {neighbour(next_up(bits, fmt), fmt)}")
    if decoded.is_finite:
        spacing = ulp(bits, fmt)
        lines.append(f"ulp       {equal_forms(spacing)}")
    return lines


def rounding_lines(parsed: Parsed, bits: int, fmt: FloatFormat, overflow: str) -> list[str]:
    """Say whether the input was representable, and how it was rounded if not."""
    decoded = decode(bits, fmt)
    if parsed.number is None:
        if parsed.special == "nan":
            return [f"encoded   NaN (NUM-3.17){'' if fmt.specials == 'ieee' else ': the format has one NaN pattern'}"]
        if decoded.kind == "infinity":
            return ["exact     yes: infinity"]
        return [f"encoded   infinity is an overflow (NUM-3.16); policy '{overflow}' gives {class_text(decoded, fmt)}"]
    number = parsed.number
    if round_magnitude(abs(number), fmt) > largest_finite_pattern(fmt):
        limit = exact_decimal(max_finite(fmt))
        return [f"rounded   overflows: beyond the largest finite value {limit} (NUM-3.15); "
                f"policy '{overflow}' gives {class_text(decoded, fmt)}"]
    if decoded.kind == NAN:
        # An unsigned format or one without zero has no code for a negative value or a zero.
        if number < 0:
            return [f"encoded   NaN: {fmt.name} is unsigned, it has no code for a negative value (NUM-3.12)"]
        return [f"encoded   NaN: {fmt.name} has no zero (NUM-3.14)"]
    if decoded.value == number:
        return ["exact     yes: the value is representable"]
    direction = "up (toward +infinity)" if decoded.value > number else "down (toward -infinity)"
    error = decoded.value - number
    lines = [f"exact     no: {parsed.text} is not representable in {fmt.name}"]
    if decoded.value == 0:
        how = f"underflows to {'-' if decoded.sign else '+'}0 (nearest, ties to even; NUM-3.13, NUM-3.14)"
    else:
        how = f"to nearest: {direction} (NUM-3.13)"
        if is_tie(abs(number), fmt):
            how = f"a tie between two neighbours, to the one with an even mantissa: {direction} (NUM-3.13)"
    lines.append(f"rounded   {how}")
    lines.append(f"error     {equal_forms(error)} (the encoded value minus the input)")
    return lines


def is_tie(magnitude: Fraction, fmt: FloatFormat) -> bool:
    """Whether ``magnitude`` lies exactly halfway between two neighbours (with an unbounded exponent)."""
    quantum = max(binade_exponent(magnitude), 1 - fmt.bias) - fmt.mantissa_bits
    count = magnitude / Fraction(2) ** quantum
    return count - (count.numerator // count.denominator) == Fraction(1, 2)


def hex_pattern(bits: int, fmt: FloatFormat) -> str:
    return f"0x{bits:0{(fmt.total_bits + 3) // 4}x}"


def bracketed_fields(decoded: DecodedFloat, fmt: FloatFormat, colour: bool) -> str:
    """``[s|eeee|mmm]``, without the fields a format does not have (E8M0: no sign, no mantissa)."""
    fields = [(colour_code, text) for colour_code, text, width in zip(
        COLOURS, (f"{decoded.sign:01b}", f"{decoded.exponent:0{fmt.exponent_bits}b}",
                  f"{decoded.mantissa:0{fmt.mantissa_bits}b}" if fmt.mantissa_bits else ""),
        (int(fmt.signed), fmt.exponent_bits, fmt.mantissa_bits)) if width]
    return "[" + "|".join(c + f + RESET if colour else f for c, f in fields) + "]"


def class_text(decoded: DecodedFloat, fmt: FloatFormat) -> str:
    sign = "negative" if decoded.sign else "positive"
    if decoded.kind == NAN:
        if fmt.specials == "ieee":
            state = "quiet" if decoded.quiet else "signalling"
            return f"NaN ({state}, payload {decoded.payload:#x}, sign bit {decoded.sign})"
        return f"NaN (the format's NaN pattern, sign bit {decoded.sign})"
    return f"{decoded.kind} ({sign})" if decoded.kind != ZERO else f"zero ({'-0' if decoded.sign else '+0'})"


def formula(decoded: DecodedFloat, fmt: FloatFormat) -> str:
    m, M, bias = decoded.mantissa, fmt.mantissa_bits, fmt.bias
    if decoded.exponent == 0:
        return f"(-1)^{decoded.sign} × ({m}/2^{M}) × 2^(1-{bias})"
    return f"(-1)^{decoded.sign} × (1 + {m}/2^{M}) × 2^({decoded.exponent}-{bias})"


def neighbour(bits: int | None, fmt: FloatFormat) -> str:
    if bits is None:
        return "none (no larger or smaller value in this format)"
    decoded = decode(bits, fmt)
    if decoded.value is None:
        return f"{hex_pattern(bits, fmt)} = {'-' if decoded.sign else '+'}infinity"
    return f"{hex_pattern(bits, fmt)} = {equal_forms(decoded.value)}"


# --- exact numbers as text -------------------------------------------------------------------


def equal_forms(value: Fraction, decimal: bool = True) -> str:
    """``value`` as ``odd × 2^k``, as a fraction and (if ``decimal``) in decimal, each form once."""
    forms = [dyadic(value), rational(value)] + ([exact_decimal(value)] if decimal else [])
    return " = ".join(dict.fromkeys(forms))


def rational(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def dyadic(value: Fraction) -> str:
    """``odd × 2^k`` (or ``2^k``, or an integer) for a dyadic rational; ``p/q`` otherwise."""
    if value == 0:
        return "0"
    if value.denominator & (value.denominator - 1):
        return rational(value)
    sign = "-" if value < 0 else ""
    odd, exponent = abs(value.numerator), -(value.denominator.bit_length() - 1)
    while odd % 2 == 0:
        odd, exponent = odd // 2, exponent + 1
    if 0 <= exponent <= 16:
        return f"{sign}{odd << exponent}"
    return f"{sign}2^{exponent}" if odd == 1 else f"{sign}{odd} × 2^{exponent}"


def exact_decimal(value: Fraction) -> str:
    """The full decimal expansion of a rational whose denominator is $2^a 5^b$."""
    sign = "-" if value < 0 else ""
    magnitude, places = abs(value), 0
    while magnitude.denominator != 1:
        if places > 2000 or (magnitude.denominator % 2 and magnitude.denominator % 5):
            raise invalid("value", "a rational with a finite decimal expansion", value)
        magnitude, places = magnitude * 10, places + 1
    digits = str(magnitude.numerator).rjust(places + 1, "0")
    return sign + (digits[:-places] + "." + digits[-places:] if places else digits)


# --- integers --------------------------------------------------------------------------------


def explain_integer(parsed: Parsed, fmt: IntegerFormat) -> list[str]:
    from refq.numbers.integers import from_twos_complement, integer_range, to_twos_complement

    lowest, highest = integer_range(fmt)
    if parsed.pattern is not None:
        if parsed.pattern >= 1 << fmt.bits:
            raise invalid("VALUE", f"a {fmt.bits}-bit pattern for {fmt.name}", parsed.text)
        pattern = parsed.pattern
        value = from_twos_complement(pattern, fmt.bits) if fmt.signed else pattern
    else:
        if parsed.number is None or parsed.number.denominator != 1:
            raise invalid("VALUE", f"an integer or a bit pattern for {fmt.name}", parsed.text)
        value = parsed.number.numerator
        if not lowest <= value <= highest:
            raise invalid("VALUE", f"an integer in [{lowest}, {highest}] for {fmt.name}", parsed.text)
        pattern = to_twos_complement(value, fmt.bits) if fmt.signed else value
    weights = []
    for position in reversed(range(fmt.bits)):
        if pattern >> position & 1:
            top = fmt.signed and position == fmt.bits - 1
            weights.append(-(1 << position) if top else 1 << position)
    weight_text = " + ".join(str(w) for w in weights).replace("+ -", "- ") if weights else "0"
    encoding = "two's complement" if fmt.signed else "unsigned binary"
    return [
        f"{fmt.name} value {value}",
        f"pattern   {pattern:0{fmt.bits}b} (0x{pattern:0{(fmt.bits + 3) // 4}x}, {encoding})",
        f"weights   {weight_text} = {value}",
        f"range     [{lowest}, {highest}]",
    ]
