"""INT-5: what each profile says about the integer operations — int32 accumulator
overflow and the requantization variants (REQ-1) of the QLinear operations — and the
expected result with its *unpredictable* elements under a profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from refq.errors import invalid
from refq.integer_ops.conv import conv_integer, conv_operands, conv_overflow_mask, convolve
from refq.integer_ops.matmul import matmul_integer, matmul_overflow_mask
from refq.integer_ops.qlinear import bias_values, qlinear_conv, qlinear_matmul


@dataclass(frozen=True)
class IntegerProfile:
    """The rules of one registry profile (``refq.registry.profiles``, its ``requantize`` field) that
    the integer operations need."""

    name: str
    #: "wrap": an int32 accumulation that leaves int32 wraps (two's complement);
    #: "unpredictable": the elements where some order of the additions overflows are unpredictable.
    accumulator_overflow: str
    #: REQ-1 variant values of QLinearMatMul / QLinearConv; None when the profile leaves them open:
    #: the elements on which the variants disagree are then unpredictable.
    requantize: dict[str, str] | None
    #: REQ-1.6 "saturate", or "unpredictable" where the scaled accumulator is converted to int32 unclamped.
    conversion_overflow: str = "saturate"
    #: INT-2.6 "exact" or "int16_pairs"; "unpredictable": the elements on which the two differ are unpredictable.
    u8s8_products: str = "exact"
    #: INT-3.6: which operand of a convolution is the uint8 one, and the order of its pairs.
    u8s8_conv_pairs: str = "input_channels_last"


#: The profiles with rules for the integer operations: the ONNX text (which leaves overflow and the
#: requantization precision open), the float-multiplier backends (pytorch: FBGEMM's quantized
#: linear / conv2d, whose rules are ONNX Runtime's), the LiteRT kernels, and TOSA (MATMUL and CONV2D:
#: exact differences, an int32 sum whose overflow a REQUIRE forbids, so unpredictable; the reference
#: model wraps it and reports VALID).
INTEGER_PROFILES: tuple[str, ...] = ("onnx", "onnxruntime", "onnx-reference", "pytorch",
                                     "pytorch-qnnpack", "pytorch-pt2e", "xnnpack", "tflite", "tflite-optimized",
                                     "tosa")


def requantize_values(name: str, operation: str | None = None) -> dict[str, str]:
    """INT-4.4: the profile's requantization variant values for ``operation``: its ``requantize`` values,
    replaced by its ``requantize_per_operation`` ones where the backend's kernel for that operation
    requantizes differently (TensorFlow Lite's reference FULLY_CONNECTED and CONV_2D)."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    profile = EVERY_PROFILE_BY_NAME[name]
    return {**profile.requantize, **profile.requantize_per_operation.get(operation, {})}


def integer_profile(name, operation: str | None = None) -> IntegerProfile:
    """INT-5.1: the profile's rules for the integer operations (for ``operation``), read from the registry."""
    if not isinstance(name, str) or name not in INTEGER_PROFILES:
        raise invalid("profile", "one of " + ", ".join(INTEGER_PROFILES), name)
    values = requantize_values(name, operation)
    requantize = None
    if values.get("requantize_form") == "fixed_point":
        requantize = {"form": "fixed_point", "multiplier_order": values["requantize_multiplier_order"],
                      "multiplier_rounding": values["multiplier_rounding"], "shift_limits": values["shift_limits"],
                      "fixed_point_rounding": values["fixed_point_rounding"]}
    elif "requantize_precision" in values:
        requantize = {"precision": values["requantize_precision"],
                      "zero_point_placement": values["requantize_zero_point"],
                      "multiplier_order": values["requantize_multiplier_order"],
                      "rounding": values.get("requantize_rounding", "half_to_even")}
    return IntegerProfile(name, values.get("accumulator_overflow", "unpredictable"), requantize,
                          values.get("requantize_conversion_overflow", "saturate"), values.get("u8s8_products", "exact"),
                          values.get("u8s8_conv_pairs", "input_channels_last"))


def conversion_outcome(profile: IntegerProfile, accumulator, a_scale, b_scale, y_scale,
                       channel_axis: int) -> np.ndarray | None:
    """INT-5.2, REQ-1.6: under a profile that converts the scaled accumulator to int32 before clamping,
    the elements whose conversion overflows are unpredictable (None: none)."""
    from refq.integer_ops.qlinear import multiplier_precision
    from refq.requantize.conversion import conversion_overflow_mask
    from refq.requantize.float_multiplier import requantize_multiplier

    if profile.conversion_overflow != "unpredictable" or profile.requantize is None:
        return None
    variants = profile.requantize
    multiplier = requantize_multiplier(a_scale, b_scale, y_scale,
                                       multiplier_precision(variants["precision"], variants["multiplier_order"]),
                                       variants["multiplier_order"])
    mask = conversion_overflow_mask(accumulator, multiplier, axis=channel_axis if multiplier.size > 1 else None,
                                    precision=variants["precision"])
    return mask if mask.any() else None


def overflow_outcome(profile: IntegerProfile, mask: np.ndarray | None) -> np.ndarray | None:
    """INT-5.1: the unpredictable elements the accumulator overflow rule leaves (None: none)."""
    if profile.accumulator_overflow == "wrap" or mask is None or not mask.any():
        return None
    return mask


def product_values(profile: IntegerProfile) -> tuple[str, ...]:
    """INT-5.4: the INT-2.6 values a profile allows: its own, or both where it leaves them to the CPU."""
    return ("exact", "int16_pairs") if profile.u8s8_products == "unpredictable" else (profile.u8s8_products,)


def product_outcomes(outcome, profile: IntegerProfile) -> tuple[np.ndarray, np.ndarray | None]:
    """INT-5.4: ``outcome(u8s8_products)`` — an ``(output, unpredictable mask or None)`` pair — for each
    INT-2.6 value the profile allows; the first value's output, with the elements where any two outputs
    disagree, and each one's own unpredictable elements, marked unpredictable."""
    outcomes = [outcome(products) for products in product_values(profile)]
    output, mask = outcomes[0]
    for other, other_mask in outcomes[1:]:
        mask = combine(mask, other_mask, other != output)
    return output, (mask if mask is not None and mask.any() else None)


def requantized_outcomes(compute, profile: IntegerProfile) -> tuple[np.ndarray, np.ndarray | None]:
    """INT-5.2: ``compute(**variants)`` under the profile's requantization variants; when the
    profile leaves them open, ONNX Runtime's result with the elements on which any two
    combinations of the REQ-1 variant values disagree marked unpredictable."""
    if profile.requantize is not None:
        return compute(**profile.requantize), None
    results = [compute(precision=precision, zero_point_placement=placement)
               for precision, placement in product(("float32", "float64"), ("after_rounding", "before_rounding"))]
    differ = np.zeros(results[0].shape, dtype=bool)
    for other in results[1:]:
        differ |= other != results[0]
    return results[0], (differ if differ.any() else None)


def combine(*masks: np.ndarray | None) -> np.ndarray | None:
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    combined = present[0].copy()
    for mask in present[1:]:
        combined |= mask
    return combined


def matmul_integer_outcomes(a, b, a_zero_point=None, b_zero_point=None, *, profile="onnx"):
    """INT-5.3: ``matmul_integer`` under ``profile``: (output, unpredictable mask or None)."""
    rules = integer_profile(profile, "matmul_integer")
    output, unpredictable = product_outcomes(
        lambda products: (matmul_integer(a, b, a_zero_point, b_zero_point, u8s8_products=products), None), rules)
    return output, combine(unpredictable, overflow_outcome(rules, matmul_overflow_mask(a, b, a_zero_point,
                                                                                       b_zero_point)))


def conv_integer_outcomes(x, w, x_zero_point=None, w_zero_point=None, *, profile="onnx", **attributes):
    """INT-5.3: ``conv_integer`` under ``profile``."""
    rules = integer_profile(profile, "conv_integer")
    operands = conv_operands(x, w, x_zero_point, w_zero_point, **attributes)
    output, unpredictable = product_outcomes(
        lambda products: (conv_integer(x, w, x_zero_point, w_zero_point, **attributes, u8s8_products=products,
                                       u8s8_conv_pairs=rules.u8s8_conv_pairs), None), rules)
    return output, combine(unpredictable, overflow_outcome(rules, conv_overflow_mask(operands)))


def qlinear_matmul_outcomes(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point, *,
                            profile="onnx"):
    """INT-5.3: ``qlinear_matmul`` under ``profile``."""
    rules = integer_profile(profile, "qlinear_matmul")
    output, unpredictable = product_outcomes(lambda products: requantized_outcomes(
        lambda **variants: qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
                                          y_zero_point, **variants, u8s8_products=products), rules), rules)
    conversion = None
    if rules.conversion_overflow == "unpredictable":
        accumulator = matmul_integer(a, b, a_zero_point, b_zero_point)
        conversion = conversion_outcome(rules, accumulator, a_scale, b_scale, y_scale, accumulator.ndim - 1)
    return output, combine(unpredictable, overflow_outcome(rules, matmul_overflow_mask(a, b, a_zero_point,
                                                                                       b_zero_point)), conversion)


def qlinear_conv_outcomes(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                          profile="onnx", **attributes):
    """INT-5.3: ``qlinear_conv`` under ``profile``."""
    rules = integer_profile(profile, "qlinear_conv")
    output, unpredictable = product_outcomes(lambda products: requantized_outcomes(
        lambda **variants: qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                                        B, **attributes, **variants, u8s8_products=products,
                                        u8s8_conv_pairs=rules.u8s8_conv_pairs), rules), rules)
    operands = conv_operands(x, w, x_zero_point, w_zero_point, **attributes)
    overflow = conv_overflow_mask(operands, bias_values(B, operands.geometry.out_channels))
    conversion = None
    if rules.conversion_overflow == "unpredictable":
        conversion = conversion_outcome(rules, convolve(operands, bias_values(B, operands.geometry.out_channels)),
                                        x_scale, w_scale, y_scale, 1)
    return output, combine(unpredictable, overflow_outcome(rules, overflow), conversion)
