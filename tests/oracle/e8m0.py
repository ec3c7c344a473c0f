"""An oracle for casts into E8M0 (NUM-3.21, NUM-3.22) from the words of the clauses, on float32 bit
fields with Python integers: a different route from refq's, which works on ``numpy.frexp`` of the value."""

from __future__ import annotations


def _log2_parts(bits: int) -> tuple[int, bool, bool]:
    """(floor(log2 x), x is a power of two, x >= 1.5 * 2^floor) for a positive finite float32's bits."""
    field, mantissa = (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if field:
        return field - 127, mantissa == 0, mantissa >= 0x400000
    length = mantissa.bit_length()  # a subnormal: mantissa * 2^-149
    return length - 1 - 149, mantissa & (mantissa - 1) == 0, length >= 2 and mantissa >= 3 << (length - 2)


def oracle(bits: int, round_mode: str, saturate: bool, rule: str) -> int:
    """The E8M0 pattern of one float32 (by its bits) under ``rule``, from the clauses' words."""
    negative, field, mantissa = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if rule == "exponent_field":
        if field == 0xFF:
            return 0xFF
        if round_mode == "up":
            raised = mantissa != 0
        elif round_mode == "nearest":
            raised = bool(mantissa & 0x400000) and (bool(mantissa & 0x3FFFFF) or field > 0)
        else:
            raised = False
        return field if saturate and field == 0xFE else field + raised
    nan = field == 0xFF and mantissa != 0
    if nan:
        return 0xFF
    zero = field == 0 and mantissa == 0
    if rule == "range_first":
        if negative or zero:
            return 0x00 if saturate else 0xFF
        if field == 0xFF:
            return 0xFE if saturate else 0xFF
        floor, power, upper_half = _log2_parts(bits)
        if floor < -127:
            return 0x00 if saturate else 0xFF
        if floor == 127 and not power:
            return 0xFE if saturate else 0xFF
    else:  # nearest_value
        if negative:
            return 0xFF
        if zero:
            return 0x00 if round_mode == "up" or (round_mode == "down" and saturate) else 0xFF
        if field == 0xFF:
            return 0xFE if saturate else 0xFF
        floor, power, upper_half = _log2_parts(bits)
    if round_mode == "up":
        exponent = floor + (not power)
    elif round_mode == "down":
        exponent = floor
    else:
        exponent = floor + upper_half
    if exponent > 127:
        return 0xFE if saturate else 0xFF
    if exponent < -127:
        if rule == "nearest_value" and round_mode == "down" and not saturate:
            return 0xFF
        return 0x00
    return exponent + 127
