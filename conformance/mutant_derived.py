"""Mutants derived from the registry: one per alternative value of every variant dimension.

For each variant (:mod:`refq.registry.variants`) of an operation the vectors run, each value other
than :data:`DERIVED_PROFILE`'s is one mutant: refq's own kernels with that one value changed. A
value that is no valid combination with the profile's other values needs a second change, so no
single-defect mutant of it exists: it is listed with the reason (:data:`INVALID_VALUES`).

- quantize and dequantize variants (AFF): the refq backend with the value as a variant override;
- the integer and elementwise variants their chapter functions take by keyword (:data:`CHAPTER_VARIANTS`);
- the observers' qparams variants (OBS-1, :data:`OBSERVER_VARIANTS`): the observed range turned into
  a scale and zero point under the value;
- the windowed average pool's ``average_sum`` and ``average_division`` (:func:`derived_window_mutants`);
- the accumulator and conversion rules no chapter function takes by keyword (:data:`RULE_MUTANTS`:
  a refused int32 overflow, x86's unclamped conversion of a scaled accumulator);
- the requantization variants of a step the profile's float multiplier never takes (REQ-2's fixed
  point, :data:`UNTAKEN_STEPS`), and the accumulator values of :data:`ACCUMULATOR_VALUES_NOT_DERIVED`,
  are listed as values with no single-defect mutant.
"""

from __future__ import annotations

import numpy as np

from refq.backends.reference import RefqBackend
from refq.conformance.mutant_adapter import Mutant

#: The profile the registry-derived mutants change one value of: every quantize value is specified there
#: (NaN gives qmin), so each other value is a defect the vectors can see.
DERIVED_PROFILE = "onnxruntime"
#: The operations whose vectors the mutation score runs, by variant kind.
DERIVED_KINDS = {"quantize": "quantize_variants", "dequantize": "dequantize_variants"}


def camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.split("_"))


def _derived_type(variant, value: str, current: str, profile: str, members: dict) -> type[Mutant]:
    return type(f"{camel(variant.name)}{camel(value.name)}", (Mutant,), {
        "__doc__": f"{variant.name} = {value.name} instead of {current} ({value.meaning}).",
        "__module__": __name__, "clause": variant.clause, "profile": profile, "variant": (variant.name, value.name),
        **members})


def derived_mutants() -> tuple[tuple[type[Mutant], ...], dict[str, tuple[str, str, str]]]:
    """One mutant per (variant, other value) of the quantize and dequantize variants under
    :data:`DERIVED_PROFILE`, and the values that are no valid combination there: a single-defect
    mutant of them does not exist (name -> (variant, value, why))."""
    from refq.affine.profiles import resolve_variants
    from refq.errors import RefqError
    from refq.registry.variants import VARIANTS

    made, invalid_values = [], {}
    for variant in VARIANTS:
        if variant.operation not in DERIVED_KINDS:
            continue
        current = resolve_variants(DERIVED_PROFILE, variant.operation)[variant.name].name
        for value in variant.values:
            if value.name == current:
                continue
            try:
                resolve_variants(DERIVED_PROFILE, variant.operation, overrides={variant.name: value.name})
            except RefqError as error:
                invalid_values[f"{camel(variant.name)}{camel(value.name)}"] = (variant.name, value.name, str(error))
                continue
            made.append(_derived_type(variant, value, current, DERIVED_PROFILE,
                                      {DERIVED_KINDS[variant.operation]: {variant.name: value.name}}))
    return tuple(made), invalid_values


# --- the integer and elementwise chapter functions' keyword variants -------------------------------------

#: The variants of the integer and elementwise operations that refq's chapter functions take as a keyword
#: (registry variant -> (operations, keyword)).
CHAPTER_VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "requantize_precision": (("qlinear_matmul", "qlinear_conv"), "precision"),
    "requantize_zero_point": (("qlinear_matmul", "qlinear_conv"), "zero_point_placement"),
    "requantize_multiplier_order": (("qlinear_matmul", "qlinear_conv"), "multiplier_order"),
    "requantize_rounding": (("qlinear_matmul", "qlinear_conv"), "rounding"),
    "conv_padding": (("qlinear_conv",), "conv_padding"),
    "add_fixed_part": (("qlinear_add",), "add_fixed_part"),
    "add_operand_order": (("qlinear_add",), "add_operand_order"),
    "mul_zero_point": (("qlinear_mul",), "mul_zero_point"),
    "binary_arithmetic": (("qlinear_add", "qlinear_mul"), "binary_arithmetic"),
    "sigmoid_function": (("qlinear_sigmoid",), "sigmoid_function"),
    "average_sum": (("qlinear_global_average_pool",), "average_sum"),
    "float8_conversion": (("cast",), "float8_conversion"),
    "e8m0_conversion": (("cast",), "e8m0_conversion"),
    "finite_format_nan": (("cast",), "finite_format_nan"),
    "float_zero_point": (("quantize_linear_float",), "float_zero_point"),
    "float_dequantize_zero_point": (("dequantize_linear_float",), "float_dequantize_zero_point"),
}
#: Of those, the variants whose other values answer an input the profile's value refuses (ONNX Runtime's
#: DequantizeLinear refuses a nonzero float zero point): their mutants answer where the reference raises.
ANSWER_WHAT_IS_REFUSED = ("float_dequantize_zero_point", "finite_format_nan")
#: Variants that only say which elements the vectors mark unpredictable: no function computes them, so no
#: single-defect mutant of their other values exists (variant -> why).
MARKING_VARIANTS = {
    "e8m0_negative": "only marks negative E8M0 cast inputs unpredictable in the vectors: refq.cast has no keyword "
                     "for it, and no computed value depends on it",
}


def chapter_function(operation: str):
    """refq's function of an operation that takes the keywords of :data:`CHAPTER_VARIANTS`: its record's public
    function (the chapter function the QLinear profile wrappers call, the elementwise references, NUM-3's
    ``cast``, AFF-6's)."""
    import importlib

    from refq.registry.operations import OPERATIONS_BY_NAME

    module, name = OPERATIONS_BY_NAME[operation].public.split(":")
    return getattr(importlib.import_module(module), name)


def profile_keywords(operation: str, profile: str = None) -> dict[str, str]:
    """The keywords of :func:`chapter_function` that give ``profile``'s answer (default
    :data:`DERIVED_PROFILE`): its REQ-1 values for the integer operations where it names them (where it
    leaves them open, ONNX Runtime's are among the answers it allows); the ELT rules are one definition."""
    from refq.integer_ops.profiles import INTEGER_PROFILES, integer_profile

    profile = DERIVED_PROFILE if profile is None else profile
    if operation in ("cast", "quantize_linear_float", "dequantize_linear_float"):
        import inspect

        from refq.registry.profiles import EVERY_PROFILE_BY_NAME, cast_values

        chosen = EVERY_PROFILE_BY_NAME[profile]
        keywords = inspect.signature(chapter_function(operation)).parameters
        return {name: value for name, value in {**cast_values(chosen), **chosen.float_targets}.items()
                if name in keywords}
    if operation in ("qlinear_matmul", "qlinear_conv") and profile in INTEGER_PROFILES:
        return dict(integer_profile(profile).requantize or {})
    return {}


def _chapter_method(operation: str, keyword: str, value: str):
    correct = getattr(RefqBackend, operation)

    def method(self, *inputs, **attributes):
        from refq.errors import RefqError

        try:
            correct(self, *inputs, **attributes)  # reject what the reference rejects
        except RefqError:
            if keyword not in ANSWER_WHAT_IS_REFUSED:
                raise
        return chapter_function(operation)(*inputs, **attributes, **{**profile_keywords(operation), keyword: value})

    method.__name__ = operation
    return method


def derived_chapter_mutants() -> tuple[type[Mutant], ...]:
    """One mutant per alternative value of every :data:`CHAPTER_VARIANTS` variant: refq's function with
    that one value changed, under :data:`DERIVED_PROFILE` (the other values are its, or the function's
    defaults, which are ONNX Runtime's)."""
    from refq.registry.variants import VARIANTS_BY_NAME

    made = []
    for name, (operations, keyword) in CHAPTER_VARIANTS.items():
        variant = VARIANTS_BY_NAME[name]
        current = profile_keywords(operations[0]).get(keyword, variant.values[0].name)
        for value in variant.values:
            if value.name == current:
                continue
            methods = {operation: _chapter_method(operation, keyword, value.name) for operation in operations}
            made.append(_derived_type(variant, value, current, DERIVED_PROFILE, {"operations": operations, **methods}))
    return tuple(made)


# --- the windowed average pool's variants ---------------------------------------------------------------

#: The operation whose variants :func:`derived_window_mutants` changes: a windowed average pool takes
#: ``average_sum`` and ``average_division`` (ELT-6.8) by keyword, ONNX Runtime's values on a window that
#: is not the whole input being float32 window sums divided in float32.
WINDOW_OPERATION = "qlinear_average_pool"


def _window_method(name: str, value: str):
    from refq.errors import RefqValueError

    correct = getattr(RefqBackend, WINDOW_OPERATION)

    def method(self, *inputs, **attributes):
        output = correct(self, *inputs, **attributes)
        try:
            return chapter_function(WINDOW_OPERATION)(*inputs, **attributes, **{name: value})
        except RefqValueError:
            # the rule refuses the input (the integer rules need one scale, int8 for TOSA): a backend taking
            # it where it applies answers correctly elsewhere, so only an input it accepts shows the defect
            return output

    method.__name__ = WINDOW_OPERATION
    return method


def derived_window_mutants() -> tuple[type[Mutant], ...]:
    """One mutant per alternative value of the windowed average pool's variants
    (:data:`refq.conformance.fingerprint_elementwise.OPERATION_VARIANTS`, ONNX Runtime's value first)."""
    from refq.conformance.fingerprint_elementwise import OPERATION_VARIANTS
    from refq.registry.variants import VARIANTS_BY_NAME

    made = []
    for name, values in OPERATION_VARIANTS[WINDOW_OPERATION].items():
        variant = VARIANTS_BY_NAME[name]
        for value in values[1:]:
            made.append(_derived_type(variant, variant.value(value), values[0], DERIVED_PROFILE,
                                      {"operations": (WINDOW_OPERATION,),
                                       WINDOW_OPERATION: _window_method(name, value)}))
    return tuple(made)


# --- the observers' qparams rule (OBS-1) ------------------------------------------------------------------

#: The profile of the observer operations' vectors (torch's observers).
OBSERVER_PROFILE = "pytorch"
#: The observer operations whose scale and zero point come from their range by OBS-1.7.
OBSERVER_OPERATIONS = ("observe_minmax", "observe_moving_average")
#: The registry's observe variants and the qparams rule's value under :data:`OBSERVER_PROFILE` (torch's:
#: the first value of each).
OBSERVER_VARIANTS = ("symmetric_divisor", "scale_floor", "reduce_range", "zero_point_rounding", "zero_in_range")


def qparams_options(variants: dict[str, str], reduce_range: bool) -> dict:
    """The options of :func:`refq.observers.qparams.qparams_from_range` under observe variant values:
    ``reduce_range = ignored`` is the range not reduced, ``scale_floor = none`` a floor of 0, the others
    are its keywords."""
    from refq.observers.qparams import FLOAT32_EPS

    options = {name: value for name, value in variants.items() if name not in ("reduce_range", "scale_floor")}
    options["reduce_range"] = reduce_range and variants.get("reduce_range", "halved") == "halved"
    options["eps"] = 0.0 if variants.get("scale_floor") == "none" else FLOAT32_EPS
    return options


def _observer_method(operation: str, name: str, value: str):
    from refq.observers.qparams import qparams_from_range
    from refq.registry.operations import OPERATIONS_BY_NAME

    correct = getattr(RefqBackend, operation)
    defaults = OPERATIONS_BY_NAME[operation].attributes

    def method(self, batches, **attributes):
        output = correct(self, batches, **attributes)
        chosen = {**defaults, **attributes}
        with np.errstate(all="ignore"):
            qparams = qparams_from_range(output["min_val"], output["max_val"], dtype=chosen["dtype"],
                                         qscheme=chosen["qscheme"],
                                         **qparams_options({name: value}, bool(chosen["reduce_range"])))
        changed = output.copy()
        changed["scale"] = np.asarray(qparams.scale).astype(output["scale"].dtype).reshape(output["scale"].shape)
        changed["zero_point"] = (np.asarray(qparams.zero_point).astype(output["zero_point"].dtype)
                                 .reshape(output["zero_point"].shape))
        return changed

    method.__name__ = operation
    return method


def derived_observer_mutants() -> tuple[type[Mutant], ...]:
    """One mutant per alternative value of every observe variant: the observer's state as refq computes it,
    its scale and zero point by OBS-1.7 with that one value changed, under :data:`OBSERVER_PROFILE`."""
    from refq.registry.variants import VARIANTS_BY_NAME

    made = []
    for name in OBSERVER_VARIANTS:
        variant = VARIANTS_BY_NAME[name]
        current = variant.values[0].name
        for value in variant.values[1:]:
            methods = {operation: _observer_method(operation, name, value.name) for operation in OBSERVER_OPERATIONS}
            made.append(_derived_type(variant, value, current, OBSERVER_PROFILE,
                                      {"operations": OBSERVER_OPERATIONS, **methods}))
    return tuple(made)


# --- the integer operations' accumulator and conversion rules (REQ-3.2, REQ-1.6) ------------------------------


def _refuses_overflow(operation: str):
    """``accumulator_overflow = error``: the input refused where some order of the int32 additions leaves
    int32 (INT-2.5's mask), instead of wrapping."""
    from refq.errors import invalid
    from refq.integer_ops.matmul import matmul_overflow_mask

    correct = getattr(RefqBackend, operation)

    def method(self, a, b, a_zero_point=None, b_zero_point=None):
        output = correct(self, a, b, a_zero_point, b_zero_point)
        mask = matmul_overflow_mask(a, b, a_zero_point, b_zero_point)
        if mask is not None and mask.any():
            raise invalid("a", "operands whose int32 sums cannot overflow (accumulator_overflow = error)",
                          f"{int(mask.sum())} overflowing sums")
        return output

    method.__name__ = operation
    return method


def _converts_unclamped(operation: str):
    """``requantize_conversion_overflow = unpredictable`` as x86 computes it: a scaled accumulator beyond int32
    converts to INT32_MIN (cvtps2dq's integer indefinite), so a large positive value becomes q_min."""
    from refq.integer_ops.conv import conv_operands, convolve
    from refq.integer_ops.matmul import matmul_integer
    from refq.integer_ops.profiles import conversion_outcome, integer_profile
    from refq.integer_ops.qlinear import bias_values

    correct = getattr(RefqBackend, operation)

    def method(self, *inputs, **attributes):
        output = correct(self, *inputs, **attributes)
        if operation == "qlinear_matmul":
            a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, _ = inputs
            accumulator, axis = matmul_integer(a, b, a_zero_point, b_zero_point), output.ndim - 1
        else:
            x, a_scale, x_zero_point, w, b_scale, w_zero_point, y_scale = inputs[:7]
            operands = conv_operands(x, w, x_zero_point, w_zero_point, **attributes)
            bias = bias_values(inputs[8] if len(inputs) > 8 else None, operands.geometry.out_channels)
            accumulator, axis = convolve(operands, bias), 1
        rules = integer_profile(self.profile)
        rules = type(rules)(rules.name, rules.accumulator_overflow, rules.requantize, "unpredictable")
        overflow = conversion_outcome(rules, accumulator, a_scale, b_scale, y_scale, axis)
        if overflow is None:
            return output
        lowest = np.iinfo(output.dtype).min
        return np.where(overflow & (accumulator > 0), lowest, output).astype(output.dtype)

    method.__name__ = operation
    return method


#: The requantization rules the chapter functions take no keyword for: (variant, value) -> (operations,
#: the method of the mutant for one operation).
RULE_MUTANTS = {
    ("accumulator_overflow", "error"): (("matmul_integer",), _refuses_overflow),
    ("requantize_conversion_overflow", "unpredictable"): (("qlinear_matmul", "qlinear_conv"), _converts_unclamped),
}


def derived_rule_mutants() -> tuple[type[Mutant], ...]:
    """One mutant per :data:`RULE_MUTANTS` value, under :data:`DERIVED_PROFILE` (whose values are ``wrap``
    and ``saturate``)."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME
    from refq.registry.variants import VARIANTS_BY_NAME

    rules = EVERY_PROFILE_BY_NAME[DERIVED_PROFILE].requantize
    made = []
    for (name, value), (operations, make) in RULE_MUTANTS.items():
        variant = VARIANTS_BY_NAME[name]
        current = rules.get(name, variant.values[0].name)
        methods = {operation: make(operation) for operation in operations}
        made.append(_derived_type(variant, variant.value(value), current, DERIVED_PROFILE,
                                  {"operations": operations, **methods}))
    return tuple(made)


#: The values of the accumulator dimensions no mutant is derived for under :data:`DERIVED_PROFILE`, and why.
ACCUMULATOR_VALUES_NOT_DERIVED: dict[tuple[str, str], str] = {
    ("accumulator_overflow", "unpredictable"): "any value is allowed, the wrapped sum refq computes included: "
                                               "a mutant of it is the correct adapter",
    ("u8s8_products", "exact"): "onnxruntime leaves u8s8_products to the CPU (INT-5.4): the exact sums are one "
                                "of the answers it allows, so a mutant of them is a correct adapter",
    ("u8s8_products", "int16_pairs"): "onnxruntime leaves u8s8_products to the CPU (INT-5.4): the int16 pairs are "
                                      "one of the answers it allows, so a mutant of them is a correct adapter",
    ("u8s8_conv_pairs", "weights_channels_first"): "under onnxruntime's u8s8_products (either value allowed) no "
                                                   "pairing changes an allowed answer into a disallowed one",
    ("accumulator", "int48"): "refq's requantization takes an int32 accumulator, and matmul_integer's and "
                              "conv_integer's int32 outputs of a wider sum are the same bits modulo 2^32",
    ("accumulator", "int64"): "refq's requantization takes an int32 accumulator, and matmul_integer's and "
                              "conv_integer's int32 outputs of a wider sum are the same bits modulo 2^32",
}


# --- requantization steps the derived profile never takes --------------------------------------------------

#: REQ variants that parameterise a step :data:`DERIVED_PROFILE`'s requantization does not take, so that
#: changing one value alone changes nothing it computes, and the reason: a single-defect mutant of their
#: values does not exist (the step needs a second change first, as ``nan = converted`` needs a
#: convert-then-clamp saturation).
UNTAKEN_STEPS: dict[str, str] = {
    "requantize_form": "fixed_point needs a whole fixed-point rule (multiplier_rounding, shift_limits, "
                       "fixed_point_rounding, multiplier_bits), which ONNX Runtime's float multiplier has none of",
    "multiplier_rounding": "only with requantize_form = fixed_point (REQ-2); ONNX Runtime requantizes with a "
                           "float multiplier (REQ-1)",
    "shift_limits": "only with requantize_form = fixed_point (REQ-2)",
    "fixed_point_rounding": "only with requantize_form = fixed_point (REQ-2)",
    "multiplier_bits": "only with requantize_form = fixed_point (REQ-2)",
}


def untaken_values() -> dict[str, tuple[str, str, str]]:
    """The values of :data:`UNTAKEN_STEPS`' variants, as :func:`derived_mutants` lists its invalid ones
    (name -> (variant, value, why)); every value of a step the profile does not take (requantize_form:
    the values but its own)."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME
    from refq.registry.variants import VARIANTS_BY_NAME

    profile = EVERY_PROFILE_BY_NAME[DERIVED_PROFILE].requantize
    values = {}
    for name, why in UNTAKEN_STEPS.items():
        for value in VARIANTS_BY_NAME[name].values:
            if value.name != profile.get(name):
                values[f"{camel(name)}{camel(value.name)}"] = (name, value.name, why)
    values.update({f"{camel(name)}{camel(value)}": (name, value, why)
                   for (name, value), why in ACCUMULATOR_VALUES_NOT_DERIVED.items()})
    return values


def marking_values() -> dict[str, tuple[str, str, str]]:
    """The values of :data:`MARKING_VARIANTS` other than :data:`DERIVED_PROFILE`'s, as
    :func:`untaken_values` lists its values (name -> (variant, value, why))."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME, cast_values
    from refq.registry.variants import VARIANTS_BY_NAME

    current = cast_values(EVERY_PROFILE_BY_NAME[DERIVED_PROFILE])
    return {f"{camel(name)}{camel(value.name)}": (name, value.name, why) for name, why in MARKING_VARIANTS.items()
            for value in VARIANTS_BY_NAME[name].values if value.name != current.get(name)}


DERIVED, INVALID_VALUES = derived_mutants()
DERIVED += (derived_chapter_mutants() + derived_window_mutants() + derived_rule_mutants()
            + derived_observer_mutants())
INVALID_VALUES = {**INVALID_VALUES, **untaken_values()}
INVALID_VALUES.update(marking_values())
INVALID_VARIANTS = tuple((variant, value) for variant, value, _ in INVALID_VALUES.values())
globals().update({mutant.__name__: mutant for mutant in DERIVED})
