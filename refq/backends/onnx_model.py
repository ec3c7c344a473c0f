"""Single-node ONNX models for QuantizeLinear and DequantizeLinear, and the
sub-byte packing ONNX uses for int4, uint4, int2 and uint2 tensors.

Scale and zero point are graph inputs, not initializers, so that one model
(and one ONNX Runtime session) serves every scale and zero point of a shape.
"""

from __future__ import annotations

import numpy as np

#: QuantizeLinear-25 / DequantizeLinear-25: the first opset with int2 and uint2.
OPSET = 25
#: The IR version that introduced opset 25's types.
IR_VERSION = 11

#: refq dtype name -> onnx.TensorProto element type name.
ONNX_TYPES = {
    "int8": "INT8", "uint8": "UINT8", "int16": "INT16", "uint16": "UINT16",
    "int4": "INT4", "uint4": "UINT4", "int2": "INT2", "uint2": "UINT2", "int32": "INT32",
}
#: QuantizeLinear's integer outputs; DequantizeLinear also reads int32 (biases).
QUANTIZE_TYPES = tuple(name for name in ONNX_TYPES if name != "int32")
#: Types ONNX stores several to a byte, lowest bits first.
PACKED_BITS = {"int4": 4, "uint4": 4, "int2": 2, "uint2": 2}


def element_type(dtype: str) -> int:
    from onnx import TensorProto

    return getattr(TensorProto, ONNX_TYPES[dtype])


def build_model(operation: str, dtype: str, shape: tuple[int, ...], scale_shape: tuple[int, ...],
                axis: int | None, block_size: int | None):
    """An ``onnx.ModelProto`` with one ``QuantizeLinear`` or ``DequantizeLinear`` node.

    Inputs ``x``, ``scale``, ``zero_point``; output ``y``. ``axis`` is None for
    per-tensor quantization; ``block_size`` is set for blocked quantization.
    """
    from onnx import TensorProto, helper

    integer, real = element_type(dtype), TensorProto.FLOAT
    input_type, output_type = (real, integer) if operation == "QuantizeLinear" else (integer, real)
    attributes = {}
    if axis is not None:
        attributes["axis"] = axis
    if block_size is not None:
        attributes["block_size"] = block_size
    node = helper.make_node(operation, ["x", "scale", "zero_point"], ["y"], **attributes)
    graph = helper.make_graph(
        [node], operation,
        [helper.make_tensor_value_info("x", input_type, list(shape)),
         helper.make_tensor_value_info("scale", real, list(scale_shape)),
         helper.make_tensor_value_info("zero_point", integer, list(scale_shape))],
        [helper.make_tensor_value_info("y", output_type, list(shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def pack(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack integers of ``bits`` bits (2 or 4) into bytes, element ``i`` in the bits
    ``(i mod k) * bits`` upwards of byte ``i // k`` with ``k = 8 // bits`` (ONNX's layout);
    a partial last byte is padded with zero bits."""
    per_byte = 8 // bits
    flat = values.reshape(-1).astype(np.int64) & ((1 << bits) - 1)
    padded = np.zeros(-(-flat.size // per_byte) * per_byte, dtype=np.int64)
    padded[:flat.size] = flat
    slots = padded.reshape(-1, per_byte) << (np.arange(per_byte) * bits)
    return np.bitwise_or.reduce(slots, axis=1).astype(np.uint8)


def unpack(data: np.ndarray, count: int, bits: int, signed: bool) -> np.ndarray:
    """The inverse of :func:`pack`: ``count`` integers, sign-extended when ``signed``,
    in int8 (signed) or uint8 (unsigned)."""
    per_byte = 8 // bits
    fields = (data.astype(np.int64)[:, None] >> (np.arange(per_byte) * bits)) & ((1 << bits) - 1)
    values = fields.reshape(-1)[:count]
    if signed:
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
        return values.astype(np.int8)
    return values.astype(np.uint8)


def dynamic_input(x) -> np.ndarray:
    """DynamicQuantizeLinear's input as a contiguous float32 array (its only input type)."""
    from refq.errors import wrong_type

    array = np.asarray(x)
    if array.dtype != np.float32:
        raise wrong_type("x", "a float32 array", x)
    return np.ascontiguousarray(array)


def build_dynamic_model(shape: tuple[int, ...]):
    """An ``onnx.ModelProto`` with one ``DynamicQuantizeLinear`` node: input ``x`` (float32 of ``shape``),
    outputs ``y`` (uint8), ``y_scale`` (float32 scalar) and ``y_zero_point`` (uint8 scalar)."""
    from onnx import TensorProto, helper

    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "y_scale", "y_zero_point"])
    graph = helper.make_graph(
        [node], "DynamicQuantizeLinear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, list(shape)),
         helper.make_tensor_value_info("y_scale", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("y_zero_point", TensorProto.UINT8, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model
