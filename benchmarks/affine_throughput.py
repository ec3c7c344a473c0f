"""Quantize/dequantize throughput: every refq profile beside ONNX Runtime, PyTorch and numpy, in one run.

Single thread everywhere, 2^24 float32 values per call, best of several repeats, taken in rounds
that call every implementation of an operation once each (so that a load elsewhere on the machine
weighs on refq and the engines alike). Ratios are what matter; absolute numbers move with the
machine. Every profile is timed with a fresh output array and with ``out=``, per tensor, and per
axis where the profile's per-axis variants differ; then the cost of a fresh output's pages is
measured on its own, and once more in a child process whose allocator keeps freed pages mapped.

    python benchmarks/affine_throughput.py [--log2-size 24] [--repeats 7] [--profiles onnx,tflite]
                                           [--operations quantize]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - benchmarks/record.py, beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

SCALE, ZERO_POINT = np.float32(0.00214854861), 3
#: glibc keeps freed blocks mapped: no mmap for large blocks, no trimming of the heap's top.
KEEP_PAGES = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}


def onnxruntime_session(op: str, size: int):
    import onnxruntime
    from onnx import TensorProto, helper

    inputs = {"QuantizeLinear": (TensorProto.FLOAT, TensorProto.INT8), "DequantizeLinear": (TensorProto.INT8, TensorProto.FLOAT)}
    source, result = inputs[op]
    node = helper.make_node(op, ["x", "scale", "zero_point"], ["y"])
    graph = helper.make_graph(
        [node], "bench", [helper.make_tensor_value_info("x", source, [size])],
        [helper.make_tensor_value_info("y", result, [size])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [], [float(SCALE)]),
                     helper.make_tensor("zero_point", TensorProto.INT8, [], [ZERO_POINT])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def profile_rows(names, x, q, q_out, x_out):
    """Every profile's quantize and dequantize, fresh and into ``out=``; per axis (256 channels along
    axis 0) where the profile's per-axis variants differ from its per-tensor ones."""
    from refq.affine import dequantize, quantize
    from refq.registry.profiles import PROFILES_BY_NAME

    channels = 256
    x_rows = x.reshape(channels, -1)
    scales, zero_points = np.full(channels, SCALE, np.float32), np.full(channels, ZERO_POINT, np.int64)
    quantize_rows, dequantize_rows = {}, {}
    for name in names:
        quantize_rows[f"{name}"] = lambda p=name: quantize(x, SCALE, ZERO_POINT, profile=p)
        quantize_rows[f"{name}, out="] = lambda p=name: quantize(x, SCALE, ZERO_POINT, profile=p, out=q_out)
        if PROFILES_BY_NAME[name].quantize_per_axis:
            quantize_rows[f"{name} per axis"] = lambda p=name: quantize(x_rows, scales, zero_points, axis=0, profile=p)
            quantize_rows[f"{name} per axis, out="] = lambda p=name: quantize(
                x_rows, scales, zero_points, axis=0, profile=p, out=q_out.reshape(channels, -1))
        dequantize_rows[f"{name}"] = lambda p=name: dequantize(q, SCALE, ZERO_POINT, profile=p)
        dequantize_rows[f"{name}, out="] = lambda p=name: dequantize(q, SCALE, ZERO_POINT, profile=p, out=x_out)
    return quantize_rows, dequantize_rows


def row_group(name: str) -> str:
    """The README line a profile's row belongs to: its output (fresh or ``out=``) and layout, profile aside."""
    _, _, layout = name.partition(" ")
    _, comma, out = name.partition(", ")
    if comma and not layout.startswith("per axis"):
        return "out="
    return layout or "fresh output"


def interleaved_best_seconds(functions: dict, repeats: int) -> dict[str, float]:
    """:func:`timing.best_seconds` for several functions at once: after one warm-up call each, ``repeats``
    rounds that call every function once; each function's best round."""
    for function in functions.values():
        function()
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def fresh_pages_child(log2_size: int, repeats: int, names, operations) -> str:
    """The refq rows with fresh outputs, run in a child whose allocator keeps freed pages mapped."""
    code = (f"import sys; sys.argv = ['', '--log2-size', '{log2_size}', '--repeats', '{repeats}', "
            f"'--profiles', '{','.join(names)}', '--operations', '{','.join(operations)}', '--fresh-only']; "
            f"sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            "import affine_throughput; affine_throughput.main()")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **KEEP_PAGES}, capture_output=True,
                            text=True, check=True)
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-size", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profiles", help="comma-separated profile names (default: every profile)")
    parser.add_argument("--operations", default="quantize,dequantize",
                        help="comma-separated, of quantize and dequantize (default: both)")
    parser.add_argument("--fresh-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    size = 1 << args.log2_size
    x = (np.random.default_rng(0).standard_normal(size) * 0.3).astype(np.float32)

    import refq
    from refq.affine import quantize
    from refq.registry.profiles import PROFILES

    names = args.profiles.split(",") if args.profiles else [profile.name for profile in PROFILES]
    q = quantize(x, SCALE, ZERO_POINT)
    q_out, x_out = np.empty_like(q), np.empty_like(x)
    quantize_rows, dequantize_rows = profile_rows(names, x, q, q_out, x_out)
    operations = args.operations.split(",")
    unknown = set(operations) - {"quantize", "dequantize"}
    if unknown:
        parser.error(f"--operations: quantize or dequantize, got {', '.join(sorted(unknown))}")
    operation_rows = [(operation, rows) for operation, rows in (("quantize", quantize_rows),
                                                                ("dequantize", dequantize_rows))
                      if operation in operations]
    if args.fresh_only:
        for title, rows in operation_rows:
            for name, function in rows.items():
                if "out=" not in name:
                    print(f"{title}\t{name}\t{best_seconds(function, args.repeats)!r}")
        return

    import onnxruntime
    import torch

    torch.set_num_threads(1)
    ort_quantize = onnxruntime_session("QuantizeLinear", size)
    ort_dequantize = onnxruntime_session("DequantizeLinear", size)
    assert np.array_equal(ort_quantize(x), quantize(x, SCALE, ZERO_POINT, profile="onnxruntime"))
    x_torch = torch.from_numpy(x)
    q_torch = torch.quantize_per_tensor(x_torch, float(SCALE), ZERO_POINT, torch.qint8)
    engines = {
        "quantize": {
            "onnxruntime QuantizeLinear": lambda: ort_quantize(x),
            "torch.quantize_per_tensor": lambda: torch.quantize_per_tensor(x_torch, float(SCALE), ZERO_POINT,
                                                                           torch.qint8),
            "numpy clip(rint(x / s) + z)": lambda: np.clip(np.rint(x / SCALE) + ZERO_POINT, -128, 127).astype(np.int8),
        },
        "dequantize": {
            "onnxruntime DequantizeLinear": lambda: ort_dequantize(q),
            "torch Tensor.dequantize": lambda: q_torch.dequantize(),
            "numpy (q - z) * s": lambda: (q.astype(np.float32) - np.float32(ZERO_POINT)) * SCALE,
        },
    }
    pages = {
        f"np.empty({size} float32), every page touched": lambda: np.empty(size, np.float32)[::1024].fill(0),
        f"np.empty({size} int8), every page touched": lambda: np.empty(size, np.int8)[::4096].fill(0),
    }
    print_routes()
    print(f"refq {refq.__version__} ({os.path.dirname(refq.__file__)}), onnxruntime {onnxruntime.__version__}, "
          f"torch {torch.__version__}, numpy {np.__version__}; {size} float32 values, single thread, "
          f"best of {args.repeats} interleaved rounds")
    measured, measurements = {}, []
    for operation, rows in operation_rows:
        seconds = interleaved_best_seconds({**engines[operation], **rows}, args.repeats)
        others = {name: size * 4 / seconds[name] / 1e9 for name in engines[operation]}
        reference = next(iter(engines[operation]))
        measured[operation] = {name: seconds[name] for name in rows}
        unit = "GB/s of float32 " + ("input" if operation == "quantize" else "output")
        measurements += [Measurement("affine_throughput", operation, f"profile {name}", unit, size * 4 / seconds / 1e9,
                                     others, reference, 0.9, group=row_group(name))
                         for name, seconds in measured[operation].items()]
    print()
    print_table(measurements)
    page_times = {name: best_seconds(function, args.repeats) for name, function in pages.items()}
    float_pages_ms = next(iter(page_times.values())) * 1e3
    for index, row in enumerate(measurements):
        if row.group == "fresh output" and row.operation == "dequantize":
            engine_ms = size * 4 / row.against[row.reference] / 1e6
            measurements[index] = dataclasses.replace(
                row, note=f"a fresh float32 output is new pages: zeroing them costs {float_pages_ms:.1f} ms, "
                          f"{row.reference} takes {engine_ms:.1f} ms in all (out= and the pages-kept rows close it)",
                details={"fresh float32 output pages ms": float_pages_ms, "reference ms": engine_ms})
    child = {}
    for line in fresh_pages_child(args.log2_size, args.repeats, names, operations).splitlines():
        operation, name, seconds = line.split("\t")
        child[(operation, name)] = float(seconds)
    print("\nfresh output pages: a fresh numpy array above 32 MB is new mmap pages, which the kernel "
          "zeroes on first touch")
    for name, seconds in page_times.items():
        print(f"  {name:<58} {seconds * 1e3:6.2f} ms")
    print(f"  the same refq calls, fresh output, in a child with {' '.join(f'{k}={v}' for k, v in KEEP_PAGES.items())}"
          " (freed pages stay mapped, as in ONNX Runtime's arena):")
    kept = []
    for (operation, name), seconds in child.items():
        fresh = next(m for m in measurements if m.operation == operation and m.case == f"profile {name}")
        kept.append(dataclasses.replace(fresh, case=f"profile {name}, pages kept mapped", refq=size * 4 / seconds / 1e9,
                                        note="fresh output in a child whose glibc keeps freed pages mapped",
                                        group=row_group(name) + ", pages kept mapped"))
    print_table(kept)
    measurements += kept
    print("\nnotes: ONNX Runtime returns its output in arena memory it reuses from run to run, so its pages are "
          "mapped already; a fresh numpy array of 64 MB (dequantize's float32 output) is mmapped anew each call, "
          "and zeroing its pages costs about as much as ONNX Runtime's whole DequantizeLinear (the first line "
          "above), so a fresh float32 output cannot reach 0.9x in a default process. What closes it: out= (the "
          "rows above), or an allocator that keeps freed pages mapped (the child's glibc settings, or a NumPy "
          "memory handler with a pool, NEP 49). quantize's int8 output is a quarter of that size, which glibc "
          "reuses from its heap.")
    if args.json:
        write(measurements, args.json)


if __name__ == "__main__":
    main()
