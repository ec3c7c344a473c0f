"""GGF: ggml's (llama.cpp's GGUF) block quantization types, bit-exact and portable."""

from refq.gguf.api import gguf_dequantize, gguf_quantize, gguf_quantize_with_outcomes
from refq.gguf.types import BLOCK_TYPES, block_type

__all__ = ["BLOCK_TYPES", "block_type", "gguf_dequantize", "gguf_quantize", "gguf_quantize_with_outcomes"]
