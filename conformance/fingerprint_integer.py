"""Fingerprinting a backend's requantization (REQ-1): which float-multiplier variant values does its
``qlinear_matmul`` follow?

A handful of discriminating ``QLinearMatMul`` calls (:data:`PROBES`, built once, deterministically)
separate the values of three variants while the others agree on them:

- ``requantize_zero_point`` (REQ-1.3): multipliers $2^{-k}$ put accumulators on exact ties and an
  *odd* output zero point flips the parity of the tie, so $\\mathrm{round}(v) + z$ and
  $\\mathrm{round}(v + z)$ (ties to even) differ;
- ``requantize_precision`` (REQ-1.2): accumulators just above $2^{25}$ that float32 rounds onto a tie of
  $a \\cdot 2^{-18}$ while float64 keeps them exact (one side of the tie);
- ``multiplier_order`` (REQ-1.1; not a registry variant, every backend refq covers computes
  $\\mathrm{fl}_{32}(\\mathrm{fl}_{32}(s_a s_b) / s_y)$): scales on which another order of the
  operations gives another float32 multiplier, and an accumulator on which the two multipliers round apart.

Every combination of variant values is computed on the same probes by :func:`predict` (plain numpy,
written apart from refq's REQ kernels); the combinations that explain every probe are the backend's
fingerprint. The backend is an adapter with ``qlinear_matmul`` in the ONNX signature; the probes use
uint8 activations, int8 weights and a uint8 output, which every adapter accepts (FBGEMM takes no other).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from refq.errors import wrong_type

F32 = np.float32

#: The multiplier $m$ from the scales, each order of the operations rounding to float32 at the end.
MULTIPLIER_ORDERS = {
    "product_then_quotient": lambda a, b, y: F32(F32(a * b) / y),
    "float64_quotient": lambda a, b, y: F32(np.float64(a) * np.float64(b) / np.float64(y)),
    "reciprocal": lambda a, b, y: F32(F32(a * b) * F32(F32(1) / y)),
    "ratio_first": lambda a, b, y: F32(a * F32(b / y)),
}
VARIANTS: dict[str, tuple[str, ...]] = {
    "requantize_precision": ("float32", "float64"),
    "requantize_zero_point": ("after_rounding", "before_rounding"),
    "multiplier_order": tuple(MULTIPLIER_ORDERS),
}
#: ONNX Runtime's MLAS requantization (REQ-1): the combination the probes' rival values are shown against.
ONNXRUNTIME = {"requantize_precision": "float32", "requantize_zero_point": "after_rounding",
               "multiplier_order": "product_then_quotient"}


@dataclass(frozen=True)
class Probe:
    """One ``qlinear_matmul`` call (per-tensor scales and zero points) and the variant it separates."""

    name: str
    separates: str
    a: np.ndarray  # uint8, (M, K)
    a_zero_point: int
    b: np.ndarray  # int8, (K, N)
    a_scale: np.float32
    b_scale: np.float32
    y_scale: np.float32
    y_zero_point: int

    def arguments(self) -> tuple:
        """The ONNX input order: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point."""
        return (self.a, F32(self.a_scale), np.uint8(self.a_zero_point), self.b, F32(self.b_scale), np.int8(0),
                F32(self.y_scale), np.uint8(self.y_zero_point))


def accumulator(probe: Probe) -> np.ndarray:
    """The exact int64 sums $\\sum_k (a_{ik} - z_a) b_{kj}$ (the probes keep them inside int32)."""
    return (probe.a.astype(np.int64) - probe.a_zero_point) @ probe.b.astype(np.int64)


def predict(probe: Probe, variants: dict[str, str]) -> np.ndarray:
    """The uint8 output of ``probe`` under one combination of variant values."""
    multiplier = MULTIPLIER_ORDERS[variants["multiplier_order"]](F32(probe.a_scale), F32(probe.b_scale),
                                                                 F32(probe.y_scale))
    sums = accumulator(probe)
    zero_point = probe.y_zero_point
    with np.errstate(over="ignore"):
        if variants["requantize_precision"] == "float32":
            scaled = sums.astype(F32) * multiplier
            shifted = scaled + F32(zero_point)
        else:
            scaled = sums.astype(np.float64) * np.float64(multiplier)
            shifted = scaled + np.float64(zero_point)
    if variants["requantize_zero_point"] == "after_rounding":
        result = np.rint(scaled.astype(np.float64)) + zero_point
    else:
        result = np.rint(shifted.astype(np.float64))
    return np.clip(result, 0, 255).astype(np.uint8)


def combinations() -> list[dict[str, str]]:
    names = list(VARIANTS)
    return [dict(zip(names, values)) for values in itertools.product(*VARIANTS.values())]


# --- discriminating inputs ------------------------------------------------------------


def exact_products(total: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 row and an int8 column with entries in [0, 255] x [0, 63] whose dot product is ``total``."""
    row = np.zeros(depth, np.int64)
    column = np.zeros(depth, np.int64)
    remaining, index = total, 0
    while remaining > 0:
        column[index] = min(63, remaining)
        row[index] = min(255, remaining // column[index])
        remaining -= row[index] * column[index]
        index += 1
    return row.astype(np.uint8), column.astype(np.int8)


def tie_probes() -> list[Probe]:
    """Accumulators $-8 \\dots 7$ times weights 1, 3, 5 with multipliers $2^{-1}$ and $2^{-2}$: every odd
    product is a tie at $2^{-1}$, and the odd output zero point puts ties to even on the other side."""
    a = np.arange(0, 16, dtype=np.uint8)[:, None]
    b = np.array([[1, 3, 5]], np.int8)
    return [Probe(f"zero-point-tie-{2**k}-z{zero}", "requantize_zero_point", a, 8, b, F32(1), F32(1), F32(2.0**k), zero)
            for k in (1, 2) for zero in (101, 37)]


def precision_probes() -> list[Probe]:
    """Sums $2^{e} + 2^{s-1} + d$ and their negatives with the multiplier $2^{-s}$: float32 holds multiples of
    $2^{e-23}$ there, so a small $d$ is rounded away and the product lands on the tie $2^{e-s} + 1/2$ (then to
    even), while float64 keeps it off the tie. The negative sums take the zero point 200 to stay in uint8."""
    probes = []
    for exponent, shift, offset in ((25, 18, 1), (25, 18, 2), (25, 19, 1), (26, 19, 3), (26, 19, 2)):
        row, column = exact_products(2**exponent + 2 ** (shift - 1) + offset, 8192)
        for sign, zero_point in ((1, 0), (-1, 200)):
            probes.append(Probe(f"float32-accumulator-{'+' if sign > 0 else '-'}(2^{exponent}+2^{shift - 1}+{offset})",
                                "requantize_precision", row[None], 0, (sign * column)[:, None].astype(np.int8),
                                F32(1), F32(1), F32(2.0**shift), zero_point))
    return probes


def order_probes(per_order: int = 3, seed: int = 11) -> list[Probe]:
    """For each rival order, ``per_order`` scale triples on which its multiplier differs from
    $\\mathrm{fl}_{32}(\\mathrm{fl}_{32}(s_a s_b) / s_y)$, each with one accumulator on which the two round
    apart under every precision and zero point placement (which agree there among themselves)."""
    rng = np.random.default_rng(seed)
    probes: list[Probe] = []
    for order in MULTIPLIER_ORDERS:
        if order == ONNXRUNTIME["multiplier_order"]:
            continue
        found = 0
        while found < per_order:
            a_scale, b_scale = F32(rng.uniform(0.001, 0.1)), F32(rng.uniform(0.001, 0.1))
            y_scale = F32(a_scale * b_scale * rng.uniform(50, 3000))
            base = MULTIPLIER_ORDERS["product_then_quotient"](a_scale, b_scale, y_scale)
            rival = MULTIPLIER_ORDERS[order](a_scale, b_scale, y_scale)
            if base == rival:
                continue
            sums = np.arange(1, int(200 / max(base, rival)), dtype=np.int64)
            apart = np.flatnonzero(np.rint(sums.astype(F32) * base) != np.rint(sums.astype(F32) * rival))
            for total in sums[apart]:
                row, column = exact_products(int(total), 64)
                probe = Probe(f"multiplier-{order}-{found}", "multiplier_order", row[None], 0, column[:, None],
                              a_scale, b_scale, y_scale, 0)
                if _separates_only_order(probe, order):
                    probes.append(probe)
                    found += 1
                    break
    return probes


def _separates_only_order(probe: Probe, order: str) -> bool:
    """Every precision and placement agree with each other, and disagree with them under ``order``."""
    outputs = {}
    for combination in combinations():
        if combination["multiplier_order"] in ("product_then_quotient", order):
            outputs[tuple(combination.values())] = predict(probe, combination).tobytes()
    base = {value for key, value in outputs.items() if key[2] == "product_then_quotient"}
    rival = {value for key, value in outputs.items() if key[2] == order}
    return len(base) == 1 and len(rival) == 1 and base != rival


@lru_cache(maxsize=1)
def probes() -> tuple[Probe, ...]:
    """The discriminating table: zero point ties, float32 accumulators, multiplier orders."""
    table = (*tie_probes(), *precision_probes(), *order_probes())
    assert len({probe.name for probe in table}) == len(table), "probe names must be unique"
    return table


# --- the fingerprint ---------------------------------------------------------------------


@dataclass
class RequantizationFingerprint:
    """What the probes say about a backend's requantization."""

    #: probe name -> the backend's output (a list of lists), or the error it raised.
    observed: dict[str, list | str]
    #: The combinations of variant values that explain every probe.
    consistent: list[dict[str, str]]
    #: variant -> the values occurring in the consistent combinations.
    values: dict[str, list[str]] = field(default_factory=dict)
    #: The combination with the fewest unexplained probes, and those probes.
    nearest: dict[str, str] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)


def fingerprint_requantization(backend) -> RequantizationFingerprint:
    """Fingerprint the requantization of ``backend`` (an adapter with a ``qlinear_matmul`` method)."""
    if not callable(getattr(backend, "qlinear_matmul", None)):
        raise wrong_type("backend", "an adapter with a qlinear_matmul method", backend)
    table = probes()
    observed: dict[str, np.ndarray | str] = {}
    for probe in table:
        try:
            observed[probe.name] = np.asarray(backend.qlinear_matmul(*probe.arguments()))
        except Exception as error:  # noqa: BLE001 - a refusal is an observation too
            observed[probe.name] = f"{type(error).__name__}: {error}"
    scored = []
    for combination in combinations():
        misses = [probe.name for probe in table
                  if isinstance(observed[probe.name], str)
                  or not np.array_equal(observed[probe.name], predict(probe, combination))]
        scored.append((len(misses), combination, misses))
    consistent = [combination for misses, combination, _ in scored if misses == 0]
    values = {name: [value for value in VARIANTS[name] if any(c[name] == value for c in consistent)]
              for name in VARIANTS}
    _, nearest, unexplained = min(scored, key=lambda item: item[0])
    plain = {name: value if isinstance(value, str) else value.astype(int).tolist() for name, value in observed.items()}
    return RequantizationFingerprint(plain, consistent, values, nearest, unexplained)


def probe_table() -> str:
    """The probes as a Markdown table: what ONNX Runtime's rule and each probe's rival values give."""
    lines = ["| probe | separates | scales (a, b, y) | y zero point | onnxruntime rule | rival value: output |",
             "|---|---|---|---|---|---|"]
    for probe in probes():
        expected = predict(probe, ONNXRUNTIME)
        rivals = []
        for value in VARIANTS[probe.separates]:
            if value == ONNXRUNTIME[probe.separates]:
                continue
            output = predict(probe, {**ONNXRUNTIME, probe.separates: value})
            if not np.array_equal(output, expected):
                rivals.append(f"{value}: {output.ravel().tolist()}")
        scales = ", ".join(f"{float(s):.9g}" for s in (probe.a_scale, probe.b_scale, probe.y_scale))
        lines.append(f"| {probe.name} | {probe.separates} | {scales} | {probe.y_zero_point} | "
                     f"{expected.ravel().tolist()} | {'; '.join(rivals)} |")
    return "\n".join(lines)
