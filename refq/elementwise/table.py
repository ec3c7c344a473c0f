"""ELT-8: TOSA's ``TABLE`` operator — an int8 lookup, and the int16 lookup that interpolates between entries.

int8: a table of 256 int8 values, the input code $x$ taking entry $x + 128$. int16: a table of 513 int16
values; the code $x$ selects the entries $i = \\lfloor (x + 2^{15}) / 2^7 \\rfloor$ and $i + 1$ and the fraction
$f = (x + 2^{15}) \\bmod 2^7$, and the int32 result is $2^7 T_i + (T_{i+1} - T_i) f$. TOSA REQUIREs the slope
$T_{i+1} - T_i$ to fit int16: an element whose pair of entries breaks it is unpredictable.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.errors import invalid, wrong_type

#: Input type -> the table's length.
TABLE_SIZES = {"int8": 256, "int16": 513}


@kernel
def interpolate_int16(values, table, out, unpredictable):
    """ELT-8.2, ELT-8.3 on every element of the flat ``values``: the interpolated int32 result, and whether its
    pair of entries has a slope outside int16 (refq writes the formula's value there too)."""
    for k in range(values.size):
        offset = np.int64(values[k]) + 32768
        index = offset >> 7
        fraction = offset & 127
        base = np.int64(table[index])
        slope = np.int64(table[index + 1]) - base
        out[k] = base * 128 + slope * fraction
        unpredictable[k] = slope < -32768 or slope > 32767


def table_with_outcomes(input, table) -> tuple[np.ndarray, np.ndarray | None]:
    """ELT-8.1 to ELT-8.3: :func:`table`, and the unpredictable elements (None: none)."""
    values = np.asarray(input)
    if values.dtype.name not in TABLE_SIZES:
        raise wrong_type("input", "an int8 or int16 array (TOSA TABLE's integer types)", input)
    entries = np.asarray(table)
    if entries.dtype != values.dtype:
        raise wrong_type("table", f"a {values.dtype} array (the input's type)", table)
    size = TABLE_SIZES[values.dtype.name]
    if entries.shape != (size,):
        raise invalid("table", f"{size} entries for an {values.dtype} input", entries.shape)
    if values.dtype == np.int8:
        return entries[values.astype(np.int16) + 128], None
    flat = np.ascontiguousarray(values).reshape(-1)
    out = np.empty(flat.size, np.int32)
    unpredictable = np.zeros(flat.size, np.bool_)
    interpolate_int16(flat, np.ascontiguousarray(entries), out, unpredictable)
    return out.reshape(values.shape), (unpredictable.reshape(values.shape) if unpredictable.any() else None)


def table(input, table) -> np.ndarray:
    """ELT-8.1, ELT-8.2: TOSA ``TABLE``: an int8 ``input`` looks its codes up in a 256-entry int8 ``table``
    (int8 output); an int16 ``input`` interpolates a 513-entry int16 ``table`` (int32 output)."""
    return table_with_outcomes(input, table)[0]
