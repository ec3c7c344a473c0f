"""Generators of the observer and dynamic-quantization cases (chapter OBS).

``dynamic_quantize_linear`` runs under the profiles of ``refq.observers.dynamic.DYNAMIC_PROFILES``;
the observers run under ``pytorch``. An observer case feeds ``batches[0]``, ``batches[1]``, ...
to one fresh observer. Besides seeded random data, each operation gets the degenerate inputs
the spec gives an outcome for: all zero, constant, one-signed, tiny (subnormal) and huge ranges,
infinities, NaN, empty batches, signed zeros, and the arguments torch rejects.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.observers.dynamic import DYNAMIC_PROFILES

F32 = np.float32
DYNAMIC_SEED = 1501
MINMAX_SEED = 1502
MOVING_AVERAGE_SEED = 1503
HISTOGRAM_SEED = 1504
CALIBRATOR_SEED = 1505
#: The profiles each operation's cases run under.
OPERATION_PROFILES: dict[str, tuple[str, ...]] = {
    "dynamic_quantize_linear": tuple(sorted(DYNAMIC_PROFILES)),
    "observe_minmax": ("pytorch",),
    "observe_moving_average": ("pytorch",),
    "observe_histogram": ("pytorch",),
    "calibrate_percentile": ("onnxruntime",),
    "calibrate_entropy": ("onnxruntime",),
}
#: The operations this module writes cases for.
OPS = tuple(OPERATION_PROFILES)
#: A moving average that leaves $m_{min} > m_{max}$ by one ulp (OBS-2.6): the state [a, next(a)]
#: moved by $c = 0.9$ toward the constant batch $b$.
MIN_ABOVE_MAX = (F32(1.5326701), F32(-0.6664715), 0.9)


#: The cases of level 1 (level 2 has the others): the checked-in tree stays small.
DYNAMIC_LEVEL1 = frozenset({"all-negative", "ties", "all-zero", "tiny-range", "negative-infinity", "nan"})
MINMAX_LEVEL1 = frozenset({"per-tensor-uint8-affine-0", "per-tensor-int8-symmetric-1",
                           "per-channel-int8-symmetric-axis0", "per-channel-uint8-affine_float_qparams-axis-1",
                           "per-channel-degenerate", "empty", "nan", "error-min-above-max",
                           "error-uint8-symmetric-reduce-range", "error-per-channel-1d-batches"})
HISTOGRAM_LEVEL1 = frozenset({"normal", "growing", "heavy-tailed", "positive-int8-symmetric", "infinities-dropped",
                              "empty", "error-nan"})
#: Level 1 is nearly full (tests/test_conformance_vectors.py::test_level1_stays_small): one small case per
#: calibrator there, the defaults, degenerate batches and errors at level 2.
CALIBRATOR_LEVEL1 = frozenset({"growing-64-bins-p99", "heavy-tailed-64-bins"})


def at_level(level: int, name: str, level1: frozenset[str]) -> bool:
    """Whether case ``name`` belongs to ``level``: level 1 holds ``level1``, level 2 the rest."""
    return (name in level1) == (level == 1)


def _f32(values) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(F32)


def _spec(op: str, name: str, inputs: dict, attributes: dict, description: str, generator: str, *,
          seed: int = 0, clauses: tuple[str, ...] = (), profiles: tuple[str, ...] | None = None,
          outcome: str = "valid") -> CaseSpec:
    return CaseSpec(op=op, name=name, inputs={key: np.ascontiguousarray(value) for key, value in inputs.items()},
                    attributes=attributes, clauses=clauses, description=description, generator=generator, seed=seed,
                    profiles=OPERATION_PROFILES[op] if profiles is None else profiles, outcome=outcome)


# --- dynamic_quantize_linear ---------------------------------------------------------------


def dynamic_cases(level: int) -> Iterator[CaseSpec]:
    """DynamicQuantizeLinear: random tensors and every input OBS-5.1 to OBS-5.5 single out."""
    op, generator = "dynamic_quantize_linear", "observers.dynamic_cases"
    rng = np.random.default_rng(DYNAMIC_SEED)
    for index in range(1 if level == 1 else 8):
        x = _f32(rng.standard_normal((4, 16)) * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-1, 1))
        if level == 1 or index >= 1:
            yield _spec(op, f"random-{index}", {"x": x}, {}, "normal values, random scale and offset", generator,
                        seed=DYNAMIC_SEED)
    # x / s on exact ties k + 1/2: the range [0, 63.75] gives s = 0.25 and z = 0.
    ties = _f32(np.concatenate([[0.0, 63.75], (np.arange(0, 255) + 0.5) * 0.25]))
    special = {
        "all-positive": (_f32(rng.uniform(0.5, 4.0, 32)), "no negative value: m^- = 0, z = 0", ("OBS-5.1",)),
        "all-negative": (_f32(-rng.uniform(0.5, 4.0, 32)), "no positive value: m^+ = 0, z = 255", ("OBS-5.1",)),
        "ties": (ties, "quotients x / s on exact ties: rounded half to even", ("OBS-5.4",)),
        "all-zero": (_f32([0.0, 0.0, 0.0, 0.0]), "m^+ = m^- = 0: the profiles' scales differ (1.0 or 1/255)",
                     ("OBS-5.2",)),
        "signed-zeros": (_f32([-0.0, 0.0, -0.0]), "zeros of both signs: an empty range", ("OBS-5.2",)),
        "constant": (_f32([0.75] * 8), "a constant positive tensor", ()),
        "tiny-range": (_f32([1e-45, 0.0, 1e-45]), "a subnormal range: s rounds to 0, z is 255", ("OBS-5.2", "OBS-5.3")),
        "huge-range": (_f32([3e38, -3e38, 1.0]), "m^+ - m^- overflows float32: s = inf", ("OBS-5.2",)),
        "positive-infinity": (_f32([np.inf, 1.0, -2.0]), "+inf in the input: s = inf", ("OBS-5.2", "OBS-5.3")),
        "negative-infinity": (_f32([-np.inf, 1.0, 2.0]), "-inf in the input: s = inf, z from NaN", ("OBS-5.3",)),
        "both-infinities": (_f32([-np.inf, np.inf, 0.5]), "both infinities", ("OBS-5.3",)),
        "nan": (_f32([np.nan, 1.0, -1.0, 2.0]), "a NaN: unpredictable under onnxruntime, NaN scale under "
                "onnx-reference", ("OBS-5.1", "OBS-5.4")),
        "scalar": (_f32(2.5), "a 0-d tensor", ()),
    }
    for name, (x, description, clauses) in special.items():
        if at_level(level, name, DYNAMIC_LEVEL1):
            yield _spec(op, name, {"x": x}, {}, description, generator, clauses=clauses)
    if level != 1:
        return
    empty = np.zeros((0,), F32)
    yield _spec(op, "empty-onnxruntime", {"x": empty}, {}, "an empty input: scale 1.0, zero point 0",
                generator, profiles=("onnxruntime",))
    yield _spec(op, "empty-onnx-reference", {"x": empty}, {}, "an empty input: numpy's reduction raises",
                generator, profiles=("onnx-reference",), outcome="error")


# --- min-max and moving-average observers -----------------------------------------------------


def _random_batches(rng, batches: int, shape: tuple[int, ...]) -> np.ndarray:
    scale = 10.0 ** rng.uniform(-2, 2, (batches,) + (1,) * len(shape))
    return _f32(rng.standard_normal((batches,) + shape) * scale + rng.uniform(-0.5, 0.5))


def _degenerate_batches() -> dict[str, tuple[np.ndarray, str]]:
    """Two batches of four values each, per tensor, for the degenerate ranges."""
    return {
        "all-zero": (_f32([[0.0] * 4] * 2), "all zero: the scale is the epsilon floor"),
        "constant": (_f32([[0.75] * 4] * 2), "a constant positive batch"),
        "all-positive": (_f32([[0.5, 1.0, 2.0, 3.0], [0.25, 4.0, 1.0, 1.5]]), "all positive: m^- widened to 0"),
        "all-negative": (_f32([[-0.5, -1.0, -2.0, -3.0], [-0.25, -4.0, -1.0, -1.5]]), "all negative"),
        "tiny-range": (_f32([[1e-45, 2e-45, 0.0, 1e-45], [3e-45, 0.0, 1e-45, 0.0]]),
                       "a subnormal range: the scale is the epsilon floor"),
        "huge-range": (_f32([[3e38, -3e38, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0]]), "the range overflows: scale inf"),
        "infinities": (_f32([[np.inf, 1.0, -1.0, 0.5], [-np.inf, 2.0, 0.0, 1.0]]), "+-inf: an infinite range"),
        "nan": (_f32([[1.0, np.nan, -1.0, 0.5], [2.0, 3.0, -2.0, 0.0]]), "a NaN: the state is NaN for good"),
        "all-nan": (_f32([[np.nan] * 4] * 2), "only NaN"),
        "signed-zeros": (_f32([[-0.0, 0.0, 1.0, 2.0], [0.0, -0.0, 3.0, 0.5]]),
                         "zeros of both signs at the minimum: its sign is open (OBS-2.2)"),
        "empty": (np.zeros((2, 0), F32), "empty batches leave the state unobserved: (1.0, 0)"),
    }


def _channel_degenerate_batches() -> np.ndarray:
    """Two (10, 4) batches, channels along axis 0: one degenerate range per channel."""
    channels = [
        ([0.0] * 4, [0.0] * 4),  # all zero
        ([0.75] * 4, [0.75] * 4),  # constant
        ([0.5, 1.0, 2.0, 3.0], [0.25, 4.0, 1.0, 1.5]),  # all positive
        ([-0.5, -1.0, -2.0, -3.0], [-0.25, -4.0, -1.0, -1.5]),  # all negative
        ([1e-45, 2e-45, 0.0, 1e-45], [3e-45, 0.0, 1e-45, 0.0]),  # subnormal range
        ([3e38, -3e38, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0]),  # the range overflows
        ([np.inf, 1.0, -1.0, 0.5], [-np.inf, 2.0, 0.0, 1.0]),  # infinities
        ([1.0, np.nan, -1.0, 0.5], [2.0, 3.0, -2.0, 0.0]),  # one NaN
        ([np.nan] * 4, [np.nan] * 4),  # only NaN
        ([-0.0, 0.0, 1.0, 2.0], [0.0, -0.0, 3.0, 0.5]),  # zeros of both signs at the minimum
    ]
    return _f32([[first for first, _ in channels], [second for _, second in channels]])


def minmax_cases(op: str, seed: int, level: int) -> Iterator[CaseSpec]:
    """Random and degenerate sequences per tensor and per channel, each target and scheme."""
    generator = f"observers.{op}"
    rng = np.random.default_rng(seed)
    moving = op == "observe_moving_average"
    constants = (0.01, 0.5, 1.0) if moving else (None,)

    def attributes(dtype="uint8", qscheme="affine", reduce_range=False, ch_axis=None, constant=None):
        chosen = {"dtype": dtype, "qscheme": qscheme, "reduce_range": reduce_range, "ch_axis": ch_axis}
        if moving:
            chosen = {"averaging_constant": 0.01 if constant is None else constant, **chosen}
        return chosen

    def wanted(name: str) -> bool:
        return at_level(level, name, MINMAX_LEVEL1)

    targets = (("uint8", "affine", False), ("int8", "symmetric", False), ("uint8", "affine", True),
               ("int8", "affine", True), ("uint8", "symmetric", False), ("int32", "affine", False))
    for index, (dtype, qscheme, reduce_range) in enumerate(targets):
        constant = constants[index % len(constants)]
        name = f"per-tensor-{dtype}-{qscheme}" + ("-reduce-range" if reduce_range else "") + f"-{index}"
        batches = _random_batches(rng, 3, (16,))
        if wanted(name):
            yield _spec(op, name, {"batches": batches}, attributes(dtype, qscheme, reduce_range, None, constant),
                        f"three random batches, {dtype} {qscheme}" + (", reduce_range" if reduce_range else ""),
                        generator, seed=seed, clauses=("OBS-1.1", "OBS-1.3", "OBS-1.4", "OBS-1.5"))
    channel_options = (("int8", "symmetric", 0), ("uint8", "affine", 1), ("uint8", "affine_float_qparams", -1),
                       ("int8", "affine", 2))
    for index, (dtype, qscheme, ch_axis) in enumerate(channel_options):
        constant = constants[index % len(constants)]
        name = f"per-channel-{dtype}-{qscheme}-axis{ch_axis}"
        batches = _random_batches(rng, 2, (3, 4, 5))
        if wanted(name):
            yield _spec(op, name, {"batches": batches}, attributes(dtype, qscheme, False, ch_axis, constant),
                        f"two random (3, 4, 5) batches, channels along axis {ch_axis}", generator, seed=seed,
                        clauses=("OBS-1.8", "OBS-2.4") + (("OBS-1.6",) if qscheme == "affine_float_qparams" else ()))
    if wanted("per-channel-degenerate"):
        yield _spec(op, "per-channel-degenerate", {"batches": _channel_degenerate_batches()}, attributes(ch_axis=0),
                    "one degenerate range per channel: all zero, constant, all positive, all negative, subnormal, "
                    "overflowing, infinite, one NaN, only NaN, signed zeros", generator,
                    clauses=("OBS-1.2", "OBS-1.8", "OBS-2.4"))
    for name, (batches, description) in _degenerate_batches().items():
        if wanted(name):
            yield _spec(op, name, {"batches": batches}, attributes(), description, generator, clauses=("OBS-1.2",))
    if moving and wanted("error-min-above-max"):
        first, target_value, constant = MIN_ABOVE_MAX
        batches = np.stack([np.array([first, np.nextafter(first, F32(np.inf))], F32),
                            np.array([target_value, target_value], F32)])
        yield _spec(op, "error-min-above-max", {"batches": batches}, attributes(constant=constant),
                    "rounding leaves m_min one ulp above m_max: torch's calculate_qparams refuses",
                    generator, clauses=("OBS-1.7",), outcome="error")
    rejected = {
        "error-uint8-symmetric-reduce-range": (_f32([[1.0, -1.0]]), attributes("uint8", "symmetric", True),
                                               "uint8 symmetric with reduce_range: torch refuses"),
        "error-per-channel-1d-batches": (_f32([[1.0, -1.0, 2.0]]), attributes(ch_axis=0),
                                         "a per-channel observer needs batches of at least 2 dimensions"),
        "error-channel-axis-out-of-range": (_f32([[[1.0, 2.0], [3.0, 4.0]]]), attributes(ch_axis=2),
                                            "ch_axis 2 of a 2-D batch"),
    }
    for name, (batches, chosen, description) in rejected.items():
        if wanted(name):
            yield _spec(op, name, {"batches": batches}, chosen, description, generator,
                        clauses=("OBS-1.1",) if "reduce" in name else ("OBS-2.4",), outcome="error")
    if level == 1:
        yield from qparams_probe_cases(op, attributes)


def qparams_probe_cases(op: str, attributes) -> Iterator[CaseSpec]:
    """Level 1: the qparams fingerprint's probes (refq.conformance.fingerprint_observers), each range one
    channel of one batch, a case per target (dtype, qscheme, reduce_range): every value of every observe
    variant (symmetric divisor, scale floor, reduce_range, zero-point ties, zero in the range) changes
    one of them."""
    from refq.conformance.fingerprint_observers import PROBES

    targets = dict.fromkeys((probe.dtype, probe.qscheme, probe.reduce_range) for probe in PROBES)
    for dtype, qscheme, reduce_range in targets:
        chosen = [probe for probe in PROBES if (probe.dtype, probe.qscheme, probe.reduce_range)
                  == (dtype, qscheme, reduce_range)]
        batches = _f32([[[probe.min_val, probe.max_val] for probe in chosen]])
        name = f"qparams-probes-{dtype}-{qscheme}" + ("-reduce-range" if reduce_range else "")
        separates = sorted({probe.separates for probe in chosen})
        yield _spec(op, name, {"batches": batches}, attributes(dtype, qscheme, reduce_range, 0),
                    "one channel per qparams fingerprint probe (" + ", ".join(probe.name for probe in chosen)
                    + "): separates " + ", ".join(separates), "observers.qparams_probe_cases",
                    clauses=("OBS-1.1", "OBS-1.2", "OBS-1.3", "OBS-1.4", "OBS-1.5", "OBS-1.8"))


def minmax_generator(level: int) -> Iterator[CaseSpec]:
    yield from minmax_cases("observe_minmax", MINMAX_SEED, level)


def moving_average_generator(level: int) -> Iterator[CaseSpec]:
    yield from minmax_cases("observe_moving_average", MOVING_AVERAGE_SEED, level)


# --- histogram observer ----------------------------------------------------------------------


def histogram_cases(level: int) -> Iterator[CaseSpec]:
    """Growing, heavy-tailed, one-signed and constant sequences; infinities dropped; NaN refused."""
    op, generator = "observe_histogram", "observers.histogram_cases"
    rng = np.random.default_rng(HISTOGRAM_SEED)

    def attributes(bins=2048, dtype="uint8", qscheme="affine", reduce_range=False):
        return {"bins": bins, "dtype": dtype, "qscheme": qscheme, "reduce_range": reduce_range}

    sequences = {
        "normal": (_f32(rng.standard_normal((2, 512)))[:, :496], attributes(), "two normal batches"),
        "growing": (_f32(rng.standard_normal((3, 256)) * np.array([[1.0], [3.0], [9.0]]) + np.array([[0], [1], [-2]])),
                    attributes(), "each batch widens the range: the histogram is carried over (OBS-3.5)"),
        "heavy-tailed": (_f32(rng.standard_t(2, (2, 512)))[:, :496], attributes(),
                         "Student-t with 2 degrees of freedom: the search clips the outliers"),
        "positive-int8-symmetric": (_f32(rng.exponential(1.0, (2, 256))), attributes(dtype="int8", qscheme="symmetric"),
                                    "all positive, int8 symmetric"),
        "uniform-256-bins": (_f32(rng.uniform(-1, 3, (2, 300))), attributes(bins=256), "256 bins"),
        "reduce-range": (_f32(rng.standard_normal((2, 128))), attributes(reduce_range=True), "uint8 [0, 127]"),
        "constant": (_f32(np.full((2, 16), 0.75)), attributes(), "a constant batch: histc's range widened by 1"),
        "all-zero": (np.zeros((2, 16), F32), attributes(), "all zero"),
        "infinities-dropped": (_f32([[np.inf, 1.0, -1.0, 0.5], [-np.inf, 2.0, 0.0, 1.0]]), attributes(),
                               "infinite values are left out of the histogram"),
        "only-infinities": (_f32([[np.inf, -np.inf], [np.inf, np.inf]]), attributes(),
                            "batches of only infinities leave the state unobserved: (1.0, 0)"),
        "empty": (np.zeros((2, 0), F32), attributes(), "empty batches: unobserved, (1.0, 0)"),
    }
    for name, (batches, chosen, description) in sequences.items():
        if not at_level(level, name, HISTOGRAM_LEVEL1):
            continue
        yield _spec(op, name, {"batches": batches}, chosen, description, generator, seed=HISTOGRAM_SEED,
                    clauses=("OBS-3.2", "OBS-3.5", "OBS-3.7") if name == "growing" else ("OBS-3.2",))
    if level == 1:
        yield _spec(op, "error-nan", {"batches": _f32([[1.0, 2.0], [np.nan, 0.5]])}, attributes(),
                    "a NaN in a batch: torch.histc refuses the range", generator, outcome="error")


# --- ONNX Runtime's calibrators ---------------------------------------------------------------


def calibrator_cases(level: int) -> Iterator[CaseSpec]:
    """Percentile (signed and absolute-value histograms) and entropy: random sequences whose range
    grows, the default options, degenerate batches, and the inputs ONNX Runtime refuses."""
    generator = "observers.calibrator_cases"
    rng = np.random.default_rng(CALIBRATOR_SEED)
    growing = _f32(rng.standard_normal((3, 200)) * np.array([[1.0], [2.5], [0.5]]) + np.array([[0.0], [0.5], [0.0]]))
    heavy = _f32(rng.standard_t(2, (2, 300)))
    normal = _f32(rng.standard_normal((2, 1000)))
    skewed = _f32(rng.exponential(1.0, (2, 1000)) - 0.25)
    percentile, entropy = "calibrate_percentile", "calibrate_entropy"
    signed = ("OBS-4.3", "OBS-4.5")
    absolute = ("OBS-4.4", "OBS-4.5")
    valid = {
        "growing-64-bins-p99": (percentile, growing, {"num_bins": 64, "percentile": 99.0, "symmetric": False},
                                "three batches, the second widens the range: the histogram grows (OBS-4.3)",
                                signed),
        "growing-64-bins-p99-symmetric": (percentile, growing, {"num_bins": 64, "percentile": 99.0, "symmetric": True},
                                          "three batches of |x|: edges appended for the second (OBS-4.4)",
                                          absolute),
        "normal-defaults": (percentile, normal, {}, "2048 bins, 99.999 %", signed),
        "normal-defaults-symmetric": (percentile, normal, {"symmetric": True}, "2048 bins of |x|, 99.999 %", absolute),
        "skewed-p90": (percentile, skewed, {"num_bins": 256, "percentile": 90.0}, "one-sided tail, 90 %", signed),
        "heavy-tailed-p100": (percentile, heavy, {"num_bins": 128, "percentile": 100.0},
                              "percentile 100: the observed extremes", signed),
        "heavy-tailed-p0-symmetric": (percentile, heavy, {"num_bins": 128, "percentile": 0.0, "symmetric": True},
                                      "percentile 0 of |x|: the first edge", absolute),
        "heavy-tailed-64-bins": (entropy, heavy, {"num_bins": 64, "num_quantized_bins": 16},
                                 "Student-t, 16 quantized bins: the least-divergence window clips the tails",
                                 ("OBS-4.6",)),
        "growing-defaults": (entropy, growing, {}, "128 bins, 128 quantized bins, a growing range", ("OBS-4.6",)),
        "normal-256-bins": (entropy, normal, {"num_bins": 256, "num_quantized_bins": 32}, "256 bins, 32 quantized",
                            ("OBS-4.6",)),
    }
    degenerate = {
        "all-zero": (_f32([[0.0] * 4] * 2), "all zero: the range [0, 0] (numpy widens the bins to [-0.5, 0.5])"),
        "constant": (_f32([[0.75] * 4] * 2), "a constant batch"),
        "signed-zeros": (_f32([[-0.0, 0.0, 1.0, -2.0], [0.0, -0.0, 3.0, 0.5]]),
                         "zeros of both signs: a bound clipped to a zero has an open sign"),
        "nan-ignored": (_f32([[1.0, 2.0, -1.0, 0.5], [np.nan, 3.0, -2.0, 0.25]]),
                        "a NaN in a later batch: left out of the extremes and the histogram"),
    }
    cases = []
    for name, (op, batches, attributes, description, clauses) in valid.items():
        cases.append((op, name, batches, attributes, description, clauses, "valid"))
    for name, (batches, description) in degenerate.items():
        for op, attributes, suffix in ((percentile, {"num_bins": 16}, ""),
                                       (percentile, {"num_bins": 16, "symmetric": True}, "-symmetric"),
                                       (entropy, {"num_bins": 16, "num_quantized_bins": 4}, "")):
            cases.append((op, name + suffix, batches, attributes, description, ("OBS-4.3",), "valid"))
    errors = {
        "error-no-batches": (np.zeros((0, 4), F32), {}, "no batch: ONNX Runtime has no histogram"),
        "error-all-nan": (_f32([[np.nan] * 4]), {}, "an all-NaN batch: the histogram range is NaN"),
        "error-infinity": (_f32([[1.0, np.inf, -1.0]]), {}, "an infinite value: the histogram range is infinite"),
        "error-zero-bins": (_f32([[1.0, -1.0]]), {"num_bins": 0}, "num_bins 0"),
    }
    for name, (batches, attributes, description) in errors.items():
        for op in (percentile, entropy):
            cases.append((op, name, batches, attributes, description, ("OBS-4.3",), "error"))
    cases += [
        (percentile, "error-percentile-above-100", _f32([[1.0, -1.0]]), {"num_bins": 16, "percentile": 100.5},
         "percentile 100.5", ("OBS-4.5",), "error"),
        (percentile, "error-nan-first-symmetric", _f32([[1.0, np.nan]]), {"num_bins": 16, "symmetric": True},
         "a NaN in the first batch of |x|: numpy's autodetected range is NaN", ("OBS-4.4",), "error"),
        (percentile, "error-empty-symmetric", np.zeros((2, 0), F32), {"num_bins": 16, "symmetric": True},
         "only empty batches of |x|: no counts", ("OBS-4.4", "OBS-4.5"), "error"),
        (entropy, "error-quantized-bins-above-bins", _f32([[1.0, -1.0]]), {"num_bins": 16, "num_quantized_bins": 32},
         "more quantized bins than bins: no window", ("OBS-4.6",), "error"),
        (entropy, "empty", np.zeros((2, 0), F32), {"num_bins": 16, "num_quantized_bins": 4},
         "only empty batches: every divergence infinite, the first window clipped to [0, 0]", ("OBS-4.3",), "valid"),
    ]
    for op, name, batches, attributes, description, clauses, outcome in cases:
        if at_level(level, name, CALIBRATOR_LEVEL1):
            yield _spec(op, name, {"batches": batches}, attributes, description, generator, seed=CALIBRATOR_SEED,
                        clauses=clauses, outcome=outcome)


GENERATORS = (dynamic_cases, minmax_generator, moving_average_generator, histogram_cases, calibrator_cases)
