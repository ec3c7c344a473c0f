"""Chapter QAT: quantization-aware training — fake quantization forward and backward."""

from refq.qat.learnable import LearnableGradients, learnable_fake_quantize, learnable_fake_quantize_backward
from refq.qat.straight_through import fake_quantize, fake_quantize_backward, fake_quantize_mask

__all__ = ["fake_quantize", "fake_quantize_mask", "fake_quantize_backward", "learnable_fake_quantize",
           "learnable_fake_quantize_backward", "LearnableGradients"]
