"""Decode all 2^32 binary32 patterns with refq's kernel and compare with numpy, bit for bit.

numpy's reference is ``np.arange(..., dtype=uint32).view(float32).astype(float64)``, the
hardware's widening conversion (which quiets signalling NaNs and keeps their payload, as
refq's NUM-3.18 does). Run ``python benchmarks/exhaustive_binary32.py``; it prints the
time of the kernel and of numpy, and the number of mismatching patterns (0 expected).
``--log2-count N`` decodes the first 2^N patterns only; ``--json FILE`` writes the measurement.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from refq.numbers.floats import decode_array  # noqa: E402

CHUNK = 1 << 24


def check_all(chunk: int = CHUNK, count: int = 1 << 32) -> tuple[int, dict[str, float]]:
    """Return (mismatching patterns among the first ``count``, seconds spent in refq and in numpy)."""
    decode_array(np.arange(16, dtype=np.uint32), "binary32")  # compile (or load) before timing
    seconds = {"refq": 0.0, "numpy": 0.0}
    mismatches = 0
    for start in range(0, count, chunk):
        patterns = np.arange(start, min(start + chunk, count), dtype=np.uint64).astype(np.uint32)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-count", type=int, default=32, choices=range(4, 33), metavar="N",
                        help="decode the first 2^N patterns (default 32: all)")
    parser.add_argument("--json", metavar="FILE", help="write the measurement (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    print_routes()
    count = 1 << args.log2_count
    began = time.perf_counter()
    mismatches, seconds = check_all(count=count)
    total = time.perf_counter() - began
    print(f"binary32 decode, the first 2^{args.log2_count} patterns: {mismatches} mismatches")
    print(f"refq kernel {seconds['refq']:.1f} s ({count / seconds['refq'] / 1e6:.0f} M patterns/s), "
          f"numpy {seconds['numpy']:.1f} s, total with comparison {total:.1f} s")
    reference = "numpy float32 -> float64 cast"
    measurement = Measurement(
        "exhaustive_binary32", "decode binary32", f"the first 2^{args.log2_count} patterns", "M patterns/s",
        count / seconds["refq"] / 1e6, {reference: count / seconds["numpy"] / 1e6}, reference,
        note=f"{mismatches} mismatching patterns", details={"mismatches": mismatches, "total_seconds": total})
    print_table([measurement])
    if args.json:
        write([measurement], args.json)
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
