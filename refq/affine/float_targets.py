"""AFF-6: ONNX QuantizeLinear and DequantizeLinear with a float format as the quantized type
(float8, float6, float4): the scaled value is cast (NUM-3) instead of rounded to an integer.

The quantized values are bit patterns of the format (uint8), as :func:`refq.numbers.floats.cast.cast` gives them; the
zero point, where given, is a pattern of the same format. Scales and granularity are AFF-1's.
"""

from __future__ import annotations

import numpy as np

from refq.affine.parameters import granularity, input_array, scale_array
from refq.errors import invalid, wrong_type
from refq.numbers.floats import decode_array
from refq.numbers.floats.cast import cast
from refq.registry import float_format
from refq.registry.operations import OPERATIONS_BY_NAME
from refq.registry.variants import VARIANTS_BY_NAME

#: AFF-6.1's quantized types: the float formats of at most 8 bits with a sign and a zero (ONNX's float8,
#: float6 and float4 types); E8M0 and UE4M3 are scale formats (BLK), not quantized types.
FLOAT_TARGETS: tuple[str, ...] = OPERATIONS_BY_NAME["quantize_linear_float"].values["to"]
#: AFF-6.2's and AFF-6.4's values of the zero-point variants, as the registry has them.
QUANTIZE_ZERO_POINTS = tuple(value.name for value in VARIANTS_BY_NAME["float_zero_point"].values)
DEQUANTIZE_ZERO_POINTS = tuple(value.name for value in VARIANTS_BY_NAME["float_dequantize_zero_point"].values)


#: AFF-6.5's scale types: float32, or E8M0 (ONNX's FLOAT8E8M0, the OCP MX scale).
SCALE_TYPES = OPERATIONS_BY_NAME["quantize_linear_float"].values["scale_type"]


def typed_scales(scale, scale_type: str) -> np.ndarray:
    """AFF-6.5: the scales as float32 (AFF-1.1); under ``scale_type = "float8_e8m0fnu"`` each must be a power of two
    from 2^-127 to 2^127, a value E8M0 holds, and float32 holds it exactly, so the arithmetic is unchanged."""
    if scale_type not in SCALE_TYPES:
        raise invalid("scale_type", "one of " + ", ".join(SCALE_TYPES), scale_type)
    scales = scale_array(scale)
    if scale_type == "float8_e8m0fnu":
        mantissa, exponent = np.frexp(scales.astype(np.float64))
        held = (mantissa == 0.5) & (exponent - 1 >= -127) & (exponent - 1 <= 127)
        if not held.all():
            raise invalid("scale", "a power of two from 2^-127 to 2^127 (an E8M0 value, scale_type "
                                   "float8_e8m0fnu)", scales[~held].flat[0].item())
    return scales


def float8(fmt) -> bool:
    return fmt.total_bits == 8


def quantize_zero_point_rule(rule: str, fmt) -> str:
    """AFF-6.2: ``added`` or ``ignored``, the rule ``float_zero_point`` gives ``fmt``."""
    if rule not in QUANTIZE_ZERO_POINTS:
        raise invalid("float_zero_point", "one of " + ", ".join(QUANTIZE_ZERO_POINTS), rule)
    if rule == "added_except_float8":
        return "ignored" if float8(fmt) else "added"
    return rule


def dequantize_zero_point_rule(rule: str, fmt) -> str:
    """AFF-6.4: ``subtracted``, ``refused``, ``ignored`` or ``refused_from_one`` (a zero point from 1 to 255 is
    refused, any other ignored), the rule ``float_dequantize_zero_point`` gives ``fmt``."""
    if rule not in DEQUANTIZE_ZERO_POINTS:
        raise invalid("float_dequantize_zero_point", "one of " + ", ".join(DEQUANTIZE_ZERO_POINTS), rule)
    if rule == "by_width":
        return "refused_from_one" if float8(fmt) else "subtracted" if fmt.total_bits == 6 else "ignored"
    return rule


def refused_zero_points(zero_points: np.ndarray, rule: str) -> np.ndarray:
    """AFF-6.4: the zero points ``rule`` refuses. ``refused_from_one`` is onnx.reference's check that the
    zero point converted to uint8 is 0, where ml_dtypes' conversion truncates a value from 0 to 255 and
    gives 0 for any other (negative, 256 or more, NaN)."""
    if rule == "refused":
        return zero_points != 0
    if rule == "refused_from_one":
        return (zero_points >= 1) & (zero_points < 256)
    return np.zeros(zero_points.shape, bool)


def float_target(name, argument: str = "to"):
    """AFF-6.1: a quantized float type by name."""
    if not isinstance(name, str):
        raise wrong_type(argument, "a float format name", name)
    fmt = float_format(name, argument)
    if fmt.name not in FLOAT_TARGETS:
        raise invalid(argument, "one of " + ", ".join(FLOAT_TARGETS), name)
    return fmt


def zero_point_values(zero_point, fmt, scale_shape: tuple[int, ...]) -> np.ndarray:
    """AFF-6.1: the zero point's values as float32 (exact), shaped like the scale: patterns of ``fmt``
    (uint8), or 0 when None. A NaN zero point is an error."""
    if zero_point is None:
        return np.zeros(scale_shape, np.float32)
    patterns = np.asarray(zero_point)
    if patterns.dtype != np.uint8:
        raise wrong_type("zero_point", f"uint8 patterns of {fmt.name}", zero_point)
    if patterns.shape != scale_shape and patterns.size != 1:
        raise invalid("zero_point", f"shaped like scale {scale_shape}", patterns.shape)
    if int(patterns.max(initial=0)) >> fmt.total_bits:
        raise invalid("zero_point", f"{fmt.total_bits}-bit patterns of {fmt.name}", int(patterns.max()))
    values = decode_array(patterns.reshape(()) if patterns.shape != scale_shape else patterns, fmt)
    if np.isnan(values).any():
        raise invalid("zero_point", "a number (not NaN)", float("nan"))
    return np.broadcast_to(values.astype(np.float32), scale_shape)


def per_element(values: np.ndarray, shape: tuple[int, ...], layout) -> np.ndarray:
    """AFF-6.1: the scale (or zero point) of every element of an input of ``shape``, in float32, by AFF-1.4."""
    grid = np.asarray(values, np.float32).reshape(layout.scale_shape3)
    grid = np.repeat(grid, layout.block, axis=1)[:, :layout.length, :]
    return np.broadcast_to(grid, (layout.outer, layout.length, layout.inner)).reshape(shape)


def quantize_to_float(x, scale, zero_point=None, *, to="float8_e4m3fn", axis=None, block_size=None, saturate=True,
                      scale_type="float32", float_zero_point="added", float8_conversion="nearest") -> np.ndarray:
    """Quantize float32 ``x`` to the float format ``to`` (AFF-6.2): the uint8 patterns of
    ``cast(x / s + z, to, saturate)``, as the ONNX text's QuantizeLinear with a float8/float6/float4 type.

    Args:
        x: float32 array.
        scale: float32 > 0, per tensor, per axis or blocked as AFF-1.4 says.
        zero_point: uint8 patterns of ``to`` shaped like ``scale`` (one value for all), or None.
        to: the quantized type, one of :data:`FLOAT_TARGETS`.
        axis, block_size: the granularity (AFF-1.4).
        scale_type: ``"float32"``, or ``"float8_e8m0fnu"``: the scales are carried as E8M0 (AFF-6.5), each a power
            of two from 2^-127 to 2^127.
        saturate: ONNX's attribute (float8 types): an overflow becomes the largest value instead of an
            infinity or NaN (NUM-3.15); the float6 and float4 formats saturate whatever its value.
        float_zero_point: ``"added"`` (the ONNX text), ``"ignored"`` (ONNX Runtime) or ``"added_except_float8"``
            (onnx.reference: ignored for the float8 types).
        float8_conversion: NUM-3.20's value of the cast.
    """
    return quantize_to_float_with_outcomes(x, scale, zero_point, to=to, axis=axis, block_size=block_size,
                                           saturate=saturate, scale_type=scale_type,
                                           float_zero_point=float_zero_point,
                                           float8_conversion=float8_conversion)[0]


def quantize_to_float_with_outcomes(x, scale, zero_point=None, *, to="float8_e4m3fn", axis=None, block_size=None,
                                    saturate=True, scale_type="float32", float_zero_point="added",
                                    float8_conversion="nearest") -> tuple[np.ndarray, np.ndarray | None]:
    """AFF-6.2: ``cast(fl32(fl32(x / s) + z), to, saturate)``, with ``float_zero_point="ignored"`` or no zero
    point ``cast(fl32(x / s), to, saturate)``; and the elements whose pattern is open (AFF-6.3).

    Returns:
        The uint8 patterns of ``to``, shaped like ``x``, and the mask of NaN inputs (None when there is
        none): the ONNX text does not say which NaN pattern a NaN becomes, and a format without NaN
        has none to give.
    """
    fmt = float_target(to)
    values = input_array(x)
    scales = typed_scales(scale, scale_type)
    layout = granularity(values.shape, scales.shape, axis, block_size)
    rule = quantize_zero_point_rule(float_zero_point, fmt)
    if not isinstance(saturate, (bool, np.bool_)):
        raise wrong_type("saturate", "True or False", saturate)
    zero_points = zero_point_values(zero_point, fmt, scales.shape)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scaled = values / per_element(scales, values.shape, layout)  # one IEEE division in float32
        if rule == "added" and zero_point is not None:  # none given: nothing added (-0 stays -0)
            scaled = scaled + per_element(zero_points, values.shape, layout)
    nan = open_patterns(scaled)
    if not fmt.has_nan and nan is not None:
        scaled = np.where(nan, np.float32(0), scaled)  # any pattern will do: the element is open
    patterns = cast(scaled, fmt.name, saturate=bool(saturate), float8_conversion=float8_conversion)
    return patterns.astype(np.uint8), nan


def open_patterns(scaled: np.ndarray) -> np.ndarray | None:
    """AFF-6.3: the elements whose pattern is open, the NaNs among the scaled values (None when there is none)."""
    nan = np.isnan(scaled)
    return nan if nan.any() else None


def dequantize_from_float(q, scale, zero_point=None, *, dtype="float8_e4m3fn", axis=None, block_size=None,
                          scale_type="float32", float_dequantize_zero_point="subtracted") -> np.ndarray:
    """AFF-6.4: ``fl32(fl32(q - z) * s)`` for the float values ``q`` and ``z`` of the patterns (with no zero
    point, or a zero one, the one rounding ``fl32(q * s)``); under ``"refused"`` a nonzero zero point is an
    error, and ``"by_width"`` subtracts it for float6 and ignores it for float4, and for the float8 types refuses
    one from 1 to 255 and ignores any other. A NaN pattern gives a NaN whose payload AFF-6.4 leaves open
    (:func:`dequantize_from_float_with_outcomes` says which)."""
    return dequantize_from_float_with_outcomes(q, scale, zero_point, dtype=dtype, axis=axis, block_size=block_size,
                                               scale_type=scale_type,
                                               float_dequantize_zero_point=float_dequantize_zero_point)[0]


def dequantize_from_float_with_outcomes(q, scale, zero_point=None, *, dtype="float8_e4m3fn", axis=None,
                                        block_size=None, scale_type="float32",
                                        float_dequantize_zero_point="subtracted"
                                        ) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`dequantize_from_float`, and the mask of NaN patterns (None where there is none)."""
    fmt = float_target(dtype, "dtype")
    patterns = np.asarray(q)
    if patterns.dtype != np.uint8:
        raise wrong_type("q", f"uint8 patterns of {fmt.name}", q)
    if int(patterns.max(initial=0)) >> fmt.total_bits:
        raise invalid("q", f"{fmt.total_bits}-bit patterns of {fmt.name}", int(patterns.max()))
    scales = typed_scales(scale, scale_type)
    layout = granularity(patterns.shape, scales.shape, axis, block_size)
    rule = dequantize_zero_point_rule(float_dequantize_zero_point, fmt)
    zero_points = zero_point_values(zero_point, fmt, scales.shape)
    refused = refused_zero_points(zero_points, rule)
    if refused.any():
        # One message under every profile that refuses the value: the variant's description says which it takes.
        raise invalid("zero_point", f"a zero point that float_dequantize_zero_point takes for {fmt.name}",
                      float(zero_points[refused].flat[0]))
    values = decode_array(patterns, fmt).astype(np.float32)  # exact: every value fits float32
    with np.errstate(over="ignore", invalid="ignore"):
        subtracted = zero_point is not None and rule in ("subtracted", "refused")
        difference = values - per_element(zero_points, patterns.shape, layout) if subtracted else values
        output = (difference * per_element(scales, patterns.shape, layout)).astype(np.float32)
    nan = np.isnan(values)
    return output, (nan if nan.any() else None)
