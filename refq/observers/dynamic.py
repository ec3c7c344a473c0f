"""OBS-5: dynamic quantization — parameters computed at inference time from the tensor at hand.

Two rules: ONNX ``DynamicQuantizeLinear`` (uint8, OBS-5.1 to OBS-5.5), in the variants
ONNX Runtime and ``onnx.reference`` implement (:data:`DYNAMIC_PROFILES`), and PyTorch's
dynamic per-batch range for dynamically quantized linear layers (OBS-5.6, FBGEMM's
``ChooseQuantizationParams``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.observers.minmax import batch_array, batch_min_max
from refq.observers.qparams import divide_float32, to_int32_x86


@dataclass(frozen=True)
class DynamicProfile:
    """How one implementation of DynamicQuantizeLinear resolves what the operator text leaves open."""

    name: str
    title: str
    #: Scale of an all-zero input ($m^+ = m^- = 0$): ``"one"`` (1.0) or ``"one_over_255"`` (fl32(1/255)).
    zero_range_scale: str
    #: NaN in the input: ``"unpredictable"`` (every output) or ``"propagate"`` (the scale is NaN).
    nan: str
    #: Quantize step: ``"clamp_then_round"`` (clamp $x/s$ to $[q_{min}-z, q_{max}-z]$, NaN to the lower
    #: bound, round, add $z$) or ``"round_add_clip"`` (round, add $z$ in float32, clip, cast; NaN casts to 0).
    quantize: str
    #: An empty input: ``"default"`` gives scale 1.0 and zero point 0, ``"error"`` raises.
    empty: str
    sources: tuple[str, ...] = ()
    notes: str = ""


DYNAMIC_PROFILES: dict[str, DynamicProfile] = {
    "onnxruntime": DynamicProfile(
        "onnxruntime", "ONNX Runtime CPU DynamicQuantizeLinear", "one", "unpredictable", "clamp_then_round",
        "default",
        sources=("onnxruntime/core/providers/cpu/quantization/dynamicquantizelinear.cc",
                 "measured: onnxruntime 1.32 CPU"),
        notes="scale = max == min ? 1.0f : (max - min) / 255. MLAS's min/max search drops or keeps a NaN "
              "depending on its position (a NaN last in 1000 elements gave a NaN scale, elsewhere it was ignored).",
    ),
    "onnx-reference": DynamicProfile(
        "onnx-reference", "onnx.reference.ReferenceEvaluator DynamicQuantizeLinear", "one_over_255", "propagate",
        "round_add_clip", "error",
        sources=("onnx/reference/ops/op_dynamic_quantize_linear.py",),
        notes="y_scale = (1.0 if max == min else max - min) / 255 in float32; np.max propagates NaN; "
              "np.clip(np.rint(x / y_scale) + zp).astype(uint8) casts NaN to 0 on x86. An empty input raises.",
    ),
}

_ONE, _ONE_OVER_255 = 0, 1
_CLAMP_THEN_ROUND, _ROUND_ADD_CLIP = 0, 1


@dataclass(frozen=True)
class DynamicQuantized:
    """Result of DynamicQuantizeLinear: ``y`` (uint8, shaped like x), ``scale`` (float32), ``zero_point``
    (uint8 value as int); ``unpredictable`` marks elements of ``y`` (and, when ``parameters_unpredictable``,
    the scale and zero point) that the profile leaves open."""

    y: np.ndarray
    scale: np.float32
    zero_point: int
    unpredictable: np.ndarray
    parameters_unpredictable: bool


@kernel
def dynamic_range(values, skip_nan):
    """OBS-5.1: $m^- = \\min(0, \\min x)$, $m^+ = \\max(0, \\max x)$ in float32.

    With ``skip_nan`` the NaN elements are left out (what ONNX Runtime does for most positions);
    otherwise a NaN makes both bounds NaN (numpy's ``np.min``/``np.max``).
    """
    zero = np.float32(0.0)
    low = zero
    high = zero
    for index in range(values.size):
        value = values[index]
        if value != value:
            if skip_nan:
                continue
            return value, value
        if value < low:
            low = value
        if value > high:
            high = value
    return low, high


@kernel
def dynamic_scale(low, high, zero_range_scale):
    """OBS-5.2: $s = \\mathrm{fl_{32}}((m^+ - m^-) / 255)$; when $m^+ = m^-$ (an all-zero input) the
    profile decides: 1.0 (ONNX Runtime) or $\\mathrm{fl_{32}}(1/255)$ (onnx.reference)."""
    if high == low:
        if zero_range_scale == _ONE:
            return np.float32(1.0)
        return np.float32(np.float32(1.0) / np.float32(255.0))
    return np.float32(np.float32(high - low) / np.float32(255.0))


@kernel
def dynamic_zero_point(low, scale):
    """OBS-5.3: $z = \\mathrm{round}(\\mathrm{clamp}(\\mathrm{fl_{32}}(0 - \\mathrm{fl_{32}}(m^- / s)), 0, 255))$,
    ties to even; a NaN fails both comparisons of the clamp and becomes 255 (both implementations)."""
    initial = np.float32(np.float32(0.0) - divide_float32(low, scale))
    if initial != initial:
        return 255
    clamped = min(max(initial, np.float32(0.0)), np.float32(255.0))
    return np.int64(round_to_integral(clamped, HALF_TO_EVEN))


@kernel
def dynamic_quantize_values(values, scale, zero_point, quantize, out, unpredictable):
    """OBS-5.4: quantize with the computed parameters (QuantizeLinear to uint8), in the profile's steps.

    ``clamp_then_round`` (MLAS): $v = \\mathrm{fl_{32}}(x / s)$ clamped to $[-z, 255 - z]$ with NaN going
    to $-z$, rounded to even, plus $z$. ``round_add_clip`` (numpy): $\\mathrm{fl_{32}}(\\mathrm{rint}(v) + z)$
    clipped to $[0, 255]$ and cast; NaN stays NaN through ``np.clip`` and its cast to uint8 is undefined
    (0 on x86): unpredictable.
    """
    zero = np.float32(zero_point)
    for index in range(values.size):
        quotient = divide_float32(values[index], scale)
        if quantize == _CLAMP_THEN_ROUND:
            lower = np.float32(-zero)
            upper = np.float32(np.float32(255.0) - zero)
            clamped = quotient
            if not clamped >= lower:
                clamped = lower
            if clamped > upper:
                clamped = upper
            out[index] = np.int64(round_to_integral(clamped, HALF_TO_EVEN)) + zero_point
        else:
            shifted = np.float32(round_to_integral(quotient, HALF_TO_EVEN) + zero)
            if shifted != shifted:
                out[index] = 0
                unpredictable[index] = True
            else:
                out[index] = np.int64(min(max(shifted, np.float32(0.0)), np.float32(255.0)))


def dynamic_profile(profile: str | DynamicProfile) -> DynamicProfile:
    if isinstance(profile, DynamicProfile):
        return profile
    if not isinstance(profile, str) or profile not in DYNAMIC_PROFILES:
        raise invalid("profile", f"one of {sorted(DYNAMIC_PROFILES)}", profile)
    return DYNAMIC_PROFILES[profile]


def dynamic_quantize_linear(x, *, profile: str = "onnxruntime") -> DynamicQuantized:
    """OBS-5.5: ONNX ``DynamicQuantizeLinear``: range, scale, zero point, then quantize to uint8.

    Args:
        x: float32 array (other float types are rounded to float32 first).
        profile: a key of :data:`DYNAMIC_PROFILES`.
    """
    chosen = dynamic_profile(profile)
    values = batch_array(x, "x")
    flat = np.ascontiguousarray(values).reshape(-1)
    if flat.size == 0:
        if chosen.empty == "error":
            raise invalid("x", "non-empty for the onnx-reference profile (np.max of an empty array raises)",
                          values.shape)
        return DynamicQuantized(np.zeros(values.shape, np.uint8), np.float32(1.0), 0,
                                np.zeros(values.shape, bool), False)
    has_nan = bool(np.isnan(flat).any())
    skip_nan = chosen.nan == "unpredictable"
    low, high = dynamic_range(flat, skip_nan)
    scale = np.float32(dynamic_scale(low, high, _ONE if chosen.zero_range_scale == "one" else _ONE_OVER_255))
    zero_point = int(dynamic_zero_point(low, scale))
    out = np.empty(flat.size, np.int64)
    unpredictable = np.zeros(flat.size, bool)
    quantize = _CLAMP_THEN_ROUND if chosen.quantize == "clamp_then_round" else _ROUND_ADD_CLIP
    with np.errstate(all="ignore"):
        dynamic_quantize_values(flat, scale, zero_point, quantize, out, unpredictable)
    parameters_unpredictable = has_nan and skip_nan
    if parameters_unpredictable:
        unpredictable[:] = True
    return DynamicQuantized(out.astype(np.uint8).reshape(values.shape), scale, zero_point,
                            unpredictable.reshape(values.shape), parameters_unpredictable)


#: FBGEMM's SMALL_SCALE_THRESHOLD: the smallest float16 normal, so that scales stay out of
#: float16's subnormal range.
SMALL_SCALE_THRESHOLD = np.float32(6.1e-5)


@kernel
def fbgemm_choose_qparams(min_val, max_val, quant_min, quant_max):
    """OBS-5.6: FBGEMM's ``ChooseQuantizationParams`` (no sparsity, no power-of-two scale).

    The range is widened to 0 in float32; the scale is computed in float64 and replaced by 0.1
    when its float32 rounding is 0 or has an infinite float32 reciprocal; a scale below
    $\\mathrm{fl_{32}}(6.1 \\cdot 10^{-5})$ is raised to it and the range stretched in float32.
    The zero point comes from the end of the range whose error term is smaller, in float64,
    and is clamped or rounded to even. Returns ``(scale float64, zero_point, unpredictable)``.
    """
    zero = np.float32(0.0)
    low = zero if zero < min_val else min_val
    high = zero if max_val < zero else max_val
    scale = (np.float64(high) - np.float64(low)) / np.float64(quant_max - quant_min)
    narrow = np.float32(scale)
    if narrow == zero or np.isinf(np.float32(np.float32(1.0) / narrow)):
        scale = 0.1
    threshold = SMALL_SCALE_THRESHOLD
    if scale < np.float64(threshold):
        original = np.float32(scale)
        scale = np.float64(threshold)
        levels = np.float32(quant_max - quant_min)
        if low == zero:
            high = np.float32(threshold * levels)
        elif high == zero:
            low = np.float32(-threshold * levels)
        else:
            amplifier = np.float32(threshold / original)
            low = np.float32(low * amplifier)
            high = np.float32(high * amplifier)
    from_min = np.float64(quant_min) - np.float64(low) / scale
    from_max = np.float64(quant_max) - np.float64(high) / scale
    error_min = np.float64(abs(quant_min)) - abs(np.float64(low) / scale)
    error_max = np.float64(abs(quant_max)) - abs(np.float64(high) / scale)
    initial = from_min if error_min < error_max else from_max
    if initial < quant_min:
        return scale, np.int64(quant_min), False
    if initial > quant_max:
        return scale, np.int64(quant_max), False
    integer, unpredictable = to_int32_x86(np.float32(round_to_integral(initial, HALF_TO_EVEN)))
    return scale, integer, unpredictable


@dataclass(frozen=True)
class TorchDynamicQParams:
    """PyTorch's dynamic activation parameters: the float64 scale FBGEMM returns (quantization uses
    its float32 rounding, ``scale_float32``) and the zero point."""

    scale: np.float64
    scale_float32: np.float32
    zero_point: int
    unpredictable: bool


def torch_dynamic_qparams(x, *, reduce_range: bool = True) -> TorchDynamicQParams:
    """OBS-5.7: the parameters ``torch.ops.quantized.linear_dynamic`` picks for its input (x86, FBGEMM):
    :func:`fbgemm_choose_qparams` of the tensor's min and max for uint8, with ``reduce_range`` $[0, 127]$
    (``torch.ao.nn.quantized.dynamic.Linear`` passes ``reduce_range=True``).

    Raises:
        RefqValueError: an empty input (torch's ``min()`` of an empty tensor raises) or a NaN
            (torch's ``TORCH_CHECK(min <= max)`` fails).
    """
    if not isinstance(reduce_range, (bool, np.bool_)):
        raise wrong_type("reduce_range", "a bool", reduce_range)
    values = np.ascontiguousarray(batch_array(x)).reshape(-1)
    if values.size == 0:
        raise invalid("x", "non-empty (torch: min() of an empty tensor raises)", values.shape)
    low, high = batch_min_max(values)
    if low != low:
        raise invalid("x", "free of NaN (torch: 'min should be less than or equal to max')", "NaN")
    quant_min, quant_max = (0, 127) if reduce_range else (0, 255)
    scale, zero_point, unpredictable = fbgemm_choose_qparams(np.float32(low), np.float32(high), quant_min, quant_max)
    return TorchDynamicQParams(np.float64(scale), np.float32(scale), int(zero_point), bool(unpredictable))
