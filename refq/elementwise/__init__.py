"""Chapter ELT: elementwise, pooling and table operations on quantized tensors
(ONNX Runtime's contrib operators QLinearAdd, QLinearMul, QLinearSigmoid,
QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat; tanh as
DequantizeLinear → Tanh → QuantizeLinear; MaxPool on 8 bits; fused ReLU/ReLU6/clamp)."""

from refq.elementwise.activation import ACTIVATIONS, clamp_output, fused_activation_bounds
from refq.elementwise.binary import (add_fixed_part, add_ratios, add_value, convert_and_saturate, multiply_ratio,
                                     multiply_value, qlinear_add, qlinear_mul)
from refq.elementwise.concat import qlinear_concat, requantize_codes
from refq.elementwise.lookup import (build_table, hyperbolic_tangent, leaky_relu, logistic, lookup, qlinear_leaky_relu,
                                     qlinear_sigmoid, qlinear_tanh, table_inputs)
from refq.elementwise.operands import (DTYPES, FIRST_SCALAR, GENERAL, SECOND_SCALAR, broadcast_shape, span_role)
from refq.elementwise.pooling import global_average_channels, global_average_multiplier, qlinear_global_average_pool
from refq.elementwise.windows import max_pool, pooled_size, qlinear_average_pool

__all__ = [
    "ACTIVATIONS", "DTYPES", "FIRST_SCALAR", "GENERAL", "SECOND_SCALAR", "add_fixed_part", "add_ratios", "add_value",
    "broadcast_shape", "build_table", "clamp_output", "convert_and_saturate", "fused_activation_bounds",
    "global_average_channels", "global_average_multiplier", "hyperbolic_tangent", "leaky_relu", "logistic", "lookup",
    "max_pool", "multiply_ratio", "multiply_value", "pooled_size", "qlinear_add", "qlinear_average_pool",
    "qlinear_concat", "qlinear_global_average_pool", "qlinear_leaky_relu", "qlinear_mul", "qlinear_sigmoid",
    "qlinear_tanh", "requantize_codes", "span_role", "table_inputs",
]
