"""PyTorch's quantization entry points, CPU: quantized tensors, fake quantization, and the
decomposed ops of PyTorch 2 export (``torch.ops.quantized_decomposed``).

Each class describes one code path with its own profile: they round and handle NaN
differently (see :mod:`refq.registry.profiles`). One module per code path.
"""

from refq.backends.torch.fake_quant import TorchFakeQuantBackend
from refq.backends.torch.pt2e import TorchPT2EBackend
from refq.backends.torch.quantized import TorchBackend, TorchQnnpackBackend

__all__ = ["TorchBackend", "TorchFakeQuantBackend", "TorchPT2EBackend", "TorchQnnpackBackend"]
