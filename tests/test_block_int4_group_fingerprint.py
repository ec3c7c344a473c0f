"""refq fingerprint's BLK-9 chapter (refq.conformance.fingerprint_int4): each int4 engine is fingerprinted to
exactly its profile's values; refq's own int4_group_quantize, under each profile and under each single-variant
override of one, to exactly the combination it computes; the probes part every pair of the 1728 combinations
but the 96 pairs that compute one function (``equivalent``), on outputs both predict; and the CLI prints the
chapter's line for each engine."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

from refq.block.int4_group import int4_group_quantize_outcomes
from refq.cli import main
from refq.conformance import fingerprint_int4 as fi
from refq.conformance.fingerprint import PROBE_CHAPTERS

PROBES = fi.probes_for("groups")
COMBINATIONS = fi.CHAPTER.combinations(fi.OPERATION)
ENGINES = {"compressed-tensors": ("compressed_tensors", "refq.backends.compressed_tensors:CompressedTensorsBackend"),
           "hqq": ("hqq", "refq.backends.hqq:HqqBackend"),
           "onnxruntime-mlas-int4": ("onnxruntime", "refq.backends.onnxruntime_mlas_int4:OnnxRuntimeMlasInt4Backend")}


@functools.cache
def _engine(name):
    module, spec = ENGINES[name]
    pytest.importorskip(module)
    path, attribute = spec.split(":")
    try:
        return getattr(__import__(path, fromlist=[attribute]), attribute)()
    except ImportError as error:  # an engine whose own imports fail is missing here
        pytest.skip(f"{name}: {error}")


class Reference:
    """refq's int4_group_quantize under ``profile`` and ``overrides`` as an adapter; ``symmetric=True`` where the
    combination has no symmetric groups raises NotImplementedError as HQQ's adapter does (``refusal``) or refq's
    own ValueError."""

    name = "refq-int4"

    def __init__(self, profile: str, refusal=NotImplementedError, **overrides) -> None:
        self.profile, self.refusal, self.overrides = profile, refusal, overrides

    def int4_group_quantize(self, x, *, group_size=128, symmetric=True):
        values = {**fi.PROFILES[self.profile], **self.overrides}
        if symmetric and values["int4_symmetric_scale"] == "unsupported" and self.refusal is NotImplementedError:
            raise NotImplementedError("no symmetric groups")
        return int4_group_quantize_outcomes(x, group_size=group_size, symmetric=symmetric, profile=self.profile,
                                            **self.overrides)[0]


def _truths():
    """Each profile, and each profile with one variant changed to each of its other values."""
    for profile, values in fi.PROFILES.items():
        yield pytest.param(profile, {}, id=profile)
        for variant, options in fi.DIMENSIONS.items():
            for value in options:
                if value != values[variant]:
                    yield pytest.param(profile, {variant: value}, id=f"{profile}-{variant}={value}")


def test_the_chapter_is_registered():
    assert fi.CHAPTER in PROBE_CHAPTERS
    assert len(COMBINATIONS) == 1728 and len(fi.PROFILES) == 3
    assert [probe.attributes["symmetric"] for probe in PROBES] == [False] * 7 + [True] * 7
    assert all(probe.refusal_observed == probe.attributes["symmetric"] for probe in PROBES)


@pytest.mark.parametrize("name", list(ENGINES))
def test_each_engine_is_fingerprinted_to_its_profile(name):
    """Of the 1728 combinations, each engine's outputs leave one, its profile's (HQQ's refusal of symmetric=True
    is itself evidence: int4_symmetric_scale = unsupported)."""
    (result,) = fi.fingerprint_int4(_engine(name))
    assert result.status == "ok", result.detail
    assert result.consistent == [fi.PROFILES[name]], result.consistent
    assert result.declared_consistent is True and result.unexplained == []
    assert result.profile_mismatches[name] == 0
    assert all(count > 0 for other, count in result.profile_mismatches.items() if other != name)


@pytest.mark.parametrize(("profile", "overrides"), list(_truths()))
def test_refq_is_fingerprinted_to_the_combination_it_computes(profile, overrides):
    truth = {**fi.PROFILES[profile], **overrides}
    (result,) = fi.fingerprint_int4(Reference(profile, **overrides))
    assert result.status == "ok", result.detail
    expected = fi.equivalent(truth)
    assert sorted(map(sorted, map(dict.items, result.consistent))) == sorted(map(sorted, map(dict.items, expected)))
    for variant, value in truth.items():
        assert result.variants[variant] == [v for v in fi.DIMENSIONS[variant]
                                            if v in {c[variant] for c in expected}], variant
    assert result.declared_consistent is (not overrides or len(expected) > 1 and fi.PROFILES[profile] in expected)


def test_a_value_error_for_symmetric_groups_is_the_same_evidence():
    (result,) = fi.fingerprint_int4(Reference("hqq", refusal=ValueError))
    assert result.status == "ok" and result.consistent == [fi.PROFILES["hqq"]]


def test_a_refusal_of_asymmetric_groups_or_no_method_is_unsupported():
    class Refuses:
        def int4_group_quantize(self, x, *, group_size=128, symmetric=True):
            raise NotImplementedError("no int4 groups of 32")

    assert fi.fingerprint_int4(Refuses())[0].status == "unsupported"
    result = fi.fingerprint_int4(object())[0]
    assert result.status == "unsupported" and result.detail == "no int4_group_quantize method"


def _apart() -> np.ndarray:
    """[i, j]: whether some probe parts combinations i and j whatever a backend returns where BLK-9 leaves an output
    open: one refuses it and the other does not, or an output both predict differs."""
    apart = np.zeros((len(COMBINATIONS),) * 2, bool)
    for index, probe in enumerate(PROBES):
        keys, groups, predictions = {}, [], []
        for combination in COMBINATIONS:
            predicted = fi.CHAPTER.predict(probe, "groups", index, combination)
            key = None if predicted is None else (predicted[0].tobytes(),
                                                  None if predicted[1] is None else predicted[1].tobytes())
            if key not in keys:
                keys[key] = len(predictions)
                predictions.append(predicted)
            groups.append(keys[key])
        count = len(predictions)
        between = np.zeros((count, count), bool)
        for i, first in enumerate(predictions):
            for j, second in enumerate(predictions[:i]):
                if (first is None) != (second is None):
                    between[i, j] = True
                elif first is not None:
                    known = ~(np.zeros(first[0].shape, bool) if first[1] is None else first[1])
                    known &= ~(np.zeros(second[0].shape, bool) if second[1] is None else second[1])
                    between[i, j] = bool(((first[0] != second[0]) & known).any())
        between |= between.T
        groups = np.array(groups)
        apart |= between[groups[:, None], groups[None, :]]
    return apart


def test_the_probes_part_every_pair_but_the_equivalent_ones():
    apart = _apart()
    index = {tuple(sorted(c.items())): i for i, c in enumerate(COMBINATIONS)}
    together = np.zeros_like(apart)
    for i, combination in enumerate(COMBINATIONS):
        for other in fi.equivalent(combination):
            together[i, index[tuple(sorted(other.items()))]] = True
    assert (apart == ~together).all()
    assert together.sum() - len(COMBINATIONS) == 2 * 96


def test_equivalent_combinations_compute_one_function():
    """The 96 pairs do agree: on the probes, and on random groups of every kind refq's own tests use."""
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.standard_normal((8, 32)), np.zeros((1, 32)), np.full((1, 32), 2.0 ** -149),
                        rng.uniform(0, 1e-5, (1, 32))]).astype(np.float32)
    for combination in COMBINATIONS:
        pair = fi.equivalent(combination)
        if len(pair) == 1 or pair[0]["int4_degenerate_scale"] != "epsilon":
            continue
        first, second = (int4_group_quantize_outcomes(x, group_size=32, symmetric=False, profile="hqq", **c)
                         for c in pair)
        for field in ("scales", "zero_points", "codes"):
            assert np.array_equal(first[0][field].view(np.uint8), second[0][field].view(np.uint8))


@pytest.mark.parametrize("name", list(ENGINES))
def test_the_cli_prints_the_chapter(name, capsys):
    _engine(name)
    assert main(["fingerprint", "--backend", name]) == 0
    out = capsys.readouterr().out
    assert "int4_group_quantize groups: 1 of 1728 variant combinations consistent on 14 probes" in out
    for variant, value in fi.PROFILES[name].items():
        assert re.search(rf"\n    {variant} +{value}\n", out), variant
    assert "declared profile               consistent" in out
