"""A run of consecutive float32 bit patterns, sent to a worker process as its bounds instead of its values.

A sweep's chunk is 2^24 or more consecutive binary32 patterns. Pickled to an isolated backend's worker it
costs 64 MiB each way per chunk, about ten times the time of the comparison itself; described by its start
and length, the worker makes the same values in one pass (:func:`materialized`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatternRange:
    """The float32 values whose bit patterns are ``start`` to ``start + count - 1``."""

    start: int
    count: int

    def values(self) -> np.ndarray:
        patterns = np.arange(self.count, dtype=np.uint32)
        patterns += np.uint32(self.start)
        return patterns.view(np.float32)


def materialized(inputs: dict) -> dict:
    """``inputs`` with every :class:`PatternRange` replaced by its values."""
    return {name: value.values() if isinstance(value, PatternRange) else value for name, value in inputs.items()}
