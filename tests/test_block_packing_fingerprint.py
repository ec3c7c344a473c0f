"""refq fingerprint's BLK-10 chapter (refq.conformance.fingerprint_packing): each code packer is fingerprinted to
its profile's values and the ones equivalent to them on the probes' codes; refq's own pack_codes under every one
of the 54 combinations to exactly that combination's class (``equivalent``); and the probes part every two
classes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from refq.block.packing import pack_codes
from refq.conformance import fingerprint_packing as fp
from refq.conformance.fingerprint import PROBE_CHAPTERS
from refq.conformance.loading import BackendUnavailable, instantiate

COMBINATIONS = fp.CHAPTER.combinations(fp.OPERATION)


def _key(combination: dict) -> tuple:
    return tuple(sorted(combination.items()))


class Reference:
    """refq's pack_codes under one combination of BLK-10's values, as an adapter."""

    name = "refq-packing"
    profile = "onnx"

    def __init__(self, combination: dict) -> None:
        self.combination = combination

    def pack_codes(self, codes, *, bits=4):
        return pack_codes(codes, bits=bits, profile=self.profile, **self.combination)


def test_the_chapter_is_registered():
    assert fp.CHAPTER in PROBE_CHAPTERS
    assert len(COMBINATIONS) == 54
    assert set(fp.PROFILES) == {"onnx", "onnx-reference", "torchao-floor", "torchao-ceil", "torchao-even",
                                "torchao-rceil", "compressed-tensors", "hqq"}


@pytest.mark.parametrize("combination", COMBINATIONS, ids=lambda c: "-".join(c.values()))
def test_refq_is_fingerprinted_to_its_class(combination):
    (result,) = fp.fingerprint_packing(Reference(combination))
    assert result.status == "ok", result.detail
    assert sorted(map(_key, result.consistent)) == sorted(map(_key, fp.equivalent(combination)))


def test_the_probes_part_every_two_classes():
    """Two combinations outside each other's class disagree on some probe's units; within a class, on none."""
    outputs = {_key(c): [fp.predict(probe, c)[0] for probe in fp.probes_for("rows")] for c in COMBINATIONS}
    for first, second in itertools.combinations(COMBINATIONS, 2):
        same = all(a.shape == b.shape and np.array_equal(a, b)
                   for a, b in zip(outputs[_key(first)], outputs[_key(second)]))
        assert same == (_key(second) in map(_key, fp.equivalent(first))), (first, second)


@pytest.mark.parametrize("name", ["compressed-tensors", "hqq", "torchao-floor", "onnx-reference"])
def test_each_engine_is_fingerprinted_to_its_profile(name):
    try:
        backend = instantiate(name)
    except BackendUnavailable as error:
        pytest.skip(str(error))
    (result,) = fp.fingerprint_packing(backend)
    assert result.status == "ok", result.detail
    assert sorted(map(_key, result.consistent)) == sorted(map(_key, fp.equivalent(fp.PROFILES[name])))
    assert result.declared_consistent is True and result.unexplained == []


def test_a_backend_without_pack_codes_is_unsupported():
    class Nothing:
        name = "nothing"

    (result,) = fp.fingerprint_packing(Nothing())
    assert result.status == "unsupported"
