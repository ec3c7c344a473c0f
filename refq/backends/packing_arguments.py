"""What the packing adapters share (BLK-10): the codes or units an engine is handed as rows along the last axis,
and the refusals of a number of bits an engine does not pack."""

from __future__ import annotations

import numpy as np


def check_bits(bits, supported: tuple[int, ...], engine: str) -> int:
    """``bits`` as an int, or NotImplementedError where ``engine`` packs no codes of that width."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise ValueError(f"bits: must be an integer from 1 to 8, got {bits!r}")
    if int(bits) not in supported:
        raise NotImplementedError(f"{engine}: {bits}-bit codes (it packs {', '.join(map(str, supported))} bits)")
    return int(bits)


def code_rows(values) -> tuple[np.ndarray, tuple[int, ...]]:
    """``values`` (codes or units, of any rank from 1) as a contiguous two-dimensional copy of its own dtype whose
    rows are its rows along the last axis, and the leading shape to give the result back. Nothing is checked or
    converted: what the engine does with the values is what is measured."""
    array = np.asarray(values)
    return np.array(array.reshape(-1, array.shape[-1]) if array.ndim else array.reshape(1, 1)), array.shape[:-1]
