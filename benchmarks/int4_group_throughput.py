"""Weight-only int4 groups (BLK-9): refq beside compressed-tensors, HQQ and ONNX Runtime's MLAS, in one run.

Single thread, a float32 weight of rows x columns, groups of 128 along the rows; throughput is float32 bytes per
second (4 bytes per element, in for quantize and out for dequantize). refq computes under each engine's profile
the exact bits of the engine it is timed against. The issue's target is 10x the fastest real implementation
timed beside it (for quantize and for dequantize alike).

    python benchmarks/int4_group_throughput.py [--rows 2048] [--columns 1024] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

from refq.block.int4_group import int4_group_dequantize, int4_group_quantize  # noqa: E402

UNIT = "GB/s of float32"
GROUP = 128
#: (backend name, symmetric): each engine's modes.
CASES = (("compressed-tensors", True), ("compressed-tensors", False), ("hqq", False),
         ("onnxruntime-mlas-int4", True), ("onnxruntime-mlas-int4", False))
TARGET = 10.0


def rate(seconds: float, size: int) -> float:
    return 4 * size / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--columns", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    arguments = parser.parse_args()
    import torch

    from refq.backends import BUILTIN

    print_routes()
    torch.set_num_threads(1)
    backends = {name: BUILTIN[name]() for name in dict.fromkeys(name for name, _ in CASES)}
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((arguments.rows, arguments.columns))
         * np.exp2(rng.integers(-8, 8, (arguments.rows, 1)))).astype(np.float32)
    size = x.size
    print(f"{arguments.rows} x {arguments.columns} float32 weights, groups of {GROUP}, one thread")
    quantized, dequantized = {}, {}
    for name, symmetric in CASES:
        backend = backends[name]
        int4_group_quantize(x[:1], group_size=GROUP, symmetric=symmetric, profile=backend.profile)  # compile
        ours = best_seconds(lambda: int4_group_quantize(x, group_size=GROUP, symmetric=symmetric,
                                                        profile=backend.profile), arguments.repeats)
        theirs = best_seconds(lambda: backend.int4_group_quantize(x, group_size=GROUP, symmetric=symmetric),
                              arguments.repeats)
        kind = "symmetric" if symmetric else "asymmetric"
        quantized[f"{name} {kind}"] = (rate(ours, size), rate(theirs, size))
        if name not in dequantized and not symmetric:
            scales, zero_points, codes = int4_group_quantize(x, group_size=GROUP, symmetric=symmetric,
                                                             profile=backend.profile)
            int4_group_dequantize(scales[:1], zero_points[:1], codes[:1], group_size=GROUP)
            ours = best_seconds(lambda: int4_group_dequantize(scales, zero_points, codes, group_size=GROUP),
                                arguments.repeats)
            theirs = best_seconds(lambda: backend.int4_group_dequantize(scales, zero_points, codes,
                                                                        group_size=GROUP), arguments.repeats)
            dequantized[name] = (rate(ours, size), rate(theirs, size))
    measurements = []
    for operation, timed in (("int4_group_quantize", quantized), ("int4_group_dequantize", dequantized)):
        fastest = max(timed, key=lambda label: timed[label][1])
        against = {label: engine for label, (_, engine) in timed.items()}
        for label, (ours, _) in timed.items():
            # Every row is judged against the fastest engine of the operation, as the issue asks.
            measurements.append(Measurement(
                "int4_group_throughput", operation, f"{label}, {arguments.rows}x{arguments.columns}", UNIT, ours,
                against, fastest, target=TARGET, group="10x the fastest engine"))
    print_table(measurements)
    if arguments.json:
        write(measurements, arguments.json)


if __name__ == "__main__":
    main()
