"""The one timing rule every benchmark uses: warm up once (compiles kernels), then the best
of ``repeats`` runs, since the minimum is the least disturbed by the rest of the machine."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(function: Callable[[], object], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
