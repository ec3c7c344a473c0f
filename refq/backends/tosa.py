"""The TOSA reference model (tosa-tools: ``tosa_serializer`` and ``tosa_reference_model``) as a backend.

tosa-tools pins releases of numpy, ml-dtypes, flatbuffers and jsonschema that refq's environment
does not have, so this backend runs in its own interpreter (``environment = "tosa"``,
:mod:`refq.backends.interpreters`; ``refq backends install tosa`` creates it). Each call builds a
one-operator graph with ``TosaSerializer`` (the operands as graph inputs, the zero points and the
bias as constants) and runs ``tosa_reference_model.run(serializer.serialize(), inputs)``.

The graph's status is the engine's verdict: ``TOSA_VALID`` returns the output; ``TOSA_ERROR`` (an
ERROR_IF of the specification) raises ValueError, a rejection; ``TOSA_UNPREDICTABLE`` (a REQUIRE
violated) raises :class:`TosaUnpredictable`: the model gives no result to compare. A tensor of the
wrong type can abort the model's process: the worker process is what makes that cost one case.

What the adapter does itself is exact re-indexing only: NCHW to NHWC and back, broadcasting of
batch dimensions, and uint8 codes and zero points moved to int8 by subtracting 128 (TOSA 1.0
has no uint8 MATMUL or CONV2D; ``q - z`` is unchanged). What TOSA cannot express raises
NotImplementedError: convolutions other than 2-D. A grouped convolution (not depthwise) is one
CONV2D per group, as TOSA's legalisations slice it. TOSA has
one zero point per tensor: a zero point per row, column or output channel runs one graph per
distinct zero point, each element taken from the graph computed with its own.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np


class TosaUnpredictable(ArithmeticError):
    """The reference model's graph status is TOSA_UNPREDICTABLE: a REQUIRE of the specification failed."""


def _signed(values: np.ndarray, name: str) -> np.ndarray:
    """int8 or uint8 codes as int8 (uint8 less 128: TOSA 1.0 has no uint8 MATMUL or CONV2D)."""
    if values.dtype not in (np.int8, np.uint8):
        raise NotImplementedError(f"{name}: TOSA MATMUL and CONV2D take int8 (uint8 moved to int8), not {values.dtype}")
    return (values.astype(np.int16) - 128).astype(np.int8) if values.dtype == np.uint8 else values


def _zero_points(zero_point, values: np.ndarray, name: str) -> np.ndarray:
    """The zero point as int16 values moved like :func:`_signed` moves the codes (same ``q - z``)."""
    if zero_point is None:
        zero = np.zeros((), np.int16)
    else:
        zero = np.asarray(zero_point)
        if zero.dtype != values.dtype:
            raise ValueError(f"{name}: must be of the input's type {values.dtype}, got {zero.dtype}")
        zero = zero.astype(np.int16)
    return zero - 128 if values.dtype == np.uint8 else zero


def _by_zero_point(run, *maps: np.ndarray) -> np.ndarray:
    """TOSA has one zero point per tensor: one graph per distinct combination of the zero points in
    ``maps`` (each broadcast to the output's shape), every element taken from the graph computed with
    its own zero points. ``run(*zero points) -> output``."""
    result = None
    combinations = np.unique(np.stack([np.broadcast_to(m, np.broadcast_shapes(*(m.shape for m in maps))).reshape(-1)
                                       for m in maps], axis=1), axis=0)
    for combination in combinations:
        output = run(*(int(value) for value in combination))
        if result is None:
            if len(combinations) == 1:
                return output
            result = np.empty_like(output)
        chosen = np.ones(output.shape, dtype=bool)
        for zero_map, value in zip(maps, combination):
            chosen &= np.broadcast_to(zero_map, output.shape) == value
        result[chosen] = output[chosen]
    return result


def _explicit_pads(auto_pad: str, pads, size: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """ONNX's pads (top, left, bottom, right) as TOSA takes them: explicit; ``auto_pad`` resolved by
    ONNX's rule (SAME: output ceil(size / stride), the odd pad at the end for SAME_UPPER)."""
    if auto_pad == "NOTSET":
        return tuple(pads) if pads is not None else (0, 0, 0, 0)
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"auto_pad: one of NOTSET, SAME_UPPER, SAME_LOWER, VALID, got {auto_pad!r}")
    begins, ends = [], []
    for length, k, s, d in zip(size, kernel, stride, dilation):
        total = max(0, (-(-length // s) - 1) * s + (k - 1) * d + 1 - length)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return (begins[0], begins[1], ends[0], ends[1])


def _output_fit(size: int, pad_begin: int, pad_end: int, kernel: int, dilation: int, stride: int,
                ) -> tuple[int, int]:
    """(input rows to keep, end padding) so that TOSA's exact division of the output size holds.

    ONNX rounds the output size down; TOSA requires (size + pads - extent) to be a multiple of the
    stride. The rows past the last window enter no output: dropping them (padding first) is exact."""
    excess = (size + pad_begin + pad_end - (kernel - 1) * dilation - 1) % stride
    cut = min(excess, pad_end)
    return size - (excess - cut), pad_end - cut


class TosaBackend:
    """``matmul_integer`` through TOSA ``MATMUL``, ``conv_integer`` through ``CONV2D`` /
    ``DEPTHWISE_CONV2D`` (int8 x int8, int32 accumulator), ``qlinear_average_pool`` through
    ``AVG_POOL2D`` (one scale, int8), ``rescale`` through ``RESCALE``, ``table`` through ``TABLE``, and
    ``qlinear_add`` / ``qlinear_mul`` through ``ADD`` / ``MUL`` between RESCALEs, on the TOSA reference model.

    Its profile is ``tosa`` for every operation: for MATMUL and CONV2D it is what the ONNX text says
    (exact differences, int32 sums whose overflow is unpredictable; the model wraps them), and refq's
    vectors of matmul_integer and conv_integer are written under ``tosa`` too.
    """

    name = "tosa"
    profile = "tosa"
    #: The interpreter this backend runs in (refq.backends.interpreters).
    environment = "tosa"

    def __init__(self) -> None:
        import tosa_reference_model
        import tosa_serializer

        self._model = tosa_reference_model
        self._serializer = tosa_serializer
        self.version = metadata.version("tosa-tools")

    def _run(self, build) -> np.ndarray:
        """Build a graph with ``build(serializer) -> (graph inputs, output tensor)`` and run it."""
        ts = self._serializer
        serializer = ts.TosaSerializer("")
        inputs, _ = build(serializer)
        outputs, status = self._model.run(serializer.serialize(), inputs)
        if status == self._model.GraphStatus.TOSA_ERROR:
            raise ValueError("the TOSA reference model rejected the graph (TOSA_ERROR: an ERROR_IF holds)")
        if status == self._model.GraphStatus.TOSA_UNPREDICTABLE:
            raise TosaUnpredictable("the TOSA reference model reports TOSA_UNPREDICTABLE (a REQUIRE failed)")
        return outputs[0]

    def _zero_point(self, serializer, value: int):
        return serializer.addConst([1], self._serializer.DType.INT8, np.array([value], np.int8))

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None) -> np.ndarray:
        ts = self._serializer
        a, b = np.asarray(a), np.asarray(b)
        a_zero, b_zero = _zero_points(a_zero_point, a, "a_zero_point"), _zero_points(b_zero_point, b, "b_zero_point")
        a8, b8 = _signed(a, "a"), _signed(b, "b")
        if a8.ndim == 0 or b8.ndim == 0:
            raise ValueError("a, b: MatMulInteger needs arrays of rank 1 or more")
        a2 = a8[None, :] if a8.ndim == 1 else a8
        b2 = b8[:, None] if b8.ndim == 1 else b8
        if a2.shape[-1] != b2.shape[-2]:
            raise ValueError(f"a, b: inner dimensions differ ({a2.shape} by {b2.shape})")
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        rows, inner, columns = a2.shape[-2], a2.shape[-1], b2.shape[-1]
        if 0 in (rows, inner, columns) or 0 in batch:
            raise NotImplementedError("TOSA tensors have no empty dimension")
        # ONNX's zero points: one, one per row of a ((M,), or a's shape with K -> 1), one per column of b
        # ((N,), or b's shape with K -> 1); as maps over the output (batch, M, N).
        if a_zero.size == 1:
            row_map = a_zero.reshape((1, 1))
        elif a_zero.shape in (a2.shape[:-1] + (1,), a2.shape[:-1] if a2.ndim == 2 else None):
            row_map = a_zero.reshape(a2.shape[:-1] + (1,))
        else:
            raise ValueError(f"a_zero_point: one value or one per row of a, not shape {a_zero.shape}")
        if b_zero.size == 1:
            column_map = b_zero.reshape((1, 1))
        elif b_zero.shape in (b2.shape[:-2] + (1, columns), (columns,)):
            column_map = b_zero.reshape(b2.shape[:-2] + (1, columns)) if b_zero.ndim > 1 else b_zero
        else:
            raise ValueError(f"b_zero_point: one value or one per column of b, not shape {b_zero.shape}")
        a3 = np.ascontiguousarray(np.broadcast_to(a2, batch + (rows, inner)).reshape(-1, rows, inner))
        b3 = np.ascontiguousarray(np.broadcast_to(b2, batch + (inner, columns)).reshape(-1, inner, columns))

        def run(a_value: int, b_value: int) -> np.ndarray:
            def build(serializer):
                left = serializer.addPlaceholder(list(a3.shape), ts.DType.INT8)
                right = serializer.addPlaceholder(list(b3.shape), ts.DType.INT8)
                zeros = [self._zero_point(serializer, a_value), self._zero_point(serializer, b_value)]
                out = serializer.addOutput([a3.shape[0], rows, columns], ts.DType.INT32)
                attribute = ts.TosaSerializerAttribute()
                attribute.MatMulAttribute()
                serializer.addOperator(ts.Op.MATMUL, [left.name, right.name, *(z.name for z in zeros)], [out.name],
                                       attribute)
                return [a3, b3], out

            return self._run(build).reshape(batch + (rows, columns))

        result = _by_zero_point(run, row_map, column_map)
        if a.ndim == 1:
            result = result[..., 0, :]
        if b.ndim == 1:
            result = result[..., 0]
        return np.ascontiguousarray(result)

    def conv_integer(self, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None,
                     group=1, kernel_shape=None, pads=None, strides=None) -> np.ndarray:
        ts = self._serializer
        x, w = np.asarray(x), np.asarray(w)
        x_zero, w_zero = _zero_points(x_zero_point, x, "x_zero_point"), _zero_points(w_zero_point, w, "w_zero_point")
        x8, w8 = _signed(x, "x"), _signed(w, "w")
        if x8.ndim != 4 or w8.ndim != 4:
            raise NotImplementedError("TOSA CONV2D: 2-D convolutions (x of rank 4) only here")
        batch, channels, height, width = x8.shape
        out_channels, group_channels, kernel_h, kernel_w = w8.shape
        if kernel_shape is not None and tuple(kernel_shape) != (kernel_h, kernel_w):
            raise ValueError(f"kernel_shape {kernel_shape} differs from w's spatial shape {(kernel_h, kernel_w)}")
        if x_zero.size != 1:
            raise ValueError(f"x_zero_point: one value, not shape {x_zero.shape}")
        if w_zero.size != 1 and w_zero.shape != (out_channels,):
            raise ValueError(f"w_zero_point: one value or one per output channel, not shape {w_zero.shape}")
        dilation = tuple(dilations) if dilations is not None else (1, 1)
        stride = tuple(strides) if strides is not None else (1, 1)
        top, left, bottom, right = _explicit_pads(auto_pad, pads, (height, width), (kernel_h, kernel_w), stride,
                                                  dilation)
        if not isinstance(group, int) or group < 1 or group_channels * group != channels or out_channels % group:
            raise ValueError(f"w of shape {w8.shape} does not fit x of shape {x8.shape} in {group} groups")
        depthwise = group == channels and group_channels == 1 and group != 1
        if group != 1 and not depthwise:
            # TOSA has CONV2D and DEPTHWISE_CONV2D: a grouped convolution is one CONV2D per group (as TOSA's
            # legalisations slice it), each on its group's channels.
            per_group = out_channels // group
            zero_points = np.broadcast_to(w_zero, (out_channels,)) if w_zero.size > 1 else None
            parts = [self.conv_integer(x[:, g * group_channels:(g + 1) * group_channels],
                                       w[g * per_group:(g + 1) * per_group], x_zero_point,
                                       w_zero_point if zero_points is None else
                                       np.asarray(w_zero_point)[g * per_group:(g + 1) * per_group],
                                       pads=[top, left, bottom, right], strides=list(stride), dilations=list(dilation))
                     for g in range(group)]
            return np.ascontiguousarray(np.concatenate(parts, axis=1))
        keep_h, bottom = _output_fit(height, top, bottom, kernel_h, dilation[0], stride[0])
        keep_w, right = _output_fit(width, left, right, kernel_w, dilation[1], stride[1])
        out_h = (keep_h + top + bottom - (kernel_h - 1) * dilation[0] - 1) // stride[0] + 1
        out_w = (keep_w + left + right - (kernel_w - 1) * dilation[1] - 1) // stride[1] + 1
        if out_h < 1 or out_w < 1:
            raise ValueError("the kernel does not fit the padded input")
        image = np.ascontiguousarray(x8[:, :, :keep_h, :keep_w].transpose(0, 2, 3, 1))
        if depthwise:  # TOSA [KH, KW, C, M]: output channel c * M + m, ONNX's order
            weights = np.ascontiguousarray(w8.reshape(channels, out_channels // channels, kernel_h, kernel_w)
                                           .transpose(2, 3, 0, 1))
            op, attribute_name = ts.Op.DEPTHWISE_CONV2D, "DepthwiseConv2dAttribute"
        else:  # TOSA [OC, KH, KW, IC]
            weights = np.ascontiguousarray(w8.transpose(0, 2, 3, 1))
            op, attribute_name = ts.Op.CONV2D, "Conv2dAttribute"

        def run(w_value: int) -> np.ndarray:
            def build(serializer):
                source = serializer.addPlaceholder(list(image.shape), ts.DType.INT8)
                kernel = serializer.addConst(list(weights.shape), ts.DType.INT8, weights)
                bias = serializer.addConst([out_channels], ts.DType.INT32, np.zeros(out_channels, np.int32))
                zeros = [self._zero_point(serializer, int(x_zero.reshape(-1)[0])),
                         self._zero_point(serializer, w_value)]
                out = serializer.addOutput([batch, out_h, out_w, out_channels], ts.DType.INT32)
                attribute = ts.TosaSerializerAttribute()
                getattr(attribute, attribute_name)([top, bottom, left, right], list(stride), list(dilation), False,
                                                   ts.DType.INT32)
                serializer.addOperator(op, [source.name, kernel.name, bias.name, *(z.name for z in zeros)],
                                       [out.name], attribute)
                return [image], out

            return self._run(build).transpose(0, 3, 1, 2)

        channel_map = w_zero.reshape(1, -1, 1, 1) if w_zero.size > 1 else w_zero.reshape(1, 1, 1, 1)
        return np.ascontiguousarray(_by_zero_point(run, channel_map))


    def qlinear_average_pool(self, X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, auto_pad="NOTSET",
                             ceil_mode=0, channels_last=0, count_include_pad=0, kernel_shape=None, pads=None,
                             strides=None) -> np.ndarray:
        """TOSA ``AVG_POOL2D`` (int8, int32 accumulator): refq's ``average_division="tosa_reciprocal"``
        (ELT-6.10). It averages codes of one scale, so ``y_scale`` must equal ``x_scale``; padding never counts."""
        ts = self._serializer
        x = np.asarray(X)
        if x.dtype != np.int8:
            raise NotImplementedError(f"X: TOSA AVG_POOL2D's 8-bit type is int8, not {x.dtype}")
        if x.ndim != 4:
            raise NotImplementedError("TOSA AVG_POOL2D: 2-D pools (X of rank 4) only")
        if np.float32(x_scale) != np.float32(y_scale):
            raise NotImplementedError("y_scale != x_scale: AVG_POOL2D keeps the scale (a RESCALE would follow it)")
        if count_include_pad:
            raise NotImplementedError("count_include_pad=1: TOSA AVG_POOL2D never counts padding")
        if ceil_mode:
            raise NotImplementedError("ceil_mode=1: TOSA's output size is the exact quotient")
        if kernel_shape is None or len(kernel_shape) != 2:
            raise ValueError(f"kernel_shape: two sizes for a 2-D pool, got {kernel_shape!r}")
        x_zero = _zero_points(x_zero_point, x, "x_zero_point")
        y_zero = _zero_points(y_zero_point, x, "y_zero_point")
        if x_zero.size != 1 or y_zero.size != 1:
            raise ValueError("x_zero_point, y_zero_point: one value each")
        nchw = np.moveaxis(x, -1, 1) if channels_last else x
        batch, channels, height, width = nchw.shape
        kernel = tuple(int(k) for k in kernel_shape)
        stride = tuple(strides) if strides is not None else (1, 1)
        top, left, bottom, right = _explicit_pads(auto_pad, pads, (height, width), kernel, stride, (1, 1))
        keep_h, bottom = _output_fit(height, top, bottom, kernel[0], 1, stride[0])
        keep_w, right = _output_fit(width, left, right, kernel[1], 1, stride[1])
        out_h = (keep_h + top + bottom - kernel[0]) // stride[0] + 1
        out_w = (keep_w + left + right - kernel[1]) // stride[1] + 1
        image = np.ascontiguousarray(nchw[:, :, :keep_h, :keep_w].transpose(0, 2, 3, 1))

        def build(serializer):
            source = serializer.addPlaceholder(list(image.shape), ts.DType.INT8)
            zeros = [self._zero_point(serializer, int(x_zero.reshape(-1)[0])),
                     self._zero_point(serializer, int(y_zero.reshape(-1)[0]))]
            out = serializer.addOutput([batch, out_h, out_w, channels], ts.DType.INT8)
            attribute = ts.TosaSerializerAttribute()
            attribute.AvgPool2dAttribute(list(kernel), list(stride), [top, bottom, left, right], ts.DType.INT32)
            serializer.addOperator(ts.Op.AVG_POOL2D, [source.name, *(z.name for z in zeros)], [out.name], attribute)
            return [image], out

        pooled = self._run(build)  # NHWC
        return np.ascontiguousarray(pooled if channels_last else pooled.transpose(0, 3, 1, 2))

    # --- ADD and MUL with RESCALE -------------------------------------------------------------------------

    def _binary_operands(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point):
        """int8 codes of one rank (uint8 less 128: every ``q - z`` is unchanged, and the output's clamp to
        [-128, 127] with ``z_C - 128`` is the clamp to [0, 255] with ``z_C``), the zero points and the float32
        scales; ``offset`` is what the output gets back."""
        a, b = np.asarray(A), np.asarray(B)
        if a.dtype not in (np.int8, np.uint8) or b.dtype != a.dtype:
            raise ValueError(f"A, B: int8 or uint8 of one type, got {a.dtype} and {b.dtype}")
        zeros = [int(_zero_points(zero, values, name).reshape(-1)[0]) if np.size(zero if zero is not None else 0) == 1
                 else None for zero, values, name in ((A_zero_point, a, "A_zero_point"),
                                                      (B_zero_point, b, "B_zero_point"),
                                                      (C_zero_point, a, "C_zero_point"))]
        if None in zeros:
            raise ValueError("A_zero_point, B_zero_point, C_zero_point: one value each")
        shape = np.broadcast_shapes(a.shape, b.shape)
        if 0 in shape:
            raise NotImplementedError("TOSA tensors have no empty dimension")
        rank = max(len(shape), 1)
        # TOSA broadcasts tensors of one rank: leading axes of length 1 (exact re-indexing).
        a8 = _signed(a, "A").reshape((1,) * (rank - a.ndim) + a.shape)
        b8 = _signed(b, "B").reshape((1,) * (rank - b.ndim) + b.shape)
        scales = [np.float32(scale) for scale in (A_scale, B_scale, C_scale)]
        return a8, b8, zeros, scales, (1,) * (rank - len(shape)) + shape, 128 if a.dtype == np.uint8 else 0

    def _rescale_node(self, serializer, source, shape, in_type, out_type, multiplier: int, shift: int,
                      input_zero: int, output_zero: int, output=None):
        """A RESCALE of ``source`` as MLIR's legalisation builds one: scale32, DOUBLE_ROUND, per tensor, signed."""
        from tosa.RoundingMode import RoundingMode

        ts = self._serializer
        numpy_of = {ts.DType.INT8: np.int8, ts.DType.INT32: np.int32}
        target = output if output is not None else serializer.addIntermediate(list(shape), out_type)
        constants = [serializer.addConst([1], ts.DType.INT32, np.array([multiplier], np.int32)),
                     serializer.addConst([1], ts.DType.INT8, np.array([shift], np.int8)),
                     serializer.addConst([1], in_type, np.array([input_zero], numpy_of[in_type])),
                     serializer.addConst([1], out_type, np.array([output_zero], numpy_of[out_type]))]
        attribute = ts.TosaSerializerAttribute()
        attribute.RescaleAttribute(True, RoundingMode.DOUBLE_ROUND, False, False, False)
        serializer.addOperator(ts.Op.RESCALE, [source.name, *(c.name for c in constants)], [target.name], attribute)
        return target

    def qlinear_add(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
        """TOSA ``ADD`` between RESCALEs, as MLIR's TFLite legalisation (``matchAndRewriteAddSub``, double rounding)
        builds it from the float scales: each input RESCALEd to int32 by 2^19, or by 2^20 and then by
        ``s / (2 max(s_A, s_B))``; int32 ADD; RESCALE by ``2 max(s_A, s_B) / (s_C 2^20)`` to int8 (ELT-2.8)."""
        from refq.elementwise.binary import tosa_sum_rescales

        ts = self._serializer
        a8, b8, (a_zero, b_zero, c_zero), (a_scale, b_scale, c_scale), shape, offset = self._binary_operands(
            A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point)
        a_steps, b_steps, (multiplier, shift) = tosa_sum_rescales(a_scale, b_scale, c_scale)

        def build(serializer):
            operands = []
            for values, zero, steps in ((a8, a_zero, a_steps), (b8, b_zero, b_steps)):
                source = serializer.addPlaceholder(list(values.shape), ts.DType.INT8)
                wide = self._rescale_node(serializer, source, values.shape, ts.DType.INT8, ts.DType.INT32,
                                          int(steps[0]), int(steps[1]), zero, 0)
                if steps[4]:
                    wide = self._rescale_node(serializer, wide, values.shape, ts.DType.INT32, ts.DType.INT32,
                                              int(steps[2]), int(steps[3]), 0, 0)
                operands.append(wide)
            total = serializer.addIntermediate(list(shape), ts.DType.INT32)
            attribute = ts.TosaSerializerAttribute()
            attribute.AddAttribute()
            serializer.addOperator(ts.Op.ADD, [operands[0].name, operands[1].name], [total.name], attribute)
            out = serializer.addOutput(list(shape), ts.DType.INT8)
            self._rescale_node(serializer, total, shape, ts.DType.INT32, ts.DType.INT8, multiplier, shift, 0,
                               c_zero, output=out)
            return [np.ascontiguousarray(a8), np.ascontiguousarray(b8)], out

        return self._binary_result(self._run(build), A, B, offset)

    def qlinear_mul(self, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
        """TOSA ``MUL`` between RESCALEs, as MLIR's TFLite legalisation (``convertMultiplyOp``) builds it: each input's
        zero point removed by a RESCALE by 1 to int32, int32 MUL with shift 0, RESCALE by
        ``fl32(fl32(s_A s_B) / s_C)`` (DOUBLE_ROUND) to int8 (ELT-2.9)."""
        from refq.elementwise.binary import tosa_multiplier, tosa_product_rescale

        ts = self._serializer
        a8, b8, (a_zero, b_zero, c_zero), (a_scale, b_scale, c_scale), shape, offset = self._binary_operands(
            A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point)
        multiplier, shift = tosa_product_rescale(a_scale, b_scale, c_scale)
        one = tosa_multiplier(1.0, "A_scale")

        def build(serializer):
            operands = []
            for values, zero in ((a8, a_zero), (b8, b_zero)):
                source = serializer.addPlaceholder(list(values.shape), ts.DType.INT8)
                operands.append(self._rescale_node(serializer, source, values.shape, ts.DType.INT8, ts.DType.INT32,
                                                   one[0], one[1], zero, 0))
            product = serializer.addIntermediate(list(shape), ts.DType.INT32)
            no_shift = serializer.addConst([1], ts.DType.INT8, np.array([0], np.int8))
            attribute = ts.TosaSerializerAttribute()
            attribute.MulAttribute()
            serializer.addOperator(ts.Op.MUL, [operands[0].name, operands[1].name, no_shift.name], [product.name],
                                   attribute)
            out = serializer.addOutput(list(shape), ts.DType.INT8)
            self._rescale_node(serializer, product, shape, ts.DType.INT32, ts.DType.INT8, multiplier, shift, 0,
                               c_zero, output=out)
            return [np.ascontiguousarray(a8), np.ascontiguousarray(b8)], out

        return self._binary_result(self._run(build), A, B, offset)

    @staticmethod
    def _binary_result(output, A, B, offset: int) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(A), np.shape(B))
        result = np.asarray(output).reshape(shape)
        return (result.astype(np.int16) + offset).astype(np.uint8) if offset else result.astype(np.int8)

    # --- RESCALE ------------------------------------------------------------------------------------------

    def _rescale_graph(self, values: np.ndarray, in_type: str, out_type: str, multipliers: np.ndarray,
                       shifts: np.ndarray, input_zero: int, output_zero: int, scale32: bool, rounding: int,
                       per_channel: bool):
        """One RESCALE graph on ``values`` (refq's dtypes): ``(output in refq's dtype, graph status)``."""
        ts = self._serializer
        in_dtype, in_bits, in_unsigned = _RESCALE_TYPES[in_type]
        out_dtype, out_bits, out_unsigned = _RESCALE_TYPES[out_type]
        serializer = ts.TosaSerializer("")
        if in_type == "int64":  # INT48 tensors enter a graph as constants only
            source = serializer.addConst(list(values.shape), ts.DType.INT48, values.astype(np.int64))
            inputs = []
        else:
            bits = values.view(in_dtype) if in_unsigned else values
            source = serializer.addPlaceholder(list(values.shape), _dtype(ts, in_dtype))
            inputs = [np.ascontiguousarray(bits)]
        multiplier = serializer.addConst([multipliers.size], ts.DType.INT32 if scale32 else ts.DType.INT16,
                                         multipliers.astype(np.int32 if scale32 else np.int16))
        shift = serializer.addConst([shifts.size], ts.DType.INT8, shifts.astype(np.int8))
        zero_type = ts.DType.INT48 if in_type == "int64" else _dtype(ts, in_dtype)
        input_zp = serializer.addConst([1], zero_type,
                                       _as_signed(np.array([input_zero], np.int64), in_bits, in_unsigned, in_dtype))
        output_zp = serializer.addConst([1], _dtype(ts, out_dtype),
                                        _as_signed(np.array([output_zero], np.int64), out_bits, out_unsigned, out_dtype))
        out = serializer.addOutput(list(values.shape), _dtype(ts, out_dtype))
        attribute = ts.TosaSerializerAttribute()
        attribute.RescaleAttribute(bool(scale32), rounding, bool(per_channel), in_unsigned, out_unsigned)
        serializer.addOperator(ts.Op.RESCALE, [source.name, multiplier.name, shift.name, input_zp.name,
                                               output_zp.name], [out.name], attribute)
        # The model writes every failed REQUIRE to stderr. Its debug_filename would quiet that, but the model opens
        # the file on every run and never closes it (measured: one descriptor per run), which ends in an abort.
        outputs, status = self._model.run(serializer.serialize(), inputs)
        if status == self._model.GraphStatus.TOSA_ERROR:
            raise ValueError("the TOSA reference model rejected the graph (TOSA_ERROR: an ERROR_IF holds)")
        result = np.asarray(outputs[0]) if outputs else np.zeros(values.shape, out_dtype)
        return (result.view(np.dtype(out_type)) if out_unsigned else result.astype(out_type)), status

    def rescale_with_status(self, input, multiplier, shift, input_zp=None, output_zp=None, *, dtype="int8",
                            scale32=True, rounding_mode="double_round", per_channel=False) -> np.ndarray:
        """:meth:`rescale`'s output and where the model gives none, as one int64 array ``[output, unpredictable]``.

        The reference model's status is the whole graph's: a graph whose status is TOSA_UNPREDICTABLE is
        split in halves (along the channels first, then the rows of the ``(rows, channels)`` view), down to
        single elements, each element taking its own channel's multiplier and shift; an element alone in an
        UNPREDICTABLE graph is one the model leaves unpredictable. Its output is 0.
        """
        from tosa.RoundingMode import RoundingMode

        values = np.asarray(input)
        if values.dtype.name not in _RESCALE_TYPES:
            raise ValueError(f"input: int8, uint8, int16, uint16, int32 or int64 (int48), not {values.dtype}")
        if dtype not in _RESCALE_TYPES or dtype == "int64":
            raise ValueError(f"dtype: int8, uint8, int16, uint16 or int32, not {dtype!r}")
        roundings = {"single_round": RoundingMode.SINGLE_ROUND, "double_round": RoundingMode.DOUBLE_ROUND}
        if rounding_mode not in roundings:
            raise ValueError(f"rounding_mode: single_round or double_round, not {rounding_mode!r}")
        if values.size == 0:
            raise NotImplementedError("TOSA tensors have no empty dimension")
        if per_channel and values.ndim == 0:
            raise ValueError("per_channel: the input has no channel axis (rank 0)")
        multipliers = _fitting(multiplier, np.int32 if scale32 else np.int16, "multiplier").reshape(-1)
        shifts = _fitting(shift, np.int8, "shift").reshape(-1)
        input_zero = 0 if input_zp is None else int(np.asarray(input_zp).reshape(-1)[0])
        output_zero = 0 if output_zp is None else int(np.asarray(output_zp).reshape(-1)[0])
        for name, zero in (("input_zp", input_zp), ("output_zp", output_zp)):
            if zero is not None and np.asarray(zero).size != 1:
                raise ValueError(f"{name}: one value (TOSA has one zero point per tensor)")
        channels = values.shape[-1] if per_channel else 1
        if multipliers.size != channels or shifts.size != channels:
            raise ValueError(f"multiplier, shift: {channels} value(s) each")

        def graph(block: np.ndarray, first: int, last: int):
            return self._rescale_graph(block, values.dtype.name, dtype, multipliers[first:last] if per_channel
                                       else multipliers, shifts[first:last] if per_channel else shifts, input_zero,
                                       output_zero, scale32, roundings[rounding_mode], per_channel)

        whole, status = graph(values, 0, channels)
        if status == self._model.GraphStatus.TOSA_VALID:
            return np.stack([whole.astype(np.int64), np.zeros(values.shape, np.int64)])
        view = values.reshape(-1, channels)
        output = np.zeros(view.shape, np.int64)
        unpredictable = np.zeros(view.shape, np.int64)
        pending = [(0, view.shape[0], 0, channels)]
        while pending:
            r0, r1, c0, c1 = pending.pop()
            part, status = graph(np.ascontiguousarray(view[r0:r1, c0:c1]), c0, c1)
            if status == self._model.GraphStatus.TOSA_VALID:
                output[r0:r1, c0:c1] = part
            elif (r1 - r0) * (c1 - c0) == 1:
                unpredictable[r0, c0] = 1
            elif c1 - c0 > 1:
                middle = (c0 + c1) // 2
                pending += [(r0, r1, c0, middle), (r0, r1, middle, c1)]
            else:
                middle = (r0 + r1) // 2
                pending += [(r0, middle, c0, c1), (middle, r1, c0, c1)]
        return np.stack([output.reshape(values.shape), unpredictable.reshape(values.shape)])

    def rescale(self, input, multiplier, shift, input_zp=None, output_zp=None, *, dtype="int8", scale32=True,
                rounding_mode="double_round", per_channel=False) -> np.ndarray:
        """TOSA ``RESCALE`` (REQ-2.8): uint8 and uint16 arrays are TOSA's ``input_unsigned`` /
        ``output_unsigned`` (the same bits as int8 / int16), an int64 input is an INT48 constant. Where the
        model reports TOSA_UNPREDICTABLE the element is 0 (see :meth:`rescale_with_status`)."""
        both = self.rescale_with_status(input, multiplier, shift, input_zp, output_zp, dtype=dtype, scale32=scale32,
                                        rounding_mode=rounding_mode, per_channel=per_channel)
        return both[0].astype(dtype)

    # --- TABLE --------------------------------------------------------------------------------------------

    def _table_graph(self, values: np.ndarray, entries: np.ndarray):
        ts = self._serializer
        in_type = ts.DType.INT8 if values.dtype == np.int8 else ts.DType.INT16
        serializer = ts.TosaSerializer("")
        source = serializer.addPlaceholder(list(values.shape), in_type)
        table = serializer.addConst([entries.size], in_type, entries)
        out = serializer.addOutput(list(values.shape), ts.DType.INT8 if values.dtype == np.int8 else ts.DType.INT32)
        attribute = ts.TosaSerializerAttribute()
        attribute.TableAttribute()
        serializer.addOperator(ts.Op.TABLE, [source.name, table.name], [out.name], attribute)
        outputs, status = self._model.run(serializer.serialize(), [np.ascontiguousarray(values)])
        if status == self._model.GraphStatus.TOSA_ERROR:
            raise ValueError("the TOSA reference model rejected the graph (TOSA_ERROR: an ERROR_IF holds)")
        return (np.asarray(outputs[0]) if outputs else np.zeros(values.shape, np.int64)), status

    def table_with_status(self, input, table) -> np.ndarray:
        """:meth:`table`'s output and where the model gives none, as one int64 array ``[output, unpredictable]``:
        an UNPREDICTABLE graph is split in halves down to single elements, as :meth:`rescale_with_status` does."""
        values, entries = np.asarray(input), np.asarray(table)
        if values.dtype not in (np.int8, np.int16) or entries.dtype != values.dtype:
            raise ValueError(f"input, table: int8 or int16, of one type (got {values.dtype}, {entries.dtype})")
        if values.size == 0:
            raise NotImplementedError("TOSA tensors have no empty dimension")
        whole, status = self._table_graph(values, entries)
        if status == self._model.GraphStatus.TOSA_VALID:
            return np.stack([whole.astype(np.int64), np.zeros(values.shape, np.int64)])
        flat = values.reshape(-1)
        output = np.zeros(flat.size, np.int64)
        unpredictable = np.zeros(flat.size, np.int64)
        pending = [(0, flat.size)]
        while pending:
            first, last = pending.pop()
            part, status = self._table_graph(np.ascontiguousarray(flat[first:last]), entries)
            if status == self._model.GraphStatus.TOSA_VALID:
                output[first:last] = part
            elif last - first == 1:
                unpredictable[first] = 1
            else:
                middle = (first + last) // 2
                pending += [(first, middle), (middle, last)]
        return np.stack([output.reshape(values.shape), unpredictable.reshape(values.shape)])

    def table(self, input, table) -> np.ndarray:
        """TOSA ``TABLE`` (ELT-8): int8 through 256 entries (int8 output), int16 through 513 interpolated entries
        (int32 output). Where the model reports TOSA_UNPREDICTABLE the element is 0 (see :meth:`table_with_status`)."""
        both = self.table_with_status(input, table)
        return both[0].astype(np.int8 if np.asarray(input).dtype == np.int8 else np.int32)


#: refq's dtype name -> (the TOSA tensor's numpy type, bits, unsigned): unsigned types travel as the signed
#: type of their width with TOSA's unsigned flag; int64 carries INT48.
_RESCALE_TYPES = {"int8": (np.int8, 8, False), "uint8": (np.int8, 8, True), "int16": (np.int16, 16, False),
                  "uint16": (np.int16, 16, True), "int32": (np.int32, 32, False), "int64": (np.int64, 48, False)}


def _dtype(ts, numpy_type):
    return {np.int8: ts.DType.INT8, np.int16: ts.DType.INT16, np.int32: ts.DType.INT32}[numpy_type]


def _as_signed(values: np.ndarray, bits: int, unsigned: bool, numpy_type) -> np.ndarray:
    """Zero point ``values`` as the bits of the tensor's signed type (uint8 200 is int8 -56)."""
    wide = values.astype(np.int64)
    if unsigned:
        wide = np.where(wide >= 1 << (bits - 1), wide - (1 << bits), wide)
    return wide.astype(numpy_type)


def _fitting(values, numpy_type, name: str) -> np.ndarray:
    """``values`` as ``numpy_type``, a ValueError where one does not fit it (TOSA's tensor could not hold it)."""
    array = np.asarray(values)
    info = np.iinfo(numpy_type)
    if array.dtype.kind not in "iu" or array.size and (array.min() < info.min or array.max() > info.max):
        raise ValueError(f"{name}: {np.dtype(numpy_type).name} values")
    return array.astype(numpy_type)


__all__ = ["TosaBackend", "TosaUnpredictable"]
