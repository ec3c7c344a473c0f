"""ONNX Runtime's QuantizeLinear and DequantizeLinear on the CPU execution provider."""

from __future__ import annotations

import ctypes

import numpy as np

from refq.backends.arguments import Call, contiguous, dequantize_call, quantize_call, require
from refq.backends.integer_methods import IntegerOperations
from refq.backends.onnx_model import QUANTIZE_TYPES, PACKED_BITS, build_model, element_type, pack, unpack
from refq.backends.onnx_contrib_model import cpu_session

#: What ONNX Runtime's CPU provider computes; every other refq dtype raises NotImplementedError.
DTYPES = QUANTIZE_TYPES
DEQUANTIZE_DTYPES = QUANTIZE_TYPES + ("int32",)
GRANULARITIES = ("per_tensor", "per_axis", "blocked")


class OnnxRuntimeBackend(IntegerOperations):
    """ONNX Runtime, one single-node model per operation, dtype, shape and granularity.

    Sessions run single-threaded on ``CPUExecutionProvider`` and are cached, so
    repeated calls with other values, scales or zero points cost one ``run``.
    """

    name = "onnxruntime"
    profile = "onnxruntime"
    #: Sessions kept at most; the cache is emptied when it is full.
    max_sessions = 256

    def __init__(self) -> None:
        import onnxruntime

        self._ort = onnxruntime
        self.version = onnxruntime.__version__
        self._sessions: dict[tuple, object] = {}

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8") -> np.ndarray:
        """``QuantizeLinear(x, scale, zero_point)``; integers in the smallest numpy type holding ``dtype``."""
        call = quantize_call(x, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=DTYPES, granularities=GRANULARITIES, backend=self.name, operation="quantize_linear")
        return self._run("QuantizeLinear", call)

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None,
                          dtype="int8") -> np.ndarray:
        """``DequantizeLinear(q, scale, zero_point)`` as float32."""
        call = dequantize_call(q, scale, zero_point, axis, block_size, dtype)
        require(call, dtypes=DEQUANTIZE_DTYPES, granularities=GRANULARITIES, backend=self.name,
                operation="dequantize_linear")
        return self._run("DequantizeLinear", call)

    def cast(self, x, *, to="float8_e4m3fn", saturate=False, round_mode="nearest") -> np.ndarray:
        """``Cast(x, to, saturate[, round_mode])`` from float32, as the bit patterns of ``to`` (uint8 or uint16);
        ``round_mode`` only into E8M0, as ONNX defines it."""
        from refq.backends.onnx_cast_model import CAST_TARGETS, build_cast_model, read_patterns
        from refq.errors import wrong_type

        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise wrong_type("x", "a float32 numpy array", x)
        if not isinstance(saturate, (bool, np.bool_)):
            raise wrong_type("saturate", "True or False", saturate)
        if to not in CAST_TARGETS:
            raise NotImplementedError(f"{self.name}: Cast to {to} (its CPU provider casts to "
                                      f"{', '.join(CAST_TARGETS)})")
        if saturate and not to.startswith("float8"):
            raise NotImplementedError(f"{self.name}: saturate=True on a Cast to {to} (ONNX defines the attribute "
                                      "for the float8 types only, and ONNX Runtime refuses it elsewhere)")
        if round_mode not in ("nearest", "up", "down") or (round_mode != "nearest" and to != "float8_e8m0fnu"):
            raise NotImplementedError(f"{self.name}: round_mode={round_mode!r} on a Cast to {to} (ONNX defines "
                                      "'nearest', 'up' and 'down' for float8_e8m0fnu only)")
        # Unoptimized: a cast chain must not be merged into one cast to float16.
        session = self._cached_session(("Cast", to, bool(saturate), round_mode),
                                       lambda: build_cast_model(to, bool(saturate), round_mode), optimize=False)
        (y,) = session.run(None, {"x": np.ascontiguousarray(x)})
        return read_patterns(y, to).reshape(x.shape)

    def quantize_linear_float(self, x, scale, zero_point=None, *, to="float8_e4m3fn", axis=None, block_size=None,
                              saturate=True, scale_type="float32") -> np.ndarray:
        """``QuantizeLinear`` to a float8 type (AFF-6.2), as uint8 patterns."""
        from refq.backends.onnx_cast_model import build_float_quantize_model, read_patterns

        self._float32_scales(scale_type, "QuantizeLinear")
        shape = np.shape(x)  # before the conversion, which makes a 0-d input 1-d
        x, scale, zero_point = self._float_arguments(x, scale, zero_point, to, "quantize_linear_float")
        key = ("QuantizeLinearFloat", to, bool(saturate), zero_point, scale.shape, axis, block_size)
        session = self._cached_session(key, lambda: build_float_quantize_model(
            to, bool(saturate), zero_point, scale.shape, axis, block_size), optimize=False)
        (y,) = session.run(None, {"x": x, "scale": scale})
        return read_patterns(y, to).reshape(shape).astype(np.uint8)

    def dequantize_linear_float(self, q, scale, zero_point=None, *, dtype="float8_e4m3fn", axis=None,
                                block_size=None, scale_type="float32") -> np.ndarray:
        """``DequantizeLinear`` from a float8 type (AFF-6.4), fed as its float16 values."""
        from refq.backends.onnx_cast_model import build_float_dequantize_model
        from refq.numbers.floats import decode_array

        self._float32_scales(scale_type, "DequantizeLinear")
        shape = np.shape(q)
        q, scale, zero_point = self._float_arguments(q, scale, zero_point, dtype, "dequantize_linear_float")
        key = ("DequantizeLinearFloat", dtype, zero_point, scale.shape, axis, block_size)
        session = self._cached_session(key, lambda: build_float_dequantize_model(
            dtype, zero_point, scale.shape, axis, block_size), optimize=False)
        (y,) = session.run(None, {"q": decode_array(q, dtype).astype(np.float16), "scale": scale})
        return np.asarray(y, np.float32).reshape(shape)

    def _float32_scales(self, scale_type, operator: str) -> None:
        if scale_type != "float32":
            # Measured: a FLOAT8E8M0 scale makes session creation fail with NOT_IMPLEMENTED (no CPU kernel).
            raise NotImplementedError(f"{self.name}: {operator} with a {scale_type} scale (its CPU provider has no "
                                      "kernel for it)")

    def _float_arguments(self, values, scale, zero_point, to, operation):
        from refq.backends.onnx_cast_model import CAST_TARGETS

        if to not in CAST_TARGETS or not to.startswith("float8"):
            raise NotImplementedError(f"{self.name}: {operation} to {to} (its CPU provider has the float8 types)")
        scale = np.ascontiguousarray(scale, dtype=np.float32)
        if zero_point is not None:
            zero_point = np.broadcast_to(np.asarray(zero_point, np.uint8), scale.shape).tobytes()
        return np.ascontiguousarray(values), scale, zero_point

    def dynamic_quantize_linear(self, x) -> np.ndarray:
        """``DynamicQuantizeLinear(x)``: the record ``(y, y_scale, y_zero_point)``."""
        from refq.backends.onnx_model import build_dynamic_model, dynamic_input
        from refq.backends.records import record

        values = dynamic_input(x)
        session = self._cached_session(("DynamicQuantizeLinear", values.shape),
                                       lambda: build_dynamic_model(values.shape))
        y, scale, zero_point = session.run(None, {"x": values})
        return record(y=np.asarray(y, np.uint8).reshape(values.shape), y_scale=np.float32(scale),
                      y_zero_point=np.uint8(zero_point))

    # --- calibrators (OBS-4): ONNX Runtime's own numpy code, onnxruntime.quantization.calibrate ---
    def calibrate_percentile(self, batches, *, num_bins=2048, percentile=99.999, symmetric=False) -> np.ndarray:
        """``HistogramCollector("percentile", ...)``: the record ``(lowest, highest, hist, hist_edges)``."""
        return self._calibrate("percentile", batches, symmetric=symmetric, num_bins=num_bins,
                               num_quantized_bins=128, percentile=percentile)

    def calibrate_entropy(self, batches, *, num_bins=128, num_quantized_bins=128) -> np.ndarray:
        """``HistogramCollector("entropy", ...)``: the record ``(lowest, highest, hist, hist_edges)``."""
        return self._calibrate("entropy", batches, symmetric=False, num_bins=num_bins,
                               num_quantized_bins=num_quantized_bins, percentile=99.999)

    def _calibrate(self, method, batches, **options) -> np.ndarray:
        import contextlib
        import io
        import warnings

        from onnxruntime.quantization.calibrate import HistogramCollector

        from refq.backends.records import record

        collector = HistogramCollector(method=method, scenario="same", **options)
        # The collector prints progress and numpy warns on NaN; neither is part of the answer.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for batch in batches:
                collector.collect({"tensor": batch})
            lowest, highest = collector.compute_collection_result()["tensor"][:2]
        # The result's other entries differ by method (percentile gives the first two counts), so
        # the histogram is read from the collector's state.
        hist, hist_edges = collector.histogram_dict["tensor"][:2]
        return record(lowest=np.asarray(lowest), highest=np.asarray(highest), hist=np.asarray(hist),
                      hist_edges=np.asarray(hist_edges))


    # --- elementwise, pooling and table operations (ELT) ---
    def qlinear_add(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None) -> np.ndarray:
        """``com.microsoft.QLinearAdd``: the type of ``A``, the broadcast shape."""
        return self._run_binary("QLinearAdd", A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
                                C_zero_point)

    def qlinear_mul(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None) -> np.ndarray:
        """``com.microsoft.QLinearMul``: the type of ``A``, the broadcast shape."""
        return self._run_binary("QLinearMul", A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
                                C_zero_point)

    def qlinear_sigmoid(self, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None) -> np.ndarray:
        """``com.microsoft.QLinearSigmoid``."""
        return self._run_lookup("QLinearSigmoid", X, X_scale, X_zero_point, Y_scale, Y_zero_point, {})

    def qlinear_leaky_relu(self, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, alpha=0.01) -> np.ndarray:
        """``com.microsoft.QLinearLeakyRelu``."""
        return self._run_lookup("QLinearLeakyRelu", X, X_scale, X_zero_point, Y_scale, Y_zero_point,
                                {"alpha": float(alpha)})

    def qlinear_global_average_pool(self, X, x_scale, x_zero_point, y_scale, y_zero_point=None, *,
                                    channels_last=0) -> np.ndarray:
        """``com.microsoft.QLinearGlobalAveragePool`` (NCHW, or NHWC with ``channels_last=1``)."""
        from refq.backends.onnx_contrib_model import scalar

        x = np.asarray(X)
        inputs = [("X", x), ("x_scale", scalar(x_scale, np.float32)), ("x_zero_point", scalar(x_zero_point, x.dtype)),
                  ("y_scale", scalar(y_scale, np.float32)), ("y_zero_point", scalar(y_zero_point, x.dtype))]
        return self._run_node("QLinearGlobalAveragePool", inputs, x.dtype, {"channels_last": int(channels_last)})

    def max_pool(self, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None,
                 storage_order=0, strides=None) -> np.ndarray:
        """``MaxPool`` (opset 21) on int8 or uint8 NCHW input."""
        x = np.asarray(X)
        attributes = {"auto_pad": auto_pad, "ceil_mode": int(ceil_mode), "dilations": dilations,
                      "kernel_shape": kernel_shape, "pads": pads, "storage_order": int(storage_order),
                      "strides": strides}
        return self._run_node("MaxPool", [("X", x)], x.dtype, attributes, domain="")

    def qlinear_average_pool(self, X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, auto_pad="NOTSET",
                             ceil_mode=0, channels_last=0, count_include_pad=0, kernel_shape=None, pads=None,
                             strides=None) -> np.ndarray:
        """``com.microsoft.QLinearAveragePool`` (NCHW, or NHWC with ``channels_last=1``)."""
        from refq.backends.onnx_contrib_model import scalar

        x = np.asarray(X)
        inputs = [("X", x), ("x_scale", scalar(x_scale, np.float32)), ("x_zero_point", scalar(x_zero_point, x.dtype)),
                  ("y_scale", scalar(y_scale, np.float32)), ("y_zero_point", scalar(y_zero_point, x.dtype))]
        attributes = {"auto_pad": auto_pad, "ceil_mode": int(ceil_mode), "channels_last": int(channels_last),
                      "count_include_pad": int(count_include_pad), "kernel_shape": kernel_shape, "pads": pads,
                      "strides": strides}
        return self._run_node("QLinearAveragePool", inputs, x.dtype, attributes)

    def qlinear_concat(self, Y_scale, Y_zero_point, inputs, *, axis) -> np.ndarray:
        """``com.microsoft.QLinearConcat``; ``inputs`` is a sequence of ``(X, X_scale, X_zero_point)``."""
        from refq.backends.onnx_contrib_model import scalar

        dtype = np.asarray(Y_zero_point).dtype
        node_inputs = [("Y_scale", scalar(Y_scale, np.float32)), ("Y_zero_point", scalar(Y_zero_point, dtype))]
        for index, (values, scale, zero_point) in enumerate(inputs):
            node_inputs += [(f"X{index}", np.asarray(values)), (f"X{index}_scale", scalar(scale, np.float32)),
                            (f"X{index}_zero_point", scalar(0 if zero_point is None else zero_point, dtype))]
        return self._run_node("QLinearConcat", node_inputs, dtype, {"axis": int(axis)})

    def qlinear_tanh(self, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None) -> np.ndarray:
        """``DequantizeLinear`` → ``Tanh`` → ``QuantizeLinear`` (ONNX Runtime has no ``QLinearTanh``)."""
        from refq.backends.onnx_contrib_model import build_qdq_model, scalar

        x = np.ascontiguousarray(X)
        session = self._cached_session(("qdq", "Tanh", x.dtype.name, x.shape),
                                       lambda: build_qdq_model("Tanh", x.dtype, x.shape))
        (result,) = session.run(["y"], {"x": x, "x_scale": scalar(X_scale, np.float32),
                                        "x_zero_point": scalar(0 if X_zero_point is None else X_zero_point, x.dtype),
                                        "y_scale": scalar(Y_scale, np.float32),
                                        "y_zero_point": scalar(0 if Y_zero_point is None else Y_zero_point, x.dtype)})
        return result

    def _run_binary(self, op, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point):
        from refq.backends.onnx_contrib_model import scalar

        a, b = np.asarray(A), np.asarray(B)
        inputs = [("A", a), ("A_scale", scalar(A_scale, np.float32)), ("A_zero_point", scalar(A_zero_point, a.dtype)),
                  ("B", b), ("B_scale", scalar(B_scale, np.float32)), ("B_zero_point", scalar(B_zero_point, a.dtype)),
                  ("C_scale", scalar(C_scale, np.float32)), ("C_zero_point", scalar(C_zero_point, a.dtype))]
        return self._run_node(op, inputs, a.dtype, {})

    def _run_lookup(self, op, X, X_scale, X_zero_point, Y_scale, Y_zero_point, attributes):
        from refq.backends.onnx_contrib_model import scalar

        x = np.asarray(X)
        inputs = [("X", x), ("X_scale", scalar(X_scale, np.float32)), ("X_zero_point", scalar(X_zero_point, x.dtype)),
                  ("Y_scale", scalar(Y_scale, np.float32)), ("Y_zero_point", scalar(Y_zero_point, x.dtype))]
        return self._run_node(op, inputs, x.dtype, attributes)

    def _run_node(self, op: str, inputs: list, output_dtype, attributes: dict, domain: str = "com.microsoft"):
        from refq.backends.onnx_contrib_model import build_node_model, feeds, model_key

        session = self._cached_session(model_key(op, inputs, attributes),
                                       lambda: build_node_model(op, inputs, output_dtype, attributes, domain or ""))
        (result,) = session.run(["y"], feeds(inputs))
        return result

    def _run_integer(self, op: str, inputs: tuple, attributes: dict) -> np.ndarray:
        from refq.backends.integer_models import (build_integer_model, check_arguments, feeds, model_key,
                                                  onnxruntime_unsupported)

        inputs = check_arguments(op, inputs, attributes)
        reason = onnxruntime_unsupported(op, inputs)
        if reason is not None:
            raise NotImplementedError(f"onnxruntime: {op} with {reason}")
        session = self._cached_session(model_key(op, inputs, attributes),
                                       lambda: build_integer_model(op, inputs, attributes))
        (result,) = session.run(["y"], feeds(op, inputs))
        return result

    def _cached_session(self, key, build, *, optimize=True):
        """The CPU session for ``key``, built from the model ``build()`` returns on first use; ``optimize=False``
        runs the graph as built (no optimizer may merge two of its nodes)."""
        session = self._sessions.get(key)
        if session is None:
            if len(self._sessions) >= self.max_sessions:
                self._sessions.clear()
            session = cpu_session(self._ort, build(), optimize=optimize)
            self._sessions[key] = session
        return session

    def _session(self, operation: str, call: Call):
        key = (operation, call.dtype, call.values.shape, call.scale.shape, call.axis, call.block_size)
        return self._cached_session(key, lambda: build_model(operation, call.dtype, call.values.shape,
                                                             call.scale.shape, call.axis, call.block_size))

    def _run(self, operation: str, call: Call) -> np.ndarray:
        session = self._session(operation, call)
        integer_input = operation == "DequantizeLinear"
        feeds = {
            "x": self._value(call.values, call.dtype if integer_input else None),
            "scale": self._value(call.scale, None),
            "zero_point": self._value(call.zero_point, call.dtype),
        }
        (result,) = session.run_with_ort_values(["y"], feeds)
        if integer_input or call.dtype not in PACKED_BITS:
            return result.numpy().reshape(call.values.shape)
        data = np.frombuffer(ctypes.string_at(result.data_ptr(), result.tensor_size_in_bytes()), dtype=np.uint8)
        values = unpack(data, call.values.size, PACKED_BITS[call.dtype], call.target.format.signed)
        return values.reshape(call.values.shape)

    def _value(self, array: np.ndarray, dtype: str | None):
        """An OrtValue holding ``array``: as is, or, for a packed type, packed into a fresh tensor of that type."""
        OrtValue = self._ort.OrtValue
        if dtype not in PACKED_BITS:
            return OrtValue.ortvalue_from_numpy(contiguous(array))
        value = OrtValue.ortvalue_from_shape_and_type(list(array.shape), element_type(dtype))
        data = pack(array, PACKED_BITS[dtype])
        size = value.tensor_size_in_bytes()
        if size != data.size:
            raise RuntimeError(f"onnxruntime: {dtype} tensor of shape {array.shape} holds {size} bytes, "
                               f"packing gave {data.size}")
        if size:
            ctypes.memmove(value.data_ptr(), data.ctypes.data, size)
        return value
