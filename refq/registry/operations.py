"""Operations: the signatures of the spec's operations, which adapters implement.

A backend adapter's method for an operation is named after it (snake_case of the
ONNX operator where one exists) and takes the inputs positionally in ONNX order and
the attributes as keyword-only arguments. These signatures are a public contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Operation:
    name: str
    onnx_name: str | None
    #: Positional inputs, in ONNX order; a name ending in "?" is optional (may be None).
    inputs: tuple[str, ...]
    #: Keyword-only attributes and their defaults.
    attributes: dict[str, object]
    output: str
    clauses: tuple[str, ...]
    #: ``module:function`` of refq's reference implementation; None while the spec
    #: chapter defining the operation is not written yet (vectors cannot exist then).
    reference: str | None
    #: Inputs that are a sequence of tuples (QLinearConcat's variadic ``(X, X_scale, X_zero_point)``
    #: triples): input name -> the names of a tuple's elements, "?" marking one that may be None.
    sequences: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        inputs = [name.rstrip("?") + ("=None" if name.endswith("?") else "") for name in self.inputs]
        attributes = [f"{name}={value!r}" for name, value in self.attributes.items()]
        return f"{self.name}({', '.join(inputs)}{', *, ' + ', '.join(attributes) if attributes else ''})"


OPERATIONS: tuple[Operation, ...] = (
    Operation("quantize_linear", "QuantizeLinear", ("x", "scale", "zero_point"),
              {"axis": None, "block_size": None, "dtype": "int8"},
              "integer array (sub-byte types in the smallest numpy integer type)",
              ("AFF-1.1", "AFF-1.2", "AFF-1.3", "AFF-1.4", "AFF-3.1"),
              "refq.conformance.reference:quantize_linear"),
    Operation("dequantize_linear", "DequantizeLinear", ("q", "scale", "zero_point"),
              {"axis": None, "block_size": None, "dtype": "int8"},
              "float32 array",
              ("AFF-1.1", "AFF-1.2", "AFF-1.3", "AFF-1.4", "AFF-4.1", "AFF-4.2"),
              "refq.conformance.reference:dequantize_linear"),
    Operation("fake_quantize", None, ("x", "scale", "zero_point"), {"axis": None, "dtype": "int8"},
              "float32 array: dequantize(quantize(x)) (PyTorch's fake_quantize_per_tensor/per_channel_affine)",
              ("AFF-3.1", "AFF-4.2"),
              "refq.conformance.reference:fake_quantize"),
    Operation("cast", "Cast", ("x",), {"to": "float8_e4m3fn", "saturate": False},
              "bit patterns of the target format (uint8/uint16/uint32)",
              ("NUM-3.12", "NUM-3.13", "NUM-3.15", "NUM-3.16", "NUM-3.17", "NUM-3.19"),
              "refq.conformance.reference:cast"),
    # Chapter INT.
    Operation("matmul_integer", "MatMulInteger", ("a", "b", "a_zero_point?", "b_zero_point?"), {},
              "int32 array", ("INT-1.1", "INT-2.1", "INT-2.2", "INT-2.3", "INT-2.4", "INT-5.3"),
              "refq.conformance.reference:matmul_integer"),
    Operation("qlinear_matmul", "QLinearMatMul",
              ("a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"), {},
              "array of y_zero_point's dtype",
              ("INT-1.1", "INT-2.1", "INT-2.3", "INT-4.1", "INT-4.2", "INT-5.2", "INT-5.3", "REQ-1.1", "REQ-1.3"),
              "refq.conformance.reference:qlinear_matmul"),
    Operation("conv_integer", "ConvInteger", ("x", "w", "x_zero_point?", "w_zero_point?"),
              {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
               "strides": None},
              "int32 array (N, M, H_out, W_out)",
              ("INT-1.1", "INT-3.1", "INT-3.2", "INT-3.3", "INT-3.4", "INT-5.3"),
              "refq.conformance.reference:conv_integer"),
    Operation("qlinear_conv", "QLinearConv",
              ("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point", "B?"),
              {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
               "strides": None},
              "array of y_zero_point's dtype (N, M, H_out, W_out)",
              ("INT-1.1", "INT-3.1", "INT-3.4", "INT-4.1", "INT-4.3", "INT-5.2", "INT-5.3", "REQ-1.1", "REQ-1.3"),
              "refq.conformance.reference:qlinear_conv"),
    # Chapter OBS. Several results travel as one record (refq.conformance.records): a numpy structured
    # array of shape () whose fields are arrays. ``batches`` stacks equal-size batches on its first axis,
    # fed to the observer in order; ``ch_axis`` is an axis of one batch.
    Operation("dynamic_quantize_linear", "DynamicQuantizeLinear", ("x",), {},
              "record (y: uint8 shaped like x, y_scale: float32, y_zero_point: uint8)",
              ("OBS-5.1", "OBS-5.2", "OBS-5.3", "OBS-5.4", "OBS-5.5"),
              "refq.conformance.reference:dynamic_quantize_linear"),
    Operation("observe_minmax", None, ("batches",),
              {"dtype": "uint8", "qscheme": "affine", "reduce_range": False, "ch_axis": None},
              "record (min_val, max_val: float32 state; scale: float32, zero_point: int64), scalars per "
              "tensor, one per channel with ch_axis (torch MinMaxObserver / PerChannelMinMaxObserver)",
              ("OBS-1.7", "OBS-2.1", "OBS-2.2", "OBS-2.3", "OBS-2.5"),
              "refq.conformance.reference:observe_minmax"),
    Operation("observe_moving_average", None, ("batches",),
              {"averaging_constant": 0.01, "dtype": "uint8", "qscheme": "affine", "reduce_range": False,
               "ch_axis": None},
              "record (min_val, max_val, scale, zero_point) as observe_minmax "
              "(torch MovingAverageMinMaxObserver / MovingAveragePerChannelMinMaxObserver)",
              ("OBS-1.7", "OBS-2.1", "OBS-2.2", "OBS-2.5", "OBS-2.6"),
              "refq.conformance.reference:observe_moving_average"),
    Operation("observe_histogram", None, ("batches",),
              {"bins": 2048, "dtype": "uint8", "qscheme": "affine", "reduce_range": False},
              "record (histogram: float32 of bins counts, min_val, max_val: float32, scale: float32, "
              "zero_point: int64) (torch HistogramObserver)",
              ("OBS-3.4", "OBS-3.6", "OBS-3.8", "OBS-3.9"),
              "refq.conformance.reference:observe_histogram"),
    # ONNX Runtime's calibrators (onnxruntime.quantization.calibrate.HistogramCollector): one collect()
    # per batch, then the range; the record also holds the histogram the range was taken from.
    Operation("calibrate_percentile", None, ("batches",),
              {"num_bins": 2048, "percentile": 99.999, "symmetric": False},
              "record (lowest, highest: float32 range; hist: int64 counts; hist_edges: float32) "
              "(ONNX Runtime's percentile HistogramCollector)",
              ("OBS-4.1", "OBS-4.2", "OBS-4.3", "OBS-4.4", "OBS-4.5"),
              "refq.conformance.reference:calibrate_percentile"),
    Operation("calibrate_entropy", None, ("batches",),
              {"num_bins": 128, "num_quantized_bins": 128},
              "record (lowest, highest: float32 range; hist: int64 counts; hist_edges: float32) "
              "(ONNX Runtime's entropy HistogramCollector)",
              ("OBS-4.1", "OBS-4.2", "OBS-4.3", "OBS-4.6"),
              "refq.conformance.reference:calibrate_entropy"),
    # Chapter ELT: ONNX Runtime's com.microsoft operators (their definition is ONNX Runtime's).
    Operation("qlinear_add", "com.microsoft.QLinearAdd",
              ("A", "A_scale", "A_zero_point?", "B", "B_scale", "B_zero_point?", "C_scale", "C_zero_point?"), {},
              "array of A's dtype (int8 or uint8), the broadcast shape",
              ("ELT-1.1", "ELT-1.2", "ELT-1.3", "ELT-2.1", "ELT-2.2", "ELT-2.3", "ELT-2.4", "ELT-2.5"),
              "refq.conformance.reference:qlinear_add"),
    Operation("qlinear_mul", "com.microsoft.QLinearMul",
              ("A", "A_scale", "A_zero_point?", "B", "B_scale", "B_zero_point?", "C_scale", "C_zero_point?"), {},
              "array of A's dtype (int8 or uint8), the broadcast shape",
              ("ELT-1.1", "ELT-1.2", "ELT-2.1", "ELT-2.6", "ELT-2.7"),
              "refq.conformance.reference:qlinear_mul"),
    Operation("qlinear_sigmoid", "com.microsoft.QLinearSigmoid",
              ("X", "X_scale", "X_zero_point?", "Y_scale", "Y_zero_point?"), {},
              "array of X's dtype and shape",
              ("ELT-1.1", "ELT-3.1", "ELT-3.2", "ELT-3.3", "ELT-3.5", "ELT-3.6"),
              "refq.conformance.reference:qlinear_sigmoid"),
    Operation("qlinear_leaky_relu", "com.microsoft.QLinearLeakyRelu",
              ("X", "X_scale", "X_zero_point?", "Y_scale", "Y_zero_point?"), {"alpha": 0.01},
              "array of X's dtype and shape",
              ("ELT-1.1", "ELT-3.1", "ELT-3.2", "ELT-3.4", "ELT-3.5", "ELT-3.6"),
              "refq.conformance.reference:qlinear_leaky_relu"),
    Operation("qlinear_tanh", None,
              ("X", "X_scale", "X_zero_point?", "Y_scale", "Y_zero_point?"), {},
              "array of X's dtype and shape",
              ("ELT-1.1", "ELT-3.1", "ELT-3.2", "ELT-3.5", "ELT-3.7", "ELT-3.8"),
              "refq.conformance.reference:qlinear_tanh"),
    Operation("qlinear_global_average_pool", "com.microsoft.QLinearGlobalAveragePool",
              ("X", "x_scale", "x_zero_point?", "y_scale", "y_zero_point?"), {"channels_last": 0},
              "array of X's dtype, spatial axes of length 1",
              ("ELT-1.1", "ELT-4.1", "ELT-4.2", "ELT-4.3"),
              "refq.conformance.reference:qlinear_global_average_pool"),
    Operation("max_pool", "MaxPool",
              ("X",), {"auto_pad": "NOTSET", "ceil_mode": 0, "dilations": None, "kernel_shape": None, "pads": None,
                       "storage_order": 0, "strides": None},
              "array of X's dtype (int8 or uint8), the pooled shape",
              ("ELT-1.1", "ELT-6.1", "ELT-6.2", "ELT-6.3"),
              "refq.conformance.reference:max_pool"),
    Operation("qlinear_average_pool", "com.microsoft.QLinearAveragePool",
              ("X", "x_scale", "x_zero_point?", "y_scale", "y_zero_point?"),
              {"auto_pad": "NOTSET", "ceil_mode": 0, "channels_last": 0, "count_include_pad": 0, "kernel_shape": None,
               "pads": None, "strides": None},
              "array of X's dtype, the pooled shape",
              ("ELT-1.1", "ELT-2.1", "ELT-4.2", "ELT-6.1", "ELT-6.4", "ELT-6.5", "ELT-6.6"),
              "refq.conformance.reference:qlinear_average_pool"),
    Operation("qlinear_concat", "com.microsoft.QLinearConcat",
              ("Y_scale", "Y_zero_point", "inputs"), {"axis": None},
              "array of Y_zero_point's dtype; inputs is a sequence of (X, X_scale, X_zero_point)",
              ("ELT-1.1", "ELT-3.2", "ELT-3.5", "ELT-7.1", "ELT-7.2"),
              "refq.conformance.reference:qlinear_concat",
              sequences={"inputs": ("X", "X_scale", "X_zero_point?")}),
)

OPERATIONS_BY_NAME = {operation.name: operation for operation in OPERATIONS}
