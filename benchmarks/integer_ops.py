"""Integer matmul and QLinearConv throughput beside ONNX Runtime, PyTorch (fbgemm) and numpy, single thread.

Targets (issue 17): ``matmul_integer`` int8 x int8 -> int32 at 512 x 512 x 512 at least 0.5x
``torch._int_mm`` (also timed: ONNX Runtime's MatMulInteger, issue 6's reference); ``qlinear_conv``
on a 1 x 32 x 56 x 56 input with 64 x 32 x 3 x 3 weights (padding 1) at least 1.0x ONNX Runtime's
QLinearConv. On CPUs with AVX512-VNNI refq's matrix product and convolution take the byte-dot-product
routes of INT-2.7 and INT-3.5; elsewhere the portable int16 kernels run. The script prints the CPU features and routes first.

    python benchmarks/integer_ops.py [--size 512] [--repeats 15] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import warnings

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from record import Measurement, print_routes, print_table, write  # noqa: E402 - beside this script
from timing import best_seconds  # noqa: E402 - benchmarks/timing.py, beside this script

from refq.integer_ops import matmul_integer, qlinear_conv  # noqa: E402

REPEATS = 15
SIZE = 512


def best_time(function) -> float:
    return best_seconds(function, REPEATS)


def ort_session(model):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def measurement(operation: str, case: str, operations: float, rows: list[tuple[str, float]], reference: str,
                target: float, note: str) -> Measurement:
    """The rows' times as GOP/s; the reference is left out (no target) where it could not be timed."""
    rates = {name: operations / seconds / 1e9 for name, seconds in rows}
    refq = rates.pop("refq")
    if reference not in rates:
        reference, target = None, None
    return Measurement("integer_ops", operation, case, "GOP/s", refq, rates, reference, target, note)


def matmul_benchmark() -> Measurement:
    from refq.backends.integer_models import build_integer_model

    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (SIZE, SIZE)).astype(np.int8)
    b = rng.integers(-128, 128, (SIZE, SIZE)).astype(np.int8)
    a_zero, b_zero = np.array(3, np.int8), np.array(-5, np.int8)
    rows = [("refq", best_time(lambda: matmul_integer(a, b, a_zero, b_zero)))]
    try:
        import torch

        torch.set_num_threads(1)
        ta8, tb8 = torch.from_numpy(a), torch.from_numpy(b)
        # torch._int_mm has no zero points: its product is refq's with none, checked before it is timed.
        assert np.array_equal(torch._int_mm(ta8, tb8).numpy(), matmul_integer(a, b))
        rows.append(("torch._int_mm", best_time(lambda: torch._int_mm(ta8, tb8))))
    except (ImportError, RuntimeError):
        pass
    try:
        inputs = (a, b, a_zero, b_zero)
        session = ort_session(build_integer_model("matmul_integer", inputs, {}))
        feeds = {"a": a, "b": b, "a_zero_point": a_zero, "b_zero_point": b_zero}
        assert np.array_equal(session.run(None, feeds)[0], matmul_integer(*inputs))
        rows.append(("onnxruntime MatMulInteger", best_time(lambda: session.run(None, feeds))))
    except ImportError:
        pass
    a32, b32 = a.astype(np.int32) - 3, b.astype(np.int32) + 5
    rows.append(("numpy int32 matmul (centred inputs)", best_time(lambda: a32 @ b32)))
    try:
        import torch

        torch.set_num_threads(1)
        ta, tb = torch.from_numpy(a32), torch.from_numpy(b32)
        rows.append(("torch int32 matmul (centred inputs)", best_time(lambda: ta @ tb)))
    except ImportError:
        pass
    from refq.integer_ops import vnni_matmul

    route = ("VNNI byte dot products (INT-2.7)" if vnni_matmul.use_byte_route(SIZE)
             else "portable wrapping int32 dot products (INT-2.3)")
    return measurement("matmul_integer", f"int8 x int8 -> int32, {SIZE}^3", 2 * SIZE**3, rows, "torch._int_mm", 0.5,
                       f"refq route: {route}; torch._int_mm without zero points, refq with them (3, -5)")


def conv_benchmark() -> Measurement:
    from refq.backends.integer_models import build_integer_model

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (1, 32, 56, 56)).astype(np.uint8)
    w = rng.integers(-128, 128, (64, 32, 3, 3)).astype(np.int8)
    w_scale = rng.uniform(0.001, 0.004, 64).astype(np.float32)
    bias = rng.integers(-5000, 5000, 64).astype(np.int32)
    inputs = (x, np.array(0.02, np.float32), np.array(128, np.uint8), w, w_scale, np.zeros(64, np.int8),
              np.array(0.35, np.float32), np.array(120, np.uint8), bias)
    attributes = {"pads": [1, 1, 1, 1]}
    operations = 2 * 64 * 32 * 9 * 56 * 56
    rows = [("refq", best_time(lambda: qlinear_conv(*inputs, **attributes)))]
    try:
        session = ort_session(build_integer_model("qlinear_conv", inputs, attributes))
        names = ("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point", "B")
        feeds = dict(zip(names, inputs))
        assert np.array_equal(session.run(None, feeds)[0], qlinear_conv(*inputs, **attributes))
        rows.append(("onnxruntime QLinearConv", best_time(lambda: session.run(None, feeds))))
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(1)
        torch.backends.quantized.engine = "fbgemm"
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*deprecated")
        qx = torch.quantize_per_tensor(torch.from_numpy((x.astype(np.float32) - 128) * 0.02), 0.02, 128,
                                       torch.quint8)
        qw = torch.quantize_per_channel(torch.from_numpy(w.astype(np.float32) * w_scale[:, None, None, None]),
                                        torch.from_numpy(w_scale.astype(np.float64)), torch.zeros(64, dtype=torch.long),
                                        0, torch.qint8)
        packed = torch.ops.quantized.conv2d_prepack(qw, torch.from_numpy((bias * 0.02 * w_scale).astype(np.float32)), [1, 1], [1, 1],
                                                    [1, 1], 1)
        rows.append(("torch quantized.conv2d (fbgemm)",
                     best_time(lambda: torch.ops.quantized.conv2d(qx, packed, 0.35, 120))))
    except (ImportError, RuntimeError):
        pass
    x32 = x.astype(np.int32)
    patches = np.lib.stride_tricks.sliding_window_view(np.pad(x32 - 128, ((0, 0), (0, 0), (1, 1), (1, 1))),
                                                       (3, 3), axis=(2, 3))
    w32 = w.astype(np.int32)
    rows.append(("numpy int32 tensordot (accumulator only)",
                 best_time(lambda: np.tensordot(w32, patches[0], axes=([1, 2, 3], [0, 3, 4])))))
    from refq.integer_ops import vnni

    route = "VNNI byte dot products (INT-3.5)" if vnni.use_vnni() else "portable int16 kernels (INT-3.4)"
    return measurement("qlinear_conv", "1x32x56x56 uint8, 64x32x3x3 int8 per channel, pad 1", operations, rows,
                       "onnxruntime QLinearConv", 1.0, f"refq route: {route}")


def main() -> None:
    global REPEATS, SIZE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE, help="matmul_integer's M = K = N (default 512)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    REPEATS, SIZE = args.repeats, args.size
    print_routes()
    measurements = [matmul_benchmark(), conv_benchmark()]
    print_table(measurements)
    if args.json:
        write(measurements, args.json)


if __name__ == "__main__":
    main()
