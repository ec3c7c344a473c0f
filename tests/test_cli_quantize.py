"""``refq quantize``: values, --trace and --compare-profiles, and its one-line errors."""

from __future__ import annotations

import pytest

from refq.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_quantize_prints_one_integer_per_value(capsys) -> None:
    code, out, _ = run(capsys, "quantize", "0.5", "-0.25", "nan", "--scale", "0.25", "--profile", "onnxruntime")
    assert code == 0
    assert out.split() == ["2", "-1", "-128"]


def test_quantize_trace_names_each_clause(capsys) -> None:
    code, out, _ = run(capsys, "quantize", "0.273939937", "--scale", "0.00214854861", "--dtype", "uint8",
                       "--profile", "pytorch-fake-quant", "--trace")
    assert code == 0
    for clause in ("AFF-1.1", "AFF-3.2", "AFF-3.4", "AFF-3.5"):
        assert f"[{clause}]" in out
    assert "an exact tie" in out
    assert "=> q = 128" in out


def test_quantize_compare_profiles_explains_the_tie(capsys) -> None:
    code, out, _ = run(capsys, "quantize", "0.273939937", "--scale", "0.00214854861", "--dtype", "uint8",
                       "--compare-profiles")
    assert code == 0
    results = dict(line.split() for line in out.splitlines()[1:8])
    assert results["onnx"] == "127"
    assert results["pytorch-fake-quant"] == "128"
    assert "scale_operation (divide -> multiply_reciprocal) turns 127 into 128" in out


def test_quantize_trace_adds_the_zero_point_once(capsys) -> None:
    """With the zero point added after rounding, the trace shows the sum on that line and the
    saturation line no longer calls it still to add."""
    code, out, _ = run(capsys, "quantize", "2.5", "--scale", "1", "--zero-point", "-128", "--profile", "tflite",
                       "--trace")
    assert code == 0
    assert "+ z = 3.0 + -128 = -125.0" in out
    assert "still to add" not in out


def test_quantize_compare_profiles_agrees_in_number(capsys) -> None:
    code, out, _ = run(capsys, "quantize", "2.5", "--scale", "1", "--zero-point", "-128", "--compare-profiles")
    assert code == 0
    assert "tflite gives -125" in out
    assert " give -126" in out
    assert "tflite give " not in out


def test_quantize_variant_override(capsys) -> None:
    code, out, _ = run(capsys, "quantize", "2.5", "-2.5", "--scale", "1", "--variant", "rounding=half_away_from_zero")
    assert code == 0
    assert out.split() == ["3", "-3"]


@pytest.mark.parametrize(
    "argv, argument",
    [
        (["quantize", "1", "--scale", "-1"], "scale"),
        (["quantize", "1", "--scale", "0"], "scale"),
        (["quantize", "abc", "--scale", "1"], "VALUE"),
        (["quantize", "1", "--scale", "x"], "--scale"),
        (["quantize", "1", "--scale", "1", "--dtype", "int99"], "dtype"),
        (["quantize", "1", "--scale", "1", "--zero-point", "300"], "zero_point"),
        (["quantize", "1", "--scale", "1", "--profile", "nope"], "profile"),
        (["quantize", "1", "--scale", "1", "--variant", "rounding=sideways"], "rounding"),
        (["quantize", "1", "--scale", "1", "--variant", "colour=red"], "--variant"),
        (["quantize", "1"], "--scale"),
        (["no-such-command"], "COMMAND"),
    ],
)
def test_quantize_bad_input_is_one_line_and_exit_2(capsys, argv, argument) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert argument in err
    assert "Traceback" not in err
