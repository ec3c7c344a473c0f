"""Every ELT golden vector's expected output recomputed by the independent oracle
(tests/oracle/elementwise.py), so no ELT golden value rests on refq's word alone.

Level 1 is read from the checked-in tree; level 2 is built afresh into a temporary directory
(its vectors are not checked in). Every element of every valid case is checked, the four
every-pair cases of level 2 in the slow run only. A new ELT
operation or attribute fails :func:`expected_by_oracle` until its oracle is written here: that
is the hook for new generators.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from refq.conformance.case import load_case, vectors_root
from refq.conformance.generate import elementwise
from refq.conformance.generate.build import build
from tests.oracle import elementwise as oracle

LEVEL1 = vectors_root() / "level1"


def exact(value) -> Fraction:
    return Fraction(float(np.asarray(value).reshape(())))


def integer(value, default: int = 0) -> int:
    return default if value is None else int(np.asarray(value).reshape(()))


def is_signed(values) -> bool:
    return np.asarray(values).dtype == np.int8


def binary(function):
    def check(inputs, attributes):
        assert not attributes
        a, b = inputs["A"], inputs["B"]
        return function(a.tolist(), exact(inputs["A_scale"]), integer(inputs["A_zero_point"]), b.tolist(),
                        exact(inputs["B_scale"]), integer(inputs.get("B_zero_point")), exact(inputs["C_scale"]),
                        integer(inputs.get("C_zero_point")), is_signed(a))
    return check


def lookup(function_of_attributes):
    def check(inputs, attributes):
        x = inputs["X"]
        entries = oracle.table(function_of_attributes(**attributes), exact(inputs["X_scale"]),
                               integer(inputs.get("X_zero_point")), exact(inputs["Y_scale"]),
                               integer(inputs.get("Y_zero_point")), is_signed(x))
        return oracle.look_up(x.tolist(), entries, is_signed(x))
    return check


def window_attributes(x, attributes: dict, names: tuple[str, ...]) -> dict:
    """The oracle's keywords: explicit pads (ELT-6.7 resolves auto_pad), unset entries left out."""
    unknown = set(attributes) - set(names) - {"auto_pad", "storage_order", "pads"}
    assert not unknown, f"no oracle for the attributes {sorted(unknown)}: extend tests/oracle/elementwise.py"
    keywords = {name: attributes[name] for name in names if attributes.get(name) is not None}
    keywords["pads"] = oracle.resolved_pads(x, attributes["kernel_shape"], attributes.get("strides"),
                                            attributes.get("pads"), attributes.get("auto_pad", "NOTSET"))
    return keywords


def max_pool(inputs, attributes):
    x = inputs["X"].tolist()
    keywords = window_attributes(x, attributes, ("kernel_shape", "strides", "dilations", "ceil_mode"))
    return oracle.max_pool(x, is_signed(inputs["X"]), **keywords)


def average_pool(inputs, attributes):
    rule = attributes.get("average_division", "float32")
    x = oracle.channels_first(inputs["X"].tolist(), bool(attributes.get("channels_last", 0)))
    keywords = window_attributes(x, {k: v for k, v in attributes.items() if k != "average_division"},
                                 ("kernel_shape", "strides", "ceil_mode", "count_include_pad", "channels_last"))
    arguments = (inputs["X"].tolist(),)
    if rule == "float32":
        return oracle.average_pool(*arguments, exact(inputs["x_scale"]), integer(inputs.get("x_zero_point")),
                                   exact(inputs["y_scale"]), integer(inputs.get("y_zero_point")),
                                   is_signed(inputs["X"]), **keywords)
    assert rule in ("rounded_integer_division", "tosa_reciprocal"), f"no oracle for average_division={rule!r}"
    keywords.pop("count_include_pad", None)
    return oracle.integer_average_pool(*arguments, integer(inputs.get("x_zero_point")),
                                       integer(inputs.get("y_zero_point")), is_signed(inputs["X"]), rule, **keywords)


def global_average_pool(inputs, attributes):
    x = inputs["X"]
    return oracle.global_average_pool(x.tolist(), exact(inputs["x_scale"]), integer(inputs.get("x_zero_point")),
                                      exact(inputs["y_scale"]), integer(inputs.get("y_zero_point")), is_signed(x),
                                      bool(attributes.get("channels_last", 0)))


def concat(inputs, attributes):
    zero = inputs["Y_zero_point"]
    triples = [(values.tolist(), exact(scale), integer(zero_point)) for values, scale, zero_point in inputs["inputs"]]
    return oracle.qlinear_concat(exact(inputs["Y_scale"]), integer(zero), triples, attributes["axis"],
                                 is_signed(zero))


#: The oracle of each ELT operation that has vectors: (inputs, attributes) -> nested list.
ORACLES = {
    "qlinear_add": binary(oracle.qlinear_add),
    "qlinear_mul": binary(oracle.qlinear_mul),
    "qlinear_sigmoid": lookup(lambda: oracle.logistic),
    "qlinear_tanh": lookup(lambda: oracle.tanh),
    "qlinear_leaky_relu": lookup(lambda alpha=0.01: oracle.leaky_relu(Fraction(float(np.float32(alpha))))),
    "qlinear_global_average_pool": global_average_pool,
    "max_pool": max_pool,
    "qlinear_average_pool": average_pool,
    "qlinear_concat": concat,
}


def expected_by_oracle(op: str, inputs: dict, attributes: dict):
    assert op in ORACLES, f"no oracle for the ELT operation {op}: add one to tests/test_elementwise_vectors.py"
    return ORACLES[op](inputs, attributes)


EVERY_PAIR = 256 * 256


def check_tree(root: Path, largest: int | None = None) -> dict[str, int]:
    """Check every valid ELT descriptor under ``root`` (those with fewer than ``largest`` output
    elements when given); the number of elements checked per operation."""
    counts: dict[str, int] = {}
    for op in elementwise.OPS:
        for path in sorted((root / op).rglob("*.json")):
            case = load_case(path)
            if case.outcome != "valid" or (largest is not None and case.expected.size >= largest):
                continue
            expected = expected_by_oracle(op, case.inputs, dict(case.attributes))
            assert case.expected.tolist() == expected, case.id
            counts[op] = counts.get(op, 0) + case.expected.size
    return counts


@pytest.fixture(scope="module")
def level2(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vectors")
    build(2, root, ops=list(elementwise.OPS))
    return root / "level2"


def test_every_elementwise_operation_has_an_oracle():
    assert set(elementwise.OPS) <= set(ORACLES), sorted(set(elementwise.OPS) - set(ORACLES))


def test_level1_expected_outputs_match_the_oracle():
    counts = check_tree(LEVEL1)
    assert set(counts) == {op for op in elementwise.OPS if (LEVEL1 / op).is_dir()}
    assert sum(counts.values()) >= 60


def test_level2_expected_outputs_match_the_oracle(level2):
    """Every level-2 case but the four 65,536-element every-pair ones (the slow run checks those)."""
    counts = check_tree(level2, largest=EVERY_PAIR)
    assert set(elementwise.OPS) <= set(counts)
    assert sum(counts.values()) > 10_000


@pytest.mark.slow
def test_every_level2_expected_output_matches_the_oracle(level2):
    assert sum(check_tree(level2).values()) > 250_000
