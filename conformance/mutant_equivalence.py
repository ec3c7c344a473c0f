"""Equivalent mutants: those no input tells apart from the correct adapter.

:func:`is_equivalent` runs a mutant and the refq backend under the mutant's profile on a wide net
of calls (:func:`equivalence_inputs`, :func:`chapter_equivalence_inputs`); a mutant that agrees on
every one has no defect any input shows, so no vector can kill it, and the score reports it apart.
"""

from __future__ import annotations

import numpy as np

from refq.affine.parameters import target_type
from refq.conformance.mutant_adapter import Mutant, correct_adapter

F32 = np.float32


def equivalence_inputs() -> list[tuple[str, tuple, dict]]:
    """A wide net of calls on which a mutant that differs from the correct adapter anywhere should
    differ: every width, the zero point at both ends, in the middle and off centre, per tensor (scalar
    and 1-element forms), per axis and blocked with a partial last block, on the float32 boundary table,
    ties and their neighbours, saturation edges and specials; dequantize on every code of the small types."""
    from refq.conformance.generate.boundaries import float32_boundaries, neighbours, unique_in_order
    from refq.conformance.generate.parameters import INEXACT_SCALE, WIDTHS, exact_scale, zero_points
    from refq.conformance.generate.values import saturation_edges, specials, ties

    calls = []
    rng = np.random.default_rng(7)
    for dtype in WIDTHS:
        chosen = target_type(dtype, max_bits=32)
        for zero_point in zero_points(chosen):
            for scale in (exact_scale(3, -7), exact_scale(1, -4)):
                tie_values = ties(chosen, zero_point, scale, limit=64)
                ends = saturation_edges(chosen, zero_point, scale)
                x = unique_in_order(np.concatenate([specials(), float32_boundaries(significands=(0, 1, (1 << 23) - 1)),
                                                    tie_values, neighbours(tie_values), ends, neighbours(ends)]))
                for form in (np.asarray(zero_point), np.asarray([zero_point])):
                    zp = form.astype(chosen.container)
                    calls.append(("quantize_linear", (x, np.asarray(scale, F32).reshape(form.shape), zp),
                                  {"dtype": dtype}))
            codes = np.arange(chosen.qmin, min(chosen.qmax, chosen.qmin + 4095) + 1)
            codes = np.concatenate([codes, np.arange(max(chosen.qmin, chosen.qmax - 4095), chosen.qmax + 1)])
            for form in (np.asarray(zero_point), np.asarray([zero_point])):
                calls.append(("dequantize_linear", (codes.astype(chosen.container), np.asarray(INEXACT_SCALE, F32)
                                                    .reshape(form.shape), form.astype(chosen.container)),
                              {"dtype": dtype}))
        points = np.array((zero_points(chosen) * 3)[:6])
        scales = rng.uniform(0.01, 0.3, 6).astype(F32)
        x = (rng.standard_normal((6, 40)) * 40 * scales[:, None]).astype(F32)
        calls.append(("quantize_linear", (x, scales, points.astype(chosen.container)), {"axis": 0, "dtype": dtype}))
        q = rng.integers(chosen.qmin, chosen.qmax + 1, (6, 40)).astype(chosen.container)
        calls.append(("dequantize_linear", (q, scales, points.astype(chosen.container)), {"axis": 0, "dtype": dtype}))
        block_scales = rng.uniform(0.01, 0.3, (3, 2)).astype(F32)
        block_points = np.array((zero_points(chosen) * 6)[:6]).reshape(3, 2).astype(chosen.container)
        x = (rng.standard_normal((3, 7)) * 40 * 0.1).astype(F32)
        calls.append(("quantize_linear", (x, block_scales, block_points), {"axis": 1, "block_size": 4, "dtype": dtype}))
        q = rng.integers(chosen.qmin, chosen.qmax + 1, (3, 7)).astype(chosen.container)
        calls.append(("dequantize_linear", (q, block_scales, block_points), {"axis": 1, "block_size": 4,
                                                                             "dtype": dtype}))
    from refq.conformance import fingerprint

    for probe in fingerprint.quantize_probes() + fingerprint.dequantize_probes():
        op = "dequantize_linear" if probe.values.dtype != F32 else "quantize_linear"
        calls.append((op, (probe.values, probe.scale, np.asarray(probe.zero_point).astype(
            target_type(probe.dtype).container)), {"dtype": probe.dtype}))
    for zero_point in (0, -(2**31), 2**31 - 1, 12345):
        big = np.array([-(2**31), -(2**31) + 1, -(2**24) - 1, 2**24 + 1, 2**24 + 3, 2**31 - 1, 2**31 - 2, 0, 7,
                        -16777217, 16777219, 123456789, -987654321], np.int32)
        for scale in (INEXACT_SCALE, np.float32(0.37), np.float32(3.0)):
            calls.append(("dequantize_linear", (big, np.asarray(scale, F32), np.int32(zero_point)), {"dtype": "int32"}))
    for dtype in ("int8", "uint8", "int16"):
        chosen = target_type(dtype, max_bits=32)
        for zero_point in zero_points(chosen):
            x = ((rng.random(4096) * 1.2 - 0.1) * (chosen.qmax - chosen.qmin) + chosen.qmin - zero_point)
            calls.append(("quantize_linear", ((x * np.float64(INEXACT_SCALE)).astype(F32), INEXACT_SCALE,
                                              np.asarray(zero_point).astype(chosen.container)), {"dtype": dtype}))
    return calls


def _same_output(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.names or b.dtype.names:  # a record: field by field
        return a.dtype.names == b.dtype.names and all(_same_output(a[name], b[name]) for name in a.dtype.names)
    if a.shape != b.shape:
        return False
    if a.dtype == np.float32 and b.dtype == np.float32:
        return np.array_equal(a.view(np.uint32), b.view(np.uint32))
    return np.array_equal(a.astype(np.int64), b.astype(np.int64))


def chapter_equivalence_inputs() -> list[tuple[str, tuple, dict]]:
    """The integer and elementwise operations' net: the fingerprint's discriminating probes (per tensor
    and per channel), built to separate every value of their dimensions."""
    from refq.conformance import fingerprint_elementwise, fingerprint_integer, fingerprint_observers
    from refq.conformance.mutant_derived import CHAPTER_VARIANTS, OBSERVER_OPERATIONS, WINDOW_OPERATION

    wanted = {op for ops, _ in CHAPTER_VARIANTS.values() for op in ops} | {WINDOW_OPERATION}
    calls = []
    for chapter in (fingerprint_integer.CHAPTER, fingerprint_elementwise.CHAPTER):
        for operation in chapter.operations:
            if operation not in wanted:
                continue
            for granularity in chapter.granularities:
                calls += [(operation, probe.inputs, probe.attributes) for probe in chapter.probes(operation, granularity)]
    calls += integer_inputs() + optional_input_inputs() + per_axis_zero_point_inputs() + cast_window_inputs()
    calls += float_zero_point_inputs()
    # the qparams probes, each range one batch, for every observer whose qparams rule is OBS-1.7
    for probe in fingerprint_observers.CHAPTER.probes("observe_minmax", "per_tensor"):
        calls += [(operation, probe.inputs, probe.attributes) for operation in OBSERVER_OPERATIONS]
    return calls


def cast_window_inputs() -> list[tuple[str, tuple, dict]]:
    """Non-saturating casts into NUM-3.20's windows and either side of them, for float8_e4m3fn and float8_e5m2;
    casts into E8M0 at the ends of its range and a subnormal power of two under every ``round_mode`` and
    ``saturate`` (NUM-3.21, NUM-3.22); NaNs cast to float4 (NUM-3.23)."""
    x = np.array([464, 470, 480, 484, 495.5, 496, -488, 57344, 61440, 63000, -65535, 65536], np.float32)
    calls = [("cast", (x,), {"to": name, "saturate": False}) for name in ("float8_e4m3fn", "float8_e5m2")]
    e8m0 = np.array([2.0**-127, 2.0**-128, 0.0, -2.0, 1.5, 1.2 * 2.0**127, np.inf], np.float32)
    calls += [("cast", (e8m0,), {"to": "float8_e8m0fnu", "saturate": saturate, "round_mode": mode})
              for saturate in (False, True) for mode in ("nearest", "up", "down")]
    calls.append(("cast", (np.array([np.nan, -np.nan, 1.0], np.float32),), {"to": "float4_e2m1fn", "saturate": False}))
    return calls


def float_zero_point_inputs() -> list[tuple[str, tuple, dict]]:
    """AFF-6.2 and AFF-6.4's zero points of 1.0 in float6 and float4 and of 0.5 in float8_e4m3fn, where the
    float target zero-point rules part by format width (``added_except_float8``, ``by_width``)."""
    from refq.numbers.floats import encode_array

    x = np.array([0.25, 1.0, -1.5, 3.0], np.float32)
    calls = []
    for name, value in (("float6_e2m3fn", 1.0), ("float4_e2m1fn", 1.0), ("float8_e4m3fn", 0.5)):
        zero_point = encode_array(np.array(value, np.float32), name, overflow="infinity").astype(np.uint8)
        calls.append(("quantize_linear_float", (x, np.float32(0.5), zero_point), {"to": name}))
        patterns = np.arange(16, dtype=np.uint8)
        calls.append(("dequantize_linear_float", (patterns, np.float32(0.5), zero_point), {"dtype": name}))
    return calls


def integer_inputs() -> list[tuple[str, tuple, dict]]:
    """matmul_integer and conv_integer with nonzero zero points of both forms; sums past int32: a
    matmul_integer whose int32 sum leaves int32 (K = 34,000 products 255 * -255), and a qlinear_matmul and
    qlinear_conv whose multiplier 2^20 scales accumulators of both signs beyond int32."""
    rng = np.random.default_rng(20240605)
    a, b = rng.integers(0, 256, (4, 40)).astype(np.uint8), rng.integers(-128, 128, (40, 3)).astype(np.int8)
    calls = [("matmul_integer", (a, b, np.uint8(200), np.array([3, -100, 127], np.int8)), {})]
    x, w = rng.integers(0, 256, (1, 2, 6, 6)).astype(np.uint8), rng.integers(-128, 128, (3, 2, 3, 3)).astype(np.int8)
    calls.append(("conv_integer", (x, w, np.uint8(77), np.int8(-5)), {"pads": [1, 1, 1, 1]}))
    count = 34000
    calls.append(("matmul_integer", (np.full((1, count), 255, np.uint8),
                                     np.tile(np.array([[0, 255]], np.uint8), (count, 1)), np.uint8(0), np.uint8(255)),
                  {}))
    a = np.array([[1, 0, 0, 0], [255, 255, 255, 255], [0, 0, 0, 0], [255, 255, 1, 0]], np.uint8)
    b = np.array([[1, -1, 127, 8], [1, -1, 127, 0], [1, -1, 127, 0], [1, -1, 127, 0]], np.int8)
    one, multiplier = np.float32(1.0), np.float32(2.0**-20)
    calls.append(("qlinear_matmul", (a, one, np.uint8(0), b, one, np.int8(0), multiplier, np.uint8(10)), {}))
    x, w = a.reshape(1, 1, 4, 4), b.T.reshape(4, 1, 2, 2)
    calls.append(("qlinear_conv", (x, one, np.uint8(0), w, one, np.int8(0), multiplier, np.uint8(10)), {}))
    return calls


def optional_input_inputs(per_operation: int = 2) -> list[tuple[str, tuple, dict]]:
    """For every record with optional inputs: its generators' first valid cases (levels 1 and 2) that give
    every optional input a value other than 0, so that ignoring any one of them shows."""
    import importlib

    from refq.registry.operations import OPERATIONS

    calls = []
    for operation in OPERATIONS:
        optional = [name for name in operation.input_names if name in operation.optional_inputs]
        if operation.reference is None or not optional:
            continue
        found = []
        for module_name in operation.generators:
            module = importlib.import_module(f"refq.conformance.generate.{module_name}")
            for level in (1, 2):
                for generator in module.GENERATORS:
                    for spec in generator(level):
                        if len(found) < per_operation and spec.op == operation.name and spec.outcome == "valid" \
                                and all(spec.inputs.get(name) is not None and np.any(spec.inputs[name] != 0)
                                        for name in optional):
                            found.append((operation.name, tuple(spec.inputs.get(name) for name in
                                                                operation.input_names), dict(spec.attributes)))
        calls += found
    return calls


def per_axis_zero_point_inputs() -> list[tuple[str, tuple, dict]]:
    """For every zero point an operation takes per axis (:data:`.mutant_inputs.PER_AXIS_ZERO_POINTS`): its
    generators' first valid case (levels 1 and 2) whose zero point holds different values."""
    import importlib

    from refq.conformance.mutant_inputs import PER_AXIS_ZERO_POINTS
    from refq.registry.operations import OPERATIONS_BY_NAME

    calls = []
    for name, zero_points in PER_AXIS_ZERO_POINTS.items():
        operation = OPERATIONS_BY_NAME[name]
        specs = [spec for module_name in operation.generators
                 for generator in importlib.import_module(f"refq.conformance.generate.{module_name}").GENERATORS
                 for level in (1, 2) for spec in generator(level) if spec.op == name and spec.outcome == "valid"]
        for zero_point in zero_points:
            spec = next(spec for spec in specs if spec.inputs.get(zero_point) is not None
                        and np.unique(spec.inputs[zero_point]).size > 1)
            calls.append((name, tuple(spec.inputs.get(input_name) for input_name in operation.input_names),
                          dict(spec.attributes)))
    return calls


def is_equivalent(mutant: type[Mutant], calls=None) -> bool:
    """Whether ``mutant`` gives the correct adapter's output (under its profile) on every call of
    :func:`equivalence_inputs` and :func:`chapter_equivalence_inputs` to its operations: such a mutant
    has no defect any input shows, and no vector can kill it. A mutant with no such call is not."""
    calls = equivalence_inputs() + chapter_equivalence_inputs() if calls is None else calls
    calls = [call for call in calls if call[0] in mutant.operations]
    if not calls:
        return False
    correct = correct_adapter(mutant.profile)
    wrong = mutant()
    for op, inputs, attributes in calls:
        outputs = []
        for adapter in (wrong, correct):
            try:
                outputs.append(getattr(adapter, op)(*inputs, **attributes))
            except Exception as error:  # noqa: BLE001 - a rejection is an output too
                outputs.append(type(error).__name__)
        if isinstance(outputs[0], str) or isinstance(outputs[1], str):
            if not (isinstance(outputs[0], str) and isinstance(outputs[1], str) and outputs[0] == outputs[1]):
                return False
        elif not _same_output(*outputs):
            return False
    return True


def equivalent_mutants(mutants=None) -> tuple[type[Mutant], ...]:
    """Of ``mutants`` (default: every mutant the score runs), those :func:`is_equivalent` finds."""
    if mutants is None:
        from refq.conformance.mutants import MUTANTS as mutants
    calls = equivalence_inputs() + chapter_equivalence_inputs()
    return tuple(mutant for mutant in mutants if is_equivalent(mutant, calls))


