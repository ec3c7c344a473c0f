"""refq: a bit-exact reference specification of neural-network quantization.

Importing refq is cheap: numba is imported, and kernels compiled, only when a
kernel is first called.
"""

from __future__ import annotations

from refq.errors import RefqError, RefqTypeError, RefqValueError

__version__ = "0.1.0"

__all__ = ["RefqError", "RefqTypeError", "RefqValueError", "__version__"]
