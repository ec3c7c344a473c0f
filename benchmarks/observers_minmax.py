"""MinMax observer throughput on 10^7 float32 values beside numpy's min + max and torch's MinMaxObserver.

Target (issue 5): at least 0.5x numpy's min + max throughput.

    python benchmarks/observers_minmax.py [--size 10000000] [--repeats 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from record import Measurement, print_routes, print_table, write  # beside this script
from timing import best_seconds  # benchmarks/timing.py, beside this script

from refq.observers.dynamic import dynamic_quantize_linear
from refq.observers.minmax import initial_state, minmax_update

SIZE = 10**7
REPEATS = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--json", metavar="FILE", help="write the measurements (benchmarks/record.py) to FILE")
    args = parser.parse_args()
    print_routes()
    values = np.random.default_rng(0).standard_normal(args.size).astype(np.float32)
    state = initial_state()

    def rate(function) -> float:
        return args.size / best_seconds(function, args.repeats) / 1e9

    others = {"numpy min + max": rate(lambda: (values.min(), values.max()))}
    refq = rate(lambda: minmax_update(state, values))
    try:
        import torch
        from torch.ao.quantization.observer import MinMaxObserver

        tensor = torch.from_numpy(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            observer = MinMaxObserver()
        others["torch MinMaxObserver"] = rate(lambda: observer(tensor))
    except ImportError:
        pass
    case = f"{args.size} float32 values"
    measurements = [
        Measurement("observers_minmax", "observe_minmax", case, "G values/s", refq, others, "numpy min + max", 0.5),
        # DynamicQuantizeLinear is min/max, the parameters and a quantize: informational beside numpy's pass.
        Measurement("observers_minmax", "dynamic_quantize_linear", case + ", onnxruntime profile", "G values/s",
                    rate(lambda: dynamic_quantize_linear(values)), others, "numpy min + max",
                    note="min, max, parameters and quantize beside numpy's min + max alone"),
    ]
    print_table(measurements)
    if args.json:
        write(measurements, args.json)


if __name__ == "__main__":
    main()
