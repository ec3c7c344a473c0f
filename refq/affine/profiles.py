"""AFF-5: resolving a profile name plus per-call overrides into variant values."""

from __future__ import annotations

from refq.errors import invalid, wrong_type
from refq.registry.profiles import PROFILES_BY_NAME, Profile
from refq.registry.variants import VARIANTS_BY_NAME, VariantValue


def profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    if not isinstance(name, str):
        raise wrong_type("profile", "a profile name", name)
    try:
        return PROFILES_BY_NAME[name]
    except KeyError:
        raise invalid("profile", "one of " + ", ".join(PROFILES_BY_NAME), name) from None


def resolve_variants(profile_name: str | Profile, operation: str, *, per_axis: bool = False,
                     overrides: dict[str, str] | None = None) -> dict[str, VariantValue]:
    """AFF-5.1: the value of every ``operation`` variant under ``profile_name``, with
    the profile's per-axis values where the granularity is not per-tensor, then ``overrides``.

    Combinations that describe no computation are rejected: a fused zero point needs
    ``multiply_reciprocal`` in ``float32``, and so do flushed subnormals; ``nan="converted"`` needs
    ``convert_then_clamp``.
    """
    chosen = profile(profile_name)
    values = dict(chosen.quantize if operation == "quantize" else chosen.dequantize)
    if per_axis and operation == "quantize":
        values.update(chosen.quantize_per_axis)
    for name, value in (overrides or {}).items():
        variant = VARIANTS_BY_NAME.get(name)
        if variant is None or variant.operation != operation:
            allowed = sorted(v.name for v in VARIANTS_BY_NAME.values() if v.operation == operation)
            raise invalid(name, f"a {operation} variant: one of {', '.join(allowed)}", name)
        if value not in {v.name for v in variant.values}:
            raise invalid(name, "one of " + ", ".join(v.name for v in variant.values), value)
        values[name] = value
    resolved = {name: VARIANTS_BY_NAME[name].value(value) for name, value in values.items()}
    if operation == "quantize":
        if values["zero_point_placement"] == "before_rounding_fused" and (
            values["scale_operation"] != "multiply_reciprocal" or values["precision"] != "float32"
        ):
            raise invalid("zero_point_placement", "before_rounding_fused only with "
                          "scale_operation='multiply_reciprocal' and precision='float32'", "before_rounding_fused")
        if values["subnormals"] == "flushed" and (
            values["scale_operation"] != "multiply_reciprocal" or values["precision"] != "float32"
        ):
            raise invalid("subnormals", "flushed only with scale_operation='multiply_reciprocal' and "
                          "precision='float32'", "flushed")
        if values["nan"] == "converted" and values["saturation"] == "clamp_then_convert":
            raise invalid("nan", "'converted' only with a convert-then-clamp saturation", "converted")
    return resolved
