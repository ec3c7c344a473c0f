"""Block formats' quantize / dequantize: refq beside the real CPU implementations, in one run.

OCP MX (BLK-1 to BLK-6) beside torchao's to_mx; bitsandbytes' NF4 and FP4 (BLK-7) beside bitsandbytes' CPU
path and ONNX Runtime's bnb4 kernels; NVFP4 (BLK-8) beside torchao's and Model Optimizer's.

Single thread (torch.set_num_threads(1)), float32 input, best of several repeats after warm-up calls of
every implementation (the first call of some libraries is much slower); throughput is float32 bytes per
second (4 bytes per element, in for quantize and out for dequantize). refq computes under each engine's
profile the exact bits of the engine it is timed against. The bnb4 and NVFP4 rows are judged against the
fastest engine of their operation, with the issue's target of 10x.

    python benchmarks/block_throughput.py [--log2-size 22] [--repeats 3] [--formats float8_e4m3fn,float4_e2m1fn]
        [--families mx,bnb4,nvfp4] [--json FILE]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

from refq.block import ELEMENT_FORMATS, block_dequantize, block_quantize  # noqa: E402
from refq.block.bnb4 import bnb4_dequantize, bnb4_quantize  # noqa: E402
from refq.block.nvfp4 import nvfp4_dequantize, nvfp4_quantize  # noqa: E402

MODES = {"FLOOR": "torchao-floor", "RCEIL": "torchao-rceil"}
UNIT = "GB/s of float32"
FAMILIES = ("mx", "bnb4", "nvfp4")
#: bitsandbytes' 4-bit engines (backend names, each also the name of its profile), their tables, their block.
BNB4_ENGINES = ("bitsandbytes-cpu", "onnxruntime-bnb4")
BNB4_TYPES = ("nf4", "fp4")
BNB4_BLOCK = 64
NVFP4_ENGINES = ("torchao-nvfp4", "modelopt-nvfp4")
#: NVFP4's input: rows of this many columns (torchao's to_nvfp4 takes 2-D tensors).
NVFP4_COLUMNS = 1024
#: The issue's target for the bnb4 and NVFP4 rows: 10x the fastest engine of the operation.
TARGET = 10.0
#: Calls of every bnb4 and NVFP4 implementation before it is timed (beyond best_seconds' one).
WARM_UP = 2


def rate(seconds: float, size: int) -> float:
    return 4 * size / seconds / 1e9


def warmed(function, calls: int = WARM_UP):
    """``function`` after ``calls`` calls (first calls load kernels, build sessions, fault pages in), to time."""
    for _ in range(calls):
        function()
    return function


def judged(benchmark: str, operation: str, timed: dict[str, tuple[float, float]], case: str,
           group: str) -> list[Measurement]:
    """One row per engine timed: refq under that engine's profile, beside every engine, each row judged against
    the fastest engine of the operation (``timed``: label -> (refq, engine), in GB/s)."""
    fastest = max(timed, key=lambda label: timed[label][1])
    against = {label: engine for label, (_, engine) in timed.items()}
    return [Measurement(benchmark, operation, f"{label}, {case}", UNIT, ours, against, fastest, target=TARGET,
                        group=group) for label, (ours, _) in timed.items()]


def bnb4_rows(x: np.ndarray, log2_size: int, repeats: int) -> list[Measurement]:
    """BLK-7: NF4 and FP4 quantize and dequantize, refq under each engine's profile beside that engine."""
    from refq.backends import BUILTIN

    size = x.size
    backends = {name: BUILTIN[name]() for name in BNB4_ENGINES}
    measurements = []
    for quant_type in BNB4_TYPES:
        quantized, dequantized = {}, {}
        for name, backend in backends.items():
            ours = best_seconds(warmed(lambda: bnb4_quantize(x, quant_type=quant_type, block_size=BNB4_BLOCK,
                                                             profile=name)), repeats)
            theirs = best_seconds(warmed(lambda: backend.bnb4_quantize(x, quant_type=quant_type,
                                                                       block_size=BNB4_BLOCK)), repeats)
            quantized[name] = (rate(ours, size), rate(theirs, size))
            absmax, codes = bnb4_quantize(x, quant_type=quant_type, block_size=BNB4_BLOCK, profile=name)
            ours = best_seconds(warmed(lambda: bnb4_dequantize(absmax, codes, quant_type=quant_type,
                                                               block_size=BNB4_BLOCK, profile=name)), repeats)
            theirs = best_seconds(warmed(lambda: backend.bnb4_dequantize(absmax, codes, quant_type=quant_type,
                                                                         block_size=BNB4_BLOCK)), repeats)
            dequantized[name] = (rate(ours, size), rate(theirs, size))
        case = f"{quant_type}, blocks of {BNB4_BLOCK}, 2^{log2_size}"
        group = f"{quant_type}, 10x the fastest engine"
        measurements += judged("block_throughput", "bnb4_quantize", quantized, case, group)
        measurements += judged("block_throughput", "bnb4_dequantize", dequantized, case, group)
    return measurements


def nvfp4_rows(x: np.ndarray, log2_size: int, repeats: int) -> list[Measurement]:
    """BLK-8: NVFP4 quantize and dequantize, refq under each engine's profile beside that engine."""
    from refq.backends import BUILTIN

    size = x.size
    rows = x.reshape(-1, NVFP4_COLUMNS)
    quantized, dequantized = {}, {}
    for name in NVFP4_ENGINES:
        backend = BUILTIN[name]()
        ours = best_seconds(warmed(lambda: nvfp4_quantize(rows, profile=name)), repeats)
        theirs = best_seconds(warmed(lambda: backend.nvfp4_quantize(rows)), repeats)
        quantized[name] = (rate(ours, size), rate(theirs, size))
        tensor_scale, scales, codes = nvfp4_quantize(rows, profile=name)
        ours = best_seconds(warmed(lambda: nvfp4_dequantize(tensor_scale, scales, codes, profile=name)), repeats)
        theirs = best_seconds(warmed(lambda: backend.nvfp4_dequantize(tensor_scale, scales, codes)), repeats)
        dequantized[name] = (rate(ours, size), rate(theirs, size))
    case = f"{rows.shape[0]}x{NVFP4_COLUMNS}"
    return (judged("block_throughput", "nvfp4_quantize", quantized, case, "NVFP4, 10x the fastest engine")
            + judged("block_throughput", "nvfp4_dequantize", dequantized, case, "NVFP4, 10x the fastest engine"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-size", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default=",".join(ELEMENT_FORMATS))
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help="which block formats to time: mx (OCP MX), bnb4 (NF4, FP4), nvfp4")
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
    families = arguments.families.split(",")
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"--families: {', '.join(unknown)} (choose from {', '.join(FAMILIES)})")
    measurements = []
    for name in arguments.formats.split(",") if "mx" in families else ():
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
    if "bnb4" in families:
        measurements += bnb4_rows(x, arguments.log2_size, arguments.repeats)
    if "nvfp4" in families:
        measurements += nvfp4_rows(x, arguments.log2_size, arguments.repeats)
    print_table(measurements)
    if arguments.json:
        write(measurements, arguments.json)


if __name__ == "__main__":
    main()
