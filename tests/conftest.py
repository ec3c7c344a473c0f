"""Shared test configuration.

Hypothesis runs derandomized (the same examples every run) so CI is reproducible;
set REFQ_HYPOTHESIS_PROFILE=explore for fresh random examples locally.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,  # kernels compile on first call
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("REFQ_HYPOTHESIS_PROFILE", "ci"))
