"""The tosa backend with one call that aborts its interpreter (tests/test_tosa_backend.py): a 1 x 1
``a`` makes matmul_integer call os.abort() (SIGABRT) inside the tosa environment's worker, the way the
reference model aborts on a tensor of the wrong type; every other call runs the reference model."""

from __future__ import annotations

import os

import numpy as np

from refq.backends.tosa import TosaBackend


class AbortingTosa(TosaBackend):
    name = "tosa-aborting"

    def matmul_integer(self, a, b, a_zero_point=None, b_zero_point=None):
        if np.asarray(a).shape == (1, 1):
            os.abort()
        return super().matmul_integer(a, b, a_zero_point, b_zero_point)
