"""Rounding modes: how a value that is not an integer becomes one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoundingMode:
    name: str
    code: int  # the integer the compiled kernels dispatch on
    rule: str
    used_by: tuple[str, ...] = ()


ROUNDING_MODES: tuple[RoundingMode, ...] = (
    RoundingMode("half_to_even", 0, "nearest integer; a tie goes to the even neighbour",
                 ("ONNX QuantizeLinear", "ONNX Runtime", "PyTorch", "numpy.rint", "IEEE 754 roundTiesToEven")),
    RoundingMode("half_away_from_zero", 1, "nearest integer; a tie goes away from zero",
                 ("TFLite reference kernels (std::round)", "C round()")),
    RoundingMode("half_toward_positive", 2, "nearest integer; a tie goes toward +infinity",
                 ("gemmlowp/TOSA rounding right shift (on the shifted value)", "floor(x + 0.5)")),
    RoundingMode("half_toward_zero", 3, "nearest integer; a tie goes toward zero", ()),
    RoundingMode("toward_zero", 4, "drop the fraction (truncate)", ("C cast to integer", "numpy astype")),
    RoundingMode("floor", 5, "largest integer not above the value (toward -infinity)", ("arithmetic right shift",)),
    RoundingMode("ceil", 6, "smallest integer not below the value (toward +infinity)", ()),
)
