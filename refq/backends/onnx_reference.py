"""The ONNX Python reference implementation (``onnx.reference.ReferenceEvaluator``).

``pack_codes`` and ``unpack_codes`` (BLK-10) are the raw data of ONNX's INT4, UINT4, INT2 and UINT2 tensors,
written by ``onnx.numpy_helper.from_array`` and read by ``to_array``: int8 codes as the signed type, uint8 codes
as the unsigned one, the whole array one stream.
"""

from __future__ import annotations

import warnings

import numpy as np

from refq.backends.arguments import Call, dequantize_call, quantize_call, require
from refq.backends.integer_methods import IntegerOperations
from refq.backends.onnx_model import QUANTIZE_TYPES, build_model, element_type

DTYPES = QUANTIZE_TYPES
DEQUANTIZE_DTYPES = QUANTIZE_TYPES + ("int32",)
GRANULARITIES = ("per_tensor", "per_axis", "blocked")
#: refq format -> onnx.TensorProto type name: the float targets of Cast-25 narrower than float32.
CAST_TARGETS = {
    "float16": "FLOAT16", "bfloat16": "BFLOAT16", "float8_e4m3fn": "FLOAT8E4M3FN", "float8_e4m3fnuz": "FLOAT8E4M3FNUZ",
    "float8_e5m2": "FLOAT8E5M2", "float8_e5m2fnuz": "FLOAT8E5M2FNUZ", "float8_e8m0fnu": "FLOAT8E8M0",
    "float4_e2m1fn": "FLOAT4E2M1",
}
#: refq format -> onnx.TensorProto type name: AFF-6's quantized float types (QuantizeLinear-25 has them all).
FLOAT_TARGETS = {**{name: CAST_TARGETS[name] for name in CAST_TARGETS if name.startswith(("float8_e4", "float8_e5"))},
                 "float6_e2m3fn": "FLOAT6E2M3", "float6_e3m2fn": "FLOAT6E3M2", "float4_e2m1fn": "FLOAT4E2M1"}
#: QuantizeLinear-25 and DequantizeLinear-25: the first with every AFF-6 type.
FLOAT_TARGET_OPSET = 25


#: ONNX's packed integer types by number of bits: (signed, unsigned) names of ml_dtypes and of TensorProto.
PACKED_TYPES = {4: (("int4", "INT4"), ("uint4", "UINT4")), 2: (("int2", "INT2"), ("uint2", "UINT2"))}


class OnnxReferenceBackend(IntegerOperations):
    """The models of :class:`refq.backends.onnxruntime.OnnxRuntimeBackend`, evaluated by onnx's reference evaluator."""

    name = "onnx-reference"
    profile = "onnx-reference"
    max_evaluators = 256

    def __init__(self) -> None:
        import onnx

        self.version = onnx.__version__
        self._evaluators: dict[tuple, object] = {}

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """``QuantizeLinear(x, scale, zero_point)``; integers in the smallest numpy type holding ``dtype``."""
        call = quantize_call(x, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=DTYPES, granularities=GRANULARITIES, backend=self.name, operation="quantize_linear")
        result = self._run("QuantizeLinear", call, call.values)
        return np.asarray(result).astype(call.target.container).reshape(call.values.shape)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        """``DequantizeLinear(q, scale, zero_point)`` as float32."""
        call = dequantize_call(q, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=DEQUANTIZE_DTYPES, granularities=GRANULARITIES, backend=self.name,
                operation="dequantize_linear")
        result = self._run("DequantizeLinear", call, self._typed(call.values, call.dtype))
        return np.asarray(result, dtype=np.float32).reshape(call.values.shape)

    def pack_codes(self, codes, *, bits=4) -> np.ndarray:
        """``numpy_helper.from_array`` of ``codes`` as INT4/INT2 (int8 codes) or UINT4/UINT2 (uint8): its raw data."""
        import ml_dtypes
        from onnx import numpy_helper

        from refq.backends.packing_arguments import check_bits

        width = check_bits(bits, tuple(PACKED_TYPES), self.name)
        array = np.asarray(codes)
        (signed_type, _), (unsigned_type, _) = PACKED_TYPES[width]
        typed = array.astype(getattr(ml_dtypes, signed_type if array.dtype.kind == "i" else unsigned_type))
        return np.frombuffer(numpy_helper.from_array(typed).raw_data, np.uint8).copy()

    def unpack_codes(self, packed, *, bits=4, length=None, signed=None) -> np.ndarray:
        """``numpy_helper.to_array`` of a one-dimensional INT4/INT2 (signed) or UINT4/UINT2 tensor whose raw data
        is ``packed``."""
        from onnx import TensorProto, numpy_helper

        from refq.backends.packing_arguments import check_bits

        width = check_bits(bits, tuple(PACKED_TYPES), self.name)
        data = np.ascontiguousarray(np.asarray(packed))
        count = data.size * 8 // width if length is None else int(length)
        _, type_name = PACKED_TYPES[width][0 if signed else 1]
        tensor = TensorProto(data_type=getattr(TensorProto, type_name), dims=[count], raw_data=data.tobytes())
        return numpy_helper.to_array(tensor).astype(np.int8 if signed else np.uint8)

    def cast(self, x, *, to="float8_e4m3fn", saturate=False, round_mode="nearest") -> np.ndarray:
        """``Cast(x, to, saturate[, round_mode])`` from float32 (Cast-25), as the bit patterns of ``to``."""
        from onnx import TensorProto, helper
        from onnx.reference import ReferenceEvaluator

        from refq.backends.onnx_cast_model import E8M0_IR_VERSION, E8M0_OPSET
        from refq.errors import wrong_type

        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise wrong_type("x", "a float32 numpy array", x)
        if not isinstance(saturate, (bool, np.bool_)):
            raise wrong_type("saturate", "True or False", saturate)
        target = CAST_TARGETS.get(to)
        if target is None:
            raise NotImplementedError(f"{self.name}: Cast to {to} (ONNX's float types: {', '.join(CAST_TARGETS)})")
        if round_mode not in ("nearest", "up", "down") or (round_mode != "nearest" and to != "float8_e8m0fnu"):
            raise NotImplementedError(f"{self.name}: round_mode={round_mode!r} on a Cast to {to}")
        if saturate and to in ("float16", "bfloat16"):
            # ONNX applies saturate to the float8 types only; the reference ignores it elsewhere.
            raise NotImplementedError(f"{self.name}: saturate=True on a Cast to {to}")
        key = ("Cast", to, bool(saturate), round_mode)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            attributes = {"saturate": int(saturate)}
            if to == "float8_e8m0fnu":
                attributes["round_mode"] = round_mode
            code = getattr(TensorProto, target)
            node = helper.make_node("Cast", ["x"], ["y"], to=code, **attributes)
            graph = helper.make_graph([node], "refq_cast", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                                      [helper.make_tensor_value_info("y", code, None)])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", E8M0_OPSET)],
                                      ir_version=E8M0_IR_VERSION)
            evaluator = self._evaluators[key] = ReferenceEvaluator(model)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            (y,) = evaluator.run(None, {"x": np.ascontiguousarray(x)})
        y = np.asarray(y)
        return y.view(f"uint{8 * y.dtype.itemsize}").reshape(x.shape)

    def quantize_linear_float(self, x, scale, zero_point=None, *, to="float8_e4m3fn", axis=None, block_size=None,
                              saturate=True, scale_type="float32") -> np.ndarray:
        """``QuantizeLinear`` to a float type (AFF-6.2), its output read back as uint8 patterns; the scale fed
        as ``scale_type`` (float32, or E8M0: AFF-6.5)."""
        from refq.errors import wrong_type

        if not isinstance(saturate, (bool, np.bool_)):
            raise wrong_type("saturate", "True or False", saturate)
        shape = np.shape(x)  # before the conversion, which makes a 0-d input 1-d
        x, scale, zero_point, code = self._float_arguments(x, scale, zero_point, to, "quantize_linear_float",
                                                           scale_type)
        attributes = {"saturate": int(saturate), **self._float_layout(scale, axis, block_size)}
        if zero_point is None:
            attributes["output_dtype"] = code
        y = self._run_float("QuantizeLinear", code, attributes, {"x": x, "scale": scale, "zero_point": zero_point},
                            output=code)
        return np.asarray(y).view(np.uint8).reshape(shape)

    def dequantize_linear_float(self, q, scale, zero_point=None, *, dtype="float8_e4m3fn", axis=None,
                                block_size=None, scale_type="float32") -> np.ndarray:
        """``DequantizeLinear`` from a float type (AFF-6.4), the patterns fed as that type and the scale as
        ``scale_type``; the output float32 (``output_dtype``, which an E8M0 scale needs: the output type is
        the scale's by default)."""
        from onnx import TensorProto

        from refq.errors import wrong_type

        if not isinstance(q, np.ndarray) or q.dtype != np.uint8:
            raise wrong_type("q", f"uint8 patterns of {dtype}", q)
        shape = np.shape(q)
        q, scale, zero_point, code = self._float_arguments(q, scale, zero_point, dtype, "dequantize_linear_float",
                                                           scale_type)
        attributes = self._float_layout(scale, axis, block_size)
        if scale_type != "float32":
            attributes["output_dtype"] = TensorProto.FLOAT
        y = self._run_float("DequantizeLinear", code, attributes,
                            {"x": q, "scale": scale, "zero_point": zero_point}, output=None)
        return np.asarray(y, np.float32).reshape(shape)

    @staticmethod
    def _float_arguments(values, scale, zero_point, to, operation, scale_type):
        """The inputs as onnx feeds them: patterns viewed as ml_dtypes' type of ``to``, the scale float32 or, under
        ``scale_type = float8_e8m0fnu``, E8M0 (refq's check of AFF-6.5 first: onnx would round any other)."""
        import ml_dtypes
        from onnx import TensorProto, helper

        from refq.affine.float_targets import typed_scales

        name = FLOAT_TARGETS.get(to)
        if name is None:
            raise NotImplementedError(f"onnx-reference: {operation} with {to}")
        code = getattr(TensorProto, name)
        numpy_type = helper.tensor_dtype_to_np_dtype(code)
        values = np.ascontiguousarray(values)
        if values.dtype == np.uint8:
            values = values.view(numpy_type)
        scale = np.ascontiguousarray(typed_scales(scale, scale_type))
        if scale_type == "float8_e8m0fnu":
            scale = scale.astype(ml_dtypes.float8_e8m0fnu)
        if zero_point is not None:
            zero_point = np.ascontiguousarray(np.broadcast_to(np.asarray(zero_point, np.uint8), scale.shape)
                                              ).view(numpy_type)
        return values, scale, zero_point, code

    @staticmethod
    def _float_layout(scale: np.ndarray, axis, block_size) -> dict:
        if block_size:
            return {"axis": int(axis), "block_size": int(block_size)}
        return {} if axis is None else {"axis": int(axis)}

    def _run_float(self, operation: str, code: int, attributes: dict, feeds: dict, output):
        from onnx import TensorProto, helper
        from onnx.reference import ReferenceEvaluator

        from refq.backends.onnx_cast_model import E8M0_IR_VERSION

        names = ["x", "scale"] + (["zero_point"] if feeds["zero_point"] is not None else [])
        e8m0 = feeds["scale"].dtype != np.float32
        key = (operation, code, tuple(sorted(attributes.items())), tuple(names), e8m0)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            node = helper.make_node(operation, names, ["y"], **attributes)
            input_code = TensorProto.FLOAT if operation == "QuantizeLinear" else code
            inputs = [helper.make_tensor_value_info("x", input_code, None),
                      helper.make_tensor_value_info("scale", TensorProto.FLOAT8E8M0 if e8m0 else TensorProto.FLOAT,
                                                    None)]
            if "zero_point" in names:
                inputs.append(helper.make_tensor_value_info("zero_point", code, None))
            outputs = [helper.make_tensor_value_info("y", output or TensorProto.FLOAT, None)]
            model = helper.make_model(helper.make_graph([node], "refq_float_target", inputs, outputs),
                                      opset_imports=[helper.make_opsetid("", FLOAT_TARGET_OPSET)],
                                      ir_version=E8M0_IR_VERSION)
            evaluator = self._evaluators[key] = ReferenceEvaluator(model)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            (y,) = evaluator.run(None, {name: feeds[name] for name in names})
        return y

    def dynamic_quantize_linear(self, x) -> np.ndarray:
        """``DynamicQuantizeLinear(x)``: the record ``(y, y_scale, y_zero_point)``."""
        from refq.backends.onnx_model import build_dynamic_model, dynamic_input
        from refq.backends.records import record

        values = dynamic_input(x)
        key = ("DynamicQuantizeLinear", values.shape)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            from onnx.reference import ReferenceEvaluator

            if len(self._evaluators) >= self.max_evaluators:
                self._evaluators.clear()
            evaluator = ReferenceEvaluator(build_dynamic_model(values.shape))
            self._evaluators[key] = evaluator
        # NaN and infinite quotients are cast to uint8 and numpy warns about it.
        with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            y, scale, zero_point = evaluator.run(None, {"x": values})
        return record(y=np.asarray(y, np.uint8).reshape(values.shape), y_scale=np.float32(scale),
                      y_zero_point=np.uint8(zero_point))


    def _run_integer(self, op: str, inputs: tuple, attributes: dict) -> np.ndarray:
        from refq.backends.integer_models import build_integer_model, check_arguments, feeds, model_key

        inputs = check_arguments(op, inputs, attributes)
        key = model_key(op, inputs, attributes)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            from onnx.reference import ReferenceEvaluator

            if len(self._evaluators) >= self.max_evaluators:
                self._evaluators.clear()
            evaluator = ReferenceEvaluator(build_integer_model(op, inputs, attributes))
            self._evaluators[key] = evaluator
        # int32 accumulations that overflow wrap in numpy, which may warn.
        with warnings.catch_warnings(), np.errstate(over="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            (result,) = evaluator.run(None, feeds(op, inputs))
        return np.asarray(result)

    @staticmethod
    def _typed(array: np.ndarray, dtype: str) -> np.ndarray:
        """``array`` in the numpy type onnx uses for ``dtype`` (ml_dtypes' int4, uint4, int2, uint2)."""
        from onnx import helper

        return array.astype(helper.tensor_dtype_to_np_dtype(element_type(dtype)))

    def _run(self, operation: str, call: Call, x: np.ndarray):
        key = (operation, call.dtype, call.values.shape, call.scale.shape, call.axis, call.block_size)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            from onnx.reference import ReferenceEvaluator

            if len(self._evaluators) >= self.max_evaluators:
                self._evaluators.clear()
            evaluator = ReferenceEvaluator(build_model(operation, call.dtype, call.values.shape, call.scale.shape,
                                                       call.axis, call.block_size))
            self._evaluators[key] = evaluator
        feeds = {"x": x, "scale": call.scale, "zero_point": self._typed(call.zero_point, call.dtype)}
        # The reference casts NaN, infinities and huge values to int32 and numpy warns about it.
        with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            (result,) = evaluator.run(None, feeds)
        return result
