"""Fingerprinting (refq.conformance.fingerprint): every built-in backend is consistent with
the profile it declares, the discriminating inputs really discriminate, and the table on
docs/conformance/fingerprints.md is the one a fresh run produces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from refq.affine import quantize_with_outcomes
from refq.cli import main
from refq.conformance import fingerprint as fp
from refq.conformance.mutants import MUTANTS, ReferenceAdapter
from refq.registry.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "conformance" / "fingerprints.md"
#: Backend -> (operation, granularity) -> the variant values the fingerprint must single out.
EXPECTED = {
    "onnxruntime": {("quantize_linear", g): {"scale_operation": ["divide"], "precision": ["float32"],
                                             "zero_point_placement": ["after_rounding"],
                                             "rounding": ["half_to_even"], "saturation": ["clamp_then_convert"],
                                             "nan": ["qmin"]} for g in fp.GRANULARITIES},
    "onnx-reference": {("quantize_linear", g): {"saturation": ["convert_then_clamp"], "nan": ["converted"]}
                       for g in fp.GRANULARITIES},
    "torch": {("quantize_linear", "per_tensor"): {"scale_operation": ["multiply_reciprocal"],
                                                  "zero_point_placement": ["before_rounding_fused"], "nan": ["qmax"]},
              ("quantize_linear", "per_axis"): {"scale_operation": ["multiply_reciprocal"],
                                                "zero_point_placement": ["before_rounding"], "nan": ["zero"]}},
    "torch-pt2e": {("quantize_linear", g): {"scale_operation": ["multiply_reciprocal"],
                                            "zero_point_placement": ["after_rounding"], "nan": ["zero"]}
                   for g in fp.GRANULARITIES},
    "torch-fake-quant": {("fake_quantize", "per_tensor"): {"scale_operation": ["multiply_reciprocal"],
                                                           "nan": ["qmin"]}},
}
#: Backend -> the integer / elementwise (operation, granularity) results it must have, each pinned to one
#: combination, and values that combination must hold.
EXPECTED_PROBES = {
    "onnxruntime": {**{(op, g): {"requantize_multiplier_order": "product_then_quotient"}
                       for op in ("qlinear_matmul", "qlinear_conv") for g in ("per_tensor", "per_channel")},
                    ("qlinear_add", "per_tensor"): {"add_fixed_part": "fused"},
                    ("qlinear_average_pool", "per_tensor"): {"average_division": "float32"}},
    "onnx-reference": {(op, g): {"requantize_precision": "float64", "requantize_zero_point": "before_rounding"}
                       for op in ("qlinear_matmul", "qlinear_conv") for g in ("per_tensor", "per_channel")},
    "torch": {(op, g): {"requantize_multiplier_order": "product_then_quotient"}
              for op in ("qlinear_matmul", "qlinear_conv") for g in ("per_tensor", "per_channel")},
    "torch-qnnpack": {(op, g): {"requantize_multiplier_order": "reciprocal", "requantize_rounding": "half_to_even"}
                      for op in ("qlinear_matmul", "qlinear_conv") for g in ("per_tensor", "per_channel")},
    "torch-pt2e": {(op, "per_tensor"): {"requantize_precision": "float32", "requantize_rounding": "toward_zero"}
                   for op in ("qlinear_matmul", "qlinear_conv")},
}
@pytest.fixture(scope="module")
def fingerprints():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("torch")
    from refq.backends import BUILTIN

    # A backend in another interpreter (tosa) cannot be instantiated here; tests/test_tosa_backend.py runs it.
    return {name: fp.fingerprint(cls()) for name, cls in BUILTIN.items() if not getattr(cls, "environment", None)}


def test_fingerprint_builtin_backends_meet_declared_profile(fingerprints):
    """Each built-in backend's consistent combinations include its declared profile's values,
    and no input is left unexplained."""
    checked = 0
    for name, result in fingerprints.items():
        for operation in result.operations:
            if operation.status == "unsupported":
                continue
            assert operation.status == "ok", (name, operation)
            declared = result.declared_profile[operation.operation]
            key = (name, operation.operation, operation.granularity)
            assert operation.declared_deviations == [], key
            assert fp.is_consistent_with(operation, declared), key
            assert operation.unexplained == [], key
            checked += 1
    assert checked >= 20


def test_fingerprint_probe_operations_meet_declared_profile(fingerprints):
    """Every integer / elementwise operation a built-in backend runs is explained by exactly one combination;
    where the backend's profile names one, it is that; refq's own functions are ONNX Runtime's. Operations
    a backend lacks are unsupported, never errors."""
    from refq.conformance import fingerprint_elementwise as fe, fingerprint_integer as fi

    checked = 0
    for name, result in fingerprints.items():
        for operation in result.integer + result.elementwise:
            key = (name, operation.operation, operation.granularity)
            assert operation.status in ("ok", "unsupported"), (key, operation.detail)
            if operation.status == "unsupported":
                continue
            assert len(operation.consistent) == 1 and operation.unexplained == [], key
            if operation.declared is not None:
                assert operation.declared_consistent is True, key
            elif name == "refq":
                onnxruntime = fi.ONNXRUNTIME if operation in result.integer else fe.ONNXRUNTIME[operation.operation]
                assert all(onnxruntime[k] == v for k, v in operation.consistent[0].items()), key
            else:
                raise AssertionError(f"{key}: no declared combination")
            checked += 1
    for name, expected in EXPECTED_PROBES.items():
        by_key = {(o.operation, o.granularity): o for o in fingerprints[name].integer + fingerprints[name].elementwise}
        for key, values in expected.items():
            assert by_key[key].status == "ok", (name, key, by_key[key].detail)
            assert {k: by_key[key].consistent[0][k] for k in values} == values, (name, key)
    assert checked >= 30


def test_fingerprint_singles_out_variant_values(fingerprints):
    for name, expected in EXPECTED.items():
        by_key = {(o.operation, o.granularity): o for o in fingerprints[name].operations}
        for key, values in expected.items():
            result = by_key[key]
            for variant, wanted in values.items():
                assert result.variants[variant] == wanted, (name, key, variant)
            assert result.nearest_mismatches == 0 and fingerprints[name].declared_profile[key[0]] in \
                result.nearest_profiles, (name, key)


def test_discriminating_inputs_separate_every_quantize_variant_value():
    """For every quantize variant except conversion_overflow (whose 'unpredictable' value is
    consistent with anything), each pair of its values, the other variants as in some profile,
    gives different outputs on the probes."""
    values, scales, zero_points, real = fp.stacked(fp.quantize_probes())
    from refq.registry.profiles import PROFILES

    for variant in VARIANTS:
        if variant.operation != "quantize" or variant.name == "conversion_overflow":
            continue
        for first, second in [(a.name, b.name) for a in variant.values for b in variant.values if a.name < b.name]:
            separated = False
            for profile in PROFILES:
                base = fp.profile_combo(profile.name, "quantize_linear", "per_tensor")
                combos = [{**base, variant.name: first}, {**base, variant.name: second}]
                if any(c not in fp.combinations("quantize") for c in combos):
                    continue
                (a, ua), (b, ub) = [quantize_with_outcomes(values, scales, zero_points, axis=0, dtype="int8", **c)
                                    for c in combos]
                if ((a != b) & ~ua & ~ub & real).any():
                    separated = True
                    break
            assert separated or (variant.name == "precision" and "exact" in (first, second)) or \
                (variant.name == "nan" and "unpredictable" in (first, second)), (variant.name, first, second)


def test_fingerprint_mutants_are_not_onnx():
    """The rounding and scale mutants are fingerprinted as what they are."""
    from refq.conformance import mutants

    expectations = {mutants.TiesAwayFromZero: ("rounding", ["half_away_from_zero"]),
                    mutants.ReciprocalInsteadOfDivision: ("scale_operation", ["multiply_reciprocal"]),
                    mutants.Float64Division: ("precision", ["float64", "exact"]),
                    mutants.ZeroPointBeforeRounding: ("zero_point_placement", ["before_rounding"])}
    for mutant, (variant, values) in expectations.items():
        result = fp.fingerprint_operation(mutant(), "quantize_linear", "per_tensor", "onnx")
        assert result.variants[variant] == values, mutant
        assert result.declared_deviations, mutant
    assert len(MUTANTS) >= 12


def test_fingerprint_reports_unsupported_and_errors():
    class Raising(ReferenceAdapter):
        def quantize_linear(self, *args, **kwargs):
            raise RuntimeError("boom")

        def dequantize_linear(self, *args, **kwargs):
            raise NotImplementedError("no dequantize here")

    result = fp.fingerprint(Raising())
    status = {(o.operation, o.granularity): (o.status, o.detail) for o in result.operations}
    assert status[("quantize_linear", "per_tensor")] == ("error", "RuntimeError: boom")
    assert status[("dequantize_linear", "per_axis")] == ("unsupported", "no dequantize here")
    assert status[("fake_quantize", "per_tensor")][0] == "unsupported"


def test_fingerprint_unexplained_input_is_reported():
    """NaN giving 5 fits only nan='unpredictable'; 200 giving 5 (instead of saturating) fits nothing."""

    class Odd(ReferenceAdapter):
        def quantize_linear(self, x, *args, **kwargs):
            result = super().quantize_linear(x, *args, **kwargs)
            values = np.asarray(x)
            result[np.isnan(values) | (values == 200)] = 5
            return result

    result = fp.fingerprint_operation(Odd(), "quantize_linear", "per_tensor", "onnxruntime")
    assert [u.input for u in result.unexplained] == ["200.0", "200.0"]
    assert [u.input for u in result.declared_deviations] == ["nan", "200.0", "nan", "200.0"]
    assert len(result.consistent) == 0


def test_fingerprint_cli_json(tmp_path, capsys):
    path = tmp_path / "fingerprint.json"
    assert main(["fingerprint", "--backend", "refq.conformance.mutants:ReferenceAdapter", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nearest profile        onnx, onnxruntime (0 mismatching)" in out
    data = json.loads(path.read_text())
    assert data[0]["backend"] == "refq" and data[0]["operations"][0]["variants"]["rounding"] == ["half_to_even"]
    assert {r["status"] for r in data[0]["integer"] + data[0]["elementwise"]} == {"unsupported"}
    assert "no method for: qlinear_matmul, qlinear_conv, qlinear_add" in out


def test_fingerprint_cli_probe_operations(capsys):
    """The text report shows an integer backend's requantization fingerprint and whether it meets its profile."""
    pytest.importorskip("torch")
    assert main(["fingerprint", "--backend", "torch-qnnpack"]) == 0
    out = capsys.readouterr().out
    from refq.conformance.fingerprint_integer import combinations

    # One combination of all the chapter enumerates (the count grows as variants gain values).
    assert f"qlinear_conv per-channel: 1 of {len(combinations('qlinear_conv'))} variant combinations consistent" in out
    assert re.search(r"requantize_multiplier_order +reciprocal\n", out)
    assert "declared profile               consistent" in out and "contradicted" not in out


def test_fingerprint_cli_usage_errors(capsys):
    assert main(["fingerprint"]) == 2
    assert "--backend" in capsys.readouterr().err
    assert main(["fingerprint", "--backend", "no-such-backend"]) == 2


def test_fingerprint_docs_table_generated_at_build():
    """The page's tables are `refq fingerprint --all --markdown`, run by the docs hook when the site is
    built (tests/test_docs_conformance.py checks the built page); none is pasted in."""
    text = PAGE.read_text(encoding="utf-8")
    assert "<!-- cli:markdown fingerprint --all --markdown -->" in text
    assert "| backend | version | declared profile |" not in text
