"""The affine chapter of the fingerprint: quantize_linear, fake_quantize and dequantize_linear.

Small *discriminating* inputs, built in memory, on which the values of one variant give
different results while the other variants agree as much as possible: exact ties (they
separate the rounding modes), quotients whose float32 and float64 values straddle a
tie (precision, reciprocal against division), odd zero points on ties (where the zero
point is added, fused or not), infinities, NaN and quotients past $2^{31}$ with a
negative zero point (saturation and conversion overflow), and dequantize inputs on
which $q s - z s$ and $(q - z) s$ round differently.

Every valid combination of variant values (:func:`refq.affine.profiles.resolve_variants`
decides which are valid) is computed by refq on the same inputs; the engine
(:mod:`.fingerprint_engine`) compares element by element, elements a combination leaves
*unpredictable* excepted. Each operation is fingerprinted per granularity (per-tensor and
per-axis), since backends run different kernels for them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from refq.affine import dequantize, quantize_with_outcomes
from refq.affine.parameters import target_type
from refq.affine.profiles import resolve_variants
from refq.conformance.fingerprint_engine import Probe, Unexplained, bits
from refq.errors import RefqError
from refq.registry.profiles import PROFILES, PROFILES_BY_NAME
from refq.registry.variants import VARIANTS

F32 = np.float32
GRANULARITIES = ("per_tensor", "per_axis")
#: The axis of the per-axis runs: the probes become the channels of a (channels, length) array.
CHANNEL_AXIS = 0
#: Operation fingerprinted -> which variants describe it.
OPERATION_VARIANTS = {"quantize_linear": "quantize", "fake_quantize": "quantize", "dequantize_linear": "dequantize"}


@dataclass(frozen=True)
class AffineProbe:
    """One per-tensor call: values sharing a scale, a zero point and a type, and what they discriminate."""

    name: str
    purpose: str
    values: np.ndarray  # float32 for quantize, integers for dequantize
    scale: np.float32
    zero_point: int
    dtype: str = "int8"


# --- discriminating inputs ------------------------------------------------------------


def _ulp_neighbours(values: np.ndarray, steps: int) -> np.ndarray:
    """``values`` and their float32 neighbours up to ``steps`` ulps either side."""
    result = [values]
    up, down = values, values
    for _ in range(steps):
        up, down = np.nextafter(up, F32(np.inf)), np.nextafter(down, F32(-np.inf))
        result += [up, down]
    return np.concatenate(result).astype(F32)


def _near_ties(scale: np.float32, limit: int, steps: int = 3) -> np.ndarray:
    """Float32 values $x$ whose quotient $x / s$ is within a few ulps of a tie $k + 1/2$, $|k| < $ ``limit``."""
    halves = np.arange(-limit, limit, dtype=np.float64) + 0.5
    return np.unique(_ulp_neighbours((halves * np.float64(scale)).astype(F32), steps))


def _select(pool: np.ndarray, scale, zero_point: int, dtype: str, pairs: list[tuple[dict, dict]],
            per_pair: int) -> np.ndarray:
    """Pick, for each pair of variant combinations, up to ``per_pair`` values of ``pool`` on which
    the two give different results, preferring values on which the fewest other pairs disagree
    (the other variants then agree there). Deterministic: ties go to the earlier pool element."""
    differs = []
    for first, second in pairs:
        a, _ = quantize_with_outcomes(pool, scale, zero_point, dtype=dtype, profile="onnx", **first)
        b, _ = quantize_with_outcomes(pool, scale, zero_point, dtype=dtype, profile="onnx", **second)
        differs.append(a != b)
    differs = np.array(differs)
    noise = differs.sum(axis=0)
    chosen: list[int] = []
    for row in differs:
        candidates = np.flatnonzero(row)
        ordered = candidates[np.argsort(noise[candidates], kind="stable")]
        chosen += [int(i) for i in ordered[:per_pair] if int(i) not in chosen]
    return pool[sorted(chosen)]


def _variants(**overrides: str) -> dict[str, str]:
    """The ONNX profile's quantize variants with ``overrides``: the base of the searches."""
    base = {name: value.name for name, value in resolve_variants("onnx", "quantize").items()}
    return {**base, **overrides}


@lru_cache(maxsize=1)
def quantize_probes() -> tuple[AffineProbe, ...]:
    """The discriminating quantize inputs, int8, one scale and zero point per probe."""
    halves = np.array([0.5, 1.5, 2.5, 3.5, 0.25, 0.75, 1.25, 0.0])
    ties = np.concatenate([halves, -halves[:-1]])
    probes = [
        AffineProbe("ties", "exact ties and quarter values: separate the seven rounding modes",
              (ties * 0.5).astype(F32), F32(0.5), 0),
        AffineProbe("odd-zero-point ties", "ties with an odd zero point: zero point added before or after rounding",
              (np.array([0.5, 1.5, 2.5, -0.5, -1.5, -3.5]) * 0.25).astype(F32), F32(0.25), 3),
    ]
    # Last-bit cases: quotients whose float32 / float64 / reciprocal-product values straddle a tie.
    scale = F32(0.00214854861)
    pool = _near_ties(scale, 128)
    precision_pairs = [
        (_variants(), _variants(scale_operation="multiply_reciprocal")),
        (_variants(), _variants(precision="float64")),
        (_variants(scale_operation="multiply_reciprocal"),
         _variants(scale_operation="multiply_reciprocal", precision="float64")),
        (_variants(precision="float64"), _variants(scale_operation="multiply_reciprocal", precision="float64")),
    ]
    probes.append(AffineProbe("last-bit quotients", "x / s against x * fl32(1/s), in float32 and float64, next to ties",
                        _select(pool, scale, 0, "int8", precision_pairs, 3), scale, 0))
    # The zero point added in the working precision, fused or not, next to ties.
    for zero_point, scale in ((3, F32(0.0123)), (-2, F32(0.37))):
        pool = _near_ties(scale, 120)
        reciprocal = {"scale_operation": "multiply_reciprocal"}
        placement_pairs = [
            (_variants(zero_point_placement="before_rounding"), _variants(zero_point_placement="before_rounding",
                                                                          precision="float64")),
            (_variants(zero_point_placement="before_rounding", **reciprocal),
             _variants(zero_point_placement="before_rounding_fused", **reciprocal)),
            (_variants(zero_point_placement="before_rounding", **reciprocal),
             _variants(zero_point_placement="before_rounding", precision="float64", **reciprocal)),
            (_variants(**reciprocal), _variants(zero_point_placement="before_rounding_fused", **reciprocal)),
            (_variants(zero_point_placement="before_rounding"), _variants()),
        ]
        probes.append(AffineProbe(f"zero point {zero_point:+d} in working precision",
                            "x / s + z rounded in float32, float64 or fused, next to ties",
                            _select(pool, scale, zero_point, "int8", placement_pairs, 3), scale, zero_point))
    specials = np.array([np.inf, -np.inf, np.nan, 3e9, -3e9, 200.0, -200.0, 127.5], dtype=F32)
    # AFF-3.9: subnormal x next to 2^-126 (x * r near 1 at s = 2^-126), and a subnormal reciprocal (s = 2^127).
    smallest_normal = F32(2.0**-126)
    below = np.nextafter(smallest_normal, F32(0))
    probes.append(AffineProbe("subnormal inputs", "x below 2^-126 at scale 2^-126: kept or flushed to zero",
                              np.array([below, -below, 0.75 * smallest_normal, smallest_normal], F32),
                              smallest_normal, 0))
    probes.append(AffineProbe("subnormal reciprocal", "scale 2^127, whose reciprocal is subnormal: kept or flushed",
                              np.array([2.0**127, -(2.0**127), 1.5 * 2.0**127, 2.0**126], F32), F32(2.0**127), 0))
    for zero_point in (0, -1):
        probes.append(AffineProbe(f"non-finite, zero point {zero_point:+d}",
                            "infinities, NaN and |x / s| >= 2^31: saturation, conversion overflow, NaN",
                            specials, F32(1.0), zero_point))
    return tuple(probes)


@lru_cache(maxsize=1)
def dequantize_probes() -> tuple[AffineProbe, ...]:
    """Dequantize inputs on which $\\mathrm{fl}(\\mathrm{fl}(q s) - \\mathrm{fl}(z s))$ differs
    from $\\mathrm{fl}((q - z) s)$, plus a few on which they agree."""
    probes = []
    for dtype, zero_point, scale in (("int8", 37, F32(0.0123457)), ("uint8", 131, F32(0.00392157))):
        low, high = (-128, 127) if dtype == "int8" else (0, 255)
        q = np.arange(low, high + 1)
        standard = dequantize(q, scale, zero_point, dtype=dtype).view(np.uint32)
        swapped = dequantize(q, scale, zero_point, dtype=dtype,
                             dequantize_formula="multiply_then_subtract").view(np.uint32)
        differ = np.flatnonzero(standard != swapped)[:8]
        agree = np.flatnonzero(standard == swapped)[:4]
        probes.append(AffineProbe(f"dequantize formula {dtype}", "(q - z) * s against q * s - z * s",
                            q[np.sort(np.concatenate([differ, agree]))].astype(dtype), scale, zero_point, dtype))
    return tuple(probes)


def probes_for(operation: str) -> tuple[AffineProbe, ...]:
    return dequantize_probes() if operation == "dequantize_linear" else quantize_probes()


def stacked(probes: tuple[AffineProbe, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The probes as channels of one per-axis input: ``(values, scales, zero_points, real)``.
    Shorter probes are padded by repeating their last value; ``real`` marks the other elements."""
    length = max(len(p.values) for p in probes)
    values = np.stack([np.concatenate([p.values, np.repeat(p.values[-1:], length - len(p.values))])
                       for p in probes])
    real = np.stack([np.arange(length) < len(p.values) for p in probes])
    scales = np.array([p.scale for p in probes], dtype=F32)
    zero_points = np.array([p.zero_point for p in probes])
    return values, scales, zero_points, real


# --- variant combinations and refq's predictions ---------------------------------------


@lru_cache(maxsize=None)
def combinations(kind: str) -> tuple[dict[str, str], ...]:
    """Every valid combination of the ``kind`` ("quantize"/"dequantize") variants' values."""
    variants = [v for v in VARIANTS if v.operation == kind]
    valid = []
    for values in itertools.product(*[[value.name for value in v.values] for v in variants]):
        combo = dict(zip((v.name for v in variants), values))
        try:
            resolve_variants("onnx", kind, overrides=combo)
        except RefqError:
            continue
        valid.append(combo)
    return tuple(valid)


@dataclass(frozen=True)
class Predictions:
    """refq's output for every combination on every element: ``outputs[c]`` (bits for floats)
    and ``unpredictable[c]`` are arrays shaped like the stacked per-axis input."""

    operation: str
    combos: tuple[dict[str, str], ...]
    outputs: np.ndarray
    unpredictable: np.ndarray
    #: A combination's sorted items -> its row.
    index: dict[tuple, int]


@lru_cache(maxsize=None)
def predictions(operation: str, dtype: str) -> Predictions:
    """refq's answers under every combination, for the probes of ``dtype`` (computed once)."""
    probes = groups(probes_for(operation))[dtype]
    values, scales, zero_points, _ = stacked(probes)
    kind = OPERATION_VARIANTS[operation]
    combos = combinations(kind)
    outputs, masks = [], []
    for combo in combos:
        if kind == "dequantize":
            result = dequantize(values, scales, zero_points, dtype=dtype, axis=CHANNEL_AXIS, **combo)
            unpredictable = np.zeros(values.shape, bool)
        else:
            result, unpredictable = quantize_with_outcomes(values, scales, zero_points, dtype=dtype,
                                                           axis=CHANNEL_AXIS, **combo)
            if operation == "fake_quantize":
                result = dequantize(result, scales, zero_points, dtype=dtype, axis=CHANNEL_AXIS)
        outputs.append(bits(result))
        masks.append(unpredictable)
    index = {tuple(sorted(combo.items())): c for c, combo in enumerate(combos)}
    return Predictions(operation, combos, np.array(outputs), np.array(masks), index)


def groups(probes: tuple[AffineProbe, ...]) -> dict[str, tuple[AffineProbe, ...]]:
    """Probes by dtype (a per-axis call has one dtype)."""
    by_dtype: dict[str, list[AffineProbe]] = {}
    for probe in probes:
        by_dtype.setdefault(probe.dtype, []).append(probe)
    return {dtype: tuple(group) for dtype, group in by_dtype.items()}


def profile_combo(profile: str, operation: str, granularity: str) -> dict[str, str]:
    kind = OPERATION_VARIANTS[operation]
    resolved = resolve_variants(profile, kind, per_axis=granularity != "per_tensor")
    return {name: value.name for name, value in resolved.items()}


def declared_profiles(backend) -> dict[str, str]:
    """Operation -> the profile the backend claims (``profile`` may be a string or a dict)."""
    claimed = getattr(backend, "profile", None)
    if isinstance(claimed, dict):
        return {op: claimed[op] for op in OPERATION_VARIANTS if op in claimed}
    return {op: claimed for op in OPERATION_VARIANTS} if isinstance(claimed, str) else {}


@dataclass(frozen=True)
class Call:
    """Where an engine probe's elements sit in the stacked per-axis input: its dtype and its rows."""

    dtype: str
    rows: tuple[int, ...]


class AffineChapter:
    """The affine operations for the engine: one probe per call (each probe alone per tensor, a
    dtype's probes stacked as channels per axis), compared element by element."""

    unit = "element"
    operations = tuple(OPERATION_VARIANTS)
    granularities = GRANULARITIES

    def dimensions(self, operation: str) -> dict[str, tuple[str, ...]]:
        kind = OPERATION_VARIANTS[operation]
        return {v.name: tuple(value.name for value in v.values) for v in VARIANTS if v.operation == kind}

    def combinations(self, operation: str) -> list[dict[str, str]]:
        return list(combinations(OPERATION_VARIANTS[operation]))

    @lru_cache(maxsize=None)
    def probes(self, operation: str, granularity: str) -> tuple[Probe, ...]:
        calls = []
        for dtype, group in groups(probes_for(operation)).items():
            values, scales, zero_points, real = stacked(group)
            if granularity == "per_axis":
                # Typed as the vectors type a zero point: the target's container (int8 for int8 ...).
                zero = zero_points.astype(values.dtype if operation == "dequantize_linear" else
                                          target_type(dtype).container)
                calls.append(Probe(f"{dtype} probes per axis", operation, (values, scales, zero),
                                   {"axis": CHANNEL_AXIS, "dtype": dtype}, Call(dtype, tuple(range(len(group))))))
                continue
            for row, probe in enumerate(group):
                calls.append(Probe(probe.name, operation, (probe.values, probe.scale, probe.zero_point),
                                   {"axis": None, "dtype": dtype}, Call(dtype, (row,))))
        return tuple(calls)

    def output(self, probe: Probe, returned) -> np.ndarray:
        returned = np.asarray(returned)
        if returned.shape != probe.inputs[0].shape:
            raise RuntimeError(f"{probe.operation} returned shape {returned.shape}, expected {probe.inputs[0].shape}")
        # Bits alone would let an int32 answer pass for int8: the dtype is part of the answer, as in conform.
        wanted = (np.dtype(np.float32) if probe.operation != "quantize_linear"
                  else target_type(probe.purpose.dtype).container)
        if returned.dtype != wanted:
            raise RuntimeError(f"{probe.operation} returned dtype {returned.dtype}, expected {wanted}")
        return self._real(probe, bits(returned))

    def _real(self, probe: Probe, array: np.ndarray) -> np.ndarray:
        """The elements of ``array`` (shaped like the probe's input) that are probe values, not padding."""
        if probe.attributes["axis"] is None:
            return array.ravel()
        _, _, _, real = stacked(groups(probes_for(probe.operation))[probe.purpose.dtype])
        return array[real]

    def predict(self, probe: Probe, granularity: str, index: int, combination: dict[str, str]):
        table = predictions(probe.operation, probe.purpose.dtype)
        c = table.index[tuple(sorted(combination.items()))]
        rows = list(probe.purpose.rows)
        _, _, _, real = stacked(groups(probes_for(probe.operation))[probe.purpose.dtype])
        outputs, unpredictable = table.outputs[c][rows], table.unpredictable[c][rows]
        return outputs[real[rows]], unpredictable[real[rows]]

    def declared(self, backend, operation: str, granularity: str) -> dict[str, str] | None:
        declared = declared_profiles(backend).get(operation)
        return profile_combo(declared, operation, granularity) if declared in PROFILES_BY_NAME else None

    def profiles(self, operation: str, granularity: str) -> dict[str, dict[str, str]]:
        return {profile.name: profile_combo(profile.name, operation, granularity) for profile in PROFILES}

    def describe(self, probe: Probe, element: int, value: int) -> Unexplained:
        group = groups(probes_for(probe.operation))[probe.purpose.dtype]
        values, scales, zero_points, real = stacked(group)
        rows = list(probe.purpose.rows)
        channels, positions = np.nonzero(real[rows])
        c, p = rows[channels[element]], positions[element]
        floating = probe.operation != "quantize_linear"
        shown = repr(float(values[c, p])) if values.dtype == F32 else str(int(values[c, p]))
        output = (f"{float(np.array(value, dtype=np.uint32).view(F32))!r} (0x{value:08x})" if floating
                  else str(value))
        return Unexplained(group[c].name, shown, float(scales[c]), int(zero_points[c]), probe.purpose.dtype, output)


CHAPTER = AffineChapter()
