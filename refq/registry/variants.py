"""Variants: every step of quantize/dequantize on which real backends disagree.

Each variant is a named parameter with a closed set of values. The compiled kernels
dispatch on a value's ``code``; the spec, the trace and the docs use its ``name``.
A profile (see :mod:`refq.registry.profiles`) fixes a value for every variant.
"""

from __future__ import annotations

from dataclasses import dataclass

from refq.registry.rounding import ROUNDING_MODES


@dataclass(frozen=True)
class VariantValue:
    name: str
    code: int
    meaning: str


@dataclass(frozen=True)
class Variant:
    name: str
    operation: str  # "quantize", "dequantize", "requantize", "integer", "observe" or "elementwise"
    clause: str  # the clause that defines the step this variant parameterises
    question: str
    values: tuple[VariantValue, ...]

    def value(self, name: str) -> VariantValue:
        for value in self.values:
            if value.name == name:
                return value
        raise KeyError(name)


def _values(*triples: tuple[str, str]) -> tuple[VariantValue, ...]:
    return tuple(VariantValue(name, code, meaning) for code, (name, meaning) in enumerate(triples))


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "scale_operation", "quantize", "AFF-3.2", "How is x divided by the scale?",
        _values(
            ("divide", "x / scale, one rounding to the working precision"),
            ("multiply_reciprocal", "x * fl32(1 / scale): the reciprocal rounded to float32 first, then a product"),
        ),
    ),
    Variant(
        "precision", "quantize", "AFF-3.2", "In which precision are x / scale (and, before rounding, + zero point) computed?",
        _values(
            ("float32", "every intermediate result rounded to float32 (ties to even)"),
            ("float64", "every intermediate result rounded to float64 (ties to even)"),
            ("exact", "no intermediate rounding: exact rational arithmetic"),
        ),
    ),
    Variant(
        "zero_point_placement", "quantize", "AFF-3.3", "Where is the zero point added?",
        _values(
            ("after_rounding", "round(x / scale) + zero_point, an exact integer addition"),
            ("before_rounding", "round(fl(fl(x / scale) + zero_point)): added in the working precision, then rounded"),
            ("before_rounding_fused", "round(fma(x, fl32(1 / scale), zero_point)): one rounding of x * r + zero_point"),
        ),
    ),
    Variant(
        "rounding", "quantize", "AFF-3.4", "Which rounding mode turns the scaled value into an integer?",
        tuple(VariantValue(mode.name, mode.code, mode.rule) for mode in ROUNDING_MODES),
    ),
    Variant(
        "saturation", "quantize", "AFF-3.5", "How does the value reach the integer range?",
        _values(
            ("clamp_then_convert", "clamp the (possibly infinite) value to [qmin, qmax], then convert: infinities saturate"),
            ("convert_then_clamp", "convert to int32 first (a value outside int32 becomes the conversion-overflow result), "
                                   "add the zero point with int32 wraparound, then clamp"),
            ("convert_int64_then_clamp", "add the zero point in float32, convert to int64 (NaN, infinities and "
                                         "values outside int64 become -2^63 under integer_indefinite), then clamp"),
        ),
    ),
    Variant(
        "conversion_overflow", "quantize", "AFF-3.5",
        "With a convert-then-clamp saturation: what does a value outside the integer type convert to?",
        _values(
            ("integer_indefinite", "the most negative integer (-2^31 or -2^63), the x86 'integer indefinite' result "
                                   "of cvtss2si/cvttss2si"),
            ("unpredictable", "any int32 value: the conversion is undefined behaviour in C and C++"),
        ),
    ),
    Variant(
        "nan", "quantize", "AFF-3.6", "What does a NaN input quantize to?",
        _values(
            ("qmin", "the lowest value of the target range"),
            ("qmax", "the highest value of the target range"),
            ("zero", "the integer 0"),
            ("converted", "whatever the integer conversion gives (with convert_then_clamp: the conversion-overflow result)"),
            ("unpredictable", "any value of the target range"),
        ),
    ),
    Variant(
        "subnormals", "quantize", "AFF-3.9", "Do subnormal float32 operands and results of the scaling step count?",
        _values(
            ("preserved", "IEEE 754 arithmetic: a subnormal x, 1 / s or x * r keeps its value"),
            ("flushed", "a subnormal x, reciprocal 1 / s or product x * r (fused: x * r + z) reads as zero, as "
                        "x86's MXCSR DAZ and FTZ make it (XNNPACK runs its kernels so)"),
        ),
    ),
    Variant(
        "dequantize_formula", "dequantize", "AFF-4.2", "In which order are the zero point and the scale applied?",
        _values(
            ("subtract_then_multiply", "(q - zero_point) * scale: an exact integer difference, one rounded product"),
            ("multiply_then_subtract", "q * scale - zero_point * scale: two rounded products and a rounded difference"),
        ),
    ),
    Variant(
        "dequantize_difference", "dequantize", "AFF-4.2",
        "With subtract_then_multiply: how is q - zero_point formed?",
        _values(
            ("exact", "the exact integer difference, so (q - z) * s is rounded only once"),
            ("int32_wraparound_to_float32", "q - z in int32 with wraparound, converted to float32 (rounded past 2^24)"),
            ("float32_q", "q converted to float32 first (rounded past 2^24), then fl32(q) - z rounded to the "
                          "working precision"),
        ),
    ),
    Variant(
        "dequantize_precision", "dequantize", "AFF-4.2", "In which precision is the dequantized value computed?",
        _values(
            ("float32", "every intermediate result rounded to float32"),
            ("float64", "intermediate results rounded to float64, the result rounded to float32 at the end"),
        ),
    ),
    # --- requantize (REQ) ---
    Variant(
        "requantize_precision", "requantize", "REQ-1.2",
        "With a float multiplier: in which precision is accumulator * multiplier computed?",
        _values(
            ("float32", "the accumulator converted to float32 (rounded past 2^24), the product rounded to float32"),
            ("float64", "the accumulator converted exactly, the product rounded to float64"),
        ),
    ),
    Variant(
        "requantize_zero_point", "requantize", "REQ-1.3",
        "With a float multiplier: where is the output zero point added?",
        _values(
            ("after_rounding", "round(accumulator * multiplier) + zero_point, an exact integer addition"),
            ("before_rounding", "round(fl(accumulator * multiplier + zero_point)): added in the working precision"),
        ),
    ),
    Variant(
        "requantize_form", "requantize", "REQ-2.6", "How is the multiplier applied to the accumulator?",
        _values(
            ("float_multiplier", "in floating point: round(fl(accumulator * multiplier)) (REQ-1)"),
            ("fixed_point", "as an integer multiplier and a right shift, integer arithmetic only (REQ-2)"),
        ),
    ),
    Variant(
        "multiplier_rounding", "requantize", "REQ-2.2",
        "Deriving a fixed-point multiplier: how is frexp's fraction * 2^31 rounded to an integer?",
        _values(
            ("half_away_from_zero", "std::round (TensorFlow Lite's TfLiteRound, MLIR's TOSA legalisation)"),
            ("half_to_even", "Python's round (TOSA's conformance test generator), numpy.rint"),
        ),
    ),
    Variant(
        "shift_limits", "requantize", "REQ-2.3", "Deriving a fixed-point multiplier: how is the shift kept in range?",
        _values(
            ("tosa", "a right shift past 62 becomes 62, the multiplier shifted right by the excess (at most 31 bits); "
                     "below 2 is an error"),
            ("tflite", "an exponent below -31 flushes the multiplier to 0; a right shift below 1 is an error"),
            ("tflite_single_round", "as tflite, and an exponent above 30 becomes 30 with the multiplier 2^31 - 1"),
        ),
    ),
    Variant(
        "fixed_point_rounding", "requantize", "REQ-2.4", "Applying a fixed-point multiplier: how often is v * M / 2^s rounded?",
        _values(
            ("single_round", "once, ties toward +infinity (TOSA SINGLE_ROUND, TFLite's TFLITE_SINGLE_ROUNDING build)"),
            ("double_round", "at bit 31 (ties toward +infinity), then at bit s (ties away from zero) when s > 31 "
                             "(TOSA DOUBLE_ROUND, gemmlowp, TFLite's default build)"),
            ("double_round_ties_up", "at bit 31 (ties toward +infinity), then at bit s (ties toward +infinity "
                                     "too) when s > 31 (TensorFlow Lite's optimized kernels: a doubling high "
                                     "multiply, then a rounding right shift)"),
        ),
    ),
    Variant(
        "multiplier_bits", "requantize", "REQ-2.4", "How wide is the fixed-point multiplier?",
        _values(
            ("32", "an int32 multiplier below 2^31 with int32 accumulators (TOSA scale32)"),
            ("16", "an int16 multiplier below 2^15 with int48 accumulators, single rounding (TOSA scale32 = false)"),
        ),
    ),
    Variant(
        "accumulator", "requantize", "REQ-3.1", "How wide is the accumulator of an integer layer?",
        _values(
            ("int32", "32-bit two's complement"),
            ("int48", "48-bit two's complement (TOSA's accumulator for int16 x int8)"),
            ("int64", "64-bit two's complement"),
        ),
    ),
    Variant(
        "accumulator_overflow", "requantize", "REQ-3.2", "What does a sum that leaves the accumulator give?",
        _values(
            ("error", "an error: the operation refuses the input"),
            ("wrap", "the sum modulo 2^n, into the accumulator's range (two's-complement hardware, numpy)"),
            ("unpredictable", "any value (undefined behaviour in C and C++, a REQUIRE violation in TOSA)"),
        ),
    ),
    Variant(
        "u8s8_products", "requantize", "INT-2.6",
        "How are the uint8 x int8 products of an integer matmul or convolution summed?",
        _values(
            ("exact", "each product added to the int32 sum (the ONNX text; x86 VNNI's vpdpbusd and AMX; every kernel "
                      "that widens the bytes to int16 first)"),
            ("int16_pairs", "the raw codes' products added in adjacent pairs saturated to int16, then in int32, the "
                            "zero points removed exactly afterwards (x86 vpmaddubsw: MLAS and FBGEMM on CPUs with "
                            "AVX2 or AVX-512 but no VNNI)"),
            ("unpredictable", "either, by the CPU the engine runs on: the elements where the two differ are "
                              "unpredictable (MLAS and FBGEMM choose their kernels by the CPU's features)"),
        ),
    ),
    Variant(
        "u8s8_conv_pairs", "requantize", "INT-3.6",
        "With int16_pairs: which operand of a convolution is the uint8 one, and in what order do its pairs run?",
        _values(
            ("input_channels_last", "a uint8 input times int8 weights, along each window laid out channels-last "
                                    "(kernel row, kernel column, channel); a depthwise convolution exact (MLAS's "
                                    "QLinearConv, FBGEMM's conv2d)"),
            ("weights_channels_first", "uint8 weights times an int8 input, along each weight row in ONNX's order "
                                       "(channel, kernel row, kernel column), depthwise convolutions too (MLAS's "
                                       "ConvInteger, whose matrix product puts the weights first)"),
        ),
    ),
    Variant(
        "requantize_multiplier_order", "requantize", "REQ-1.1",
        "In which order are s_a * s_b / s_y computed into the multiplier?",
        _values(
            ("product_then_quotient", "fl(fl(s_a * s_b) / s_y), each operation rounded to the working precision "
                                      "(ONNX Runtime, onnx.reference, FBGEMM, XNNPACK)"),
            ("float64_quotient", "(s_a * s_b) / s_y in float64, rounded to the working precision once at the end "
                                 "(TensorFlow Lite and MLIR's TOSA legalisation, on float64 scales)"),
            ("reciprocal", "fl(fl(s_a * s_b) * fl(1 / s_y)): the division by s_y replaced by a product with its "
                           "float32 reciprocal (PyTorch's QNNPACK requantization scales)"),
            ("ratio_first", "fl(s_a * fl(s_b / s_y)): the weight scale divided first (no backend refq covers; the "
                            "fingerprint separates it)"),
        ),
    ),
    # requantize_rounding (torch qnnpack / PT2E adapters)
    Variant(
        "requantize_rounding", "requantize", "REQ-1.5",
        "With a float multiplier: how is fl(accumulator * multiplier) rounded to an integer?",
        _values(
            ("half_to_even", "to the nearest integer, ties to even (cvtps2dq under the default MXCSR, nearbyint)"),
            ("toward_zero", "the fraction dropped: a float-to-int32 cast (PyTorch 2 export's reference "
                            "representation, out_dtype(mul, int32, ...))"),
            ("half_away_from_zero", "to the nearest integer, ties away from zero (std::round: TensorFlow Lite's "
                                    "reference FULLY_CONNECTED)"),
        ),
    ),
    Variant(
        "requantize_conversion_overflow", "requantize", "REQ-1.6",
        "With a float multiplier: what does a scaled accumulator beyond int32 give?",
        _values(
            ("saturate", "the output bound: the value is clamped in floating point before any integer conversion "
                         "(ONNX Runtime's MLAS, onnx.reference)"),
            ("unpredictable", "any value: converted to int32 first, which C and C++ leave undefined (x86 gives "
                              "INT32_MIN, so a large positive value becomes q_min; ARM saturates)"),
        ),
    ),
    # average_division (pooling: TFLite / TOSA integer average pools)
    Variant(
        "average_division", "requantize", "ELT-6.8",
        "How is an 8-bit window average divided by its count?",
        _values(
            ("float32", "dequantized, summed and divided in float32, then requantized (ONNX Runtime's "
                        "QLinearAveragePool, ELT-6.5)"),
            ("rounded_integer_division", "the int32 sum of the codes divided by the count, rounded to nearest with "
                                         "ties away from zero, in one scale (TensorFlow Lite's reference kernels)"),
            ("tosa_reciprocal", "the int32 sum of q - z_x scaled by TOSA's reciprocal_scale(count) with single "
                                "rounding, + z_y (TOSA AVG_POOL2D)"),
        ),
    ),
    Variant(
        "binary_arithmetic", "requantize", "ELT-2.8", "In what arithmetic are a quantized sum and product computed?",
        _values(
            ("float32", "dequantized, combined and requantized in float32 with MLAS's roundings (ONNX Runtime, "
                        "ELT-2.2 to ELT-2.7)"),
            ("tosa_rescale", "in integers, as TOSA's TFLite legalisation builds them: each input RESCALEd to int32 "
                             "(a sum: by 2^20 and s / (2 max(s_A, s_B)); a product: by 1), int32 ADD or MUL, "
                             "RESCALE to the output with DOUBLE_ROUND (ELT-2.8, ELT-2.9)"),
        ),
    ),
    # --- end requantize ---
    # --- integer operations (INT), observers (OBS) and elementwise operations (ELT): the dimensions their
    # fingerprints separate; the kernels take them as keyword arguments (the first value is the default)
    Variant(
        "conv_padding", "integer", "INT-3.2", "What do a convolution's padded positions hold?",
        _values(
            ("input_zero_point", "the input zero point: a padded position adds nothing to the sum (ONNX)"),
            ("zero", "the code 0: a padded position adds -z_x * w to the sum"),
        ),
    ),
    Variant(
        "symmetric_divisor", "observe", "OBS-1.5", "What divides max(-m^-, m^+) into a symmetric scale?",
        _values(
            ("half_span", "(q_max - q_min) / 2: 127.5 for int8 (torch)"),
            ("qmax", "q_max: 127 for int8 (the 'narrow' convention)"),
        ),
    ),
    Variant(
        "scale_floor", "observe", "OBS-1.3", "Is the scale raised to a floor?",
        _values(
            ("float32_eps", "raised to eps, 2^-23 by default (torch)"),
            ("none", "kept as computed"),
        ),
    ),
    Variant(
        "reduce_range", "observe", "OBS-1.1", "Is reduce_range honoured?",
        _values(
            ("halved", "the target range halved, [0, 127] for uint8 (torch)"),
            ("ignored", "the full target range"),
        ),
    ),
    Variant(
        "zero_point_rounding", "observe", "OBS-1.4", "How is m^- / s rounded into the zero point?",
        _values(
            ("half_to_even", "to nearest, ties to even (torch)"),
            ("half_away_from_zero", "to nearest, ties away from zero (std::round)"),
        ),
    ),
    Variant(
        "zero_in_range", "observe", "OBS-1.2", "Is the observed range widened to contain zero?",
        _values(
            ("widened", "[min(m_min, 0), max(m_max, 0)] (torch)"),
            ("as_observed", "[m_min, m_max] as observed"),
        ),
    ),
    Variant(
        "add_fixed_part", "elementwise", "ELT-2.3",
        "How is the fixed part z_C - (r_x z_x + r_y z_y) of a quantized sum rounded?",
        _values(
            ("fused", "r_x z_x + r_y z_y as one fused multiply-add (ONNX Runtime)"),
            ("two_roundings", "the product r_x z_x rounded to float32, then the sum"),
        ),
    ),
    Variant(
        "add_operand_order", "elementwise", "ELT-2.5", "With a broadcast scalar A: which operand is x?",
        _values(
            ("swapped", "the scalar becomes y (ONNX Runtime's broadcaster)"),
            ("as_given", "A stays x"),
        ),
    ),
    Variant(
        "mul_zero_point", "elementwise", "ELT-2.6", "Where is the output zero point added to a quantized product?",
        _values(
            ("float32_sum", "fl(fl(p m) + z_C), then rounded (ONNX Runtime)"),
            ("fused", "fma(p, m, z_C), one rounding"),
            ("after_rounding", "round(fl(p m)) + z_C, an exact integer addition"),
        ),
    ),
    Variant(
        "sigmoid_function", "elementwise", "ELT-3.3", "Which logistic function does a quantized sigmoid tabulate?",
        _values(
            ("mlas_logistic", "MLAS's rational approximation in float32 (ONNX Runtime)"),
            ("float64_logistic", "1 / (1 + e^-x) in float64, rounded to float32"),
        ),
    ),
    Variant(
        "average_sum", "elementwise", "ELT-4.2", "How does an 8-bit average pool sum its window?",
        _values(
            ("integer_sum", "the exact integer sum of q - z_x times one float32 multiplier (ONNX Runtime's global "
                            "pool)"),
            ("float32_window_sum", "float32 sums of the dequantized values divided by the count (ONNX Runtime's "
                                   "windowed pool)"),
        ),
    ),
    # --- gguf (GGF): ggml's block quantization types ---
    Variant(
        "gguf_contraction", "gguf_quantize", "GGF-3.1",
        "Are the float32 products and sums of a K-type scale search fused into FMAs?",
        _values(
            ("unfused", "every product and sum rounded to float32 on its own (ggml built with -ffp-contract=off, "
                        "gguf-py): the reference"),
            ("contracted", "the compiler fuses a*b+c where it chooses (gcc -march=native on x86 with FMA, AArch64): "
                           "the bytes of a block are unpredictable"),
            ("gcc_x86_64", "the fused multiply-adds gcc 12 forms compiling ggml-quants.c at -O2 -march=x86-64-v3 "
                           "-mtune=znver3 (the same code on every AVX2 CPU; -march=native on AMD Zen 3), each in "
                           "its place (GGF-4.2)"),
        ),
    ),
    Variant(
        "gguf_nan", "gguf_quantize", "GGF-5.1", "What does a block holding a NaN quantize to?",
        _values(
            ("error", "an error naming x: no integer ggml type has a NaN code"),
            ("unpredictable", "any bytes: ggml's maximum searches skip a NaN, numpy's argmax (gguf-py) picks it"),
        ),
    ),
    Variant(
        "gguf_zero_sign", "gguf_quantize", "GGF-2.1",
        "Which sign does a block scale or minimum that is zero get?",
        _values(
            ("ggml", "the sign the reference comparisons give: the maximum starts at +0, so a block of zeros stores "
                     "d = +0 / -8 = -0 in Q4_0 and Q5_0"),
            ("unpredictable", "either sign (gguf-py takes the first element of largest magnitude with numpy's "
                              "argmax, and numpy's min and max of +0 and -0)"),
        ),
    ),
    Variant(
        "gguf_conversion", "gguf_quantize", "GGF-1.3",
        "What does a float-to-integer conversion outside the target type give (C leaves it undefined)?",
        _values(
            ("unpredictable", "any code: refq marks the block unpredictable"),
            ("x86_integer_indefinite", "cvttss2si's integer indefinite 0x80000000, its low bits kept by the narrowing "
                                       "cast (gcc on x86; not executed by refq)"),
        ),
    ),
    Variant(
        "gguf_search", "gguf_quantize", "GGF-3.1", "Which search picks the scales of a block?",
        _values(
            ("reference", "quantize_row_*_ref: the unweighted reference search, no importance matrix"),
            ("importance_weighted", "quantize_*_impl with an importance matrix: ggml_quantize_chunk's weighted "
                                    "search (GGF-8; refq executes it for Q4_0-Q5_1 and Q2_K-Q6_K when imatrix "
                                    "is given; not the IQ types'; not under gcc_x86_64)"),
        ),
    ),
    Variant(
        "gguf_activation_quantizer", "gguf_quantize", "GGF-4.3",
        "Which function quantizes Q8_0 and Q8_1 blocks (the activations of ggml-cpu's vec_dot)?",
        _values(
            ("reference", "quantize_row_q8_0_ref / q8_1_ref: r = 1 / (A / 127), roundf (ties away from zero) "
                          "(GGF-2.6, GGF-2.7)"),
            ("x86_simd", "ggml-cpu's x86 AVX2/AVX quantize_row_q8_0 / q8_1: r = 127 / A, ties to even, -128 where "
                         "x * r is not finite (GGF-4.3)"),
        ),
    ),
    # --- end gguf ---
    # --- block (BLK): block-scaled formats, OCP MX ---
    Variant(
        "block_scale_rule", "block", "BLK-2.1", "How is a block's shared exponent found from its largest magnitude?",
        _values(
            ("floor", "floor(log2(amax)) - emax_elem, exactly (OCP MX 1.0 6.3; torchao FLOOR)"),
            ("ceil", "ceil(log2(amax)) - emax_elem, exactly (torchao CEIL: one more when amax's mantissa is not 0)"),
            ("even", "floor(log2(amax rounded half up to the element's precision)) - emax_elem (torchao EVEN)"),
            ("rceil", "ceil(log2(fl32(amax / max_elem))), exactly: the float32 quotient rounded up to a power of "
                      "two (cuBLAS / TransformerEngine, cvt.rp.satfinite.ue8m0x2.f32)"),
            ("rceil_log2_float32", "ceil(fl32(log2(fl32(amax / max_elem)))): the logarithm rounded to float32 "
                                   "first, wrong just above a power of two (torchao RCEIL on CPU, modelopt)"),
        ),
    ),
    Variant(
        "block_infinity", "block", "BLK-2.8", "What scale does a block holding an infinity (and no NaN) get?",
        _values(
            ("nan_scale", "the NaN scale 0xFF (OCP MX 1.0 6.3)"),
            ("float32_exponent_field", "the scale rule applied to float32's exponent field of infinity read as "
                                       "2^128: code 255 - emax_elem (torchao FLOOR, CEIL, EVEN: 247 for E4M3)"),
            ("largest_scale", "0xFE, the scale 2^127 (torchao RCEIL)"),
            ("unpredictable", "any byte, and any element codes: the exponent is +infinity, whose conversion to an "
                              "integer is undefined (modelopt MXFP4's .to(torch.uint8); x86 gives 0)"),
        ),
    ),
    Variant(
        "block_nan", "block", "BLK-2.8", "What scale does a block holding a NaN get?",
        _values(
            ("nan_scale", "the NaN scale 0xFF (OCP MX 1.0 6.3)"),
            ("unpredictable", "any byte, and any element codes: the exponent is NaN, whose conversion to an integer "
                              "is undefined (modelopt MXFP4's .to(torch.uint8); x86 gives 0)"),
        ),
    ),
    Variant(
        "block_tiny_scale", "block", "BLK-3.2", "What are the elements of a block whose scale code is 0 (2^-127) divided by?",
        _values(
            ("exact", "2^-127, the scale stored"),
            ("float32_min_normal", "2^-126, the stored scale clamped to float32's smallest normal while 0x00 is "
                                   "stored: such blocks decode to half their value (torchao FLOOR, CEIL, EVEN)"),
            ("unit", "1: the elements are rounded unscaled (torchao RCEIL's reciprocal for code 0)"),
        ),
    ),
    Variant(
        "block_element_ties", "block", "BLK-3.3", "Which way does a scaled value halfway between two element values go?",
        _values(
            ("half_to_even", "to the value whose code is even (OCP MX 1.0, IEEE 754 roundTiesToEven)"),
            ("half_toward_zero", "to the value of smaller magnitude (modelopt MXFP4: -1.75 gives code 11, OCP 12)"),
        ),
    ),
    Variant(
        "block_zero_code", "block", "BLK-3.3", "Which code does an element whose float32 quotient is zero get?",
        _values(
            ("sign_bit", "the zero of the quotient's sign: +0 code 0, -0 the sign bit alone (OCP MX 1.0)"),
            ("negative", "the sign bit alone, for +0 too, and for a nonzero element whose float32 quotient x / 2^s "
                         "underflows to zero (modelopt MXFP4: torch.sign gives 0 there, and (2 - 0) // 2 sets the "
                         "sign bit)"),
        ),
    ),
    Variant(
        "block_nan_scale", "block", "BLK-4.2", "What does a block whose scale code is 255 dequantize to?",
        _values(
            ("nan", "NaN, every element (OCP MX 1.0)"),
            ("power_of_two", "each code's value times 2^128, which is +infinity: a nonzero code gives an infinity of "
                             "its sign, a zero NaN (modelopt MXFP4's torch.exp2(code - 127))"),
        ),
    ),
    Variant(
        "block_nan_payload", "block", "BLK-4.2", "Which float32 NaN does a NaN scale or a NaN element code dequantize to?",
        _values(
            ("unpredictable", "a NaN whose sign and payload are open (OCP MX 1.0)"),
            ("widened", "a NaN scale gives float32's default NaN 0x7FC00000; a NaN code its sign and mantissa at the "
                        "top of float32's mantissa, quieted (torch's casts: E4M3 0x7F gives 0x7FF00000)"),
        ),
    ),
    # --- end block ---
    # --- bnb4 (BLK-7): bitsandbytes' NF4 and FP4, absmax-scaled 4-bit code tables ---
    Variant(
        "bnb4_thresholds", "block_bnb4", "BLK-7.4", "Which thresholds select a scaled value's code?",
        _values(
            ("float32_midpoints", "fl32 midpoints of the sorted table, a value on one taking the lower position "
                                  "(bitsandbytes' CPU path: torch.bucketize, right=False)"),
            ("decision_tree", "the C literals of a comparison tree, on v for NF4 and on |v| with the sign bit "
                              "for FP4 (ONNX Runtime's QuantizeOneNF4 / QuantizeOneFP4, bitsandbytes' CUDA "
                              "kernel): 4 NF4 and 5 FP4 thresholds differ from the midpoints"),
        ),
    ),
    Variant(
        "bnb4_nan_code", "block_bnb4", "BLK-7.4", "What code does a NaN scaled value get?",
        _values(
            ("largest", "the code of the table's largest value, 1 (bucketize puts NaN above every bound): NF4 15, "
                        "FP4 3"),
            ("zero", "code 0 (every comparison of the tree is false): NF4 -1, FP4 +0"),
        ),
    ),
    Variant(
        "bnb4_absmax_nan", "block_bnb4", "BLK-7.2", "What does a NaN do to its block's absmax?",
        _values(
            ("propagates", "the absmax is NaN, so every scaled value of the block is (torch's max)"),
            ("ignored", "the absmax is that of the other elements (C's fmaxf)"),
        ),
    ),
    Variant(
        "bnb4_reciprocal", "block_bnb4", "BLK-7.3", "What are a block's elements multiplied by?",
        _values(
            ("clamped", "fl32(1 / max(absmax, fl32(1e-38))) (bitsandbytes: a block below 1e-38 is scaled by "
                        "about 1e38)"),
            ("zero_guarded", "0 for an absmax of 0, else fl32(1 / absmax), infinite below 2^-128 (ONNX Runtime)"),
        ),
    ),
    Variant(
        "bnb4_tail", "block_bnb4", "BLK-7.3", "How is a last, partial block scaled?",
        _values(
            ("reciprocal", "as every block, multiplied by the reciprocal"),
            ("divide", "divided by max(absmax, fl32(1e-38)) (bitsandbytes' CPU path)"),
        ),
    ),
    Variant(
        "bnb4_fp4_code8", "block_bnb4", "BLK-7.6", "Which zero does FP4's code 8 dequantize to?",
        _values(
            ("positive_zero", "+0 times the absmax (bitsandbytes: its table is built from Python's integer -0)"),
            ("negative_zero", "-0 times the absmax (ONNX Runtime's -0.00000000f)"),
        ),
    ),
    Variant(
        "bnb4_zero_sign", "block_bnb4", "BLK-7.6", "Which sign does a zero result of dequantize have?",
        _values(
            ("product", "the sign of the float32 product (bitsandbytes)"),
            ("positive", "+0: the product added to +0 (ONNX Runtime's MatMulBnb4 sums its dequantized weights into "
                         "a zeroed matrix product, the only way ONNX Runtime shows them)"),
        ),
    ),
    # --- end bnb4 ---
    # --- nvfp4 (BLK-8): NVIDIA's NVFP4, E2M1 in blocks of 16 with E4M3 scales and a float32 tensor scale ---
    Variant(
        "nvfp4_scale_arithmetic", "block_nvfp4", "BLK-8.2",
        "In which order are the tensor scale, the block scale and the scaled elements computed?",
        _values(
            ("divide_then_reciprocal", "s = fl32(A / 2688); block fl32(fl32(a / 6) / s); elements x * fl32(fl32(1 / s) "
                                       "/ s8) (torchao's nvfp4_quantize; the tensor stores s)"),
            ("divide_by_product", "s = fl32(A / 2688); block fl32(a / fl32(6 s)); elements x / fl32(s8 s) "
                                  "(modelopt's NVFP4QTensor; the tensor stores s)"),
            ("encode_scale", "e = fl32(2688 / A) (float32 max for an infinity, 1 for 0); block fl32(a * fl32(e * "
                             "fl32(1/6))); elements x * fl32(1 / fl32(s8 * fl32(1 / e))) (TransformerEngine's "
                             "reference quantizer; the tensor stores A)"),
        ),
    ),
    Variant(
        "nvfp4_scale_floor", "block_nvfp4", "BLK-8.3", "What lower bound is a block scale raised to before its cast?",
        _values(
            ("min_normal", "2^-6, E4M3's smallest normal (torchao's E4M3_EPS)"),
            ("min_subnormal", "2^-9, E4M3's smallest subnormal (modelopt)"),
            ("none", "none: a block scale of at most 2^-10 casts to 0 (TransformerEngine)"),
        ),
    ),
    Variant(
        "nvfp4_zero_scale", "block_nvfp4", "BLK-8.3", "What does a block scale of exactly 0 become?",
        _values(
            ("kept", "0, then the floor (torchao, TransformerEngine)"),
            ("one", "1.0 (modelopt: an all-zero block stores the E4M3 code of 1, 0x38)"),
        ),
    ),
    Variant(
        "nvfp4_scale_ceiling", "block_nvfp4", "BLK-8.3", "Is a block scale above 448 clamped before its cast?",
        _values(
            ("clamped", "to 448 (torchao, TransformerEngine)"),
            ("none", "no: above 464 the cast gives E4M3's NaN 0x7F (modelopt's dynamic path), reached when the "
                     "tensor scale is subnormal"),
        ),
    ),
    Variant(
        "nvfp4_element_nan", "block_nvfp4", "BLK-8.4", "What E2M1 code does a NaN scaled element get?",
        _values(
            ("payload", "a code computed from the NaN's bits (torchao's bit arithmetic): unpredictable"),
            ("largest", "7, the code of +6 (modelopt's searchsorted puts NaN above every bound)"),
            ("zero", "0 (TransformerEngine's comparisons are all false)"),
        ),
    ),
    Variant(
        "nvfp4_negative_zero", "block_nvfp4", "BLK-8.4", "Which code does a scaled -0 get?",
        _values(
            ("kept", "8: the sign bit is copied (torchao)"),
            ("positive", "0: the sign is x < 0 (modelopt, TransformerEngine); small negative values still get 8"),
        ),
    ),
    Variant(
        "nvfp4_dequantize_scale", "block_nvfp4", "BLK-8.6", "How is an element's value computed from the stored scales?",
        _values(
            ("product", "v * fl32(s8 * t), t the stored tensor scale (torchao's get_hp_scales, modelopt)"),
            ("amax_factor", "v * fl32(fl32(s8 * t) * fl32(1 / 2688)), t the stored amax (TransformerEngine's "
                            "dequantize_fp4_kernel)"),
        ),
    ),
    Variant(
        "nvfp4_code8", "block_nvfp4", "BLK-8.6", "Which zero does E2M1's code 8 dequantize to?",
        _values(
            ("negative_zero", "-0, E2M1's value of code 8, so the element is -0 times the scale (torchao)"),
            ("positive_zero", "+0 (modelopt: its E2M1 table is a torch.tensor of Python numbers, code 8 the "
                              "integer 0)"),
        ),
    ),
    # --- end nvfp4 ---
    # --- int4 groups (BLK-9): weight-only int4 groups with a float32 scale and zero point per group ---
    Variant(
        "int4_codes", "block_int4", "BLK-9.1", "Which 16 integers are the codes?",
        _values(
            ("signed", "-8 to 7, a symmetric group's zero point 0 (compressed-tensors' int4)"),
            ("unsigned", "0 to 15, a symmetric group's zero point 8 (HQQ, ONNX Runtime's MLAS and MatMulNBits)"),
        ),
    ),
    Variant(
        "int4_minmax_nan", "block_int4", "BLK-9.2", "What does a NaN do to its group's minimum and maximum?",
        _values(
            ("propagates", "both are NaN (torch's amin / amax and min / max along a dimension)"),
            ("ignored", "a scan from (FLT_MAX, -FLT_MAX) with v < min and v > max passes over it (MLAS): an "
                        "all-NaN group has the range [FLT_MAX, -FLT_MAX]"),
        ),
    ),
    Variant(
        "int4_range", "block_int4", "BLK-9.3", "Does an asymmetric group's range include 0?",
        _values(
            ("with_zero", "[min(m, 0), max(M, 0)], so 0 is a code (compressed-tensors, MLAS)"),
            ("data", "[m, M] as observed (HQQ): the zero point of an all-positive group is below the codes"),
        ),
    ),
    Variant(
        "int4_symmetric_scale", "block_int4", "BLK-9.3", "What is a symmetric group's scale?",
        _values(
            ("amax_over_half_range", "fl32(max(|m|, |M|) / 7.5) (compressed-tensors: (7 - (-8)) / 2)"),
            ("extreme_over_minus_half", "fl32(e / -8), e = M if |M| > |m| else m, the signed extreme: a scale "
                                        "is negative when the extreme is positive (MLAS)"),
            ("unsupported", "the engine has no symmetric mode: symmetric = True is an error (HQQ)"),
        ),
    ),
    Variant(
        "int4_asymmetric_scale", "block_int4", "BLK-9.3", "What is an asymmetric group's scale?",
        _values(
            ("range_over_levels", "s = fl32(fl32(M - m) / 15) (compressed-tensors, MLAS)"),
            ("inverse_range", "r = fl32(fl32(1 / fl32(M - m)) * 15), at most 2e4, and s = fl32(1 / r) (HQQ: "
                              "torch's 15 / d is reciprocal(d) * 15)"),
        ),
    ),
    Variant(
        "int4_zero_point", "block_int4", "BLK-9.4", "How is an asymmetric group's zero point made?",
        _values(
            ("half_even", "fl32(qmin - fl32(m / s)) clamped to the codes, rounded half to even "
                          "(compressed-tensors' torch.round)"),
            ("half_away", "the same, rounded half away from zero (MLAS's roundf)"),
            ("unrounded", "fl32(-m * r) (qmin added for signed codes), a float32 that is neither rounded nor "
                          "clamped (HQQ's default, round_zero=False)"),
        ),
    ),
    Variant(
        "int4_degenerate_scale", "block_int4", "BLK-9.4", "What replaces a scale of zero?",
        _values(
            ("epsilon", "s = 2^-23 once the zero point is made, which for an asymmetric group is then 0/0: its "
                        "zero point and codes are unpredictable (compressed-tensors)"),
            ("zero_reciprocal", "s stays 0, r = 0 and an asymmetric zero point is qmin + m, so every code is the "
                                "zero point (MLAS)"),
            ("unit_inverse", "r = 1 wherever |M - m| <= fl32(1e-4), so s = 1 (HQQ); no scale is zero"),
        ),
    ),
    Variant(
        "int4_element_scaling", "block_int4", "BLK-9.5", "How is an element scaled?",
        _values(
            ("divide", "fl32(x / s) (compressed-tensors)"),
            ("reciprocal", "fl32(x * r), r = fl32(1 / s) or the scale rule's own inverse (MLAS, HQQ)"),
        ),
    ),
    Variant(
        "int4_rounding", "block_int4", "BLK-9.5", "How is fl32(scaled + z) rounded to a code?",
        _values(
            ("half_even", "to nearest, ties to even (torch.round: compressed-tensors, HQQ)"),
            ("half_away", "to nearest, ties away from zero (C's roundf: MLAS)"),
        ),
    ),
    # --- end int4 groups ---
    # --- code packing (BLK-10): how B-bit codes are laid out in bytes and words ---
    Variant(
        "code_field", "block_packing", "BLK-10.1", "Which B-bit field holds a code?",
        _values(
            ("unsigned", "the code itself, from 0 to 2^B - 1 (HQQ, torchao): a negative code is an error"),
            ("modular", "the code modulo 2^B: two's complement for signed codes from -2^(B-1), the code itself for "
                        "unsigned ones up to 2^B - 1 (ONNX's int4, uint4, int2 and uint2)"),
            ("offset", "the code plus 2^(B-1), for signed codes from -2^(B-1) to 2^(B-1) - 1 only "
                       "(compressed-tensors' pack_to_int32)"),
        ),
    ),
    Variant(
        "code_order", "block_packing", "BLK-10.2", "Where in the units does each field go?",
        _values(
            ("stream_low_first", "one stream of bits, low bits first: field i is bits iB to iB + B - 1, and stream "
                                 "bit b is bit b mod W of unit b div W, so a field may straddle two units "
                                 "(ONNX, compressed-tensors, torchao)"),
            ("stream_high_first", "as stream_low_first with the bits of each unit numbered from the top: field 2j "
                                  "of a byte of 4-bit codes is its high nibble (bitsandbytes)"),
            ("planes", "k = floor(W / B) planes: the row is cut into k equal parts of s = ceil(n / k) fields, "
                       "and unit j holds field p*s + j at bits (k-1-p)B, the first part in the highest bits "
                       "(HQQ's BitPack)"),
        ),
    ),
    Variant(
        "code_unit", "block_packing", "BLK-10.2", "What are the units, and how wide (W bits)?",
        _values(
            ("uint8", "bytes, W = 8 (ONNX, torchao)"),
            ("int32", "int32 words, W = 32, little-endian in memory (compressed-tensors)"),
            ("uint8_or_int32", "bytes where B divides 8, int32 words otherwise (HQQ: 3-bit codes in int32)"),
        ),
    ),
    Variant(
        "code_extent", "block_packing", "BLK-10.3", "What is packed as one stream?",
        _values(
            ("rows", "each row along the last axis, padded to whole units (compressed-tensors, HQQ, torchao)"),
            ("tensor", "the whole array in C order, padded once at its end (ONNX's raw tensor data)"),
        ),
    ),
    # --- end code packing ---
    # --- cast (NUM-3.20) ---
    Variant(
        "float8_conversion", "cast", "NUM-3.20",
        "What does a non-saturating cast to float8 give a value just beyond the largest finite value?",
        _values(
            ("nearest", "NUM-3.15's infinity policy: a value that rounds beyond the largest finite value overflows "
                        "(float8_e4m3fn: NaN; float8_e5m2: infinity)"),
            ("onnxruntime_float8", "ONNX Runtime's conversion: float8_e4m3fn magnitudes in [480, 496) become 448, "
                                   "float8_e5m2 magnitudes in [61440, 65536) become NaN 0x7E (with their sign)"),
        ),
    ),
    Variant(
        "e8m0_conversion", "cast", "NUM-3.22",
        "What does a cast into E8M0 give a value outside its range, and how does it read its input?",
        _values(
            ("nearest_value", "NUM-3.13 and NUM-3.21 on the exact value: it is rounded to a power of two first, and "
                              "only a result beyond 2^127 overflows (a negative value is the NaN, as in every "
                              "unsigned format)"),
            ("range_first", "the ONNX text's tables (ONNX Runtime 1.32): a value below 2^-127 (zeros and negative "
                            "values included) or above 2^127 is out of range before it is rounded: the smallest "
                            "or largest value under saturate, else the NaN"),
            ("exponent_field", "onnx.reference's to_float8e8m0: the float32 exponent field, raised by one by the "
                               "rounding bits, with the sign dropped and float32 subnormals read as if normal; "
                               "an infinity is the NaN even under saturate"),
        ),
    ),
    Variant(
        "finite_format_nan", "cast", "NUM-3.23",
        "What does a NaN become in a float format without NaN (float4_e2m1fn, float6)?",
        _values(
            ("error", "refused (NUM-3.17): the format has no pattern for it"),
            ("largest", "the largest positive finite value, whatever the NaN's sign (the ONNX text for FLOAT4E2M1: "
                        "NaN becomes 6)"),
            ("opposite_sign_zero", "the zero whose sign is not the NaN's (ml_dtypes, and so onnx.reference and "
                                   "ONNX's own Cast node tests: NaN becomes 0x8, -0)"),
        ),
    ),
    Variant(
        "e8m0_negative", "cast", "NUM-3.22",
        "Is a negative value (or -0) cast into E8M0 specified?",
        _values(
            ("specified", "yes: e8m0_conversion's rule gives it its pattern"),
            ("unpredictable", "no: the ONNX text says casting a negative value to FLOAT8E8M0 is undefined "
                              "behaviour and leaves -0 unspecified"),
        ),
    ),
    # --- end cast ---
    # --- float targets (AFF-6) ---
    Variant(
        "float_zero_point", "float_quantize", "AFF-6.2",
        "Does quantize to a float format add the zero point?",
        _values(
            ("added", "fl32(fl32(x / s) + z), then the cast (the ONNX text's formula)"),
            ("ignored", "fl32(x / s), then the cast: the zero point does not enter (ONNX Runtime)"),
            ("added_except_float8", "added for the float6 and float4 types, ignored for the float8 types "
                                    "(onnx.reference 1.23)"),
        ),
    ),
    Variant(
        "float_dequantize_zero_point", "float_dequantize", "AFF-6.4",
        "What does dequantize from a float format do with a nonzero zero point?",
        _values(
            ("subtracted", "fl32(fl32(q - z) * s) (the ONNX text's formula)"),
            ("refused", "a nonzero zero point is an error (ONNX Runtime)"),
            ("by_width", "subtracted for the float6 types, ignored for float4 (fl32(q * s)); for the float8 "
                         "types a zero point from 1 to 255 is an error and any other is ignored (onnx.reference "
                         "1.23 with ml_dtypes 0.7)"),
        ),
    ),
    # --- end float targets ---
)

VARIANTS_BY_NAME = {variant.name: variant for variant in VARIANTS}


def variant_code(variant: str, value: str, argument: str) -> int:
    """The kernel code of ``value`` for ``variant``; anything else is an error naming ``argument``."""
    known = VARIANTS_BY_NAME[variant]
    if isinstance(value, str):  # one pass over the names: a kernel's caller looks its variants up on every call
        for candidate in known.values:
            if candidate.name == value:
                return candidate.code
    from refq.errors import invalid  # only here: an import in a function body costs a microsecond a call

    raise invalid(argument, "one of " + ", ".join(repr(v.name) for v in known.values), value)
