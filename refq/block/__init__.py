"""BLK: block-scaled formats (OCP MX): an element format, 1-D blocks along an axis, one E8M0 scale per block."""

from refq.block.api import block_dequantize, block_quantize
from refq.block.elements import ELEMENT_FORMATS, element_format

__all__ = ["ELEMENT_FORMATS", "block_dequantize", "block_quantize", "element_format"]
