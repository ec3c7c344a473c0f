"""``refq sweep``: every input of a space through a backend and refq, compared bit for bit.

Exit status 0 when nothing differs, 1 on a mismatch or a backend error (a crash or a hang of the
adapter, which runs in the worker process, included), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", metavar="SPEC", help="the backend (as for refq conform)")
    parser.add_argument("--op", default="quantize_linear", choices=("quantize_linear", "cast"))
    parser.add_argument("--scale", type=float, help="quantize_linear: the scale (float32 > 0)")
    parser.add_argument("--zero-point", type=int, default=0, help="quantize_linear: the zero point (default 0)")
    parser.add_argument("--scales", metavar="LIST",
                        help="quantize_linear: a grid of scales, comma-separated (instead of --scale); every "
                             "scale is swept with every zero point")
    parser.add_argument("--zero-points", metavar="LIST",
                        help="quantize_linear: a grid of zero points, comma-separated (instead of --zero-point)")
    parser.add_argument("--dtype", default="int8", help="quantize_linear: the integer type (default int8)")
    parser.add_argument("--to", help="cast: the target float format (float8_e4m3fn, bfloat16, ...)")
    parser.add_argument("--saturate", action="store_true", help="cast: saturate instead of overflowing")
    parser.add_argument("--source", default="binary32",
                        help="cast: sweep every pattern of this format (binary16, bfloat16, 8/6/4-bit formats) "
                             "decoded to float32; default binary32, all 2^32 float32 patterns")
    parser.add_argument("--profile", help="judge against this profile instead of the backend's own")
    parser.add_argument("--range", metavar="START:END", help="only the patterns START..END-1 (hex allowed)")
    parser.add_argument("--shard", metavar="i/n", help="the i-th of n contiguous parts of the chunks (1-based)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="processes (default 1)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the chunks on the dask.distributed cluster at ADDRESS (tcp://host:8786): each "
                             "worker runs the backend locally; a chunk lost with a worker is run again")
    parser.add_argument("--json", metavar="PATH", help="write the (shard) result as JSON for --merge")
    parser.add_argument("--merge", nargs="+", metavar="FILE", help="combine shard results and print the total")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds a chunk (2^24 inputs) may take in the backend (default 600); a backend that "
                             "hangs or crashes costs that chunk, reported as an error")
    parser.add_argument("--no-progress", action="store_true", help="never draw the progress bar")


def run(args: argparse.Namespace) -> int:
    from refq.cli.output_paths import check_file
    from refq.conformance import sweep
    from refq.conformance.harness import check_declared_profile
    from refq.conformance.runner import load_backend
    from refq.errors import invalid

    if not args.timeout > 0 or args.timeout == float("inf"):
        raise invalid("--timeout", "a positive, finite number of seconds", args.timeout)
    check_file(args.json, "--json")
    if args.merge:
        return _report(sweep.merge_all(args.merge), args.json)
    if not args.backend:
        raise invalid("--backend", "a backend SPEC (or --merge FILES)", None)
    grid = args.scales is not None or args.zero_points is not None
    if args.op == "quantize_linear":
        parameters = _quantize_grid(args) if grid else [_single_quantize(args)]
    else:
        if grid:
            raise invalid("--scales" if args.scales is not None else "--zero-points", "quantize_linear's option, "
                          "not cast's", args.scales if args.scales is not None else args.zero_points)
        if args.to is None:
            raise invalid("--to", "a float format for cast", None)
        parameters = [sweep.cast_parameters(args.to, args.saturate)]
    shard = sweep.parse_shard(args.shard)
    if args.jobs < 1:
        raise invalid("--jobs", "a positive integer", args.jobs)
    if args.scheduler is not None and args.jobs != 1:
        raise invalid("--jobs", "1 with --scheduler (the cluster's workers are the jobs)", args.jobs)
    # Everything that can be checked without the backend is, before its worker starts.
    from refq.registry.operations import DEFAULT_PROFILE

    sweep.make_spec(args.op, parameters[0], args.profile or DEFAULT_PROFILE, args.source, args.range).chunks(shard)
    # The adapter runs in the worker process, as under conform: a segfault or a hang costs one chunk.
    subject = load_backend(args.backend, args.profile, timeout=args.timeout)
    try:
        check_declared_profile(subject)
        profile = args.profile or subject.profile_for(args.op)
        specs = [sweep.make_spec(args.op, point, profile, args.source, args.range) for point in parameters]
        progress = False if args.no_progress else None
        if args.scheduler is not None:
            subject.close()  # the cluster's workers load it, each on its own host
            results = sweep.sweep_on_cluster(args.backend, specs, args.scheduler, shard=shard, progress=progress,
                                             isolate=True, timeout=args.timeout)
        else:
            if args.jobs > 1:
                subject.close()  # each process of the pool starts its own worker
            target = args.backend if args.jobs > 1 else subject
            results = [sweep.sweep(target, spec, shard=shard, jobs=args.jobs, progress=progress, isolate=True,
                                   timeout=args.timeout) for spec in specs]
    finally:
        subject.close()
    return _report(results, args.json, grid)


def _single_quantize(args) -> dict:
    from refq.conformance import sweep
    from refq.errors import invalid

    if args.scale is None:
        raise invalid("--scale", "a float32 > 0 for quantize_linear (or --scales LIST)", None)
    return sweep.quantize_parameters(args.scale, args.zero_point, args.dtype)


def _quantize_grid(args) -> list[dict]:
    from refq.conformance import sweep
    from refq.errors import invalid

    if args.scales is not None and args.scale is not None:
        raise invalid("--scale", "absent with --scales (the grid's scales)", args.scale)
    if args.scales is None and args.scale is None:
        raise invalid("--scales", "a list of float32 scales > 0 (or --scale)", None)
    scales = sweep.parse_list(args.scales, "--scales", float) if args.scales is not None else [args.scale]
    zero_points = (sweep.parse_list(args.zero_points, "--zero-points", int) if args.zero_points is not None
                   else [args.zero_point])
    return sweep.grid_parameters(scales, zero_points, args.dtype)


def _report(results: list, json_path: str | None, grid: bool | None = None) -> int:
    """Print each result (and a grid's total), write the JSON; the exit status."""
    import json

    from refq.cli.output_paths import write_all
    from refq.conformance import sweep

    grid = len(results) > 1 if grid is None else grid
    print("\n\n".join(sweep.summary(result) for result in results))
    if grid:
        print(sweep.grid_summary(results))
    sys.stdout.flush()
    data = sweep.grid_json(results) if grid else results[0].to_json()
    if json_path and write_all([("--json", json_path, json.dumps(data, indent=2) + "\n")]):
        return 2
    return 1 if any(result.mismatches or result.errors for result in results) else 0
