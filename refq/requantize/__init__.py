"""Chapter REQ: requantization — from an integer accumulator to the output's integer type."""

from refq.requantize.accumulator import accumulator_range, dot_product
from refq.requantize.fixed_point import (
    fixed_point_multiplier,
    requantize_fixed_point,
    requantize_fixed_point_with_outcomes,
)
from refq.requantize.float_multiplier import requantize_float, requantize_multiplier

__all__ = ["requantize_float", "requantize_multiplier", "fixed_point_multiplier", "requantize_fixed_point",
           "requantize_fixed_point_with_outcomes", "accumulator_range", "dot_product"]
