"""``refq quantize``: quantize values under a profile, optionally explaining every step."""

from __future__ import annotations

import argparse

import numpy as np

from refq.affine import quantize
from refq.affine.trace import describe_float32, disagreements, trace_quantize
from refq.errors import invalid
from refq.registry.profiles import PROFILES
from refq.registry.variants import VARIANTS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("values", nargs="+", metavar="VALUE", help="float values (decimal or hex float)")
    parser.add_argument("--scale", required=True, help="the scale (rounded to float32)")
    parser.add_argument("--zero-point", type=int, default=0, help="the zero point (default 0)")
    parser.add_argument("--dtype", default="int8", help="target type, int1..int16 or uint1..uint16 (default int8)")
    parser.add_argument("--narrow", action="store_true", help="narrow (symmetric) range for signed types")
    parser.add_argument("--profile", default="onnx", help="profile name (default onnx)")
    parser.add_argument("--per-axis", action="store_true", help="use the profile's per-axis kernel variants")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VALUE",
                        help="override one variant, e.g. --variant rounding=half_away_from_zero")
    parser.add_argument("--trace", action="store_true", help="print every step for every value")
    parser.add_argument("--compare-profiles", action="store_true",
                        help="quantize under every profile and explain where they disagree")


def parse_float(text: str, argument: str) -> float:
    try:
        return float.fromhex(text) if text.lower().lstrip("+-").startswith("0x") else float(text)
    except (ValueError, OverflowError):  # fromhex refuses what float() would make an infinity
        raise invalid(argument, "a decimal or hex float such as 0.5 or 0x1.8p-3", text) from None


def parse_overrides(items: list[str]) -> dict[str, str]:
    known = {variant.name for variant in VARIANTS if variant.operation == "quantize"}
    overrides = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in known:
            raise invalid("--variant", f"NAME=VALUE with NAME one of {', '.join(sorted(known))}", item)
        overrides[name] = value
    return overrides


def run(args: argparse.Namespace) -> int:
    # A value beyond float32's range rounds to an infinity, as IEEE 754 says; numpy's overflow warning
    # (with a source line) would only alarm.
    with np.errstate(over="ignore"):
        values = np.array([parse_float(v, "VALUE") for v in args.values], dtype=np.float32)
    scale = parse_float(args.scale, "--scale")
    overrides = parse_overrides(args.variant)
    options = dict(dtype=args.dtype, narrow=args.narrow, per_axis=args.per_axis)
    if args.compare_profiles:
        for x in values:
            traces = [trace_quantize(x, scale, args.zero_point, profile=p.name, **options, **overrides)
                      for p in PROFILES]
            print(f"x = {describe_float32(x)}")
            for trace in traces:
                note = " (unpredictable)" if trace.unpredictable else ""
                print(f"  {trace.profile:<20} {trace.q}{note}")
            reasons = disagreements(traces, x, scale, args.zero_point, **options, **overrides)
            if reasons:
                print("  disagreements:")
                for reason in reasons:
                    print(f"    {reason}")
                for q in sorted({t.q for t in traces if not t.unpredictable}):
                    example = next(t for t in traces if t.q == q and not t.unpredictable)
                    print("\n".join("  " + line for line in example.render().splitlines()))
            else:
                print("  every profile agrees")
        return 0
    axis = None
    result = quantize(values, np.float32(scale), args.zero_point, dtype=args.dtype, narrow=args.narrow,
                      profile=args.profile, **overrides) if not args.per_axis else None
    for index, x in enumerate(values):
        trace = trace_quantize(x, scale, args.zero_point, profile=args.profile, **options, **overrides)
        if result is not None and int(result[index]) != trace.q and not trace.unpredictable:
            raise AssertionError(f"refq internal disagreement for {x!r}: kernel {result[index]}, trace {trace.q}")
        if args.trace:
            print(trace.render())
        else:
            print(trace.q)
    del axis
    return 0
