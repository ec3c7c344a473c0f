"""A step-by-step account of quantizing one value: what a kernel engineer reads to
understand a one-LSB mismatch. Each step names its clause; the result is computed by
the same clause functions as :func:`refq.affine.quantize` (run interpreted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from refq._jit import pure_python
from refq.affine import steps
from refq.affine.parameters import target_type
from refq.affine.profiles import resolve_variants
from refq.affine.quantize import quantize_exact_value
from refq.errors import invalid


@dataclass(frozen=True)
class Step:
    clause: str
    text: str


@dataclass
class Trace:
    x: np.float32
    profile: str
    variants: dict[str, str]
    q: int = 0
    unpredictable: bool = False
    steps: list[Step] = field(default_factory=list)

    def add(self, clause: str, text: str) -> None:
        self.steps.append(Step(clause, text))

    def render(self) -> str:
        lines = [f"x = {describe_float32(self.x)}   profile {self.profile}"]
        lines += [f"  [{step.clause}] {step.text}" for step in self.steps]
        outcome = "unpredictable (any value accepted)" if self.unpredictable else "valid"
        lines.append(f"  => q = {self.q}   ({outcome})")
        return "\n".join(lines)


def float32_bits(value) -> int:
    return int(np.array(value, dtype=np.float32).view(np.uint32))


def describe_float32(value) -> str:
    value = np.float32(value)
    return f"{float(value)!r} (float32 0x{float32_bits(value):08x})"


def describe_float64(value: float) -> str:
    return f"{value!r} (float64 0x{int(np.array(value, dtype=np.float64).view(np.uint64)):016x})"


def _approximate(value: Fraction, digits: int = 20) -> str:
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    exponent = len(str(value.numerator)) - len(str(value.denominator))
    scaled = value / Fraction(10) ** (exponent - digits)
    mantissa = str(round(scaled)).rstrip("0") or "0"
    text = f"{mantissa[0]}.{mantissa[1:] or '0'}e{exponent + len(str(round(scaled))) - 1 - digits}"
    return sign + text


def _compare(computed: float, exact: Fraction) -> str:
    difference = Fraction(computed) - exact
    if difference == 0:
        return "exact"
    return f"rounded {'up' if difference > 0 else 'down'} by {_approximate(abs(difference), 4)}"


def trace_quantize(x, scale, zero_point: int = 0, *, dtype="int8", narrow=False, profile="onnx", per_axis=False,
                   **variant_overrides) -> Trace:
    """Quantize the single value ``x`` and record every step (clauses AFF-3.1 to AFF-3.7)."""
    target = target_type(dtype, narrow)
    x = np.float32(x)
    scale = np.float32(scale)
    if not (np.isfinite(scale) and scale > 0):
        raise invalid("scale", "finite and > 0 in float32", float(scale))
    if not target.qmin <= zero_point <= target.qmax:
        raise invalid("zero_point", f"in [{target.qmin}, {target.qmax}] for {target.format.name}", zero_point)
    resolved = resolve_variants(profile, "quantize", per_axis=per_axis, overrides=variant_overrides)
    names = {name: value.name for name, value in resolved.items()}
    codes = {name: value.code for name, value in resolved.items()}
    trace = Trace(x, profile if isinstance(profile, str) else profile.name, names)
    with np.errstate(divide="ignore", over="ignore"):
        reciprocal = np.float32(np.float32(1) / scale)
    trace.add("AFF-1.1", f"s = {describe_float32(scale)}, z = {zero_point}, "
                         f"{target.format.name}{' narrow' if narrow else ''} range [{target.qmin}, {target.qmax}]")
    with pure_python():
        expected = steps.quantize_value(x, scale, reciprocal, np.int64(zero_point), target.qmin, target.qmax,
                                        codes["scale_operation"], codes["precision"], codes["zero_point_placement"],
                                        codes["rounding"], codes["saturation"], codes["conversion_overflow"],
                                        codes["nan"], codes["subnormals"]) if codes["precision"] != steps.EXACT else \
            quantize_exact_value(x, scale, reciprocal, zero_point, target, codes)
        trace.q, trace.unpredictable = int(expected[0]), bool(expected[1])
        if np.isnan(x) and names["nan"] != "converted":
            trace.add("AFF-3.6", f"x is NaN: nan = {names['nan']}")
            return trace
        if names["subnormals"] == "flushed":
            x, reciprocal = steps.flushed_to_zero(x), steps.flushed_to_zero(reciprocal)
            trace.add("AFF-3.9", f"subnormals flushed: x = {describe_float32(x)}, "
                                 f"r = {describe_float32(reciprocal)}")
        _trace_steps(trace, x, scale, reciprocal, zero_point, target, names, codes)
    return trace


def _trace_steps(trace, x, scale, reciprocal, zero_point, target, names, codes) -> None:
    finite = bool(np.isfinite(x))
    exact_quotient = Fraction(float(x)) / Fraction(float(scale)) if finite else None
    pending = zero_point
    if names["zero_point_placement"] == "before_rounding_fused":
        value = float(steps.fused_multiply_add_float32(x, reciprocal, zero_point))
        if names["subnormals"] == "flushed":
            value = float(steps.flushed_to_zero(value))
        detail = ""
        if finite and np.isfinite(reciprocal):
            exact = Fraction(float(x)) * Fraction(float(reciprocal)) + zero_point
            detail = f"; exact x*r + z = {_approximate(exact)}, {_compare(value, exact)}"
        trace.add("AFF-3.2", f"r = fl32(1/s) = {describe_float32(reciprocal)}")
        trace.add("AFF-3.7", f"v = fma32(x, r, z) = {describe_float32(value)}{detail}")
        pending = 0
    else:
        if names["precision"] == "exact":
            value = None
        else:
            value = float(steps.scale_value(x, scale, reciprocal, codes["scale_operation"], codes["precision"]))
            if names["subnormals"] == "flushed":
                value = float(steps.flushed_to_zero(value))
        if names["scale_operation"] == "divide":
            what = "x / s"
        else:
            trace.add("AFF-3.2", f"r = fl32(1/s) = {describe_float32(reciprocal)}")
            what = "x * r"
        if value is None:
            trace.add("AFF-3.2", f"v = {what} exactly (precision exact)")
        else:
            shown = describe_float32(value) if names["precision"] == "float32" else describe_float64(value)
            detail = ""
            if finite and exact_quotient is not None:
                exact = exact_quotient if names["scale_operation"] == "divide" else \
                    Fraction(float(x)) * Fraction(float(reciprocal)) if np.isfinite(reciprocal) else None
                if exact is not None:
                    detail = f"; exact {what} = {_approximate(exact)}, {_compare(value, exact)}"
            trace.add("AFF-3.2", f"v = fl_{names['precision'][-2:]}({what}) = {shown}{detail}")
        if names["zero_point_placement"] == "before_rounding" and value is not None:
            value = float(steps.add_in_precision(value, zero_point, codes["precision"]))
            trace.add("AFF-3.3", f"v + z rounded to {names['precision']} = {value!r}")
            pending = 0
    if value is None:
        trace.add("AFF-3.4", f"round exactly with {names['rounding']}")
        if names["zero_point_placement"] == "after_rounding":
            trace.add("AFF-3.3", f"+ z = {zero_point}")
            pending = 0
    else:
        rounded = float(steps.round_to_integral(value, codes["rounding"]))
        if np.isfinite(value):
            fraction = abs(Fraction(value) - Fraction(int(value)))
            kind = "an exact tie" if fraction == Fraction(1, 2) else f"fraction {_approximate(fraction, 6)}"
        else:
            kind = "not finite"
        trace.add("AFF-3.4", f"round({value!r}) with {names['rounding']}: {kind} -> {rounded!r}")
        if names["zero_point_placement"] == "after_rounding":
            trace.add("AFF-3.3", f"+ z = {rounded!r} + {zero_point} = {rounded + zero_point!r}")
            pending = 0
    trace.add("AFF-3.5", f"{names['saturation']} into [{target.qmin}, {target.qmax}]"
                         + (f" (zero point {pending} still to add)" if pending else "") + f" -> {trace.q}")


def disagreements(traces: list[Trace], x, scale, zero_point: int = 0, **options) -> list[str]:
    """Explain each pair of results: for two profiles that give different integers, the
    variants of the second profile that, substituted alone into the first, change its
    result to the second's."""
    lines = []
    groups: dict[int, list[Trace]] = {}
    for trace in traces:
        if not trace.unpredictable:
            groups.setdefault(trace.q, []).append(trace)
    representatives = [group[0] for group in groups.values()]
    names = {q: ", ".join(t.profile for t in group) for q, group in groups.items()}
    for index, first in enumerate(representatives):
        for second in representatives[index + 1:]:
            decisive = []
            for name, value in second.variants.items():
                if first.variants[name] == value:
                    continue
                overrides = {**first.variants, name: value}
                try:
                    swapped = trace_quantize(x, scale, zero_point, profile=first.profile, **options, **overrides)
                except ValueError:  # an invalid combination on its own (e.g. fused with divide)
                    continue
                if swapped.q == second.q:
                    decisive.append(f"{name} ({first.variants[name]} -> {value})")
            because = ("changing only " + " or only ".join(decisive) + f" turns {first.q} into {second.q}"
                       if decisive else "no single variant explains it; several steps differ together")
            lines.append(f"{_give(names[first.q])} {first.q}; {_give(names[second.q])} {second.q}. "
                         f"From {first.profile} to {second.profile}: {because}")
    return lines


def _give(profiles: str) -> str:
    """``"tflite gives"`` for one profile, ``"onnx, pytorch give"`` for several."""
    return f"{profiles} {'give' if ', ' in profiles else 'gives'}"
