"""Fingerprint of BLK-9's ``int4_group_quantize``: which codes, range, scale, zero-point, degenerate-scale,
element-scaling and rounding rules a weight-only int4 group implementation computes.

The nine quantize variants of BLK-9 are probed by groups of 32 (one group a row), each probe called with
``symmetric=False`` and again with ``symmetric=True``: groups whose range is fixed by two anchors and whose other
elements lie within a few float32 steps of the half-integers of every scale and zero point the variants give
that range (``int4_rounding``, ``int4_zero_point``, ``int4_element_scaling``: fl32(x / s) and fl32(x * r) part
there); all-positive groups and groups of one repeated value (``int4_range``, the zero point); an all-zero group,
groups of tiny negative subnormals whose scale underflows to zero and groups of a range below HQQ's 1e-4
(``int4_degenerate_scale``); a NaN among finite values (``int4_minmax_nan``); groups whose extreme is positive and
groups whose extreme is negative (``int4_symmetric_scale``). The codes' range shows ``int4_codes`` everywhere.

Each probe is one call, compared whole: the scales' and zero points' float32 bits, then the codes. A NaN scale or
zero point is compared as NaN, whatever its sign and payload (BLK-9 leaves those open, but not that it is a NaN:
that is what tells ``int4_minmax_nan = propagates``); a code or integer zero point BLK-9 leaves open (a NaN
converted to an integer, the sign of a zero minimum) is no evidence. A NotImplementedError for ``symmetric=True``
is an observation, which ``int4_symmetric_scale = unsupported`` predicts (refq refuses the call there); one for
``symmetric=False`` makes the operation unsupported. Every prediction is refq's ``int4_group_quantize_outcomes``
under the combination's values.

Every one of the 1728 combinations is a candidate (refq refuses none; it refuses only ``symmetric=True`` under
``unsupported``). They make 1632 classes: 96 pairs compute the same function on every input, so no probe can
part them and the fingerprint names both (:func:`equivalent`); the probes part every other pair, on scales, zero
points or codes that both combinations predict, so each of the 1536 others is the one consistent combination on
its own outputs, whatever a backend returns where BLK-9 leaves an output open.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from refq.block.int4_group import VARIANTS, int4_group_quantize_outcomes
from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import registry_values
from refq.registry.profiles import EVERY_PROFILE_BY_NAME

OPERATION = "int4_group_quantize"
DIMENSIONS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in VARIANTS}
#: The profiles naming BLK-9 variants, by their values of :data:`DIMENSIONS`.
PROFILES = {name: {variant: profile.int4_group[variant] for variant in DIMENSIONS}
            for name, profile in EVERY_PROFILE_BY_NAME.items() if profile.int4_group}
GROUP = 32
SEED = 1579
F32 = np.float32
#: The profile whose values every combination overrides (all nine of them).
_BASE = "compressed-tensors"
#: The variants that decide a group's scale and zero point (the others act on degenerate groups or elements).
_PARAMETERS = ("int4_codes", "int4_range", "int4_symmetric_scale", "int4_asymmetric_scale", "int4_zero_point")
#: The canonical NaN a NaN scale or zero point is compared as.
_NAN_BITS = 0x7FC00000


def _parameters(x: np.ndarray, symmetric: bool) -> set[tuple[float, float, float]]:
    """``(s, r, z)``: every scale s, inverse r and zero point z the variants give the single group ``x`` (finite,
    non-zero scales only): r is fl32(1 / s), and HQQ's fl32(fl32(1 / d) * 15) for its range d."""
    found = set()
    for values in itertools.product(*(DIMENSIONS[name] for name in _PARAMETERS)):
        combination = dict(zip(_PARAMETERS, values))
        if symmetric and combination["int4_symmetric_scale"] == "unsupported":
            continue
        record, _ = int4_group_quantize_outcomes(x[None], group_size=GROUP, symmetric=symmetric, profile=_BASE,
                                                 **combination)
        scale, zero_point = F32(record["scales"][0, 0]), F32(record["zero_points"][0, 0])
        if not (np.isfinite(scale) and np.isfinite(zero_point) and scale != 0):
            continue
        found.add((float(scale), float(F32(1) / scale), float(zero_point)))
        low, high = F32(x.min()), F32(x.max())
        if combination["int4_range"] == "with_zero":
            low, high = min(low, F32(0)), max(high, F32(0))
        inverse = min(F32(F32(F32(1) / F32(high - low)) * F32(15)), F32(2e4))
        found.add((float(scale), float(inverse), float(zero_point)))
    return found


def _near_ties(low: float, high: float, rng: np.random.Generator, steps: int = 3) -> np.ndarray:
    """Groups of range [low, high] (its two first elements) whose other elements lie within ``steps`` float32
    steps of the x for which x / s + z or x * r + z is a half-integer, for every (s, r, z) of :func:`_parameters`."""
    anchor = np.concatenate([[low, high], rng.uniform(low, high, GROUP - 2)]).astype(F32)
    targets = []
    for symmetric in (False, True):
        for scale, inverse, zero_point in sorted(_parameters(anchor, symmetric)):
            halves = np.arange(-9, 17) + 0.5 - zero_point
            targets += [halves * scale, halves / inverse]
    centres = np.concatenate(targets).astype(F32)
    centres = centres[(centres > F32(low)) & (centres < F32(high))]
    values = (centres.view(np.int32)[:, None] + np.arange(-steps, steps + 1, dtype=np.int32)).view(F32).reshape(-1)
    values = np.unique(values[(values > F32(low)) & (values < F32(high))])
    rows = -(-values.size // (GROUP - 2))
    filler = rng.uniform(low, high, rows * (GROUP - 2)).astype(F32)
    filler[:values.size] = rng.permutation(values)
    return np.concatenate([np.tile(np.array([low, high], F32), (rows, 1)), filler.reshape(rows, GROUP - 2)], axis=1)


def _rows(*rows) -> np.ndarray:
    return np.stack([np.broadcast_to(np.asarray(row, F32), (GROUP,)) for row in rows])


@lru_cache(maxsize=None)
def probes_for(granularity: str) -> tuple[engine.Probe, ...]:
    """Every probe, each a float32 array of rows of one group, called with ``symmetric=False``, then each again
    with ``symmetric=True`` (a refusal there is an observation)."""
    rng = np.random.default_rng(SEED)
    # Ranges of 15 (an asymmetric scale of 1), extremes of -8, 8 and -7.5 (symmetric scales of 1 and -1), and
    # ranges whose scales are not powers of two, where a quotient and a product by the inverse part.
    ties = np.concatenate([_near_ties(low, high, rng) for low, high in (
        (-7.0, 8.0), (-8.0, 7.0), (-7.5, 3.0), (-2.0, 8.0), (-2.3, 5.9), (-6.1, 1.7))])
    # Zero points on half-integers: qmin + 1.5 (signed: -6.5) and qmin + 0.5, qmin + 2.5 (unsigned) for a scale of 1.
    ties = np.concatenate([ties, _rows(*[np.linspace(low, low + 15, GROUP) for low in (-1.5, -0.5, -2.5)])])
    positive = np.concatenate([_near_ties(low, high, rng) for low, high in ((1.25, 4.5), (0.3, 7.7))]
                              + [_rows(3.0, 0.75), np.array([[1.25] * 16 + [4.5] * 16], F32)])
    negative = np.concatenate([_near_ties(-4.5, -1.25, rng), _rows(-3.0)])
    tiny = F32(2.0 ** -149)
    zeros = _rows(0.0, -tiny, -3 * tiny, tiny, 5 * tiny)
    zeros[3, ::2], zeros[4, ::3] = 2 * tiny, tiny  # tiny ranges above a subnormal minimum
    small = _rows(1.0, -3.0, 0.0)
    small[0, 1::2] = np.nextafter(F32(1.0 + 5e-5), F32(2))  # a range below HQQ's 1e-4 ...
    small[1, 1::3] = F32(-3.0 + 2e-5)
    small[2] = rng.uniform(0, 5e-5, GROUP).astype(F32)  # ... and one whose inverse reaches 2e4
    nan = rng.uniform(-3, 5, (2, GROUP)).astype(F32)
    nan[0, 7], nan[1, 0] = np.nan, np.nan
    extremes = (rng.uniform(-1, 1, (4, GROUP)) * np.array([[6.0], [6.0], [1e-3], [1e3]])).astype(F32)
    extremes[:, 0] = (6.5, -6.5, 1e-3, -1e3)  # the extreme, positive or negative
    families = (("ties", ties, "int4_rounding"), ("positive", positive, "int4_range"),
                ("negative", negative, "int4_zero_point"), ("degenerate", zeros, "int4_degenerate_scale"),
                ("small-range", small, "int4_degenerate_scale"), ("nan", nan, "int4_minmax_nan"),
                ("extremes", extremes, "int4_symmetric_scale"))
    return tuple(engine.Probe(f"{name}-{'sym' if symmetric else 'asym'}", OPERATION, (x,),
                              {"group_size": GROUP, "symmetric": symmetric}, variant, refusal_observed=symmetric)
                 for symmetric in (False, True) for name, x, variant in families)


def _flat(record: np.ndarray) -> np.ndarray:
    """The scales' and zero points' bits (a NaN as one NaN), then the codes, as one int64 array."""
    floats = np.concatenate([np.asarray(record["scales"], F32).reshape(-1),
                             np.asarray(record["zero_points"], F32).reshape(-1)])
    bits = engine.bits(floats)
    bits[np.isnan(floats)] = _NAN_BITS
    return np.concatenate([bits, engine.bits(record["codes"]).reshape(-1)])


def predict(probe: engine.Probe, combination: dict[str, str]):
    """refq's record for ``probe`` under ``combination`` (flattened), and what it leaves open: a NaN scale or
    zero point is predictable as a NaN; a refusal where ``symmetric=True`` meets ``unsupported``."""
    (x,) = probe.inputs
    if probe.attributes["symmetric"] and combination["int4_symmetric_scale"] == "unsupported":
        return engine.REFUSED
    result, mask = int4_group_quantize_outcomes(x, profile=_BASE, **probe.attributes, **combination)
    values = _flat(result)
    if mask is None:
        return values, None
    floats = np.concatenate([result["scales"].reshape(-1), result["zero_points"].reshape(-1)])
    open_ = np.concatenate([mask["scales"].reshape(-1), mask["zero_points"].reshape(-1), mask["codes"].reshape(-1)])
    open_[:floats.size] &= ~np.isnan(floats)
    return values, (open_ if open_.any() else None)


def equivalent(combination: dict[str, str]) -> list[dict[str, str]]:
    """The combinations that compute what ``combination`` computes on every input, ``combination`` first: where
    ``int4_symmetric_scale`` is ``unsupported`` and ``int4_asymmetric_scale`` is ``inverse_range``, whose scale
    1 / r (r at most 2e4) is never zero, ``int4_degenerate_scale = epsilon`` and ``zero_reciprocal``, which act on a
    zero scale only, are one function (``unit_inverse`` acts on HQQ's small ranges, and stays apart). Every other
    combination is a class of its own, which the probes part from every other."""
    values = (combination["int4_symmetric_scale"], combination["int4_asymmetric_scale"],
              combination["int4_degenerate_scale"])
    if values[:2] != ("unsupported", "inverse_range") or values[2] == "unit_inverse":
        return [dict(combination)]
    return [dict(combination)] + [{**combination, "int4_degenerate_scale": other}
                                  for other in ("epsilon", "zero_reciprocal") if other != values[2]]


# BLK-9's ``int4_group_quantize`` for the engine: one array of groups per probe, compared whole.
CHAPTER = engine.WholeProbeChapter(OPERATION, ("groups",), DIMENSIONS, PROFILES, probes_for, predict, _flat)


def fingerprint_int4(backend) -> list[engine.Result]:
    """``backend``'s ``int4_group_quantize`` against every combination of BLK-9's quantize variants; a backend
    without it is unsupported."""
    return [engine.fingerprint_operation(backend, CHAPTER, OPERATION, granularity)
            for granularity in CHAPTER.granularities]
