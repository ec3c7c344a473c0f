"""Single-operator ``.tflite`` models, written with the flatbuffer schema the ai-edge-litert wheel ships
(``ai_edge_litert.schema_py_generated``: no TensorFlow needed), and run by LiteRT's interpreter."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_TENSOR_TYPES = {np.dtype(np.float32): "FLOAT32", np.dtype(np.int8): "INT8", np.dtype(np.uint8): "UINT8",
                 np.dtype(np.int16): "INT16", np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64"}


@dataclass
class Tensor:
    """One tensor of the graph: ``data`` set makes it a constant (a buffer of its own)."""

    shape: tuple
    dtype: np.dtype
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    axis: int = 0
    data: np.ndarray | None = None


@dataclass
class SingleOperator:
    """A graph of one builtin operator: its inputs (graph inputs or constants) and its output."""

    operator: str
    #: None: an optional input left out (index -1).
    inputs: list[Tensor | None]
    output: Tensor
    options_type: str | None = None
    options: dict = field(default_factory=dict)


def serialize(model: SingleOperator) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    buffers = [schema.BufferT()]  # buffer 0: the empty buffer every non-constant tensor names
    tensors = []
    present = [spec for spec in model.inputs if spec is not None]
    for index, spec in enumerate([*present, model.output]):
        tensor = schema.TensorT()
        tensor.shape = [int(size) for size in spec.shape]
        tensor.type = getattr(schema.TensorType, _TENSOR_TYPES[np.dtype(spec.dtype)])
        tensor.name = f"t{index}".encode()
        tensor.buffer = 0
        if spec.data is not None:
            buffer = schema.BufferT()
            buffer.data = np.ascontiguousarray(spec.data, dtype=spec.dtype).reshape(-1).view(np.uint8).tolist()
            tensor.buffer = len(buffers)
            buffers.append(buffer)
        if spec.scale is not None:
            quantization = schema.QuantizationParametersT()
            quantization.scale = [float(s) for s in np.asarray(spec.scale, np.float32).reshape(-1)]
            quantization.zeroPoint = [int(z) for z in np.asarray(spec.zero_point).reshape(-1)]
            quantization.quantizedDimension = int(spec.axis)
            tensor.quantization = quantization
        tensors.append(tensor)
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, model.operator)
    code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    code.version = 1
    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    positions = iter(range(len(present)))
    operator.inputs = [-1 if spec is None else next(positions) for spec in model.inputs]
    operator.outputs = [len(present)]
    if model.options_type is not None:
        operator.builtinOptionsType = getattr(schema.BuiltinOptions, model.options_type)
        options = getattr(schema, model.options_type + "T")()
        for name, value in model.options.items():
            setattr(options, name, value)
        operator.builtinOptions = options
    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.inputs = [i for i, spec in enumerate(present) if spec.data is None]
    subgraph.outputs = [len(present)]
    subgraph.operators = [operator]
    graph = schema.ModelT()
    graph.version = 3
    graph.operatorCodes = [code]
    graph.subgraphs = [subgraph]
    graph.buffers = buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(graph.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run(model: SingleOperator, inputs: list[np.ndarray], resolver: str) -> np.ndarray:
    """Run ``model`` on the values of its non-constant inputs, in order, with the op resolver named
    (``BUILTIN_REF``, ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` or ``BUILTIN``), on one thread."""
    from ai_edge_litert import interpreter as litert

    engine = litert.Interpreter(model_content=serialize(model), num_threads=1,
                                experimental_op_resolver_type=getattr(litert.OpResolverType, resolver))
    engine.allocate_tensors()
    for detail, value in zip(engine.get_input_details(), inputs):
        engine.set_tensor(detail["index"], np.ascontiguousarray(value, dtype=detail["dtype"]))
    engine.invoke()
    return np.array(engine.get_tensor(engine.get_output_details()[0]["index"]))
