"""refq itself as a backend: its reference answers (:mod:`refq.conformance.reference`)."""

from __future__ import annotations


class RefqBackend:
    """refq's own quantize, dequantize, fake quantize and cast, under ``profile``.

    It claims the ``onnx`` profile; since refq computes every profile, the harness
    sets ``profile`` to the one asked for with ``--profile`` (``configurable_profile``).
    """

    name = "refq"
    profile = "onnx"
    #: The harness may set ``profile`` to any profile name before calling.
    configurable_profile = True

    def __init__(self, profile: str = "onnx") -> None:
        import refq

        self.version = refq.__version__
        self.profile = profile

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        from refq.conformance.reference import quantize_linear

        return quantize_linear(x, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype,
                               profile=self.profile)[0]

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        from refq.conformance.reference import dequantize_linear

        return dequantize_linear(q, scale, zero_point, axis=axis, block_size=block_size, dtype=dtype,
                                 profile=self.profile)[0]

    def fake_quantize(self, x, scale, zero_point=None, *, axis=None, dtype="int8"):
        from refq.conformance.reference import fake_quantize

        return fake_quantize(x, scale, zero_point, axis=axis, dtype=dtype, profile=self.profile)[0]

    # --- integer operations (INT) ---
    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None):
        from refq.conformance.reference import matmul_integer

        return matmul_integer(a, b, a_zero_point, b_zero_point, profile=self.profile)[0]

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
        from refq.conformance.reference import qlinear_matmul

        return qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point,
                              profile=self.profile)[0]

    def conv_integer(self, x, w, x_zero_point=None, w_zero_point=None, **attributes):
        from refq.conformance.reference import conv_integer

        return conv_integer(x, w, x_zero_point, w_zero_point, profile=self.profile, **attributes)[0]

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None,
                     **attributes):
        from refq.conformance.reference import qlinear_conv

        return qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B,
                            profile=self.profile, **attributes)[0]

    def cast(self, x, *, to="float8_e4m3fn", saturate=False):
        from refq.conformance.reference import cast

        return cast(x, to=to, saturate=saturate, profile=self.profile)[0]
