"""Resolving a ``--backend SPEC`` to an adapter object.

A SPEC is one of:

- a built-in name, a key of :data:`refq.backends.BUILTIN` (``onnxruntime``, ``torch``, ``ml_dtypes``, ``refq`` ...);
- ``package.module:attr``, an importable module and an attribute of it;
- ``path/to/file.py:attr``, a Python file outside any package and an attribute of it;
- the name of an installed plugin: an entry point in the group ``refq.backends``;
- ``cmd:COMMAND ...``, an external program (resolved by :mod:`refq.conformance.command`, not here).

The attribute (or entry point) may be a class, instantiated with no arguments, or
any object, a module included, whose methods are named after the operations.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path

from refq.errors import RefqValueError, invalid

#: The entry-point group through which installed packages offer backends.
ENTRY_POINT_GROUP = "refq.backends"
COMMAND_PREFIX = "cmd:"
SPEC_FORMS = ("a built-in name, package.module:attr, path/to/file.py:attr, an installed plugin name "
              f"(entry point group {ENTRY_POINT_GROUP}) or cmd:COMMAND")


class BackendUnavailable(RefqValueError):
    """The backend exists but cannot be loaded here (its package does not import, or it failed to start)."""


def builtin_names() -> list[str]:
    from refq.backends import BUILTIN

    return list(BUILTIN)


def plugin_names() -> list[str]:
    return sorted(point.name for point in entry_points(group=ENTRY_POINT_GROUP))


def is_command(spec: str) -> bool:
    return spec.startswith(COMMAND_PREFIX)


class AdapterLoadError(RefqValueError):
    """An adapter file raised while it was imported: one line names the file and the exception's last
    line; ``details`` holds the traceback (``--verbose`` prints it)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def _from_file(path_text: str, attr: str, spec: str):
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise invalid("--backend", "path/to/file.py:attr naming an existing file", spec)
    # Loaded like a script: a module sitting next to the adapter (its compiled kernel's binding) imports.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    # A name of its own per file, so two files called backend.py do not collide in sys.modules.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"refq_backend_{path.stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - whatever the adapter raised, the user gets one line naming it
        sys.modules.pop(name, None)
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        raise AdapterLoadError(f"--backend {spec}: importing {path} failed: {last}", traceback.format_exc()) from None
    return _attribute(module, attr, spec)


def _attribute(module, attr: str, spec: str):
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise invalid("--backend", f"an attribute that exists in {module.__name__}", spec)
        target = getattr(target, part)
    return target


def resolve_target(spec: str):
    """The class or object SPEC names, imported but not instantiated."""
    from refq.backends import BUILTIN

    if not isinstance(spec, str) or not spec:
        raise invalid("--backend", SPEC_FORMS, spec)
    if is_command(spec):
        raise invalid("--backend", "a Python adapter here (cmd: backends run through refq.conformance.command)",
                      spec)
    if spec in BUILTIN:
        return BUILTIN[spec]
    location, sep, attr = spec.rpartition(":")
    if sep and location and attr:
        if location.endswith(".py") or "/" in location or "\\" in location:
            return _from_file(location, attr, spec)
        try:
            module = importlib.import_module(location)
        except ImportError as error:
            raise BackendUnavailable(f"--backend: cannot import {location!r} for {spec!r}: {error}") from None
        return _attribute(module, attr, spec)
    plugins = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == spec]
    if plugins:
        return plugins[0].load()
    choices = ", ".join(builtin_names() + plugin_names())
    raise invalid("--backend", f"{SPEC_FORMS}; built-in and installed: {choices}", spec)


def instantiate(spec: str, target=None):
    """The adapter object for SPEC (``target``: SPEC already resolved): a class is called with no
    arguments, anything else is used as is.

    An ``ImportError`` while importing or instantiating (the backend's package is not
    installed) becomes :class:`BackendUnavailable`.
    """
    try:
        if target is None:
            target = resolve_target(spec)
        return target() if isinstance(target, type) else target
    except ImportError as error:
        raise BackendUnavailable(f"--backend {spec}: not available here: {error}") from None


def describe(adapter, spec: str, operations: tuple[str, ...]) -> dict:
    """What the harness needs to know about an adapter: its name, profile, version and operations."""
    from refq.registry.operations import DEFAULT_PROFILE

    profile = getattr(adapter, "profile", None) or DEFAULT_PROFILE
    if not isinstance(profile, (str, dict)):
        raise invalid("profile", "a profile name or a dict operation -> profile name", profile)
    return {
        "name": str(getattr(adapter, "name", spec)),
        "profile": dict(profile) if isinstance(profile, dict) else profile,
        "version": str(getattr(adapter, "version", "") or ""),
        "operations": [op for op in operations if callable(getattr(adapter, op, None))],
        "configurable_profile": bool(getattr(adapter, "configurable_profile", False)),
    }
