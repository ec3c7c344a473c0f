"""Chapter REQ: requantization — from an integer accumulator to the output's integer type.

The package is also ``refq.requantize``, the top-level function: called, it is
:func:`refq.requantize.float_multiplier.requantize_float` (the float-multiplier rule of
ONNX and PyTorch), so ``refq.requantize(accumulator, multiplier, zero_point, dtype="int8")``
works while ``refq.requantize.fixed_point`` stays the module it always was.
"""

import sys
import types

from refq.requantize.accumulator import accumulator_range, dot_product
from refq.requantize.fixed_point import (
    fixed_point_multiplier,
    requantize_fixed_point,
    requantize_fixed_point_with_outcomes,
)
from refq.requantize.float_multiplier import requantize_float, requantize_multiplier

__all__ = ["requantize_float", "requantize_multiplier", "fixed_point_multiplier", "requantize_fixed_point",
           "requantize_fixed_point_with_outcomes", "accumulator_range", "dot_product"]


class _CallableChapter(types.ModuleType):
    # A function named ``refq.requantize`` would be replaced by this package the moment anything
    # imports ``refq.requantize.<module>`` (the import system sets the attribute): so the package
    # itself is what ``refq.requantize`` calls.
    def __call__(self, *args, **kwargs):
        return requantize_float(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(requantize_float)


sys.modules[__name__].__class__ = _CallableChapter
