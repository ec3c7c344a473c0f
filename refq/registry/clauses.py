"""Clause IDs: every normative statement of the spec, and the refq function that executes it.

The spec's Markdown marks a clause with ``[[ID]]`` at the start of a paragraph;
the docs render it as a permalink. Tests check that the IDs here and the IDs in
``spec/`` are the same set, each appearing once, and that every implementing
name resolves to a real refq object.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    prefix: str
    slug: str  # file name in spec/ without .md
    title: str


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    #: Dotted names (``module:qualname``) of the refq objects that execute the clause;
    #: empty for purely descriptive clauses (notation, informative contrasts).
    implemented_by: tuple[str, ...] = ()


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("NUM", "numbers", "Number formats"),
    Chapter("AFF", "affine", "Affine quantization"),
    Chapter("OBS", "observers", "Observers, calibration and dynamic quantization"),
    Chapter("REQ", "requantization", "Requantization"),
    Chapter("INT", "integer_ops", "Integer operations"),
    Chapter("QAT", "qat", "Quantization-aware training"),
    Chapter("ELT", "elementwise", "Elementwise, pooling and table operations"),
    Chapter("GGF", "gguf", "ggml (GGUF) block quantization"),
)

_NUMBERS_INTEGERS: tuple[Clause, ...] = (
    Clause("NUM-1.1", "Integer formats", ("refq.registry:integer_format",)),
    Clause("NUM-1.2", "Range, and the narrow range", ("refq.numbers.integers.ranges:integer_range",)),
    Clause("NUM-1.3", "Storage type of unpacked values", ("refq.numbers.integers.ranges:storage_dtype",)),
    Clause("NUM-1.4", "Value of a two's-complement pattern", ("refq.numbers.integers.twos_complement:from_twos_complement",)),
    Clause("NUM-1.5", "Two's-complement pattern of a value", ("refq.numbers.integers.twos_complement:to_twos_complement",)),
    Clause("NUM-1.6", "Sign extension", ("refq.numbers.integers.twos_complement:sign_extend",)),
    Clause("NUM-1.7", "Wrapping (modular reduction)",
           ("refq.numbers.integers.conversion:wrap", "refq.numbers.integers.conversion:wrap_array")),
    Clause("NUM-1.8", "Saturation (clamping)",
           ("refq.numbers.integers.conversion:saturate", "refq.numbers.integers.conversion:saturate_array")),
    Clause("NUM-1.9", "Packing 1-, 2- and 4-bit integers", ("refq.numbers.integers.packing:pack",)),
    Clause("NUM-1.10", "Unpacking", ("refq.numbers.integers.packing:unpack",)),
)

_NUMBERS_ROUNDING: tuple[Clause, ...] = (
    Clause("NUM-2.1", "Rounding modes", ("refq.registry.rounding:ROUNDING_MODES",)),
    Clause("NUM-2.2", "Rounding an exact rational to an integer", ("refq.numbers.rounding:round_rational",)),
    Clause("NUM-2.3", "Rounding a float to an integral float", ("refq.numbers.rounding:round_to_integral",)),
    Clause("NUM-2.4", "Rounding arrays of floats",
           ("refq.numbers.rounding:round_array", "refq.numbers.rounding:round_elements")),
)

_NUMBERS_FLOATS: tuple[Clause, ...] = (
    Clause("NUM-3.1", "Fields of a pattern", ("refq.numbers.floats.decode:split_fields",)),
    Clause("NUM-3.2", "Classes and special-value conventions", ("refq.numbers.floats.decode:classify",)),
    Clause("NUM-3.3", "Value of a finite pattern", ("refq.numbers.floats.decode:finite_value",)),
    Clause("NUM-3.4", "Quiet and signalling NaNs, payload", ("refq.numbers.floats.decode:nan_fields",)),
    Clause("NUM-3.5", "Decoding a pattern", ("refq.numbers.floats.decode:decode",)),
    Clause("NUM-3.6", "Largest finite value", ("refq.numbers.floats.constants:max_finite",)),
    Clause("NUM-3.7", "Smallest normal value", ("refq.numbers.floats.constants:min_normal",)),
    Clause("NUM-3.8", "Smallest subnormal value", ("refq.numbers.floats.constants:min_subnormal",)),
    Clause("NUM-3.9", "Machine epsilon", ("refq.numbers.floats.constants:epsilon",)),
    Clause("NUM-3.10", "Unit in the last place", ("refq.numbers.floats.constants:ulp",)),
    Clause("NUM-3.11", "Next value up and down",
           ("refq.numbers.floats.constants:next_up", "refq.numbers.floats.constants:next_down")),
    Clause("NUM-3.12", "Encoding a value", ("refq.numbers.floats.encode:encode",)),
    Clause("NUM-3.13", "Rounding to nearest even, gradual underflow",
           ("refq.numbers.floats.encode:round_magnitude", "refq.numbers.floats.encode:round_to_format")),
    Clause("NUM-3.14", "Signed zero", ("refq.numbers.floats.encode:signed_zero",)),
    Clause("NUM-3.15", "Overflow policies", ("refq.numbers.floats.encode:overflow_pattern",)),
    Clause("NUM-3.16", "Infinite inputs", ("refq.numbers.floats.encode:encode_infinity",)),
    Clause("NUM-3.17", "NaN inputs", ("refq.numbers.floats.encode:encode_nan",)),
    Clause("NUM-3.18", "Decoding arrays to float64",
           ("refq.numbers.floats.arrays:pattern_to_float64_bits", "refq.numbers.floats.arrays:decode_array")),
    Clause("NUM-3.19", "Encoding arrays from float64",
           ("refq.numbers.floats.arrays:float64_bits_to_pattern", "refq.numbers.floats.arrays:round_scaled_integer",
            "refq.numbers.floats.arrays:encode_array")),
)

_AFFINE: tuple[Clause, ...] = (
    Clause("AFF-1.1", "Scale", ("refq.affine.parameters:scale_array",)),
    Clause("AFF-1.2", "Target type and range", ("refq.affine.parameters:target_type", "refq.affine.parameters:container_dtype")),
    Clause("AFF-1.3", "Zero point", ("refq.affine.parameters:zero_point_array",)),
    Clause("AFF-1.4", "Granularity: per-tensor, per-axis, blocked", ("refq.affine.parameters:granularity",)),
    Clause("AFF-1.5", "Input values", ("refq.affine.parameters:input_array",)),
    Clause("AFF-1.6", "Symmetric and asymmetric quantization"),
    Clause("AFF-2.1", "Outcomes: valid, unpredictable, error", ("refq.affine.quantize:quantize_with_outcomes",)),
    Clause("AFF-3.1", "Quantize, step by step", ("refq.affine.steps:quantize_value", "refq.affine.quantize:quantize")),
    Clause("AFF-3.2", "Scaling: division or reciprocal, and its precision", ("refq.affine.steps:scale_value",)),
    Clause("AFF-3.3", "Where the zero point is added", ("refq.affine.steps:add_in_precision",)),
    Clause("AFF-3.4", "Rounding to an integer", ("refq.numbers.rounding:round_to_integral",)),
    Clause("AFF-3.5", "Saturation and integer conversion", ("refq.affine.steps:saturate", "refq.affine.steps:convert_to_int32")),
    Clause("AFF-3.6", "NaN inputs", ("refq.affine.steps:quantize_value",)),
    Clause("AFF-3.7", "Fused multiply-add in float32",
           ("refq.affine.steps:fused_multiply_add_float32", "refq.affine.steps:round_sum_to_float32")),
    Clause("AFF-3.8", "Exact intermediate precision", ("refq.affine.quantize:quantize_exact_value",)),
    Clause("AFF-4.1", "Dequantize input", ("refq.affine.dequantize:quantized_input",)),
    Clause("AFF-4.2", "Dequantize", ("refq.affine.steps:dequantize_value", "refq.affine.steps:integer_times_float32",
                                     "refq.affine.dequantize:dequantize")),
    Clause("AFF-5.1", "Variants and their resolution", ("refq.registry.variants:VARIANTS", "refq.affine.profiles:resolve_variants")),
    Clause("AFF-5.2", "Profiles", ("refq.registry.profiles:PROFILES",)),
)

_OBSERVERS_RANGES: tuple[Clause, ...] = (
    # OBS-1.x quantization parameters from a range, OBS-2.x min-max observers, OBS-5.x dynamic
    # quantization (filled by the observers-ranges section).
    Clause("OBS-1.1", "Target range, reduce_range, custom and narrow ranges",
           ("refq.observers.qparams:quantization_range",)),
    Clause("OBS-1.2", "Range widened to contain zero",
           ("refq.observers.qparams:widen_to_zero", "refq.observers.qparams:nan_minimum",
            "refq.observers.qparams:nan_maximum")),
    Clause("OBS-1.3", "Affine scale and the epsilon floor",
           ("refq.observers.qparams:affine_qparams", "refq.observers.qparams:divide_float32")),
    Clause("OBS-1.4", "Affine zero point: rounding, int32 conversion, clamping",
           ("refq.observers.qparams:affine_qparams", "refq.observers.qparams:to_int32_x86",
            "refq.observers.qparams:wrap_int32")),
    Clause("OBS-1.5", "Symmetric scale and fixed zero point",
           ("refq.observers.qparams:symmetric_qparams", "refq.observers.qparams:symmetric_zero_point")),
    Clause("OBS-1.6", "Float zero point (per_channel_affine_float_qparams)", ("refq.observers.qparams:float_qparams",)),
    Clause("OBS-1.7", "Unobserved, empty and invalid ranges", ("refq.observers.qparams:qparams_from_range",)),
    Clause("OBS-1.8", "Per-channel parameters", ("refq.observers.qparams:qparams_of_channels",)),
    Clause("OBS-2.1", "Min-max observer state", ("refq.observers.minmax:MinMaxState", "refq.observers.minmax:initial_state")),
    Clause("OBS-2.2", "Range of a batch", ("refq.observers.minmax:batch_min_max", "refq.observers.minmax:batch_array")),
    Clause("OBS-2.3", "MinMax update", ("refq.observers.minmax:minmax_update", "refq.observers.minmax:combine_min_max")),
    Clause("OBS-2.4", "Per-channel batches and the channel axis",
           ("refq.observers.minmax:channel_rows", "refq.observers.minmax:rows_min_max")),
    Clause("OBS-2.5", "Observer parameters", ("refq.observers.minmax:minmax_qparams",)),
    Clause("OBS-2.6", "Moving-average update",
           ("refq.observers.moving_average:moving_average_update", "refq.observers.moving_average:moving_average_step")),
    Clause("OBS-5.1", "DynamicQuantizeLinear: range", ("refq.observers.dynamic:dynamic_range",)),
    Clause("OBS-5.2", "DynamicQuantizeLinear: scale", ("refq.observers.dynamic:dynamic_scale",)),
    Clause("OBS-5.3", "DynamicQuantizeLinear: zero point", ("refq.observers.dynamic:dynamic_zero_point",)),
    Clause("OBS-5.4", "DynamicQuantizeLinear: quantized output", ("refq.observers.dynamic:dynamic_quantize_values",)),
    Clause("OBS-5.5", "DynamicQuantizeLinear and its profiles",
           ("refq.observers.dynamic:dynamic_quantize_linear", "refq.observers.dynamic:DYNAMIC_PROFILES")),
    Clause("OBS-5.6", "FBGEMM's ChooseQuantizationParams", ("refq.observers.dynamic:fbgemm_choose_qparams",)),
    Clause("OBS-5.7", "PyTorch dynamic per-batch parameters", ("refq.observers.dynamic:torch_dynamic_qparams",)),
)

_OBSERVERS_HISTOGRAMS: tuple[Clause, ...] = (
    # OBS-3.x histogram observer, OBS-4.x calibrators (filled by the observers-histograms section).
    Clause("OBS-3.1", "torch.linspace in float32", ("refq.observers.torch_reductions:linspace_element",)),
    Clause("OBS-3.2", "torch.histc binning",
           ("refq.observers.torch_reductions:histc_bin", "refq.observers.histogram:histc_edges")),
    Clause("OBS-3.3", "torch.sum and torch.cumsum of a float32 vector",
           ("refq.observers.torch_reductions:cascade_sum_float32", "refq.observers.torch_reductions:cumsum_float32")),
    Clause("OBS-3.4", "Histogram observer state", ("refq.observers.histogram:HistogramState",
                                                   "refq.observers.histogram:histogram_init")),
    Clause("OBS-3.5", "Carrying a histogram into a grown range", ("refq.observers.histogram:upscale_histogram",)),
    Clause("OBS-3.6", "Histogram observer update", ("refq.observers.histogram:histogram_update",)),
    Clause("OBS-3.7", "L2 quantization error of a bin range", ("refq.observers.histogram:quantization_error",)),
    Clause("OBS-3.8", "Range search", ("refq.observers.histogram:search_range",)),
    Clause("OBS-3.9", "Histogram observer qparams", ("refq.observers.histogram:histogram_qparams",)),
    Clause("OBS-4.1", "Calibration histogram", ("refq.observers.calibrators:CalibrationHistogram",)),
    Clause("OBS-4.2", "Equal-bin histogram (numpy)", ("refq.observers.calibrators:uniform_bin_counts",
                                                      "refq.observers.calibrators:symmetric_histogram")),
    Clause("OBS-4.3", "Collecting signed values", ("refq.observers.calibrators:collect_values",)),
    Clause("OBS-4.4", "Collecting absolute values", ("refq.observers.calibrators:collect_absolute_values",)),
    Clause("OBS-4.5", "Percentile range", ("refq.observers.calibrators:percentile_range",)),
    Clause("OBS-4.6", "Entropy (KL divergence) range", ("refq.observers.calibrators:entropy_range",
                                                        "refq.observers.calibrators:kl_divergence",
                                                        "refq.observers.calibrators:smooth")),
    Clause("OBS-4.7", "MSE-optimal range search (refq's rule)", ("refq.observers.mse:mse_search",
                                                                  "refq.observers.mse:candidate_bound",
                                                                  "refq.observers.operations:search_mse")),
    Clause("OBS-4.8", "Round-trip error of a candidate", ("refq.observers.mse:round_trip_error",)),
)

# --- requantization (REQ) ---
_REQUANTIZATION: tuple[Clause, ...] = (
    Clause("REQ-1.1", "Float multiplier from the scales", ("refq.requantize.float_multiplier:requantize_multiplier",)),
    Clause("REQ-1.2", "Scaling the accumulator", ("refq.requantize.float_multiplier:scale_accumulator",)),
    Clause("REQ-1.3", "Rounding, zero point and saturation",
           ("refq.requantize.float_multiplier:requantize_float_value",)),
    Clause("REQ-1.4", "Requantizing arrays, per tensor and per channel",
           ("refq.requantize.float_multiplier:requantize_float",
            "refq.requantize.float_multiplier:requantize_float_channels",
            "refq.requantize.float_multiplier:requantize_float32_ties_even_channels")),
    # torch qnnpack / PT2E adapters
    Clause("REQ-1.5", "Rounding the scaled accumulator; PT2E truncates",
           ("refq.requantize.float_multiplier:requantize_float_value", "refq.integer_ops.profiles:integer_profile")),
    Clause("REQ-1.6", "A scaled accumulator beyond int32",
           ("refq.requantize.conversion:conversion_overflow_mask", "refq.integer_ops.profiles:conversion_outcome")),
    Clause("REQ-1.7", "PyTorch QNNPACK quantized linear and conv2d",
           ("refq.requantize.float_multiplier:requantize_multiplier", "refq.integer_ops.profiles:integer_profile")),
    Clause("REQ-2.1", "Splitting the multiplier (frexp)", ("refq.requantize.fixed_point:split_multiplier",)),
    Clause("REQ-2.2", "Integer multiplier and shift, renormalisation",
           ("refq.requantize.fixed_point:fixed_point_multiplier",)),
    Clause("REQ-2.3", "Shift limits", ("refq.requantize.fixed_point:limit_shift",)),
    Clause("REQ-2.4", "Single and double rounding (TOSA), 16-bit form",
           ("refq.requantize.fixed_point:apply_scale_32", "refq.requantize.fixed_point:apply_scale_16")),
    Clause("REQ-2.5", "gemmlowp and TensorFlow Lite",
           ("refq.requantize.fixed_point:saturating_rounding_doubling_high_mul",
            "refq.requantize.fixed_point:rounding_divide_by_power_of_two",
            "refq.requantize.fixed_point:multiply_by_quantized_multiplier",
            "refq.requantize.fixed_point:multiply_by_quantized_multiplier_single_round")),
    Clause("REQ-2.6", "Fixed-point requantization (RESCALE)",
           ("refq.requantize.fixed_point:requantize_fixed_point",
            "refq.requantize.fixed_point:requantize_fixed_point_with_outcomes",
            "refq.requantize.fixed_point:requantize_fixed_point_value",
            "refq.requantize.fixed_point:requantize_fixed_point_channels")),
    Clause("REQ-3.1", "Accumulator width", ("refq.requantize.accumulator:accumulator_range",)),
    Clause("REQ-3.2", "Accumulator overflow", ("refq.requantize.accumulator:add_to_accumulator",)),
    Clause("REQ-3.3", "Accumulating a dot product",
           ("refq.requantize.accumulator:dot_product", "refq.requantize.accumulator:dot_product_accumulate")),
)
# --- end requantization ---

# --- qat ---
_QAT: tuple[Clause, ...] = (
    # QAT-1.x fake quantization with fixed parameters, QAT-2.x learnable scale and zero point (LSQ).
    Clause("QAT-1.1", "Fake quantization forward", ("refq.qat.straight_through:fake_quantize",)),
    Clause("QAT-1.2", "The gradient mask, on the rounded value",
           ("refq.qat.straight_through:in_range_after_rounding", "refq.qat.straight_through:fake_quantize_mask")),
    Clause("QAT-1.3", "Straight-through backward",
           ("refq.qat.straight_through:pass_through", "refq.qat.straight_through:fake_quantize_backward")),
    Clause("QAT-2.1", "Zero point of a learnable parameter", ("refq.qat.learnable:learnable_zero_point",)),
    Clause("QAT-2.2", "Fused multiply-add in float32", ("refq.qat.learnable:fused_multiply_add",)),
    Clause("QAT-2.3", "Gradients of one element",
           ("refq.qat.learnable:element_gradients", "refq.qat.learnable:rounded_to_int64")),
    Clause("QAT-2.4", "Summing the scale and zero-point gradients", ("refq.qat.learnable:channel_sums",)),
    Clause("QAT-2.5", "Learnable fake quantization, forward and backward",
           ("refq.qat.learnable:learnable_fake_quantize", "refq.qat.learnable:learnable_fake_quantize_backward")),
)
# --- end qat ---

# --- integer operations (INT) ---
_M = "refq.integer_ops.matmul:"
_C = "refq.integer_ops.conv:"
_Q = "refq.integer_ops.qlinear:"
_P = "refq.integer_ops.profiles:"
_INTEGER_OPS: tuple[Clause, ...] = (
    Clause("INT-1.1", "Inputs and zero points", ("refq.integer_ops.operands:integer_input",
                                                 "refq.integer_ops.operands:zero_point_values")),
    Clause("INT-2.1", "Matmul shapes, broadcasting, zero-point granularity",
           (_M + "row_zero_points", _M + "column_zero_points", _M + "batch_shape", _M + "matmul_operands")),
    Clause("INT-2.2", "Centring the operands", (_M + "centre_rows", _M + "centre_columns_transposed")),
    Clause("INT-2.3", "Dot products in int32 with wraparound", (_M + "wrapping_dot_products", _M + "dot_products")),
    Clause("INT-2.4", "MatMulInteger", (_M + "matmul_integer",)),
    Clause("INT-2.5", "When the int32 accumulation can overflow",
           (_M + "accumulation_may_overflow", _M + "matmul_overflow_mask", _C + "conv_overflow_mask")),
    Clause("INT-3.1", "Convolution geometry: strides, padding, dilations, groups", (_C + "conv_geometry", _C + "same_pads")),
    Clause("INT-3.2", "Centring the input and the weights",
           (_C + "centre_image", _C + "input_zero_point", _C + "weight_zero_points", _C + "conv_operands")),
    Clause("INT-3.3", "Kernel windows as rows (im2col)", (_C + "gather_patches", _C + "patches")),
    Clause("INT-3.4", "ConvInteger", (_C + "convolve", _C + "conv_integer", _C + "conv_accumulator")),
    Clause("INT-3.5", "The same convolution with VNNI byte dot products (informative)",
           ("refq.integer_ops.vnni:convolve_bytes", "refq.integer_ops.vnni:unsigned_codes",
            "refq.integer_ops.vnni:signed_codes", "refq.integer_ops.vnni:padded_image",
            "refq.integer_ops.vnni:gather_byte_patches", "refq.integer_ops.vnni:patch_sums",
            "refq.integer_ops.vnni:byte_dot_products")),
    Clause("INT-4.1", "Output type, weight scales and bias", (_Q + "output_type", _Q + "channel_scales", _Q + "bias_values")),
    Clause("INT-4.2", "QLinearMatMul", (_Q + "qlinear_matmul",)),
    Clause("INT-4.3", "QLinearConv", (_Q + "qlinear_conv",)),
    Clause("INT-5.1", "Accumulator overflow per profile", (_P + "INTEGER_PROFILES", _P + "integer_profile",
                                                           _P + "overflow_outcome")),
    Clause("INT-5.2", "Requantization variants per profile", (_P + "requantized_outcomes",)),
    Clause("INT-5.3", "Expected results under a profile",
           (_P + "matmul_integer_outcomes", _P + "conv_integer_outcomes", _P + "qlinear_matmul_outcomes",
            _P + "qlinear_conv_outcomes")),
)
# --- end integer operations ---

# --- elementwise (ELT) ---
_EO = "refq.elementwise.operands:"
_EB = "refq.elementwise.binary:"
_EL = "refq.elementwise.lookup:"
_EP = "refq.elementwise.pooling:"
_EA = "refq.elementwise.activation:"
_ELEMENTWISE: tuple[Clause, ...] = (
    Clause("ELT-1.1", "Quantized operands", (_EO + "operand", _EO + "quantized_tensor", _EO + "single_scale",
                                             _EO + "single_zero_point")),
    Clause("ELT-1.2", "Broadcasting", (_EO + "broadcast_shape",)),
    Clause("ELT-1.3", "Per-span scalars and the operand order", (_EO + "span_role",)),
    Clause("ELT-2.1", "Float32 result to the output type", (_EB + "convert_and_saturate",)),
    Clause("ELT-2.2", "Scale ratios of the sum", (_EB + "add_ratios",)),
    Clause("ELT-2.3", "The fixed part of the sum", (_EB + "add_fixed_part",)),
    Clause("ELT-2.4", "One output of the sum", (_EB + "add_value", _EB + "add_elements")),
    Clause("ELT-2.5", "QLinearAdd", (_EB + "qlinear_add",)),
    Clause("ELT-2.6", "One output of the product",
           (_EB + "multiply_ratio", _EB + "multiply_value", _EB + "multiply_elements")),
    Clause("ELT-2.7", "QLinearMul", (_EB + "qlinear_mul",)),
    Clause("ELT-3.1", "Dequantized codes", (_EL + "table_inputs",)),
    Clause("ELT-3.2", "Building a table", (_EL + "build_table",)),
    Clause("ELT-3.3", "The logistic function of MLAS", (_EL + "logistic", _EL + "logistic_elements")),
    Clause("ELT-3.4", "Leaky ReLU", (_EL + "leaky_relu", _EL + "leaky_relu_elements")),
    Clause("ELT-3.5", "Looking codes up", (_EL + "lookup",)),
    Clause("ELT-3.6", "QLinearSigmoid and QLinearLeakyRelu", (_EL + "qlinear_sigmoid", _EL + "qlinear_leaky_relu")),
    Clause("ELT-3.7", "The tanh function of MLAS", (_EL + "hyperbolic_tangent", _EL + "hyperbolic_tangent_elements")),
    Clause("ELT-3.8", "Quantized tanh", (_EL + "qlinear_tanh",)),
    Clause("ELT-4.1", "The multiplier of the global average", (_EP + "global_average_multiplier",)),
    Clause("ELT-4.2", "Channel sums, requantized", (_EP + "global_average_channels",)),
    Clause("ELT-4.3", "QLinearGlobalAveragePool", (_EP + "qlinear_global_average_pool",)),
    Clause("ELT-5.1", "Activation bounds", (_EA + "fused_activation_bounds",)),
    Clause("ELT-5.2", "Clamping to the bounds", (_EA + "clamp_output",)),
    Clause("ELT-6.1", "Pooled output size", ("refq.elementwise.windows:pooled_size", "refq.elementwise.windows:Window",
                                             "refq.elementwise.windows:window_range")),
    Clause("ELT-6.2", "Window maximum", ("refq.elementwise.windows:max_pool_windows",)),
    Clause("ELT-6.3", "MaxPool on 8-bit tensors", ("refq.elementwise.windows:max_pool",)),
    Clause("ELT-6.4", "Whole-input average windows", ("refq.elementwise.windows:qlinear_average_pool",)),
    Clause("ELT-6.5", "Window average in float32", ("refq.elementwise.windows:average_pool_windows",)),
    Clause("ELT-6.6", "QLinearAveragePool", ("refq.elementwise.windows:qlinear_average_pool",)),
    Clause("ELT-6.7", "Automatic padding (auto_pad)", ("refq.elementwise.windows:automatic_pads",)),
    Clause("ELT-6.8", "The average_division variant", ("refq.elementwise.windows:qlinear_average_pool",)),
    Clause("ELT-6.9", "TensorFlow Lite's rounded integer division", ("refq.elementwise.windows:rounded_integer_quotient",
                                                                      "refq.elementwise.windows:integer_average_windows")),
    Clause("ELT-6.10", "TOSA's reciprocal scale", ("refq.elementwise.windows:reciprocal_scale",
                                                   "refq.elementwise.windows:integer_average_windows")),
    Clause("ELT-7.1", "Requantizing one concatenated input", ("refq.elementwise.concat:requantize_codes",)),
    Clause("ELT-7.2", "QLinearConcat", ("refq.elementwise.concat:qlinear_concat",)),
)
# --- end elementwise ---

# --- gguf (GGF) ---
_GL = "refq.gguf.legacy:"
_GK = "refq.gguf.kquants:"
_GS = "refq.gguf.search:"
_GGUF: tuple[Clause, ...] = (
    Clause("GGF-1.1", "Block types, sizes and input", ("refq.gguf.types:block_type", "refq.gguf.types:BLOCK_TYPES")),
    Clause("GGF-1.2", "Float16 scales", ("refq.gguf.half:half_pattern", "refq.gguf.half:half_value")),
    Clause("GGF-1.3", "C casts from float32", ("refq.gguf.conversions:truncate",)),
    Clause("GGF-1.4", "nearest_int", ("refq.gguf.conversions:nearest_int",)),
    Clause("GGF-1.5", "roundf", ("refq.gguf.conversions:round_half_away",)),
    Clause("GGF-2.1", "Block extremes", (_GL + "signed_maximum", _GL + "largest_magnitude", _GL + "minimum_and_maximum")),
    Clause("GGF-2.2", "Q4_0", (_GL + "quantize_symmetric_nibbles",)),
    Clause("GGF-2.3", "Q4_1", (_GL + "quantize_asymmetric_nibbles",)),
    Clause("GGF-2.4", "Q5_0", (_GL + "quantize_symmetric_nibbles",)),
    Clause("GGF-2.5", "Q5_1", (_GL + "quantize_asymmetric_nibbles",)),
    Clause("GGF-2.6", "Q8_0", (_GL + "quantize_bytes",)),
    Clause("GGF-2.7", "Q8_1", (_GL + "quantize_bytes",)),
    Clause("GGF-2.8", "Dequantize, blocks of 32", (_GL + "dequantize_nibbles", _GL + "dequantize_bytes")),
    Clause("GGF-3.1", "Symmetric search (make_qx_quants)", (_GS + "symmetric_search",)),
    Clause("GGF-3.2", "Iterative search (make_q3_quants)", (_GS + "iterative_search",)),
    Clause("GGF-3.3", "Affine search (make_qkx2_quants)", (_GS + "affine_search", _GS + "weighted_error")),
    Clause("GGF-3.4", "Q2_K", (_GK + "quantize_q2_k", _GK + "pack_two_bit_planes")),
    Clause("GGF-3.5", "Q3_K", (_GK + "quantize_q3_k", _GK + "q3_k_scale")),
    Clause("GGF-3.6", "6-bit scales and minimums", (_GK + "scale_min_k4",)),
    Clause("GGF-3.7", "Q4_K", (_GK + "quantize_affine_k",)),
    Clause("GGF-3.8", "Q5_K", (_GK + "quantize_affine_k",)),
    Clause("GGF-3.9", "Q6_K", (_GK + "quantize_q6_k",)),
    Clause("GGF-3.10", "Q8_K", (_GK + "quantize_q8_k",)),
    Clause("GGF-3.11", "Dequantize, K types", (_GK + "dequantize_q2_k", _GK + "dequantize_q3_k",
                                               _GK + "dequantize_affine_k", _GK + "dequantize_q6_k",
                                               _GK + "dequantize_q8_k")),
    Clause("GGF-4.1", "FMA contraction (informative)"),
    Clause("GGF-5.1", "gguf_quantize", ("refq.gguf.api:gguf_quantize", "refq.gguf.api:gguf_quantize_with_outcomes")),
    Clause("GGF-5.2", "gguf_dequantize", ("refq.gguf.api:gguf_dequantize",)),
    Clause("GGF-6.1", "TQ1_0", ('refq.gguf.ternary:ternary_code', 'refq.gguf.ternary:base3_byte', 'refq.gguf.ternary:quantize_tq1_0')),
    Clause("GGF-6.2", "TQ2_0", ('refq.gguf.ternary:quantize_tq2_0',)),
    Clause("GGF-6.3", "Dequantize, TQ1_0 and TQ2_0", ('refq.gguf.ternary:base3_digit', 'refq.gguf.ternary:dequantize_tq1_0', 'refq.gguf.ternary:dequantize_tq2_0')),
    Clause("GGF-6.4", "The nearest IQ4 level", ('refq.gguf.nonlinear:nearest_level',)),
    Clause("GGF-6.5", "IQ4_NL", ('refq.gguf.nonlinear:level_sums', 'refq.gguf.nonlinear:pack_nibble_pairs', 'refq.gguf.nonlinear:quantize_iq4_nl')),
    Clause("GGF-6.6", "IQ4_XS", ('refq.gguf.nonlinear:quantize_iq4_xs',)),
    Clause("GGF-6.7", "MXFP4", ('refq.gguf.nonlinear:e8m0_half', 'refq.gguf.nonlinear:nearest_fp4', 'refq.gguf.nonlinear:quantize_mxfp4')),
    Clause("GGF-6.8", "Dequantize, IQ4 and MXFP4", ('refq.gguf.nonlinear:dequantize_iq4_nl', 'refq.gguf.nonlinear:dequantize_iq4_xs', 'refq.gguf.nonlinear:dequantize_mxfp4')),
)
# --- end gguf ---

CLAUSES: tuple[Clause, ...] = (*_NUMBERS_INTEGERS, *_NUMBERS_ROUNDING, *_NUMBERS_FLOATS, *_AFFINE,
                               *_OBSERVERS_RANGES, *_OBSERVERS_HISTOGRAMS,
                               *_REQUANTIZATION, *_QAT, *_INTEGER_OPS, *_ELEMENTWISE, *_GGUF)
