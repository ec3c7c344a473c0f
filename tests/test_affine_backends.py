"""AFF-3, AFF-4 and AFF-5 against real backends: every profile that names a real
implementation must predict that implementation bit for bit.

The backends run through :mod:`refq.backends` (ONNX Runtime, onnx.reference,
torch quantized tensors, torch fake quantization, PyTorch 2 export ops) on random
values and on the adversarial inputs of :mod:`tests.adversarial`: exact ties and
their neighbours, saturation boundaries, zeros, subnormals, infinities, NaNs and
quotients past $2^{31}$, for per-tensor, per-axis (first and middle axis) and
blocked granularity (partial last block). No tolerances: integers must be equal
and floats must have equal bit patterns.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from refq.affine import dequantize, quantize, quantize_with_outcomes
from refq.affine.parameters import target_type
from refq.backends import BUILTIN
from tests.adversarial import adversarial_inputs, float32_bits, random_inputs

F32 = np.float32
#: Scales exercised everywhere: exact powers of two, the scale whose reciprocal is
#: inexact, tiny (quotients overflow), subnormal (the float32 reciprocal is infinite) and huge.
SCALES = tuple(F32(s) for s in (1.0, 0.5, 0.00214854861, 0.1, 3.0, 2.0**-20, 1e-30, 1e-40, 1e30, 3e38))
WIDE = ("int8", "uint8", "int16", "uint16")
SUB_BYTE = ("int4", "uint4", "int2", "uint2")
#: What each backend computes (anything else raises NotImplementedError, checked below).
SUPPORT = {
    "onnxruntime": (WIDE + SUB_BYTE, ("per_tensor", "axis_first", "axis_middle", "blocked")),
    "onnx-reference": (WIDE + SUB_BYTE, ("per_tensor", "axis_first", "axis_middle", "blocked")),
    "torch": (("int8", "uint8"), ("per_tensor", "axis_first", "axis_middle")),
    "torch-pt2e": (WIDE + ("int4", "uint4"), ("per_tensor", "axis_first", "axis_middle")),
}
FAKE_QUANT_DTYPES = WIDE + SUB_BYTE
#: Random values per scale (per channel, per block) on top of the adversarial ones.
RANDOM_PER_SCALE = 2500
BLOCK = 2048
INT64_OVERFLOW = F32(2.0**63)

CASES = [(name, dtype, layout) for name, (dtypes, layouts) in SUPPORT.items() for dtype in dtypes for layout in layouts]


@pytest.fixture(scope="session")
def backends():
    """One instance of every backend (sessions and compiled kernels are cached inside)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("torch")
    # A backend in another interpreter (tosa) is not instantiated here: tests/test_tosa_backend.py runs it.
    instances = {name: cls() for name, cls in BUILTIN.items() if not getattr(cls, "environment", None)}
    # Compile refq's kernels once, before the timed-looking loops start.
    for profile in ("onnx", "onnxruntime", "onnx-reference", "pytorch", "pytorch-fake-quant", "pytorch-pt2e"):
        for axis, scale in ((None, F32(1)), (0, np.ones(1, F32))):
            quantize(np.zeros((1, 4), F32), scale, None, axis=axis, profile=profile)
    return instances


def zero_points(dtype: str, rng: np.random.Generator) -> list[int]:
    """Both range ends, the value nearest 0, and one at random."""
    target = target_type(dtype)
    return [target.qmin, target.qmax, min(max(0, target.qmin), target.qmax),
            int(rng.integers(target.qmin, target.qmax + 1))]


def inputs_for(scale, zero_point: int, dtype: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` inputs for one scale: every adversarial value if there is room, then random ones."""
    target = target_type(dtype)
    adversarial = adversarial_inputs(scale, zero_point, target.qmin, target.qmax, seed=int(rng.integers(2**31)))
    if adversarial.size >= count:
        return rng.permutation(adversarial)[:count]
    extra = random_inputs(count - adversarial.size, scale, zero_point, target.qmin, target.qmax, rng)
    return rng.permutation(np.concatenate([adversarial, extra]))


def scale_index(shape: tuple[int, ...], layout: str, axis: int | None, block: int | None) -> np.ndarray:
    """For every element, the flat index of the scale it uses (written out independently of refq)."""
    if layout == "per_tensor":
        return np.zeros(shape, dtype=np.int64)
    coordinates = list(np.indices(shape))
    if block is None:
        return coordinates[axis]
    coordinates[axis] = coordinates[axis] // block
    scale_shape = list(shape)
    scale_shape[axis] = -(-shape[axis] // block)
    return np.ravel_multi_index(tuple(coordinates), tuple(scale_shape))


def layout_case(layout: str, dtype: str, rng: np.random.Generator):
    """Input, scales, zero points, axis and block size for a non-per-tensor layout; every
    scale of :data:`SCALES` and every zero point of :func:`zero_points` appears."""
    points = zero_points(dtype, rng)
    channels = len(SCALES)
    if layout == "blocked":
        shape, axis, block = (3, 2 * BLOCK + 777), 1, BLOCK
        scale_shape = (3, 3)
    elif layout == "axis_first":
        shape, axis, block = (channels, 4000), 0, None
        scale_shape = (channels,)
    else:
        shape, axis, block = (2, channels, 2000), 1, None
        scale_shape = (channels,)
    count = int(np.prod(scale_shape))
    scales = np.array([SCALES[i % channels] for i in range(count)], dtype=F32).reshape(scale_shape)
    zeros = np.array([points[i % len(points)] for i in range(count)], dtype=np.int64).reshape(scale_shape)
    index = scale_index(shape, layout, axis, block)
    x = np.empty(shape, dtype=F32)
    for j in range(count):
        where = index == j
        x[where] = inputs_for(scales.flat[j], int(zeros.flat[j]), dtype, int(where.sum()), rng)
    return x, scales, zeros, axis, block


def per_tensor_cases(dtype: str, rng: np.random.Generator):
    for scale in SCALES:
        for zero_point in zero_points(dtype, rng):
            target = target_type(dtype)
            size = adversarial_inputs(scale, zero_point, target.qmin, target.qmax).size + RANDOM_PER_SCALE
            yield inputs_for(scale, zero_point, dtype, size, rng), scale, zero_point, None, None


def cases(layout: str, dtype: str, seed: int):
    rng = np.random.default_rng(seed)
    if layout == "per_tensor":
        yield from per_tensor_cases(dtype, rng)
    else:
        yield layout_case(layout, dtype, rng)


def seed_of(*parts: str) -> int:
    """A seed fixed by the test case (str hashes change from run to run)."""
    return zlib.crc32("/".join(parts).encode())


def describe(x, got, want, mismatch, limit: int = 8) -> str:
    rows = [f"x=0x{int(float32_bits(v)):08x} ({v!r}) backend={g!r} refq={w!r}"
            for v, g, w in zip(x[mismatch][:limit], got[mismatch][:limit], want[mismatch][:limit])]
    return f"{int(mismatch.sum())} of {mismatch.size} differ:\n  " + "\n  ".join(rows)


def assert_quantize_matches(backend, x, scale, zero_point, dtype, axis, block, profile=None):
    profile = profile or backend.profile
    got = backend.quantize_linear(x, scale, zero_point, axis=axis, block_size=block, dtype=dtype)
    want, unpredictable = quantize_with_outcomes(x, scale, zero_point, dtype=dtype, axis=axis, block_size=block,
                                                 profile=profile)
    assert not unpredictable.any(), f"profile {profile} leaves results unpredictable"
    assert got.dtype == want.dtype and got.shape == want.shape
    mismatch = got != want
    assert not mismatch.any(), (f"{backend.name} vs profile {profile}, {dtype}, axis={axis}, block={block}, "
                                f"scale={scale!r}, zero_point={zero_point!r}: " + describe(x, got, want, mismatch))
    return x.size


@pytest.mark.parametrize("name, dtype, layout", CASES)
def test_quantize_linear(backends, name, dtype, layout):
    """The backend's quantize equals refq's under the backend's profile, NaN and huge values included."""
    for x, scale, zero_point, axis, block in cases(layout, dtype, seed=seed_of(name, dtype, layout)):
        assert_quantize_matches(backends[name], x, scale, zero_point, dtype, axis, block)


def all_values(dtype: str) -> np.ndarray:
    target = target_type(dtype)
    return np.arange(target.qmin, target.qmax + 1).astype(target.container)


def dequantize_cases(layout: str, dtype: str, seed: int):
    """Every value of the type against every scale and several zero points."""
    rng = np.random.default_rng(seed)
    values, points = all_values(dtype), zero_points(dtype, rng)
    if layout == "per_tensor":
        for scale in SCALES:
            for zero_point in points:
                yield values, scale, zero_point, None, None
        return
    channels = len(SCALES)
    repeats = max(1, 2048 // values.size)
    row = np.tile(values, repeats) if values.size <= 2048 else values
    if layout == "blocked":
        block = row.size
        q = np.stack([np.concatenate([row, rng.permutation(row)[:block // 2 + 3]]) for _ in range(2)])
        blocks = 2
        scales = np.array([SCALES[i % channels] for i in range(2 * blocks)], F32).reshape(2, blocks)
        zeros = np.array([points[i % len(points)] for i in range(2 * blocks)]).reshape(2, blocks)
        yield q, scales, zeros, 1, block
        return
    q = np.stack([rng.permutation(row) for _ in range(channels)])
    scales = np.array(SCALES, F32)
    zeros = np.array([points[i % len(points)] for i in range(channels)])
    if layout == "axis_first":
        yield q, scales, zeros, 0, None
    else:
        yield np.ascontiguousarray(q.reshape(channels, 2, -1).transpose(1, 0, 2)), scales, zeros, 1, None


@pytest.mark.parametrize("name, dtype, layout", CASES)
def test_dequantize_linear(backends, name, dtype, layout):
    """The backend's dequantize has the bits of refq's, for every integer of the type."""
    backend = backends[name]
    for q, scale, zero_point, axis, block in dequantize_cases(layout, dtype, seed=7):
        try:
            got = backend.dequantize_linear(q, scale, zero_point, axis=axis, block_size=block, dtype=dtype)
        except NotImplementedError:
            assert (name, dtype, layout != "per_tensor") == ("torch-pt2e", "uint16", True)
            continue
        want = dequantize(q, scale, zero_point, axis=axis, block_size=block, dtype=dtype, profile=backend.profile)
        assert got.dtype == np.float32 and got.shape == want.shape
        mismatch = float32_bits(got) != float32_bits(want)
        assert not mismatch.any(), (f"{name}, {dtype}, axis={axis}: scale={scale!r}, zero_point={zero_point!r}: "
                                    + describe(q, got, want, mismatch))


def int64_conversion_overflows(x: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """Elements whose product ``fl32(x * fl32(1 / s))`` is at least $2^{63}$ (or +inf): see
    :func:`test_fake_quantize_per_channel_int64_overflow`."""
    shape = [1] * x.ndim
    shape[axis] = -1
    with np.errstate(over="ignore", invalid="ignore"):
        product = x * (F32(1) / scale.reshape(shape))
    return product >= INT64_OVERFLOW


def refq_fake_quantize(x, scale, zero_point, axis, dtype):
    q = quantize(x, scale, zero_point, axis=axis, dtype=dtype, profile="pytorch-fake-quant")
    return dequantize(q, scale, zero_point, axis=axis, dtype=dtype, profile="pytorch-fake-quant")


@pytest.mark.parametrize("layout", ["per_tensor", "axis_first", "axis_middle"])
@pytest.mark.parametrize("dtype", FAKE_QUANT_DTYPES)
def test_fake_quantize(backends, dtype, layout):
    """torch's fake quantize equals refq's dequantize(quantize(x)) under pytorch-fake-quant, as float32 bits.

    Per channel, the elements of the known int64-overflow deviation are left to
    :func:`test_fake_quantize_per_channel_int64_overflow`.
    """
    backend = backends["torch-fake-quant"]
    for x, scale, zero_point, axis, _ in cases(layout, dtype, seed=seed_of("fake", dtype, layout)):
        got = backend.fake_quantize(x, scale, zero_point, axis=axis, dtype=dtype)
        want = refq_fake_quantize(x, scale, zero_point, axis, dtype)
        mismatch = float32_bits(got) != float32_bits(want)
        if axis is not None:
            mismatch &= ~int64_conversion_overflows(x, scale, axis)
        assert not mismatch.any(), (f"{dtype}, axis={axis}, scale={scale!r}, zero_point={zero_point!r}: "
                                    + describe(x, got, want, mismatch))


def test_fake_quantize_per_channel_int64_overflow(backends):
    """The per-channel CPU kernel computes ``static_cast<int64_t>(zero_point + nearbyint(x * inv_scale))``
    and clamps afterwards: a quotient of at least $2^{63}$ (and +inf) converts to the x86
    integer indefinite $-2^{63}$ and clamps to ``qmin``, while quotients in $[2^{31}, 2^{63})$
    saturate to ``qmax``. The profile says so with ``saturation = convert_int64_then_clamp``
    for per-axis granularity; this test pins both halves against torch."""
    backend = backends["torch-fake-quant"]
    scale = np.array([1.0, 0.5, 0.00214854861], F32)
    zeros = np.array([0, 5, -128])
    quotients = np.array([2.0**31, 2.0**40, 2.0**62, 2.0**63 - 2**39, 2.0**63, 2.0**64, 2.0**100, np.inf], F32)
    with np.errstate(over="ignore"):
        x = (quotients[None, :].astype(np.float64) * scale[:, None].astype(np.float64)).astype(F32)
    got = backend.fake_quantize(x, scale, zeros, axis=0, dtype="int8")
    overflow = int64_conversion_overflows(x, scale, 0)
    assert overflow.any() and not overflow.all()
    qmin_value = ((F32(-128) - zeros[:, None].astype(F32)) * scale[:, None]).astype(F32)
    qmax_value = ((F32(127) - zeros[:, None].astype(F32)) * scale[:, None]).astype(F32)
    expected = np.where(overflow, qmin_value, qmax_value)
    assert np.array_equal(float32_bits(got), float32_bits(expected))
    want = refq_fake_quantize(x, scale, zeros, 0, "int8")
    assert np.array_equal(float32_bits(want), float32_bits(got))


@pytest.mark.parametrize("name", ["onnxruntime", "onnx-reference"])
def test_dequantize_linear_int32(backends, name):
    r"""int32 (bias) dequantize, where $q - z$ needs more than 24 bits. ONNX Runtime subtracts in
    int32 with wraparound and converts to float32 (``dequantize_difference =
    int32_wraparound_to_float32``); onnx.reference rounds $q$ to float32 and computes the rest in
    float64, as numpy promotes float32 - int32 (``float32_q``, ``float64``). refq's profiles
    say so; the independent formulas below pin what each backend computes."""
    backend = backends[name]
    rng = np.random.default_rng(5)
    q = rng.integers(-(2**31), 2**31, 100_000).astype(np.int32)
    q[:6] = [-(2**31), 2**31 - 1, 2**24 + 1, -(2**24) - 1, 0, 1]
    for scale, zero_point in ((F32(0.00214854861), 0), (F32(1), 123456789), (F32(3), -(2**31)), (F32(0.1), 2**31 - 1)):
        got = backend.dequantize_linear(q, scale, zero_point, dtype="int32")
        difference = q.astype(np.int64) - zero_point
        if name == "onnxruntime":
            expected = ((difference + 2**31) % 2**32 - 2**31).astype(np.float32) * scale
        else:
            expected = ((q.astype(F32).astype(np.float64) - zero_point) * np.float64(scale)).astype(F32)
        assert np.array_equal(float32_bits(got), float32_bits(expected))
        want = dequantize(q, scale, zero_point, dtype="int32", profile=backend.profile)
        assert np.array_equal(float32_bits(want), float32_bits(got))


def tie_inputs(scale, zero_point: int, dtype: str) -> np.ndarray:
    target = target_type(dtype)
    x = adversarial_inputs(scale, zero_point, target.qmin, target.qmax)
    return x[np.isfinite(x)]


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_profiles_disagree_on_ties(backends, dtype):
    """ONNX Runtime and torch.quantize_per_tensor round some ties differently (divide vs a fused
    multiply by the float32 reciprocal); each backend matches its own profile, so refq predicts
    every difference, and the profiles differ exactly where the backends do."""
    onnxruntime, torch = backends["onnxruntime"], backends["torch"]
    differing = total = 0
    for scale in SCALES:
        for zero_point in zero_points(dtype, np.random.default_rng(3)):
            x = tie_inputs(scale, zero_point, dtype)
            from_onnxruntime = onnxruntime.quantize_linear(x, scale, zero_point, dtype=dtype)
            from_torch = torch.quantize_linear(x, scale, zero_point, dtype=dtype)
            onnx_profile = quantize(x, scale, zero_point, dtype=dtype, profile="onnxruntime")
            torch_profile = quantize(x, scale, zero_point, dtype=dtype, profile="pytorch")
            assert np.array_equal(from_onnxruntime, onnx_profile)
            assert np.array_equal(from_torch, torch_profile)
            assert np.array_equal(from_onnxruntime != from_torch, onnx_profile != torch_profile)
            differing += int((from_onnxruntime != from_torch).sum())
            total += x.size
    assert 0 < differing < total


@pytest.mark.parametrize("dtype", WIDE + SUB_BYTE)
def test_onnx_text_profile_matches_onnxruntime(backends, dtype):
    """The ONNX text's profile (NaN unpredictable) equals ONNX Runtime on every non-NaN input,
    and marks exactly the NaNs as unpredictable."""
    backend = backends["onnxruntime"]
    for x, scale, zero_point, axis, block in cases("per_tensor", dtype, seed=11):
        got = backend.quantize_linear(x, scale, zero_point, axis=axis, block_size=block, dtype=dtype)
        want, unpredictable = quantize_with_outcomes(x, scale, zero_point, dtype=dtype, profile="onnx")
        assert np.array_equal(unpredictable, np.isnan(x))
        assert np.array_equal(got[~unpredictable], want[~unpredictable])


@pytest.mark.parametrize("name", sorted(SUPPORT))
def test_unsupported_raises(backends, name):
    """Types and granularities a backend lacks raise NotImplementedError instead of computing something else."""
    backend = backends[name]
    dtypes, layouts = SUPPORT[name]
    x = np.zeros((2, 4), F32)
    for dtype in ("int3", "uint12", "int2", "uint2", "uint4", "int16"):
        if dtype not in dtypes:
            with pytest.raises(NotImplementedError, match=dtype):
                backend.quantize_linear(x, F32(1), 0, dtype=dtype)
    if "blocked" not in layouts:
        with pytest.raises(NotImplementedError, match="blocked"):
            backend.quantize_linear(x, np.ones((2, 2), F32), np.zeros((2, 2), np.int64), axis=1, block_size=2)


@pytest.mark.parametrize("name", sorted(SUPPORT))
def test_arguments_are_validated(backends, name):
    """Adapters validate like refq: bad scales and zero points raise refq's errors; no zero point means 0."""
    from refq.errors import RefqValueError

    backend, x = backends[name], np.linspace(-3, 3, 24, dtype=F32).reshape(2, 3, 4)
    with pytest.raises(RefqValueError, match="^scale"):
        backend.quantize_linear(x, F32(-1), 0)
    with pytest.raises(RefqValueError, match="^zero_point"):
        backend.quantize_linear(x, F32(1), 300)
    with pytest.raises(RefqValueError, match="^scale"):
        backend.quantize_linear(x, np.ones(2, F32), np.zeros(2, np.int64), axis=1)
    assert np.array_equal(backend.quantize_linear(x, F32(0.1), None), backend.quantize_linear(x, F32(0.1), 0))
    q = backend.quantize_linear(x, F32(0.1), None)
    assert np.array_equal(float32_bits(backend.dequantize_linear(q, F32(0.1), None)),
                          float32_bits(backend.dequantize_linear(q, F32(0.1), 0)))


def test_backend_contract():
    """Every builtin backend names its profile and version and offers only spec operations."""
    from refq.registry.operations import OPERATIONS_BY_NAME
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    operations = set(OPERATIONS_BY_NAME) | {"fake_quantize"}
    for name, cls in BUILTIN.items():
        assert cls.name == name
        declared = cls.profile.values() if isinstance(cls.profile, dict) else [cls.profile]
        assert set(declared) <= set(EVERY_PROFILE_BY_NAME)
        assert operations & set(dir(cls))
    assert not hasattr(BUILTIN["torch-fake-quant"], "quantize_linear")


def test_import_is_lazy():
    """Importing the adapters imports no backend package."""
    import subprocess
    import sys

    code = ("import sys, refq.backends; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_sub_byte_packing_round_trip():
    """ONNX's 4-bit and 2-bit packing (low bits first) round-trips every value, odd counts included."""
    from refq.backends.onnx_model import pack, unpack

    for bits, signed in ((4, True), (4, False), (2, True), (2, False)):
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        values = np.arange(low, high + 1).repeat(3)[:-1]
        assert np.array_equal(unpack(pack(values, bits), values.size, bits, signed), values)
    assert pack(np.array([1, -1]), 4).tolist() == [0xF1]


@pytest.mark.slow
@pytest.mark.parametrize("name, dtype", sorted({(name, dtype) for name, dtype, _ in CASES}))
def test_quantize_linear_many_random(backends, name, dtype):
    """10^7 random values and bit patterns per backend and type, per tensor and per axis, every scale."""
    backend = backends[name]
    target = target_type(dtype)
    rng = np.random.default_rng(seed_of("many", name, dtype))
    for scale in SCALES:
        zero_point = int(rng.integers(target.qmin, target.qmax + 1))
        x = random_inputs(1_000_000, scale, zero_point, target.qmin, target.qmax, rng)
        assert_quantize_matches(backend, x, scale, zero_point, dtype, None, None)
        channels = np.array(SCALES, F32)
        zeros = rng.integers(target.qmin, target.qmax + 1, channels.size)
        x = random_inputs(channels.size * 100_000, scale, zero_point, target.qmin, target.qmax, rng)
        assert_quantize_matches(backend, x.reshape(100, channels.size, 1000), channels, zeros, dtype, 1, None)
