"""The cases a mutation score runs: the shipped vectors of the mutants' operations, or in-memory
cases cut from the fingerprints' discriminating probes when no vectors are installed."""

from __future__ import annotations

import numpy as np

from refq.affine.parameters import target_type
from refq.conformance.mutant_adapter import ReferenceAdapter
from refq.conformance.mutant_equivalence import chapter_equivalence_inputs

F32 = np.float32


def case_operation(case) -> str:
    """The operation of a case: a loaded :class:`Case` or a descriptor path ``.../<op>/<case>/<profile>.json``."""
    from pathlib import Path

    return case.op if hasattr(case, "op") else Path(case).parent.parent.name


def fallback_cases() -> list:
    """In-memory cases for when no vectors are installed: the fingerprint's discriminating
    inputs plus random data for int8, uint8 and int4, per tensor, per axis and blocked with
    a partial last block, under the profiles the mutants declare. Expected outputs are refq's."""
    from refq.conformance import fingerprint
    from refq.conformance.case import Case
    from refq.conformance.reference import run

    from refq.conformance.mutants import MUTANTS

    op_set = {"quantize_linear", "dequantize_linear"}
    rng = np.random.default_rng(20240604)
    calls = []
    for probe in fingerprint.quantize_probes():
        calls.append(("quantize_linear", probe.name, probe.values, probe.scale, np.int8(probe.zero_point),
                      {"dtype": probe.dtype}))
    values, scales, zero_points, _ = fingerprint.stacked(fingerprint.quantize_probes())
    calls.append(("quantize_linear", "probes per axis", values, scales, zero_points.astype(np.int8),
                  {"axis": 0, "dtype": "int8"}))
    for probe in fingerprint.dequantize_probes():
        calls.append(("dequantize_linear", probe.name, probe.values, probe.scale,
                      np.array(probe.zero_point, probe.values.dtype), {"dtype": probe.dtype}))
    shape = (3, 6, 5)
    for dtype in ("int8", "uint8", "int4"):
        target = target_type(dtype)
        for layout, scale_shape, attributes in (("per tensor", (), {}), ("per axis", (6,), {"axis": 1}),
                                                ("blocked", (3, 2, 5), {"axis": 1, "block_size": 4})):
            scale = rng.uniform(0.01, 0.2, scale_shape).astype(F32)
            zero_point = rng.integers(target.qmin, target.qmax + 1, scale_shape).astype(target.container)
            x = (rng.standard_normal(shape) * 30 * float(np.max(scale))).astype(F32)
            q = rng.integers(target.qmin, target.qmax + 1, shape).astype(target.container)
            calls.append(("quantize_linear", f"random {dtype} {layout}", x, scale, zero_point,
                          {**attributes, "dtype": dtype}))
            calls.append(("dequantize_linear", f"random {dtype} {layout}", q, scale, zero_point,
                          {**attributes, "dtype": dtype}))
    # the input forms: zero points with the top bit set, a large int32 zero point, 1-element parameters
    for dtype in ("uint2", "uint4", "uint16"):
        target = target_type(dtype, max_bits=32)
        x = (rng.standard_normal(64) * (target.qmax - target.qmin) * 0.05).astype(F32)
        zero_point = np.asarray(target.qmax).astype(target.container)
        calls.append(("quantize_linear", f"zero point qmax {dtype}", x, F32(0.05), zero_point, {"dtype": dtype}))
        q = rng.integers(target.qmin, target.qmax + 1, 64).astype(target.container)
        calls.append(("dequantize_linear", f"zero point qmax {dtype}", q, F32(0.05), zero_point, {"dtype": dtype}))
    wide = np.array([-(2**31), -(2**24) - 1, 0, 7, 2**24 + 3, 2**31 - 1, 123456789, -987654321], np.int32)
    calls.append(("dequantize_linear", "large int32 zero point", wide, F32(1 / 57.8), np.int32(2**30 + 3),
                  {"dtype": "int32"}))
    x = (rng.standard_normal(64) * 3).astype(F32)
    calls.append(("quantize_linear", "1-element parameters", x, np.array([0.05], F32), np.array([-37], np.int8),
                  {"dtype": "int8"}))
    cases = []
    for profile in sorted({mutant.profile for mutant in MUTANTS if op_set & set(mutant.operations)}
                          | {ReferenceAdapter.profile}):
        for op, name, values, scale, zero_point, attributes in calls:
            names = ("x", "scale", "zero_point") if op == "quantize_linear" else ("q", "scale", "zero_point")
            inputs = dict(zip(names, (values, np.asarray(scale, F32), np.asarray(zero_point))))
            expected, unpredictable = run(op, inputs, attributes, profile)
            cases.append(Case(id=f"mutation/{op}/{name}/{profile}", op=op, profile=profile, clauses=(),
                              description=name, level=1, attributes=attributes, inputs=inputs, outcome="valid",
                              expected=expected, unpredictable=unpredictable))
    return cases + _fallback_chapter_cases()


def _fallback_chapter_cases() -> list:
    """The integer, elementwise and observer operations' in-memory cases: the equivalence net's calls (the
    fingerprints' probes, random matmul_integer / conv_integer inputs with nonzero zero points, sums past int32),
    under the mutants' profiles."""
    from refq.conformance.case import Case
    from refq.conformance.reference import run
    from refq.conformance.mutants import MUTANTS
    from refq.errors import RefqError
    from refq.registry.operations import OPERATIONS_BY_NAME

    calls = [(op, f"probe {index}", inputs, attributes)
             for index, (op, inputs, attributes) in enumerate(chapter_equivalence_inputs())]
    cases = []
    for op, name, inputs, attributes in calls:
        named = dict(zip(OPERATIONS_BY_NAME[op].input_names, inputs))
        for profile in sorted({mutant.profile for mutant in MUTANTS if op in mutant.operations}):
            try:
                expected, unpredictable = run(op, named, attributes, profile)
            except RefqError:  # the profile refuses the input (ONNX Runtime's nonzero float zero point): an error case
                cases.append(Case(id=f"mutation/{op}/{name}/{profile}", op=op, profile=profile, clauses=(),
                                  description=name, level=1, attributes=attributes, inputs=named, outcome="error"))
                continue
            cases.append(Case(id=f"mutation/{op}/{name}/{profile}", op=op, profile=profile, clauses=(),
                              description=name, level=1, attributes=attributes, inputs=named, outcome="valid",
                              expected=expected, unpredictable=unpredictable))
    return cases


def level_cases(level: int = 1) -> list:
    """The shipped vectors up to ``level`` for the operations the mutants implement (descriptor
    paths), or :func:`fallback_cases` when none are installed."""
    from refq.conformance.case import iter_case_paths

    from refq.conformance.mutants import OPERATIONS

    paths = list(iter_case_paths(level=level, ops=set(OPERATIONS)))
    return paths if paths else fallback_cases()
