"""The correct adapter every mutant starts from, and the base class of a mutant (one defect).

The correct adapter is the refq built-in backend (:class:`refq.backends.RefqBackend`): a mutant
changes it in exactly one place, by a variant override (:attr:`RefqBackend.variants`) or by one
method. The mutation score's reference run is that backend itself, ``refq``.
"""

from __future__ import annotations

import numpy as np

from refq.backends.reference import RefqBackend
from refq.registry.operations import OPERATIONS_BY_NAME

F32 = np.float32

#: The ``--backend`` SPEC of the correct adapter for every operation a mutant changes.
CORRECT_BACKEND = "refq"


class ReferenceAdapter(RefqBackend):
    """The correct adapter: the refq backend (:class:`refq.backends.RefqBackend`) under ``profile``
    (``onnx`` unless set), its quantize and dequantize under ``quantize_variants`` and ``dequantize_variants``."""

    #: Variant values that replace the profile's (none: this adapter is correct).
    quantize_variants: dict[str, str] = {}
    dequantize_variants: dict[str, str] = {}

    @property
    def variants(self) -> dict[str, str]:
        return {**self.quantize_variants, **self.dequantize_variants}


#: The operations of :class:`ReferenceAdapter`: the refq backend's quantize and dequantize. Its other
#: operations are hidden (an adapter's operations are its callable methods), so that fingerprinting or
#: running it shows the affine reference the hand-written mutants change, and nothing else; a mutant of
#: another operation brings that operation's method back (:class:`Mutant`).
REFERENCE_OPERATIONS = ("quantize_linear", "dequantize_linear")
for _operation in OPERATIONS_BY_NAME:
    if _operation not in REFERENCE_OPERATIONS and callable(getattr(ReferenceAdapter, _operation, None)):
        setattr(ReferenceAdapter, _operation, None)


class Mutant(ReferenceAdapter):
    """A reference adapter with one defect (the first line of the class docstring)."""

    configurable_profile = False
    #: The clause whose rule the defect breaks.
    clause = ""
    #: The operations the defect is in: the mutation score runs the mutant on their cases only.
    operations: tuple[str, ...] = ("quantize_linear", "dequantize_linear")

    def __init_subclass__(cls, **keywords) -> None:
        super().__init_subclass__(**keywords)
        # the refq backend's method of each operation the mutant changes and does not define itself
        for operation in cls.operations:
            if getattr(cls, operation, None) is None:
                setattr(cls, operation, getattr(RefqBackend, operation))

    @classmethod
    def defect(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


def correct_adapter(profile: str) -> RefqBackend:
    """The correct answer for every operation under ``profile``: the refq backend."""
    return RefqBackend(profile)


def per_element(function, values, scale, zero_point, dtype, profile, **options):
    """``function`` (quantize or dequantize) with a scale and zero point per element: blocks of one."""
    values = np.asarray(values)
    if values.ndim == 0:
        return function(values, scale.reshape(()), zero_point.reshape(()), dtype=dtype, profile=profile, **options)
    return function(values, np.ascontiguousarray(scale), np.ascontiguousarray(zero_point), axis=0, block_size=1,
                    dtype=dtype, profile=profile, **options)
