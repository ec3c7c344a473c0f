"""Histogram observer on 10^7 float32 values: refq against torch's HistogramObserver.

Run: python benchmarks/observers_histogram.py   (prints update, qparams and total times, and the ratio)
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from torch.ao.quantization import HistogramObserver

from refq.observers.histogram import histogram_init, histogram_qparams, histogram_update


def best_of(function, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal(5_000_000).astype(np.float32), (rng.standard_normal(5_000_000) * 2).astype(np.float32)]
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

    run_refq()  # compile
    torch_time, refq_time = best_of(run_torch), best_of(run_refq)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()}: {torch_time * 1e3:.1f} ms")
    print(f"refq: {refq_time * 1e3:.1f} ms   speed-up {torch_time / refq_time:.2f}x (10^7 values, 2 batches + qparams)")


if __name__ == "__main__":
    main()
