"""The qparams fingerprint's predictions (refq's OBS-1 kernels under the registry variants symmetric_divisor,
scale_floor, reduce_range, zero_point_rounding, zero_in_range) against an independent float32 numpy oracle."""

from __future__ import annotations

import numpy as np
import pytest

from refq.conformance import fingerprint_observers as fo
from refq.conformance.fingerprint_observers import PROBES, Probe, combinations, predict
from refq.errors import RefqValueError
from refq.observers.qparams import qparams_from_range

F32 = np.float32
_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def _round(value: float, mode: str) -> float:
    if mode == "half_to_even":
        return float(np.rint(value))
    return float(np.sign(value) * np.floor(abs(value) + 0.5))


def oracle(probe: Probe, variants: dict[str, str]) -> tuple[np.float32, int]:
    """(scale, zero point) of ``probe`` under one combination, in plain float32 numpy steps (none of refq)."""
    quant_min, quant_max = _RANGES[probe.dtype]
    if probe.reduce_range and variants["reduce_range"] == "halved":
        quant_min, quant_max = quant_min // 2, quant_max // 2
    low, high = F32(probe.min_val), F32(probe.max_val)
    if variants["zero_in_range"] == "widened":
        low, high = min(low, F32(0)), max(high, F32(0))
    with np.errstate(all="ignore"):
        if probe.qscheme == "symmetric":
            divisor = F32((quant_max - quant_min) / 2) if variants["symmetric_divisor"] == "half_span" else F32(quant_max)
            scale = F32(max(-low, high) / divisor)
            if variants["scale_floor"] == "float32_eps":
                scale = max(scale, F32(2.0**-23))
            return F32(scale), (128 if probe.dtype == "uint8" else 0)
        scale = F32(F32(high - low) / F32(quant_max - quant_min))
        if variants["scale_floor"] == "float32_eps":
            scale = max(scale, F32(2.0**-23))
        quotient = F32(low / scale)
    if not np.isfinite(quotient):
        return F32(scale), quant_min
    zero_point = quant_min - int(_round(float(quotient), variants["zero_point_rounding"]))
    return F32(scale), min(max(zero_point, quant_min), quant_max)




def test_predict_matches_the_oracle_on_every_probe_and_combination():
    for combination in combinations():
        for probe in PROBES:
            scale, zero_point = predict(probe, combination)
            expected_scale, expected_zero_point = oracle(probe, combination)
            assert (np.asarray(scale, F32).view(np.uint32), zero_point) == \
                (np.asarray(expected_scale, F32).view(np.uint32), expected_zero_point), (probe.name, combination)


@pytest.mark.parametrize("qscheme,dtype", [("affine", "uint8"), ("affine", "int8"), ("symmetric", "int8"),
                                           ("symmetric", "uint8")])
def test_kernel_variants_match_the_oracle_on_random_ranges(qscheme, dtype):
    """refq's qparams_from_range under every combination equals the oracle on 300 random ranges each,
    ties of m_min / s included (ranges on a 2^-6 grid)."""
    rng = np.random.default_rng(17)
    for index in range(300):
        low, high = sorted(rng.integers(-2000, 2000, 2) / 64.0)
        probe = Probe(f"random-{index}", "", float(low), float(high), dtype, qscheme, bool(index % 2))
        for combination in combinations():
            if qscheme == "symmetric" and dtype == "uint8" and probe.reduce_range \
                    and combination["reduce_range"] == "halved":
                continue  # torch refuses it (refq raises), the oracle does not model the refusal
            scale, zero_point = predict(probe, combination)
            expected_scale, expected_zero_point = oracle(probe, combination)
            assert (float(scale), zero_point) == (float(expected_scale), expected_zero_point), (probe, combination)


def test_kernel_variants_reject_unknown_values():
    for name in ("symmetric_divisor", "zero_point_rounding", "zero_in_range"):
        with pytest.raises(RefqValueError, match=f"^{name}: "):
            qparams_from_range(0.0, 1.0, **{name: "nope"})


def test_default_variants_are_torchs():
    for probe in PROBES:
        reference = qparams_from_range(probe.min_val, probe.max_val, dtype=probe.dtype, qscheme=probe.qscheme,
                                       reduce_range=probe.reduce_range)
        assert predict(probe, fo.PYTORCH) == (F32(reference.scale), int(reference.zero_point)), probe.name
