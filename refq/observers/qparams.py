"""OBS-1: quantization parameters from a range, as PyTorch's observers compute them.

Every step is the float32 tensor operation of ``torch.ao.quantization.observer``'s
``_calculate_qparams`` (torch 2.13): NaN-propagating ``torch.min``/``torch.max``,
a float32 division by the Python float divisor (which torch rounds to float32 first),
``torch.round`` (ties to even), ``.to(torch.int)`` and an int32 subtraction.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.registry import rounding_mode
from refq.registry.variants import variant_code

#: The default (unnarrowed, unreduced) integer range of each target type an observer accepts.
DTYPE_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint4": (0, 15),  # torch.quint4x2
}

#: Schemes: ``affine`` (torch.per_tensor_affine / per_channel_affine), ``symmetric``
#: (per_tensor_symmetric / per_channel_symmetric) and ``affine_float_qparams``
#: (per_channel_affine_float_qparams: a float zero point, range not widened to 0).
QSCHEMES: tuple[str, ...] = ("affine", "symmetric", "affine_float_qparams")

#: torch.finfo(torch.float32).eps, the default floor of the scale.
FLOAT32_EPS = np.float32(2.0**-23)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
_SCHEME_CODES = {"affine": 0, "symmetric": 1, "affine_float_qparams": 2}
AFFINE, SYMMETRIC, AFFINE_FLOAT_QPARAMS = 0, 1, 2


@dataclass(frozen=True)
class QuantizationRange:
    """The integer range $[q_{min}, q_{max}]$ the parameters are computed for."""

    dtype: str
    quant_min: int
    quant_max: int
    #: True when the caller gave quant_min and quant_max (or narrow=True): torch then
    #: picks the uint8 symmetric zero point as the midpoint instead of 128.
    customized: bool


@dataclass(frozen=True)
class QParams:
    """Scale and zero point, per tensor (scalars) or per channel (1-D arrays).

    ``unpredictable`` marks zero points torch obtains from an undefined float-to-int32
    conversion (a NaN or out-of-range quotient, OBS-1.4); they hold what x86 gives.
    """

    scale: np.float32 | np.ndarray
    zero_point: int | np.float32 | np.ndarray
    unpredictable: bool | np.ndarray


def quantization_range(dtype: str = "uint8", *, reduce_range: bool = False, quant_min: int | None = None,
                       quant_max: int | None = None, narrow: bool = False) -> QuantizationRange:
    """OBS-1.1: the target range, as torch's ``calculate_qmin_qmax`` picks it.

    Without a custom range: the type's full range, or with ``reduce_range`` one bit less
    (int8 $[-64, 63]$, uint8 $[0, 127]$; other types ignore ``reduce_range``). A custom
    range must satisfy $q_{min} \\le 0 \\le q_{max}$ and $q_{min} < q_{max}$ (int8: at most
    256 values, int32: at most $2^{32}$); ``reduce_range`` then halves both ends with floor
    division. ``narrow`` is the custom range $[q_{min} + 1, q_{max}]$ of a signed type.
    """
    if not isinstance(dtype, str) or dtype not in DTYPE_RANGES:
        raise invalid("dtype", f"one of {sorted(DTYPE_RANGES)}", dtype)
    for name, flag in (("reduce_range", reduce_range), ("narrow", narrow)):
        if not isinstance(flag, (bool, np.bool_)):
            raise wrong_type(name, "a bool", flag)
    low, high = DTYPE_RANGES[dtype]
    if (quant_min is None) != (quant_max is None):
        raise invalid("quant_min/quant_max", "both given or both None", (quant_min, quant_max))
    if narrow:
        if quant_min is not None:
            raise invalid("narrow", "False when quant_min/quant_max are given", narrow)
        if low == 0:
            raise invalid("narrow", "False for an unsigned dtype", narrow)
        quant_min, quant_max = low + 1, high
    if quant_min is None:
        if reduce_range and dtype == "int8":
            return QuantizationRange(dtype, -64, 63, False)
        if reduce_range and dtype == "uint8":
            return QuantizationRange(dtype, 0, 127, False)
        return QuantizationRange(dtype, low, high, False)
    for name, value in (("quant_min", quant_min), ("quant_max", quant_max)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise wrong_type(name, "an int", value)
    quant_min, quant_max = int(quant_min), int(quant_max)
    if not quant_min <= 0 <= quant_max:
        raise invalid("quant_min/quant_max", "a range that includes 0", (quant_min, quant_max))
    if quant_min >= quant_max:
        raise invalid("quant_min/quant_max", "quant_min < quant_max", (quant_min, quant_max))
    length = quant_max - quant_min + 1
    if dtype == "int8" and length > 256:
        raise invalid("quant_min/quant_max", "at most 256 values for int8", (quant_min, quant_max))
    if dtype == "int32" and length > 2**32:
        raise invalid("quant_min/quant_max", "at most 2^32 values for int32", (quant_min, quant_max))
    if reduce_range:
        quant_min, quant_max = quant_min // 2, quant_max // 2
    return QuantizationRange(dtype, quant_min, quant_max, True)


@kernel
def nan_minimum(a, b):
    """``torch.minimum``: NaN if either is NaN, and $-0 < +0$."""
    if a != a:
        return a
    if b != b:
        return b
    if a < b:
        return a
    if b < a:
        return b
    return a if math.copysign(1.0, a) < 0 else b


@kernel
def nan_maximum(a, b):
    """``torch.maximum``: NaN if either is NaN, and $+0 > -0$."""
    if a != a:
        return a
    if b != b:
        return b
    if a > b:
        return a
    if b > a:
        return b
    return b if math.copysign(1.0, a) < 0 else a


@kernel
def to_int32_x86(value):
    """``.to(torch.int)`` of an integral float32: C++ leaves NaN and values outside int32
    undefined; x86's conversion gives $-2^{31}$. Returns ``(integer, unpredictable)``."""
    if value != value or value >= np.float32(2147483648.0) or value < np.float32(-2147483648.0):
        return np.int64(-2147483648), True
    return np.int64(value), False


@kernel
def wrap_int32(value):
    """Two's-complement int32 wraparound of an int64, as an int32 tensor subtraction gives."""
    return ((value + np.int64(2147483648)) % np.int64(4294967296)) - np.int64(2147483648)


@kernel
def divide_float32(a, b):
    """The float32 quotient $\\mathrm{fl_{32}}(a / b)$ with IEEE results for a zero divisor (Numba's ``/``
    raises there). Computed in float64 and rounded once to float32, which is exactly the float32
    quotient: float64 carries more than $2 \\cdot 24 + 2$ significant bits."""
    return np.float32(np.divide(np.float64(a), np.float64(b)))


@kernel
def widen_to_zero(min_val, max_val):
    """OBS-1.2: $m^- = \\min(m_{min}, 0)$ and $m^+ = \\max(m_{max}, 0)$, NaN-propagating."""
    zero = np.float32(0.0)
    return nan_minimum(min_val, zero), nan_maximum(max_val, zero)


@kernel
def observed_range(min_val, max_val, widen):
    """OBS-1.2 under the variant ``zero_in_range``: widened to contain 0 (``widened``, torch), or
    ``as_observed`` (``widen`` False)."""
    if widen:
        return widen_to_zero(min_val, max_val)
    return min_val, max_val


@kernel
def affine_qparams(min_val, max_val, quant_min, quant_max, eps, rounding=HALF_TO_EVEN, widen=True):
    """OBS-1.3 and OBS-1.4: affine scale and zero point of one range, in float32.

    $s = \\max(\\mathrm{fl_{32}}((m^+ - m^-) / \\mathrm{fl_{32}}(q_{max} - q_{min})), \\varepsilon)$;
    $z = \\mathrm{clamp}(q_{min} - \\mathrm{int32}(\\mathrm{round}(\\mathrm{fl_{32}}(m^- / s))), q_{min}, q_{max})$
    with ties to even and int32 wraparound. Returns ``(scale, zero_point, unpredictable)``.
    ``rounding`` (the variant ``zero_point_rounding``, a rounding-mode code) and ``widen`` (``zero_in_range``)
    are the variants the fingerprint separates; the defaults are torch's.
    """
    min_neg, max_pos = observed_range(min_val, max_val, widen)
    divisor = np.float32(np.float64(quant_max - quant_min))
    scale = nan_maximum(np.float32(np.float32(max_pos - min_neg) / divisor), eps)
    quotient = divide_float32(min_neg, scale)
    integer, unpredictable = to_int32_x86(round_to_integral(quotient, rounding))
    zero_point = wrap_int32(np.int64(quant_min) - integer)
    zero_point = min(max(zero_point, np.int64(quant_min)), np.int64(quant_max))
    return scale, zero_point, unpredictable


@kernel
def symmetric_qparams(min_val, max_val, quant_min, quant_max, eps, zero_point, half_span=True, widen=True):
    """OBS-1.5: symmetric scale $s = \\max(\\mathrm{fl_{32}}(\\max(-m^-, m^+) / d), \\varepsilon)$ with the
    divisor $d = \\mathrm{fl_{32}}((q_{max} - q_{min}) / 2)$ (127.5 for int8); the zero point is fixed.
    The variant ``symmetric_divisor = qmax`` (``half_span`` False) divides by $q_{max}$ instead."""
    min_neg, max_pos = observed_range(min_val, max_val, widen)
    divisor = np.float32(np.float64(quant_max - quant_min) / 2.0) if half_span else np.float32(np.float64(quant_max))
    scale = nan_maximum(np.float32(nan_maximum(-min_neg, max_pos) / divisor), eps)
    return scale, np.int64(zero_point), False


@kernel
def float_qparams(min_val, max_val, quant_min, quant_max, eps):
    """OBS-1.6: ``per_channel_affine_float_qparams``: $s = \\mathrm{fl_{32}}((m_{max} - m_{min}) / (q_{max} - q_{min}))$,
    replaced by 1 unless $s > \\varepsilon$; the float zero point $\\mathrm{fl_{32}}(-m_{min} / s)$."""
    divisor = np.float32(np.float64(quant_max - quant_min))
    scale = np.float32(np.float32(max_val - min_val) / divisor)
    if not scale > eps:
        scale = np.float32(1.0)
    return scale, np.float32(-min_val / scale)


@kernel
def qparams_of_channels(min_vals, max_vals, scheme, quant_min, quant_max, eps, symmetric_zero_point,
                        scales, zero_points, unpredictable, rounding=HALF_TO_EVEN, half_span=True, widen=True):
    """OBS-1.8: the per-tensor rule applied to each channel's range independently."""
    for channel in range(min_vals.size):
        if scheme == AFFINE_FLOAT_QPARAMS:
            scale, float_zero_point = float_qparams(min_vals[channel], max_vals[channel], quant_min, quant_max, eps)
            scales[channel] = scale
            zero_points[channel] = float_zero_point
        elif scheme == SYMMETRIC:
            scale, zero_point, flag = symmetric_qparams(min_vals[channel], max_vals[channel], quant_min, quant_max,
                                                        eps, symmetric_zero_point, half_span, widen)
            scales[channel] = scale
            zero_points[channel] = zero_point
            unpredictable[channel] = flag
        else:
            scale, zero_point, flag = affine_qparams(min_vals[channel], max_vals[channel], quant_min, quant_max, eps,
                                                     rounding, widen)
            scales[channel] = scale
            zero_points[channel] = zero_point
            unpredictable[channel] = flag


def symmetric_zero_point(target: QuantizationRange) -> int:
    """OBS-1.5: 0 for signed types; uint8: 128, or the floor midpoint of a custom range; uint16: $2^{15}$."""
    if target.dtype == "uint8":
        return (target.quant_min + target.quant_max) // 2 if target.customized else 128
    if target.dtype == "uint16":
        return 2**15
    return 0


def _range_values(value, argument: str) -> np.ndarray:
    if isinstance(value, (bool, np.bool_, str)):
        raise wrong_type(argument, "a float or 1-D float array", value)
    try:
        array = np.asarray(value)
    except Exception:
        raise wrong_type(argument, "a float or 1-D float array", value) from None
    if array.dtype.kind not in "fiu" or array.ndim > 1:
        raise wrong_type(argument, "a float or 1-D float array", value)
    with np.errstate(over="ignore"):
        return array.astype(np.float32)


def qparams_from_range(min_val, max_val, *, dtype: str = "uint8", qscheme: str = "affine",
                       reduce_range: bool = False, quant_min: int | None = None, quant_max: int | None = None,
                       narrow: bool = False, eps: float = FLOAT32_EPS, symmetric_divisor: str = "half_span",
                       zero_point_rounding: str = "half_to_even", zero_in_range: str = "widened") -> QParams:
    """OBS-1.7: scale and zero point of a range $[m_{min}, m_{max}]$ (torch's ``_calculate_qparams``).

    Args:
        min_val, max_val: float32 scalars (per tensor) or 1-D arrays of one value per channel
            (per channel); other float types are rounded to float32 first.
        dtype: target type, one of :data:`DTYPE_RANGES`.
        qscheme: one of :data:`QSCHEMES`.
        reduce_range, quant_min, quant_max, narrow: the target range (:func:`quantization_range`).
        eps: floor of the scale, rounded to float32; default ``torch.finfo(torch.float32).eps``.
        symmetric_divisor, zero_point_rounding, zero_in_range: the registry variants of the rule
            (:mod:`refq.registry.variants`); the defaults are torch's. ``zero_point_rounding`` is a
            rounding mode of NUM-2 (``half_to_even`` or ``half_away_from_zero``).

    Returns:
        :class:`QParams`. A per-tensor range that was never observed ($m_{min} = +\\infty$,
        $m_{max} = -\\infty$) and an empty per-channel range give torch's default $(1.0, 0)$
        (as 1-element arrays per channel).

    Raises:
        RefqValueError: $m_{min} > m_{max}$ (torch raises AssertionError), uint8 symmetric with
            ``reduce_range`` (torch raises NotImplementedError), or a bad option.
    """
    if not isinstance(qscheme, str) or qscheme not in QSCHEMES:
        raise invalid("qscheme", f"one of {list(QSCHEMES)}", qscheme)
    target = quantization_range(dtype, reduce_range=reduce_range, quant_min=quant_min, quant_max=quant_max,
                                narrow=narrow)
    if qscheme == "symmetric" and reduce_range and dtype == "uint8":
        raise invalid("reduce_range", "False for uint8 symmetric (torch: 'Cannot reduce range for symmetric "
                      "quantization for quint8')", reduce_range)
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps < 0:
        raise invalid("eps", "a finite float >= 0", eps)
    eps32 = np.float32(eps)
    minimum, maximum = _range_values(min_val, "min_val"), _range_values(max_val, "max_val")
    if minimum.shape != maximum.shape:
        raise invalid("max_val", f"the shape of min_val {minimum.shape}", maximum.shape)
    scheme = _SCHEME_CODES[qscheme]
    variant_code("zero_point_rounding", zero_point_rounding, "zero_point_rounding")
    rule = (rounding_mode(zero_point_rounding).code,
            variant_code("symmetric_divisor", symmetric_divisor, "symmetric_divisor") == 0,
            variant_code("zero_in_range", zero_in_range, "zero_in_range") == 0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _qparams(minimum, maximum, scheme, target, eps32, rule)


def _qparams(minimum: np.ndarray, maximum: np.ndarray, scheme: int, target: QuantizationRange,
             eps32: np.float32, rule: tuple[int, bool, bool] = (HALF_TO_EVEN, True, True)) -> QParams:
    rounding, half_span, widen = rule
    zero_point_fixed = symmetric_zero_point(target)
    if minimum.ndim == 0:
        low, high = minimum[()], maximum[()]
        if low == np.inf and high == -np.inf:
            return QParams(np.float32(1.0), 0, False)
        if low > high:
            raise invalid("min_val", f"<= max_val ({high})", float(low))
        if scheme == AFFINE_FLOAT_QPARAMS:
            scale, float_zero_point = float_qparams(low, high, target.quant_min, target.quant_max, eps32)
            return QParams(np.float32(scale), np.float32(float_zero_point), False)
        if scheme == SYMMETRIC:
            scale, zero_point, flag = symmetric_qparams(low, high, target.quant_min, target.quant_max, eps32,
                                                        zero_point_fixed, half_span, widen)
        else:
            scale, zero_point, flag = affine_qparams(low, high, target.quant_min, target.quant_max, eps32, rounding,
                                                     widen)
        return QParams(np.float32(scale), int(zero_point), bool(flag))
    if minimum.size == 0:
        return QParams(np.ones(1, np.float32), np.zeros(1, np.int64), np.zeros(1, bool))
    if np.any(minimum > maximum):
        channel = int(np.flatnonzero(minimum > maximum)[0])
        raise invalid(f"min_val[{channel}]", f"<= max_val[{channel}] ({maximum[channel]})", float(minimum[channel]))
    scales = np.empty(minimum.size, np.float32)
    zero_points = np.empty(minimum.size, np.float32 if scheme == AFFINE_FLOAT_QPARAMS else np.int64)
    unpredictable = np.zeros(minimum.size, bool)
    qparams_of_channels(np.ascontiguousarray(minimum), np.ascontiguousarray(maximum), scheme, target.quant_min,
                        target.quant_max, eps32, zero_point_fixed, scales, zero_points, unpredictable, rounding,
                        half_span, widen)
    return QParams(scales, zero_points, unpredictable)
