"""Histogram observer on 10^7 float32 values (two batches and the parameters): refq against torch's
HistogramObserver, whose parameters refq's reproduce.

    python benchmarks/observers_histogram.py [--size 5000000] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from record import Measurement, print_routes, print_table, write  # beside this script
from timing import best_seconds  # benchmarks/timing.py, beside this script

from refq.observers.histogram import histogram_init, histogram_qparams, histogram_update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000_000, help="values per batch (two batches)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    import torch
    from torch.ao.quantization import HistogramObserver

    print_routes()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal(args.size).astype(np.float32),
               (rng.standard_normal(args.size) * 2).astype(np.float32)]
    tensors = [torch.from_numpy(b) for b in batches]
    warnings.simplefilter("ignore")

    def run_torch():
        observer = HistogramObserver()
        for tensor in tensors:
            observer(tensor)
        return observer.calculate_qparams()

    def run_refq():
        state = histogram_init()
        for batch in batches:
            state = histogram_update(state, batch)
        return histogram_qparams(state)

    values = 2 * args.size

    def rate(function) -> float:
        return values / best_seconds(function, args.repeats) / 1e6

    refq = rate(run_refq)
    measurements = [Measurement(
        "observers_histogram", "observe_histogram", f"2 batches of {args.size} float32 values + qparams",
        "M values/s", refq, {"torch HistogramObserver": rate(run_torch)}, "torch HistogramObserver",
        note=f"torch threads={torch.get_num_threads()}")]
    print_table(measurements)
    if args.json:
        write(measurements, args.json)


if __name__ == "__main__":
    main()
