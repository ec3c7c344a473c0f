"""gguf_quantize looks for NaN only in calls with an undefined block (api.NAN_FLAGGING_TYPES): that
holds only if those quantizers flag every block holding a NaN, whatever the rest of the block is."""

from __future__ import annotations

import numpy as np
import pytest

from refq._jit import pure_python
from refq.gguf import api
from refq.gguf.types import block_type

NAN_PATTERNS = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF, 0x7FFFFFFF], dtype=np.uint32)
OTHER_VALUES = np.float32([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3e38, -3e38, 1.0, -1.0, 0.5, 2.0**-149])


def blocks_with_nans(kind, count, seed):
    """``count`` blocks of ``kind``: random values or the special ones, and in every other block one or
    more NaNs (of both signs, quiet and signalling) at random places; and which blocks hold one."""
    rng = np.random.default_rng(seed)
    elements = kind.block_elements
    x = (rng.standard_normal(count * elements) * 10.0 ** rng.integers(-40, 38, count * elements)).astype(np.float32)
    special = rng.random(x.size) < 0.3
    x[special] = rng.choice(OTHER_VALUES, int(special.sum()))
    bits = x.view(np.uint32)
    holds_nan = np.zeros(count, dtype=bool)
    for b in range(0, count, 2):
        holds_nan[b] = True
        places = rng.choice(elements, int(rng.integers(1, elements + 1)) if b % 6 == 0 else 1, replace=False)
        bits[b * elements + places] = rng.choice(NAN_PATTERNS, places.size)
    # Blocks whose other elements are all zeros or all infinities.
    for b, filler in ((count - 2, 0.0), (count - 4, np.inf)):
        x[b * elements:(b + 1) * elements] = filler
        bits[b * elements + 3] = NAN_PATTERNS[0]
        holds_nan[b] = True
    return x, holds_nan


CASES = [(name, fused) for name in api.NAN_FLAGGING_TYPES for fused in (False, True)
         if not fused or name in api.FUSED_TYPES]


@pytest.mark.parametrize(("name", "fused"), CASES)
def test_every_block_holding_a_nan_is_flagged(name, fused):
    kind = block_type(name)
    x, holds_nan = blocks_with_nans(kind, 4096 if kind.block_elements == 32 else 512, seed=len(name) + fused)
    _, undefined = api._quantize(x, kind, fused=fused)
    assert undefined[holds_nan].all()


@pytest.mark.parametrize(("name", "fused"), CASES)
def test_every_block_holding_a_nan_is_flagged_interpreted(name, fused):
    kind = block_type(name)
    x, holds_nan = blocks_with_nans(kind, 64 if kind.block_elements == 32 else 16, seed=7)
    with pure_python():
        _, undefined = api._quantize(x, kind, fused=fused)
    assert undefined[holds_nan].all()


@pytest.mark.parametrize("name", api.NAN_FLAGGING_TYPES)
def test_nan_error_and_outcomes_unchanged(name):
    kind = block_type(name)
    x, holds_nan = blocks_with_nans(kind, 64, seed=3)
    with pytest.raises(Exception, match="NaN at flat index"):
        api.gguf_quantize(x, type=name)
    _, unpredictable = api.gguf_quantize_with_outcomes(x, type=name, nan="unpredictable")
    assert unpredictable[holds_nan].all()
    clean = np.nan_to_num(x, nan=1.0)
    assert api.gguf_quantize(clean, type=name).size == 64 * kind.block_bytes
