"""OBS-4.7 and OBS-4.8: the MSE-optimal range search, a rule refq defines itself.

No backend implements this search (PyTorch's histogram observer minimises an estimate
over histogram bins, OBS-3.8). refq's rule tries $N$ clip ranges, each a fraction $k/N$
of the observed one, turns each into parameters with the observers' own rule (OBS-1.7),
and keeps the one whose quantize-dequantize round trip loses least, measured exactly as
specified here: a float64 sum in a fixed order, so the choice never depends on the machine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type
from refq.numbers.rounding import HALF_TO_EVEN, round_to_integral
from refq.observers.qparams import divide_float32, qparams_from_range, quantization_range

#: The largest number of candidates: $k \cdot m$ stays exact in float64 for every float32 $m$.
MAX_CANDIDATES = 2**20


@dataclass(frozen=True)
class MseSearch:
    """The outcome of :func:`mse_search`.

    ``min_val``/``max_val`` are the finite extremes observed; ``candidate`` is the chosen
    $k$ of ``candidates`` $N$; ``clip_min``/``clip_max`` the chosen range before OBS-1.7
    widens it to include 0; ``error`` the chosen candidate's OBS-4.8 sum.
    """

    min_val: np.float32
    max_val: np.float32
    candidates: int
    candidate: int
    clip_min: np.float32
    clip_max: np.float32
    error: float
    scale: np.float32
    zero_point: int
    unpredictable: bool


@kernel
def candidate_bound(bound, candidate, candidates):
    """OBS-4.7: the bound shrunk towards 0 by the fraction $k/N$, $\\mathrm{fl_{32}}(\\mathrm{fl_{64}}(k \\cdot m / N))$.

    $k \\cdot m$ is exact in float64 ($k \\le 2^{20}$, $m$ a float32), so only the division
    and the conversion to float32 round. $k = N$ gives $m$ itself.
    """
    return np.float32(np.float64(candidate) * np.float64(bound) / np.float64(candidates))


@kernel
def round_trip_error(values, scale, zero_point, quant_min, quant_max):
    """OBS-4.8: $E = \\sum_i (\\hat{x}_i - x_i)^2$ over the finite $x_i$, in float64, left to right.

    $q_i = \\mathrm{clamp}(\\mathrm{round}(\\mathrm{fl_{32}}(x_i / s)) + z, q_{min}, q_{max})$ with ties to
    even, $\\hat{x}_i = \\mathrm{fl_{32}}(\\mathrm{fl_{32}}(q_i - z) \\cdot s)$; then each step
    $d_i = \\mathrm{fl_{64}}(\\hat{x}_i - x_i)$, $E \\leftarrow \\mathrm{fl_{64}}(E + \\mathrm{fl_{64}}(d_i^2))$ from $E = 0$.
    Infinities are skipped.
    """
    lower = np.float64(quant_min)
    upper = np.float64(quant_max)
    offset = np.float64(zero_point)
    total = np.float64(0.0)
    for index in range(values.size):
        x = values[index]
        if math.isinf(x):
            continue
        steps = round_to_integral(divide_float32(x, scale), HALF_TO_EVEN)
        # Monotone float64 rounding of steps + z cannot move a value across an integral bound.
        level = min(max(np.float64(steps) + offset, lower), upper)
        restored = np.float32(np.float64(np.float32(level - offset)) * np.float64(scale))
        difference = np.float64(restored) - np.float64(x)
        total = total + difference * difference
    return total


def finite_values(batches) -> np.ndarray:
    """The batches flattened in order into one float32 vector; NaN is an error, $\\pm\\infty$ kept
    (OBS-4.8 skips them). Other float and integer types are rounded to float32."""
    if isinstance(batches, (np.ndarray, str, bytes)) or not isinstance(batches, Iterable):
        raise wrong_type("batches", "a sequence of arrays (one per batch)", batches)
    parts = []
    for number, batch in enumerate(batches):
        if isinstance(batch, (str, bytes, bool, np.bool_)):
            raise wrong_type(f"batches[{number}]", "a float32 array or a list of floats", batch)
        try:
            array = np.asarray(batch)
        except (TypeError, ValueError):
            raise wrong_type(f"batches[{number}]", "a float32 array or a list of floats", batch) from None
        if array.dtype.kind not in "fiu":
            raise wrong_type(f"batches[{number}]", "a float32 array or a list of floats", batch)
        with np.errstate(over="ignore"):
            array = array.astype(np.float32).reshape(-1)
        if np.isnan(array).any():
            raise invalid(f"batches[{number}]", "free of NaN", "a batch with NaN")
        parts.append(array)
    return np.ascontiguousarray(np.concatenate(parts)) if parts else np.zeros(0, np.float32)


def mse_search(batches, *, candidates: int = 100, dtype: str = "uint8", qscheme: str = "affine",
               reduce_range: bool = False, quant_min: int | None = None, quant_max: int | None = None,
               narrow: bool = False) -> MseSearch:
    """OBS-4.7: the clip range among $N$ candidates whose round trip (OBS-4.8) has least error.

    Symmetric: candidate $k$ is $[-t_k, t_k]$, $t_k$ = :func:`candidate_bound` of $\\max|x|$.
    Affine: $[l_k, h_k]$, each bound of the observed $[m_{min}, m_{max}]$ shrunk towards 0.
    Each candidate gets its (scale, zero point) from :func:`~refq.observers.qparams.qparams_from_range`;
    the least error wins, ties going to the larger $k$ (so $k = N$, the MinMax range, wins
    whenever clipping does not help). A candidate whose scale is infinite (a range wider than
    the largest float32) has error $+\\infty$.

    Raises:
        RefqValueError: a NaN in a batch, no finite value in any batch, ``candidates`` outside
            $1 \\ldots 2^{20}$, or an option OBS-1.7 refuses.
        RefqTypeError: ``batches`` not a sequence of numeric arrays.
    """
    if isinstance(candidates, (bool, np.bool_)) or not isinstance(candidates, numbers.Integral):
        raise wrong_type("candidates", "an int", candidates)
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise invalid("candidates", f"an int in 1..{MAX_CANDIDATES}", candidates)
    if not isinstance(qscheme, str) or qscheme not in ("affine", "symmetric"):
        raise invalid("qscheme", "'affine' or 'symmetric'", qscheme)
    options = {"dtype": dtype, "qscheme": qscheme, "reduce_range": reduce_range, "quant_min": quant_min,
               "quant_max": quant_max, "narrow": narrow}
    # Validates the options before any search work.
    qparams_from_range(np.float32(0.0), np.float32(0.0), **options)
    values = finite_values(batches)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise invalid("batches", "at least one finite value (nothing to search a range for)", "none")
    min_val, max_val = finite.min(), finite.max()
    magnitude = max(-min_val, max_val)
    target = quantization_range(dtype, reduce_range=reduce_range, quant_min=quant_min, quant_max=quant_max,
                                narrow=narrow)
    best = None
    count = int(candidates)
    for candidate in range(1, count + 1):
        if qscheme == "symmetric":
            bound = candidate_bound(magnitude, candidate, count)
            low, high = np.float32(-bound), bound
        else:
            low = candidate_bound(min_val, candidate, count)
            high = candidate_bound(max_val, candidate, count)
        qparams = qparams_from_range(low, high, **options)
        if np.isfinite(qparams.scale):
            with np.errstate(over="ignore"):
                error = float(round_trip_error(values, np.float32(qparams.scale), np.int64(qparams.zero_point),
                                               np.int64(target.quant_min), np.int64(target.quant_max)))
        else:
            # A range wider than the largest float32 has no grid to round to (OBS-1.3).
            error = math.inf
        if best is None or error <= best[0]:
            best = (error, candidate, low, high, qparams)
    error, candidate, low, high, qparams = best
    return MseSearch(np.float32(min_val), np.float32(max_val), count, candidate, np.float32(low),
                     np.float32(high), error, np.float32(qparams.scale), int(qparams.zero_point),
                     bool(qparams.unpredictable))
