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
    """One mutant per alternative value of every registry variant of an operation the vectors run (all but
    GGF's and BLK's): the quantize and dequantize variants under the derived profile, every variant an integer or
    elementwise function takes, the windowed average pool's, the accumulator and conversion rules, and the
    observers' qparams variants (torch's value is each one's first). A value that is no valid combination
    with the profile's other values, or parameterises a step the profile does not take, is listed with
    the reason instead (no single-defect mutant of it exists)."""
    from refq.affine.profiles import resolve_variants
    from refq.conformance.fingerprint_elementwise import OPERATION_VARIANTS
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME
    from refq.registry.variants import VARIANTS, VARIANTS_BY_NAME

    requantize = EVERY_PROFILE_BY_NAME[mutants.DERIVED_PROFILE].requantize
    expected = set()
    for variant in VARIANTS:
        if variant.operation in mutants.DERIVED_KINDS:
            current = resolve_variants(mutants.DERIVED_PROFILE, variant.operation)[variant.name].name
        elif variant.name in mutants.CHAPTER_VARIANTS:
            operations, keyword = mutants.CHAPTER_VARIANTS[variant.name]
            current = mutants.profile_keywords(operations[0]).get(keyword, variant.values[0].name)
        elif variant.name in mutants.UNTAKEN_STEPS:
            current = requantize.get(variant.name)  # none: the step is not taken, no value has a mutant
        elif variant.operation.startswith(("gguf", "block")):
            continue
        else:
            current = requantize.get(variant.name, variant.values[0].name)
        expected |= {(variant.name, value.name) for value in variant.values if value.name != current}
    expected |= {(name, value) for name, values in OPERATION_VARIANTS["qlinear_average_pool"].items()
                 for value in values[1:]}
    made = [mutant.variant for mutant in mutants.DERIVED]
    assert len(made) == len(set(made))
    assert set(made) | set(mutants.INVALID_VARIANTS) == expected
    assert not set(made) & set(mutants.INVALID_VARIANTS)
    assert {name for name, (variant, _, _) in mutants.INVALID_VALUES.items()
            if variant in ("zero_point_placement", "nan")} == {"ZeroPointPlacementBeforeRoundingFused", "NanConverted"}
    assert len(mutants.DERIVED) == 54
    for mutant in mutants.DERIVED:
        assert getattr(mutants, mutant.__name__) is mutant  # loadable as refq.conformance.mutants:NAME
    assert {variant.name for variant in VARIANTS if not variant.operation.startswith(("gguf", "block"))} == \
        {name for name, _ in made} | {name for name, _ in mutants.INVALID_VARIANTS}


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


def test_correct_adapter_is_the_refq_backend():
    """The score's reference run is the refq built-in backend itself, not a second dispatch; a mutant of an
    operation gets the backend's method for it, the plain reference adapter shows quantize and dequantize only."""
    from refq.backends.reference import RefqBackend

    assert mutants.CORRECT_BACKEND == "refq"
    assert type(mutants.correct_adapter("pytorch")) is RefqBackend
    assert mutants.ReferenceAdapter.matmul_integer is None
    assert mutants.Accumulator16Bit.qlinear_matmul is None
    assert mutants.ZeroInRangeAsObserved.observe_minmax is not RefqBackend.observe_minmax


def test_conversion_overflow_mutant_gives_qmin_only_where_a_positive_value_leaves_int32():
    a = np.array([[1, 0, 0, 0], [255, 255, 255, 255]], np.uint8)
    b = np.array([[1, -1, 127], [1, -1, 127], [1, -1, 127], [1, -1, 127]], np.int8)
    inputs = (a, np.float32(1), np.uint8(0), b, np.float32(1), np.int8(0), np.float32(2.0**-20), np.uint8(10))
    correct = mutants.correct_adapter("onnxruntime").qlinear_matmul(*inputs)
    wrong = mutants.RequantizeConversionOverflowUnpredictable().qlinear_matmul(*inputs)
    assert correct.tolist() == [[255, 0, 255], [255, 0, 255]]
    assert wrong.tolist() == [[255, 0, 255], [255, 0, 0]]  # 4 * 255 * 127 * 2^20 > 2^31; 1020 * 2^20 is not


def test_window_mutants_answer_correctly_where_their_rule_refuses_the_input():
    """An integer average rule needs one scale: on two scales the mutant is the reference."""
    x = np.arange(64, dtype=np.uint8).reshape(1, 1, 8, 8)
    inputs, attributes = (x, np.float32(0.1), np.uint8(3), np.float32(0.2), np.uint8(5)), {"kernel_shape": [2, 2]}
    correct = mutants.correct_adapter("onnxruntime").qlinear_average_pool(*inputs, **attributes)
    for mutant in (mutants.AverageDivisionRoundedIntegerDivision, mutants.AverageDivisionTosaReciprocal):
        assert np.array_equal(mutant().qlinear_average_pool(*inputs, **attributes), correct)


def test_observer_mutants_change_the_qparams_only():
    """An observer mutant keeps refq's state (min_val, max_val) and changes the scale or zero point."""
    batches = np.array([[[1.0, 2.0]]], np.float32)  # all positive: widened to [0, 2] by torch's rule
    correct = mutants.correct_adapter("pytorch").observe_minmax(batches)
    wrong = mutants.ZeroInRangeAsObserved().observe_minmax(batches)
    assert np.array_equal(correct[["min_val", "max_val"]].tolist(), wrong[["min_val", "max_val"]].tolist())
    assert (float(correct["scale"]), int(correct["zero_point"])) != (float(wrong["scale"]), int(wrong["zero_point"]))


def test_every_optional_input_of_every_record_has_an_ignoring_mutant():
    from refq.registry.operations import OPERATIONS

    expected = {(operation.name, name) for operation in OPERATIONS if operation.reference is not None
                for name in operation.optional_inputs}
    assert {mutant.ignored_input for mutant in mutants.IGNORED_INPUTS} == expected
    x = np.array([[-128, 0, 5, 127]], np.int8)
    inputs = (x, np.float32(0.1), np.int8(7), np.float32(1 / 128), np.int8(-3))
    correct = mutants.correct_adapter("onnxruntime").qlinear_tanh(*inputs)
    assert not np.array_equal(mutants.QlinearTanhIgnoresYZeroPoint().qlinear_tanh(*inputs), correct)
    assert np.array_equal(mutants.QlinearTanhIgnoresYZeroPoint().qlinear_tanh(*inputs[:4], np.int8(0)),
                          mutants.correct_adapter("onnxruntime").qlinear_tanh(*inputs[:4], np.int8(0)))


def test_per_axis_zero_point_mutants_read_the_first_value_only():
    """A per-column b zero point read as its first value: the columns after the first change, and a
    per-tensor zero point is the reference."""
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    b = np.arange(-6, 6, dtype=np.int8).reshape(4, 3)
    per_column = np.array([1, -2, 3], np.int8)
    correct = mutants.correct_adapter("onnxruntime").matmul_integer(a, b, np.uint8(2), per_column)
    wrong = mutants.MatmulIntegerBZeroPointFirstOnly().matmul_integer(a, b, np.uint8(2), per_column)
    assert np.array_equal(wrong[:, 0], correct[:, 0]) and not np.array_equal(wrong[:, 1:], correct[:, 1:])
    assert np.array_equal(mutants.MatmulIntegerBZeroPointFirstOnly().matmul_integer(a, b, np.uint8(2), np.int8(4)),
                          mutants.correct_adapter("onnxruntime").matmul_integer(a, b, np.uint8(2), np.int8(4)))
