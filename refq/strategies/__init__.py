"""Hypothesis strategies for quantization: the inputs that find the last-bit bugs.

Written in Hypothesis's own style: plural names, keyword arguments with
``min_value``/``max_value`` naming, every argument validated when the strategy is
built (a bad one raises :class:`InvalidArgument`, which is both a
:class:`refq.errors.RefqValueError` and a ``hypothesis.errors.InvalidArgument``),
and no argument that may be "a value or a strategy".

Floats are drawn **by bit pattern**, never by value: an integer key is drawn and
mapped to a pattern, so every class of the format (zeros, subnormals, normals,
infinities, NaNs with any payload) is reachable, and a failing example shrinks
toward simple patterns (``+0.0``, ``1.0``, small keys) rather than toward arbitrary
decimals.

The package follows Hypothesis's own split: ``validation`` checks every argument (as
``hypothesis.internal.validation`` does), and the strategies live apart by what they draw:
``values`` (scalars by bit pattern), ``arrays`` (shapes and tensors), ``parameters``
(scales and zero points), ``adversarial`` (ties and saturation edges) and ``problems``
(whole quantize, dequantize, observer and matmul inputs). Everything public is importable from here.

Example::

    from hypothesis import given
    from refq import strategies as rst
    from refq.affine import quantize

    @given(rst.quantize_problems(dtypes=("int8", "uint8"), granularities=("per_tensor", "per_axis")))
    def test_my_kernel(problem):
        assert (my_quantize(problem.x, problem.scale, problem.zero_point, **problem.attributes)
                == quantize(problem.x, problem.scale, problem.zero_point, **problem.attributes)).all()
"""

from __future__ import annotations

from refq.strategies.adversarial import near_ties, saturation_edges, step_ulps
from refq.strategies.arrays import shapes, tensors
from refq.strategies.parameters import (INVALID_KINDS, InvalidQuantizationParameters, QuantizationParameters,
                                        elementwise_parameters, invalid_quantization_parameters,
                                        quantization_parameters)
from refq.strategies.problems import (DequantizeProblem, MatmulProblem, QuantizeProblem, dequantize_problems,
                                      matmul_problems, observer_batches, quantize_problems)
from refq.strategies.validation import (DEQUANTIZE_DTYPES, GRANULARITIES, QUANTIZE_DTYPES, InvalidArgument,
                                        container_dtype, float_format_argument, integer_format_argument)
from refq.strategies.values import (float32_values, format_patterns, format_values, integer_values, pattern_values,
                                    scales)

__all__ = [
    "DEQUANTIZE_DTYPES", "DequantizeProblem", "GRANULARITIES", "INVALID_KINDS", "InvalidArgument",
    "InvalidQuantizationParameters", "MatmulProblem", "QUANTIZE_DTYPES", "QuantizationParameters", "QuantizeProblem",
    "container_dtype", "dequantize_problems", "elementwise_parameters", "float32_values", "float_format_argument",
    "format_patterns", "format_values", "integer_format_argument", "integer_values", "invalid_quantization_parameters",
    "matmul_problems", "near_ties", "observer_batches", "pattern_values", "quantization_parameters",
    "quantize_problems", "saturation_edges", "scales", "shapes", "step_ulps", "tensors",
]
