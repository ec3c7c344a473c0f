"""The arguments and results the block-scaled operations share: a profile's values of the chapter's variants,
the block size, and the record an operation with several results returns."""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type


def profile_values(profile: object, field: str, formats: str, overrides: dict) -> dict:
    """The variant values a profile gives in its ``field`` (``block``, ``bnb4``), with the ``overrides`` not None; a
    profile without any is a refq error naming the profiles of ``formats``."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    chosen = EVERY_PROFILE_BY_NAME.get(profile) if isinstance(profile, str) else None
    if chosen is None or not getattr(chosen, field):
        names = [name for name, entry in EVERY_PROFILE_BY_NAME.items() if getattr(entry, field)]
        raise invalid("profile", f"a profile of {formats}: " + ", ".join(names), profile)
    values = dict(getattr(chosen, field))
    values.update({name: value for name, value in overrides.items() if value is not None})
    return values


def check_block_size(block_size: object) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)):
        raise wrong_type("block_size", "a positive integer", block_size)
    if block_size < 1:
        raise invalid("block_size", "a positive integer", block_size)
    return int(block_size)


def record(**fields: np.ndarray) -> np.ndarray:
    """A record (a structured array of shape ()) of ``fields``, the form of an operation with several results."""
    result = np.zeros((), dtype=np.dtype([(name, array.dtype, array.shape) for name, array in fields.items()]))
    for name, array in fields.items():
        result[name] = array
    return result
