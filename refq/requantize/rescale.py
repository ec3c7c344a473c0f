"""REQ-2.8, REQ-2.9: TOSA's ``RESCALE`` operator, whole: input zero point, scale, output zero point, saturation.

REQ-2.6 (:func:`refq.requantize.fixed_point.requantize_fixed_point`) is the accumulator's requantization
in integer layers: an int32 or int48 accumulator to an 8- or 16-bit output. TOSA's ``RESCALE`` is the
operator it comes from, which does more: it also reads 8- and 16-bit inputs with a zero point (read as
unsigned when the input is ``uint8`` or ``uint16``, TOSA's ``input_unsigned``), writes int32 and unsigned
outputs (``output_unsigned``), and takes its multiplier and shift as data, so that a shift outside
$[2, 62]$ or a negative multiplier is something a graph can hold: TOSA leaves it unpredictable.

Types are numpy's: an int48 input (TOSA ``i48_t``) is an ``int64`` array of values within 48 bits; the
unsigned flags are the dtypes ``uint8`` and ``uint16`` of the input and of ``dtype``.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.registry.variants import variant_code
from refq.requantize.fixed_point import DOUBLE_ROUND, DOUBLE_ROUND_TIES_UP, requantize_fixed_point_value

#: Input dtype -> (TOSA type, bits, unsigned); ``int64`` carries TOSA's int48.
INPUT_TYPES = {"int8": ("i8_t", 8, False), "uint8": ("i8_t", 8, True), "int16": ("i16_t", 16, False),
               "uint16": ("i16_t", 16, True), "int32": ("i32_t", 32, False), "int64": ("i48_t", 48, False)}
#: Output dtype -> (TOSA type, bits, unsigned).
OUTPUT_TYPES = {"int8": ("i8_t", 8, False), "uint8": ("i8_t", 8, True), "int16": ("i16_t", 16, False),
                "uint16": ("i16_t", 16, True), "int32": ("i32_t", 32, False)}
#: TOSA's ``rounding_mode`` values refq defines (INEXACT_ROUND leaves the rounding to the implementation).
ROUNDING_MODES = ("single_round", "double_round")
#: The shifts TOSA's ``apply_scale_32`` and ``apply_scale_16`` REQUIRE.
SHIFT_MIN, SHIFT_MAX = 2, 62


def _range(bits: int, unsigned: bool) -> tuple[int, int]:
    return (0, (1 << bits) - 1) if unsigned else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _integers(values, argument: str, low: int, high: int, allowed: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception:  # numpy raises many types for ragged input
        raise wrong_type(argument, allowed, values) from None
    if array.dtype.kind not in "iu" or array.dtype == np.bool_:
        raise wrong_type(argument, allowed, values)
    wide = array.astype(np.int64)
    outside = (wide < low) | (wide > high)
    if outside.any():
        raise invalid(argument, allowed, int(wide[outside].flat[0]))
    return wide


def _zero_point(value, argument: str, bits: int, unsigned: bool, name: str) -> int:
    """REQ-2.8: an 8-bit type takes any zero point of its range, a ``uint16`` 0 or 32768, the others 0 only."""
    if value is None:
        return 0
    low, high = _range(bits, unsigned)
    array = _integers(value, argument, low, high, f"an integer of {name}'s range [{low}, {high}]")
    if array.size != 1:
        raise invalid(argument, "one value (TOSA has one zero point per tensor)", array.shape)
    zero = int(array.reshape(-1)[0])
    if bits == 16 and unsigned:
        if zero not in (0, 32768):
            raise invalid(argument, f"0 or 32768 for {name}", zero)
    elif bits != 8 and zero != 0:
        raise invalid(argument, f"0 for {name} (TOSA allows a zero point on 8-bit and uint16 tensors only)", zero)
    return zero


@kernel
def rescale_rows(values2, multiplier, shift, output_zero_point, qmin, qmax, double_round, scale32, out2,
                 unpredictable2):
    """REQ-2.9 on every element of the ``(rows, channels)`` view (channel ``c`` takes ``multiplier[c]`` and
    ``shift[c]``, index 0 when one is given): a shift outside $[2, 62]$ or a negative multiplier makes the
    element unpredictable (refq writes the output zero point, saturated); otherwise REQ-2.6."""
    rows, channels = values2.shape
    per_channel = multiplier.size > 1
    for r in range(rows):
        for c in range(channels):
            k = c if per_channel else 0
            if shift[k] < 2 or shift[k] > 62 or multiplier[k] < 0:
                out2[r, c] = min(max(output_zero_point, np.int64(qmin)), np.int64(qmax))
                unpredictable2[r, c] = True
            else:
                q, unpredictable = requantize_fixed_point_value(values2[r, c], multiplier[k], shift[k],
                                                                output_zero_point, qmin, qmax, double_round, scale32)
                out2[r, c] = q
                unpredictable2[r, c] = unpredictable


def rescale_with_outcomes(input, multiplier, shift, input_zp=None, output_zp=None, *, dtype: str = "int8",
                          scale32: bool = True, rounding_mode: str = "double_round",
                          per_channel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """REQ-2.8, REQ-2.9: :func:`rescale`, also returning where the result is unpredictable."""
    source = np.asarray(input)
    input_name = source.dtype.name
    if input_name not in INPUT_TYPES:
        raise wrong_type("input", "an int8, uint8, int16, uint16, int32 or int64 (int48) array", input)
    if not isinstance(dtype, str) or dtype not in OUTPUT_TYPES:
        raise invalid("dtype", "one of " + ", ".join(OUTPUT_TYPES), dtype)
    in_type, in_bits, in_unsigned = INPUT_TYPES[input_name]
    out_type, out_bits, out_unsigned = OUTPUT_TYPES[dtype]
    for name, flag in (("scale32", scale32), ("per_channel", per_channel)):
        if not isinstance(flag, (bool, np.bool_)):
            raise wrong_type(name, "True or False", flag)
    if not isinstance(rounding_mode, str) or rounding_mode not in ROUNDING_MODES:
        raise invalid("rounding_mode", "'single_round' or 'double_round' (TOSA's INEXACT_ROUND leaves the "
                                       "rounding to the implementation)", rounding_mode)
    rounding = variant_code("fixed_point_rounding", rounding_mode, "rounding_mode")
    if rounding == DOUBLE_ROUND_TIES_UP:  # not in ROUNDING_MODES; kept so that a new variant value cannot slip in
        raise invalid("rounding_mode", "'single_round' or 'double_round'", rounding_mode)
    # TOSA's ERROR_IFs (REQ-2.8).
    if in_unsigned and out_unsigned:
        raise invalid("dtype", f"a signed type for a {input_name} input (TOSA: input_unsigned and output_unsigned "
                               "are not both set)", dtype)
    if out_type == "i32_t" and in_unsigned:
        raise invalid("dtype", f"not int32 for a {input_name} input (TOSA: no int32 output of an unsigned input)",
                      dtype)
    if in_type in ("i32_t", "i48_t") and out_unsigned:
        raise invalid("dtype", f"a signed type for an {input_name} input (TOSA: no unsigned output of an "
                               "int32 or int48 input)", dtype)
    if scale32 and in_type == "i48_t":
        raise invalid("scale32", "False for an int48 (int64) input (the 32-bit form takes 32-bit values)", scale32)
    double_round = rounding == DOUBLE_ROUND
    if double_round and not scale32:
        raise invalid("rounding_mode", "'single_round' with scale32=False (TOSA defines DOUBLE_ROUND for the "
                                       "32-bit form only)", rounding_mode)
    if per_channel and source.ndim == 0:
        raise invalid("per_channel", "False for a rank-0 input (the channel is the last axis)", per_channel)
    low, high = _range(in_bits, in_unsigned)
    values = _integers(source, "input", low, high, f"integers of {in_type}'s range [{low}, {high}]")
    multiplier_low, multiplier_high = _range(32 if scale32 else 16, False)
    multipliers = _integers(multiplier, "multiplier", multiplier_low, multiplier_high,
                            f"int{32 if scale32 else 16} integers (scale32={bool(scale32)})").reshape(-1)
    shifts = _integers(shift, "shift", -128, 127, "int8 integers").reshape(-1)
    channels = source.shape[-1] if per_channel else 1
    if multipliers.size != channels:
        raise invalid("multiplier", f"{channels} value(s): one per index of the input's last axis with per_channel, "
                                    "one otherwise", multipliers.size)
    if shifts.size != channels:
        raise invalid("shift", f"{channels} value(s), as many as multiplier", shifts.size)
    input_zero = _zero_point(input_zp, "input_zp", in_bits, in_unsigned, input_name)
    output_zero = _zero_point(output_zp, "output_zp", out_bits, out_unsigned, dtype)
    qmin, qmax = _range(out_bits, out_unsigned)
    result = np.empty(source.shape, dtype=np.dtype(dtype))
    unpredictable = np.zeros(source.shape, dtype=np.bool_)
    shape2 = (values.size // channels if channels else 0, channels)
    out2 = np.empty(shape2, np.int64)
    rescale_rows(np.ascontiguousarray(values - input_zero).reshape(shape2), multipliers, shifts, np.int64(output_zero),
                 qmin, qmax, double_round, bool(scale32), out2, unpredictable.reshape(shape2))
    result[...] = out2.reshape(source.shape)
    return result, unpredictable


def rescale(input, multiplier, shift, input_zp=None, output_zp=None, *, dtype: str = "int8", scale32: bool = True,
            rounding_mode: str = "double_round", per_channel: bool = False) -> np.ndarray:
    """REQ-2.8: TOSA ``RESCALE``: $q = \\mathrm{sat}(\\mathrm{scale}(x - z_x) + z_y)$ for every element.

    ``input`` is int8, uint8, int16, uint16, int32 or int64 (TOSA's int48); ``dtype`` is the output's type
    (int8, uint8, int16, uint16 or int32). ``multiplier`` and ``shift`` are one value each, or with
    ``per_channel`` one per index of the input's last axis; ``scale32`` picks the 32-bit form (int32
    multipliers, REQ-2.4's ``apply_scale_32``) or the 16-bit one (int16 multipliers, single rounding).
    Where TOSA REQUIREs something the data break (REQ-2.9) the element is unpredictable: see
    :func:`rescale_with_outcomes`.
    """
    return rescale_with_outcomes(input, multiplier, shift, input_zp, output_zp, dtype=dtype, scale32=scale32,
                                 rounding_mode=rounding_mode, per_channel=per_channel)[0]
