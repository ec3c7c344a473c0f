"""Clause IDs: every normative statement of the spec, and the refq objects that execute it.

The spec's Markdown marks a clause with ``[[ID]]`` at the start of a paragraph;
the docs render it as a permalink. Tests check that the IDs here and the IDs in
``spec/`` are the same set, each appearing once. Which code executes a clause is
written in the spec only, as the ``refq:source`` and ``refq:implements`` directives
after the clause (``refq.registry.clause_map``); ``Clause.implemented_by`` reads it
from there, and tests check that it agrees with what each function's docstring says.
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
    #: A clause that defines no computation (notation, an informative contrast): no code executes it.
    descriptive: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.descriptive, bool):  # the third field was once a tuple of implementing names
            raise TypeError(f"Clause {self.id}: descriptive must be a bool; the code executing a clause is "
                            "named by refq:source / refq:implements directives after it in spec/")

    @property
    def implemented_by(self) -> tuple[str, ...]:
        """``module:qualname`` of the refq objects executing the clause, as its directives in spec/ name them."""
        from refq.registry.clause_map import clause_code

        return clause_code().get(self.id, ())


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("NUM", "numbers", "Number formats"),
    Chapter("AFF", "affine", "Affine quantization"),
    Chapter("OBS", "observers", "Observers, calibration and dynamic quantization"),
    Chapter("REQ", "requantization", "Requantization"),
    Chapter("INT", "integer_ops", "Integer operations"),
    Chapter("QAT", "qat", "Quantization-aware training"),
    Chapter("ELT", "elementwise", "Elementwise, pooling and table operations"),
    Chapter("GGF", "gguf", "ggml (GGUF) block quantization"),
    Chapter("BLK", "block_scaled", "Block-scaled formats (OCP MX)"),
)

_NUMBERS: tuple[Clause, ...] = (
    Clause("NUM-1.1", "Integer formats"),
    Clause("NUM-1.2", "Range, and the narrow range"),
    Clause("NUM-1.3", "Storage type of unpacked values"),
    Clause("NUM-1.4", "Value of a two's-complement pattern"),
    Clause("NUM-1.5", "Two's-complement pattern of a value"),
    Clause("NUM-1.6", "Sign extension"),
    Clause("NUM-1.7", "Wrapping (modular reduction)"),
    Clause("NUM-1.8", "Saturation (clamping)"),
    Clause("NUM-1.9", "Packing 1-, 2- and 4-bit integers"),
    Clause("NUM-1.10", "Unpacking"),
    Clause("NUM-2.1", "Rounding modes"),
    Clause("NUM-2.2", "Rounding an exact rational to an integer"),
    Clause("NUM-2.3", "Rounding a float to an integral float"),
    Clause("NUM-2.4", "Rounding arrays of floats"),
    Clause("NUM-3.1", "Fields of a pattern"),
    Clause("NUM-3.2", "Classes and special-value conventions"),
    Clause("NUM-3.3", "Value of a finite pattern"),
    Clause("NUM-3.4", "Quiet and signalling NaNs, payload"),
    Clause("NUM-3.5", "Decoding a pattern"),
    Clause("NUM-3.6", "Largest finite value"),
    Clause("NUM-3.7", "Smallest normal value"),
    Clause("NUM-3.8", "Smallest subnormal value"),
    Clause("NUM-3.9", "Machine epsilon"),
    Clause("NUM-3.10", "Unit in the last place"),
    Clause("NUM-3.11", "Next value up and down"),
    Clause("NUM-3.12", "Encoding a value"),
    Clause("NUM-3.13", "Rounding to nearest even, gradual underflow"),
    Clause("NUM-3.14", "Signed zero"),
    Clause("NUM-3.15", "Overflow policies"),
    Clause("NUM-3.16", "Infinite inputs"),
    Clause("NUM-3.17", "NaN inputs"),
    Clause("NUM-3.18", "Decoding arrays to float64"),
    Clause("NUM-3.19", "Encoding arrays from float64"),
    Clause("NUM-3.20", "ONNX Runtime's float8 conversion"),
    Clause("NUM-3.21", "Casting into E8M0 under round_mode"),
    Clause("NUM-3.22", "Three readings of E8M0's range"),
    Clause("NUM-3.23", "NaN into a format without NaN"),
)

_AFFINE: tuple[Clause, ...] = (
    Clause("AFF-1.1", "Scale"),
    Clause("AFF-1.2", "Target type and range"),
    Clause("AFF-1.3", "Zero point"),
    Clause("AFF-1.4", "Granularity: per-tensor, per-axis, blocked"),
    Clause("AFF-1.5", "Input values"),
    Clause("AFF-1.6", "Symmetric and asymmetric quantization", descriptive=True),
    Clause("AFF-2.1", "Outcomes: valid, unpredictable, error"),
    Clause("AFF-3.1", "Quantize, step by step"),
    Clause("AFF-3.2", "Scaling: division or reciprocal, and its precision"),
    Clause("AFF-3.3", "Where the zero point is added"),
    Clause("AFF-3.4", "Rounding to an integer"),
    Clause("AFF-3.5", "Saturation and integer conversion"),
    Clause("AFF-3.6", "NaN inputs"),
    Clause("AFF-3.7", "Fused multiply-add in float32"),
    Clause("AFF-3.8", "Exact intermediate precision"),
    Clause("AFF-3.9", "Subnormal operands flushed to zero"),
    Clause("AFF-4.1", "Dequantize input"),
    Clause("AFF-4.2", "Dequantize"),
    Clause("AFF-5.1", "Variants and their resolution"),
    Clause("AFF-5.2", "Profiles"),
    Clause("AFF-6.1", "Float formats as the quantized type"),
    Clause("AFF-6.2", "Quantize to a float format"),
    Clause("AFF-6.3", "Open patterns of a float quantize"),
    Clause("AFF-6.4", "Dequantize from a float format"),
)

_OBSERVERS: tuple[Clause, ...] = (
    Clause("OBS-1.1", "Target range, reduce_range, custom and narrow ranges"),
    Clause("OBS-1.2", "Range widened to contain zero"),
    Clause("OBS-1.3", "Affine scale and the epsilon floor"),
    Clause("OBS-1.4", "Affine zero point: rounding, int32 conversion, clamping"),
    Clause("OBS-1.5", "Symmetric scale and fixed zero point"),
    Clause("OBS-1.6", "Float zero point (per_channel_affine_float_qparams)"),
    Clause("OBS-1.7", "Unobserved, empty and invalid ranges"),
    Clause("OBS-1.8", "Per-channel parameters"),
    Clause("OBS-2.1", "Min-max observer state"),
    Clause("OBS-2.2", "Range of a batch"),
    Clause("OBS-2.3", "MinMax update"),
    Clause("OBS-2.4", "Per-channel batches and the channel axis"),
    Clause("OBS-2.5", "Observer parameters"),
    Clause("OBS-2.6", "Moving-average update"),
    Clause("OBS-5.1", "DynamicQuantizeLinear: range"),
    Clause("OBS-5.2", "DynamicQuantizeLinear: scale"),
    Clause("OBS-5.3", "DynamicQuantizeLinear: zero point"),
    Clause("OBS-5.4", "DynamicQuantizeLinear: quantized output"),
    Clause("OBS-5.5", "DynamicQuantizeLinear and its profiles"),
    Clause("OBS-5.6", "FBGEMM's ChooseQuantizationParams"),
    Clause("OBS-5.7", "PyTorch dynamic per-batch parameters"),
    Clause("OBS-3.1", "torch.linspace in float32"),
    Clause("OBS-3.2", "torch.histc binning"),
    Clause("OBS-3.3", "torch.sum and torch.cumsum of a float32 vector"),
    Clause("OBS-3.4", "Histogram observer state"),
    Clause("OBS-3.5", "Carrying a histogram into a grown range"),
    Clause("OBS-3.6", "Histogram observer update"),
    Clause("OBS-3.7", "L2 quantization error of a bin range"),
    Clause("OBS-3.8", "Range search"),
    Clause("OBS-3.9", "Histogram observer qparams"),
    Clause("OBS-4.1", "Calibration histogram"),
    Clause("OBS-4.2", "Equal-bin histogram (numpy)"),
    Clause("OBS-4.3", "Collecting signed values"),
    Clause("OBS-4.4", "Collecting absolute values"),
    Clause("OBS-4.5", "Percentile range"),
    Clause("OBS-4.6", "Entropy (KL divergence) range"),
    Clause("OBS-4.7", "MSE-optimal range search (refq's rule)"),
    Clause("OBS-4.8", "Round-trip error of a candidate"),
)

_REQUANTIZATION: tuple[Clause, ...] = (
    Clause("REQ-1.1", "Float multiplier from the scales"),
    Clause("REQ-1.2", "Scaling the accumulator"),
    Clause("REQ-1.3", "Rounding, zero point and saturation"),
    Clause("REQ-1.4", "Requantizing arrays, per tensor and per channel"),
    Clause("REQ-1.5", "Rounding the scaled accumulator; PT2E truncates"),
    Clause("REQ-1.6", "A scaled accumulator beyond int32"),
    Clause("REQ-1.7", "PyTorch QNNPACK quantized linear and conv2d"),
    Clause("REQ-2.1", "Splitting the multiplier (frexp)"),
    Clause("REQ-2.2", "Integer multiplier and shift, renormalisation"),
    Clause("REQ-2.3", "Shift limits"),
    Clause("REQ-2.4", "Single and double rounding (TOSA), 16-bit form"),
    Clause("REQ-2.5", "gemmlowp and TensorFlow Lite"),
    Clause("REQ-2.6", "Fixed-point requantization (RESCALE)"),
    Clause("REQ-2.7", "TensorFlow Lite's fixed-point requantization, ties-up shift"),
    Clause("REQ-2.8", "TOSA RESCALE: input and output types, zero points, errors"),
    Clause("REQ-2.9", "TOSA RESCALE: what its REQUIREs leave unpredictable"),
    Clause("REQ-3.1", "Accumulator width"),
    Clause("REQ-3.2", "Accumulator overflow"),
    Clause("REQ-3.3", "Accumulating a dot product"),
)

_QAT: tuple[Clause, ...] = (
    Clause("QAT-1.1", "Fake quantization forward"),
    Clause("QAT-1.2", "The gradient mask, on the rounded value"),
    Clause("QAT-1.3", "Straight-through backward"),
    Clause("QAT-2.1", "Zero point of a learnable parameter"),
    Clause("QAT-2.2", "Fused multiply-add in float32"),
    Clause("QAT-2.3", "Gradients of one element"),
    Clause("QAT-2.4", "Summing the scale and zero-point gradients"),
    Clause("QAT-2.5", "Learnable fake quantization, forward and backward"),
)

_INTEGER_OPS: tuple[Clause, ...] = (
    Clause("INT-1.1", "Inputs and zero points"),
    Clause("INT-2.1", "Matmul shapes, broadcasting, zero-point granularity"),
    Clause("INT-2.2", "Centring the operands"),
    Clause("INT-2.3", "Dot products in int32 with wraparound"),
    Clause("INT-2.4", "MatMulInteger"),
    Clause("INT-2.5", "When the int32 accumulation can overflow"),
    Clause("INT-2.6", "uint8 x int8 products in int16-saturating pairs (variant u8s8_products)"),
    Clause("INT-2.7", "The same matrix product with VNNI byte dot products (informative)"),
    Clause("INT-3.1", "Convolution geometry: strides, padding, dilations, groups"),
    Clause("INT-3.2", "Centring the input and the weights"),
    Clause("INT-3.3", "Kernel windows as rows (im2col)"),
    Clause("INT-3.4", "ConvInteger"),
    Clause("INT-3.5", "The same convolution with VNNI byte dot products (informative)"),
    Clause("INT-3.6", "A convolution's int16-saturating pairs: which operand is uint8, in which order (variant u8s8_conv_pairs)"),
    Clause("INT-4.1", "Output type, weight scales and bias"),
    Clause("INT-4.2", "QLinearMatMul"),
    Clause("INT-4.3", "QLinearConv"),
    Clause("INT-4.4", "Requantization forms and the float64 multiplier"),
    Clause("INT-5.1", "Accumulator overflow per profile"),
    Clause("INT-5.2", "Requantization variants per profile"),
    Clause("INT-5.3", "Expected results under a profile"),
    Clause("INT-5.4", "uint8 x int8 products by the CPU: the profiles that leave u8s8_products open"),
)

_ELEMENTWISE: tuple[Clause, ...] = (
    Clause("ELT-1.1", "Quantized operands"),
    Clause("ELT-1.2", "Broadcasting"),
    Clause("ELT-1.3", "Per-span scalars and the operand order"),
    Clause("ELT-2.1", "Float32 result to the output type"),
    Clause("ELT-2.2", "Scale ratios of the sum"),
    Clause("ELT-2.3", "The fixed part of the sum"),
    Clause("ELT-2.4", "One output of the sum"),
    Clause("ELT-2.5", "QLinearAdd"),
    Clause("ELT-2.6", "One output of the product"),
    Clause("ELT-2.7", "QLinearMul"),
    Clause("ELT-3.1", "Dequantized codes"),
    Clause("ELT-3.2", "Building a table"),
    Clause("ELT-3.3", "The logistic function of MLAS"),
    Clause("ELT-3.4", "Leaky ReLU"),
    Clause("ELT-3.5", "Looking codes up"),
    Clause("ELT-3.6", "QLinearSigmoid and QLinearLeakyRelu"),
    Clause("ELT-3.7", "The tanh function of MLAS"),
    Clause("ELT-3.8", "Quantized tanh"),
    Clause("ELT-4.1", "The multiplier of the global average"),
    Clause("ELT-4.2", "Channel sums, requantized"),
    Clause("ELT-4.3", "QLinearGlobalAveragePool"),
    Clause("ELT-5.1", "Activation bounds"),
    Clause("ELT-5.2", "Clamping to the bounds"),
    Clause("ELT-6.1", "Pooled output size"),
    Clause("ELT-6.2", "Window maximum"),
    Clause("ELT-6.3", "MaxPool on 8-bit tensors"),
    Clause("ELT-6.4", "Whole-input average windows"),
    Clause("ELT-6.5", "Window average in float32"),
    Clause("ELT-6.6", "QLinearAveragePool"),
    Clause("ELT-6.7", "Automatic padding (auto_pad)"),
    Clause("ELT-6.8", "The average_division variant"),
    Clause("ELT-6.9", "TensorFlow Lite's rounded integer division"),
    Clause("ELT-6.10", "TOSA's reciprocal scale"),
    Clause("ELT-7.1", "Requantizing one concatenated input"),
    Clause("ELT-7.2", "QLinearConcat"),
    Clause("ELT-8.1", "TOSA TABLE: int8 lookup"),
    Clause("ELT-8.2", "TOSA TABLE: int16 interpolation"),
    Clause("ELT-8.3", "TOSA TABLE: a slope outside int16"),
)
_GGUF: tuple[Clause, ...] = (
    Clause("GGF-1.1", "Block types, sizes and input"),
    Clause("GGF-1.2", "Float16 scales"),
    Clause("GGF-1.3", "C casts from float32"),
    Clause("GGF-1.4", "nearest_int"),
    Clause("GGF-1.5", "roundf"),
    Clause("GGF-2.1", "Block extremes"),
    Clause("GGF-2.2", "Q4_0"),
    Clause("GGF-2.3", "Q4_1"),
    Clause("GGF-2.4", "Q5_0"),
    Clause("GGF-2.5", "Q5_1"),
    Clause("GGF-2.6", "Q8_0"),
    Clause("GGF-2.7", "Q8_1"),
    Clause("GGF-2.8", "Dequantize, blocks of 32"),
    Clause("GGF-3.1", "Symmetric search (make_qx_quants)"),
    Clause("GGF-3.2", "Iterative search (make_q3_quants)"),
    Clause("GGF-3.3", "Affine search (make_qkx2_quants)"),
    Clause("GGF-3.4", "Q2_K"),
    Clause("GGF-3.5", "Q3_K"),
    Clause("GGF-3.6", "6-bit scales and minimums"),
    Clause("GGF-3.7", "Q4_K"),
    Clause("GGF-3.8", "Q5_K"),
    Clause("GGF-3.9", "Q6_K"),
    Clause("GGF-3.10", "Q8_K"),
    Clause("GGF-3.11", "Dequantize, K types"),
    Clause("GGF-4.1", "FMA contraction (informative)", descriptive=True),
    Clause("GGF-4.2", "gcc's fused multiply-adds (gguf_contraction = gcc_x86_64)"),
    Clause("GGF-5.1", "gguf_quantize"),
    Clause("GGF-5.2", "gguf_dequantize"),
    Clause("GGF-6.1", "TQ1_0"),
    Clause("GGF-6.2", "TQ2_0"),
    Clause("GGF-6.3", "Dequantize, TQ1_0 and TQ2_0"),
    Clause("GGF-6.4", "The nearest IQ4 level"),
    Clause("GGF-6.5", "IQ4_NL"),
    Clause("GGF-6.6", "IQ4_XS"),
    Clause("GGF-6.7", "MXFP4"),
    Clause("GGF-6.8", "Dequantize, IQ4 and MXFP4"),
    Clause("GGF-6.9", "Q1_0"),
    Clause("GGF-6.10", "Q2_0"),
    Clause("GGF-6.11", "Dequantize, Q1_0 and Q2_0"),
    Clause("GGF-6.12", "NVFP4"),
    Clause("GGF-6.13", "UE4M3 scale value"),
    Clause("GGF-6.14", "Dequantize, NVFP4"),
    Clause("GGF-7.1", "Grids and signs"),
    Clause("GGF-7.2", "IQ2_XXS"),
    Clause("GGF-7.3", "IQ2_XS"),
    Clause("GGF-7.4", "IQ2_S"),
    Clause("GGF-7.5", "IQ3_XXS"),
    Clause("GGF-7.6", "IQ3_S"),
    Clause("GGF-7.7", "IQ1_S"),
    Clause("GGF-7.8", "IQ1_M"),
    Clause("GGF-8.1", "Importance weights"),
    Clause("GGF-8.2", "Positive search (make_qp_quants)"),
    Clause("GGF-8.3", "Q4_0 and Q5_0 with an importance matrix"),
    Clause("GGF-8.4", "Q4_1 and Q5_1 with an importance matrix"),
    Clause("GGF-8.5", "Q2_K with an importance matrix"),
    Clause("GGF-8.6", "Q3_K with an importance matrix"),
    Clause("GGF-8.7", "Q4_K and Q5_K with an importance matrix"),
    Clause("GGF-8.8", "Q6_K with an importance matrix"),
)

_BLOCK = (
    Clause("BLK-1.1", "Block-scaled formats", descriptive=True),
    Clause("BLK-1.2", "MX element formats"),
    Clause("BLK-1.3", "Blocks along an axis"),
    Clause("BLK-2.1", "Shared exponent: floor (OCP)"),
    Clause("BLK-2.2", "Shared exponent: ceil"),
    Clause("BLK-2.3", "Shared exponent: even"),
    Clause("BLK-2.4", "Shared exponent: rceil"),
    Clause("BLK-2.5", "Shared exponent: rceil with a float32 logarithm"),
    Clause("BLK-2.6", "All-zero blocks"),
    Clause("BLK-2.7", "The E8M0 scale code"),
    Clause("BLK-2.8", "NaN and infinite blocks"),
    Clause("BLK-3.1", "Element codes"),
    Clause("BLK-3.2", "The divisor of a code-0 block"),
    Clause("BLK-3.3", "Element rounding and saturation"),
    Clause("BLK-3.4", "Element codes of a NaN-scale block"),
    Clause("BLK-4.1", "Dequantize"),
    Clause("BLK-4.2", "NaN results"),
    Clause("BLK-5.1", "block_quantize"),
    Clause("BLK-5.2", "block_dequantize"),
    Clause("BLK-6.1", "Profiles"),
    Clause("BLK-7.1", "bitsandbytes' 4-bit code tables (NF4, FP4)"),
    Clause("BLK-7.2", "Blocks and their absmax"),
    Clause("BLK-7.3", "Scaled values"),
    Clause("BLK-7.4", "Code selection"),
    Clause("BLK-7.5", "Packing two codes per byte"),
    Clause("BLK-7.6", "Dequantize"),
    Clause("BLK-7.7", "bnb4_quantize"),
    Clause("BLK-7.8", "bnb4_dequantize"),
    Clause("BLK-7.9", "Profiles"),
    Clause("BLK-8.1", "NVFP4: E2M1 elements, E4M3 block scales, a float32 tensor scale"),
    Clause("BLK-8.2", "The tensor amax and the tensor scale"),
    Clause("BLK-8.3", "Block scales"),
    Clause("BLK-8.4", "Element codes"),
    Clause("BLK-8.5", "Packing two codes per byte"),
    Clause("BLK-8.6", "Dequantize"),
    Clause("BLK-8.7", "nvfp4_quantize"),
    Clause("BLK-8.8", "nvfp4_dequantize"),
    Clause("BLK-8.9", "Profiles"),
)

CLAUSES: tuple[Clause, ...] = (*_NUMBERS, *_AFFINE, *_OBSERVERS, *_REQUANTIZATION, *_QAT, *_INTEGER_OPS,
                               *_ELEMENTWISE, *_GGUF, *_BLOCK)
