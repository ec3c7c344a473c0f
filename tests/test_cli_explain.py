"""``refq explain``: output for patterns, decimals, hex floats, integers; errors and exit codes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from refq.cli import main
from refq.cli.explain import exact_decimal, parse_hex_float

SMALLEST_SUBNORMAL_DECIMAL = (
    "0.00000000000000000000000000000000000000000000140129846432481707092372958328991613128026194187651577175706828"
    "388979108268586060148663818836212158203125"
)


def explain(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def line(output: str, label: str) -> str:
    return next(text for text in output.splitlines() if text.startswith(label))


def test_explain_smallest_subnormal(capsys):
    code, out, err = explain(capsys, "0x00000001")
    assert (code, err) == (0, "")
    assert line(out, "bits") == "bits      [0|00000000|00000000000000000000001]"
    assert "subnormal" in line(out, "class")
    assert line(out, "value").startswith("value     2^-149 = 1/" + str(2**149))
    assert line(out, "decimal") == "decimal   " + SMALLEST_SUBNORMAL_DECIMAL
    assert Fraction(SMALLEST_SUBNORMAL_DECIMAL) == Fraction(1, 2**149)
    assert line(out, "next down") == "next down 0x00000000 = 0"
    assert line(out, "next up").startswith("next up   0x00000002 = 2^-148")
    assert "\033[" not in out  # no colour when stdout is not a terminal


def test_explain_one(capsys):
    code, out, _ = explain(capsys, "0x3f800000")
    assert code == 0
    assert line(out, "bits") == "bits      [0|01111111|00000000000000000000000]"
    assert line(out, "class") == "class     normal (positive)"
    assert line(out, "value") == "value     1"
    assert line(out, "next up") == ("next up   0x3f800001 = 8388609 × 2^-23 = 8388609/8388608"
                                    " = 1.00000011920928955078125")
    assert line(out, "ulp") == "ulp       2^-23 = 1/8388608 = 0.00000011920928955078125"


def test_explain_decimal(capsys):
    code, out, _ = explain(capsys, "0.1")
    assert code == 0
    assert line(out, "input") == "input     0.1 = 1/10"
    assert line(out, "exact").startswith("exact     no")
    assert "up" in line(out, "rounded")
    assert line(out, "pattern") == "pattern   0x3dcccccd"
    assert line(out, "decimal") == "decimal   0.100000001490116119384765625"
    assert line(out, "error").startswith("error     1/671088640 = 0.000000001490116119384765625")


def test_explain_representable_decimal(capsys):
    code, out, _ = explain(capsys, "-3")
    assert code == 0
    assert line(out, "exact") == "exact     yes: the value is representable"
    assert line(out, "pattern") == "pattern   0xc0400000"


def test_explain_negative_exponent_decimal(capsys):
    code, out, _ = explain(capsys, "-1e-40")
    assert code == 0
    assert line(out, "pattern") == "pattern   0x800116c2"
    assert "subnormal (negative)" in line(out, "class")


def test_explain_hex_float(capsys):
    code, out, _ = explain(capsys, "0x1.8p-3")
    assert code == 0
    assert line(out, "input") == "input     0x1.8p-3 = 3/16"
    assert line(out, "pattern") == "pattern   0x3e400000"
    assert parse_hex_float("0x.8") == Fraction(1, 2)
    assert parse_hex_float("0xa.8p4") == 168


def test_explain_binary_pattern(capsys):
    code, out, _ = explain(capsys, "--format", "float4_e2m1fn", "0b0111")
    assert code == 0
    assert line(out, "bits") == "bits      [0|11|1]"
    assert line(out, "value") == "value     6"
    assert line(out, "next up").startswith("next up   none")


def test_explain_tie(capsys):
    code, out, _ = explain(capsys, "--format", "float8_e4m3fn", "464")
    assert code == 0
    assert "tie" in line(out, "rounded") and "even" in line(out, "rounded")
    assert line(out, "pattern") == "pattern   0x7e"


def test_explain_overflow(capsys):
    code, out, _ = explain(capsys, "--format", "float8_e4m3fn", "465")
    assert code == 0
    assert "overflows" in line(out, "rounded")
    assert line(out, "pattern") == "pattern   0x7f"
    code, out, _ = explain(capsys, "--format", "float8_e4m3fn", "--overflow", "saturate", "465")
    assert line(out, "pattern") == "pattern   0x7e"


def test_explain_nan(capsys):
    code, out, _ = explain(capsys, "0x7fa00001")
    assert code == 0
    assert line(out, "class") == "class     NaN (signalling, payload 0x200001, sign bit 0)"
    assert "next up" not in out


def test_explain_underflow_to_negative_zero(capsys):
    code, out, _ = explain(capsys, "--format", "binary16", "-1e-8")
    assert code == 0
    assert "underflows to -0" in line(out, "rounded")
    assert line(out, "pattern") == "pattern   0x8000"


def test_explain_integer(capsys):
    code, out, err = explain(capsys, "--format", "int4", "-3")
    assert (code, err) == (0, "")
    assert line(out, "pattern").startswith("pattern   1101")
    assert line(out, "weights") == "weights   -8 + 4 + 1 = -3"
    assert line(out, "range") == "range     [-8, 7]"


def test_explain_integer_pattern(capsys):
    code, out, _ = explain(capsys, "--format", "uint8", "0xfe")
    assert code == 0
    assert line(out, "uint8") == "uint8 value 254"
    assert line(out, "weights") == "weights   128 + 64 + 32 + 16 + 8 + 4 + 2 = 254"


def test_explain_colour(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    code = main(["explain", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "\033[31m0\033[0m" in out


def test_exact_decimal():
    assert exact_decimal(Fraction(-3, 8)) == "-0.375"
    assert exact_decimal(Fraction(5)) == "5"


@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        (["abc"], "VALUE"),
        (["0x1.zp3"], "VALUE"),
        (["-0x3f800000"], "VALUE"),  # a pattern has no sign
        (["--format", "float8_e4m3fn", "0x100"], "VALUE"),  # wider than the format
        (["--format", "float7", "1"], "--format"),
        (["--format", "int4", "8"], "VALUE"),  # out of range
        (["--format", "int4", "1.5"], "VALUE"),
        (["--format", "int4", "0b10000"], "VALUE"),
        (["--format", "float4_e2m1fn", "nan"], "VALUE"),
        (["--overflow", "wrap", "1"], "overflow"),
    ],
)
def test_explain_bad_input(capsys, argv, argument):
    code, out, err = explain(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and argument in err and "Traceback" not in err
