"""Naming the variant that probably explains a failing quantize case, from its mismatching elements.

The fingerprint finds a backend's variants from probes built for the purpose; a failing case
already holds elements on which the backend and its profile disagree. Each variant value that
differs from the profile's is tried alone on those elements (refq's trace of each, with that one
override): the values under which every shown element gets exactly the backend's answer are the
suspects. ``refq fingerprint`` confirms or refutes them on its own probes.
"""

from __future__ import annotations

from dataclasses import dataclass

from refq.errors import RefqError


@dataclass(frozen=True)
class QuantizedElement:
    """One element of a quantize case: its input, the parameters that apply to it, and what the backend gave."""

    x: float
    scale: float
    zero_point: int
    dtype: str
    per_axis: bool
    actual: int


def suspected_variants(profile: str, elements: list[QuantizedElement]) -> list[str]:
    """``name=value`` for each single quantize variant value that, replacing the profile's, gives the
    backend's answer on every element (none when the elements are empty or no single value does)."""
    from refq.affine.profiles import resolve_variants
    from refq.affine.trace import trace_quantize
    from refq.registry.variants import VARIANTS

    if not elements:
        return []
    per_axis = elements[0].per_axis
    try:
        declared = {name: value.name for name, value in
                    resolve_variants(profile, "quantize", per_axis=per_axis, overrides={}).items()}
    except RefqError:
        return []
    suspects = []
    for variant in VARIANTS:
        if variant.operation != "quantize" or variant.name not in declared:
            continue
        for value in variant.values:
            if value.name == declared[variant.name]:
                continue
            override = {variant.name: value.name}
            try:
                traces = [trace_quantize(e.x, e.scale, e.zero_point, dtype=e.dtype, profile=profile,
                                         per_axis=e.per_axis, **override) for e in elements]
            except RefqError:  # a combination the registry rules out
                continue
            if all(not trace.unpredictable and int(trace.q) == e.actual for trace, e in zip(traces, elements)):
                suspects.append(f"{variant.name}={value.name}")
    return suspects
