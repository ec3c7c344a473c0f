"""Operations: one record per operation of the spec, the single source everything else derives from.

A backend adapter's method for an operation is named after it (snake_case of the
ONNX operator where one exists) and takes the inputs positionally in ONNX order and
the attributes as keyword-only arguments. These signatures are a public contract.

From each :class:`Operation` the rest of refq derives: the reference dispatch and the
``refq`` built-in backend (:mod:`refq.backends.reference`), the typing of every input a
backend is handed (:mod:`refq.conformance.runner`), the vector generators
(:mod:`refq.conformance.generate.build`), the fuzzer's input names and cast targets, and
the ``case.json`` a ``cmd:`` program reads. The registry imports nothing above itself:
callables and generators are named, not imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refq.registry.formats import FLOAT_FORMATS

#: The profile a backend is judged against when it declares none (and for operations its
#: per-operation profile table leaves out).
DEFAULT_PROFILE = "onnx"

#: Input types (:attr:`Operation.input_types`): a numpy dtype name, or one of these forms.
#: ``target``: the container of the ``dtype`` attribute's integer format (int4 in int8, uint4 in uint8);
#: ``like:NAME``: the dtype of input NAME; ``int8|uint8``: either (the caller's choice).
INPUT_TYPE_FORMS = ("target", "like:", "|")

#: The signed element formats narrower than float32 with a zero, in registry order: with E8M0, the ``cast``
#: operation's targets. UE4M3 (NVFP4's scale) is left to the block-scaling chapter; ``refq.cast`` itself
#: encodes into it by NUM-3.
_NARROW_FLOATS = tuple(fmt.name for fmt in FLOAT_FORMATS if fmt.total_bits < 32 and fmt.signed and fmt.has_zero)
#: E8M0, a cast target with ONNX's ``round_mode`` (NUM-3.21), whose values are those of ``round_mode``.
_E8M0 = "float8_e8m0fnu"
_ROUND_MODES = ("nearest", "up", "down")
#: Of those, the formats ONNX Cast defines (ONNX has no 6-bit float type).
_ONNX_CAST_TARGETS = tuple(name for name in _NARROW_FLOATS if not name.startswith("float6"))
_AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
#: AFF-6.1's quantized float types (refq.affine.float_targets.FLOAT_TARGETS): the signed formats with a zero of
#: at most 8 bits.
_FLOAT_TARGETS = tuple(fmt.name for fmt in FLOAT_FORMATS if fmt.total_bits <= 8 and fmt.signed and fmt.has_zero)
#: AFF-6.5's scale types: float32, and E8M0 (ONNX's FLOAT8E8M0, QuantizeLinear-24 and later).
_SCALE_TYPES = ("float32", "float8_e8m0fnu")


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
    #: ``module:function`` of refq's reference implementation, in a chapter package or in
    #: :mod:`refq.backends.reference`; None while the spec chapter defining the operation is not
    #: written yet (vectors cannot exist then). It takes the inputs positionally and the
    #: attributes by keyword, with the same defaults as :attr:`attributes`.
    reference: str | None
    #: Inputs that are a sequence of tuples (QLinearConcat's variadic ``(X, X_scale, X_zero_point)``
    #: triples): input name -> the names of a tuple's elements, "?" marking one that may be None.
    sequences: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The numpy type of each input (and of each element of a sequence input's tuples), as the
    #: vector format stores it: see :data:`INPUT_TYPE_FORMS`. A backend is always handed these types.
    input_types: dict[str, str] = field(default_factory=dict)
    #: The values an attribute may take, where they are a closed set (absent: any value its clause allows).
    values: dict[str, tuple] = field(default_factory=dict)
    #: Of :attr:`values`, those the ONNX operator defines, where refq goes further (the golden vectors cover these).
    onnx_values: dict[str, tuple] = field(default_factory=dict)
    #: Whether the reference takes ``profile=`` (False: one definition under every profile).
    reference_profile: bool = True
    #: Whether the reference returns ``(output, unpredictable mask or None)`` (False: the output alone).
    reference_outcomes: bool = True
    #: The kinds of variant dimension (:attr:`refq.registry.variants.Variant.operation`) its profiles set.
    variants: tuple[str, ...] = ()
    #: The modules of :mod:`refq.conformance.generate` that write its golden vectors, by name.
    generators: tuple[str, ...] = ()
    #: ``module:function`` of the numpy-style function ``import refq`` offers for it (``refq.<public_name>``),
    #: None where it has none; ``refq.PUBLIC_API`` is read from these.
    public: str | None = None
    #: The name of that function in ``refq``, where it is not the operation's own.
    public_as: str | None = None

    @property
    def public_name(self) -> str | None:
        return None if self.public is None else (self.public_as or self.name)

    @property
    def signature(self) -> str:
        inputs = [name.rstrip("?") + ("=None" if name.endswith("?") else "") for name in self.inputs]
        attributes = [f"{name}={value!r}" for name, value in self.attributes.items()]
        return f"{self.name}({', '.join(inputs)}{', *, ' + ', '.join(attributes) if attributes else ''})"

    @property
    def input_names(self) -> tuple[str, ...]:
        """The inputs' names, optional ones without their "?"."""
        return tuple(name.rstrip("?") for name in self.inputs)

    @property
    def optional_inputs(self) -> frozenset[str]:
        return frozenset(name.rstrip("?") for name in self.inputs if name.endswith("?"))


_AFFINE_TYPES = {"scale": "float32", "zero_point": "target"}
_OBSERVER_TYPES = {"batches": "float32"}


_BINARY_TYPES = {"A": "int8|uint8", "A_scale": "float32", "A_zero_point": "like:A", "B": "like:A",
                 "B_scale": "float32", "B_zero_point": "like:B", "C_scale": "float32", "C_zero_point": "like:A"}
_UNARY_TYPES = {"X": "int8|uint8", "X_scale": "float32", "X_zero_point": "like:X", "Y_scale": "float32",
                "Y_zero_point": "like:X"}
_POOL_TYPES = {"X": "int8|uint8", "x_scale": "float32", "x_zero_point": "like:X", "y_scale": "float32",
               "y_zero_point": "like:X"}
_CONV_VALUES = {"auto_pad": _AUTO_PAD}
_POOL_VALUES = {"auto_pad": _AUTO_PAD, "ceil_mode": (0, 1)}
_ELEMENTWISE = dict(reference_profile=False, reference_outcomes=False, variants=("elementwise",),
                    generators=("elementwise",))
#: QLinearAdd and QLinearMul: ONNX Runtime's float32 arithmetic, or TOSA's integer graph (binary_arithmetic, a value
#: the tosa profile names), so their references take the profile.
_BINARY = {**_ELEMENTWISE, "reference_profile": True, "variants": ("elementwise", "requantize")}


OPERATIONS: tuple[Operation, ...] = (
    Operation("quantize_linear", "QuantizeLinear", ("x", "scale", "zero_point"),
              {"axis": None, "block_size": None, "dtype": "int8"},
              "integer array (sub-byte types in the smallest numpy integer type)",
              ("AFF-1.1", "AFF-1.2", "AFF-1.3", "AFF-1.4", "AFF-3.1"),
              "refq.affine.quantize:quantize_with_outcomes", public="refq.affine.quantize:quantize", public_as="quantize",
              input_types={"x": "float32", **_AFFINE_TYPES}, variants=("quantize",),
              generators=("quantize", "errors")),
    Operation("dequantize_linear", "DequantizeLinear", ("q", "scale", "zero_point"),
              {"axis": None, "block_size": None, "dtype": "int8"},
              "float32 array",
              ("AFF-1.1", "AFF-1.2", "AFF-1.3", "AFF-1.4", "AFF-4.1", "AFF-4.2"),
              "refq.affine.dequantize:dequantize", public="refq.affine.dequantize:dequantize", public_as="dequantize",
              input_types={"q": "target", **_AFFINE_TYPES}, reference_outcomes=False, variants=("dequantize",),
              generators=("dequantize", "errors")),
    Operation("quantize_linear_float", "QuantizeLinear", ("x", "scale", "zero_point?"),
              {"to": "float8_e4m3fn", "axis": None, "block_size": None, "saturate": True, "scale_type": "float32"},
              "uint8 bit patterns of the float format ``to``",
              ("AFF-1.1", "AFF-1.4", "AFF-6.1", "AFF-6.2", "AFF-6.3", "AFF-6.5", "NUM-3.20"),
              "refq.backends.reference:quantize_linear_float", public="refq.affine.float_targets:quantize_to_float",
              public_as="quantize_to_float", input_types={"x": "float32", "scale": "float32", "zero_point": "uint8"},
              values={"to": _FLOAT_TARGETS, "saturate": (False, True), "scale_type": _SCALE_TYPES},
              variants=("float_quantize", "cast"),
              generators=("float_targets",)),
    Operation("dequantize_linear_float", "DequantizeLinear", ("q", "scale", "zero_point?"),
              {"dtype": "float8_e4m3fn", "axis": None, "block_size": None, "scale_type": "float32"},
              "float32 array",
              ("AFF-1.1", "AFF-1.4", "AFF-6.1", "AFF-6.4", "AFF-6.5"),
              "refq.backends.reference:dequantize_linear_float",
              public="refq.affine.float_targets:dequantize_from_float", public_as="dequantize_from_float",
              input_types={"q": "uint8", "scale": "float32", "zero_point": "uint8"},
              values={"dtype": _FLOAT_TARGETS, "scale_type": _SCALE_TYPES}, variants=("float_dequantize",),
              generators=("float_targets",)),
    Operation("fake_quantize", None, ("x", "scale", "zero_point"), {"axis": None, "dtype": "int8"},
              "float32 array: dequantize(quantize(x)) (PyTorch's fake_quantize_per_tensor/per_channel_affine)",
              ("AFF-3.1", "AFF-4.2"),
              "refq.backends.reference:fake_quantize", public="refq.qat.straight_through:fake_quantize",
              input_types={"x": "float32", **_AFFINE_TYPES}, variants=("quantize", "dequantize"),
              generators=("fake_quantize",)),
    Operation("cast", "Cast", ("x",), {"to": "float8_e4m3fn", "saturate": False, "round_mode": "nearest"},
              "bit patterns of the target format (uint8/uint16/uint32)",
              ("NUM-3.12", "NUM-3.13", "NUM-3.15", "NUM-3.16", "NUM-3.17", "NUM-3.19", "NUM-3.20", "NUM-3.21",
               "NUM-3.22", "NUM-3.23"),
              "refq.backends.reference:cast", public="refq.numbers.floats.cast:cast",
              input_types={"x": "float32"},
              values={"to": _NARROW_FLOATS + (_E8M0,), "saturate": (False, True), "round_mode": _ROUND_MODES},
              onnx_values={"to": _ONNX_CAST_TARGETS + (_E8M0,)}, variants=("cast",), generators=("cast",)),
    # Chapter INT.
    Operation("matmul_integer", "MatMulInteger", ("a", "b", "a_zero_point?", "b_zero_point?"), {},
              "int32 array", ("INT-1.1", "INT-2.1", "INT-2.2", "INT-2.3", "INT-2.4", "INT-5.3"),
              "refq.integer_ops.profiles:matmul_integer_outcomes", public="refq.integer_ops.matmul:matmul_integer",
              input_types={"a": "int8|uint8", "b": "int8|uint8", "a_zero_point": "like:a", "b_zero_point": "like:b"},
              variants=("integer",), generators=("integer_ops",)),
    Operation("qlinear_matmul", "QLinearMatMul",
              ("a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"), {},
              "array of y_zero_point's dtype",
              ("INT-1.1", "INT-2.1", "INT-2.3", "INT-4.1", "INT-4.2", "INT-5.2", "INT-5.3", "REQ-1.1", "REQ-1.3"),
              "refq.integer_ops.profiles:qlinear_matmul_outcomes", public="refq.integer_ops.qlinear:qlinear_matmul",
              input_types={"a": "int8|uint8", "a_scale": "float32", "a_zero_point": "like:a", "b": "int8|uint8",
                           "b_scale": "float32", "b_zero_point": "like:b", "y_scale": "float32",
                           "y_zero_point": "int8|uint8"},
              variants=("integer", "requantize"), generators=("integer_ops",)),
    Operation("conv_integer", "ConvInteger", ("x", "w", "x_zero_point?", "w_zero_point?"),
              {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
               "strides": None},
              "int32 array (N, M, H_out, W_out)",
              ("INT-1.1", "INT-3.1", "INT-3.2", "INT-3.3", "INT-3.4", "INT-5.3"),
              "refq.integer_ops.profiles:conv_integer_outcomes", public="refq.integer_ops.conv:conv_integer",
              input_types={"x": "int8|uint8", "w": "int8|uint8", "x_zero_point": "like:x", "w_zero_point": "like:w"},
              values=_CONV_VALUES, variants=("integer",), generators=("integer_ops",)),
    Operation("qlinear_conv", "QLinearConv",
              ("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point", "B?"),
              {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
               "strides": None},
              "array of y_zero_point's dtype (N, M, H_out, W_out)",
              ("INT-1.1", "INT-3.1", "INT-3.4", "INT-4.1", "INT-4.3", "INT-5.2", "INT-5.3", "REQ-1.1", "REQ-1.3"),
              "refq.integer_ops.profiles:qlinear_conv_outcomes", public="refq.integer_ops.qlinear:qlinear_conv",
              input_types={"x": "int8|uint8", "x_scale": "float32", "x_zero_point": "like:x", "w": "int8|uint8",
                           "w_scale": "float32", "w_zero_point": "like:w", "y_scale": "float32",
                           "y_zero_point": "int8|uint8", "B": "int32"},
              values=_CONV_VALUES, variants=("integer", "requantize"), generators=("integer_ops",)),
    # Chapter REQ: TOSA's RESCALE operator (its definition is TOSA's, under the tosa profile: no profile taken).
    Operation("rescale", None, ("input", "multiplier", "shift", "input_zp?", "output_zp?"),
              {"dtype": "int8", "scale32": True, "rounding_mode": "double_round", "per_channel": False},
              "array of dtype (int8, uint8, int16, uint16 or int32) shaped like input",
              ("REQ-2.4", "REQ-2.6", "REQ-2.8", "REQ-2.9"), "refq.requantize.rescale:rescale_with_outcomes",
              input_types={"input": "int8|uint8|int16|uint16|int32|int64", "multiplier": "int32", "shift": "int32",
                           "input_zp": "like:input", "output_zp": "target"},
              values={"dtype": ("int8", "uint8", "int16", "uint16", "int32"), "scale32": (False, True),
                      "rounding_mode": ("single_round", "double_round"), "per_channel": (False, True)},
              reference_profile=False, generators=("rescale",)),
    # Chapter OBS. Several results travel as one record (refq.backends.records): a numpy structured
    # array of shape () whose fields are arrays. ``batches`` stacks equal-size batches on its first axis,
    # fed to the observer in order; ``ch_axis`` is an axis of one batch.
    Operation("dynamic_quantize_linear", "DynamicQuantizeLinear", ("x",), {},
              "record (y: uint8 shaped like x, y_scale: float32, y_zero_point: uint8)",
              ("OBS-5.1", "OBS-5.2", "OBS-5.3", "OBS-5.4", "OBS-5.5"),
              "refq.backends.reference:dynamic_quantize_linear", public="refq.observers.dynamic:dynamic_quantize_linear",
              input_types={"x": "float32"}, variants=("observe",), generators=("observers",)),
    Operation("observe_minmax", None, ("batches",),
              {"dtype": "uint8", "qscheme": "affine", "reduce_range": False, "ch_axis": None},
              "record (min_val, max_val: float32 state; scale: float32, zero_point: int64), scalars per "
              "tensor, one per channel with ch_axis (torch MinMaxObserver / PerChannelMinMaxObserver)",
              ("OBS-1.7", "OBS-2.1", "OBS-2.2", "OBS-2.3", "OBS-2.5"),
              "refq.backends.reference:observe_minmax", public="refq.observers.operations:observe_minmax",
              input_types=_OBSERVER_TYPES, variants=("observe",), generators=("observers",)),
    Operation("observe_moving_average", None, ("batches",),
              {"averaging_constant": 0.01, "dtype": "uint8", "qscheme": "affine", "reduce_range": False,
               "ch_axis": None},
              "record (min_val, max_val, scale, zero_point) as observe_minmax "
              "(torch MovingAverageMinMaxObserver / MovingAveragePerChannelMinMaxObserver)",
              ("OBS-1.7", "OBS-2.1", "OBS-2.2", "OBS-2.5", "OBS-2.6"),
              "refq.backends.reference:observe_moving_average", public="refq.observers.operations:observe_moving_average",
              input_types=_OBSERVER_TYPES, variants=("observe",), generators=("observers",)),
    Operation("observe_histogram", None, ("batches",),
              {"bins": 2048, "dtype": "uint8", "qscheme": "affine", "reduce_range": False},
              "record (histogram: float32 of bins counts, min_val, max_val: float32, scale: float32, "
              "zero_point: int64) (torch HistogramObserver)",
              ("OBS-3.4", "OBS-3.6", "OBS-3.8", "OBS-3.9"),
              "refq.backends.reference:observe_histogram", public="refq.observers.operations:observe_histogram",
              input_types=_OBSERVER_TYPES, variants=("observe",), generators=("observers",)),
    # ONNX Runtime's calibrators (onnxruntime.quantization.calibrate.HistogramCollector): one collect()
    # per batch, then the range; the record also holds the histogram the range was taken from.
    Operation("calibrate_percentile", None, ("batches",),
              {"num_bins": 2048, "percentile": 99.999, "symmetric": False},
              "record (lowest, highest: float32 range; hist: int64 counts; hist_edges: float32) "
              "(ONNX Runtime's percentile HistogramCollector)",
              ("OBS-4.1", "OBS-4.2", "OBS-4.3", "OBS-4.4", "OBS-4.5"),
              "refq.backends.reference:calibrate_percentile", public="refq.observers.operations:calibrate_percentile",
              input_types=_OBSERVER_TYPES, variants=("observe",), generators=("observers",)),
    Operation("calibrate_entropy", None, ("batches",),
              {"num_bins": 128, "num_quantized_bins": 128},
              "record (lowest, highest: float32 range; hist: int64 counts; hist_edges: float32) "
              "(ONNX Runtime's entropy HistogramCollector)",
              ("OBS-4.1", "OBS-4.2", "OBS-4.3", "OBS-4.6"),
              "refq.backends.reference:calibrate_entropy", public="refq.observers.operations:calibrate_entropy",
              input_types=_OBSERVER_TYPES, variants=("observe",), generators=("observers",)),
    # Chapter ELT: ONNX Runtime's com.microsoft operators (their definition is ONNX Runtime's, under every
    # profile: the references take no profile).
    Operation("qlinear_add", "com.microsoft.QLinearAdd",
              ("A", "A_scale", "A_zero_point?", "B", "B_scale", "B_zero_point?", "C_scale", "C_zero_point?"), {},
              "array of A's dtype (int8 or uint8), the broadcast shape",
              ("ELT-1.1", "ELT-1.2", "ELT-1.3", "ELT-2.1", "ELT-2.2", "ELT-2.3", "ELT-2.4", "ELT-2.5"),
              "refq.elementwise.binary:qlinear_add_under_profile", public="refq.elementwise.binary:qlinear_add",
              input_types=_BINARY_TYPES, **_BINARY),
    Operation("qlinear_mul", "com.microsoft.QLinearMul",
              ("A", "A_scale", "A_zero_point?", "B", "B_scale", "B_zero_point?", "C_scale", "C_zero_point?"), {},
              "array of A's dtype (int8 or uint8), the broadcast shape",
              ("ELT-1.1", "ELT-1.2", "ELT-2.1", "ELT-2.6", "ELT-2.7"),
              "refq.elementwise.binary:qlinear_mul_under_profile", public="refq.elementwise.binary:qlinear_mul",
              input_types=_BINARY_TYPES, **_BINARY),
    Operation("qlinear_sigmoid", "com.microsoft.QLinearSigmoid",
              ("X", "X_scale", "X_zero_point?", "Y_scale", "Y_zero_point?"), {},
              "array of X's dtype and shape",
              ("ELT-1.1", "ELT-3.1", "ELT-3.2", "ELT-3.3", "ELT-3.5", "ELT-3.6"),
              "refq.elementwise.lookup:qlinear_sigmoid", public="refq.elementwise.lookup:qlinear_sigmoid", input_types=_UNARY_TYPES, **_ELEMENTWISE),
    Operation("qlinear_leaky_relu", "com.microsoft.QLinearLeakyRelu",
              ("X", "X_scale", "X_zero_point?", "Y_scale", "Y_zero_point?"), {"alpha": 0.01},
              "array of X's dtype and shape",
              ("ELT-1.1", "ELT-3.1", "ELT-3.2", "ELT-3.4", "ELT-3.5", "ELT-3.6"),
              "refq.elementwise.lookup:qlinear_leaky_relu", public="refq.elementwise.lookup:qlinear_leaky_relu", input_types=_UNARY_TYPES, **_ELEMENTWISE),
    Operation("qlinear_tanh", None,
              ("X", "X_scale", "X_zero_point?", "Y_scale", "Y_zero_point?"), {},
              "array of X's dtype and shape",
              ("ELT-1.1", "ELT-3.1", "ELT-3.2", "ELT-3.5", "ELT-3.7", "ELT-3.8"),
              "refq.elementwise.lookup:qlinear_tanh", public="refq.elementwise.lookup:qlinear_tanh", input_types=_UNARY_TYPES, **_ELEMENTWISE),
    Operation("qlinear_global_average_pool", "com.microsoft.QLinearGlobalAveragePool",
              ("X", "x_scale", "x_zero_point?", "y_scale", "y_zero_point?"), {"channels_last": 0},
              "array of X's dtype, spatial axes of length 1",
              ("ELT-1.1", "ELT-4.1", "ELT-4.2", "ELT-4.3"),
              "refq.elementwise.pooling:qlinear_global_average_pool", public="refq.elementwise.pooling:qlinear_global_average_pool", input_types=_POOL_TYPES,
              values={"channels_last": (0, 1)}, **_ELEMENTWISE),
    Operation("max_pool", "MaxPool",
              ("X",), {"auto_pad": "NOTSET", "ceil_mode": 0, "dilations": None, "kernel_shape": None, "pads": None,
                       "storage_order": 0, "strides": None},
              "array of X's dtype (int8 or uint8), the pooled shape",
              ("ELT-1.1", "ELT-6.1", "ELT-6.2", "ELT-6.3"),
              "refq.elementwise.windows:max_pool", public="refq.elementwise.windows:max_pool", input_types={"X": "int8|uint8"},
              values={**_POOL_VALUES, "storage_order": (0, 1)}, **_ELEMENTWISE),
    Operation("qlinear_average_pool", "com.microsoft.QLinearAveragePool",
              ("X", "x_scale", "x_zero_point?", "y_scale", "y_zero_point?"),
              {"auto_pad": "NOTSET", "ceil_mode": 0, "channels_last": 0, "count_include_pad": 0, "kernel_shape": None,
               "pads": None, "strides": None},
              "array of X's dtype, the pooled shape",
              ("ELT-1.1", "ELT-2.1", "ELT-4.2", "ELT-6.1", "ELT-6.4", "ELT-6.5", "ELT-6.6"),
              "refq.elementwise.windows:qlinear_average_pool", public="refq.elementwise.windows:qlinear_average_pool", input_types=_POOL_TYPES,
              values={**_POOL_VALUES, "channels_last": (0, 1), "count_include_pad": (0, 1)},
              **{**_ELEMENTWISE, "variants": ("elementwise", "requantize")}),
    Operation("qlinear_concat", "com.microsoft.QLinearConcat",
              ("Y_scale", "Y_zero_point", "inputs"), {"axis": None},
              "array of Y_zero_point's dtype; inputs is a sequence of (X, X_scale, X_zero_point)",
              ("ELT-1.1", "ELT-3.2", "ELT-3.5", "ELT-7.1", "ELT-7.2"),
              "refq.elementwise.concat:qlinear_concat", public="refq.elementwise.concat:qlinear_concat",
              sequences={"inputs": ("X", "X_scale", "X_zero_point?")},
              input_types={"Y_scale": "float32", "Y_zero_point": "int8|uint8", "X": "like:Y_zero_point",
                           "X_scale": "float32", "X_zero_point": "like:Y_zero_point"}, **_ELEMENTWISE),
    # TOSA's TABLE (its definition is TOSA's, under the tosa profile: no profile taken).
    Operation("table", None, ("input", "table"), {},
              "int8 array (int8 input) or int32 array (int16 input), shaped like input",
              ("ELT-8.1", "ELT-8.2", "ELT-8.3"), "refq.elementwise.table:table_with_outcomes",
              input_types={"input": "int8|int16", "table": "like:input"}, reference_profile=False,
              generators=("table",)),
    # Chapter GGF: ggml's block types (llama.cpp's GGUF files). ``type`` is a ggml type name (GGF-1.1).
    # ``imatrix``: one importance weight per column of rows of imatrix.size elements (GGF-8).
    Operation("gguf_quantize", None, ("x", "imatrix?"), {"type": "Q4_0"},
              "uint8 array: the blocks' bytes, in the order of x's elements (ggml's quantize_row_*_ref; with "
              "imatrix, ggml_quantize_chunk's weighted search)",
              ("GGF-1.1", "GGF-5.1"), "refq.gguf.api:gguf_quantize_outcomes",
              public="refq.gguf.api:gguf_quantize", input_types={"x": "float32", "imatrix": "float32"},
              variants=("gguf_quantize",), generators=("gguf", "gguf_activation")),
    Operation("gguf_dequantize", None, ("blocks",), {"type": "Q4_0"},
              "float32 array, block_elements values per block (ggml's dequantize_row_*)",
              ("GGF-1.1", "GGF-5.2"), "refq.gguf.api:gguf_dequantize", public="refq.gguf.api:gguf_dequantize",
              input_types={"blocks": "uint8"}, reference_profile=False, reference_outcomes=False,
              generators=("gguf",)),
    # Chapter BLK: block-scaled formats (OCP MX). ``format`` is an MX element format (BLK-1.2); blocks of
    # ``block_size`` along ``axis`` (BLK-1.3), one E8M0 scale code each; element codes one per uint8.
    Operation("block_quantize", None, ("x",), {"format": "float8_e4m3fn", "axis": -1, "block_size": 32},
              "record (scales: uint8 E8M0 codes, x's shape with axis divided by block_size; codes: uint8 element "
              "codes shaped like x)",
              ("BLK-1.3", "BLK-5.1"), "refq.block.api:block_quantize_outcomes", public="refq.block.api:block_quantize",
              input_types={"x": "float32"}, variants=("block",), generators=("block",)),
    Operation("block_dequantize", None, ("scales", "codes"), {"format": "float8_e4m3fn", "axis": -1, "block_size": 32},
              "float32 array shaped like codes", ("BLK-4.1", "BLK-5.2"), "refq.block.api:block_dequantize_outcomes",
              public="refq.block.api:block_dequantize", input_types={"scales": "uint8", "codes": "uint8"},
              variants=("block",), generators=("block",)),
    # Chapter BLK, section 7: bitsandbytes' NF4 and FP4. ``x`` is read flat (C order), blocks of ``block_size``
    # consecutive elements, the last one possibly shorter; codes two per byte, the first in the high nibble.
    Operation("bnb4_quantize", None, ("x",), {"quant_type": "nf4", "block_size": 64},
              "record (absmax: float32, one per block; codes: uint8, two 4-bit codes per byte, (size + 1) // 2)",
              ("BLK-7.2", "BLK-7.3", "BLK-7.4", "BLK-7.5", "BLK-7.7"), "refq.block.bnb4:bnb4_quantize_outcomes",
              public="refq.block.bnb4:bnb4_quantize", input_types={"x": "float32"},
              values={"quant_type": ("nf4", "fp4")}, variants=("block_bnb4",), generators=("bnb4",)),
    Operation("bnb4_dequantize", None, ("absmax", "codes"), {"quant_type": "nf4", "block_size": 64, "size": None},
              "float32 array of size values (default: two per byte of codes)", ("BLK-7.5", "BLK-7.6", "BLK-7.8"),
              "refq.block.bnb4:bnb4_dequantize_outcomes", public="refq.block.bnb4:bnb4_dequantize",
              input_types={"absmax": "float32", "codes": "uint8"}, values={"quant_type": ("nf4", "fp4")},
              variants=("block_bnb4",), generators=("bnb4",)),
    # Chapter BLK, section 8: NVIDIA's NVFP4. Blocks of 16 along the last axis, one float32 for the tensor,
    # codes two per byte, element 2j in the low nibble.
    Operation("nvfp4_quantize", None, ("x",), {},
              "record (tensor_scale: float32, shape (); block_scales: uint8 float8_e4m3fn codes, one per block of 16 "
              "along the last axis; codes: uint8, two E2M1 codes per byte)",
              ("BLK-8.2", "BLK-8.3", "BLK-8.4", "BLK-8.5", "BLK-8.7"), "refq.block.nvfp4:nvfp4_quantize_outcomes",
              public="refq.block.nvfp4:nvfp4_quantize", input_types={"x": "float32"},
              variants=("block_nvfp4",), generators=("nvfp4",)),
    Operation("nvfp4_dequantize", None, ("tensor_scale", "block_scales", "codes"), {},
              "float32 array, two values per byte of codes", ("BLK-8.5", "BLK-8.6", "BLK-8.8"),
              "refq.block.nvfp4:nvfp4_dequantize_outcomes", public="refq.block.nvfp4:nvfp4_dequantize",
              input_types={"tensor_scale": "float32", "block_scales": "uint8", "codes": "uint8"},
              variants=("block_nvfp4",), generators=("nvfp4",)),
    # Chapter BLK, section 9: weight-only int4 groups. Groups of ``group_size`` consecutive elements along the
    # last axis (the last one possibly shorter), a float32 scale and zero point each; codes one per int8.
    Operation("int4_group_quantize", None, ("x",), {"group_size": 128, "symmetric": True},
              "record (scales: float32, x's shape with the last axis in groups; zero_points: float32, the same "
              "shape; codes: int8, one int4 code per element, shaped like x)",
              ("BLK-9.2", "BLK-9.3", "BLK-9.4", "BLK-9.5", "BLK-9.7"),
              "refq.block.int4_group:int4_group_quantize_outcomes", public="refq.block.int4_group:int4_group_quantize",
              input_types={"x": "float32"}, values={"symmetric": (True, False)}, variants=("block_int4",),
              generators=("int4_group",)),
    Operation("int4_group_dequantize", None, ("scales", "zero_points", "codes"), {"group_size": 128},
              "float32 array shaped like codes", ("BLK-9.6", "BLK-9.8"),
              "refq.block.int4_group:int4_group_dequantize_outcomes",
              public="refq.block.int4_group:int4_group_dequantize", reference_profile=False,
              input_types={"scales": "float32", "zero_points": "float32", "codes": "int8"},
              variants=("block_int4",), generators=("int4_group",)),
    # Chapter BLK, section 10: B-bit codes packed into bytes or int32 words, as each engine lays them out.
    Operation("pack_codes", None, ("codes",), {"bits": 4},
              "uint8 or int32 units (the profile's code_unit): codes' shape with the last axis in units "
              "(code_extent = rows) or one-dimensional (tensor)",
              ("BLK-10.1", "BLK-10.2", "BLK-10.3", "BLK-10.4"), "refq.block.packing:pack_codes",
              public="refq.block.packing:pack_codes", reference_outcomes=False, input_types={"codes": "int8|uint8"},
              values={"bits": tuple(range(1, 9))}, variants=("block_packing",), generators=("packing",)),
    Operation("unpack_codes", None, ("packed",), {"bits": 4, "length": None, "signed": None},
              "int8 codes where signed, uint8 where not: packed's shape with the last axis in codes (code_extent = "
              "rows) or one-dimensional (tensor)",
              ("BLK-10.1", "BLK-10.2", "BLK-10.3", "BLK-10.5"), "refq.block.packing:unpack_codes",
              public="refq.block.packing:unpack_codes", reference_outcomes=False,
              input_types={"packed": "uint8|int32"}, values={"bits": tuple(range(1, 9))},
              variants=("block_packing",), generators=("packing",)),
)

OPERATIONS_BY_NAME = {operation.name: operation for operation in OPERATIONS}
