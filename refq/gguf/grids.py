"""GGF-7.1: the lattice grids of the IQ types, read from the installed ``gguf`` package (gguf-py).

A grid is a table of short vectors (8 or 4 small integers each) that an IQ code indexes. The
tables are facts of the formats; gguf-py carries them (packed, with the map of their values), so
refq takes them from there rather than copying them: the IQ types' dequantize needs the ``gguf``
extra. The sign table is computed: entry ``i`` is ``i`` with bit 7 set when ``i`` has an odd number
of ones, so that every 8-bit sign pattern has an even number of minus signs.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from refq.errors import invalid

#: Which gguf-py class carries each type's grid, and the grid's element type.
GRID_SOURCES = {"IQ2_XXS": ("IQ2_XXS", np.uint8), "IQ2_XS": ("IQ2_XS", np.uint8), "IQ2_S": ("IQ2_S", np.uint8),
                "IQ3_XXS": ("IQ3_XXS", np.uint8), "IQ3_S": ("IQ3_S", np.uint8), "IQ1_S": ("IQ1_S", np.int8),
                "IQ1_M": ("IQ1_S", np.int8)}


def even_parity_signs() -> np.ndarray:
    """GGF-7.1: the 128 sign bytes (ggml's ``ksigns_iq2xs``)."""
    index = np.arange(128)
    ones = np.array([bin(i).count("1") for i in index])
    return (index | ((ones & 1) << 7)).astype(np.uint8)


@cache
def grid(type_name: str) -> np.ndarray:
    """The grid of ``type_name`` as a 2-d integer array, one row per grid point."""
    try:
        from gguf import quants
    except ImportError:  # pragma: no cover - the gguf extra is installed wherever tests run
        raise invalid("type", f"a type whose grid is available ({type_name} needs the `gguf` package: "
                      "pip install 'refq[gguf]')", type_name) from None
    source, dtype = GRID_SOURCES[type_name]
    cls = getattr(quants, source)
    cls.init_grid()
    values = np.asarray(cls.grid).reshape(cls.grid_shape)
    return np.ascontiguousarray(values.astype(dtype))
