"""Mutants (refq.conformance.mutants): every deliberately wrong backend fails some case, the
correct adapter passes every case, and docs/conformance/mutation.md states the computed score."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from refq.cli import main
from refq.conformance import mutants
from refq.errors import RefqError

PAGE = Path(__file__).resolve().parents[1] / "docs" / "conformance" / "mutation.md"


@pytest.fixture(scope="module")
def score():
    return mutants.mutation_score(progress=False)


def test_mutation_score_every_mutant_caught(score):
    """Every mutant that some input tells apart from the correct adapter fails a level-1 case."""
    assert len(mutants.MUTANTS) >= 12
    survivors = [name for name, count in score.caught.items() if count == 0 and name not in score.equivalent]
    assert survivors == []
    assert score.correct and all(failures == [] for failures in score.correct.values()), score.correct
    assert score.perfect


def test_mutation_score_docs_page_runs_the_command(score):
    """The page shows the score, mutant by mutant, from a run when the site is built (no pasted number
    or list); a mutant the prose names must exist."""
    text = PAGE.read_text(encoding="utf-8")
    assert "<!-- cli:run mutation-score" in text
    assert not re.search(r"\d+/\d+ mutants caught", text), "a pasted score"
    # the run shows every mutant; a mutant the page names must exist (hand-written or derived)
    named = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", text)) - set(mutants.PENDING)
    assert named and all(isinstance(getattr(mutants, name, None), type) for name in named), named
    for name in mutants.PENDING:
        assert f"`{name}`" in text


def test_mutants_reject_invalid_arguments_like_the_reference():
    """Mutants are caught by wrong answers, never by rejecting or accepting different input."""
    bad_calls = [((np.ones(3, np.float32), np.float32(-1), 0), {}),
                 ((np.ones(3, np.float32), np.float32(1), 300), {}),
                 ((np.ones((2, 3), np.float32), np.ones(4, np.float32), None), {"axis": 1})]
    for mutant in (mutants.ReferenceAdapter, *mutants.MUTANTS):
        for args, kwargs in bad_calls:
            with pytest.raises(RefqError):
                mutant().quantize_linear(*args, **kwargs)


def test_mutants_equal_reference_where_defect_does_not_apply():
    """A block mutant on per-tensor input and a uint8 mutant on int8 input are the reference itself."""
    x = (np.arange(-40, 40, dtype=np.float32) * np.float32(0.37))
    reference = mutants.ReferenceAdapter()
    for mutant in (mutants.PartialBlockTakesFirstScale, mutants.BlockIndexOffByOne, mutants.UnsignedClampedAsSigned,
                   mutants.Int4Symmetric):
        assert np.array_equal(mutant().quantize_linear(x, np.float32(0.1), 3),
                              reference.quantize_linear(x, np.float32(0.1), 3)), mutant


def test_mutation_score_cli(score, capsys, monkeypatch):
    """The command prints the table and the score (the score computed once, by the fixture)."""
    monkeypatch.setattr(mutants, "mutation_score", lambda level, timeout: score)
    assert main(["mutation-score"]) == 0
    out = capsys.readouterr().out
    assert f"{score.total}/{score.total} mutants caught" in out
    assert "correct adapter (onnx): passes" in out
    assert "SURVIVED" not in out


def test_derived_mutants_cover_every_other_variant_value():
    """One mutant per alternative value of every quantize and dequantize variant under the derived
    profile, and of every variant an integer or elementwise function takes; a value that is no valid
    combination with the profile's other values (it needs a second change, so no single-defect mutant
    exists) is listed with the reason."""
    from refq.affine.profiles import resolve_variants
    from refq.registry.variants import VARIANTS, VARIANTS_BY_NAME

    expected = set()
    for variant in VARIANTS:
        if variant.operation not in mutants.DERIVED_KINDS:
            continue
        current = resolve_variants(mutants.DERIVED_PROFILE, variant.operation)[variant.name].name
        expected |= {(variant.name, value.name) for value in variant.values if value.name != current}
    for name, (operations, keyword) in mutants.CHAPTER_VARIANTS.items():
        current = mutants.profile_keywords(operations[0]).get(keyword, VARIANTS_BY_NAME[name].values[0].name)
        expected |= {(name, value.name) for value in VARIANTS_BY_NAME[name].values if value.name != current}
    made = [mutant.variant for mutant in mutants.DERIVED]
    assert len(made) == len(set(made))
    assert set(made) | set(mutants.INVALID_VARIANTS) == expected
    assert set(mutants.INVALID_VALUES) == {"ZeroPointPlacementBeforeRoundingFused", "NanConverted"}
    assert len(mutants.DERIVED) == 33
    for mutant in mutants.DERIVED:
        assert getattr(mutants, mutant.__name__) is mutant  # loadable as refq.conformance.mutants:NAME


def test_equivalent_mutants_are_identical_on_every_input_tried():
    """Exactly three derived mutants have no visible defect under the onnxruntime profile:
    conversion_overflow only matters with a convert-then-clamp saturation, refq's 'unpredictable' NaN
    computes qmin, and with the difference already converted to float32, (q - z) * s is one exactly
    rounded product in float32 or float64 alike (24 x 24 significant bits fit in float64)."""
    assert {m.__name__ for m in mutants.equivalent_mutants()} == {
        "ConversionOverflowUnpredictable", "NanUnpredictable", "DequantizePrecisionFloat64"}
    assert set(mutants.equivalent_mutants()) == set(mutants.EQUIVALENT)
    assert not mutants.is_equivalent(mutants.PrecisionFloat64)


def test_input_form_mutants_misread_only_their_form():
    """A 1-element zero point, an unsigned zero point with its top bit set, several per-axis zero points:
    each form mutant differs from the reference there and only there."""
    x = np.arange(-40, 40, dtype=np.float32) * np.float32(0.37)
    reference = mutants.ReferenceAdapter()
    one, scale = np.array([5], np.int8), np.array([0.1], np.float32)
    assert not np.array_equal(mutants.OneElementZeroPointIgnored().quantize_linear(x, scale, one),
                              reference.quantize_linear(x, scale, one))
    assert np.array_equal(mutants.OneElementZeroPointIgnored().quantize_linear(x, np.float32(0.1), np.int8(5)),
                          reference.quantize_linear(x, np.float32(0.1), np.int8(5)))
    signed = mutants.UnsignedZeroPointAsSignedUint16()
    q = np.array([0, 1, 65535], np.uint16)
    assert np.array_equal(signed.dequantize_linear(q, np.float32(1), np.uint16(40000), dtype="uint16"),
                          np.array([25536, 25537, 91071], np.float32))
    assert np.array_equal(signed.dequantize_linear(q, np.float32(1), np.uint16(300), dtype="uint16"),
                          reference.dequantize_linear(q, np.float32(1), np.uint16(300), dtype="uint16"))


def test_in_memory_cases_catch_every_mutant():
    """Without installed vectors the command judges on in-memory cases; they catch every mutant too and the
    correct adapter passes them."""
    score = mutants.mutation_score(cases=mutants.fallback_cases(), progress=False)
    assert score.source == "in-memory cases"
    assert score.survivors == [] and score.perfect, score.survivors
