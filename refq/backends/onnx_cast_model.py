"""Single-node ONNX ``Cast`` models from float32 to the formats ONNX Runtime's CPU provider casts to,
and reading their bit patterns back.

ONNX Runtime's Python binding has no numpy type for bfloat16, float8_e4m3fnuz, float8_e5m2 or
float8_e5m2fnuz and refuses to return them. The model therefore casts its result on, bfloat16 to
float32 and the float8 formats to float16: a second cast that is exact for every non-NaN pattern
(checked on all 256 patterns of each float8 format in the tests), and the patterns are read from
it: bfloat16 is float32's top half and float8_e5m2 float16's top byte; the others are found by
encoding the exact value again. Of a NaN result only the NaN survives (float8_e5m2 0x7D and 0x7F come back as 0x7E), which
is no loss: ``cast``'s NaN inputs are unpredictable, and every other NaN ONNX Runtime gives is 0x7E
or 0x7F with the input's sign.
"""

from __future__ import annotations

import numpy as np

#: refq format -> onnx.TensorProto element type name: the targets of ONNX Runtime 1.32's CPU Cast from float32
#: (float4_e2m1fn has no CPU kernel).
CAST_TARGETS = {
    "float16": "FLOAT16", "bfloat16": "BFLOAT16",
    "float8_e4m3fn": "FLOAT8E4M3FN", "float8_e4m3fnuz": "FLOAT8E4M3FNUZ",
    "float8_e5m2": "FLOAT8E5M2", "float8_e5m2fnuz": "FLOAT8E5M2FNUZ", "float8_e8m0fnu": "FLOAT8E8M0",
}
#: The type each target is cast on to for the binding to return it (see the module's docstring). E8M0
#: (2^-127 to 2^127) goes to float32, exactly: its pattern is the float32 exponent field.
READ_AS = {"bfloat16": "FLOAT", "float8_e8m0fnu": "FLOAT",
           **{name: "FLOAT16" for name in CAST_TARGETS if name.startswith("float8") and name != "float8_e8m0fnu"}}
#: Cast-21: the first opset whose Cast has ``saturate``, and the IR version of its float8 types.
OPSET = 21
IR_VERSION = 10
#: Cast-25: the first with FLOAT8E8M0 and ``round_mode``, and the IR version of that type.
E8M0_OPSET = 25
E8M0_IR_VERSION = 11


def build_cast_model(to: str, saturate: bool, round_mode: str = "nearest"):
    """An ``onnx.ModelProto``: ``x`` (float32) -> ``Cast(to, saturate[, round_mode])`` -> ``y``, that cast's
    result cast on to the type of :data:`READ_AS` where the binding cannot return ``to`` (see the module's
    docstring)."""
    from onnx import TensorProto, helper

    target = getattr(TensorProto, CAST_TARGETS[to])
    # ONNX Runtime refuses the attribute on a cast to any other type.
    attributes = {"saturate": int(saturate)} if to.startswith("float8") else {}
    opset, ir_version = OPSET, IR_VERSION
    if to == "float8_e8m0fnu":
        attributes["round_mode"] = round_mode
        opset, ir_version = E8M0_OPSET, E8M0_IR_VERSION
    read_as = READ_AS.get(to)
    nodes = [helper.make_node("Cast", ["x"], ["cast" if read_as else "y"], to=target, **attributes)]
    output_type = target
    if read_as:
        output_type = getattr(TensorProto, read_as)
        nodes.append(helper.make_node("Cast", ["cast"], ["y"], to=output_type))
    graph = helper.make_graph(nodes, "refq_cast", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", output_type, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)


def read_patterns(y: np.ndarray, to: str) -> np.ndarray:
    """The bit patterns of ``to`` that a :func:`build_cast_model` session's output ``y`` holds."""
    if to == "float16":
        return np.asarray(y, dtype=np.float16).view(np.uint16)
    if to == "bfloat16":
        return (np.asarray(y, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    if to == "float8_e8m0fnu":
        values = np.asarray(y, dtype=np.float32)
        fields = ((values.view(np.uint32) >> 23) & 0xFF).astype(np.uint8)  # 2^-127 is subnormal: field 0, pattern 0
        return np.where(np.isnan(values), np.uint8(0xFF), fields)
    halves = np.asarray(y, dtype=np.float16)
    if to == "float8_e5m2":
        return (halves.view(np.uint16) >> 8).astype(np.uint8)
    from refq.numbers.floats import encode_array

    return encode_array(halves, to, overflow="infinity")


def _linear_node(operator: str, source: str, output: str, element_type: int, zero_point: bytes | None,
                 scale_shape: tuple[int, ...], axis: int | None, block_size: int | None, **attributes):
    """One ``QuantizeLinear`` / ``DequantizeLinear`` node reading ``source`` and ``scale``, and its initializers: a zero
    point (one pattern per scale, as bytes) is an initializer, since the binding cannot feed float8."""
    from onnx import helper

    layout = {"axis": axis, "block_size": block_size}
    attributes.update({name: value for name, value in layout.items() if value is not None})
    inputs, initializers = [source, "scale"], []
    if zero_point is not None:
        initializers.append(helper.make_tensor("zero_point", element_type, scale_shape, zero_point, raw=True))
        inputs.append("zero_point")
    return helper.make_node(operator, inputs, [output], **attributes), initializers


def build_float_quantize_model(to: str, saturate: bool, zero_point: bytes | None, scale_shape: tuple[int, ...],
                               axis: int | None, block_size: int | None):
    """``x``, ``scale`` (float32 inputs) -> ``QuantizeLinear`` to the float8 type ``to`` -> its float16 read-back
    ``y``."""
    from onnx import TensorProto, helper

    target = getattr(TensorProto, CAST_TARGETS[to])
    # The zero point's type is the output's: ONNX refuses output_dtype beside one.
    typed = {} if zero_point is not None else {"output_dtype": target}
    quantize, initializers = _linear_node("QuantizeLinear", "x", "quantized", target, zero_point, scale_shape, axis,
                                          block_size, saturate=int(saturate), **typed)
    nodes = [quantize, helper.make_node("Cast", ["quantized"], ["y"], to=TensorProto.FLOAT16)]
    graph = helper.make_graph(nodes, "refq_quantize_float",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("scale", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def build_float_dequantize_model(dtype: str, zero_point: bytes | None, scale_shape: tuple[int, ...],
                                 axis: int | None, block_size: int | None):
    """``q`` (float16: the float8 values, exact) -> ``Cast`` to the float8 type ``dtype`` -> ``DequantizeLinear``
    with ``scale`` -> ``y`` (float32). A NaN pattern reaches the cast as a float16 NaN (its payload open)."""
    from onnx import TensorProto, helper

    source = getattr(TensorProto, CAST_TARGETS[dtype])
    dequantize, initializers = _linear_node("DequantizeLinear", "patterns", "y", source, zero_point, scale_shape, axis,
                                            block_size)
    nodes = [helper.make_node("Cast", ["q"], ["patterns"], to=source, saturate=0), dequantize]
    graph = helper.make_graph(nodes, "refq_dequantize_float",
                              [helper.make_tensor_value_info("q", TensorProto.FLOAT16, None),
                               helper.make_tensor_value_info("scale", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
