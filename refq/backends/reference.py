"""refq itself as a backend, derived from the operation records (:mod:`refq.registry.operations`).

:func:`run` is refq's answer for any operation: the reference callable its record names,
called with the inputs in ONNX order and the attributes (defaults filled in from the
record) under a profile. It returns ``(output, unpredictable)``: the expected array and
a boolean mask of elements the profile leaves *unpredictable* (or None). Invalid
arguments raise a ``RefqError``: those are the cases a conforming backend must reject.

The functions here are the references that compose chapter functions (fake quantization,
the cast's NaN rule, the observers' records); an operation whose chapter function already
has the reference's form names that function directly. :class:`RefqBackend` is the
``refq`` built-in backend: one method per operation record.
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache

import numpy as np

from refq.backends import records
from refq.errors import invalid, wrong_type
from refq.registry.operations import DEFAULT_PROFILE, OPERATIONS, OPERATIONS_BY_NAME


def fake_quantize(x, scale, zero_point, *, axis=None, dtype="int8", profile="pytorch-fake-quant"):
    """Quantize then dequantize under one profile: the forward pass of fake quantization."""
    from refq.affine import dequantize, quantize_with_outcomes

    q, unpredictable = quantize_with_outcomes(x, scale, zero_point, dtype=dtype, axis=axis, profile=profile)
    return dequantize(q, scale, zero_point, dtype=dtype, axis=axis, profile=profile), unpredictable


def cast(x, *, to="float8_e4m3fn", saturate=False, round_mode="nearest", profile="onnx", **variants):
    """Cast float32 ``x`` to the bit patterns of ``to`` (ONNX Cast with its saturate and round_mode
    attributes), under the profile's ``cast`` variants (NUM-3.20 to NUM-3.23; a profile naming none
    follows NUM-3), those given in ``variants`` replacing them.

    The ONNX text says a NaN casts to NaN but not to which of the target's NaN patterns
    (sign, payload), and backends differ: NaN inputs are *unpredictable* wherever the target has a
    NaN. A negative value or -0 cast into E8M0 is unpredictable where ``e8m0_negative`` says so.
    """
    from refq.numbers.floats.cast import cast as cast_patterns
    from refq.registry import float_format
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME, cast_values

    chosen = EVERY_PROFILE_BY_NAME.get(profile)
    if chosen is None:
        raise invalid("profile", "one of " + ", ".join(EVERY_PROFILE_BY_NAME), profile)
    values_of = {**cast_values(chosen), **variants}
    negative_rule = values_of.pop("e8m0_negative")
    values = np.asarray(x, dtype=np.float32)
    patterns = cast_patterns(values, to, saturate=saturate, round_mode=round_mode, **values_of)
    unpredictable = np.isnan(values) & float_format(to, "to").has_nan
    if negative_rule == "unpredictable" and float_format(to, "to").name == "float8_e8m0fnu":
        unpredictable |= np.signbit(values) & ~np.isnan(values)
    return patterns, (unpredictable if unpredictable.any() else None)


def _float_target_values(profile: str) -> dict[str, str]:
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME, cast_values

    chosen = EVERY_PROFILE_BY_NAME.get(profile)
    if chosen is None or not chosen.float_targets:
        names = [name for name, candidate in EVERY_PROFILE_BY_NAME.items() if candidate.float_targets]
        raise invalid("profile", "one of " + ", ".join(names), profile)
    return {**cast_values(chosen), **chosen.float_targets}


def quantize_linear_float(x, scale, zero_point=None, *, to="float8_e4m3fn", axis=None, block_size=None, saturate=True,
                          scale_type="float32", profile="onnx", **variants):
    """ONNX QuantizeLinear to a float format (AFF-6.2) under a profile: (patterns, NaN inputs or None)."""
    from refq.affine.float_targets import quantize_to_float_with_outcomes

    values = {**_float_target_values(profile), **variants}
    return quantize_to_float_with_outcomes(x, scale, zero_point, to=to, axis=axis, block_size=block_size,
                                           saturate=saturate, scale_type=scale_type,
                                           float_zero_point=values["float_zero_point"],
                                           float8_conversion=values["float8_conversion"])


def dequantize_linear_float(q, scale, zero_point=None, *, dtype="float8_e4m3fn", axis=None, block_size=None,
                            scale_type="float32", profile="onnx", **variants):
    """ONNX DequantizeLinear from a float format (AFF-6.4) under a profile: (float32, NaN patterns or None)."""
    from refq.affine.float_targets import dequantize_from_float_with_outcomes

    values = {**_float_target_values(profile), **variants}
    return dequantize_from_float_with_outcomes(q, scale, zero_point, dtype=dtype, axis=axis, block_size=block_size,
                                               scale_type=scale_type,
                                               float_dequantize_zero_point=values["float_dequantize_zero_point"])


# --- observers and dynamic quantization (chapter OBS): outputs are records -----------------------------------


def dynamic_quantize_linear(x, *, profile="onnxruntime"):
    """ONNX DynamicQuantizeLinear (OBS-5.5): the record ``(y, y_scale, y_zero_point)``, under a profile of
    ``refq.observers.dynamic.DYNAMIC_PROFILES``. Where a profile leaves the parameters open (NaN under
    ``onnxruntime``), every field is unpredictable."""
    from refq.observers.operations import dynamic_quantize

    result = dynamic_quantize(x, profile=profile)
    output = records.record(y=result["y"], y_scale=np.float32(result["scale"]),
                            y_zero_point=np.uint8(result["zero_point"]))
    parameters = result["parameters_unpredictable"]
    return output, records.mask_like(output, y=result["unpredictable"], y_scale=parameters, y_zero_point=parameters)


def _observed_batches(batches) -> list[np.ndarray]:
    """The batches of an observer operation: one array whose first axis counts equal-size batches."""
    if not isinstance(batches, np.ndarray) or batches.ndim < 1:
        raise wrong_type("batches", "an array of shape (batches, ...)", batches)
    return list(batches)


def _zero_sign_open(batches: list[np.ndarray], ch_axis, bounds) -> np.ndarray:
    """Where a bound is a zero whose sign is not fixed (OBS-2.2): the bound is 0 and the data of its
    tensor (or channel) holds a $-0$, so a vectorised min/max may return either zero."""
    bounds = np.asarray(bounds, dtype=np.float32)
    if ch_axis is None:
        negative_zero = any(bool(np.any((batch == 0) & np.signbit(batch))) for batch in batches)
    else:
        negative_zero = np.zeros(bounds.shape, bool)
        for batch in batches:
            if batch.size == 0 or batch.ndim < 2:
                continue
            rows = np.moveaxis(np.asarray(batch, np.float32), ch_axis, 0).reshape(batch.shape[ch_axis], -1)
            if rows.shape[0] == bounds.size:
                negative_zero |= np.any((rows == 0) & np.signbit(rows), axis=1)
    return (bounds == 0) & negative_zero


def _observer_record(result: dict, batches: list[np.ndarray], ch_axis, extra: dict | None = None):
    """The record ``(min_val, max_val, scale, zero_point)`` of an observer's result, and its mask.

    Unpredictable: a zero bound whose sign is open (OBS-2.2), a zero point OBS-1.4 leaves open,
    and every NaN of the state and parameters. The spec says *that* they are NaN, not which NaN:
    torch's vectorised ``aminmax`` gives the pattern 0xffffffff, its scalar code and numpy
    0x7fc00000, and later arithmetic passes either on."""
    zero_point = result["zero_point"]
    zero_point = np.asarray(zero_point, np.float32 if np.asarray(zero_point).dtype.kind == "f" else np.int64)
    output = records.record(**(extra or {}), min_val=np.asarray(result["min_val"], np.float32),
                            max_val=np.asarray(result["max_val"], np.float32),
                            scale=np.asarray(result["scale"], np.float32), zero_point=zero_point)
    return output, records.mask_like(
        output,
        min_val=_zero_sign_open(batches, ch_axis, result["min_val"]) | np.isnan(output["min_val"]),
        max_val=_zero_sign_open(batches, ch_axis, result["max_val"]) | np.isnan(output["max_val"]),
        scale=np.isnan(output["scale"]),
        zero_point=np.asarray(result["unpredictable"]) | np.isnan(output["zero_point"].astype(np.float64)))


def observe_minmax(batches, *, dtype="uint8", qscheme="affine", reduce_range=False, ch_axis=None,
                   profile="pytorch"):
    """MinMaxObserver (``ch_axis=None``) or PerChannelMinMaxObserver (OBS-2.1 to OBS-2.5) fed each
    ``batches[i]`` in turn: the record ``(min_val, max_val, scale, zero_point)``."""
    from refq.observers import operations as observers

    observed = _observed_batches(batches)
    result = observers.observe_minmax(observed, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                                      ch_axis=ch_axis)
    return _observer_record(result, observed, ch_axis)


def observe_moving_average(batches, *, averaging_constant=0.01, dtype="uint8", qscheme="affine",
                           reduce_range=False, ch_axis=None, profile="pytorch"):
    """MovingAverage[PerChannel]MinMaxObserver (OBS-2.6): the record ``(min_val, max_val, scale, zero_point)``."""
    from refq.observers import operations as observers

    observed = _observed_batches(batches)
    result = observers.observe_moving_average(observed, averaging_constant=averaging_constant, dtype=dtype,
                                              qscheme=qscheme, reduce_range=reduce_range, ch_axis=ch_axis)
    return _observer_record(result, observed, ch_axis)


def observe_histogram(batches, *, bins=2048, dtype="uint8", qscheme="affine", reduce_range=False,
                      profile="pytorch"):
    """HistogramObserver (OBS-3): the record ``(histogram, min_val, max_val, scale, zero_point)``.
    When OBS-3.4/OBS-3.9 call the result unpredictable (counts past $2^{24}$, more than 32768 bins),
    every field is."""
    from refq.observers import operations as observers

    observed = _observed_batches(batches)
    result = observers.observe_histogram(observed, bins=bins, dtype=dtype, qscheme=qscheme,
                                         reduce_range=reduce_range)
    output, mask = _observer_record({**result, "unpredictable": False}, observed, None,
                                    {"histogram": np.asarray(result["histogram"], np.float32)})
    if result["unpredictable"]:
        mask = records.mask_like(output, **{name: True for name in output.dtype.names})
    return output, mask



def _calibration_record(result: dict, batches: list[np.ndarray]):
    """The record ``(lowest, highest, hist, hist_edges)`` of an ONNX Runtime calibrator, and its mask.

    A bound that is a zero clipped from the observed extremes (numpy's ``nanmin``/``nanmax``) has an
    open sign when the data holds a $-0$ (OBS-2.2): such a bound is unpredictable."""
    output = records.record(lowest=np.float32(result["lowest"]), highest=np.float32(result["highest"]),
                            hist=np.asarray(result["hist"], np.int64),
                            hist_edges=np.asarray(result["hist_edges"], np.float32))
    return output, records.mask_like(output, lowest=_zero_sign_open(batches, None, output["lowest"]),
                                     highest=_zero_sign_open(batches, None, output["highest"]))


def calibrate_percentile(batches, *, num_bins=2048, percentile=99.999, symmetric=False, profile="onnxruntime"):
    """ONNX Runtime's percentile calibrator (OBS-4.3 to OBS-4.5) fed each ``batches[i]`` in turn:
    the record ``(lowest, highest, hist, hist_edges)``."""
    from refq.observers import operations as observers

    observed = _observed_batches(batches)
    return _calibration_record(observers.calibrate_percentile(observed, num_bins=num_bins, percentile=percentile,
                                                              symmetric=symmetric), observed)


def calibrate_entropy(batches, *, num_bins=128, num_quantized_bins=128, profile="onnxruntime"):
    """ONNX Runtime's entropy calibrator (OBS-4.3, OBS-4.6): the record ``(lowest, highest, hist, hist_edges)``."""
    from refq.observers import operations as observers

    observed = _observed_batches(batches)
    return _calibration_record(observers.calibrate_entropy(observed, num_bins=num_bins,
                                                           num_quantized_bins=num_quantized_bins), observed)


# --- the dispatch -------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def reference_callable(op: str):
    """The function operation ``op``'s record names as its reference."""
    module_name, _, attribute = OPERATIONS_BY_NAME[op].reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def run(op: str, inputs: dict, attributes: dict, profile: str, variants: dict | None = None):
    """Run operation ``op`` with ``inputs`` (ONNX order) and ``attributes`` under ``profile``;
    ``variants`` (variant name -> value) replace single variants of the profile, for an operation
    whose reference takes them."""
    operation = OPERATIONS_BY_NAME.get(op)
    if operation is None or operation.reference is None:
        known = sorted(name for name, o in OPERATIONS_BY_NAME.items() if o.reference)
        raise invalid("op", "an operation with a reference implementation: " + ", ".join(known), op)
    keywords = {**operation.attributes, **attributes}
    if operation.reference_profile:
        keywords["profile"] = profile
    if variants:
        keywords.update(variants)
    result = reference_callable(op)(*inputs.values(), **keywords)
    return result if operation.reference_outcomes else (result, None)


def _outcomes_function(op: str):
    """``op(*inputs, profile=..., **attributes) -> (output, unpredictable)``: :func:`run` with the
    adapter signature, for an operation whose reference is a chapter function."""

    def outcomes(*inputs, profile: str = DEFAULT_PROFILE, **attributes):
        names = OPERATIONS_BY_NAME[op].input_names
        padded = list(inputs) + [None] * (len(names) - len(inputs))
        return run(op, dict(zip(names, padded)), attributes, profile)

    outcomes.__name__ = outcomes.__qualname__ = op
    outcomes.__doc__ = f"refq's answer ``(output, unpredictable)`` for ``{OPERATIONS_BY_NAME[op].signature}``."
    return outcomes


for _name, _operation in OPERATIONS_BY_NAME.items():
    if _operation.reference is not None and _name not in globals():
        globals()[_name] = _outcomes_function(_name)


# --- the refq built-in backend ------------------------------------------------------------------------------


class RefqBackend:
    """refq itself, for every operation that has a reference, under ``profile``.

    It claims the default profile (``onnx``); since refq computes every profile, the harness
    sets ``profile`` to the one asked for with ``--profile`` (``configurable_profile``).
    """

    name = "refq"
    profile = DEFAULT_PROFILE
    #: The harness may set ``profile`` to any profile name before calling.
    configurable_profile = True
    #: Variant values that replace the profile's, each in the operations whose record lists its kind
    #: and whose reference takes variant overrides (none: refq exactly as the profile says).
    variants: dict[str, str] = {}

    def __init__(self, profile: str | None = None) -> None:
        import refq

        self.version = refq.__version__
        if profile is not None:  # else the class's: a subclass may declare another profile
            self.profile = profile


def adapter_signature(operation) -> inspect.Signature:
    """The adapter method signature an operation record implies: ``self``, the inputs positionally in
    ONNX order (the trailing optional ones defaulting to None) and the attributes keyword-only with
    their defaults."""
    names, optional = operation.input_names, operation.optional_inputs
    trailing = len(names)
    while trailing and names[trailing - 1] in optional:
        trailing -= 1
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                     default=None if position >= trailing else inspect.Parameter.empty)
                   for position, name in enumerate(names)]
    parameters += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
                   for name, value in operation.attributes.items()]
    return inspect.Signature(parameters)


def _overrides(operation, variants: dict) -> dict:
    """The ``variants`` that apply to ``operation``: those its reference takes by name, and, where it
    passes keywords on, those of a kind its record lists."""
    if not variants:
        return {}
    from refq.registry.variants import VARIANTS_BY_NAME

    parameters = inspect.signature(reference_callable(operation.name)).parameters
    passes_on = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values())
    return {name: value for name, value in variants.items()
            if name in parameters or passes_on and VARIANTS_BY_NAME[name].operation in operation.variants}


def _operation_method(name: str):
    """The adapter method for operation ``name``: inputs positionally in ONNX order, attributes
    by keyword, answered by :func:`run` under the adapter's profile."""
    operation = OPERATIONS_BY_NAME[name]
    input_names = operation.input_names

    def method(self, *inputs, **attributes):
        if len(inputs) > len(input_names):
            raise TypeError(f"{name}() takes at most {len(input_names)} inputs, got {len(inputs)}")
        padded = list(inputs) + [None] * (len(input_names) - len(inputs))
        return run(name, dict(zip(input_names, padded)), attributes, self.profile, _overrides(operation,
                                                                                          self.variants))[0]

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"refq's answer for ``{operation.signature}``."
    method.__signature__ = adapter_signature(operation)
    return method


def _add_operations(cls):
    for operation in OPERATIONS:
        if operation.reference is not None:
            setattr(cls, operation.name, _operation_method(operation.name))
    return cls


_add_operations(RefqBackend)
