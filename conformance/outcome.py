"""What one call of a backend gave (:class:`Outcome`), and the in-process call of an adapter method
that the worker process and the in-process runner share."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import numpy as np


@dataclass
class Outcome:
    """What one call of an adapter's method gave.

    ``kind`` is ``returned`` (``value`` holds the array), ``raised`` (``message``;
    ``not_implemented`` when it was NotImplementedError), ``missing`` (no such method),
    ``bad_return`` (not a numpy array), ``crashed`` or ``timeout``.
    """

    kind: str
    value: np.ndarray | None = None
    message: str = ""
    not_implemented: bool = False
    #: In this process only (never sent between processes): the exception the method raised, or
    #: what it returned when that was not an array.
    raw: object = None

    @property
    def unsupported(self) -> bool:
        """No such method, NotImplementedError, or a command's exit status 3."""
        return self.kind == "missing" or (self.kind == "raised" and self.not_implemented)


def call_adapter(adapter, op: str, inputs: dict, attributes: dict, *, keep_raw: bool = False) -> Outcome:
    """Call ``adapter``'s method for ``op`` (inputs positionally, attributes by keyword) and
    describe what happened; never raises for the adapter's faults. ``keep_raw`` keeps the
    exception or the non-array return in :attr:`Outcome.raw`."""
    method = getattr(adapter, op, None)
    if not callable(method):
        return Outcome("missing", message=f"the backend has no method {op}")
    try:
        with np.errstate(all="ignore"):
            result = method(*inputs.values(), **attributes)
    except NotImplementedError as error:
        return Outcome("raised", message=f"NotImplementedError: {error}", not_implemented=True,
                       raw=error if keep_raw else None)
    except Exception as error:  # noqa: BLE001 - a backend may raise anything; it is reported per case
        last = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        return Outcome("raised", message=f"{type(error).__name__}: {error}{where}", raw=error if keep_raw else None)
    if isinstance(result, np.generic):
        result = np.asarray(result)
    if not isinstance(result, np.ndarray):
        return Outcome("bad_return", message=f"returned {type(result).__name__}, not a numpy array",
                       raw=result if keep_raw else None)
    return Outcome("returned", value=result)
