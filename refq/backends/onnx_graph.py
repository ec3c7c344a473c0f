"""refq as an ONNX backend: graphs made of the operators refq defines, run node by node under a profile.

:class:`RefqOnnxBackend` implements ``onnx.backend.base.Backend``, so ONNX's own node tests
(``onnx.backend.test.case.node``) run against refq, and a whole quantized model (QOperator form:
QuantizeLinear, QLinearConv, QLinearMatMul, DequantizeLinear and ONNX Runtime's ``com.microsoft``
QLinear operators) runs layer by layer beside another engine (``refq run``).

Each node is answered by :func:`refq.backends.reference.run`, the same function the conformance
suite takes refq's expected values from, so a graph run and a golden vector never disagree. A node
whose operator refq does not define, or an input form refq cannot express (float16 scales, an
int32 QuantizeLinear), raises :class:`UnsupportedNode`, never a silent approximation. A
QuantizeLinear or DequantizeLinear whose quantized type is a float8 or float4 format runs AFF-6.
Besides refq's operators, the graph may hold the operators that only move or name values
(``Identity``, ``Reshape``, ``Transpose``, ``Flatten``, ``Squeeze``, ``Unsqueeze``, ``Constant``):
they are exact whatever the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from refq.backends.reference import run as run_operation
from refq.errors import invalid
from refq.registry.operations import OPERATIONS, OPERATIONS_BY_NAME

#: AFF-6.1's quantized float types.
FLOAT_TARGETS = OPERATIONS_BY_NAME["quantize_linear_float"].values["to"]

# onnx is imported where it is used: refq's own import needs only its core dependencies.


@cache
def integer_types() -> dict[int, str]:
    """ONNX integer element types refq quantizes to, by TensorProto code."""
    from onnx import TensorProto as T

    return {T.INT8: "int8", T.UINT8: "uint8", T.INT16: "int16", T.UINT16: "uint16", T.INT4: "int4",
            T.UINT4: "uint4", T.INT2: "int2", T.UINT2: "uint2", T.INT32: "int32"}


@cache
def float_types() -> dict[int, str | None]:
    """ONNX float element types Cast converts between, by TensorProto code: refq's format names
    (float64 is decoded to exactly; it is no format of refq's registry)."""
    from onnx import TensorProto as T

    return {T.FLOAT: "binary32", T.FLOAT16: "binary16", T.BFLOAT16: "bfloat16", T.FLOAT8E4M3FN: "float8_e4m3fn",
            T.FLOAT8E4M3FNUZ: "float8_e4m3fnuz", T.FLOAT8E5M2: "float8_e5m2", T.FLOAT8E5M2FNUZ: "float8_e5m2fnuz",
            T.FLOAT4E2M1: "float4_e2m1fn", T.FLOAT8E8M0: "float8_e8m0fnu", T.DOUBLE: None}


@cache
def saturating_types() -> tuple[int, ...]:
    """The targets ONNX's ``saturate`` attribute applies to (Cast-25: "float8e4m3fn, float8e4m3fnuz,
    float8e5m2, float8e5m2fnuz, float8e8m0")."""
    from onnx import TensorProto as T

    return (T.FLOAT8E4M3FN, T.FLOAT8E4M3FNUZ, T.FLOAT8E5M2, T.FLOAT8E5M2FNUZ, T.FLOAT8E8M0)


def _type_name(code: int) -> str:
    from onnx import TensorProto

    return TensorProto.DataType.Name(code)


#: The operators that only move values: computed here with numpy, exact on every engine.
MOVING_OPERATORS = ("Identity", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Constant")


class UnsupportedNode(NotImplementedError):
    """A node refq cannot answer exactly: an operator it does not define, or an input form it cannot express."""


def operator_key(node: onnx.NodeProto) -> str:
    """``QuantizeLinear`` for the default domain, ``com.microsoft.QLinearAdd`` for another."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


#: Operation record by the ONNX operator it defines (the first record naming it: QuantizeLinear and
#: DequantizeLinear to float types have handlers of their own).
OPERATIONS_BY_OPERATOR: dict = {}
for _operation in OPERATIONS:
    if _operation.onnx_name:
        OPERATIONS_BY_OPERATOR.setdefault(_operation.onnx_name, _operation)


def _attributes(node: onnx.NodeProto) -> dict:
    from onnx import helper

    return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}


def _container(value: np.ndarray) -> np.ndarray:
    """refq's integer container for ml_dtypes' sub-byte integers (int4 in int8, uint2 in uint8)."""
    if value.dtype.kind == "V" or value.dtype.name in ("int4", "uint4", "int2", "uint2"):
        return value.astype(np.int8 if value.dtype.name.startswith("int") else np.uint8)
    return value


def _element_type(value: np.ndarray) -> int:
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(value.dtype)


def _scale(value, node: onnx.NodeProto, name: str) -> np.ndarray:
    if value.dtype != np.float32:
        raise UnsupportedNode(f"{operator_key(node)} with a {value.dtype} {name}: refq's scales are float32")
    return value


def _float_target_scale(value, node: onnx.NodeProto) -> tuple[np.ndarray, str]:
    """A float-format QuantizeLinear's or DequantizeLinear's scale and its ``scale_type``: float32, or an E8M0
    one (AFF-6.5) as its float32 values, exact."""
    if value.dtype.name == "float8_e8m0fnu":
        return value.astype(np.float32), "float8_e8m0fnu"
    return _scale(value, node, "scale"), "float32"


def _per_tensor(scale: np.ndarray) -> bool:
    return scale.size == 1 and scale.ndim <= 1


def _quantize_linear(node, inputs, attributes, profile):
    from onnx import TensorProto, helper
    x, scale, zero_point = (list(inputs) + [None, None])[:3]
    target = attributes.get("output_dtype", 0) or (_element_type(zero_point) if zero_point is not None
                                                   else TensorProto.UINT8)
    if x.dtype != np.float32:
        raise UnsupportedNode(f"QuantizeLinear of {x.dtype}: refq quantizes float32")
    if float_types().get(target) in FLOAT_TARGETS:  # AFF-6: a float8 or float4 type
        scale, scale_type = _float_target_scale(scale, node)
        patterns, _ = run_operation("quantize_linear_float", {
            "x": x, "scale": scale, "zero_point": None if zero_point is None else zero_point.view(np.uint8)},
            {**_layout(x, scale, attributes), "to": float_types()[target],
             "saturate": bool(attributes.get("saturate", 1)), "scale_type": scale_type}, profile)
        return [patterns.view(helper.tensor_dtype_to_np_dtype(target))]
    scale = _scale(scale, node, "scale")
    layout = _layout(x, scale, attributes)
    if target not in integer_types() or target == TensorProto.INT32:
        raise UnsupportedNode(f"QuantizeLinear to {_type_name(target)}: refq quantizes to integers and to the "
                              f"float formats {', '.join(FLOAT_TARGETS)}")
    zero_point = None if zero_point is None else _container(zero_point)
    q, _ = run_operation("quantize_linear", {"x": x, "scale": scale, "zero_point": zero_point},
                         {**layout, "dtype": integer_types()[target]}, profile)
    return [q.astype(helper.tensor_dtype_to_np_dtype(target))]


def _dequantize_linear(node, inputs, attributes, profile):
    from onnx import TensorProto
    q, scale, zero_point = (list(inputs) + [None, None])[:3]
    source = _element_type(q)
    if attributes.get("output_dtype", 0) not in (0, TensorProto.FLOAT):
        raise UnsupportedNode("DequantizeLinear with output_dtype other than float: refq dequantizes to float32")
    if float_types().get(source) in FLOAT_TARGETS:  # AFF-6: a float8 or float4 type
        scale, scale_type = _float_target_scale(scale, node)
        if scale_type != "float32" and not attributes.get("output_dtype", 0):
            raise UnsupportedNode("DequantizeLinear with an E8M0 scale and no output_dtype: its output would be "
                                  "E8M0 (the scale's type); refq dequantizes to float32")
        y, _ = run_operation("dequantize_linear_float", {
            "q": q.view(np.uint8), "scale": scale, "zero_point": None if zero_point is None else zero_point.view(
                np.uint8)}, {**_layout(q, scale, attributes), "dtype": float_types()[source],
                             "scale_type": scale_type}, profile)
        return [y]
    scale = _scale(scale, node, "scale")
    layout = _layout(q, scale, attributes)
    if source not in integer_types():
        raise UnsupportedNode(f"DequantizeLinear of {_type_name(source)}: refq dequantizes integers and the "
                              f"float formats {', '.join(FLOAT_TARGETS)}")
    zero_point = None if zero_point is None else _container(zero_point)
    y, _ = run_operation("dequantize_linear", {"q": _container(q), "scale": scale, "zero_point": zero_point},
                         {**layout, "dtype": integer_types()[source]}, profile)
    return [y]


def _layout(x: np.ndarray, scale: np.ndarray, attributes: dict) -> dict:
    """ONNX's granularity rule: a one-element scale is per tensor, a 1-D one per axis (``axis``,
    default 1), one of ``x``'s rank blocked by ``block_size``."""
    block_size = attributes.get("block_size", 0)
    if _per_tensor(scale) and not block_size:
        return {"axis": None, "block_size": None}
    axis = attributes.get("axis", 1)
    return {"axis": axis, "block_size": block_size or None}


def _cast(node, inputs, attributes, profile):
    """Cast between binary float formats (NUM-3.18, NUM-3.19): the source patterns decoded exactly,
    then encoded once into the target under the profile's ``cast`` variants (NUM-3.20 to NUM-3.23);
    ``saturate`` only where ONNX applies it, ``round_mode`` (default ``up``) only into E8M0."""
    from onnx import TensorProto, helper

    from refq.numbers.floats import decode_array
    from refq.numbers.floats.cast import cast
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME, cast_values

    (x,) = inputs
    source, target = _element_type(x), attributes["to"]
    if source not in float_types() or target not in float_types():
        names = ", ".join(_type_name(code) for code in float_types())
        raise UnsupportedNode(f"Cast from {_type_name(source)} to {_type_name(target)}: "
                              f"refq casts between the float formats {names}")
    if float_types()[source] is None:
        values = x
    else:
        values = decode_array(x.view(f"uint{8 * x.dtype.itemsize}"), float_types()[source])
    target_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(target))
    if float_types()[target] is None:
        return [values.astype(np.float64)]
    saturate = target in saturating_types() and bool(attributes.get("saturate", 1))
    round_mode = attributes.get("round_mode", "up") if target == TensorProto.FLOAT8E8M0 else "nearest"
    variants = cast_values(EVERY_PROFILE_BY_NAME[profile])
    variants.pop("e8m0_negative")
    patterns = cast(values, float_types()[target], saturate=saturate,
                    round_mode=round_mode.decode() if isinstance(round_mode, bytes) else round_mode, **variants)
    return [patterns.astype(f"uint{8 * target_dtype.itemsize}").view(target_dtype)]


def _dynamic_quantize_linear(node, inputs, attributes, profile):
    from refq.observers.dynamic import DYNAMIC_PROFILES

    # Under the ONNX text itself, the parameters are those of ONNX's reference implementation.
    profile = "onnx-reference" if profile == "onnx" else profile
    if profile not in DYNAMIC_PROFILES:
        raise UnsupportedNode(f"DynamicQuantizeLinear under profile {profile!r}: refq defines it under "
                              + ", ".join(DYNAMIC_PROFILES))
    record, _ = run_operation("dynamic_quantize_linear", {"x": inputs[0]}, {}, profile)
    return [np.asarray(record["y"]), np.asarray(record["y_scale"], np.float32),
            np.asarray(record["y_zero_point"], np.uint8)]


def _record_operation(node, inputs, attributes, profile):
    """An operator whose record's inputs and attributes are ONNX's own (MatMulInteger, ConvInteger,
    QLinearMatMul, QLinearConv, the com.microsoft QLinear operators)."""
    operation = OPERATIONS_BY_OPERATOR[operator_key(node)]
    if operation.sequences:
        raise UnsupportedNode(f"{operator_key(node)}: variadic inputs are not read from graphs yet")
    names = operation.input_names
    declared = {name: kinds for name, kinds in operation.input_types.items()}
    for name, value in zip(names, inputs):
        if value is not None and declared.get(name, "").startswith("int") and value.dtype.kind == "f":
            raise UnsupportedNode(f"{operator_key(node)} of {value.dtype} {name}: refq defines it on integers")
        if value is not None and value.dtype.kind == "f" and value.dtype != np.float32:
            raise UnsupportedNode(f"{operator_key(node)} with {value.dtype} {name}: refq's scales are float32")
    values = dict(zip(names, [None if value is None else _container(value) for value in inputs]))
    values.update({name: None for name in names[len(inputs):]})
    unknown = set(attributes) - set(operation.attributes)
    if unknown:
        raise UnsupportedNode(f"{operator_key(node)}: attributes refq does not define: {', '.join(sorted(unknown))}")
    output, _ = run_operation(operation.name, values, attributes, profile)
    return [np.asarray(output)]


def _moving(node, inputs, attributes, profile):
    from onnx import numpy_helper
    kind = node.op_type
    if kind == "Constant":
        if "value" not in attributes:
            raise UnsupportedNode("Constant without a tensor value")
        return [numpy_helper.to_array(attributes["value"])]
    x = inputs[0]
    if kind == "Identity":
        return [x]
    if kind == "Reshape":
        shape = [x.shape[i] if size == 0 and not attributes.get("allowzero", 0) else size
                 for i, size in enumerate(inputs[1].tolist())]
        return [x.reshape(shape)]
    if kind == "Transpose":
        return [np.transpose(x, attributes.get("perm"))]
    if kind == "Flatten":
        axis = attributes.get("axis", 1) % (x.ndim or 1) if x.ndim else 0
        return [x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)]
    axes = inputs[1].tolist() if len(inputs) > 1 and inputs[1] is not None else attributes.get("axes")
    if kind == "Squeeze":
        return [np.squeeze(x, axis=None if axes is None else tuple(axes))]
    return [np.expand_dims(x, tuple(axes))]


HANDLERS = {"QuantizeLinear": _quantize_linear, "DequantizeLinear": _dequantize_linear, "Cast": _cast,
            "DynamicQuantizeLinear": _dynamic_quantize_linear,
            **{name: _moving for name in MOVING_OPERATORS}}


def run_node(node: onnx.NodeProto, inputs: list, profile: str = "onnx") -> list[np.ndarray]:
    """The outputs of one node, computed by refq under ``profile``."""
    key = operator_key(node)
    handler = HANDLERS.get(key) or (_record_operation if key in OPERATIONS_BY_OPERATOR else None)
    if handler is None:
        raise UnsupportedNode(f"{key}: not an operator refq defines")
    return handler(node, inputs, _attributes(node), profile)


@cache
def _backend_classes() -> tuple[type, type]:
    """The backend and its prepared graph, subclasses of onnx's: built on first use, so that
    importing this module needs no onnx."""
    import onnx
    from onnx import numpy_helper
    from onnx.backend.base import Backend, BackendRep

    @dataclass
    class RefqOnnxRep(BackendRep):
        """A prepared graph: its nodes in order, its initializers, and the profile that answers them."""

        model: onnx.ModelProto
        profile: str

        def run_all(self, inputs, **kwargs) -> dict[str, np.ndarray]:
            """Every value of the graph after a run: the inputs, the initializers and each node's outputs, by name."""
            graph = self.model.graph
            initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
            feeds = [value.name for value in graph.input if value.name not in initializers]
            if isinstance(inputs, dict):
                given = dict(inputs)
            else:
                given = dict(zip(feeds, inputs))
                if len(inputs) != len(feeds):
                    raise invalid("inputs", f"{len(feeds)} arrays, for {', '.join(feeds)}", len(inputs))
            values = {**initializers, **{name: np.asarray(value) for name, value in given.items()}, "": None}
            for node in graph.node:
                missing = [name for name in node.input if name not in values]
                if missing:
                    raise invalid("model", f"nodes in topological order (node {node.name or node.op_type} reads "
                                           f"{', '.join(missing)} before any node writes it)", "out of order")
                outputs = run_node(node, [values[name] for name in node.input], self.profile)
                values.update(zip(node.output, outputs))
            values.pop("")
            return values

        def run(self, inputs, **kwargs) -> tuple[np.ndarray, ...]:
            values = self.run_all(inputs, **kwargs)
            return tuple(values[output.name] for output in self.model.graph.output)


    class RefqOnnxBackend(Backend):
        """refq behind ONNX's backend interface: ``RefqOnnxBackend.run_model(model, inputs, profile="onnx")``."""

        @classmethod
        def is_compatible(cls, model, device: str = "CPU", **kwargs) -> bool:
            return all(operator_key(node) in HANDLERS or operator_key(node) in OPERATIONS_BY_OPERATOR
                       for node in model.graph.node)

        @classmethod
        def prepare(cls, model, device: str = "CPU", profile: str = "onnx", **kwargs) -> RefqOnnxRep:
            from refq.registry.profiles import PROFILES_BY_NAME

            if not isinstance(model, onnx.ModelProto):
                raise invalid("model", "an onnx.ModelProto", type(model).__name__)
            if profile not in PROFILES_BY_NAME:
                raise invalid("profile", "a profile name: " + ", ".join(sorted(PROFILES_BY_NAME)), profile)
            return RefqOnnxRep(model, profile)

        @classmethod
        def run_model(cls, model, inputs, device: str = "CPU", profile: str = "onnx", **kwargs):
            return cls.prepare(model, device, profile=profile).run(inputs)

        @classmethod
        def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, profile: str = "onnx", **kwargs):
            return tuple(run_node(node, list(inputs), profile))

        @classmethod
        def supports_device(cls, device: str) -> bool:
            return device == "CPU"

    return RefqOnnxBackend, RefqOnnxRep


def __getattr__(name: str):
    if name in ("RefqOnnxBackend", "RefqOnnxRep"):
        backend, rep = _backend_classes()
        return backend if name == "RefqOnnxBackend" else rep
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- QDQ models ---------------------------------------------------------------------------------------------

#: The float operators a QDQ group may hold, and the integer operator the group runs as.
QDQ_GROUPS = {"MatMul": "QLinearMatMul", "Conv": "QLinearConv"}


def fuse_qdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every QDQ group run as the integer operator it stands for (the rewrite ONNX
    Runtime's QDQ transformers and quantization tools make): ``DequantizeLinear`` of each operand, a float ``MatMul`` or ``Conv``, then one
    ``QuantizeLinear`` of its result become one ``QLinearMatMul`` or ``QLinearConv`` (a Conv's int32
    bias is the DequantizeLinear's input). A float operator outside such a group stays, and refq
    refuses it when run. The DequantizeLinear nodes left without a reader are dropped."""
    import onnx
    from onnx import helper

    graph = model.graph
    producers = {name: node for node in graph.node for name in node.output}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    graph_outputs = {output.name for output in graph.output}
    replaced, fused = set(), {}
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in QDQ_GROUPS:
            continue
        operands = [producers.get(name) for name in node.input]
        result_readers = readers.get(node.output[0], [])
        if len(result_readers) != 1 or node.output[0] in graph_outputs:
            continue
        quantize = result_readers[0]
        if quantize.op_type != "QuantizeLinear" or len(quantize.input) < 3 or len(operands) < 2:
            continue
        if not all(operand is not None and operand.op_type == "DequantizeLinear" and len(operand.input) == 3
                   for operand in operands):
            continue
        inputs = [*operands[0].input, *operands[1].input, quantize.input[1], quantize.input[2]]
        if len(operands) == 3:
            inputs.append(operands[2].input[0])
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        fused[id(quantize)] = helper.make_node(QDQ_GROUPS[node.op_type], inputs, list(quantize.output),
                                               name=quantize.name or node.name, **attributes)
        replaced |= {id(node), id(quantize)}
    kept = [fused.get(id(node), node) for node in graph.node if id(node) not in replaced or id(node) in fused]
    read = {name for node in kept for name in node.input} | graph_outputs
    kept = [node for node in kept if node.op_type != "DequantizeLinear" or any(name in read for name in node.output)]
    result = onnx.ModelProto()
    result.CopyFrom(model)
    del result.graph.node[:]
    result.graph.node.extend(kept)
    return result


# --- a whole model beside another engine -----------------------------------------------------------------


def run_onnxruntime_all(model: onnx.ModelProto, inputs: dict[str, np.ndarray],
                        exposed_from: onnx.ModelProto | None = None) -> dict[str, np.ndarray]:
    """Every node output of ``model`` as ONNX Runtime computes it (graph optimisations off, one thread),
    by name: each node output of ``exposed_from`` (default ``model``; for a QDQ model, its
    :func:`fuse_qdq` form, whose tensors both runs have) is made a graph output. ONNX Runtime runs a
    QDQ group's float operator as written: ONNX Runtime 1.32's CPU session kept the float Conv and
    MatMul of such groups even at its highest optimisation level, so a group's output may differ by
    the float arithmetic."""
    import onnx

    import onnxruntime

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    declared = {output.name for output in exposed.graph.output}
    for node in (exposed_from or model).graph.node:
        for name in node.output:
            if name and name not in declared:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


@dataclass
class Difference:
    """The first node output, in graph order, on which two runs differ."""

    node: onnx.NodeProto
    output: str
    count: int
    size: int
    index: tuple[int, ...]
    first: object
    second: object
    #: The inputs of the node, as the first run computed them (what a trace of the element needs).
    inputs: list


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" and b.dtype.kind == "f" and a.dtype == b.dtype:
        return a.view(f"uint{8 * a.dtype.itemsize}") == b.view(f"uint{8 * b.dtype.itemsize}")
    return a.astype(np.float64) == b.astype(np.float64) if a.dtype != b.dtype else a == b


def first_difference(model: onnx.ModelProto, first: dict, second: dict) -> Difference | None:
    """Walk the nodes in order and return the first output the two runs give different bits for
    (None when every node output agrees)."""
    for node in model.graph.node:
        for name in node.output:
            if not name or name not in first or name not in second:
                continue
            a, b = np.asarray(first[name]), np.asarray(second[name])
            if a.shape != b.shape:
                return Difference(node, name, a.size, a.size, (), a.shape, b.shape,
                                  [first.get(i) for i in node.input])
            equal = _same_bits(a, b)
            if not equal.all():
                index = tuple(int(i) for i in np.argwhere(~equal)[0])
                return Difference(node, name, int((~equal).sum()), a.size, index, a[index].item(), b[index].item(),
                                  [first.get(i) for i in node.input])
    return None
