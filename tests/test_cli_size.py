"""``refq size`` and :mod:`refq.sizes`: model sizes at each bit width, exact, with bad input refused."""

from __future__ import annotations

from fractions import Fraction

import pytest

from refq.cli import main
from refq.errors import RefqTypeError, RefqValueError
from refq.sizes import decimal_text, model_size


def size(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["size", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(output: str) -> dict[str, list[str]]:
    """Table rows of the output, keyed by their bits column."""
    return {cells[0]: cells[1:] for cells in (line.split() for line in output.splitlines())
            if cells and cells[0].isdigit()}


@pytest.mark.parametrize(("bits", "gigabytes"), [(32, 280), (16, 140), (8, 70), (4, 35)])
def test_model_size_70_billion(bits, gigabytes):
    result = model_size(70e9, bits)
    assert result.total_bytes == gigabytes * 10**9
    assert result.gigabytes == gigabytes


def test_model_size_lecture_28_gb_is_3_2_bits():
    # The lecture's "28 GB" for 70e9 parameters would need 3.2 bits each: no format it names.
    assert Fraction(28 * 10**9 * 8, 70 * 10**9) == Fraction(16, 5)
    assert all(model_size(70e9, bits).gigabytes != 28 for bits in range(1, 65))


def test_model_size_packed_sub_byte():
    assert model_size(3, 4).weight_bytes == 2  # two int4 per byte, the last byte half used
    assert model_size(8, 1).weight_bytes == 1
    assert model_size(1, 3).weight_bytes == 1


def test_model_size_block_scales():
    result = model_size(70 * 10**9, 4, block_size=128, scale_bits=16)
    assert result.scale_bytes == 70 * 10**9 // 128 * 2
    assert result.bits_per_parameter == Fraction(33, 8)  # 4 + 16/128
    assert model_size(129, 4, block_size=128).scale_bytes == 4  # a partial block has a scale too


def test_model_size_bad_input():
    with pytest.raises(RefqValueError, match="^parameters: must be a positive integer"):
        model_size(7.5, 8)
    with pytest.raises(RefqValueError, match="^parameters: must be a positive integer"):
        model_size(0, 8)
    with pytest.raises(RefqValueError, match="^parameters: must be a positive integer"):
        model_size(float("inf"), 8)
    with pytest.raises(RefqTypeError, match="^parameters: must be a positive integer, got str"):
        model_size("70e9", 8)
    with pytest.raises(RefqTypeError, match="^bits: must be a positive integer, got bool"):
        model_size(10, True)
    with pytest.raises(RefqValueError, match="^bits: must be an integer from 1 to 64"):
        model_size(10, 65)
    with pytest.raises(RefqValueError, match="^scale_bits: must be one of 8, 16, 32"):
        model_size(10, 4, block_size=2, scale_bits=12)
    with pytest.raises(RefqValueError, match="^block_size: must be a positive integer"):
        model_size(10, 4, block_size=0)


def test_decimal_text():
    assert decimal_text(Fraction(36093750000, 10**9)) == "36.09375"
    assert decimal_text(Fraction(280)) == "280"
    assert decimal_text(Fraction(-1, 8)) == "-0.125"
    assert decimal_text(Fraction(35 * 10**9, 2**30), 2) == "32.6"
    assert decimal_text(Fraction(1, 2**30), 2) == "0"
    with pytest.raises(RefqValueError, match="^value: must be a fraction with a terminating"):
        decimal_text(Fraction(1, 3))


def test_size_default_table(capsys):
    code, out, err = size(capsys, "--params", "70e9")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "parameters  70,000,000,000"
    assert rows(out) == {
        "32": ["32", "280,000,000,000", "280", "260.77"],
        "16": ["16", "140,000,000,000", "140", "130.39"],
        "8": ["8", "70,000,000,000", "70", "65.19"],
        "4": ["4", "35,000,000,000", "35", "32.6"],
    }


@pytest.mark.parametrize("params", ["70e9", "70B", "70b", "70_000_000_000", "70000000000", "0.07T", "70000M"])
def test_size_params_forms(capsys, params):
    code, out, _ = size(capsys, "--params", params, "--bits", "4")
    assert code == 0
    assert rows(out) == {"4": ["4", "35,000,000,000", "35", "32.6"]}


def test_size_blocks(capsys):
    code, out, _ = size(capsys, "--params", "70e9", "--bits", "4", "--block-size", "128")
    assert code == 0
    assert "one 16-bit scale per block of 128 parameters" in out
    assert rows(out) == {"4": ["4.125", "36,093,750,000", "36.09375", "33.61"]}


@pytest.mark.parametrize(("argv", "message"), [
    (["--params", "7.5"], "refq: error: --params: must be a positive integer count"),
    (["--params=-70e9"], "refq: error: --params: must be a positive integer count"),
    (["--params", "seventy"], "refq: error: --params: must be a positive integer count"),
    (["--params", "70e9", "--bits", "0"], "refq: error: bits: must be a positive integer"),
    (["--params", "70e9", "--bits", "four"], "refq: error: size: argument --bits: invalid int value"),
    (["--params", "70e9", "--block-size", "32", "--scale-bits", "12"], "refq: error: scale_bits: must be one of"),
    ([], "refq: error: size: the following arguments are required: --params"),
])
def test_size_bad_input(capsys, argv, message):
    code, out, err = size(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message), err
