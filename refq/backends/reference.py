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

    def cast(self, x, *, to="float8_e4m3fn", saturate=False):
        from refq.conformance.reference import cast

        return cast(x, to=to, saturate=saturate, profile=self.profile)[0]
