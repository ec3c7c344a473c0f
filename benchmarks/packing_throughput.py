"""Code packing (BLK-10): refq's pack_codes and unpack_codes beside compressed-tensors, HQQ, torchao and the onnx
package, in one run.

Single thread, rows x columns codes; throughput is codes per second (in for pack, out for unpack). refq packs
under each engine's profile, so both produce the same units. Unpack reads the units pack made. There is no
target in the issue for packing: the rows are informational, each judged against the engine it is timed beside.

    python benchmarks/packing_throughput.py [--rows 4096] [--columns 4096] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

from refq.block.packing import pack_codes, unpack_codes  # noqa: E402

UNIT = "G codes/s"
#: (backend name, bits, signed codes): each engine at its commonest width, and compressed-tensors and HQQ at 3 bits
#: (fields that straddle int32 words, and ten planes to a word).
CASES = (("compressed-tensors", 4, True), ("compressed-tensors", 3, True), ("hqq", 4, False), ("hqq", 3, False),
         ("torchao-floor", 4, False), ("onnx-reference", 4, True))


def rate(seconds: float, size: int) -> float:
    return size / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--columns", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    arguments = parser.parse_args()
    import torch

    from refq.backends import BUILTIN

    print_routes()
    torch.set_num_threads(1)
    backends = {name: BUILTIN[name]() for name in dict.fromkeys(name for name, _, _ in CASES)}
    rng = np.random.default_rng(0)
    shape = (arguments.rows, arguments.columns)
    print(f"{arguments.rows} x {arguments.columns} codes, one thread")
    measurements = []
    for name, bits, signed in CASES:
        backend = backends[name]
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        codes = rng.integers(low, high + 1, shape).astype(np.int8 if signed else np.uint8)
        profile = backend.profile
        pack_codes(codes[:1], bits=bits, profile=profile)  # compile
        ours = best_seconds(lambda: pack_codes(codes, bits=bits, profile=profile), arguments.repeats)
        theirs = best_seconds(lambda: backend.pack_codes(codes, bits=bits), arguments.repeats)
        label = f"{name} {bits}-bit, {arguments.rows}x{arguments.columns}"
        measurements.append(Measurement("packing_throughput", "pack_codes", label, UNIT, rate(ours, codes.size),
                                        {name: rate(theirs, codes.size)}, name, group="beside each engine"))
        packed = pack_codes(codes, bits=bits, profile=profile)
        length = codes.size if packed.ndim == 1 else codes.shape[-1]
        unpack_codes(packed, bits=bits, length=length, signed=signed, profile=profile)  # compile
        ours = best_seconds(lambda: unpack_codes(packed, bits=bits, length=length, signed=signed, profile=profile),
                            arguments.repeats)
        theirs = best_seconds(lambda: backend.unpack_codes(packed, bits=bits, length=length, signed=signed),
                              arguments.repeats)
        measurements.append(Measurement("packing_throughput", "unpack_codes", label, UNIT, rate(ours, codes.size),
                                        {name: rate(theirs, codes.size)}, name, group="beside each engine"))
    print_table(measurements)
    if arguments.json:
        write(measurements, arguments.json)


if __name__ == "__main__":
    main()
