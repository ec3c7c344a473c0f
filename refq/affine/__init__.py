"""Chapter AFF: affine quantization — parameters, quantize, dequantize, profiles."""

from refq.affine.dequantize import dequantize
from refq.affine.quantize import quantize, quantize_with_outcomes

__all__ = ["quantize", "dequantize", "quantize_with_outcomes"]
