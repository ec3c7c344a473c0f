"""INT-4: quantized matmul and convolution with requantized output (ONNX ``QLinearMatMul``,
``QLinearConv``): the int32 result of INT-2 / INT-3 requantized by REQ-1."""

from __future__ import annotations

import math

import numpy as np

from refq.affine.parameters import scale_array, target_type
from refq.errors import invalid
from refq.integer_ops.conv import conv_accumulator, conv_geometry
from refq.integer_ops.matmul import accumulate, matmul_operands
from refq.integer_ops.operands import INPUT_TYPES, integer_input
from refq.registry import rounding_mode
from refq.registry.variants import variant_code
from refq.requantize import requantize_multiplier
from refq.requantize.float_multiplier import FLOAT32, FLOAT64, multiplier_array, requantize_layout, scales_multiplier
from refq.requantize.fixed_point import requantize_tflite

#: The kernel code of ``conv_padding = zero`` (the registry variant).
ZERO_PADDING = variant_code("conv_padding", "zero", "conv_padding")
#: The code of ``requantize_form = fixed_point``.
FIXED_POINT = variant_code("requantize_form", "fixed_point", "form")
#: The targets of the output types (int8, uint8), made once: :func:`target_type` takes microseconds a call.
OUTPUT_TARGETS = {name: target_type(name) for name in INPUT_TYPES.values()}


def output_type(y_zero_point, fallback: np.dtype) -> str:
    """INT-4.1: the output has ``y_zero_point``'s type (int8 or uint8); without one, the first input's."""
    if y_zero_point is None:
        return np.dtype(fallback).name
    dtype = np.asarray(y_zero_point).dtype
    if dtype.type not in INPUT_TYPES:
        raise invalid("y_zero_point", "an int8 or uint8 value (it sets the output type)", f"{dtype} value")
    return INPUT_TYPES[dtype.type]


def single_value(values, argument: str):
    array = np.asarray(values)
    if array.size != 1:
        raise invalid(argument, "a single value (per tensor)", f"shape {array.shape}")
    return array.reshape(())


def channel_scales(scale, channels: int, argument: str) -> np.ndarray:
    """INT-4.1: a weight scale is one value or one per output channel (shape ``(channels,)``)."""
    values = scale_array(scale, argument)
    if values.size != 1 and values.shape != (channels,):
        raise invalid(argument, f"one value or one per output channel, shape ({channels},)", values.shape)
    return values


def multiplier_precision(precision: str, multiplier_order: str) -> str:
    """INT-4.4, REQ-1.1: the multiplier is rounded to float32, except ``float64_quotient``'s, which is rounded once to
    the working precision (TensorFlow Lite's reference FULLY_CONNECTED keeps the float64 quotient)."""
    return precision if multiplier_order == "float64_quotient" else "float32"


def requantize_accumulator(accumulator, a_scale, b_scales, y_scale, y_zero_point, dtype: str, axis, *, precision: str,
                           zero_point_placement: str, rounding: str, multiplier_order: str, form: str,
                           multiplier_rounding: str, shift_limits: str, fixed_point_rounding: str) -> np.ndarray:
    """INT-4.4: the accumulator requantized by REQ-1 (``form = float_multiplier``) or, with
    ``form = fixed_point``, by TensorFlow Lite's fixed-point rule (REQ-2.7) from the float64 multiplier."""
    a_value = single_value(scale_array(a_scale, "a_scale"), "a_scale")
    y_value = single_value(scale_array(y_scale, "y_scale"), "y_scale")
    y_zero = None if y_zero_point is None else single_value(y_zero_point, "y_zero_point")
    if variant_code("requantize_form", form, "form") == FIXED_POINT:
        real = requantize_multiplier(a_value, b_scales, y_value, "float64", multiplier_order)
        return requantize_tflite(accumulator, real, y_zero, dtype=dtype, axis=axis,
                                 multiplier_rounding=multiplier_rounding, shift_limits=shift_limits,
                                 rounding=fixed_point_rounding)
    return requantize_checked(accumulator, a_value, b_scales, y_value, y_zero, dtype, axis, precision=precision,
                              zero_point_placement=zero_point_placement, rounding=rounding,
                              multiplier_order=multiplier_order)


def requantize_checked(accumulator: np.ndarray, a_value: np.ndarray, b_scales: np.ndarray, y_value: np.ndarray,
                       y_zero, dtype: str, axis, *, precision: str, zero_point_placement: str, rounding: str,
                       multiplier_order: str) -> np.ndarray:
    """The float-multiplier requantization (REQ-1) of :func:`requantize_accumulator`, without checking
    again what the caller has checked: the int32 accumulator, the float32 scales (``a_value`` and
    ``y_value`` single values, ``b_scales`` one or one per ``axis`` index), ``y_zero`` (a single value
    of the output's type ``dtype``, so in its range, or None). Checking them a second time took
    longer than the requantization loop itself."""
    precision_code = variant_code("requantize_precision", precision, "precision")
    order_code = variant_code("requantize_multiplier_order", multiplier_order, "order")
    placement_code = variant_code("requantize_zero_point", zero_point_placement, "zero_point_placement")
    rounding_code = rounding_mode(rounding, "rounding").code
    multiplier_code = FLOAT64 if multiplier_precision(precision, multiplier_order) == "float64" else FLOAT32
    # The quotient can still overflow or underflow: multiplier_array refuses an infinite or zero multiplier.
    multipliers = multiplier_array(scales_multiplier(a_value, b_scales, y_value, multiplier_code, order_code),
                                   precision_code).reshape(-1)
    zero_points = np.full(multipliers.size, 0 if y_zero is None else y_zero, dtype=np.int64)
    target = OUTPUT_TARGETS[dtype]
    shape = accumulator.shape
    view = (1, 1, accumulator.size) if axis is None else (math.prod(shape[:axis]), shape[axis],
                                                           math.prod(shape[axis + 1:]))
    return requantize_layout(accumulator, multipliers, zero_points, target, view, precision_code, rounding_code,
                             placement_code, np.empty(shape, dtype=target.container))


def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point, *,
                   precision: str = "float32", zero_point_placement: str = "after_rounding",
                   rounding: str = "half_to_even", multiplier_order: str = "product_then_quotient",
                   form: str = "float_multiplier", multiplier_rounding: str = "half_away_from_zero",
                   shift_limits: str = "tflite", fixed_point_rounding: str = "double_round",
                   u8s8_products: str = "exact") -> np.ndarray:
    """INT-4.2: ONNX ``QLinearMatMul``: $y = \\operatorname{requantize}\\big((A - z_A)(B - z_B),\\ s_A s_B / s_Y,\\ z_Y\\big)$.

    The int32 product is INT-2.4's; the multiplier is REQ-1.1's
    $\\mathrm{fl}_{32}(\\mathrm{fl}_{32}(s_A s_B) / s_Y)$ and requantization REQ-1.3's
    with the given variants (the defaults are ONNX Runtime's; ``onnx.reference`` is
    ``precision="float64", zero_point_placement="before_rounding"``); ``multiplier_order``
    is REQ-1.1's ``requantize_multiplier_order``. ``a_scale`` and
    ``y_scale`` are single values; ``b_scale`` and ``b_zero_point`` one value or one per
    column of ``b`` (shape ``(N,)``). The output has ``y_zero_point``'s type. ``u8s8_products``
    is INT-2.6's variant.
    """
    operands = matmul_operands(a, b, a_zero_point, b_zero_point)
    accumulator = operands.shaped(accumulate(a, b, operands, u8s8_products))
    columns = operands.width
    b_scales = channel_scales(b_scale, columns, "b_scale")
    if b_scales.size > 1 and operands.b_is_vector:
        raise invalid("b_scale", "a single value when b is 1-D", b_scales.shape)
    dtype = output_type(y_zero_point, np.asarray(a).dtype)
    axis = accumulator.ndim - 1 if b_scales.size > 1 else None
    return requantize_accumulator(accumulator, a_scale, b_scales, y_scale, y_zero_point, dtype, axis,
                                  precision=precision, zero_point_placement=zero_point_placement, rounding=rounding,
                                  multiplier_order=multiplier_order, form=form,
                                  multiplier_rounding=multiplier_rounding, shift_limits=shift_limits,
                                  fixed_point_rounding=fixed_point_rounding)


def bias_values(bias, out_channels: int) -> np.ndarray | None:
    """INT-4.1: the bias is int32, one value per output channel, in the accumulator's scale $s_x s_w$."""
    if bias is None:
        return None
    values = np.asarray(bias)
    if values.dtype != np.int32:
        raise invalid("B", "an int32 array (the bias, in the scale x_scale * w_scale)", f"{values.dtype} array")
    if values.shape != (out_channels,):
        raise invalid("B", f"one value per output channel, shape ({out_channels},)", values.shape)
    return values


def qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                 auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
                 precision: str = "float32", zero_point_placement: str = "after_rounding",
                 rounding: str = "half_to_even", multiplier_order: str = "product_then_quotient",
                 conv_padding: str = "input_zero_point", form: str = "float_multiplier",
                 multiplier_rounding: str = "half_away_from_zero", shift_limits: str = "tflite",
                 fixed_point_rounding: str = "double_round", u8s8_products: str = "exact",
                 u8s8_conv_pairs: str = "input_channels_last") -> np.ndarray:
    """INT-4.3: ONNX ``QLinearConv``: the INT-3.4 convolution plus the int32 bias ``B`` (wrapping),
    requantized per output channel $m$ with the multiplier $\\mathrm{fl}_{32}(\\mathrm{fl}_{32}(s_x s_{w,m}) / s_y)$.

    ``w_scale`` and ``w_zero_point`` are one value or one per output channel; the
    attributes are ``conv_integer``'s; the variants are those of :func:`qlinear_matmul`, and
    ``conv_padding`` (a registry variant): the padded positions hold the input zero point
    (``input_zero_point``, ONNX) or the code 0 (``zero``: the input padded with zeros first);
    ``u8s8_products`` and ``u8s8_conv_pairs`` are INT-3.6's.
    """
    attributes = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads,
                      strides=strides)
    padding = variant_code("conv_padding", conv_padding, "conv_padding")
    x = integer_input(x, "x")
    w = integer_input(w, "w")
    geometry = conv_geometry(x.shape, w.shape, **attributes)
    out_channels = geometry.out_channels
    if padding == ZERO_PADDING and any(geometry.pads):
        top, left, bottom, right = geometry.pads
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        attributes = {**attributes, "auto_pad": "NOTSET", "pads": None}
        geometry = conv_geometry(x.shape, w.shape, **attributes)
    w_scales = channel_scales(w_scale, out_channels, "w_scale")
    accumulator = conv_accumulator(x, w, x_zero_point, w_zero_point, bias_values(B, out_channels),
                                   u8s8_products=u8s8_products, u8s8_conv_pairs=u8s8_conv_pairs, geometry=geometry,
                                   **attributes)
    dtype = output_type(y_zero_point, np.asarray(x).dtype)
    axis = 1 if w_scales.size > 1 else None
    return requantize_accumulator(accumulator, x_scale, w_scales, y_scale, y_zero_point, dtype, axis,
                                  precision=precision, zero_point_placement=zero_point_placement, rounding=rounding,
                                  multiplier_order=multiplier_order, form=form,
                                  multiplier_rounding=multiplier_rounding, shift_limits=shift_limits,
                                  fixed_point_rounding=fixed_point_rounding)

