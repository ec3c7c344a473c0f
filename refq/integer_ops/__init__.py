"""Chapter INT: integer matrix multiplication and convolution, and their requantized
(QLinear) forms."""

from refq.integer_ops.conv import conv_integer
from refq.integer_ops.matmul import matmul_integer
from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul

__all__ = ["conv_integer", "matmul_integer", "qlinear_conv", "qlinear_matmul"]
