"""Chapter REQ: requantization — from an integer accumulator to the output's integer type."""

from refq.requantize.float_multiplier import requantize_float, requantize_multiplier

__all__ = ["requantize_float", "requantize_multiplier"]
