"""OCP MX block quantize / dequantize: refq beside torchao's CPU implementation, in one run.

Single thread (torch.set_num_threads(1)), float32 input, best of several repeats; throughput is float32
bytes per second (4 bytes per element, in for quantize and out for dequantize). refq computes under
each torchao profile the exact bits of the torchao mode it is timed against.

    python benchmarks/block_throughput.py [--log2-size 22] [--repeats 3] [--formats float8_e4m3fn,float4_e2m1fn]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

from refq.block import ELEMENT_FORMATS, block_dequantize, block_quantize  # noqa: E402

MODES = {"FLOOR": "torchao-floor", "RCEIL": "torchao-rceil"}
UNIT = "GB/s of float32"


def rate(seconds: float, size: int) -> float:
    return 4 * size / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-size", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default=",".join(ELEMENT_FORMATS))
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    arguments = parser.parse_args()
    import torch

    from refq.backends.torchao import TorchaoMxBackend, TorchaoRceilBackend

    print_routes()
    torch.set_num_threads(1)
    backends = {"FLOOR": TorchaoMxBackend(), "RCEIL": TorchaoRceilBackend()}
    size = 1 << arguments.log2_size
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(size) * np.exp2(rng.integers(-20, 20, size // 32).repeat(32))).astype(np.float32)
    print(f"{size} float32 values, blocks of 32, one thread")
    measurements = []
    for name in arguments.formats.split(","):
        for mode, profile in MODES.items():
            backend = backends[mode]
            ours = best_seconds(lambda: block_quantize(x, format=name, profile=profile), arguments.repeats)
            theirs = best_seconds(lambda: backend.block_quantize(x, format=name), arguments.repeats)
            measurements.append(Measurement(
                "block_throughput", "block_quantize", f"{name}, {mode}, 2^{arguments.log2_size}", UNIT,
                rate(ours, size), {f"torchao to_mx {mode}": rate(theirs, size)}, f"torchao to_mx {mode}",
                group=f"{mode} scales"))
        scales, codes = block_quantize(x, format=name, profile="torchao-floor")
        ours = best_seconds(lambda: block_dequantize(scales, codes, format=name, profile="torchao-floor"),
                            arguments.repeats)
        theirs = best_seconds(lambda: backends["FLOOR"].block_dequantize(scales, codes, format=name),
                              arguments.repeats)
        measurements.append(Measurement(
            "block_throughput", "block_dequantize", f"{name}, 2^{arguments.log2_size}", UNIT, rate(ours, size),
            {"torchao to_dtype": rate(theirs, size)}, "torchao to_dtype", group="every element format"))
    print_table(measurements)
    if arguments.json:
        write(measurements, arguments.json)


if __name__ == "__main__":
    main()
