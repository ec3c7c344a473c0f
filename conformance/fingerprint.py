"""Fingerprinting: which variant values does a backend implement?

Golden vectors answer "does the backend meet profile P?". A fingerprint answers the
question before it: "which profile, if any, describes this backend?". It runs small
*discriminating* inputs built in memory, on which the values of one variant give
different results while the other variants agree as much as possible: exact ties (they
separate the rounding modes), quotients whose float32 and float64 values straddle a
tie (precision, reciprocal against division), odd zero points on ties (where the zero
point is added, fused or not), infinities, NaN and quotients past $2^{31}$ with a
negative zero point (saturation and conversion overflow), and dequantize inputs on
which $q s - z s$ and $(q - z) s$ round differently.

Then every valid combination of variant values (:func:`refq.affine.profiles.resolve_variants`
decides which are valid) is computed by refq on the same inputs and compared with the
backend's outputs, elements the combination leaves *unpredictable* excepted. The
combinations with no mismatch are the ones the backend is consistent with; per variant,
the values occurring in them are reported, together with the nearest profile (fewest
mismatching elements) and the inputs that no combination explains. Each operation is
fingerprinted per granularity (per-tensor and per-axis), since backends run different
kernels for them.

The integer operations (requantization through ``qlinear_matmul`` and ``qlinear_conv``,
:mod:`refq.conformance.fingerprint_integer`) and the elementwise ones (``qlinear_add``,
``qlinear_mul``, ``qlinear_sigmoid``, the average pools, :mod:`refq.conformance.fingerprint_elementwise`)
are fingerprinted probe by probe and reported alongside, for the operations the backend has.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from refq.affine import dequantize, quantize_with_outcomes
from refq.conformance import fingerprint_elementwise, fingerprint_integer, fingerprint_probes
from refq.conformance.fingerprint_probes import ProbeFingerprint
from refq.affine.profiles import resolve_variants
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
class Probe:
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
def quantize_probes() -> tuple[Probe, ...]:
    """The discriminating quantize inputs, int8, one scale and zero point per probe."""
    halves = np.array([0.5, 1.5, 2.5, 3.5, 0.25, 0.75, 1.25, 0.0])
    ties = np.concatenate([halves, -halves[:-1]])
    probes = [
        Probe("ties", "exact ties and quarter values: separate the seven rounding modes",
              (ties * 0.5).astype(F32), F32(0.5), 0),
        Probe("odd-zero-point ties", "ties with an odd zero point: zero point added before or after rounding",
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
    probes.append(Probe("last-bit quotients", "x / s against x * fl32(1/s), in float32 and float64, next to ties",
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
        probes.append(Probe(f"zero point {zero_point:+d} in working precision",
                            "x / s + z rounded in float32, float64 or fused, next to ties",
                            _select(pool, scale, zero_point, "int8", placement_pairs, 3), scale, zero_point))
    specials = np.array([np.inf, -np.inf, np.nan, 3e9, -3e9, 200.0, -200.0, 127.5], dtype=F32)
    for zero_point in (0, -1):
        probes.append(Probe(f"non-finite, zero point {zero_point:+d}",
                            "infinities, NaN and |x / s| >= 2^31: saturation, conversion overflow, NaN",
                            specials, F32(1.0), zero_point))
    return tuple(probes)


@lru_cache(maxsize=1)
def dequantize_probes() -> tuple[Probe, ...]:
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
        probes.append(Probe(f"dequantize formula {dtype}", "(q - z) * s against q * s - z * s",
                            q[np.sort(np.concatenate([differ, agree]))].astype(dtype), scale, zero_point, dtype))
    return tuple(probes)


def probes_for(operation: str) -> tuple[Probe, ...]:
    return dequantize_probes() if operation == "dequantize_linear" else quantize_probes()


def stacked(probes: tuple[Probe, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _groups(probes: tuple[Probe, ...]) -> dict[str, tuple[Probe, ...]]:
    """Probes by dtype (a per-axis call has one dtype)."""
    groups: dict[str, list[Probe]] = {}
    for probe in probes:
        groups.setdefault(probe.dtype, []).append(probe)
    return {dtype: tuple(group) for dtype, group in groups.items()}


def bits(array: np.ndarray) -> np.ndarray:
    """Integers as int64, float32 as their bit patterns: comparing these compares bits."""
    array = np.asarray(array)
    if array.dtype == np.float32:
        return array.view(np.uint32).astype(np.int64)
    return array.astype(np.int64)


@lru_cache(maxsize=None)
def predictions(operation: str, dtype: str) -> Predictions:
    """refq's answers under every combination, for the probes of ``dtype`` (computed once)."""
    probes = _groups(probes_for(operation))[dtype]
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
    return Predictions(operation, combos, np.array(outputs), np.array(masks))


# --- running a backend --------------------------------------------------------------


class Unsupported(Exception):
    """The backend lacks the operation or raised NotImplementedError for it."""


def _call(backend, operation: str, values, scale, zero_point, dtype: str, axis):
    method = getattr(backend, operation, None)
    if method is None:
        raise Unsupported(f"no {operation} method")
    try:
        if operation == "fake_quantize":
            return method(values, scale, zero_point, axis=axis, dtype=dtype)
        return method(values, scale, zero_point, axis=axis, dtype=dtype)
    except NotImplementedError as error:
        raise Unsupported(str(error) or "NotImplementedError") from None


def backend_outputs(backend, operation: str, granularity: str, dtype: str) -> np.ndarray:
    """The backend's outputs on the probes of ``dtype``, shaped like the stacked input (as :func:`bits`)."""
    probes = _groups(probes_for(operation))[dtype]
    values, scales, zero_points, real = stacked(probes)
    if granularity == "per_axis":
        result = _call(backend, operation, values, scales, zero_points.astype(values.dtype if operation ==
                       "dequantize_linear" else np.int64), dtype, CHANNEL_AXIS)
        result = np.asarray(result)
        if result.shape != values.shape:
            raise RuntimeError(f"{operation} returned shape {result.shape}, expected {values.shape}")
        return bits(result)
    rows = []
    for probe, row in zip(probes, values):
        result = np.asarray(_call(backend, operation, probe.values, probe.scale, probe.zero_point, dtype, None))
        if result.shape != probe.values.shape:
            raise RuntimeError(f"{operation} returned shape {result.shape}, expected {probe.values.shape}")
        padded = np.concatenate([bits(result), np.repeat(bits(result)[-1:], len(row) - len(probe.values))])
        rows.append(padded)
    return np.stack(rows)


# --- the fingerprint --------------------------------------------------------------


@dataclass
class Unexplained:
    """An input on which the backend's output matches no combination of variant values."""

    probe: str
    input: str
    scale: float
    zero_point: int
    dtype: str
    output: str

    def describe(self) -> str:
        return (f"{self.probe}: input {self.input}, scale {self.scale!r}, zero point {self.zero_point}, "
                f"{self.dtype} -> {self.output}")


@dataclass
class OperationFingerprint:
    """What one operation at one granularity of a backend is consistent with."""

    operation: str
    granularity: str
    status: str  # "ok", "unsupported" or "error"
    detail: str = ""
    elements: int = 0
    combinations: int = 0
    consistent: int = 0
    #: Variant -> the values occurring in the most specific consistent combinations: those leaving
    #: the fewest elements unpredictable (the nearest combinations when none is consistent).
    variants: dict[str, list[str]] = field(default_factory=dict)
    #: Variant -> further values, consistent only by declaring more elements unpredictable.
    also_consistent: dict[str, list[str]] = field(default_factory=dict)
    nearest_profiles: list[str] = field(default_factory=list)
    nearest_mismatches: int = 0
    #: Profile -> mismatching elements, for every profile.
    profile_mismatches: dict[str, int] = field(default_factory=dict)
    #: The inputs on which the backend's declared profile predicts another output.
    declared_deviations: list[Unexplained] = field(default_factory=list)
    unexplained: list[Unexplained] = field(default_factory=list)


@dataclass
class Fingerprint:
    backend: str
    version: str
    declared_profile: dict[str, str]
    operations: list[OperationFingerprint]
    #: Requantization through qlinear_matmul / qlinear_conv, per tensor and per channel.
    integer: list[ProbeFingerprint] = field(default_factory=list)
    #: The elementwise operations' evaluation orders, per tensor.
    elementwise: list[ProbeFingerprint] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def declared_profiles(backend) -> dict[str, str]:
    """Operation -> the profile the backend claims (``profile`` may be a string or a dict)."""
    claimed = getattr(backend, "profile", None)
    if isinstance(claimed, dict):
        return {op: claimed[op] for op in OPERATION_VARIANTS if op in claimed}
    return {op: claimed for op in OPERATION_VARIANTS} if isinstance(claimed, str) else {}


def profile_combo(profile: str, operation: str, granularity: str) -> dict[str, str]:
    kind = OPERATION_VARIANTS[operation]
    resolved = resolve_variants(profile, kind, per_axis=granularity != "per_tensor")
    return {name: value.name for name, value in resolved.items()}


def _describe_value(value: int, floating: bool) -> str:
    if floating:
        return f"{float(np.array(value, dtype=np.uint32).view(F32))!r} (0x{value:08x})"
    return str(value)


def _element(probes, values, scales, zero_points, dtype, c: int, p: int, output: int, floating: bool) -> Unexplained:
    value = values[c, p]
    return Unexplained(probes[c].name, repr(float(value)) if values.dtype == F32 else str(int(value)),
                       float(scales[c]), int(zero_points[c]), dtype, _describe_value(int(output), floating))


def fingerprint_operation(backend, operation: str, granularity: str,
                          declared: str | None = None) -> OperationFingerprint:
    """Compare the backend with every combination on the probes of ``operation`` at ``granularity``;
    ``declared`` names the profile whose deviations are listed."""
    result = OperationFingerprint(operation, granularity, "ok")
    groups = _groups(probes_for(operation))
    observed = []
    try:
        for dtype in groups:
            observed.append(backend_outputs(backend, operation, granularity, dtype))
    except Unsupported as reason:
        result.status, result.detail = "unsupported", str(reason)
        return result
    except Exception as error:  # a backend that raises is reported, never fatal
        result.status, result.detail = "error", f"{type(error).__name__}: {error}"
        return result
    floating = operation != "quantize_linear"
    kind = OPERATION_VARIANTS[operation]
    combos = combinations(kind)
    declared_combo = profile_combo(declared, operation, granularity) if declared in PROFILES_BY_NAME else None
    mismatches = np.zeros(len(combos), np.int64)
    leeway = np.zeros(len(combos), np.int64)  # elements each combination leaves unpredictable
    for (dtype, probes), output in zip(groups.items(), observed):
        table = predictions(operation, dtype)
        values, scales, zero_points, real = stacked(probes)
        agree = (table.outputs == output[None]) | table.unpredictable
        mismatches += (~agree & real[None]).reshape(len(combos), -1).sum(axis=1)
        leeway += (table.unpredictable & real[None]).reshape(len(combos), -1).sum(axis=1)
        for c, p in zip(*np.nonzero(~agree.any(axis=0) & real)):
            result.unexplained.append(_element(probes, values, scales, zero_points, dtype, c, p, output[c, p],
                                               floating))
        if declared_combo is not None:
            wrong = ~agree[combos.index(declared_combo)] & real
            for c, p in zip(*np.nonzero(wrong)):
                result.declared_deviations.append(_element(probes, values, scales, zero_points, dtype, c, p,
                                                           output[c, p], floating))
        result.elements += int(real.sum())
    result.combinations = len(combos)
    consistent = mismatches == 0
    result.consistent = int(consistent.sum())
    if consistent.any():
        specific = consistent & (leeway == leeway[consistent].min())
    else:
        specific = mismatches == mismatches.min()
    for variant in (v for v in VARIANTS if v.operation == kind):
        seen = {combos[i][variant.name] for i in np.flatnonzero(specific)}
        others = {combos[i][variant.name] for i in np.flatnonzero(consistent)} - seen
        result.variants[variant.name] = [v.name for v in variant.values if v.name in seen]
        result.also_consistent[variant.name] = [v.name for v in variant.values if v.name in others]
    for profile in PROFILES:
        result.profile_mismatches[profile.name] = int(mismatches[combos.index(
            profile_combo(profile.name, operation, granularity))])
    result.nearest_mismatches = min(result.profile_mismatches.values())
    result.nearest_profiles = [name for name, count in result.profile_mismatches.items()
                               if count == result.nearest_mismatches]
    return result


def is_consistent_with(result: OperationFingerprint, profile: str) -> bool:
    """Whether ``profile``'s values at this granularity are among the consistent combinations."""
    return result.status == "ok" and result.profile_mismatches[profile] == 0


def fingerprint(backend, *, operations=tuple(OPERATION_VARIANTS), granularities=GRANULARITIES,
                probes: bool = True) -> Fingerprint:
    """The fingerprint of ``backend`` (an adapter object) for every operation and granularity; with
    ``probes``, also its integer and elementwise operations."""
    declared = declared_profiles(backend)
    return Fingerprint(
        backend=str(getattr(backend, "name", type(backend).__name__)),
        version=str(getattr(backend, "version", "")),
        declared_profile=declared,
        operations=[fingerprint_operation(backend, operation, granularity, declared.get(operation))
                    for operation in operations for granularity in granularities],
        integer=fingerprint_integer.fingerprint_integer(backend) if probes else [],
        elementwise=fingerprint_elementwise.fingerprint_elementwise(backend) if probes else [],
    )


def _absent(result: ProbeFingerprint) -> bool:
    """An operation the adapter has no method for: left out of the reports (a refusal is shown)."""
    return result.status == "unsupported" and result.detail.startswith("no ")


def probe_variants(operation: str) -> dict[str, tuple[str, ...]]:
    """The dimensions of an integer or elementwise operation's fingerprint."""
    if operation in fingerprint_elementwise.OPERATION_VARIANTS:
        return fingerprint_elementwise.OPERATION_VARIANTS[operation]
    return fingerprint_integer.CONV_VARIANTS if operation == "qlinear_conv" else fingerprint_integer.VARIANTS


# --- loading and rendering ------------------------------------------------------------


def load(spec: str):
    """The adapter for ``--backend SPEC``. Python adapters run in this process (a fingerprint is
    a few dozen calls, and ``fake_quantize``, which the harness does not run, is fingerprinted
    too); a ``cmd:`` program runs through the harness, one case per call."""
    from refq.conformance.loading import instantiate, is_command

    if is_command(spec):
        return CommandAdapter(spec)
    return instantiate(spec)


class CommandAdapter:
    """A ``cmd:`` backend seen as an adapter: each call becomes an in-memory case."""

    def __init__(self, spec: str, timeout: float = 60.0) -> None:
        from refq.conformance.harness import load_backend

        self._backend = load_backend(spec)
        self.name, self.profile, self.version = spec, self._backend.profile, self._backend.version
        self.timeout = timeout

    def _run(self, op: str, names: tuple[str, ...], values, scale, zero_point, attributes: dict):
        from refq.conformance.case import Case

        inputs = dict(zip(names, (np.asarray(values), np.asarray(scale, F32), np.asarray(zero_point))))
        attributes = {name: value for name, value in attributes.items() if value is not None}
        case = Case(id=f"fingerprint/{op}", op=op, profile=self._backend.profile_for(op), clauses=(),
                    description="fingerprint probe", level=0, attributes=attributes, inputs=inputs, outcome="valid")
        outcome = self._backend.call(case, self.timeout)
        if outcome.kind == "missing" or outcome.not_implemented:
            raise NotImplementedError(outcome.message)
        if outcome.kind != "returned":
            raise RuntimeError(f"{outcome.kind}: {outcome.message}")
        return outcome.value

    def quantize_linear(self, x, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        return self._run("quantize_linear", ("x", "scale", "zero_point"), x, scale, zero_point,
                         {"axis": axis, "block_size": block_size, "dtype": dtype})

    def dequantize_linear(self, q, scale, zero_point=None, *, axis=None, block_size=None, dtype="int8"):
        return self._run("dequantize_linear", ("q", "scale", "zero_point"), q, scale, zero_point,
                         {"axis": axis, "block_size": block_size, "dtype": dtype})

    def close(self) -> None:
        self._backend.close()


def _cell(result: OperationFingerprint, variant: str) -> str:
    text = ", ".join(result.variants[variant]) or "—"
    if result.also_consistent.get(variant):
        text += " (" + ", ".join(result.also_consistent[variant]) + ")"
    return text


def render_text(print_: callable, fingerprint: Fingerprint) -> None:
    """A fingerprint for the terminal."""
    declared = sorted(set(fingerprint.declared_profile.values())) or ["none"]
    print_(f"{fingerprint.backend} {fingerprint.version}   declared profile: {', '.join(declared)}")
    for result in fingerprint.operations:
        head = f"  {result.operation} {result.granularity.replace('_', '-')}:"
        if result.status != "ok":
            print_(f"{head} {result.status} ({result.detail})")
            continue
        print_(f"{head} {result.consistent} of {result.combinations} variant combinations consistent "
               f"on {result.elements} inputs")
        for variant in result.variants:
            print_(f"    {variant:<22} {_cell(result, variant)}")
        print_(f"    nearest profile        {', '.join(result.nearest_profiles)} "
               f"({result.nearest_mismatches} mismatching)")
        for element in result.declared_deviations:
            print_(f"    deviates from declared profile: {element.describe()}")
        for element in result.unexplained:
            print_(f"    explained by no combination:    {element.describe()}")
    results = fingerprint.integer + fingerprint.elementwise
    for result in results:
        if not _absent(result):
            fingerprint_probes.render_text(print_, result)
    absent = [r.operation for r in results if _absent(r) and r.granularity != "per_channel"]
    if absent:
        print_(f"  no method for: {', '.join(absent)}")


def render_markdown(fingerprints: list[Fingerprint]) -> str:
    """The tables of the docs page: one per operation, a row per backend and granularity."""
    lines = ["| backend | version | declared profile |", "|---|---|---|"]
    for fp in fingerprints:
        declared = ", ".join(sorted(set(fp.declared_profile.values()))) or "—"
        lines.append(f"| {fp.backend} | {fp.version} | {declared} |")
    for operation, kind in OPERATION_VARIANTS.items():
        rows = [(fp, r) for fp in fingerprints for r in fp.operations
                if r.operation == operation and r.status == "ok"]
        if not rows:
            continue
        names = [v.name for v in VARIANTS if v.operation == kind]
        lines += ["", f"### {operation}", "",
                  "| backend | granularity | " + " | ".join(names) + " | nearest profile | deviations |",
                  "|---" * (len(names) + 4) + "|"]
        for fp, r in rows:
            cells = [_cell(r, name) for name in names]
            nearest = f"{', '.join(r.nearest_profiles)} ({r.nearest_mismatches})"
            deviations = f"{len(r.declared_deviations)} from declared, {len(r.unexplained)} unexplained"
            lines.append(f"| {fp.backend} | {r.granularity.replace('_', '-')} | " + " | ".join(cells)
                         + f" | {nearest} | {deviations} |")
    for operation in (*fingerprint_integer.OPERATIONS, *fingerprint_elementwise.OPERATION_VARIANTS):
        rows = [(fp.backend, r) for fp in fingerprints for r in fp.integer + fp.elementwise]
        lines += fingerprint_probes.render_markdown(rows, probe_variants(operation), operation)
    return "\n".join(lines) + "\n"


def all_builtin() -> list[str]:
    from refq.backends import BUILTIN

    return list(BUILTIN)
