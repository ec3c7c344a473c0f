"""ml_dtypes' float conversions (``astype``) as ONNX ``Cast`` from float32 to the small float formats."""

from __future__ import annotations

import numpy as np

from refq.errors import invalid, wrong_type
from refq.registry import float_format


class MlDtypesBackend:
    """``cast(x, *, to, saturate)`` through ``x.astype(ml_dtypes.<to>)``, returned as bit patterns.

    ``astype`` rounds to nearest even and does not saturate: an overflow becomes
    infinity, or NaN in a format without infinity, as ONNX ``Cast`` with
    ``saturate=0`` says. With ``saturate=True`` the values are clipped to
    ``[-max, max]`` first, which maps infinities to the largest finite value and
    leaves NaN alone: the ``saturate=1`` table of ONNX ``Cast``.
    """

    name = "ml_dtypes"
    profile = "onnx"

    def __init__(self) -> None:
        import ml_dtypes

        self._ml_dtypes = ml_dtypes
        self.version = ml_dtypes.__version__

    def cast(self, x, *, to="float8_e4m3fn", saturate=False, round_mode="nearest") -> np.ndarray:
        """The bit patterns of ``x`` (float32) converted to format ``to``, in uint8 or uint16.

        Not E8M0: ml_dtypes rounds into it by NUM-3.13 alone (``e8m0_conversion = nearest_value``, no
        ``round_mode``), where the ``onnx`` profile says ``range_first``. Not a NaN into a format without
        NaN: ml_dtypes gives the zero of the other sign (``finite_format_nan = opposite_sign_zero``, the
        onnx-reference profile's value), where the ONNX text says 6."""
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise wrong_type("x", "a float32 numpy array", x)
        if not isinstance(saturate, (bool, np.bool_)):
            raise wrong_type("saturate", "a bool", saturate)
        target_format = float_format(to, "to")
        if target_format.total_bits > 16:
            raise invalid("to", "a float format narrower than float32", to)
        target = np.dtype(getattr(self._ml_dtypes, target_format.ml_dtypes_name, None)
                          or target_format.ml_dtypes_name)
        if target_format.name == "float8_e8m0fnu" or round_mode != "nearest":
            raise NotImplementedError(f"{self.name}: Cast to {to} with round_mode={round_mode!r} (ml_dtypes rounds "
                                      "to nearest and has no E8M0 range rule)")
        if not target_format.has_nan and np.isnan(x).any():
            raise NotImplementedError(f"{self.name}: a NaN cast to {to} (ml_dtypes gives the zero of the other "
                                      "sign; the onnx profile says the largest value)")
        if saturate:
            largest = np.float32(self._ml_dtypes.finfo(target).max)
            x = np.clip(x, -largest, largest)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is the defined behaviour here
            patterns = x.astype(target)
        return patterns.view(np.uint8 if target.itemsize == 1 else np.uint16)
