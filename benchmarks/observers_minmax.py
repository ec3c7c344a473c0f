"""MinMax observer throughput on 10^7 float32 values beside numpy's min + max and torch's MinMaxObserver.

Target (issue 5): at least 0.5x numpy's min + max throughput. Run:
    python benchmarks/observers_minmax.py
"""

from __future__ import annotations

import warnings

import numpy as np

from timing import best_seconds  # benchmarks/timing.py, beside this script

from refq.observers.dynamic import dynamic_quantize_linear
from refq.observers.minmax import initial_state, minmax_update

SIZE = 10**7
REPEATS = 7


def best_time(function) -> float:
    return best_seconds(function, REPEATS)


def main() -> None:
    values = np.random.default_rng(0).standard_normal(SIZE).astype(np.float32)
    state = initial_state()
    numpy_time = best_time(lambda: (values.min(), values.max()))
    refq_time = best_time(lambda: minmax_update(state, values))
    rows = [("numpy min + max", numpy_time), ("refq MinMax update", refq_time)]
    try:
        import torch
        from torch.ao.quantization.observer import MinMaxObserver

        tensor = torch.from_numpy(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            observer = MinMaxObserver()
        rows.append(("torch MinMaxObserver", best_time(lambda: observer(tensor))))
    except ImportError:
        pass
    rows.append(("refq DynamicQuantizeLinear (ORT profile)", best_time(lambda: dynamic_quantize_linear(values))))
    for name, seconds in rows:
        print(f"{name:45s} {seconds * 1e3:8.2f} ms  {SIZE / seconds / 1e9:6.2f} Gvalues/s")
    print(f"refq / numpy throughput ratio: {numpy_time / refq_time:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
