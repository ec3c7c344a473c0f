"""The integer operations' adapter methods, shared by the ONNX-model backends.

Each method checks nothing itself: the class it is mixed into provides
``_run_integer(op, inputs, attributes)``, which builds (or reuses) the single-node
model and runs it.
"""

from __future__ import annotations

import numpy as np


class IntegerOperations:
    """``matmul_integer``, ``qlinear_matmul``, ``conv_integer`` and ``qlinear_conv`` in the
    adapter signature (ONNX input order, attributes keyword-only)."""

    def _run_integer(self, op: str, inputs: tuple, attributes: dict) -> np.ndarray:
        raise NotImplementedError

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None) -> np.ndarray:
        """``MatMulInteger(a, b, a_zero_point, b_zero_point)``: int32."""
        return self._run_integer("matmul_integer", (a, b, a_zero_point, b_zero_point), {})

    def qlinear_matmul(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) -> np.ndarray:
        """``QLinearMatMul``: the type of ``y_zero_point``."""
        return self._run_integer("qlinear_matmul", (a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
                                                    y_zero_point), {})

    def conv_integer(self, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                     kernel_shape=None, pads=None, strides=None) -> np.ndarray:
        """``ConvInteger`` (NCHW): int32."""
        return self._run_integer("conv_integer", (x, w, x_zero_point, w_zero_point),
                                 dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                                      pads=pads, strides=strides))

    def qlinear_conv(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None) -> np.ndarray:
        """``QLinearConv`` (NCHW): the type of ``y_zero_point``."""
        return self._run_integer("qlinear_conv", (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
                                                  y_zero_point, B),
                                 dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                                      pads=pads, strides=strides))
