"""The operation records (refq/registry/operations.py) are the single source: every reference,
type, generator, variant kind and adapter signature derived from them agrees with them."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from refq.backends import BUILTIN, RefqBackend
from refq.backends.reference import adapter_signature, reference_callable
from refq.registry.formats import FLOAT_FORMATS
from refq.registry.operations import DEFAULT_PROFILE, OPERATIONS, OPERATIONS_BY_NAME
from refq.registry.profiles import EVERY_PROFILE_BY_NAME
from refq.registry.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
WITH_REFERENCE = [operation for operation in OPERATIONS if operation.reference is not None]


def test_the_records_import_nothing_above_the_registry() -> None:
    """The records name their callables and generators, never import them: operations.py imports only
    registry data (the whole layer order is tests/test_layers.py's), and no reference lives in conformance."""
    tree = ast.parse((ROOT / "refq" / "registry" / "operations.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            assert not name.startswith("refq") or name in ("refq.registry.formats",), name
    for operation in WITH_REFERENCE:
        assert not operation.reference.startswith("refq.conformance"), operation.name


@pytest.mark.parametrize("operation", WITH_REFERENCE, ids=lambda operation: operation.name)
def test_reference_matches_its_record(operation) -> None:
    """The reference takes the inputs in ONNX order and the attributes with the record's defaults,
    ``profile`` exactly when the record says so."""
    parameters = inspect.signature(reference_callable(operation.name)).parameters
    positional = [p.name for p in parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional[:len(operation.input_names)] == list(operation.input_names)
    assert ("profile" in parameters) == operation.reference_profile
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for name, default in operation.attributes.items():
        if name in parameters and parameters[name].default is not inspect.Parameter.empty:
            assert parameters[name].default == default, (operation.name, name)
        else:
            assert name in parameters or takes_any, (operation.name, name)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_input_has_a_type(operation) -> None:
    names = set(operation.input_names) | {element.rstrip("?") for elements in operation.sequences.values()
                                          for element in elements}
    typed = names - set(operation.sequences)
    assert set(operation.input_types) == typed
    for kind in operation.input_types.values():
        if kind.startswith("like:"):
            assert kind[len("like:"):] in names
        elif kind != "target" and "|" not in kind:
            assert kind in ("float32", "int32", "uint8", "int8")
    assert set(operation.values) <= set(operation.attributes)
    for name, values in operation.onnx_values.items():
        assert set(values) <= set(operation.values[name])
        assert operation.attributes[name] in values
    kinds = {variant.operation for variant in VARIANTS}
    assert set(operation.variants) <= kinds
    if operation.reference is not None:
        by_name = {variant.name: variant.operation for variant in VARIANTS}
        taken = set(inspect.signature(reference_callable(operation.name)).parameters) - set(operation.attributes)
        assert {by_name[name] for name in taken if name in by_name} <= set(operation.variants), operation.name


def test_cast_targets_come_from_the_formats() -> None:
    # The element formats (signed, with a zero), then E8M0 with ONNX's round_mode (NUM-3.21); UE4M3 is
    # cast by the block-scaling chapter's rules.
    narrower = tuple(fmt.name for fmt in FLOAT_FORMATS if fmt.total_bits < 32 and fmt.signed and fmt.has_zero)
    assert OPERATIONS_BY_NAME["cast"].values["to"] == (*narrower, "float8_e8m0fnu")
    from refq.conformance import fuzz
    from refq.conformance.generate import cast

    assert fuzz.CAST_TARGETS == OPERATIONS_BY_NAME["cast"].values["to"]
    assert set(cast.TARGETS) < set(OPERATIONS_BY_NAME["cast"].onnx_values["to"])
    assert fuzz.INPUT_NAMES["dequantize_linear"] == ("q", "scale", "zero_point")


def test_generators_write_only_the_operations_naming_them() -> None:
    from refq.conformance.generate import build

    for module in build.GENERATOR_MODULES:
        short = module.__name__.rsplit(".", 1)[-1]
        ops = {spec.op for generator in module.GENERATORS for spec in generator(1)}
        assert ops, short
        for op in ops:
            assert short in OPERATIONS_BY_NAME[op].generators, (short, op)
    assert set(build.OPERATIONS_WITH_VECTORS) == {o.name for o in OPERATIONS if o.generators}


def test_refq_backend_is_the_records() -> None:
    assert {name for name in OPERATIONS_BY_NAME if callable(getattr(RefqBackend, name, None))} == \
        {operation.name for operation in WITH_REFERENCE}
    assert RefqBackend.profile == DEFAULT_PROFILE in EVERY_PROFILE_BY_NAME
    for operation in WITH_REFERENCE:
        assert inspect.signature(getattr(RefqBackend, operation.name)) == adapter_signature(operation)


def test_builtin_adapter_methods_have_the_record_signature() -> None:
    """Inputs positionally in ONNX order, attributes keyword-only with the record's defaults (an adapter
    may require an attribute the vectors always give)."""
    for backend, cls in BUILTIN.items():
        for operation in OPERATIONS:
            method = getattr(cls, operation.name, None)
            if method is None:
                continue
            parameters = list(inspect.signature(method).parameters.values())[1:]
            positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
            assert positional == list(operation.input_names), (backend, operation.name)
            for p in parameters:
                if p.kind is p.KEYWORD_ONLY:
                    assert p.name in operation.attributes, (backend, operation.name, p.name)
                    assert p.default in (inspect.Parameter.empty, operation.attributes[p.name]), \
                        (backend, operation.name, p.name)


def test_refq_backend_variant_overrides_follow_the_record_kinds() -> None:
    """A variant replaces the profile's value in the operations whose record lists its kind, and only there."""
    import numpy as np

    from refq.affine import dequantize, quantize

    class Overridden(RefqBackend):
        variants = {"rounding": "half_away_from_zero", "dequantize_formula": "multiply_then_subtract"}

    x, q = np.array([0.5, 1.5, 2.5, -2.5], np.float32), np.array([-3, 1, 2, 127], np.int8)
    scale, zero_point = np.float32(0.1), np.array(1, np.int8)
    assert Overridden().quantize_linear(x, np.float32(1), zero_point).tolist() == \
        quantize(x, 1, 1, rounding="half_away_from_zero").tolist() == [2, 3, 4, -2]
    expected = dequantize(q, scale, zero_point, dequantize_formula="multiply_then_subtract")
    assert Overridden().dequantize_linear(q, scale, zero_point).view(np.uint32).tolist() == \
        expected.view(np.uint32).tolist()
    assert Overridden().cast(x).tolist() == RefqBackend().cast(x).tolist()

    class Float64Sigmoid(RefqBackend):
        variants = {"sigmoid_function": "float64_logistic"}

    from refq.elementwise.lookup import qlinear_sigmoid

    codes = np.arange(256, dtype=np.uint8)
    arguments = (codes, np.float32(0.023874147), np.array(128, np.uint8), np.float32(1 / 256), np.array(0, np.uint8))
    float64 = qlinear_sigmoid(*arguments, sigmoid_function="float64_logistic")
    assert (float64 != qlinear_sigmoid(*arguments)).any()  # the inputs separate the two functions
    assert Float64Sigmoid().qlinear_sigmoid(*arguments).tolist() == float64.tolist()
