"""The u8s8_products fingerprint (INT-2.6): the probe separates the two values, no requantization
variant moves it, and the engines read as the value their CPU's dispatch selects."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from refq.backends import cpu
from refq.conformance import fingerprint_products as fp
from refq.integer_ops.qlinear import qlinear_matmul

PROBE = fp.probes_for(fp.GRANULARITY)[0]


def test_the_probe_separates_the_values_on_the_saturating_rows_only():
    exact, _ = fp.predict(PROBE, {"u8s8_products": "exact"})
    pairs, _ = fp.predict(PROBE, {"u8s8_products": "int16_pairs"})
    saturating = PROBE.inputs[0][:, 0] == fp.SATURATING[0]
    assert saturating.sum() == 3 and (~saturating).sum() == 3
    assert (exact[saturating] != pairs[saturating]).all()
    assert (exact[~saturating] == pairs[~saturating]).all()


@pytest.mark.parametrize("products", ["exact", "int16_pairs"])
def test_no_requantization_variant_moves_the_probe(products):
    expected, _ = fp.predict(PROBE, {"u8s8_products": products})
    for precision, placement, rounding, order in product(
            ("float32", "float64"), ("after_rounding", "before_rounding"),
            ("half_to_even", "toward_zero", "half_away_from_zero"),
            ("product_then_quotient", "float64_quotient", "reciprocal", "ratio_first")):
        assert np.array_equal(qlinear_matmul(*PROBE.inputs, precision=precision, zero_point_placement=placement,
                                             rounding=rounding, multiplier_order=order, u8s8_products=products),
                              expected)
    for rounding in ("double_round", "double_round_ties_up"):
        assert np.array_equal(qlinear_matmul(*PROBE.inputs, form="fixed_point", multiplier_order="float64_quotient",
                                             fixed_point_rounding=rounding, u8s8_products=products), expected)


@pytest.mark.parametrize("name, rule", [("onnxruntime", cpu.mlas_u8s8_products), ("torch", cpu.fbgemm_u8s8_products)])
def test_engines_read_as_their_cpu_selects(name, rule):
    from refq.backends import BUILTIN

    selected = rule()
    if selected is None:
        pytest.skip("refq does not know which kernels this CPU takes")
    try:
        backend = BUILTIN[name]()
    except ImportError:
        pytest.skip(f"{name} is not installed")
    (result,) = fp.fingerprint_products(backend)
    assert result.status == "ok" and result.variants == {"u8s8_products": [selected]}
    assert result.declared == {"u8s8_products": selected} and result.declared_consistent


def test_profiles_fixing_the_value_are_declared_with_it():
    declared = fp.declared_profiles()
    assert declared["onnx-reference"] == {"u8s8_products": "exact"}
    assert declared["pytorch-pt2e"] == {"u8s8_products": "exact"}
    assert ("onnxruntime" in declared) == (cpu.mlas_u8s8_products() is not None)
