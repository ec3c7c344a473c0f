"""``refq size --params 70e9 --bits 4``: the bytes a model's parameters take at each bit width."""

from __future__ import annotations

import argparse
import re
from fractions import Fraction

from refq.errors import invalid
from refq.sizes import SCALE_BITS, decimal_text, model_size

PARAMS_FORMS = "a positive integer count: 70000000000, 70e9, 70_000_000_000 or 70B (K, M, B, T suffixes)"
SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
DEFAULT_BITS = (32, 16, 8, 4)
MAX_EXPONENT = 4000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", required=True, metavar="N", help=PARAMS_FORMS)
    parser.add_argument("--bits", action="append", type=int, metavar="B",
                        help="bits per parameter; repeatable (default: 32, 16, 8 and 4)")
    parser.add_argument("--block-size", type=int, metavar="B",
                        help="parameters sharing one scale (blocked int4 uses 32 to 256); adds the scales")
    parser.add_argument("--scale-bits", type=int, default=16, metavar="S",
                        help="bits of each block's scale: " + ", ".join(map(str, SCALE_BITS)) + " (default 16)")


def parse_params(text: str) -> int:
    """A parameter count exactly as written; ``70e9`` is read as a decimal, not a float."""
    body = text.strip().replace("_", "").lower()
    multiplier = 1
    if body[-1:] in SUFFIXES:
        body, multiplier = body[:-1], SUFFIXES[body[-1]]
    if not re.fullmatch(r"\d+(\.\d*)?(e\d+)?|\.\d+(e\d+)?", body):
        raise invalid("--params", PARAMS_FORMS, text)
    exponent = body.partition("e")[2]
    if exponent and int(exponent) > MAX_EXPONENT:  # Fraction would build 10**exponent exactly: hours for 1e999999999
        raise invalid("--params", f"{PARAMS_FORMS}, at most 1e{MAX_EXPONENT}", text)
    count = Fraction(body) * multiplier
    if count.denominator != 1 or count < 1:
        raise invalid("--params", PARAMS_FORMS, text)
    return int(count)


def run(args: argparse.Namespace) -> int:
    parameters = parse_params(args.params)
    sizes = [model_size(parameters, bits, block_size=args.block_size, scale_bits=args.scale_bits)
             for bits in (args.bits or DEFAULT_BITS)]
    print(f"parameters  {parameters:_}".replace("_", ","))
    if args.block_size is not None:
        print(f"scales      one {args.scale_bits}-bit scale per block of {args.block_size} parameters")
    rows = [("bits", "bits/param", "bytes", "GB", "GiB")]
    for size in sizes:
        rows.append((str(size.bits), decimal_text(size.bits_per_parameter, 4), f"{size.total_bytes:,}",
                     decimal_text(size.gigabytes), decimal_text(size.gibibytes, 2)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip())
    print("GB = 10^9 bytes (exact), GiB = 2^30 bytes (to 2 places); sub-byte widths packed (NUM-1.9)")
    return 0
