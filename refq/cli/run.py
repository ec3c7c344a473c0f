"""``refq run``: a quantized ONNX model run by refq node by node, beside ONNX Runtime or another profile.

Exit status 0 when every node output has the same bits in both runs, 1 when one differs (the first
differing tensor in graph order is reported, with the trace of its first differing element where
the node is a QuantizeLinear), 2 for a usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx",
                        help="a model made of refq's operators: QOperator form, or QDQ with MatMul and Conv groups")
    parser.add_argument("--profile", default="onnx", help="the profile refq runs the model under (default onnx)")
    parser.add_argument("--compare", metavar="ENGINE", default="onnxruntime",
                        help="'onnxruntime', or another profile to run refq under (default onnxruntime)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                        help="a graph input from a .npy file (repeat for each); inputs not given are drawn with --seed")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs drawn for inputs not given (default 0)")


def _inputs(model, given: list[str], seed: int) -> dict:
    import numpy as np
    from onnx import helper

    from refq.errors import invalid

    initializers = {tensor.name for tensor in model.graph.initializer}
    feeds = [value for value in model.graph.input if value.name not in initializers]
    arrays = {}
    for item in given:
        name, separator, file = item.partition("=")
        if not separator or name not in {value.name for value in feeds}:
            raise invalid("--input", "NAME=FILE.npy with NAME one of " + ", ".join(value.name for value in feeds), item)
        try:
            arrays[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise invalid("--input", "a readable .npy file", f"{file} ({error})") from None
    generator = np.random.default_rng(seed)
    for value in feeds:
        if value.name in arrays:
            continue
        tensor = value.type.tensor_type
        shape = [dimension.dim_value or 1 for dimension in tensor.shape.dim]
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        if dtype.kind == "f":
            arrays[value.name] = generator.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            arrays[value.name] = generator.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
        else:
            raise invalid("--input", f"a file for input {value.name} (of {dtype}: no inputs are drawn of it)", "none")
    return arrays


def _trace_command(difference, profile: str) -> str | None:
    """The ``refq quantize ... --trace`` line for a QuantizeLinear element (per-tensor parameters)."""
    import numpy as np

    if difference.node.op_type != "QuantizeLinear" or len(difference.index) != np.ndim(difference.inputs[0]):
        return None
    x, scale, zero_point = (list(difference.inputs) + [None, None])[:3]
    if np.asarray(scale).size != 1:
        return None
    value = np.asarray(x)[difference.index]
    dtype = "uint8" if zero_point is None else np.asarray(zero_point).dtype.name
    zero = 0 if zero_point is None else int(np.asarray(zero_point).reshape(()))
    scale = float(np.asarray(scale, np.float32).reshape(()))
    return (f"refq quantize {float(np.float32(value))!r} --scale {scale!r} --zero-point {zero} --dtype {dtype} "
            f"--profile {profile} --trace")


def run(args: argparse.Namespace) -> int:
    import onnx

    from refq.backends.onnx_graph import (QDQ_GROUPS, RefqOnnxBackend, UnsupportedNode, first_difference, fuse_qdq,
                                          run_onnxruntime_all)
    from refq.errors import invalid
    from refq.registry.profiles import PROFILES_BY_NAME

    path = Path(args.model)
    try:
        model = onnx.load(str(path))
    except Exception as error:  # noqa: BLE001 - onnx raises a bare DecodeError, OSError or its own on a bad file
        raise invalid("MODEL.onnx", "a readable ONNX model", f"{path} ({type(error).__name__})") from None
    for name, option in ((args.profile, "--profile"), *(((args.compare, "--compare"),) if args.compare != "onnxruntime"
                                                        else ())):
        if name not in PROFILES_BY_NAME:
            raise invalid(option, "a profile name" + (" or 'onnxruntime'" if option == "--compare" else "") + ": "
                          + ", ".join(sorted(PROFILES_BY_NAME)), name)
    inputs = _inputs(model, args.input, args.seed)
    rewritten = fuse_qdq(model)
    groups = sum(node.op_type in QDQ_GROUPS for node in model.graph.node) - \
        sum(node.op_type in QDQ_GROUPS for node in rewritten.graph.node)
    if groups:
        operators = sorted({QDQ_GROUPS[node.op_type] for node in model.graph.node if node.op_type in QDQ_GROUPS})
        print(f"{path.name}: refq runs {groups} QDQ group{'s' if groups > 1 else ''} as the integer operator"
              f"{'s' if groups > 1 else ''} {'they stand' if groups > 1 else 'it stands'} for ({', '.join(operators)})"
              + ("; onnxruntime runs their float operators as written" if args.compare == "onnxruntime" else ""))
    try:
        first = RefqOnnxBackend.prepare(rewritten, profile=args.profile).run_all(inputs)
        second = (run_onnxruntime_all(model, inputs, exposed_from=rewritten if groups else None)
                  if args.compare == "onnxruntime"
                  else RefqOnnxBackend.prepare(rewritten, profile=args.compare).run_all(inputs))
    except UnsupportedNode as error:
        raise invalid("MODEL.onnx", "a graph of refq's operators", str(error)) from None
    model = rewritten
    outputs = sum(len(node.output) for node in model.graph.node)
    label = f"refq ({args.profile})", (args.compare if args.compare == "onnxruntime" else f"refq ({args.compare})")
    difference = first_difference(model, first, second)
    if difference is None:
        print(f"{path.name}: {len(model.graph.node)} nodes, {outputs} tensors: {label[0]} and {label[1]} agree on every bit")
        return 0
    node = difference.node
    print(f"{path.name}: first differing tensor {difference.output!r}, output of {node.op_type} "
          f"node {node.name or '(unnamed)'}: {difference.count} of {difference.size} elements differ")
    print(f"  first at index {list(difference.index)}: {label[0]} {difference.first}, {label[1]} {difference.second}")
    command = _trace_command(difference, args.profile)
    if command:
        from refq.cli import main

        print(f"  why: {command}")
        main(command.split()[1:])
        if args.compare != "onnxruntime":
            print(f"  and under {args.compare}: {_trace_command(difference, args.compare)}")
    return 1
