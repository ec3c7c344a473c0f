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
    assert len(mutants.MUTANTS) >= 12
    survivors = [name for name, count in score.caught.items() if count == 0]
    assert survivors == []
    assert score.correct and all(failures == [] for failures in score.correct.values()), score.correct
    assert score.perfect


def test_mutation_score_matches_docs_page(score):
    text = PAGE.read_text(encoding="utf-8")
    match = re.search(r"<!-- mutation-score:start -->\n\*\*(\d+)/(\d+) mutants caught\*\*", text)
    assert match, "score line missing"
    assert (int(match.group(1)), int(match.group(2))) == (score.killed, score.total)
    for mutant in mutants.MUTANTS:
        assert f"`{mutant.__name__}`" in text
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
    assert f"{len(mutants.MUTANTS)}/{len(mutants.MUTANTS)} mutants caught" in out
    assert "correct adapter (onnx): passes" in out
    assert "SURVIVED" not in out
