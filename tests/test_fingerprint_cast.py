"""The cast fingerprint (NUM-3.20, NUM-3.22, NUM-3.23): each probe separates every value of its variant,
and the engines read as the profiles measured on them."""

from __future__ import annotations

import numpy as np
import pytest

from refq.backends import BUILTIN
from refq.backends.reference import RefqBackend
from refq.conformance import fingerprint_cast as fp
from refq.conformance import fingerprint_engine as engine


@pytest.mark.parametrize("chapter", fp.CHAPTERS, ids=lambda chapter: chapter.granularities[0])
def test_each_probe_separates_every_value_of_its_variant(chapter):
    (granularity,), (variant,) = chapter.granularities, chapter.dimensions(fp.OPERATION)
    (probe,) = chapter.probes(fp.OPERATION, granularity)
    answers = []
    for combination in chapter.combinations(fp.OPERATION):
        predicted = chapter.predict(probe, granularity, 0, combination)
        answers.append("refused" if predicted is engine.REFUSED else tuple(predicted[0].tolist()))
    assert len(set(answers)) == len(engine.registry_values(variant)), answers


#: backend -> granularity -> the value it reads as (absent: the backend cannot run that probe).
MEASURED = {
    "onnxruntime": {"float8_window": "onnxruntime_float8", "e8m0_range": "range_first"},
    "onnx-reference": {"float8_window": "nearest", "e8m0_range": "exponent_field",
                       "finite_nan": "opposite_sign_zero"},
    "ml_dtypes": {"float8_window": "nearest"},
}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_engines_read_as_their_profiles(name):
    results = {result.granularity: result for result in fp.fingerprint_cast(BUILTIN[name]())}
    for granularity, result in results.items():
        if granularity not in MEASURED[name]:
            assert result.status == "unsupported", (granularity, result.detail)
            continue
        variant = fp.PROBES[granularity][0]
        assert result.status == "ok" and result.variants == {variant: [MEASURED[name][granularity]]}, granularity
        assert result.declared_consistent, granularity


@pytest.mark.parametrize("profile", ["onnx", "onnxruntime", "onnx-reference", "pytorch"])
def test_refq_under_each_profile_reads_as_that_profile(profile):
    backend = RefqBackend(profile)
    for result in fp.fingerprint_cast(backend):
        variant = fp.PROBES[result.granularity][0]
        expected = fp.declared_profiles(variant)[profile][variant]
        assert result.status == "ok" and result.variants == {variant: [expected]}, (profile, result.granularity)


def test_the_probes_are_float32_without_saturation():
    for chapter in fp.CHAPTERS:
        (probe,) = chapter.probes(fp.OPERATION, chapter.granularities[0])
        assert probe.inputs[0].dtype == np.float32 and probe.attributes["saturate"] is False
