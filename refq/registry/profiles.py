"""Profiles: named bundles of variant values, each describing one real implementation
(or the ONNX text itself), with the sources it was established from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    #: Variant values for quantize and dequantize (every quantize/dequantize variant named).
    quantize: dict[str, str]
    dequantize: dict[str, str]
    #: Values that replace ``quantize``'s for per-axis and blocked granularity, where the
    #: backend runs a different kernel for them.
    quantize_per_axis: dict[str, str] = field(default_factory=dict)
    #: Variant values for requantization (REQ); empty where the backend has no integer layers refq covers.
    requantize: dict[str, str] = field(default_factory=dict)
    #: Values that replace ``requantize``'s for one operation (by name), where the backend's kernel for it
    #: requantizes differently from its others.
    requantize_per_operation: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Variant values for ggml's block types (GGF); empty where the backend has none.
    gguf: dict[str, str] = field(default_factory=dict)
    #: Variant values for bitsandbytes' 4-bit formats (BLK-7); empty where the backend has none.
    bnb4: dict[str, str] = field(default_factory=dict)
    #: Variant values for NVIDIA's NVFP4 (BLK-8); empty where the backend has none.
    nvfp4: dict[str, str] = field(default_factory=dict)
    #: Variant values for weight-only int4 groups (BLK-9); empty where the backend has none.
    int4_group: dict[str, str] = field(default_factory=dict)
    #: Variant values for packing codes into bytes and words (BLK-10); empty where the backend packs none.
    packing: dict[str, str] = field(default_factory=dict)
    #: Variant values for the block-scaled formats (BLK); empty where the backend has none.
    block: dict[str, str] = field(default_factory=dict)
    #: Variant values for ``cast`` (NUM-3.20); empty where the profile says nothing of casts, which then follow
    #: NUM-3 (:data:`CAST_DEFAULT`).
    cast: dict[str, str] = field(default_factory=dict)
    #: Variant values for quantize to and dequantize from float formats (AFF-6); empty where the backend has
    #: none.
    float_targets: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    notes: str = ""


_ONNX_STEPS = {
    "scale_operation": "divide",
    "precision": "float32",
    "zero_point_placement": "after_rounding",
    "rounding": "half_to_even",
    "saturation": "clamp_then_convert",
    "conversion_overflow": "integer_indefinite",
    "subnormals": "preserved",
}
_DEQUANTIZE_STANDARD = {"dequantize_formula": "subtract_then_multiply", "dequantize_difference": "exact",
                        "dequantize_precision": "float32"}
# --- code packing (BLK-10) ---
#: compressed-tensors' pack_to_int32 / unpack_from_int32 (compressed_tensors/compressors/pack_quantized/helpers.py).
PACKING_COMPRESSED_TENSORS = {"code_field": "offset", "code_order": "stream_low_first", "code_unit": "int32",
                              "code_extent": "rows"}
#: HQQ's BitPack (hqq/core/bitpack.py): pack_8bit_u8, pack_4bit_u8, pack_3bit_32, pack_2bit_u8, pack_1bit_u8.
PACKING_HQQ = {"code_field": "unsigned", "code_order": "planes", "code_unit": "uint8_or_int32", "code_extent": "rows"}
#: torchao's pack_uint4 / unpack_uint4 (torchao/prototype/mx_formats/kernels.py), MXFP4's element bytes.
PACKING_TORCHAO = {"code_field": "unsigned", "code_order": "stream_low_first", "code_unit": "uint8",
                   "code_extent": "rows"}
#: ONNX's raw data of INT4, UINT4, INT2 and UINT2 tensors (onnx/numpy_helper.py: from_array, to_array).
PACKING_ONNX = {"code_field": "modular", "code_order": "stream_low_first", "code_unit": "uint8",
                "code_extent": "tensor"}
# --- end code packing ---

_TORCH_RECIPROCAL = {**_ONNX_STEPS, "scale_operation": "multiply_reciprocal"}
# --- requantize (REQ) ---
_REQUANTIZE_ORT = {"requantize_form": "float_multiplier", "requantize_multiplier_order": "product_then_quotient",
                   "requantize_precision": "float32", "requantize_zero_point": "after_rounding",
                   "accumulator": "int32", "accumulator_overflow": "wrap", "u8s8_products": "exact"}
# MLAS and FBGEMM choose their uint8 x int8 kernels by the CPU: VNNI sums exactly, vpmaddubsw in int16-saturating
# pairs (INT-2.6, measured on both kinds of CPU). ONNX Runtime's ConvInteger puts the weights first (INT-3.6).
_U8S8_BY_CPU = {"u8s8_products": "unpredictable", "u8s8_conv_pairs": "input_channels_last"}
_REQUANTIZE_ONNX_REFERENCE = {**_REQUANTIZE_ORT, "requantize_precision": "float64",
                              "requantize_zero_point": "before_rounding"}
_REQUANTIZE_TFLITE = {"requantize_form": "fixed_point", "requantize_multiplier_order": "float64_quotient",
                      "multiplier_rounding": "half_away_from_zero",
                      "shift_limits": "tflite", "fixed_point_rounding": "double_round", "multiplier_bits": "32",
                      "accumulator": "int32", "accumulator_overflow": "unpredictable", "u8s8_products": "exact"}
_REQUANTIZE_TOSA = {**_REQUANTIZE_TFLITE, "shift_limits": "tosa"}
# TFLite's reference FULLY_CONNECTED (measured, LiteRT 2.3 BUILTIN_REF): round(double(acc) * (double(s_x) * s_w / s_y))
# half away from zero, + z_y, clamped; the double-to-int32 cast of a value beyond int32 is undefined.
_REQUANTIZE_TFLITE_FULLY_CONNECTED = {
    "requantize_form": "float_multiplier", "requantize_multiplier_order": "float64_quotient",
    "requantize_precision": "float64", "requantize_zero_point": "after_rounding",
    "requantize_rounding": "half_away_from_zero", "requantize_conversion_overflow": "unpredictable"}
# TFLite's optimized FULLY_CONNECTED and CONV_2D (measured, BUILTIN_WITHOUT_DEFAULT_DELEGATES): the doubling high
# multiply, then a rounding right shift whose ties go up.
_REQUANTIZE_TFLITE_OPTIMIZED = {**_REQUANTIZE_TFLITE, "fixed_point_rounding": "double_round_ties_up"}
_REQUANTIZE_TFLITE["average_division"] = "rounded_integer_division"
_REQUANTIZE_TOSA["average_division"] = "tosa_reciprocal"
_REQUANTIZE_TOSA["binary_arithmetic"] = "tosa_rescale"
# FBGEMM's requantization (torch.ops.quantized.linear / conv2d) is MLAS's: measured bit-identical.
_REQUANTIZE_PYTORCH = {**_REQUANTIZE_ORT, **_U8S8_BY_CPU}
# torch qnnpack / PT2E adapters: QNNPACK multiplies by fl32(1 / s_y); PT2E's reference representation truncates.
_REQUANTIZE_PYTORCH_QNNPACK = {**_REQUANTIZE_ORT, "requantize_multiplier_order": "reciprocal",
                               "requantize_rounding": "half_to_even", "requantize_conversion_overflow": "unpredictable"}
_REQUANTIZE_PYTORCH_PT2E = {**_REQUANTIZE_ORT, "requantize_rounding": "toward_zero",
                            "requantize_conversion_overflow": "unpredictable"}
# --- end requantize ---
#: The ``cast`` values of a profile that names none: NUM-3's own rules.
CAST_DEFAULT = {"float8_conversion": "nearest", "e8m0_conversion": "nearest_value", "finite_format_nan": "error",
                "e8m0_negative": "specified"}


def cast_values(profile: Profile) -> dict[str, str]:
    """``profile``'s values of the ``cast`` variants, and :data:`CAST_DEFAULT`'s for those it does not name."""
    return {**CAST_DEFAULT, **profile.cast}

PROFILES: tuple[Profile, ...] = (
    Profile(
        "onnx", "The ONNX operator text (QuantizeLinear / DequantizeLinear, opset 21-25)",
        {**_ONNX_STEPS, "nan": "unpredictable"}, dict(_DEQUANTIZE_STANDARD),
        cast={**CAST_DEFAULT, "e8m0_conversion": "range_first", "finite_format_nan": "largest",
              "e8m0_negative": "unpredictable"},
        float_targets={"float_zero_point": "added", "float_dequantize_zero_point": "subtracted"},
        packing=dict(PACKING_ONNX),
        sources=("onnx/docs/Operators.md: QuantizeLinear, DequantizeLinear",
                 "onnx/defs/doc_strings.cc kDoc_Cast_ver24 (Cast-25's E8M0 tables; negative inputs undefined)",
                 "onnx docs/technical/float4.md: Cast to FLOAT4E2M1, NaN becomes 6",
                 "onnx docs/technical/int4.md: 4-bit integers two per byte, the first in the low nibble, an odd "
                 "count padded (BLK-10)"),
        notes="y = saturate(round(x / y_scale) + y_zero_point), ties to even; x / y_scale in the precision of "
              "y_scale (float32 here). The text does not say what NaN becomes: unpredictable.",
    ),
    Profile(
        "onnxruntime", "ONNX Runtime, CPU execution provider",
        {**_ONNX_STEPS, "nan": "qmin"}, {**_DEQUANTIZE_STANDARD, "dequantize_difference": "int32_wraparound_to_float32"},
        requantize={**_REQUANTIZE_ORT, **_U8S8_BY_CPU},
        requantize_per_operation={"conv_integer": {"u8s8_conv_pairs": "weights_channels_first"}},
        cast={"float8_conversion": "onnxruntime_float8", "e8m0_conversion": "range_first"},
        float_targets={"float_zero_point": "ignored", "float_dequantize_zero_point": "refused"},
        sources=("onnxruntime/core/mlas/lib/quantize.cpp (MlasQuantizeLinear)",
                 "measured: onnxruntime 1.32 CPU, 0 mismatches in 8 million values",
                 "u8s8_products measured: onnxruntime 1.32, MatMulInteger, QLinearMatMul, QLinearConv and ConvInteger "
                 "on an AVX512-VNNI CPU (exact) and an AVX2 CPU without VNNI (int16_pairs)",
                 "float8_conversion measured: onnxruntime 1.32 Cast, every float32 into each float8 format, "
                 "saturate 0 and 1 (onnxruntime/core/framework/float8.h)",
                 "e8m0_conversion measured: onnxruntime 1.32 Cast to FLOAT8E8M0, 2^29 float32 under each round_mode "
                 "and saturate (tests/test_numbers_floats_e8m0.py; every float32 under -m slow)",
                 "float_targets measured: onnxruntime 1.32 QuantizeLinear / DequantizeLinear with float8 types "
                 "(a zero point ignored by the first, a nonzero one refused by the second)"),
        notes="MLAS clamps x / scale to [qmin - zp, qmax - zp] in float before rounding; a NaN fails both "
              "comparisons of the clamp and becomes the lower bound, so NaN gives qmin. DequantizeLinear computes "
              "static_cast<float>(q - z) * s: for int32 inputs the difference wraps and is rounded to float32. "
              "uint8 x int8 products: MLAS sums them exactly on CPUs with VNNI (AVX512-VNNI, AVX-VNNI) and in "
              "int16-saturating pairs with vpmaddubsw on AVX2 / AVX-512 CPUs without (INT-2.6), in MatMulInteger, "
              "QLinearMatMul and QLinearConv, and in ConvInteger with uint8 weights and an int8 input (its matrix "
              "product puts the weights first: u8s8_conv_pairs = weights_channels_first); the profile covers both "
              "kinds of CPU, so the elements where the two differ are unpredictable.",
    ),
    Profile(
        "onnx-reference", "onnx.reference.ReferenceEvaluator (the ONNX Python reference)",
        {**_ONNX_STEPS, "saturation": "convert_then_clamp", "nan": "converted"},
        {**_DEQUANTIZE_STANDARD, "dequantize_difference": "float32_q", "dequantize_precision": "float64"},
        requantize=dict(_REQUANTIZE_ONNX_REFERENCE), packing=dict(PACKING_ONNX),
        cast={**CAST_DEFAULT, "e8m0_conversion": "exponent_field", "finite_format_nan": "opposite_sign_zero"},
        float_targets={"float_zero_point": "added_except_float8", "float_dequantize_zero_point": "by_width"},
        sources=("onnx/reference/ops/op_quantize_linear.py: np.rint(x).astype(np.int32), += zero_point, np.clip",
                 "onnx/numpy_helper.py: from_array, to_array of INT4, UINT4, INT2, UINT2 (BLK-10; measured, "
                 "tests/test_block_packing.py)",
                 "float_targets measured: onnx 1.23 QuantizeLinear-25 / DequantizeLinear-25 with every float8, "
                 "float6 and float4 type: QuantizeLinear's float8 branch never adds a zero point, and "
                 "DequantizeLinear refuses one whose uint8 conversion is not 0 (1 to 255) and ignores any other; "
                 "float6 adds and subtracts it; float4 adds it in QuantizeLinear and ignores it in DequantizeLinear",
                 "onnx/numpy_helper.py to_float8e8m0 (Cast to E8M0), ml_dtypes' astype (NaN to float4: the zero of "
                 "the other sign); measured: the cast vectors and tests/test_numbers_floats_e8m0.py"),
        notes="Casts to int32 before clamping: NaN, +-inf and |x / scale| >= 2^31 become -2^31 (numpy on x86), "
              "to which the zero point is added with int32 wraparound: qmin for a zero point >= 0, but a negative "
              "zero point wraps to qmax. Deviates from the ONNX text, which saturates. Dequantize converts q to float32 "
              "first; for int32 inputs numpy then promotes to float64.",
    ),
    Profile(
        "pytorch", "PyTorch torch.quantize_per_tensor / quantize_per_channel, x86 CPU (FBGEMM)",
        {**_TORCH_RECIPROCAL, "zero_point_placement": "before_rounding_fused", "nan": "qmax"},
        dict(_DEQUANTIZE_STANDARD),
        quantize_per_axis={"zero_point_placement": "before_rounding", "nan": "zero"},
        requantize=dict(_REQUANTIZE_PYTORCH),
        sources=("fbgemm QuantUtilsAvx2.cc (QuantizeAvx2: _mm256_fmadd_ps(x, inverse_scale, zero_point))",
                 "aten/src/ATen/native/quantized/AffineQuantizer.cpp",
                 "measured: torch 2.13 CPU",
                 "requantize measured: torch.ops.quantized.linear and conv2d, fbgemm engine, torch 2.13 (AVX512-VNNI CPU)",
                 "u8s8_products measured: the same on an AVX2 CPU without VNNI: int16_pairs"),
        notes="Per-tensor: one fused multiply-add x * fl32(1 / scale) + zero_point, then round and clamp; NaN "
              "gives qmax. Per-channel: the product and the addition are rounded separately; NaN gives 0. "
              "CPUs without FMA take another path (not covered). Quantized linear / conv2d requantize as "
              "ONNX Runtime does: multiplier fl32(fl32(s_x * s_w) / s_y), fl32(fl32(acc) * multiplier), rounded "
              "half to even, output zero point added after rounding, clamped. uint8 x int8 products are summed "
              "in int32 with wraparound on AVX512-VNNI CPUs and in int16-saturating adjacent pairs (vpmaddubsw, "
              "INT-2.6) on AVX2 CPUs without VNNI (both measured): the profile covers both, so the elements where "
              "they differ are unpredictable. FBGEMM's depthwise conv2d "
              "(group = channels) deviates even on the AVX512-VNNI CPU measured: with full-range int8 weights 109 of "
              "5,040 random elements differ, with weights in [-64, 63] none (consistent with int16 pair "
              "saturation; the pairing was not modelled).",
    ),
    Profile(
        "pytorch-fake-quant", "PyTorch torch.fake_quantize_per_tensor_affine / per_channel_affine (CPU)",
        {**_TORCH_RECIPROCAL, "nan": "qmin"}, dict(_DEQUANTIZE_STANDARD),
        quantize_per_axis={"saturation": "convert_int64_then_clamp"},
        sources=("aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp (fake_quant kernels)",
                 "measured: torch 2.13 CPU"),
        notes="round(fl32(x * fl32(1 / scale))) + zero_point, clamp, then (q - zero_point) * scale. The per-channel "
              "kernel converts zero_point + nearbyint(x * inv_scale) to int64 before clamping: quotients of 2^63 "
              "and more (and +inf) become -2^63 and clamp to qmin.",
    ),
    Profile(
        "pytorch-pt2e", "PyTorch 2 export decomposed ops (torch.ops.quantized_decomposed.*)",
        {**_TORCH_RECIPROCAL, "nan": "zero"}, dict(_DEQUANTIZE_STANDARD),
        requantize=dict(_REQUANTIZE_PYTORCH_PT2E),
        sources=("torch/ao/quantization/fx/_decomposed.py: clamp(round(input * (1.0 / scale)) + zero_point).to(dtype)",
                 "torch/ao/quantization/pt2e/representation/rewrite.py (torch 2.5; moved to torchao): "
                 "_reference_quantized_linear, _reference_quantized_conv2d",
                 "requantize measured: the same ops (out_dtype, aten.linear / convolution on int32), torch 2.13 CPU"),
        notes="The reciprocal is computed in float64 and rounded to float32 on use, which equals fl32(1 / scale) for "
              "a float32 scale. NaN survives torch.clamp and the float-to-integer cast of NaN gives 0 on x86. "
              "The reference quantized linear / conv2d (per tensor) accumulate in int32 and requantize as "
              "out_dtype(mul, int32, acc, fl32(fl32(s_x * s_w) / s_y)) + z_y: the product in float32 and a "
              "float-to-int32 cast, which truncates toward zero (REQ-1.5); a product beyond int32 is "
              "unpredictable (REQ-1.6).",
    ),
    Profile(
        "tflite", "TensorFlow Lite reference kernels (LiteRT's BUILTIN_REF op resolver)",
        {**_ONNX_STEPS, "rounding": "half_away_from_zero", "saturation": "convert_then_clamp",
         "conversion_overflow": "unpredictable", "nan": "unpredictable"},
        {**_DEQUANTIZE_STANDARD, "dequantize_precision": "float64"},
        requantize=dict(_REQUANTIZE_TFLITE),
        requantize_per_operation={"qlinear_matmul": dict(_REQUANTIZE_TFLITE_FULLY_CONNECTED)},
        sources=("tensorflow/lite/kernels/internal/reference/quantize.h: "
                 "static_cast<int32>(TfLiteRound(val / static_cast<float>(scale))) + zero_point, then clamp",
                 "tensorflow/lite/kernels/internal/reference/dequantize.h: "
                 "static_cast<float>(scale * (val - zero_point)) with a double scale",
                 "measured: ai-edge-litert 2.3.0, BUILTIN_REF: QUANTIZE, DEQUANTIZE, FULLY_CONNECTED per tensor and "
                 "per channel (refq/backends/litert.py, tests/test_litert.py)"),
        notes="TfLiteRound is std::round (ties away from zero). The int32 cast of NaN or of a value outside int32 "
              "is undefined behaviour in C++: unpredictable. The reference FULLY_CONNECTED (qlinear_matmul) "
              "requantizes with the float64 multiplier (s_x * s_w) / s_y: round(double(acc) * m) half away from "
              "zero, + z_y (requantize_per_operation); CONV_2D (qlinear_conv) with the fixed-point multiplier "
              "(REQ-2.7, MultiplyByQuantizedMultiplier).",
    ),
    Profile(
        "tflite-optimized", "TensorFlow Lite optimized kernels (LiteRT's BUILTIN_WITHOUT_DEFAULT_DELEGATES op resolver)",
        {**_TORCH_RECIPROCAL, "saturation": "convert_then_clamp", "conversion_overflow": "unpredictable",
         "nan": "unpredictable"},
        {**_DEQUANTIZE_STANDARD, "dequantize_formula": "multiply_then_subtract"},
        requantize=dict(_REQUANTIZE_TFLITE_OPTIMIZED),
        sources=("tensorflow/lite/kernels/internal/optimized/optimized_ops.h: AffineQuantize (x * (1 / scale), "
                 "rounded to nearest even), Dequantize",
                 "measured: ai-edge-litert 2.3.0, BUILTIN_WITHOUT_DEFAULT_DELEGATES: QUANTIZE, DEQUANTIZE"),
        notes="QUANTIZE multiplies by the float32 reciprocal of the scale and rounds ties to even (0.5 -> 0, 2.5 -> 2 "
              "at scale 1, where the reference kernel gives 1 and 3) in blocks of 8 values; the last size % 8 values "
              "take the reference rule (x / scale, ties away), which no variant says yet (measured on sizes that are "
              "multiples of 8). DEQUANTIZE computes q * scale - zero_point * "
              "scale. The optimized FULLY_CONNECTED and CONV_2D requantize with the fixed-point multiplier, a "
              "doubling high multiply and a rounding shift whose ties go up (fixed_point_rounding = "
              "double_round_ties_up: m = 1/4 takes 1 to 1 and -10 to -2). DEPTHWISE_CONV_2D takes that rule for "
              "its output channels in whole groups of 8 and double_round for the last M % 8 (measured), which no "
              "variant says yet: the backend offers CONV_2D only.",
    ),
    Profile(
        "xnnpack", "TensorFlow Lite with its default XNNPACK delegate (LiteRT's BUILTIN op resolver)",
        {**_TORCH_RECIPROCAL, "saturation": "convert_then_clamp", "conversion_overflow": "unpredictable",
         "nan": "unpredictable", "subnormals": "flushed"},
        {**_DEQUANTIZE_STANDARD, "dequantize_precision": "float64"},
        requantize=dict(_REQUANTIZE_ORT),
        sources=("measured: ai-edge-litert 2.3.0, BUILTIN (XNNPACK delegate): QUANTIZE, DEQUANTIZE, FULLY_CONNECTED "
                 "per tensor and per channel",
                 "XNNPACK src/operator-run.c: every operator runs under PTHREADPOOL_FLAG_DISABLE_DENORMALS (x86: "
                 "MXCSR DAZ and FTZ); src/microparams-init.c: the QUANTIZE multiplier is 1.0f / output scale"),
        notes="QUANTIZE as the optimized kernels (the float32 reciprocal, ties to even) but with subnormals flushed "
              "(subnormals = flushed, measured: a scale above 2^126 has a subnormal reciprocal and quantizes every "
              "x to the zero point; the largest subnormal x at scale 2^-126 gives 0, not 1), "
              "DEQUANTIZE as the reference "
              "kernel ((q - z) * scale). FULLY_CONNECTED requantizes as ONNX Runtime does: the float32 multiplier "
              "fl32(fl32(s_x * s_w) / s_y), the accumulator scaled in float32 and rounded half to even, + z_y "
              "(0 differences in 42,304 elements, ties included).",
    ),
)


PROFILES_BY_NAME = {profile.name: profile for profile in PROFILES}

# --- requantize (REQ) ---
#: Profiles of integer-only backends: they requantize but have no float quantize or
#: dequantize step, so they stay out of PROFILES (whose members all name those variants).
INTEGER_ONLY_PROFILES: tuple[Profile, ...] = (
    Profile(
        "tosa", "TOSA 1.0 RESCALE (Tensor Operator Set Architecture), with MLIR's TOSA legalisation",
        {}, {}, requantize=dict(_REQUANTIZE_TOSA),
        sources=("TOSA specification 1.0: RESCALE, apply_scale_32, apply_scale_16",
                 "mlir/lib/Dialect/Tosa/Utils/QuantUtils.cpp: computeMultiplierAndShiftTosaScale32 (std::round)"),
        notes="rounding_mode DOUBLE_ROUND when legalised from TFLite (SINGLE_ROUND is the variant "
              "fixed_point_rounding=single_round; INEXACT_ROUND leaves the choice to the implementation). int8 x int8 "
              "accumulates in int32 (int16 x int8 in int48); a sum that leaves the accumulator violates "
              "a REQUIRE: unpredictable.",
    ),
    # torch qnnpack adapter
    Profile(
        "pytorch-qnnpack", "PyTorch torch.ops.quantized.linear / conv2d on the QNNPACK engine (x86 SSE2 build)",
        {}, {}, requantize=dict(_REQUANTIZE_PYTORCH_QNNPACK),
        sources=("aten/src/ATen/native/quantized/cpu/QnnpackUtils.h: generate_requantization_scales "
                 "(weight_scale * input_scale) * (1.f / output_scale)",
                 "aten/src/ATen/native/quantized/cpu/qnnpack/src/q8gemm/4x4c2-sse2.c: cvtepi32_ps, mul_ps, "
                 "cvtps_epi32, then packs / adds_epi16 / packus (saturating) and min/max",
                 "measured: torch 2.13 CPU, quantized linear and conv2d (incl. depthwise, per channel)"),
        notes="uint8 activations and output only; int8 weights are stored as uint8 with 128 added to the values and "
              "the zero point, so the differences are exact. Products of int16 differences are summed in int32 "
              "(pmaddwd, wraps). The multiplier is fl32(fl32(s_w * s_x) * fl32(1 / s_y)) (requantize_multiplier_order "
              "reciprocal), the accumulator is scaled in float32 and rounded half to even; the zero point is added "
              "after rounding with saturating int16 arithmetic, which clamps like ONNX Runtime. A product beyond "
              "int32 converts to INT32_MIN (cvtps2dq): unpredictable (REQ-1.6).",
    ),
)

# --- gguf (GGF) ---
_GGML = {"gguf_contraction": "unfused", "gguf_nan": "unpredictable", "gguf_zero_sign": "ggml",
         "gguf_conversion": "unpredictable", "gguf_search": "reference", "gguf_activation_quantizer": "reference"}
#: Profiles of ggml's block types: they name no affine or requantization variant.
GGUF_PROFILES: tuple[Profile, ...] = (
    Profile(
        "ggml", "ggml's reference block quantizers (ggml-quants.c quantize_row_*_ref, dequantize_row_*), "
                "compiled without FMA contraction",
        {}, {}, gguf=dict(_GGML),
        sources=("ggml/src/ggml-quants.c (ggml 0.25.3, bundled by llama-cpp-python 0.3.36)",
                 "measured: that file built with gcc 12 -O2 -ffp-contract=off, every type "
                 "(tests/test_gguf_ggml.py, where the sources are present)"),
        notes="A NaN in a block makes the block's bytes unpredictable: the maximum searches skip it, but its own "
              "conversion to an integer is undefined in C. So is the conversion of an infinity or of a value "
              "beyond int. Built with contraction (gcc -march=native with FMA, clang, AArch64) the K types' "
              "scale searches change bytes: gcc 12 -O2 -march=x86-64-v3 -mtune=znver3 is the ggml-native "
              "profile; another "
              "contracting build is gguf_contraction=contracted.",
    ),
    Profile(
        "ggml-native", "ggml's reference block quantizers compiled by gcc 12 -O2 -march=x86-64-v3 -mtune=znver3 "
                       "(FMA contraction, a fixed x86-64 target)",
        {}, {}, gguf={**_GGML, "gguf_contraction": "gcc_x86_64"},
        sources=("ggml/src/ggml-quants.c (ggml 0.25.3, bundled by llama-cpp-python 0.3.36)",
                 "read: the disassembly of that file built with gcc 12 -O2 -march=x86-64-v3 -mtune=znver3 (refq ggml "
                 "build's fused library; the same assembly as -march=native on an AMD Zen 3 CPU), every "
                 "vfmadd/vfmsub/vfnmadd placed",
                 "measured: byte-identical to that build on Q4_0, Q4_1, Q5_0, Q5_1 near-tie blocks, Q2_K, Q4_K, Q5_K, "
                 "Q6_K, Q8_K, IQ4_NL, IQ4_XS random super-blocks, Q3_K near-tie and random super-blocks and "
                 "NVFP4 blocks (tests/test_gguf_contracted.py)"),
        notes="The types whose bytes the FMAs change are computed with them (GGF-4.2); those whose only FMAs are "
              "exact (the float16 conversion's, MXFP4's products by a power of two, NVFP4's) are the reference's. "
              "Another compiler, release or target places them elsewhere: this profile is that one build. The "
              "target is fixed because -march=native is not one build: on an AVX-512 CPU gcc vectorises Q6_K's "
              "trial sums unfused, and generic or Intel tunings fuse more of the affine search (GGF-4.2).",
    ),
    Profile(
        "ggml-cpu-x86", "ggml-cpu's x86 SIMD activation quantizer (arch/x86/quants.c quantize_row_q8_0 and "
                        "quantize_row_q8_1, the AVX2 branch)",
        {}, {}, gguf={**_GGML, "gguf_activation_quantizer": "x86_simd"},
        sources=("ggml/src/ggml-cpu/arch/x86/quants.c (ggml 0.25.3, bundled by llama-cpp-python 0.3.36)",
                 "measured: that file built with gcc 12 -O3 and ggml's haswell flags (-msse4.2 -mf16c -mfma -mbmi2 "
                 "-mavx -mavx2; refq ggml build's x86-simd library): byte-identical to GGF-4.3 on 2^19 N(0,1) "
                 "blocks, ties, subnormal, tiny, infinite and zero blocks (2^16 and level 2's families in "
                 "tests/test_gguf_activation_ggml.py); "
                 "40 of 524,288 N(0,1) blocks differ from quantize_row_q8_0_ref"),
        notes="Quantizes Q8_0 and Q8_1 only: the activations ggml-cpu's vec_dot multiplies with the weights' "
              "blocks; every other type is the reference's. The functions have no AVX-512 branch: an AVX-512 "
              "build (-march=native there) compiles this AVX2 code, and an AVX-only build the same arithmetic "
              "with SSE packs. Without AVX they call the _ref functions (the ggml profile); NEON (arch/arm) "
              "takes 1 / d like _ref with vcvtnq's ties to even, a value refq does not have yet.",
    ),
    Profile(
        "gguf-py", "gguf-py's numpy block quantizers (gguf.quants.quantize / dequantize)",
        {}, {}, gguf={**_GGML, "gguf_zero_sign": "unpredictable"},
        sources=("gguf-py/gguf/quants.py (the gguf package)", "measured: gguf 0.19.0"),
        notes="Quantizes Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0 and MXFP4 only, and dequantizes every type. "
              "Byte-identical to ggml's reference except for the sign of a zero: Q4_0 and Q5_0 take the first "
              "element of largest magnitude (numpy's argmax), so a block of zeros of both signs stores d = +0 or "
              "-0; Q4_1 and Q5_1 take numpy's min, whose sign of a zero minimum is numpy's choice.",
    ),
)
# --- end gguf ---

# --- block (BLK) ---
_TORCHAO_MX = {"block_infinity": "float32_exponent_field", "block_tiny_scale": "float32_min_normal",
               "block_element_ties": "half_to_even", "block_nan_payload": "widened", "block_nan": "nan_scale",
               "block_zero_code": "sign_bit", "block_nan_scale": "nan"}
_TORCHAO_MX_SOURCES = ("torchao/prototype/mx_formats/mx_tensor.py: to_mx, get_fp_scale, to_dtype (torchao 0.18.0)",
                       "measured: torchao 0.18.0 on torch 2.13 CPU, every element format (tests/test_block_torchao.py)",
                       "torchao/prototype/mx_formats/kernels.py: pack_uint4, unpack_uint4 (BLK-10; measured, "
                       "tests/test_block_packing.py)")
#: Profiles of the block-scaled formats (BLK): they name no affine or requantization variant.
BLOCK_PROFILES: tuple[Profile, ...] = (
    Profile(
        "ocp-mx", "The OCP Microscaling Formats (MX) Specification 1.0 text",
        {}, {}, block={"block_scale_rule": "floor", "block_infinity": "nan_scale", "block_tiny_scale": "exact",
                       "block_element_ties": "half_to_even", "block_nan_payload": "unpredictable",
                       "block_nan": "nan_scale", "block_zero_code": "sign_bit", "block_nan_scale": "nan"},
        sources=("OCP Microscaling Formats (MX) Specification 1.0, 5.3, 5.4.1 and 6.3",),
        notes="Shared exponent floor(log2(amax)) - emax_elem clamped to E8M0's range, elements x / X rounded to "
              "nearest even and clamped to the largest normal. A NaN or an infinity in a block makes its scale NaN, "
              "and then the element codes do not matter (every value of the block is NaN): unpredictable, as are "
              "the sign and payload of a NaN the dequantize gives.",
    ),
    Profile(
        "torchao-floor", "torchao MX quantize, ScaleCalculationMode.FLOOR (the default), CPU",
        {}, {}, block={**_TORCHAO_MX, "block_scale_rule": "floor"}, packing=dict(PACKING_TORCHAO),
        sources=_TORCHAO_MX_SOURCES,
        notes="The OCP rule read from amax's float32 exponent field: an infinity reads as 2^128, so an inf block "
              "gets a finite scale (247 for E4M3); the elements are divided by the scale clamped to 2^-126 while "
              "code 0 is stored. Elements of a NaN-scale block (x / inf) are not predicted (BLK-3.4).",
    ),
    Profile(
        "torchao-ceil", "torchao MX quantize, ScaleCalculationMode.CEIL, CPU",
        {}, {}, block={**_TORCHAO_MX, "block_scale_rule": "ceil"}, packing=dict(PACKING_TORCHAO),
        sources=_TORCHAO_MX_SOURCES,
        notes="As torchao-floor, with one added to the exponent when amax's mantissa is not zero.",
    ),
    Profile(
        "torchao-even", "torchao MX quantize, ScaleCalculationMode.EVEN, CPU",
        {}, {}, block={**_TORCHAO_MX, "block_scale_rule": "even"}, packing=dict(PACKING_TORCHAO),
        sources=_TORCHAO_MX_SOURCES,
        notes="As torchao-floor, after adding half an element ulp to amax's float32 bits (ties go up, not to even).",
    ),
    Profile(
        "torchao-rceil", "torchao MX quantize, ScaleCalculationMode.RCEIL, CPU (the eager fallback)",
        {}, {}, block={**_TORCHAO_MX, "block_scale_rule": "rceil_log2_float32", "block_infinity": "largest_scale",
                       "block_tiny_scale": "unit"}, packing=dict(PACKING_TORCHAO), sources=_TORCHAO_MX_SOURCES,
        notes="ceil(torch.log2(amax / max_elem)) in float32: one less than the exact rceil just above a power of "
              "two. An inf block gets 0xFE; code 0 multiplies the elements by 1; the elements are x * 2^(127 - code) "
              "clamped to the largest normal. On Blackwell GPUs under torch.compile the PTX instruction computes "
              "the exact rceil instead (not measured here).",
    ),
    Profile(
        "modelopt-mxfp4", "NVIDIA Model Optimizer's MXFP4QTensor.quantize and dequantize (E2M1 elements in blocks "
                          "of 32), on the CPU",
        {}, {}, block={"block_scale_rule": "rceil_log2_float32", "block_infinity": "unpredictable",
                       "block_tiny_scale": "exact", "block_element_ties": "half_toward_zero",
                       "block_nan_payload": "unpredictable", "block_nan": "unpredictable",
                       "block_zero_code": "negative", "block_nan_scale": "power_of_two"},
        sources=("modelopt/torch/quantization/qtensor/mxfp4_tensor.py: MXFP4QTensor.quantize (cast_fp4, "
                 "fuse_uint4_to_uint8), dequantize (nvidia-modelopt 0.47.0)",
                 "measured: nvidia-modelopt 0.47.0 on torch 2.13 CPU (tests/test_block_modelopt_engines.py)"),
        notes="Scale code ceil(max(torch.log2(amax / 6), -127)) + 127, the float32 logarithm (rceil_log2_float32); "
              "elements x / torch.exp2(e), coded by counting the E2M1 midpoints strictly below |v| (ties toward "
              "zero) with the sign bit (2 - torch.sign(v)) // 2, so every zero quotient gets code 8. A NaN or an "
              "infinity makes the exponent NaN or +inf, converted to uint8 by an undefined conversion (0 on x86). "
              "Dequantize multiplies by torch.exp2(code - 127): code 255 is 2^128 = +inf. FP4 only: modelopt has no "
              "other MX element format.",
    ),
)
# --- end block ---

# --- bnb4 (BLK-7) ---
#: Profiles of bitsandbytes' NF4 and FP4 (BLK-7): they name no other chapter's variants.
BNB4_PROFILES: tuple[Profile, ...] = (
    Profile(
        "bitsandbytes-cpu", "bitsandbytes quantize_4bit / dequantize_4bit on the CPU (its default torch path and "
                            "its C dequantize kernel)",
        {}, {}, bnb4={"bnb4_thresholds": "float32_midpoints", "bnb4_nan_code": "largest",
                      "bnb4_absmax_nan": "propagates", "bnb4_reciprocal": "clamped", "bnb4_tail": "divide",
                      "bnb4_fp4_code8": "positive_zero", "bnb4_zero_sign": "product"},
        sources=("bitsandbytes/backends/default/ops.py: quantize_4bit, _get_4bit_quantize_bounds, "
                 "_dequantize_4bit_compute (bitsandbytes 0.50.2)",
                 "bitsandbytes/backends/cpu/ops.py: dequantize_4bit (cdequantize_blockwise_cpu_nf4_fp32 / _fp4_fp32)",
                 "measured: bitsandbytes 0.50.2 on torch 2.13 CPU (tests/test_block_bnb4_engines.py)"),
        notes="absmax = A.abs().max() per block (NaN propagates); the elements are A * (1 / absmax.clamp(min=1e-38)), "
              "clamped to [-1, 1] (which changes no code), and torch.bucketize(right=False) on the float32 midpoints "
              "of the sorted table picks the code, so a NaN goes above every bound. The last, partial block is "
              "divided by its clamped absmax instead. bitsandbytes' default quant_type is 'fp4'; its CUDA kernel "
              "selects codes with ONNX Runtime's decision tree (not measured here).",
    ),
    Profile(
        "onnxruntime-bnb4", "ONNX Runtime's bnb4 block quantizer (quantize_matmul_bnb4, MatMulBnb4's weights) and "
                            "MatMulBnb4's dequantize",
        {}, {}, bnb4={"bnb4_thresholds": "decision_tree", "bnb4_nan_code": "zero", "bnb4_absmax_nan": "ignored",
                      "bnb4_reciprocal": "zero_guarded", "bnb4_tail": "reciprocal",
                      "bnb4_fp4_code8": "negative_zero", "bnb4_zero_sign": "positive"},
        sources=("onnxruntime/contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h: QuantizeBlockBnb4, "
                 "QuantizeOneNF4, QuantizeOneFP4, DequantizeBlockBnb4 (onnxruntime 1.32)",
                 "onnxruntime/python/tools/quantization/matmul_bnb4_quantizer.py (the pybind quantize_matmul_bnb4)",
                 "measured: onnxruntime 1.32.0 CPU (tests/test_block_bnb4_engines.py)"),
        notes="local_absmax = fmaxf(local_absmax, fabsf(v)) skips a NaN; the reciprocal is 1 / absmax, 0 for a zero "
              "absmax, so a block whose absmax is below 2^-128 scales to infinities and its zeros to NaN; the "
              "comparison tree's literals are the midpoints printed in decimal, which a C compiler rounds to "
              "other float32 values than the midpoints at 4 NF4 and 5 FP4 thresholds. MatMulBnb4 dequantizes "
              "a code as table[code] * absmax in float32 (FP4's code 8 is -0.0f, read from the source) and adds "
              "it into its matrix product: measured through the operator with the input [[1]] and K = 1, where "
              "every zero comes out +0 (bnb4_zero_sign = positive), so code 8's sign does not show.",
    ),
)
# --- end bnb4 ---

# --- nvfp4 (BLK-8) ---
#: Profiles of NVIDIA's NVFP4 (BLK-8): they name no other chapter's variants. torchao's and modelopt's are run
#: here; TransformerEngine's is read from its source, not run (its kernels need CUDA).
NVFP4_PROFILES: tuple[Profile, ...] = (
    Profile(
        "torchao-nvfp4", "torchao's NVFP4Tensor.to_nvfp4 with per_tensor_scale = per_tensor_amax_to_scale(amax) "
                         "(nvfp4_quantize, the torch path) and its dequantize, on the CPU",
        {}, {}, nvfp4={"nvfp4_scale_arithmetic": "divide_then_reciprocal", "nvfp4_scale_floor": "min_normal",
                       "nvfp4_zero_scale": "kept", "nvfp4_scale_ceiling": "clamped", "nvfp4_element_nan": "payload",
                       "nvfp4_negative_zero": "kept", "nvfp4_dequantize_scale": "product",
                       "nvfp4_code8": "negative_zero"},
        sources=("torchao/prototype/mx_formats/nvfp4_tensor.py: per_tensor_amax_to_scale, nvfp4_quantize, "
                 "NVFP4Tensor.dequantize, get_hp_scales (torchao 0.18.0)",
                 "torchao/prototype/custom_fp_utils.py: _f32_to_floatx_unpacked; mx_formats/kernels.py: pack_uint4",
                 "measured: torchao 0.18.0 on torch 2.13 CPU (tests/test_block_nvfp4_engines.py)"),
        notes="The per-tensor scale is amax.float() / 2688.0; block scales torch.clamp(amax_b / 6 / s, 2^-6, 448) "
              "cast to float8_e4m3fn; elements x * ((1 / s) / s8) clamped to [-6, 6] and rounded by bit "
              "arithmetic, which copies the sign bit and turns a NaN into a code its bits decide. An all-zero "
              "tensor has s = 0 and NaN everywhere.",
    ),
    Profile(
        "modelopt-nvfp4", "NVIDIA Model Optimizer's NVFP4QTensor.quantize (the dynamic path: the scales computed "
                          "from the weight) and dequantize (the torch path, fast=False), on the CPU",
        {}, {}, nvfp4={"nvfp4_scale_arithmetic": "divide_by_product", "nvfp4_scale_floor": "min_subnormal",
                       "nvfp4_zero_scale": "one", "nvfp4_scale_ceiling": "clamped", "nvfp4_element_nan": "largest",
                       "nvfp4_negative_zero": "positive", "nvfp4_dequantize_scale": "product",
                       "nvfp4_code8": "positive_zero"},
        sources=("modelopt/torch/quantization/qtensor/nvfp4_tensor.py: get_weights_scaling_factor_2, "
                 "get_weights_scaling_factor, _cast_per_block_scale_to_fp8, _cast_fp4, quantize, dequantize "
                 "(nvidia-modelopt 0.47.0)",
                 "measured: nvidia-modelopt 0.47.0 on torch 2.13 CPU (tests/test_block_modelopt_engines.py)"),
        notes="weights_scaling_factor_2 = amax / (6 * 448); per_block_scale = amax_b / (6 * s), 0 replaced by 1.0, "
              "clamped to [2^-9, 448] and cast to float8_e4m3fn; the elements x / (s8 * s) take searchsorted codes "
              "on |x| over the E2M1 midpoints plus one at the odd midpoints (ties to even), the sign from x < 0, so "
              "NaN gives 7 and -0 gives 0. Dequantize reads code 8 from a table whose zero is Python's integer 0: "
              "+0. The source read before 0.47.0 had no upper clamp; 0.47.0 clamps (measured on a tensor whose "
              "scale is subnormal).",
    ),
    Profile(
        "transformer-engine-nvfp4", "TransformerEngine's NVFP4QuantizerRef (1x16 tiles, no Hadamard transform, no "
                                    "4over6) and dequantize_fp4_kernel: read from source, not run",
        {}, {}, nvfp4={"nvfp4_scale_arithmetic": "encode_scale", "nvfp4_scale_floor": "none",
                       "nvfp4_zero_scale": "kept", "nvfp4_scale_ceiling": "clamped", "nvfp4_element_nan": "zero",
                       "nvfp4_negative_zero": "positive", "nvfp4_dequantize_scale": "amax_factor",
                       "nvfp4_code8": "negative_zero"},
        sources=("transformer_engine/pytorch/custom_recipes/quantization_ref_nvfp4.py: "
                 "_quantize_blockwise_reference, cast_to_fp4x2 (NVIDIA/TransformerEngine main)",
                 "transformer_engine/common/cast/nvfp4/dequantize_nvfp4.cuh: dequantize_fp4_kernel "
                 "(read from source, not run: TransformerEngine is not installed and its kernels need CUDA)"),
        notes="A hypothesis from the source: global_encode_scale = min(2688 / amax, float32 max), 1.0 where 0; "
              "decode scale amax_b * (e * (1/6)) clamped to [-448, 448] and cast; elements x * min(1 / (s8 * (1 / "
              "e)), float32 max) clamped to [-6, 6] and coded by comparisons (ties to even, -0 and NaN to 0). The "
              "tensor stores the amax; the CUDA dequantize computes s8 * amax * (1 / 2688) in float32.",
    ),
)
# --- end nvfp4 ---

# --- int4 groups (BLK-9) ---
#: Profiles of weight-only int4 groups (BLK-9): they name no other chapter's variants.
INT4_GROUP_PROFILES: tuple[Profile, ...] = (
    Profile(
        "compressed-tensors", "compressed-tensors' int4 group quantization (vLLM's and llm-compressor's W4A16): "
                              "compute_dynamic_scales_and_zp, then quantize",
        {}, {}, int4_group={"int4_codes": "signed", "int4_minmax_nan": "propagates", "int4_range": "with_zero",
                            "int4_symmetric_scale": "amax_over_half_range",
                            "int4_asymmetric_scale": "range_over_levels", "int4_zero_point": "half_even",
                            "int4_degenerate_scale": "epsilon", "int4_element_scaling": "divide",
                            "int4_rounding": "half_even"},
        packing=dict(PACKING_COMPRESSED_TENSORS),
        sources=("compressed_tensors/quantization/utils/helpers.py: compute_dynamic_scales_and_zp, calculate_qparams, "
                 "_get_dtype_eps (compressed-tensors 0.20.0)",
                 "compressed_tensors/compressors/pack_quantized/helpers.py: pack_to_int32, unpack_from_int32 "
                 "(BLK-10; measured, tests/test_block_packing.py)",
                 "compressed_tensors/quantization/lifecycle/forward_helpers.py: _quantize, _dequantize",
                 "measured: compressed-tensors 0.20.0 on torch 2.13 CPU (tests/test_block_int4_group_engines.py)"),
        notes="QuantizationArgs(num_bits=4, type='int', strategy='group'): the range is torch.amin / amax per group, "
              "widened to include 0; symmetric s = max(|m|, |M|) / 7.5, asymmetric s = (M - m) / 15 and "
              "z = round(clamp(-8 - m / s, -8, 7)) as int8 (its zp_dtype); a zero scale becomes float32's eps only "
              "after z is made, so an all-zero asymmetric group's z is NaN converted to int8. The codes are "
              "round(clamp(x / s + z, -8, 7)) and dequantize is (q - z) * s.",
    ),
    Profile(
        "hqq", "HQQ's Quantizer.quantize with optimize=False (its round-to-nearest initial step), axis=1",
        {}, {}, int4_group={"int4_codes": "unsigned", "int4_minmax_nan": "propagates", "int4_range": "data",
                            "int4_symmetric_scale": "unsupported", "int4_asymmetric_scale": "inverse_range",
                            "int4_zero_point": "unrounded", "int4_degenerate_scale": "unit_inverse",
                            "int4_element_scaling": "reciprocal", "int4_rounding": "half_even"},
        packing=dict(PACKING_HQQ),
        sources=("hqq/core/quantize.py: Quantizer.quantize, Quantizer.dequantize (hqq 0.2.8.post1)",
                 "hqq/core/bitpack.py: BitPack (BLK-10; measured, tests/test_block_packing.py)",
                 "measured: hqq 0.2.8.post1 on torch 2.13 CPU (tests/test_block_int4_group_engines.py)"),
        notes="r = 15 / (M - m), which torch computes as (M - m).reciprocal() * 15; r = 1 where |M - m| <= 1e-4; "
              "r clamped to at most 2e4; z = -m * r, kept as a float; codes round(x * r + z) clamped to [0, 15]; "
              "the stored scale is 1 / r. optimize=True (the default) then refines z by a half-quadratic solver, "
              "iterated in torch's float reductions: not covered. round_zero=True rounds z (not covered).",
    ),
    Profile(
        "onnxruntime-mlas-int4", "ONNX Runtime's MLAS blockwise int4 quantizer (quantize_matmul_4bits, the weights "
                                 "of MatMulNBits)",
        {}, {}, int4_group={"int4_codes": "unsigned", "int4_minmax_nan": "ignored", "int4_range": "with_zero",
                            "int4_symmetric_scale": "extreme_over_minus_half",
                            "int4_asymmetric_scale": "range_over_levels", "int4_zero_point": "half_away",
                            "int4_degenerate_scale": "zero_reciprocal", "int4_element_scaling": "reciprocal",
                            "int4_rounding": "half_away"},
        sources=("onnxruntime/core/mlas/lib/q4_dq.cpp: BlockwiseQuantizer::quantizeAndTranspose, range2scale, "
                 "range2scalezp (onnxruntime 1.32)",
                 "onnxruntime/python/onnxruntime_pybind_quant.cc: quantize_matmul_4bits",
                 "onnxruntime/contrib_ops/cpu/quantization/gather_block_quantized.cc: GatherBlockQuantized",
                 "measured: onnxruntime 1.32.0 CPU (tests/test_block_int4_group_engines.py)"),
        notes="The range is a C scan (NaN skipped); symmetric s = e / -8 with e the signed extreme, zero point 8; "
              "asymmetric s = (max(M, 0) - min(m, 0)) / 15 and z = roundf(0 - m / s) clamped to [0, 15] (m itself "
              "when s = 0); codes (uint8) clamp(roundf(x * r + z), 0, 15) with r = 1 / s, 0 for s = 0. "
              "Dequantize is (q - z) * s, measured through GatherBlockQuantized (the same packed uint4 layout): "
              "MatMulNBits returns every -0 weight as +0, and a negative symmetric scale makes code 8 a -0.",
    ),
)
# --- end int4 groups ---

#: Every profile that names requantization variants, by name.
REQUANTIZE_PROFILES_BY_NAME = {profile.name: profile for profile in (*PROFILES, *INTEGER_ONLY_PROFILES)
                               if profile.requantize}
#: Every profile a backend can declare or ``--profile`` can name, integer-only ones included.
EVERY_PROFILE_BY_NAME = {profile.name: profile for profile in (*PROFILES, *INTEGER_ONLY_PROFILES, *GGUF_PROFILES,
                                                             *BLOCK_PROFILES, *BNB4_PROFILES,
                                                             *NVFP4_PROFILES, *INT4_GROUP_PROFILES)}
#: Every profile that packs codes (BLK-10): a packing dict rides on the profile of the engine that packs.
PACKING_PROFILES: tuple[Profile, ...] = tuple(profile for profile in EVERY_PROFILE_BY_NAME.values() if profile.packing)
# --- end requantize ---
