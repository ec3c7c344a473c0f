"""Decode all 2^32 binary32 patterns with refq's kernel and compare with numpy, bit for bit.

numpy's reference is ``np.arange(..., dtype=uint32).view(float32).astype(float64)``, the
hardware's widening conversion (which quiets signalling NaNs and keeps their payload, as
refq's NUM-3.18 does). Run ``python benchmarks/exhaustive_binary32.py``; it prints the
time of the kernel and of numpy, and the number of mismatching patterns (0 expected).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refq.numbers.floats import decode_array  # noqa: E402

CHUNK = 1 << 24


def check_all(chunk: int = CHUNK) -> tuple[int, dict[str, float]]:
    """Return (mismatching patterns, seconds spent in refq and in numpy)."""
    decode_array(np.arange(16, dtype=np.uint32), "binary32")  # compile (or load) before timing
    seconds = {"refq": 0.0, "numpy": 0.0}
    mismatches = 0
    for start in range(0, 1 << 32, chunk):
        patterns = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32)
        began = time.perf_counter()
        ours = decode_array(patterns, "binary32").view(np.uint64)
        seconds["refq"] += time.perf_counter() - began
        began = time.perf_counter()
        with np.errstate(invalid="ignore"):  # numpy warns on NaN casts
            theirs = patterns.view(np.float32).astype(np.float64).view(np.uint64)
        seconds["numpy"] += time.perf_counter() - began
        mismatches += int(np.count_nonzero(ours != theirs))
    return mismatches, seconds


def main() -> int:
    began = time.perf_counter()
    mismatches, seconds = check_all()
    total = time.perf_counter() - began
    print(f"binary32 decode, all 2^32 patterns: {mismatches} mismatches")
    print(f"refq kernel {seconds['refq']:.1f} s ({(1 << 32) / seconds['refq'] / 1e6:.0f} M patterns/s), "
          f"numpy {seconds['numpy']:.1f} s, total with comparison {total:.1f} s")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
