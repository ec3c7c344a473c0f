"""What the torch adapters share: the torch module (imported when an adapter is instantiated), the
version, the deprecation filter of quantized tensors, one thread without autograd for a call, and the
convolution output check."""

from __future__ import annotations

import contextlib
import warnings


def torch_module():
    import torch

    return torch


@contextlib.contextmanager
def quantized_tensors_deprecated():
    """torch 2.13 warns that quantized tensors are deprecated; they are what is being measured."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*", category=UserWarning)
        yield


@contextlib.contextmanager
def one_thread_no_grad():
    """A call on one torch thread without autograd, the thread count restored after it (the int4 group
    engines, timed and compared single-threaded as every engine is)."""
    torch = torch_module()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(previous)


def version() -> str:
    return torch_module().__version__


def require_output(spatial, kernel, pads, strides, dilations) -> None:
    """An empty convolution output is an error: QNNPACK does not check and crashes the process."""
    for size, extent, pad, stride, dilation in zip(spatial, kernel, pads, strides, dilations):
        if stride < 1 or dilation < 1 or size + 2 * pad - (extent - 1) * dilation - 1 < 0:
            raise ValueError(f"torch quantized conv2d: no output for input {tuple(spatial)}, kernel {tuple(kernel)}, "
                             f"pads {tuple(pads)}, strides {tuple(strides)}, dilations {tuple(dilations)}")
