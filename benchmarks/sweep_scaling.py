"""``refq sweep --scheduler`` scaling: the same range of ONNX Runtime's QuantizeLinear swept on a Dask
LocalCluster on loopback with 1 and then 2 workers, and the wall time of a sign-off sweep projected.

Each run is what the CLI does (``sweep_on_cluster`` with the backend isolated in refq's worker process
on each Dask worker). Per cluster size, one sweep of a single chunk comes first and then the sweep of
``--chunks`` chunks, after a first sweep of one chunk per worker that is not counted (it imports refq
and the backend into each Dask worker and loads the compiled kernels). Both counted sweeps load the
backend once per worker, so the difference of their wall times over the extra chunks is the cost of
one chunk with the start-up taken out. The two results must be
identical, field for field (the seconds aside), or the script fails.

The projection (2^32 inputs x 256 scale/zero-point pairs on 64 workers) assumes: workers as fast as
one worker here; linear scaling (the 2-worker efficiency measured here is shown beside it); each
worker loading the backend once per pair it meets, which is every pair (each pair's 256 chunks are
spread over all workers); the scheduler's per-task cost and the network hidden behind the chunks
(a chunk's inputs are generated on its worker and only counts come back).

    python benchmarks/sweep_scaling.py [--chunks 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script

BACKEND = "onnxruntime"
SCALE, ZERO_POINT = 0.0123, 3
#: Chunks start at 1/256 (0x3b800000): normal values, ties and saturating ones in every chunk range.
START = 0x3B800000
CHUNK = 1 << 24
#: The sign-off sweep projected: every float32 input, 256 parameter pairs, 64 workers.
PROJECTED_INPUTS, PROJECTED_PAIRS, PROJECTED_WORKERS = 1 << 32, 256, 64


def spec(chunks: int):
    from refq.conformance import sweep

    end = START + chunks * CHUNK
    return sweep.make_spec("quantize_linear", sweep.quantize_parameters(SCALE, ZERO_POINT, "int8"), "onnxruntime",
                           range_text=f"{START:#x}:{end:#x}")


def timed_sweep(client, chunks: int, isolate: bool = True):
    from refq.conformance import sweep

    began = time.perf_counter()
    [result] = sweep.sweep_on_cluster(BACKEND, [spec(chunks)], client, progress=False, isolate=isolate)
    seconds = time.perf_counter() - began
    if result.errors:
        raise SystemExit(f"sweep_scaling: the sweep reported errors: {result.errors[:3]}")
    return result, seconds


def on_cluster(workers: int, chunks: int) -> dict:
    import distributed

    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster:
        with distributed.Client(cluster) as client:
            client.wait_for_workers(workers)
            timed_sweep(client, workers)
            _, one = timed_sweep(client, 1)
            result, many = timed_sweep(client, chunks)
            run = {"result": result, "one_chunk_seconds": one, "seconds": many}
            if workers == 1:
                # What isolation costs: each chunk's 64 MB of inputs and its outputs cross a socket to
                # refq's worker process and back (pickled); in the Dask worker's own process they do not.
                timed_sweep(client, 1, isolate=False)
                _, in_one = timed_sweep(client, 1, isolate=False)
                in_result, in_many = timed_sweep(client, chunks, isolate=False)
                if not same(in_result, result):
                    raise SystemExit("sweep_scaling: the in-process and isolated results differ")
                run["in_process_chunk_seconds"] = (in_many - in_one) / (chunks - 1)
    print(f"{workers} worker(s): 1 chunk {one:.2f} s, {chunks} chunks {many:.2f} s", flush=True)
    return run


def same(one, other) -> bool:
    left, right = one.to_json(), other.to_json()
    for data in (left, right):
        data.pop("seconds")
    return left == right


def projection(chunk_seconds: float, startup_seconds: float) -> dict:
    chunks = PROJECTED_INPUTS // CHUNK * PROJECTED_PAIRS
    per_worker = chunks / PROJECTED_WORKERS
    startups = min(PROJECTED_PAIRS, per_worker)
    seconds = per_worker * chunk_seconds + startups * startup_seconds
    return {"projected chunks": chunks, "projected chunks per worker": per_worker,
            "projected start-ups per worker": startups, "projected wall seconds": seconds,
            "projected wall seconds, chunks only": per_worker * chunk_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8, help="chunks of 2^24 inputs per sweep (default 8)")
    parser.add_argument("--json", metavar="FILE", help="write the measurement (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    if args.chunks < 2:
        parser.error("--chunks: at least 2 (the per-chunk cost is a difference over the extra chunks)")
    import onnxruntime

    print_routes()
    print(f"refq sweep --scheduler: onnxruntime {onnxruntime.__version__} QuantizeLinear, scale {SCALE}, zero point "
          f"{ZERO_POINT}, int8, {args.chunks} chunks of 2^24 from {START:#x}; LocalCluster on 127.0.0.1, "
          f"one thread per worker, {os.cpu_count()} CPUs", flush=True)
    runs = {workers: on_cluster(workers, args.chunks) for workers in (1, 2)}
    if not same(runs[1]["result"], runs[2]["result"]):
        raise SystemExit("sweep_scaling: the 1-worker and 2-worker results differ")
    result = runs[1]["result"]
    inputs = args.chunks * CHUNK
    chunk_seconds = (runs[1]["seconds"] - runs[1]["one_chunk_seconds"]) / (args.chunks - 1)
    startup_seconds = max(runs[1]["one_chunk_seconds"] - chunk_seconds, 0.0)
    speedup = runs[1]["seconds"] / runs[2]["seconds"]
    projected = projection(chunk_seconds, startup_seconds)
    print(f"results identical: {result.inputs} inputs, {result.mismatches} mismatches, {result.unpredictable} "
          f"unpredictable; per chunk {chunk_seconds:.3f} s, backend start-up {startup_seconds:.2f} s, "
          f"2 workers / 1: {speedup:.2f}x (efficiency {speedup / 2:.0%}); per chunk with the backend in the "
          f"Dask worker's own process (not isolated): {runs[1]['in_process_chunk_seconds']:.3f} s")
    hours = projected["projected wall seconds"] / 3600
    print(f"projected: 2^32 inputs x {PROJECTED_PAIRS} pairs on {PROJECTED_WORKERS} workers = "
          f"{projected['projected chunks']} chunks, {projected['projected chunks per worker']:.0f} per worker: "
          f"{hours:.2f} h ({projected['projected wall seconds, chunks only'] / 3600:.2f} h of chunks, the rest "
          f"{projected['projected start-ups per worker']:.0f} backend start-ups per worker), at linear scaling")
    details = {"inputs": inputs, "chunks": args.chunks, "mismatches": result.mismatches,
               "1 worker seconds": runs[1]["seconds"], "2 workers seconds": runs[2]["seconds"],
               "1 worker, 1 chunk seconds": runs[1]["one_chunk_seconds"],
               "2 workers, 1 chunk seconds": runs[2]["one_chunk_seconds"],
               "chunk seconds": chunk_seconds, "backend start-up seconds": startup_seconds,
               "chunk seconds, backend in the Dask worker's process": runs[1]["in_process_chunk_seconds"],
               "2-worker efficiency": speedup / 2, "results identical": "yes", **projected}
    measurement = Measurement(
        "sweep_scaling", "refq sweep --scheduler", f"onnxruntime quantize_linear, {args.chunks} x 2^24 inputs",
        "M inputs/s", inputs / runs[2]["seconds"] / 1e6, {"1 worker": inputs / runs[1]["seconds"] / 1e6}, "1 worker",
        note=f"2 Dask workers on {os.cpu_count()} CPUs beside 1; projected 2^32 x {PROJECTED_PAIRS} pairs on "
             f"{PROJECTED_WORKERS} workers: {hours:.2f} h", details=details)
    print_table([measurement])
    if args.json:
        write([measurement], args.json)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
