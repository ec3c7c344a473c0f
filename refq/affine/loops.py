"""AFF-3 and AFF-4 loops compiled once per variant combination.

:func:`quantize_loop` and :func:`dequantize_loop` return loops whose variant codes are
constants of a closure. Numba prunes the branches of the other variants before it types the
loop (so a float32 working precision stays in float32 lanes) and LLVM vectorises what is
left; Numba's cache keys each compiled loop by those constants, so a combination is compiled
once per machine, the first time it is used. Every combination with a float32 or float64
working precision has one; ``precision="exact"`` stays rational (AFF-3.8).

The per-element steps below compute what :func:`refq.affine.steps.quantize_value` and
:func:`refq.affine.steps.dequantize_value` define, in the working precision instead of
float64, and with the integer conversion of AFF-3.5 written as comparisons against bounds
computed once per run of elements sharing a scale, so that no element takes a branch of its
own. The equivalences they rely on:

* rounding is monotone and leaves integers unchanged, so clamping the rounded value $n$ to
  $[q_{min} - p, q_{max} - p]$ and adding the pending zero point $p$ afterwards (exact: every
  operand is an integer below $2^{17}$) equals clamping $n + p$;
* ``convert_then_clamp``'s int32 sum $n + p$ wraps only when $n \\ge 2^{31} - p$ (to a value
  below $-2^{31} + p$, which clamps to $q_{min}$) or $n < -2^{31} - p$ (clamps to $q_{max}$);
  for an integral float $n$, $n \\ge t$ exactly when $n$ is at least the smallest float of the
  working precision that is $\\ge t$;
* a conversion that overflows gives $-2^{31}$, to which $p$ is added: $q_{min}$ for $p \\ge 0$,
  $q_{max}$ (after wrapping) for $p < 0$; so every wrap, overflow and NaN gives one value, and one
  window test finds them all (:func:`run_constants`).

The rounding to nearest with ties away from zero is one addition and a truncation
(:func:`rounded_lane`, with its proof). A variant value that cannot change a result for a call's
scales and zero points is not paid for: :class:`QuantizeLoop` runs the loop of the cheaper value
(the flush of subnormals under ordinary scales, the NaN rule where the saturation gives a NaN the
same integer).

``tests/test_affine_loops.py`` checks every built-in profile's loops against the
step-by-step kernels and the oracle, bit for bit.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from refq._jit import Kernel, kernel
from refq.affine.steps import (
    AFTER_ROUNDING,
    BEFORE_ROUNDING,
    BEFORE_ROUNDING_FUSED,
    CLAMP_THEN_CONVERT,
    CONVERT_THEN_CLAMP,
    CONVERT_INT64_THEN_CLAMP,
    DIVIDE,
    FLOAT32,
    FLOAT32_SMALLEST_NORMAL,
    MULTIPLY_THEN_SUBTRACT,
    NAN_CONVERTED,
    NAN_QMAX,
    NAN_UNPREDICTABLE,
    NAN_ZERO,
    SUBNORMALS_FLUSHED,
    SUBNORMALS_PRESERVED,
    UNPREDICTABLE_OVERFLOW,
    dequantize_value,
    flushed_to_zero,
    fused_multiply_add_float32,
    parameter_index,
)
from refq.numbers.rounding import (CEIL, FLOOR, HALF_AWAY_FROM_ZERO, HALF_TO_EVEN, HALF_TOWARD_POSITIVE,
                                   HALF_TOWARD_ZERO, TOWARD_ZERO)

TWO_TO_31 = 2147483648.0
TWO_TO_63 = 9223372036854775808.0


@kernel
def scaled_lane(x, scale, reciprocal, offset, scale_operation, zero_point_placement, subnormals):
    """AFF-3.2, AFF-3.3, AFF-3.7: $v$ in the working precision, the type of ``scale``,
    ``reciprocal`` and ``offset`` (the zero point, exact in either precision); AFF-3.9 flushes a
    subnormal ``x`` and $v$ here, the reciprocal once per run."""
    if subnormals == SUBNORMALS_FLUSHED:
        x = flushed_to_zero(x)
    if zero_point_placement == BEFORE_ROUNDING_FUSED:
        value = fused_multiply_add_float32(x, reciprocal, offset)
    else:
        value = x / scale if scale_operation == DIVIDE else x * reciprocal
    if subnormals == SUBNORMALS_FLUSHED:
        value = flushed_to_zero(value)
    if zero_point_placement == BEFORE_ROUNDING:
        value = value + offset
    return value


@kernel
def rounded_lane(value, rounding, below_half):
    """AFF-3.4: NUM-2.3's rounding to an integral value, in the type of ``value``;
    ``below_half`` is the largest number of that type below $1/2$.

    The ceiling of a value that is not integral is its floor plus one (and the floor the
    ceiling minus one), so every other mode is a choice between ``floor`` and ``ceil`` (of $|v|$
    for the ties toward zero, whose sign ``copysign`` restores: $-0.4$ gives $-0$ as NUM-2.3
    does); $v - \\lfloor v \\rfloor$ is exact. An infinity gives a NaN fraction, which fails every
    comparison and keeps the infinity; a NaN stays NaN.

    ``half_away_from_zero`` is $\\mathrm{trunc}(\\mathrm{fl}(v + \\mathrm{copysign}(h, v)))$ with
    $h$ = ``below_half``, three vector instructions and no choice. Proof, for a binary format
    with $p$ significant bits ($h = 1/2 - 2^{-p-1}$) and $v \\ge 0$ (the sum, ``trunc`` and the
    rounding are odd functions, so $v < 0$ follows; $-0$ and $-0.4$ give $-0$): let
    $n = \\lfloor v + 1/2 \\rfloor$, the wanted result, and $w = v + h$ exactly.

    * $v \\ge 2^{p-1}$: $v$ is an integer, $n = v$, and floats near $v$ are at least 1 apart,
      so $w \\in (v, v + 1/2)$ rounds to $v$.
    * $n = 0$: $v < 1/2$, so $v \\le 1/2 - 2^{-p-1}$ and $0 \\le w \\le 1 - 2^{-p}$, below the
      midpoint $1 - 2^{-p-1}$ between 1 and the float below it: $0 \\le \\mathrm{fl}(w) < 1$.
    * $n \\ge 1$, $1/2 \\le v < 2^{p-1}$: from below, $w \\ge n - 1/2 + h = n - 2^{-p-1}$, at least the
      midpoint between $n$ and the float below it (floats below $n \\ge 1$ are at least $2^{-p}$
      apart; at $n = 1$ it is that midpoint, whose tie goes to the even 1), so
      $\\mathrm{fl}(w) \\ge n$. From above, with $s \\le 1/2$ the spacing of floats at $v$ and
      $S$ the spacing just below $n + 1$: $n + 1/2$ is a multiple of $s$, so
      $v \\le n + 1/2 - s$ and $w \\le n + 1 - s - 2^{-p-1}$; and $S \\le 2s$ (for $v \\ge 3/2$,
      $n + 1 \\le v + 3/2 \\le 2v$; for $v < 1$, $S = 2^{1-p} = 2s$; for $1 \\le v < 3/2$,
      $S = s$), so $w < n + 1 - S/2$, the midpoint below $n + 1$: $\\mathrm{fl}(w) < n + 1$.

    So $n \\le \\mathrm{fl}(w) < n + 1$ and the truncation is $n$. An infinity and a NaN pass
    through unchanged.
    """
    if rounding == HALF_TO_EVEN:
        return np.rint(value)
    if rounding == TOWARD_ZERO:
        return np.trunc(value)
    if rounding == FLOOR:
        return np.floor(value)
    if rounding == CEIL:
        return np.ceil(value)
    if rounding == HALF_AWAY_FROM_ZERO:
        return np.trunc(value + np.copysign(below_half, value))
    if rounding == HALF_TOWARD_POSITIVE:
        lower = np.floor(value)
        return np.ceil(value) if value - lower >= 0.5 else lower
    # HALF_TOWARD_ZERO rounds the magnitude, and the sign comes back at the end.
    magnitude = np.abs(value)
    lower = np.floor(magnitude)
    rounded = np.ceil(magnitude) if magnitude - lower > 0.5 else lower
    return np.copysign(rounded, value)


@kernel
def smallest_at_least(working, bound):
    """The smallest number of the ``working`` float type that is $\\ge$ the float64 ``bound``
    (an integer below $2^{32}$ in magnitude, exact in float64)."""
    nearest = working(bound)
    if np.float64(nearest) < bound:
        nearest = np.nextafter(nearest, working(np.inf))
    return nearest


@kernel
def run_constants(working, zero_point, qmin, qmax, zero_point_placement):
    """The bounds one run of elements sharing ``zero_point`` compares against (see the module
    text): ``(lower, upper, pending, offset, low, high, outside_result, below_half)``; ``offset``
    is the zero point, ``pending`` the part of it still to add after rounding, ``below_half`` the
    largest ``working`` number below $1/2$ (:func:`rounded_lane`).

    Under ``convert_then_clamp`` a rounded $n$ outside $[$``low``, ``high``$)$, or a NaN, gives
    ``outside_result``: with $p > 0$ the sum wraps from $2^{31} - p$ on, to $q_{min}$, and the
    conversion overflows at $2^{31}$ and below $-2^{31}$, to the $-2^{31} + p$ that the clamp
    takes to $q_{min}$; with $p < 0$ the sum wraps below $-2^{31} - p$, to $q_{max}$, as an
    overflow (above or below) does, $-2^{31} + p$ wrapping to $2^{31} + p$; with $p = 0$ only the
    conversion overflows, to $q_{min}$. So every one of these cases gives $q_{min}$ for $p \\ge 0$
    and $q_{max}$ for $p < 0$.
    """
    pending = zero_point if zero_point_placement == AFTER_ROUNDING else 0
    outside_result = np.int32(qmin) if pending >= 0 else np.int32(qmax)
    high = smallest_at_least(working, TWO_TO_31 - pending) if pending > 0 else working(TWO_TO_31)
    low = smallest_at_least(working, -TWO_TO_31 - pending) if pending < 0 else working(-TWO_TO_31)
    below_half = np.nextafter(working(0.5), working(0))
    return (working(qmin - pending), working(qmax - pending), working(pending), working(zero_point),
            low, high, outside_result, below_half)


@kernel
def saturated_lane(rounded, lower, upper, pending, low, high, outside_result, qmin, qmax, saturation,
                   conversion_overflow, pending_signs):
    """AFF-3.5 on the rounded value: ``(q, unpredictable)`` with ``q`` an int32. A NaN fails both
    comparisons of the clamp, which gives it ``lower``, so $q_{min}$, under ``clamp_then_convert``.

    ``pending_signs`` (:func:`pending_zero_point_signs`) is 1 when every pending zero point $p$ of the
    loop is $\\ge 0$ and -1 when every one is negative: then ``convert_then_clamp`` compares each value
    on one side only, since the clamp alone gives the other side's ``outside_result``."""
    if saturation == CONVERT_INT64_THEN_CLAMP:
        shifted = np.float32(rounded) + np.float32(pending)
        clamped = shifted if shifted > np.float32(qmin) else np.float32(qmin)
        clamped = clamped if clamped < np.float32(qmax) else np.float32(qmax)
        # The conversion's -2^63 clamps to q_min, which the clamp gives below -2^63 and a NaN already.
        q = np.int32(clamped) if shifted < TWO_TO_63 else np.int32(qmin)
        in_range = (shifted >= -TWO_TO_63) & (shifted < TWO_TO_63)
        return q, (conversion_overflow == UNPREDICTABLE_OVERFLOW) & (not in_range)
    clamped = rounded if rounded > lower else lower
    clamped = clamped if clamped < upper else upper
    q = np.int32(clamped + pending)
    if saturation == CLAMP_THEN_CONVERT:
        return q, False
    # One window for the wraps, the overflows and NaN, which fails both comparisons (run_constants).
    inside = (rounded >= low) & (rounded < high)
    if pending_signs > 0:
        q = q if rounded < high else outside_result  # below low the clamp gives q_min too
    elif pending_signs < 0:
        q = q if rounded >= low else outside_result  # from high on the clamp gives q_max too
    else:
        q = q if inside else outside_result
    return q, (conversion_overflow == UNPREDICTABLE_OVERFLOW) & (not inside)


@kernel
def quantize_lane(x, scale, reciprocal, constants, nan_result, qmin, qmax, scale_operation, zero_point_placement,
                  rounding, saturation, conversion_overflow, nan, subnormals, pending_signs):
    """AFF-3.1 for one element: ``(q, unpredictable)``, as :func:`refq.affine.steps.quantize_value`."""
    lower, upper, pending, offset, low, high, outside_result, below_half = constants
    value = scaled_lane(x, scale, reciprocal, offset, scale_operation, zero_point_placement, subnormals)
    q, unpredictable = saturated_lane(rounded_lane(value, rounding, below_half), lower, upper, pending, low, high,
                                      outside_result, qmin, qmax, saturation, conversion_overflow, pending_signs)
    if nan != NAN_CONVERTED:
        is_nan = value != value
        q = nan_result if is_nan else q
        unpredictable = (nan == NAN_UNPREDICTABLE) if is_nan else unpredictable
    return q, unpredictable


def nan_result(nan: int, qmin: int, qmax: int) -> int:
    """AFF-3.6: what a NaN quantizes to (``qmin`` for ``unpredictable``, as quantize_value gives)."""
    if nan == NAN_QMAX:
        return qmax
    if nan == NAN_ZERO:
        return min(max(0, qmin), qmax)
    return qmin


#: NUM-2.1's modes to the nearest integer: they differ only on ties, and send $|v| < 1/2$ to zero.
NEAREST_MODES = (HALF_TO_EVEN, HALF_AWAY_FROM_ZERO, HALF_TOWARD_POSITIVE, HALF_TOWARD_ZERO)
#: A subnormal $x$ times a reciprocal of at most this stays below $1/4$.
SUBNORMAL_PRODUCT_RECIPROCAL = 2.0**124


def pending_zero_point_signs(saturation: int, zero_point_placement: int, zero_point3: np.ndarray) -> int:
    """For ``convert_then_clamp``: 1 when every zero point still to add after rounding is $\\ge 0$ (none
    is, before rounding), -1 when every one is negative, 0 when they differ; 0 for every other saturation,
    whose loops do not look at it."""
    if saturation != CONVERT_THEN_CLAMP:
        return 0
    if zero_point_placement != AFTER_ROUNDING or zero_point3.size == 0 or zero_point3.min() >= 0:
        return 1
    return -1 if zero_point3.max() < 0 else 0


def nan_from_saturation(saturation: int, pending_signs: int, qmin: int, qmax: int) -> int | None:
    """What :func:`saturated_lane` gives a NaN for every zero point of a call, or None where that
    depends on the zero point: $q_{min}$ from the clamp, or ``convert_then_clamp``'s
    ``outside_result`` (:func:`run_constants`), $q_{min}$ for $p \\ge 0$ and $q_{max}$ for $p < 0$."""
    if saturation != CONVERT_THEN_CLAMP or pending_signs > 0:
        return qmin
    return qmax if pending_signs < 0 else None


def flush_changes_nothing(rounding: int, reciprocal3: np.ndarray) -> bool:
    """Whether AFF-3.9's flush of subnormals cannot change a result under these reciprocals (AFF-5.1
    allows the flush only with ``multiply_reciprocal`` in float32).

    Under a mode to the nearest integer, a $|v| < 2^{-126}$ rounds to $\\pm 0$ as its flushed
    zero does, and adding a zero point $z$ first (fused or not) gives $z$ either way (floats within
    $1/4$ of an integer $|z| < 2^{17}$ round to it). A subnormal $x$ times a reciprocal $r \\le
    2^{124}$ is at most $1/4$ in magnitude, which rounds to zero (or, with $z$ added, to $z$) as
    its flushed zero does; an $r \\ge 2^{-126}$ is normal, which the flush leaves alone. (An
    infinite $r$, whose $0 \\cdot \\infty$ is a NaN, is excluded.)
    """
    if rounding not in NEAREST_MODES:
        return False
    if reciprocal3.size == 0:
        return True
    return bool(reciprocal3.min() >= FLOAT32_SMALLEST_NORMAL and reciprocal3.max() <= SUBNORMAL_PRODUCT_RECIPROCAL)


@dataclasses.dataclass(frozen=True)
class QuantizeLoop:
    """The AFF-3.1 loop for one combination of variant ``codes`` (in :func:`quantize_loop`'s order).

    Each call runs the loop generated for the cheapest combination that gives the same bits for
    its scales and zero points: ``subnormals = preserved`` where :func:`flush_changes_nothing`,
    and, when no outcomes are asked for, ``nan = converted`` where the NaN result is what the
    saturation gives a NaN anyway (:func:`nan_from_saturation`), so the loop spends no
    instructions on a rule that cannot show; and a ``convert_then_clamp`` loop for zero points of
    one sign (:func:`pending_zero_point_signs`).
    """

    codes: tuple[int, ...]
    outcomes: bool

    def equivalent_codes(self, reciprocal3, zero_point3, qmin: int, qmax: int, nan_value: int) -> tuple[int, ...]:
        """The variant codes the call runs, then its ``pending_signs``."""
        (scale_operation, precision, zero_point_placement, rounding, saturation, conversion_overflow, nan,
         subnormals) = self.codes
        signs = pending_zero_point_signs(saturation, zero_point_placement, zero_point3)
        if subnormals == SUBNORMALS_FLUSHED and flush_changes_nothing(rounding, reciprocal3):
            subnormals = SUBNORMALS_PRESERVED
        if not self.outcomes and nan != NAN_CONVERTED and nan_value == nan_from_saturation(saturation, signs, qmin,
                                                                                            qmax):
            nan = NAN_CONVERTED
        return (scale_operation, precision, zero_point_placement, rounding, saturation, conversion_overflow, nan,
                subnormals, signs)

    def __call__(self, x3, scale3, reciprocal3, zero_point3, block, qmin, qmax, nan_value, out3, unpredictable3):
        codes = self.equivalent_codes(reciprocal3, zero_point3, qmin, qmax, nan_value)
        generated_quantize_loop(*codes, self.outcomes)(x3, scale3, reciprocal3, zero_point3, block, qmin, qmax,
                                                        nan_value, out3, unpredictable3)


@functools.cache
def quantize_loop(scale_operation: int, precision: int, zero_point_placement: int, rounding: int, saturation: int,
                  conversion_overflow: int, nan: int, subnormals: int, outcomes: bool) -> QuantizeLoop:
    """The AFF-3.1 loop over an ``(outer, length, inner)`` view for one combination of variant codes;
    it marks unpredictable elements in ``unpredictable3`` only when ``outcomes`` is true."""
    return QuantizeLoop((scale_operation, precision, zero_point_placement, rounding, saturation, conversion_overflow,
                         nan, subnormals), outcomes)


@functools.cache
def generated_quantize_loop(scale_operation: int, precision: int, zero_point_placement: int, rounding: int,
                            saturation: int, conversion_overflow: int, nan: int, subnormals: int, pending_signs: int,
                            outcomes: bool) -> Kernel:
    """The loop compiled for exactly these variant codes and ``pending_signs`` (:func:`saturated_lane`;
    :class:`QuantizeLoop` chooses which)."""

    def quantize_blocks_of_variants(x3, scale3, reciprocal3, zero_point3, block, qmin, qmax, nan_value, out3,
                                    unpredictable3):
        working = np.float32 if precision == FLOAT32 else np.float64
        nan_q = np.int32(nan_value)
        outer, length, inner = x3.shape
        scale_outer, _, scale_inner = scale3.shape
        for o in range(outer):
            for d in range(length):
                # One scale for the whole inner run: the run is one vectorised loop.
                for i in range(inner if scale_inner > 1 else 1):
                    so, b, si = parameter_index(o, d, i, scale_outer, scale_inner, block)
                    end = i + 1 if scale_inner > 1 else inner
                    constants = run_constants(working, zero_point3[so, b, si], qmin, qmax, zero_point_placement)
                    scale, reciprocal = working(scale3[so, b, si]), working(reciprocal3[so, b, si])
                    if subnormals == SUBNORMALS_FLUSHED:
                        reciprocal = flushed_to_zero(reciprocal)
                    x, out = x3[o, d, i:end], out3[o, d, i:end]
                    for k in range(x.size):
                        q, unpredictable = quantize_lane(x[k], scale, reciprocal, constants, nan_q, qmin, qmax,
                                                         scale_operation, zero_point_placement, rounding, saturation,
                                                         conversion_overflow, nan, subnormals, pending_signs)
                        out[k] = q
                        if outcomes:
                            unpredictable3[o, d, i + k] = unpredictable

    return Kernel(quantize_blocks_of_variants)


@kernel
def dequantize_lane(q, scale, zero_point, zero_point_product, formula, precision, difference, narrow):
    """AFF-4.2 for one element, as :func:`refq.affine.steps.dequantize_value`.

    ``narrow`` (types of at most 16 bits): $q - z$ is exact in float32, so every
    ``subtract_then_multiply`` variant is $\\mathrm{fl_{32}}((q - z) s)$, one rounding (the float64
    product of a 17-bit and a 24-bit integer is exact too). ``multiply_then_subtract`` takes
    $z s$, rounded in the working precision, as ``zero_point_product``.
    """
    if formula == MULTIPLY_THEN_SUBTRACT and narrow:
        if precision == FLOAT32:
            return np.float32(q) * scale - zero_point_product
        return np.float32(np.float64(q) * np.float64(scale) - zero_point_product)
    if narrow:
        return (np.float32(q) - np.float32(zero_point)) * scale
    return dequantize_value(np.int64(q), scale, zero_point, formula, precision, difference)


@functools.cache
def dequantize_loop(formula: int, precision: int, difference: int, narrow: bool) -> Kernel:
    """The AFF-4.2 loop over an ``(outer, length, inner)`` view for one combination of variant
    codes; ``narrow`` for types of at most 16 bits."""

    def dequantize_blocks_of_variants(q3, scale3, zero_point3, block, out3):
        outer, length, inner = q3.shape
        scale_outer, _, scale_inner = scale3.shape
        for o in range(outer):
            for d in range(length):
                for i in range(inner if scale_inner > 1 else 1):
                    so, b, si = parameter_index(o, d, i, scale_outer, scale_inner, block)
                    end = i + 1 if scale_inner > 1 else inner
                    scale, zero_point = scale3[so, b, si], zero_point3[so, b, si]
                    if precision == FLOAT32:
                        zero_point_product = np.float32(zero_point) * scale
                    else:
                        zero_point_product = np.float64(zero_point) * np.float64(scale)
                    q, out = q3[o, d, i:end], out3[o, d, i:end]
                    for k in range(q.size):
                        out[k] = dequantize_lane(q[k], scale, zero_point, zero_point_product, formula, precision,
                                                 difference, narrow)

    return Kernel(dequantize_blocks_of_variants)
