"""Shared test configuration.

Hypothesis runs derandomized (the same examples every run) so CI is reproducible;
set REFQ_HYPOTHESIS_PROFILE=explore for fresh random examples locally.
"""

from __future__ import annotations

import os

import pytest
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


def pytest_report_header(config):
    from refq.registry.verified import VERIFIED, check_package

    checks = [check_package(entry.package) for entry in VERIFIED]
    return "refq backend releases: " + ", ".join(
        f"{check.package} {check.installed or 'absent'}" + ("" if check.status != "not_verified" else " (not verified)")
        for check in checks)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test that needs the built documentation site (the ``site`` fixture, directly or through
    another fixture) is slow: the strict build runs ``refq conform``, ``fingerprint --all`` and
    ``mutation-score``, which other default tests check already, and takes two to three minutes
    of one worker. CI runs them on the README's last line (``pytest -m slow tests/test_docs*.py``).
    ``tryfirst`` so that the mark is there before ``-m`` deselects."""
    for item in items:
        if "site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test names every installed engine release refq was not verified with: when a new
    release changes bits, the failure says which version changed what."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        from refq.registry.verified import failure_note

        note = failure_note()
        if note:
            report.sections.append(("refq: engine releases not verified", note))


@pytest.fixture(scope="module")
def tosa():
    """The built-in tosa backend (the TOSA reference model in its own interpreter), one worker per test module;
    the modules using it skip when its environment is not installed."""
    from refq.conformance.runner import load_backend

    with load_backend("tosa") as backend:
        yield backend
