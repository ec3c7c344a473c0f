"""refq's conformance suite: golden vectors, and the harness that runs any backend against them.

Installed as the package ``refq.conformance`` (this folder is mapped onto it in
pyproject.toml), so the vectors ship with refq and ``refq conform`` works from any
directory. The operations' signatures live in :mod:`refq.registry.operations`.
"""
