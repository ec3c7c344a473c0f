"""refq's own answer for each operation, in the adapter signature (inputs in ONNX order,
attributes keyword-only), under a named profile.

Each function returns ``(output, unpredictable)``: the expected array and a boolean mask
of elements the profile leaves *unpredictable* (or None). Invalid arguments raise a
``RefqError``: those are the cases a conforming backend must reject.
"""

from __future__ import annotations

import numpy as np

from refq.affine import dequantize, quantize_with_outcomes
from refq.conformance import records
from refq.errors import invalid, wrong_type
from refq.observers import operations as observers
from refq.observers.operations import dynamic_quantize
from refq.numbers.floats import encode_array
from refq.registry.operations import OPERATIONS_BY_NAME


def quantize_linear(x, scale, zero_point, *, axis=None, block_size=None, dtype="int8", profile="onnx"):
    return quantize_with_outcomes(x, scale, zero_point, dtype=dtype, axis=axis, block_size=block_size,
                                  profile=profile)


def dequantize_linear(q, scale, zero_point, *, axis=None, block_size=None, dtype="int8", profile="onnx"):
    return dequantize(q, scale, zero_point, dtype=dtype, axis=axis, block_size=block_size, profile=profile), None


def fake_quantize(x, scale, zero_point, *, axis=None, dtype="int8", profile="pytorch-fake-quant"):
    """Quantize then dequantize under one profile: the forward pass of fake quantization."""
    q, unpredictable = quantize_with_outcomes(x, scale, zero_point, dtype=dtype, axis=axis, profile=profile)
    return dequantize(q, scale, zero_point, dtype=dtype, axis=axis, profile=profile), unpredictable


def cast(x, *, to="float8_e4m3fn", saturate=False, profile="onnx"):
    """Cast float32 ``x`` to the bit patterns of ``to`` (ONNX Cast with its saturate attribute).

    The ONNX text says a NaN casts to NaN but not to which of the target's NaN patterns
    (sign, payload), and backends differ: NaN inputs are *unpredictable* under ``onnx``.
    """
    values = np.asarray(x, dtype=np.float32)
    patterns = encode_array(values, to, overflow="saturate" if saturate else "infinity")
    nan_inputs = np.isnan(values)
    return patterns, (nan_inputs if nan_inputs.any() else None)


# --- observers and dynamic quantization (chapter OBS): outputs are records -----------------------------------


def dynamic_quantize_linear(x, *, profile="onnxruntime"):
    """ONNX DynamicQuantizeLinear (OBS-5.5): the record ``(y, y_scale, y_zero_point)``, under a profile of
    ``refq.observers.dynamic.DYNAMIC_PROFILES``. Where a profile leaves the parameters open (NaN under
    ``onnxruntime``), every field is unpredictable."""
    result = dynamic_quantize(x, profile=profile)
    output = records.record(y=result["y"], y_scale=np.float32(result["scale"]),
                            y_zero_point=np.uint8(result["zero_point"]))
    parameters = result["parameters_unpredictable"]
    return output, records.mask_like(output, y=result["unpredictable"], y_scale=parameters, y_zero_point=parameters)


def _observed_batches(batches) -> list[np.ndarray]:
    """The batches of an observer operation: one array whose first axis counts equal-size batches."""
    if not isinstance(batches, np.ndarray) or batches.ndim < 1:
        raise wrong_type("batches", "an array of shape (batches, ...)", batches)
    return list(batches)


def _zero_sign_open(batches: list[np.ndarray], ch_axis, bounds) -> np.ndarray:
    """Where a bound is a zero whose sign is not fixed (OBS-2.2): the bound is 0 and the data of its
    tensor (or channel) holds a $-0$, so a vectorised min/max may return either zero."""
    bounds = np.asarray(bounds, dtype=np.float32)
    if ch_axis is None:
        negative_zero = any(bool(np.any((batch == 0) & np.signbit(batch))) for batch in batches)
    else:
        negative_zero = np.zeros(bounds.shape, bool)
        for batch in batches:
            if batch.size == 0 or batch.ndim < 2:
                continue
            rows = np.moveaxis(np.asarray(batch, np.float32), ch_axis, 0).reshape(batch.shape[ch_axis], -1)
            if rows.shape[0] == bounds.size:
                negative_zero |= np.any((rows == 0) & np.signbit(rows), axis=1)
    return (bounds == 0) & negative_zero


def _observer_record(result: dict, batches: list[np.ndarray], ch_axis, extra: dict | None = None):
    """The record ``(min_val, max_val, scale, zero_point)`` of an observer's result, and its mask.

    Unpredictable: a zero bound whose sign is open (OBS-2.2), a zero point OBS-1.4 leaves open,
    and every NaN of the state and parameters. The spec says *that* they are NaN, not which NaN:
    torch's vectorised ``aminmax`` gives the pattern 0xffffffff, its scalar code and numpy
    0x7fc00000, and later arithmetic passes either on."""
    zero_point = result["zero_point"]
    zero_point = np.asarray(zero_point, np.float32 if np.asarray(zero_point).dtype.kind == "f" else np.int64)
    output = records.record(**(extra or {}), min_val=np.asarray(result["min_val"], np.float32),
                            max_val=np.asarray(result["max_val"], np.float32),
                            scale=np.asarray(result["scale"], np.float32), zero_point=zero_point)
    return output, records.mask_like(
        output,
        min_val=_zero_sign_open(batches, ch_axis, result["min_val"]) | np.isnan(output["min_val"]),
        max_val=_zero_sign_open(batches, ch_axis, result["max_val"]) | np.isnan(output["max_val"]),
        scale=np.isnan(output["scale"]),
        zero_point=np.asarray(result["unpredictable"]) | np.isnan(output["zero_point"].astype(np.float64)))


def observe_minmax(batches, *, dtype="uint8", qscheme="affine", reduce_range=False, ch_axis=None,
                   profile="pytorch"):
    """MinMaxObserver (``ch_axis=None``) or PerChannelMinMaxObserver (OBS-2.1 to OBS-2.5) fed each
    ``batches[i]`` in turn: the record ``(min_val, max_val, scale, zero_point)``."""
    observed = _observed_batches(batches)
    result = observers.observe_minmax(observed, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                                      ch_axis=ch_axis)
    return _observer_record(result, observed, ch_axis)


def observe_moving_average(batches, *, averaging_constant=0.01, dtype="uint8", qscheme="affine",
                           reduce_range=False, ch_axis=None, profile="pytorch"):
    """MovingAverage[PerChannel]MinMaxObserver (OBS-2.6): the record ``(min_val, max_val, scale, zero_point)``."""
    observed = _observed_batches(batches)
    result = observers.observe_moving_average(observed, averaging_constant=averaging_constant, dtype=dtype,
                                              qscheme=qscheme, reduce_range=reduce_range, ch_axis=ch_axis)
    return _observer_record(result, observed, ch_axis)


def observe_histogram(batches, *, bins=2048, dtype="uint8", qscheme="affine", reduce_range=False,
                      profile="pytorch"):
    """HistogramObserver (OBS-3): the record ``(histogram, min_val, max_val, scale, zero_point)``.
    When OBS-3.4/OBS-3.9 call the result unpredictable (counts past $2^{24}$, more than 32768 bins),
    every field is."""
    observed = _observed_batches(batches)
    result = observers.observe_histogram(observed, bins=bins, dtype=dtype, qscheme=qscheme,
                                         reduce_range=reduce_range)
    output, mask = _observer_record({**result, "unpredictable": False}, observed, None,
                                    {"histogram": np.asarray(result["histogram"], np.float32)})
    if result["unpredictable"]:
        mask = records.mask_like(output, **{name: True for name in output.dtype.names})
    return output, mask



def _calibration_record(result: dict, batches: list[np.ndarray]):
    """The record ``(lowest, highest, hist, hist_edges)`` of an ONNX Runtime calibrator, and its mask.

    A bound that is a zero clipped from the observed extremes (numpy's ``nanmin``/``nanmax``) has an
    open sign when the data holds a $-0$ (OBS-2.2): such a bound is unpredictable."""
    output = records.record(lowest=np.float32(result["lowest"]), highest=np.float32(result["highest"]),
                            hist=np.asarray(result["hist"], np.int64),
                            hist_edges=np.asarray(result["hist_edges"], np.float32))
    return output, records.mask_like(output, lowest=_zero_sign_open(batches, None, output["lowest"]),
                                     highest=_zero_sign_open(batches, None, output["highest"]))


def calibrate_percentile(batches, *, num_bins=2048, percentile=99.999, symmetric=False, profile="onnxruntime"):
    """ONNX Runtime's percentile calibrator (OBS-4.3 to OBS-4.5) fed each ``batches[i]`` in turn:
    the record ``(lowest, highest, hist, hist_edges)``."""
    observed = _observed_batches(batches)
    return _calibration_record(observers.calibrate_percentile(observed, num_bins=num_bins, percentile=percentile,
                                                              symmetric=symmetric), observed)


def calibrate_entropy(batches, *, num_bins=128, num_quantized_bins=128, profile="onnxruntime"):
    """ONNX Runtime's entropy calibrator (OBS-4.3, OBS-4.6): the record ``(lowest, highest, hist, hist_edges)``."""
    observed = _observed_batches(batches)
    return _calibration_record(observers.calibrate_entropy(observed, num_bins=num_bins,
                                                           num_quantized_bins=num_quantized_bins), observed)

def matmul_integer(a, b, a_zero_point=None, b_zero_point=None, *, profile="onnx"):
    """INT-2.4 under ``profile`` (INT-5.3): overflowing accumulations are unpredictable under ``onnx``."""
    from refq.integer_ops.profiles import matmul_integer_outcomes

    return matmul_integer_outcomes(a, b, a_zero_point, b_zero_point, profile=profile)


def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point, *, profile="onnx"):
    """INT-4.2 under ``profile`` (INT-5.3)."""
    from refq.integer_ops.profiles import qlinear_matmul_outcomes

    return qlinear_matmul_outcomes(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point,
                                   profile=profile)


def conv_integer(x, w, x_zero_point=None, w_zero_point=None, *, profile="onnx", **attributes):
    """INT-3.4 under ``profile`` (INT-5.3)."""
    from refq.integer_ops.profiles import conv_integer_outcomes

    return conv_integer_outcomes(x, w, x_zero_point, w_zero_point, profile=profile, **attributes)


def qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                 profile="onnx", **attributes):
    """INT-4.3 under ``profile`` (INT-5.3)."""
    from refq.integer_ops.profiles import qlinear_conv_outcomes

    return qlinear_conv_outcomes(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B,
                                 profile=profile, **attributes)

# --- elementwise, pooling and table operations (chapter ELT) ------------------------------------------------
# These are ONNX Runtime's com.microsoft operators: their definition is ONNX Runtime's, under every profile.


def qlinear_add(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None, *,
                profile="onnxruntime"):
    """ELT-2.5."""
    from refq.elementwise import qlinear_add as compute

    return compute(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point), None


def qlinear_mul(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None, *,
                profile="onnxruntime"):
    """ELT-2.7."""
    from refq.elementwise import qlinear_mul as compute

    return compute(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point), None


def qlinear_sigmoid(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, profile="onnxruntime"):
    """ELT-3.6."""
    from refq.elementwise import qlinear_sigmoid as compute

    return compute(X, X_scale, X_zero_point, Y_scale, Y_zero_point), None


def qlinear_leaky_relu(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, alpha=0.01, profile="onnxruntime"):
    """ELT-3.6."""
    from refq.elementwise import qlinear_leaky_relu as compute

    return compute(X, X_scale, X_zero_point, Y_scale, Y_zero_point, alpha=alpha), None


def qlinear_tanh(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, profile="onnxruntime"):
    """ELT-3.8."""
    from refq.elementwise.lookup import qlinear_tanh as compute

    return compute(X, X_scale, X_zero_point, Y_scale, Y_zero_point), None


def qlinear_global_average_pool(X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, channels_last=0,
                                profile="onnxruntime"):
    """ELT-4.3."""
    from refq.elementwise import qlinear_global_average_pool as compute

    return compute(X, x_scale, x_zero_point, y_scale, y_zero_point, channels_last=channels_last), None


def max_pool(X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None, storage_order=0,
             strides=None, profile="onnxruntime"):
    """ELT-6.3."""
    from refq.elementwise.windows import max_pool as compute

    return compute(X, auto_pad=auto_pad, ceil_mode=ceil_mode, dilations=dilations, kernel_shape=kernel_shape,
                   pads=pads, storage_order=storage_order, strides=strides), None


def qlinear_average_pool(X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, auto_pad="NOTSET", ceil_mode=0,
                         channels_last=0, count_include_pad=0, kernel_shape=None, pads=None, strides=None,
                         profile="onnxruntime"):
    """ELT-6.6."""
    from refq.elementwise.windows import qlinear_average_pool as compute

    return compute(X, x_scale, x_zero_point, y_scale, y_zero_point, auto_pad=auto_pad, ceil_mode=ceil_mode,
                   channels_last=channels_last, count_include_pad=count_include_pad, kernel_shape=kernel_shape,
                   pads=pads, strides=strides), None


def qlinear_concat(Y_scale, Y_zero_point, inputs, *, axis=None, profile="onnxruntime"):
    """ELT-7.2."""
    from refq.elementwise.concat import qlinear_concat as compute

    return compute(Y_scale, Y_zero_point, inputs, axis=axis), None


def run(op: str, inputs: dict, attributes: dict, profile: str):
    """Run operation ``op`` with ``inputs`` (ONNX order) and ``attributes`` under ``profile``."""
    operation = OPERATIONS_BY_NAME.get(op)
    if operation is None or operation.reference is None:
        known = sorted(name for name, o in OPERATIONS_BY_NAME.items() if o.reference)
        raise invalid("op", "an operation with a reference implementation: " + ", ".join(known), op)
    function = globals()[op]
    return function(*inputs.values(), **attributes, profile=profile)
