"""ggml block types: refq's quantize/dequantize beside gguf-py and ggml's own C, in one run.

Single thread, float32 input, best of several repeats; throughput is float32 bytes per second
(4 bytes per element, in for quantize and out for dequantize). ggml is built from its sources by
the libraries `refq ggml build` compiles (``-O2 -ffp-contract=off``, the unfused reference, and the fixed
x86-64-v3 build with fused multiply-adds) when they are present, and left out otherwise. gguf-py has no
quantize for the K and IQ types. A row's reference is ggml's unfused C where it is built, else gguf-py.

    python benchmarks/gguf_throughput.py [--log2-size 22] [--repeats 5] [--types Q4_0,Q4_K] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import gguf_ggml  # noqa: E402

from refq.gguf import BLOCK_TYPES, gguf_dequantize, gguf_quantize  # noqa: E402

GGUF_PY_QUANTIZE = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4"}
GGUF_PY_DEQUANTIZE = GGUF_PY_QUANTIZE | {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "IQ2_XXS",
                                         "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M"}
ROW = 4096


def rate(seconds: float, size: int) -> float:
    return 4 * size / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-size", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--types", default=",".join(t.name for t in BLOCK_TYPES))
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    print_routes()
    size = 1 << args.log2_size
    x = (np.random.default_rng(0).standard_normal(size) * 0.02).astype(np.float32)
    import gguf
    from gguf import quants

    np.seterr(all="ignore")  # random IQ bytes hold NaN and infinite scales; gguf-py warns on them
    with_ggml = gguf_ggml.unavailable_reason() is None
    if not with_ggml:
        print(f"ggml left out: {gguf_ggml.unavailable_reason()}")
    print(f"{size} float32 values, single thread, GB/s of float32; ratio = refq / other")
    print(f"{'type':6} {'op':10} {'refq':>7} {'gguf-py':>8} {'ratio':>6} {'ggml':>7} {'ratio':>6} "
          f"{'ggml fused':>10} {'ratio':>6}")
    measurements = []
    for name in args.types.split(","):
        # None for a type this gguf-py does not know (Q2_0): it is timed against ggml alone.
        kind = gguf.GGMLQuantizationType.__members__.get(name)
        block_type = BLOCK_TYPES[[t.name for t in BLOCK_TYPES].index(name)]
        elements = block_type.block_elements
        rows = {"quantize": {}, "dequantize": {}}
        if block_type.quantize:
            blocks = gguf_quantize(x, type=name)
            rows["quantize"]["refq"] = rate(best_seconds(lambda: gguf_quantize(x, type=name), args.repeats), size)
        else:
            # Dequantize only (the lattice IQ types): random bytes, whose scales are mostly finite.
            blocks = np.random.default_rng(1).integers(0, 256, size // elements * block_type.block_bytes, dtype=np.uint8)
        # gguf-py works row by row: rows of 4096, as in a model's weight matrix.
        row_blocks = ROW // elements
        if name in GGUF_PY_QUANTIZE and kind is not None:
            shaped = x.reshape(-1, ROW)
            rows["quantize"]["gguf-py"] = rate(best_seconds(lambda: quants.quantize(shaped, kind), args.repeats), size)
        if name != "Q8_1":
            rows["dequantize"]["refq"] = rate(best_seconds(lambda: gguf_dequantize(blocks, type=name), args.repeats),
                                              size)
            if name in GGUF_PY_DEQUANTIZE and kind is not None:
                shaped_blocks = blocks.reshape(-1, row_blocks * gguf.GGML_QUANT_SIZES[kind][1])
                rows["dequantize"]["gguf-py"] = rate(
                    best_seconds(lambda: quants.dequantize(shaped_blocks, kind), args.repeats), size)
        if with_ggml:
            for build, label in (("unfused", "ggml"), ("fused", "ggml fused")):
                if block_type.quantize:
                    rows["quantize"][label] = rate(
                        best_seconds(lambda: gguf_ggml.quantize(build, name, x), args.repeats), size)
                if name != "Q8_1":
                    rows["dequantize"][label] = rate(
                        best_seconds(lambda: gguf_ggml.dequantize(build, name, blocks), args.repeats), size)
        for op, row in rows.items():
            if "refq" not in row:
                continue
            cells = [f"{name:6} {op:10} {row['refq']:7.3f}"]
            for label, width in (("gguf-py", 8), ("ggml", 7), ("ggml fused", 10)):
                if label in row:
                    cells.append(f"{row[label]:{width}.3f} {row['refq'] / row[label]:5.2f}x")
                else:
                    cells.append(f"{'-':>{width}} {'':6}")
            print(" ".join(cells), flush=True)
            others = {label: value for label, value in row.items() if label != "refq"}
            reference = next((label for label in ("ggml", "gguf-py") if label in others), None)
            measurements.append(Measurement(
                "gguf_throughput", f"gguf_{op}", f"{name}, 2^{args.log2_size}", "GB/s of float32", row["refq"], others,
                reference, group="every block type"))
    print()
    print_table(measurements)
    if args.json:
        write(measurements, args.json)


if __name__ == "__main__":
    main()
