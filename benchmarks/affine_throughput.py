"""Quantize/dequantize throughput: refq beside ONNX Runtime, PyTorch and numpy, in one run.

Single thread everywhere, 2^24 float32 values per call, best of several repeats.
Ratios are what matter; absolute numbers move with the machine.

    python benchmarks/affine_throughput.py [--log2-size 24] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script




def onnxruntime_session(op: str, size: int):
    import onnxruntime
    from onnx import TensorProto, helper

    inputs = {"QuantizeLinear": (TensorProto.FLOAT, TensorProto.INT8), "DequantizeLinear": (TensorProto.INT8, TensorProto.FLOAT)}
    source, result = inputs[op]
    node = helper.make_node(op, ["x", "scale", "zero_point"], ["y"])
    graph = helper.make_graph(
        [node], "bench", [helper.make_tensor_value_info("x", source, [size])],
        [helper.make_tensor_value_info("y", result, [size])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [], [0.00214854861]),
                     helper.make_tensor("zero_point", TensorProto.INT8, [], [3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-size", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    size = 1 << args.log2_size
    x = (np.random.default_rng(0).standard_normal(size) * 0.3).astype(np.float32)
    scale, zero_point = np.float32(0.00214854861), 3

    import torch

    torch.set_num_threads(1)
    import refq
    from refq.affine import dequantize, quantize

    q = quantize(x, scale, zero_point)
    # ONNX Runtime reuses its arena between runs; out= gives refq the same advantage,
    # sparing the kernel from zeroing fresh pages on every call.
    q_out, x_out = np.empty_like(q), np.empty_like(x)
    ort_quantize = onnxruntime_session("QuantizeLinear", size)
    ort_dequantize = onnxruntime_session("DequantizeLinear", size)
    assert np.array_equal(ort_quantize(x), quantize(x, scale, zero_point, profile="onnxruntime"))
    x_torch = torch.from_numpy(x)
    q_torch = torch.quantize_per_tensor(x_torch, float(scale), zero_point, torch.qint8)

    def numpy_quantize():
        return np.clip(np.rint(x / scale) + zero_point, -128, 127).astype(np.int8)

    def numpy_dequantize():
        return (q.astype(np.float32) - np.float32(zero_point)) * scale

    rows = {
        "quantize": {
            "refq (onnx profile)": lambda: quantize(x, scale, zero_point),
            "refq (onnx profile, out=)": lambda: quantize(x, scale, zero_point, out=q_out),
            "refq (pytorch-fake-quant profile)": lambda: quantize(x, scale, zero_point, profile="pytorch-fake-quant"),
            "refq (pytorch profile, fused FMA)": lambda: quantize(x, scale, zero_point, profile="pytorch"),
            "onnxruntime QuantizeLinear": lambda: ort_quantize(x),
            "torch.quantize_per_tensor": lambda: torch.quantize_per_tensor(x_torch, float(scale), zero_point, torch.qint8),
            "numpy clip(rint(x / s) + z)": numpy_quantize,
        },
        "dequantize": {
            "refq": lambda: dequantize(q, scale, zero_point),
            "refq (out=)": lambda: dequantize(q, scale, zero_point, out=x_out),
            "onnxruntime DequantizeLinear": lambda: ort_dequantize(q),
            "torch Tensor.dequantize": lambda: q_torch.dequantize(),
            "numpy (q - z) * s": numpy_dequantize,
        },
    }
    print(f"refq {refq.__version__}, onnxruntime {__import__('onnxruntime').__version__}, torch {torch.__version__}, "
          f"numpy {np.__version__}; {size} float32 values, single thread, best of {args.repeats}")
    for operation, candidates in rows.items():
        results = {name: best_seconds(function, args.repeats) for name, function in candidates.items()}
        reference = results[f"onnxruntime {'QuantizeLinear' if operation == 'quantize' else 'DequantizeLinear'}"]
        print(f"\n{operation}: GB/s of float32 {'input' if operation == 'quantize' else 'output'}, ratio to onnxruntime")
        for name, seconds in results.items():
            print(f"  {name:<36} {size * 4 / seconds / 1e9:7.2f} GB/s   {reference / seconds:5.2f}x")


if __name__ == "__main__":
    main()
