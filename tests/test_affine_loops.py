"""AFF-3 and AFF-4: the loops generated per variant combination (refq/affine/loops.py).

``quantize`` and ``dequantize`` run the loop compiled for their variant codes. Each is
compared, bit for bit, with the general loops (``quantize_blocks`` and ``dequantize_blocks``:
the step functions with every code a runtime argument) on every element, unpredictable
ones included, and with the exact oracle (tests/oracle/affine.py) on every element the
profile defines, for every built-in profile, per tensor, per axis and blocked, on adversarial
inputs: exact ties and their neighbours for both scale operations, the saturation bounds,
signed zeros, subnormals, infinities, NaN payloads, and quotients around 2^31 and 2^63.
"""

from __future__ import annotations

import functools
import importlib
import itertools

import numpy as np
import pytest

from refq.affine import dequantize, quantize, quantize_with_outcomes
from refq.affine.dequantize import dequantize_blocks
from refq.affine.loops import nan_result, quantize_loop, rounded_lane
from refq.affine.parameters import granularity, scale_array, target_type, zero_point_array
from refq.affine.profiles import resolve_variants
from refq.affine.quantize import quantize_blocks
from refq.affine.steps import NAN_CONVERTED
from refq.numbers.rounding import round_to_integral
from refq.registry.profiles import PROFILES
from refq.registry import rounding_mode
from refq.registry.variants import VARIANTS
from tests.adversarial import adversarial_inputs, random_inputs
from tests.oracle import affine as oracle

# The module, not the function refq.affine exports under the same name.
quantize_module = importlib.import_module("refq.affine.quantize")


@pytest.fixture(autouse=True)
def generated_loops_for_every_size(monkeypatch):
    """The inputs here are small, which quantize sends to the general loop: these tests are about the
    generated ones, so every size takes them."""
    monkeypatch.setattr(quantize_module, "GENERATED_LOOP_MINIMUM", 0)

PROFILE_NAMES = [profile.name for profile in PROFILES]
DTYPES = [f"{kind}{bits}" for kind in ("int", "uint") for bits in range(1, 17)]
#: Scales: ordinary, a power of two (exact reciprocal), one whose reciprocal is inexact, a tiny
#: one (quotients past 2^31 and 2^63 from ordinary inputs), a subnormal one (1 / s overflows).
SCALES = (np.float32(0.1), np.float32(2.0**-10), np.float32(0.00214854861), np.float32(3.0e-39),
          np.float32(1e-45))


def general_quantize(x, scale, zero_point, dtype, narrow, axis, block_size, profile, overrides):
    """The general loop on the same parameters: ``(values, unpredictable)``."""
    target = target_type(dtype, narrow)
    scales = scale_array(scale)
    layout = granularity(x.shape, scales.shape, axis, block_size)
    zero_points = zero_point_array(zero_point, target, scales.shape)
    codes = {name: value.code for name, value in
             resolve_variants(profile, "quantize", per_axis=layout.kind != "per_tensor", overrides=overrides).items()}
    scale3 = scales.reshape(layout.scale_shape3)
    with np.errstate(divide="ignore", over="ignore"):
        reciprocal3 = (np.float32(1) / scale3).astype(np.float32)
    x3 = x.reshape(layout.outer, layout.length, layout.inner)
    out3 = np.empty(x3.shape, np.int64)
    unpredictable3 = np.zeros(x3.shape, np.bool_)
    quantize_blocks(x3, scale3, reciprocal3, zero_points.reshape(layout.scale_shape3), layout.block, target.qmin,
                    target.qmax, codes["scale_operation"], codes["precision"], codes["zero_point_placement"],
                    codes["rounding"], codes["saturation"], codes["conversion_overflow"], codes["nan"],
                    codes["subnormals"], out3,
                    unpredictable3)
    return out3.reshape(x.shape), unpredictable3.reshape(x.shape)


def names_of(profile: str, per_axis: bool, overrides: dict[str, str]) -> dict[str, str]:
    return {name: value.name for name, value in
            resolve_variants(profile, "quantize", per_axis=per_axis, overrides=overrides).items()}


def layouts(x: np.ndarray, scale, zero_point: int):
    """The same inputs per tensor, per axis (runs along the last axis, and runs of one element) and
    blocked (a scale per block and per inner index): ``(x, scale, zero_point, axis, block_size)``."""
    yield x, scale, zero_point, None, None
    size = x.size - x.size % 3
    rows = x[:size].reshape(3, -1)
    factors = np.array([1, 2, 0.75], np.float32)
    with np.errstate(over="ignore", under="ignore"):
        scales = (factors * scale).astype(np.float32)
    scales[scales == 0] = scale
    zero_points = np.array([zero_point, 0, zero_point], np.int64)
    yield rows, scales, zero_points, 0, None
    yield np.ascontiguousarray(rows.T), scales, zero_points, 1, None
    columns = np.ascontiguousarray(rows.T)  # (n, 3): blocks of 4 along axis 0, a scale per column
    blocks = -(-columns.shape[0] // 4)
    yield columns, np.tile(scales, (blocks, 1)), np.tile(zero_points, (blocks, 1)), 0, 4


def expanded(parameter, shape, axis, block_size):
    """Each element's scale or zero point (a plain numpy broadcast, apart from refq)."""
    parameter = np.asarray(parameter)
    if axis is None:
        return np.broadcast_to(parameter, shape)
    if block_size is None:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(parameter.reshape(view), shape)
    return np.repeat(parameter, block_size, axis=axis)[tuple(slice(0, n) for n in shape)]


def check_quantize(x, scale, zero_point, dtype, narrow, axis, block_size, profile, overrides, with_oracle):
    """The generated loop with and without outcomes (which may run loops of different, equivalent codes:
    QuantizeLoop) equals the general loop on every element; with ``with_oracle``, the oracle too."""
    values, unpredictable = quantize_with_outcomes(x, scale, zero_point, dtype=dtype, narrow=narrow, axis=axis,
                                                   block_size=block_size, profile=profile, **overrides)
    without_outcomes = quantize(x, scale, zero_point, dtype=dtype, narrow=narrow, axis=axis, block_size=block_size,
                                profile=profile, **overrides)
    general, general_unpredictable = general_quantize(x, scale, zero_point, dtype, narrow, axis, block_size,
                                                      profile, overrides)
    for got in (values, without_outcomes):
        mismatch = np.flatnonzero((got.astype(np.int64) != general).ravel())
        assert mismatch.size == 0, (profile, dtype, axis, x.ravel()[mismatch[:5]], got.ravel()[mismatch[:5]],
                                    general.ravel()[mismatch[:5]])
    assert np.array_equal(unpredictable, general_unpredictable), (profile, dtype, axis)
    if not with_oracle:
        return x.size
    qmin, qmax = target_type(dtype, narrow).qmin, target_type(dtype, narrow).qmax
    variants = names_of(profile, axis is not None, overrides)
    scales, zero_points = expanded(scale, x.shape, axis, block_size), expanded(zero_point, x.shape, axis, block_size)
    for index in np.ndindex(x.shape):
        expected, expected_unpredictable = oracle.oracle_quantize(
            x[index], scales[index], int(zero_points[index]), qmin, qmax, variants)
        assert bool(unpredictable[index]) == expected_unpredictable, (profile, dtype, index, x[index])
        if not expected_unpredictable:
            assert int(values[index]) == expected, (profile, dtype, index, x[index], scales[index])
    return x.size


def inputs_for(dtype: str, narrow: bool, scale, zero_point: int, limit: int) -> np.ndarray:
    target = target_type(dtype, narrow)
    return adversarial_inputs(scale, zero_point, target.qmin, target.qmax, limit=limit)


#: The dtypes checked against the oracle (every dtype is checked against the general loop).
ORACLE_CASES = (("int8", False, 3), ("int8", True, -3), ("uint8", False, 128), ("int4", False, 2),
                ("uint16", False, 40000), ("int16", False, -32768))


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_quantize_loops_every_profile(profile):
    """Every dtype, narrow or not, every layout, every scale: the generated loop equals the general
    loop; the ORACLE_CASES equal the oracle too."""
    compared = 0
    for dtype, narrow in itertools.product(DTYPES, (False, True)):
        if narrow and dtype in ("int1", "uint1") or narrow and dtype.startswith("u"):
            continue
        target = target_type(dtype, narrow)
        zero_point = min(max(target.qmin + (target.qmax - target.qmin) // 3, target.qmin), target.qmax)
        for scale in SCALES:
            x = inputs_for(dtype, narrow, scale, zero_point, limit=60)
            for case in layouts(x, scale, zero_point):
                compared += check_quantize(*case[:3], dtype, narrow, *case[3:], profile, {}, False)
    for dtype, narrow, zero_point in ORACLE_CASES:
        for scale in (np.float32(0.00214854861), np.float32(3.0e-39), np.float32(1e-45)):
            x = inputs_for(dtype, narrow, scale, zero_point, limit=150)
            for case in list(layouts(x, scale, zero_point))[:2]:
                compared += check_quantize(*case[:3], dtype, narrow, *case[3:], profile, {}, True)
    assert compared > 100_000


def override_sets(bases, seen):
    """One variant value at a time, away from each base profile's own: every value of every
    quantize variant in the company of the profile's other values, where AFF-5.1 allows it; each
    resulting combination of codes once (per tensor and per axis, not one in ``seen``), since it
    is one compiled loop."""
    for profile in bases:
        for variant in VARIANTS:
            if variant.operation != "quantize":
                continue
            for value in variant.values:
                if value.name == "exact":  # rational, no generated loop (AFF-3.8)
                    continue
                overrides = {variant.name: value.name}
                try:
                    combination = tuple(tuple(v.code for v in resolve_variants(
                        profile, "quantize", per_axis=per_axis, overrides=overrides).values())
                        for per_axis in (False, True))
                except ValueError:
                    continue
                if combination not in seen:
                    seen.add(combination)
                    yield profile, overrides


def override_id(value):
    return value if isinstance(value, str) else "-".join(f"{k}={w}" for k, w in value.items())


_COVERED: set = set()
#: Every variant value beside the onnx profile's others; the slow test takes every other profile's company.
ONNX_COMPANY = list(override_sets(["onnx"], _COVERED))
EVERY_COMPANY = list(override_sets(PROFILE_NAMES, _COVERED))


def check_variant_value(profile, overrides, dtypes):
    for scale in (np.float32(0.00214854861), np.float32(3.0e-39)):
        x = inputs_for("int8", False, scale, 5, limit=80)
        for case in list(layouts(x, scale, 5))[:3]:
            check_quantize(*case[:3], "int8", False, *case[3:], profile, overrides, case[3] is None)
        if "uint16" in dtypes:
            x = inputs_for("uint16", False, scale, 40000, limit=80)
            check_quantize(x, scale, 40000, "uint16", False, None, None, profile, overrides, False)


@pytest.mark.parametrize("profile, overrides", ONNX_COMPANY, ids=override_id)
def test_quantize_loops_every_variant_value(profile, overrides):
    """The float64 precision, every rounding mode, every saturation and NaN rule: generated loop,
    general loop and oracle agree (int8 with a zero point, per tensor and per axis)."""
    check_variant_value(profile, overrides, ("int8",))


@pytest.mark.slow
@pytest.mark.parametrize("profile, overrides", EVERY_COMPANY, ids=override_id)
def test_quantize_loops_every_variant_value_every_profile(profile, overrides):
    check_variant_value(profile, overrides, ("int8", "uint16"))


def test_quantize_loop_convert_then_clamp_wraps_at_two_to_the_31():
    """convert_then_clamp: n + z wraps in int32 for n >= 2^31 - z (z > 0: qmin) and n < -2^31 - z
    (z < 0: qmax); float32 holds integers of spacing 128 just below 2^31, so the first bound sits
    between two of them for most z. The general loop, the generated one and the oracle agree."""
    below = np.float32(2.0**31 - 128 * 3)
    integers = np.concatenate([np.nextafter(np.float32(2.0**31), np.float32(0)) - np.arange(0, 6, dtype=np.float32)
                               * 128, np.array([below])]).astype(np.float32)
    x = np.concatenate([integers, -integers, np.float32([2.0**31, -(2.0**31)])])
    for zero_point in (-32768, -300, -129, -128, -1, 0, 1, 127, 128, 200, 384, 385, 32767):
        for overrides in ({}, {"conversion_overflow": "integer_indefinite"}, {"nan": "converted"},
                          {"rounding": "floor"}):
            check_quantize(x, np.float32(1), zero_point, "int16", False, None, None, "tflite", overrides, True)


def rounding_lane_mismatches(bits: np.ndarray, working, rounding: int) -> np.ndarray:
    """The bit patterns (of ``working``'s unsigned type) where the generated loops' rounding differs from
    NUM-2.3's round_to_integral, in value or in the sign of a zero (a NaN only has to stay a NaN)."""
    values = bits.view(working)
    below_half = np.nextafter(working(0.5), working(0))
    lane, reference = np.empty_like(values), np.empty_like(values)
    round_both_ways(values, rounding, below_half, lane, reference)
    both_nan = np.isnan(lane) & np.isnan(reference)
    return bits[(lane.view(bits.dtype) != reference.view(bits.dtype)) & ~both_nan]


@functools.cache
def round_both_ways_compiled():
    import numba

    lane, reference = rounded_lane.compiled, round_to_integral.compiled

    @numba.njit(cache=False)
    def run(values, rounding, below_half, lane_out, reference_out):
        for k in range(values.size):
            lane_out[k] = lane(values[k], rounding, below_half)
            reference_out[k] = reference(values[k], rounding)

    return run


def round_both_ways(values, rounding, below_half, lane_out, reference_out):
    round_both_ways_compiled()(values, rounding, below_half, lane_out, reference_out)


#: float32 binades whose every value the rounding lane is checked on, both signs: around the ties
#: at 1/2 and 3/2, and the last binades with fractions (spacing 1/4, 1/2) and the first without.
ROUNDING_BINADES = (-3, -2, -1, 0, 1, 2, 21, 22, 23, 24)


def float32_binade(exponent: int) -> np.ndarray:
    """Every float32 bit pattern in [2^exponent, 2^(exponent + 1)), both signs."""
    start = np.uint32((exponent + 127) << 23)
    positive = np.arange(start, start + (1 << 23), dtype=np.uint32)
    return np.concatenate([positive, positive | np.uint32(0x80000000)])


@pytest.mark.parametrize("rounding", ["half_away_from_zero", "half_to_even", "half_toward_positive",
                                      "half_toward_zero", "toward_zero", "floor", "ceil"])
def test_rounding_lane_equals_round_to_integral_on_whole_binades(rounding):
    """rounded_lane (half away from zero as trunc(fl(v + copysign(pred(1/2), v)))) equals NUM-2.3's
    step-by-step rounding on every float32 of ten binades (ties at +-1/2, +-3/2, +-(k + 1/2) up to
    2^23, values at 2^23 and 2^24 where every float is an integer), on zeros, subnormals, infinities
    and NaNs, and on float64 ties, their neighbours and random float64 values."""
    code = rounding_mode(rounding).code
    specials = np.array([0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x3EFFFFFF, 0xBEFFFFFF,
                         0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001],
                        dtype=np.uint32)
    for part in [specials] + [float32_binade(exponent) for exponent in ROUNDING_BINADES]:
        wrong = rounding_lane_mismatches(part, np.float32, code)
        assert wrong.size == 0, (rounding, wrong[:5].view(np.float32))
    rng = np.random.default_rng(5)
    integers = np.concatenate([np.arange(0, 64), 2.0**np.arange(20, 53), rng.integers(0, 2**52, 2000)])
    ties = np.concatenate([integers + 0.5, 2.0**52 - integers[:64] - 0.5]).astype(np.float64)
    near = np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, 0), 2.0**52 + integers[:64],
                           2.0**53 + integers[:64], np.float64([0.0, 5e-324, np.inf, np.nan, 2.0**-1074])])
    wide = np.concatenate([near, -near, rng.standard_normal(4000) * 10.0**rng.integers(-5, 17, 4000)])
    wrong = rounding_lane_mismatches(wide.view(np.uint64), np.float64, code)
    assert wrong.size == 0, (rounding, wrong[:5].view(np.float64))


@pytest.mark.slow
def test_rounding_lane_half_away_from_zero_on_every_float32():
    """Every one of the 2^32 float32 patterns, in chunks."""
    code = rounding_mode("half_away_from_zero").code
    chunk = 1 << 24
    for start in range(0, 1 << 32, chunk):
        wrong = rounding_lane_mismatches(np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32),
                                         np.float32, code)
        assert wrong.size == 0, wrong[:5].view(np.float32)


def rounding_probes() -> np.ndarray:
    """Scaled values where a fast rounding or saturation could go wrong: ties +-(k + 1/2) for small and
    large k and their neighbours, integers around 2^23, 2^24 and 2^31, signed zeros, subnormals, the
    smallest normal, infinities, NaNs and values past int32."""
    k = np.concatenate([np.arange(0, 40), 2.0**np.arange(6, 23), 2.0**np.arange(6, 23) - 1, [2.0**22 + 1, 2.0**23 - 1]])
    ties = np.concatenate([k + 0.5, -(k + 0.5)]).astype(np.float32)
    integers = np.concatenate([2.0**23 + np.arange(-3, 4), 2.0**24 + np.arange(-4, 5, 2), 2.0**31 - 128 * np.arange(4),
                               [2.0**31, 2.0**32, 2.0**40, 3.0e38]])
    integers = np.concatenate([integers, -integers]).astype(np.float32)
    specials = np.array([0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x80800000, 0x7F800000,
                         0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001], dtype=np.uint32).view(np.float32)
    return np.concatenate([ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf)),
                           integers, specials]).astype(np.float32)


#: The four profiles' own loops run by default; the other rounding modes and precision in their company are slow
#: (about 10 s each on a loaded 2-core machine; test_quantize_loops_every_variant_value covers every value beside
#: the onnx profile's others in the default run).
@pytest.mark.parametrize("profile, overrides", [
    ("tflite", {}), ("tflite-optimized", {}), ("xnnpack", {}), ("onnxruntime", {}),
    *(pytest.param(profile, overrides, marks=pytest.mark.slow) for profile, overrides in (
        ("tflite", {"rounding": "half_toward_zero"}), ("tflite", {"rounding": "half_toward_positive"}),
        ("tflite", {"precision": "float64"}), ("xnnpack", {"rounding": "half_away_from_zero"})))], ids=override_id)
def test_quantize_loops_on_rounding_probes(profile, overrides):
    """The probes divided by exact scales (1, 2^-3) and an inexact one, for zero points of both signs
    and zero, per tensor and per axis with zero points of mixed signs: generated loops with and without
    outcomes, general loop and oracle agree."""
    x = rounding_probes()
    for dtype, zero_points in (("int8", (-128, -3, 0, 3, 127)), ("int16", (-300, 0, 5, 32767))):
        for scale, zero_point in itertools.product((np.float32(1), np.float32(0.125), np.float32(0.1)), zero_points):
            with np.errstate(over="ignore", invalid="ignore"):
                scaled_x = (x * scale if scale != np.float32(0.1) else x).astype(np.float32)
            check_quantize(scaled_x, scale, zero_point, dtype, False, None, None, profile, overrides, True)
            rows = np.stack([scaled_x, scaled_x])
            mixed = np.array([zero_point, -zero_point - 1 if zero_point > -128 else 5], np.int64)
            check_quantize(rows, np.float32([scale, scale]), mixed, dtype, False, 0, None, profile, overrides, False)


#: Scales around the bounds of flush_changes_nothing: reciprocals near 2^124 and 2^-126 (scales near
#: 2^126, whose reciprocal is subnormal), and subnormal scales.
FLUSH_SCALES = tuple(np.float32(value) for value in (2.0**-122, 2.0**-123, 2.0**-124, 2.0**-125, 2.0**-126,
                                                     2.0**-127, 1.5 * 2.0**-125, 3.0e-39, 1e-45, 0.00214854861,
                                                     2.0**125, 2.0**126, 1.5 * 2.0**126, 2.0**127, 3.0e38))


@pytest.mark.parametrize("overrides", [{}, {"rounding": "floor"},
                                       {"rounding": "half_away_from_zero"}, {"zero_point_placement": "before_rounding"},
                                       {"zero_point_placement": "before_rounding_fused"}], ids=override_id)
def test_quantize_loops_flush_only_where_it_shows(overrides):
    """xnnpack (subnormals flushed) on subnormal inputs, the largest ones above all, and on huge ones, at
    scales around the bounds where QuantizeLoop stops running the loop without the flush: the generated
    loops, the general loop and the oracle agree. At 2^-126 the flush shows (so the bound is checked)."""
    subnormals = np.array([1, 2, 0x00400000, 0x007FFFFE, 0x007FFFFF, 0x00800000, 0x00800001], np.uint32)
    positive = np.concatenate([subnormals.view(np.float32), np.float32([1e-30, 0.3, 3.0e38])])
    x = np.concatenate([positive, -positive, np.float32([0.0, -0.0, np.nan, np.inf])])
    for scale, zero_point in itertools.product(FLUSH_SCALES, (0, 3, -5)):
        check_quantize(x, scale, zero_point, "int8", False, None, None, "xnnpack", overrides, True)
    if not overrides:
        flushed = quantize(x, np.float32(2.0**-126), 0, profile="xnnpack")
        preserved = quantize(x, np.float32(2.0**-126), 0, profile="xnnpack", subnormals="preserved")
        assert not np.array_equal(flushed, preserved)


def loop_codes(profile: str, **overrides) -> tuple[int, ...]:
    variants = resolve_variants(profile, "quantize", per_axis=False, overrides=overrides)
    return tuple(variants[name].code for name in ("scale_operation", "precision", "zero_point_placement", "rounding",
                                                  "saturation", "conversion_overflow", "nan", "subnormals"))


def test_ordinary_calls_run_the_cheaper_equivalent_loop():
    """An ordinary scale and a zero point >= 0 run xnnpack on tflite-optimized's loop and the NaN rule of
    neither (the saturation gives a NaN q_min already); a negative zero point, outcomes, a tiny scale or a
    NaN result of its own keep the rules."""
    def equivalent(profile, scale, zero_point, outcomes=False, **overrides):
        loop = quantize_loop(*loop_codes(profile, **overrides), outcomes)
        scale3 = np.full((1, 1, 1), scale, np.float32)
        target = target_type("int8", False)
        return loop.equivalent_codes((np.float32(1) / scale3).astype(np.float32),
                                     np.full((1, 1, 1), zero_point, np.int64), target.qmin, target.qmax,
                                     nan_result(loop.codes[6], target.qmin, target.qmax))

    def nan_converted(codes):
        return codes[:6] + (NAN_CONVERTED,) + codes[7:]

    ordinary = np.float32(0.00214854861)
    assert equivalent("xnnpack", ordinary, 3) == nan_converted(loop_codes("tflite-optimized")) + (1,)
    assert equivalent("tflite", ordinary, 0) == nan_converted(loop_codes("tflite")) + (1,)
    assert equivalent("onnxruntime", ordinary, 3) == nan_converted(loop_codes("onnxruntime")) + (0,)
    assert equivalent("tflite", ordinary, -1) == loop_codes("tflite") + (-1,)
    assert equivalent("tflite", ordinary, 3, outcomes=True) == loop_codes("tflite") + (1,)
    assert equivalent("xnnpack", np.float32(2.0**-126), 3, outcomes=True) == loop_codes("xnnpack") + (1,)
    assert equivalent("xnnpack", ordinary, 3, rounding="floor")[7] == loop_codes("xnnpack")[7]
    assert equivalent("tflite", ordinary, 3, nan="qmax") == loop_codes("tflite", nan="qmax") + (1,)


@pytest.mark.parametrize("backend_class", ["LiteRtBackend", "LiteRtOptimizedBackend", "XnnpackBackend"])
def test_quantize_loops_equal_litert_on_large_arrays(backend_class):
    """The generated loops (arrays past GENERATED_LOOP_MINIMUM, without outcomes, as quantize runs them) of the
    tflite, tflite-optimized and xnnpack profiles equal LiteRT's QUANTIZE kernels on every element the profile
    defines: adversarial and random inputs, zero points of both signs, scales with exact ties and one whose
    reciprocal passes 2^124 (xnnpack's flushed loop)."""
    pytest.importorskip("ai_edge_litert.interpreter")
    from refq.backends import litert

    backend = getattr(litert, backend_class)()
    compared = 0
    for scale, zero_point in itertools.product((np.float32(0.00214854861), np.float32(0.1), np.float32(1.0),
                                                np.float32(3e-38)), (-5, 0, 3)):
        rng = np.random.default_rng(zero_point + 10)
        x = np.concatenate([adversarial_inputs(scale, zero_point, -128, 127),
                            random_inputs(1 << 17, scale, zero_point, -128, 127, rng)])
        x = x[: x.size - x.size % 8]  # the optimized kernels' groups of 8 (refq.backends.litert)
        values = quantize(x, scale, zero_point, profile=backend.profile)
        defined = ~quantize_with_outcomes(x, scale, zero_point, profile=backend.profile)[1]
        engine = backend.quantize_linear(x, scale, np.int8(zero_point))
        wrong = np.flatnonzero((values != engine) & defined)
        assert wrong.size == 0, (backend.name, scale, zero_point, x[wrong[:5]], values[wrong[:5]], engine[wrong[:5]])
        compared += int(defined.sum())
    assert compared > 1_000_000


def test_fused_step_compiles_to_llvm_fma():
    """The compiled fused step is LLVM's fma (a fresh, uncached compilation, which Numba lets one
    inspect), not the float64 steps of the interpreted form."""
    import numba

    from refq.affine import fma

    fresh = numba.njit(cache=False)(fma.fused_multiply_add_float32.py_func)
    assert fresh(np.float32(1.5), np.float32(2.0), np.float32(3.0)) == np.float32(6.0)
    (text,) = fresh.inspect_llvm().values()
    assert "llvm.fma.f32" in text and "fadd double" not in text


def general_dequantize(q, scale, zero_point, dtype, axis, block_size, profile, overrides):
    target = target_type(dtype, False, max_bits=32)
    scales = scale_array(scale)
    layout = granularity(q.shape, scales.shape, axis, block_size)
    zero_points = zero_point_array(zero_point, target, scales.shape)
    variants = resolve_variants(profile, "dequantize", overrides=overrides)
    out = np.empty(q.shape, np.float32)
    dequantize_blocks(q.reshape(layout.outer, layout.length, layout.inner), scales.reshape(layout.scale_shape3),
                      zero_points.reshape(layout.scale_shape3), layout.block, variants["dequantize_formula"].code,
                      variants["dequantize_precision"].code, variants["dequantize_difference"].code,
                      out.reshape(layout.outer, layout.length, layout.inner))
    return out


def dequantize_inputs(dtype: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Every value of types up to 12 bits; the ends, the zero and random values of wider ones."""
    target = target_type(dtype, False, max_bits=32)
    container = np.int64
    if target.qmax - target.qmin < 4096:
        q = np.arange(target.qmin, target.qmax + 1, dtype=container)
    else:
        ends = np.array([target.qmin, target.qmin + 1, target.qmax - 1, target.qmax, 0, 1], dtype=container)
        q = np.concatenate([ends, rng.integers(target.qmin, target.qmax, 3000, endpoint=True)]).astype(container)
    zero_point = target.qmin + (target.qmax - target.qmin) // 3
    return q, zero_point


DEQUANTIZE_OVERRIDES = [{}] + [{variant.name: value.name} for variant in VARIANTS if variant.operation == "dequantize"
                               for value in variant.values]


def _dequantize_profiles():
    """Every profile; one whose dequantize variants another before it has already is slow: with every
    single-variant override applied to it, its run is that profile's run again."""
    seen = set()
    for name in PROFILE_NAMES:
        values = tuple(sorted((k, v.name) for k, v in resolve_variants(name, "dequantize").items()))
        yield name if values not in seen else pytest.param(name, marks=pytest.mark.slow)
        seen.add(values)


@pytest.mark.parametrize("profile", list(_dequantize_profiles()))
def test_dequantize_loops_every_profile(profile):
    """Every dtype up to 32 bits, per tensor and per axis, every single-variant override: the
    generated loop equals the general loop bit for bit (NaNs of inf - inf included), and the
    oracle on a sample."""
    rng = np.random.default_rng(17)
    scales = (np.float32(0.00214854861), np.float32(3.0e-39), np.float32(1e-45), np.float32(3.0e38))
    dtypes = DTYPES + ["int32", "uint32"]
    compared = 0
    for dtype, overrides, scale in itertools.product(dtypes, DEQUANTIZE_OVERRIDES, scales):
        q, zero_point = dequantize_inputs(dtype, rng)
        container = np.int64 if dtype != "uint32" else np.uint32
        q = q.astype(container)
        flat = dequantize(q, scale, zero_point, dtype=dtype, profile=profile, **overrides)
        expected = general_dequantize(q, scale, zero_point, dtype, None, None, profile, overrides)
        assert np.array_equal(flat.view(np.uint32), expected.view(np.uint32)), (profile, dtype, overrides, scale)
        rows = q[: q.size - q.size % 2].reshape(2, -1)
        per_axis = np.array([scale, np.float32(0.5)], np.float32)
        zero_points = np.array([zero_point, 0], np.int64)
        got = dequantize(rows, per_axis, zero_points, dtype=dtype, axis=0, profile=profile, **overrides)
        expected = general_dequantize(rows, per_axis, zero_points, dtype, 0, None, profile, overrides)
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), (profile, dtype, overrides, "axis")
        compared += q.size + rows.size
        variants = {name: value.name for name, value in
                    resolve_variants(profile, "dequantize", overrides=overrides).items()}
        for i in rng.choice(q.size, min(12, q.size), replace=False):
            expected_bits = oracle.oracle_dequantize(int(q[i]), scale, zero_point, variants)
            assert int(flat[i:i + 1].view(np.uint32)[0]) == expected_bits, (profile, dtype, overrides, int(q[i]), scale)
    assert compared > 100_000


@pytest.mark.parametrize("dtype, container", [("int8", np.int8), ("uint8", np.uint8), ("int16", np.int16),
                                              ("uint16", np.uint16), ("int32", np.int32)])
def test_dequantize_range_check_skipped_only_when_the_type_fits(dtype, container):
    """A container whose range is the target's needs no check; narrow or wider targets still refuse
    values outside their range."""
    info = np.iinfo(container)
    q = np.array([info.min, 0, info.max], dtype=container)
    expected = np.array([info.min, 0, info.max]).astype(np.float32)  # 2^31 - 1 rounds to 2^31
    assert dequantize(q, np.float32(1), dtype=dtype).tolist() == expected.tolist()
    if dtype.startswith("int"):
        with pytest.raises(ValueError, match="q"):
            dequantize(q, np.float32(1), dtype=dtype, narrow=True)
    narrower = {"int8": "int4", "uint8": "uint4", "int16": "int8", "uint16": "uint8", "int32": "int16"}[dtype]
    with pytest.raises(ValueError, match="q"):
        dequantize(q, np.float32(1), dtype=narrower)


def test_small_arrays_take_the_general_loop_and_large_ones_the_generated(monkeypatch):
    """Below GENERATED_LOOP_MINIMUM elements quantize runs the general loop (no compilation per variant
    combination), from it the generated one; the bits are the same either way."""
    minimum = 1 << 16
    monkeypatch.setattr(quantize_module, "GENERATED_LOOP_MINIMUM", minimum)
    built = []
    original = quantize_module.quantize_loop

    def counting(*codes):
        built.append(codes)
        return original(*codes)

    monkeypatch.setattr(quantize_module, "quantize_loop", counting)
    x = adversarial_inputs(np.float32(0.37), 3, -128, 127, limit=minimum + 1)
    x = np.resize(x, minimum + 1).astype(np.float32)
    small = quantize_with_outcomes(x[:minimum - 1], 0.37, 3, profile="pytorch")
    assert built == []
    large = quantize_with_outcomes(x, 0.37, 3, profile="pytorch")
    assert len(built) == 1
    assert np.array_equal(small[0], large[0][:minimum - 1]) and np.array_equal(small[1], large[1][:minimum - 1])
