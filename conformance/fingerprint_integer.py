"""Fingerprinting a backend's requantization (REQ-1) through ``qlinear_matmul`` and ``qlinear_conv``:
which float-multiplier variant values does it follow?

A handful of discriminating calls (:func:`probes`, built once, deterministically) separate the values
of three registry variants while the others agree on them:

- ``requantize_zero_point`` (REQ-1.3): multipliers $2^{-k}$ put accumulators on exact ties and an
  *odd* output zero point flips the parity of the tie, so $\\mathrm{round}(v) + z$ and
  $\\mathrm{round}(v + z)$ (ties to even) differ;
- ``requantize_precision`` (REQ-1.2): accumulators just above $2^{25}$ that float32 rounds onto a tie of
  $a \\cdot 2^{-18}$ while float64 keeps them exact (one side of the tie);
- ``requantize_multiplier_order`` (REQ-1.1): scales on which another order of the operations gives
  another float32 multiplier, and an accumulator on which the two multipliers round apart.

``qlinear_conv`` runs the same probes as 1x1 convolutions (the rows of ``a`` become pixels, its
columns input channels), plus :func:`padding_probes`, which reveal whether the padding holds the
input zero point (it contributes nothing) or the code 0 (it contributes $-z_x w$), the registry
variant ``conv_padding``: every backend refq covers pads with the zero point. Each operation runs per tensor and per output channel (the weight scale an array of
equal values, which takes the backends' per-channel kernels).

Every combination of variant values is computed on the same probes by :func:`predict`: refq's own
``qlinear_matmul`` / ``qlinear_conv`` under those values (``conv_padding`` included); the engine (:mod:`.fingerprint_engine`) keeps the
combinations that explain every probe. The probes use uint8 activations, int8 weights and a uint8 output, which every adapter
accepts (FBGEMM takes no other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import Result, every_combination, registry_values
from refq.errors import wrong_type
from refq.integer_ops.qlinear import qlinear_conv, qlinear_matmul
from refq.requantize import requantize_multiplier
from refq.registry.variants import VARIANTS_BY_NAME

F32 = np.float32



def _multiplier(order: str):
    return lambda a, b, y: F32(requantize_multiplier(F32(a), np.asarray([b], F32), F32(y), "float32", order)[0])


#: The multiplier $m$ from the scales in each order of the operations (REQ-1.1): refq's.
MULTIPLIER_ORDERS = {order: _multiplier(order) for order in registry_values("requantize_multiplier_order")}
#: The registry variants the probes separate (names and values from refq.registry.variants).
REGISTRY_VARIANTS = tuple(name for name in ("requantize_multiplier_order", "requantize_precision",
                                             "requantize_zero_point", "requantize_rounding")
                          if name in VARIANTS_BY_NAME)
#: How the scaled accumulator becomes an integer, per ``requantize_rounding`` value (REQ-1.5): the order
#: probes' search uses it to find accumulators the multipliers round apart.
ROUNDINGS = {"half_to_even": np.rint, "toward_zero": np.trunc,
             "half_away_from_zero": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5)}
#: The float-multiplier variants (REQ-1), then the form and the fixed-point rounding (REQ-2.7): a combination
#: of ``requantize_form = fixed_point`` takes the float64 quotient (TensorFlow Lite's QuantizeMultiplier) and
#: leaves the float-multiplier variants :data:`NOT_TAKEN`, a float-multiplier one leaves the fixed-point rounding so.
FORM_VARIANTS = ("requantize_form", "fixed_point_rounding")
VARIANTS: dict[str, tuple[str, ...]] = {name: registry_values(name) for name in (*REGISTRY_VARIANTS, *FORM_VARIANTS)}
#: The value of a dimension whose step the combination's form does not take.
NOT_TAKEN = "not_taken"
#: The float-multiplier variants a fixed-point combination does not take.
FLOAT_ONLY = ("requantize_precision", "requantize_zero_point", "requantize_rounding")
#: TensorFlow Lite's derivation of the fixed-point multiplier (REQ-2.2, REQ-2.3) from the float64 quotient.
FIXED_POINT_DERIVATION = {"multiplier_order": "float64_quotient", "multiplier_rounding": "half_away_from_zero",
                          "shift_limits": "tflite"}
#: Where a convolution's padding comes from: the input zero point (ONNX) or the raw code 0.
PADDING = registry_values("conv_padding")
CONV_VARIANTS: dict[str, tuple[str, ...]] = {**VARIANTS, "conv_padding": PADDING}
OPERATIONS = ("qlinear_matmul", "qlinear_conv")
GRANULARITIES = ("per_tensor", "per_channel")
#: ONNX Runtime's MLAS requantization (REQ-1): the combination the probes' rival values are shown against.
ONNXRUNTIME = {"requantize_multiplier_order": "product_then_quotient", "requantize_precision": "float32",
               "requantize_zero_point": "after_rounding", "requantize_rounding": "half_to_even",
               "requantize_form": "float_multiplier", "fixed_point_rounding": NOT_TAKEN,
               "conv_padding": "input_zero_point"}


@dataclass(frozen=True)
class Probe:
    """One call with per-tensor scales and zero points, and the variant it separates.

    A matmul-shaped probe (``pads is None``) holds ``a`` (uint8, (M, K)) and ``b`` (int8, (K, N));
    a padding probe holds a convolution's ``x`` (uint8, NCHW) and ``w`` (int8, MCHW) with ``pads``."""

    name: str
    separates: str
    a: np.ndarray
    a_zero_point: int
    b: np.ndarray
    a_scale: np.float32
    b_scale: np.float32
    y_scale: np.float32
    y_zero_point: int
    pads: tuple[int, int, int, int] | None = None
    #: The ``requantize_rounding`` value under which the probe separates the values of ``separates``.
    rounding: str = "half_to_even"
    #: Further variant values (name, value) under which it separates them, beside ONNX Runtime's.
    under: tuple[tuple[str, str], ...] = ()

    def arguments(self, per_channel: bool = False) -> tuple:
        """The ONNX input order: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point;
        ``per_channel`` gives the weight scale and zero point as arrays, one (equal) value per output channel."""
        channels = self.b.shape[1] if self.pads is None else self.b.shape[0]
        b_scale, b_zero = F32(self.b_scale), np.int8(0)
        if per_channel:
            b_scale, b_zero = np.full(channels, b_scale, F32), np.zeros(channels, np.int8)
        return (self.a, F32(self.a_scale), np.uint8(self.a_zero_point), self.b, b_scale, b_zero,
                F32(self.y_scale), np.uint8(self.y_zero_point))

    def conv_arguments(self, per_channel: bool = False) -> tuple[tuple, dict]:
        """The probe as ``qlinear_conv`` inputs and attributes: a matmul probe as a 1x1 convolution
        (x of shape (1, K, M, 1), w of shape (N, K, 1, 1)), a padding probe as it is."""
        a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = self.arguments(per_channel)
        if self.pads is None:
            x = np.ascontiguousarray(a.T)[None, :, :, None]
            w = np.ascontiguousarray(b.T)[:, :, None, None]
            return (x, a_scale, a_zero, w, b_scale, b_zero, y_scale, y_zero), {}
        return (a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero), {"pads": list(self.pads)}


def conv_output_as_matmul(probe: Probe, output: np.ndarray) -> np.ndarray:
    """A 1x1 convolution's (1, N, M, 1) output as the (M, N) matmul output (padding probes: as it is)."""
    output = np.asarray(output)
    if probe.pads is not None or output.ndim != 4:
        return output
    return np.ascontiguousarray(output[0, :, :, 0].T)


def predict(probe: Probe, variants: dict[str, str]) -> np.ndarray:
    """The uint8 output of ``probe`` (matmul-shaped for a matmul probe) under one combination: refq's
    ``qlinear_matmul``, or for a padding probe refq's ``qlinear_conv`` with ``conv_padding``."""
    if variants.get("requantize_form", "float_multiplier") == "fixed_point":
        options = {"form": "fixed_point", "fixed_point_rounding": variants["fixed_point_rounding"],
                   **FIXED_POINT_DERIVATION}
    else:
        options = {"precision": variants["requantize_precision"],
                   "zero_point_placement": variants["requantize_zero_point"],
                   "rounding": variants.get("requantize_rounding", "half_to_even"),
                   "multiplier_order": variants["requantize_multiplier_order"]}
    if probe.pads is None:
        return qlinear_matmul(*probe.arguments(), **options)
    inputs, attributes = probe.conv_arguments()
    return qlinear_conv(*inputs, **attributes, **options, conv_padding=variants.get("conv_padding", "input_zero_point"))


def combinations(operation: str = "qlinear_matmul") -> list[dict[str, str]]:
    """Every float-multiplier combination of REQ-1's values, then every fixed-point rounding (REQ-2.7)."""
    dimensions = CONV_VARIANTS if operation == "qlinear_conv" else VARIANTS
    float_dimensions = {name: values for name, values in dimensions.items() if name not in FORM_VARIANTS}
    padding = {"conv_padding": PADDING} if operation == "qlinear_conv" else {}
    floats = [{**combination, "requantize_form": "float_multiplier", "fixed_point_rounding": NOT_TAKEN}
              for combination in every_combination(float_dimensions)]
    fixed = [{"requantize_multiplier_order": FIXED_POINT_DERIVATION["multiplier_order"],
              **{name: NOT_TAKEN for name in FLOAT_ONLY}, "requantize_form": "fixed_point",
              "fixed_point_rounding": rounding, **padding_values}
             for rounding in VARIANTS["fixed_point_rounding"] for padding_values in every_combination(padding)]
    return floats + fixed


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


def truncation_probes() -> list[Probe]:
    """The precision under ``requantize_rounding = toward_zero``, where no tie matters: sums
    $\\pm(2^{e} + 2^{s} - d)$ with the multiplier $2^{-s}$. Float32 rounds the sum up to $2^{e} + 2^{s}$
    ($d$ is below half its spacing $2^{e-23}$), whose truncated product is $2^{e-s} + 1$; float64 keeps
    it exact and truncates it to $2^{e-s}$. Rounding to nearest gives $2^{e-s} + 1$ in both precisions."""
    probes = []
    for exponent, shift, offset in ((25, 18, 1), (26, 19, 3)):
        row, column = exact_products(2**exponent + 2**shift - offset, 8192)
        for sign, zero_point in ((1, 0), (-1, 200)):
            probes.append(Probe(f"truncated-accumulator-{'+' if sign > 0 else '-'}(2^{exponent}+2^{shift}-{offset})",
                                "requantize_precision", row[None], 0, (sign * column)[:, None].astype(np.int8),
                                F32(1), F32(1), F32(2.0**shift), zero_point, rounding="toward_zero"))
    return probes


def wide_multiplier(combination: dict[str, str]) -> bool:
    """Whether the combination keeps the float64 quotient as its multiplier (REQ-1.1), unlike every other,
    whose multiplier is a float32 value."""
    return (combination["requantize_multiplier_order"], combination["requantize_precision"]) == \
        ("float64_quotient", "float64")


def below_tie_probes() -> list[Probe]:
    """The precision under ``requantize_rounding = half_away_from_zero``, where a tie rounds the same way from
    both sides: sums $\\pm(2^{e} + 2^{s-1} - d)$ with the multiplier $2^{-s}$, just inside a tie. Float32 rounds
    the sum onto the tie, which rounds away to $2^{e-s} + 1$; float64 keeps it inside and gives $2^{e-s}$."""
    probes = []
    for exponent, shift, offset in ((25, 18, 1), (26, 19, 3)):
        row, column = exact_products(2**exponent + 2 ** (shift - 1) - offset, 8192)
        for sign, zero_point in ((1, 0), (-1, 200)):
            probes.append(Probe(f"below-tie-accumulator-{'+' if sign > 0 else '-'}(2^{exponent}+2^{shift - 1}-{offset})",
                                "requantize_precision", row[None], 0, (sign * column)[:, None].astype(np.int8),
                                F32(1), F32(1), F32(2.0**shift), zero_point, rounding="half_away_from_zero"))
    return probes


def order_probes(per_order: int = 3, seed: int = 11, rounding: str = "half_to_even") -> list[Probe]:
    """For each rival order, ``per_order`` scale triples on which its multiplier differs from
    $\\mathrm{fl}_{32}(\\mathrm{fl}_{32}(s_a s_b) / s_y)$, each with one accumulator on which the two give
    different outputs under ``rounding`` (a ``requantize_rounding`` value) and every precision and zero
    point placement (which agree there among themselves)."""
    rng = np.random.default_rng(seed)
    base_order = ONNXRUNTIME["requantize_multiplier_order"]
    integer = ROUNDINGS[rounding]
    suffix = "" if rounding == "half_to_even" else f"{rounding}-"
    probes: list[Probe] = []
    for order in MULTIPLIER_ORDERS:
        if order == base_order:
            continue
        found = 0
        while found < per_order:
            a_scale, b_scale = F32(rng.uniform(0.001, 0.1)), F32(rng.uniform(0.001, 0.1))
            y_scale = F32(a_scale * b_scale * rng.uniform(50, 3000))
            base = MULTIPLIER_ORDERS[base_order](a_scale, b_scale, y_scale)
            rival = MULTIPLIER_ORDERS[order](a_scale, b_scale, y_scale)
            if base == rival:
                continue
            sums = np.arange(1, int(200 / max(base, rival)), dtype=np.int64)
            apart = np.flatnonzero(integer(sums.astype(F32) * base) != integer(sums.astype(F32) * rival))
            for total in sums[apart]:
                row, column = exact_products(int(total), 64)
                probe = Probe(f"multiplier-{order}-{suffix}{found}", "requantize_multiplier_order", row[None], 0,
                              column[:, None], a_scale, b_scale, y_scale, 0, rounding=rounding)
                if _separates_only_order(probe, order, rounding):
                    probes.append(probe)
                    found += 1
                    break
    return probes


def _separates_only_order(probe: Probe, order: str, rounding: str = "half_to_even") -> bool:
    """Under ``rounding``, every precision and placement agree with each other, and disagree with them
    under ``order``."""
    base_order = ONNXRUNTIME["requantize_multiplier_order"]
    outputs: dict[str, set[bytes]] = {base_order: set(), order: set()}
    for combination in combinations():
        if combination["requantize_form"] != "float_multiplier" or wide_multiplier(combination):
            continue  # the fixed-point and float64-quotient rules have probes of their own
        if combination.get("requantize_rounding", "half_to_even") != rounding:
            continue  # each rounding has probes of its own: one accumulator rarely separates the orders under both
        if combination["requantize_multiplier_order"] in outputs:
            outputs[combination["requantize_multiplier_order"]].add(predict(probe, combination).tobytes())
    return len(outputs[base_order]) == 1 and len(outputs[order]) == 1 and outputs[base_order] != outputs[order]


def wide_multiplier_probes(seed: int = 14) -> list[Probe]:
    """``float64_quotient`` under ``requantize_precision = float64`` keeps the float64 quotient (REQ-1.1), which
    the float32 multipliers of the other orders are rounded from: per ``requantize_rounding`` value, scales and
    an accumulator on which the float64 quotient's output differs from every other order's in float64."""
    rng = np.random.default_rng(seed)
    probes: list[Probe] = []
    for rounding in VARIANTS["requantize_rounding"]:
        under = (("requantize_precision", "float64"),)
        while len(probes) < len(VARIANTS["requantize_rounding"]) and not any(p.rounding == rounding for p in probes):
            a_scale, b_scale = F32(rng.uniform(0.001, 0.1)), F32(rng.uniform(0.001, 0.1))
            y_scale = F32(a_scale * b_scale * rng.uniform(50, 3000))
            wide = float(a_scale) * float(b_scale) / float(y_scale)
            sums = np.arange(1, int(200 / wide), dtype=np.int64)
            wide_output = ROUNDINGS[rounding](sums * wide)
            apart = np.ones(sums.size, bool)
            for order, multiplier in MULTIPLIER_ORDERS.items():
                if order != "float64_quotient":
                    apart &= ROUNDINGS[rounding](sums * np.float64(multiplier(a_scale, b_scale, y_scale))) != wide_output
            for total in sums[apart][:1]:
                row, column = exact_products(int(total), 64)
                probe = Probe(f"wide-multiplier-{rounding}", "requantize_multiplier_order", row[None], 0,
                              column[:, None], a_scale, b_scale, y_scale, 0, rounding=rounding, under=under)
                if _separates_order_in(probe, "float64", rounding):
                    probes.append(probe)
    return probes


def _separates_order_in(probe: Probe, precision: str, rounding: str) -> bool:
    """Under ``precision`` and ``rounding``, each zero point placement gives ``float64_quotient`` an output of its
    own among the multiplier orders."""
    for placement in VARIANTS["requantize_zero_point"]:
        outputs = [predict(probe, {"requantize_multiplier_order": order, "requantize_precision": precision,
                                   "requantize_zero_point": placement, "requantize_rounding": rounding}).tobytes()
                   for order in VARIANTS["requantize_multiplier_order"]]
        wide = outputs[VARIANTS["requantize_multiplier_order"].index("float64_quotient")]
        if outputs.count(wide) != 1:
            return False
    return True


def fixed_point_probes(seed: int = 15) -> list[Probe]:
    """``requantize_form = fixed_point`` against TensorFlow Lite's reference FULLY_CONNECTED rule, the float64
    quotient rounded half away from zero: the 31-bit multiplier $M \\cdot 2^{-s}$ is within $2^{-32}$ of the
    float64 quotient, so per ``fixed_point_rounding`` value an accumulator whose product lies between a half
    and the other multiplier's, where the two round apart (a tie from above, never on one)."""
    rng = np.random.default_rng(seed)
    float_rule = {"requantize_multiplier_order": "float64_quotient", "requantize_precision": "float64",
                  "requantize_rounding": "half_away_from_zero"}
    probes: list[Probe] = []
    for rounding in VARIANTS["fixed_point_rounding"]:
        under = (*float_rule.items(), ("fixed_point_rounding", rounding))
        found = False
        while not found:
            a_scale, b_scale = F32(rng.uniform(0.001, 0.1)), F32(rng.uniform(0.001, 0.1))
            y_scale = F32(a_scale * b_scale * rng.uniform(50, 3000))
            wide = float(a_scale) * float(b_scale) / float(y_scale)
            sums = np.arange(1, int(200 / wide), dtype=np.int64)
            close = np.flatnonzero(np.abs(sums * wide - np.floor(sums * wide) - 0.5) < 1e-6)
            for total in sums[close]:
                row, column = exact_products(int(total), 64)
                probe = Probe(f"fixed-point-{rounding}", "requantize_form", row[None], 0, column[:, None], a_scale,
                              b_scale, y_scale, 0, rounding="half_away_from_zero", under=under)
                fixed = predict(probe, {"requantize_form": "fixed_point", "fixed_point_rounding": rounding})
                if all(not np.array_equal(fixed, predict(probe, {**float_rule, "requantize_zero_point": placement}))
                       for placement in VARIANTS["requantize_zero_point"]):
                    probes.append(probe)
                    found = True
                    break
    return probes


def padding_probes() -> list[Probe]:
    """3x3 convolutions of a 4x4 image with one pixel of padding and input zero points 100 and 3: the
    codes sit near the zero point, so a window that reaches into the padding sums to nearly nothing when
    the padding holds $z_x$ and to about $-z_x$ per padded tap when it holds 0. The multiplier is $1/16$."""
    probes = []
    for zero_point, output_zero in ((100, 128), (3, 128)):
        image = (zero_point + np.array([[1, -1, 2, 0], [0, 3, -2, 1], [-1, 0, 1, 2], [2, 1, 0, -3]])).clip(0, 255)
        weights = np.array([[1, 2, 1], [2, 3, 2], [1, 2, 1]])
        probes.append(Probe(f"conv-padding-z{zero_point}", "conv_padding", image.astype(np.uint8)[None, None],
                            zero_point, weights.astype(np.int8)[None, None], F32(1), F32(1), F32(16),
                            output_zero, (1, 1, 1, 1)))
    return probes


@lru_cache(maxsize=1)
def probes() -> tuple[Probe, ...]:
    """The requantization probes (both operations): zero point ties, float32 accumulators, multiplier orders,
    and where the registry has ``requantize_rounding = toward_zero``, the precisions and orders under it."""
    table = (*tie_probes(), *precision_probes(), *order_probes())
    if "toward_zero" in VARIANTS.get("requantize_rounding", ()):
        table += (*truncation_probes(), *order_probes(per_order=2, seed=12, rounding="toward_zero"))
    if "half_away_from_zero" in VARIANTS.get("requantize_rounding", ()):
        table += (*below_tie_probes(), *order_probes(per_order=2, seed=13, rounding="half_away_from_zero"))
    table += (*wide_multiplier_probes(), *fixed_point_probes())
    assert len({probe.name for probe in table}) == len(table), "probe names must be unique"
    return table


def probes_for(operation: str) -> tuple[Probe, ...]:
    """The probes of ``operation``: the requantization probes, and for ``qlinear_conv`` the padding probes."""
    return probes() + tuple(padding_probes()) if operation == "qlinear_conv" else probes()


# --- the fingerprint ---------------------------------------------------------------------


def declared_combination(profile, operation: str) -> dict[str, str] | None:
    """The combination ``profile`` (a registry profile name) declares, or None when it names no REQ-1 values."""
    from refq.registry.profiles import REQUANTIZE_PROFILES_BY_NAME

    record = REQUANTIZE_PROFILES_BY_NAME.get(profile) if isinstance(profile, str) else None
    if record is None:
        return None
    values = {**record.requantize, **record.requantize_per_operation.get(operation, {})}
    padding = {"conv_padding": "input_zero_point"} if operation == "qlinear_conv" else {}
    if values.get("requantize_form") == "fixed_point":
        derivation = {"multiplier_order": values["requantize_multiplier_order"],
                      "multiplier_rounding": values["multiplier_rounding"], "shift_limits": values["shift_limits"]}
        if derivation != FIXED_POINT_DERIVATION or values["multiplier_bits"] != "32":
            return None  # a fixed-point rule the probes do not enumerate (TOSA's shift limits)
        return {"requantize_multiplier_order": values["requantize_multiplier_order"],
                **{name: NOT_TAKEN for name in FLOAT_ONLY}, "requantize_form": "fixed_point",
                "fixed_point_rounding": values["fixed_point_rounding"], **padding}
    if values.get("requantize_form") != "float_multiplier":
        return None
    combination = {name: values.get(name, "half_to_even") for name in REGISTRY_VARIANTS}
    return {**combination, "requantize_form": "float_multiplier", "fixed_point_rounding": NOT_TAKEN, **padding}


class IntegerChapter:
    """qlinear_matmul and qlinear_conv for the engine: one probe per call, compared whole."""

    unit = "probe"
    operations = OPERATIONS
    granularities = GRANULARITIES

    def dimensions(self, operation: str) -> dict[str, tuple[str, ...]]:
        return CONV_VARIANTS if operation == "qlinear_conv" else VARIANTS

    def combinations(self, operation: str) -> list[dict[str, str]]:
        return combinations(operation)

    @lru_cache(maxsize=None)
    def probes(self, operation: str, granularity: str) -> tuple[engine.Probe, ...]:
        per_channel = granularity == "per_channel"
        calls = []
        for probe in probes_for(operation):
            if operation == "qlinear_matmul":
                inputs, attributes = probe.arguments(per_channel), {}
            else:
                inputs, attributes = probe.conv_arguments(per_channel)
            calls.append(engine.Probe(probe.name, operation, inputs, attributes, probe))
        return tuple(calls)

    def output(self, probe: engine.Probe, returned) -> np.ndarray:
        return conv_output_as_matmul(probe.purpose, returned) if probe.operation == "qlinear_conv" else np.asarray(returned)

    @lru_cache(maxsize=None)
    def _predicted(self, name: str, combination: tuple) -> np.ndarray:
        return predict(PROBES_BY_NAME()[name], dict(combination))

    def predict(self, probe: engine.Probe, granularity: str, index: int, combination: dict[str, str]):
        return self._predicted(probe.name, tuple(sorted(combination.items()))), None

    def declared(self, backend, operation: str, granularity: str) -> dict[str, str] | None:
        return declared_combination(getattr(backend, "profile", None), operation)

    def profiles(self, operation: str, granularity: str) -> dict[str, dict[str, str]]:
        return {}

    def describe(self, probe, element, value):
        return engine.Unexplained(probe.name)


@lru_cache(maxsize=1)
def PROBES_BY_NAME() -> dict[str, Probe]:  # noqa: N802 - a table, built once
    return {probe.name: probe for probe in probes_for("qlinear_conv")}


CHAPTER = IntegerChapter()


def fingerprint_operation(backend, operation: str, granularity: str) -> Result:
    """Fingerprint ``operation`` (``qlinear_matmul`` or ``qlinear_conv``) of ``backend`` at ``granularity``."""
    return engine.fingerprint_operation(backend, CHAPTER, operation, granularity)


def fingerprint_integer(backend) -> list[Result]:
    """Both operations at both granularities; a backend without them is reported unsupported."""
    return [fingerprint_operation(backend, operation, granularity)
            for operation in OPERATIONS for granularity in GRANULARITIES]


@dataclass
class RequantizationFingerprint:
    """What the probes say about a backend's ``qlinear_matmul`` per tensor, with every observed output."""

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
    """Fingerprint the per-tensor ``qlinear_matmul`` of ``backend``, keeping every observed output."""
    if not callable(getattr(backend, "qlinear_matmul", None)):
        raise wrong_type("backend", "an adapter with a qlinear_matmul method", backend)
    result = fingerprint_operation(backend, "qlinear_matmul", "per_tensor")
    observed = {}
    for probe in CHAPTER.probes("qlinear_matmul", "per_tensor"):
        try:
            observed[probe.name] = np.asarray(engine.invoke(backend, probe.operation, probe.inputs,
                                                            probe.attributes)).astype(int).tolist()
        except engine.Unsupported as refusal:
            observed[probe.name] = f"NotImplementedError: {refusal}"
        except Exception as error:  # noqa: BLE001 - a refusal is an observation too
            observed[probe.name] = f"{type(error).__name__}: {error}"
    values = result.values if result.consistent else {name: [] for name in VARIANTS}
    # a refusal of every probe explains none of them
    unexplained = ([probe.name for probe in probes()] if result.status != "ok"
                   else [u.probe for u in result.unexplained])
    return RequantizationFingerprint(observed, result.consistent, values, result.nearest, unexplained)


def probe_table() -> str:
    """The probes as a Markdown table: what ONNX Runtime's rule and each probe's rival values give."""
    lines = ["| probe | separates | scales (a, b, y) | y zero point | onnxruntime rule | rival value: output |",
             "|---|---|---|---|---|---|"]
    for probe in probes_for("qlinear_conv"):
        rule = {**ONNXRUNTIME, "requantize_rounding": probe.rounding, **dict(probe.under)}
        expected = predict(probe, rule)
        rivals = []
        for value in CONV_VARIANTS[probe.separates]:
            if value == rule[probe.separates]:
                continue
            output = predict(probe, {**rule, probe.separates: value})
            if not np.array_equal(output, expected):
                rivals.append(f"{value}: {output.ravel().tolist()}")
        scales = ", ".join(f"{float(s):.9g}" for s in (probe.a_scale, probe.b_scale, probe.y_scale))
        lines.append(f"| {probe.name} | {probe.separates} | {scales} | {probe.y_zero_point} | "
                     f"{expected.ravel().tolist()} | {'; '.join(rivals)} |")
    return "\n".join(lines)
