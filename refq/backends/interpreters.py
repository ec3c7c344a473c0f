"""Backends in another interpreter: an engine whose package cannot share refq's environment.

tosa-tools (the TOSA reference model) pins ``numpy<2.2``, ``ml-dtypes==0.5.3``, ``flatbuffers==25.2.10``
and ``jsonschema==4.24.0``; refq's own environment has newer releases of all four. Such a backend's
class names an *environment* (``environment = "tosa"``); ``refq backends install tosa`` creates it
as a virtual environment under ``~/.cache/refq-envs`` from the pinned requirements of its record in
:mod:`refq.registry.verified`, with refq itself installed there without dependencies (the worker
imports only refq's registry and conformance protocol: numpy, no numba). The conformance runner
then starts that backend's worker process (:mod:`refq.conformance.worker`) under the
environment's Python; the socket-pair protocol is the same as for every other Python adapter.

Nothing here runs at import; pip runs only when asked to install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from refq.registry.verified import ENGINES, VerifiedPackage

#: The environments' folder under the user's home.
CACHE_FOLDER = (".cache", "refq-envs")
#: Written last by an install: an environment without it is incomplete and is rebuilt.
MARKER = "refq-environment.txt"


class EnvironmentUnavailable(ImportError):
    """A backend's environment is not installed (an ImportError: a backend whose engine is not installed)."""


@dataclass(frozen=True)
class Environment:
    """One other interpreter: its name (what a backend class's ``environment`` says) and its record."""

    name: str
    record: VerifiedPackage

    @property
    def requirements(self) -> tuple[str, ...]:
        """What pip installs there: the engine at its pinned release, then the releases it was verified with."""
        return (f"{self.record.package}=={self.record.pinned}", *self.record.requirements)

    def folder(self) -> Path:
        # Keyed by the requirements, this interpreter's version and the checkout refq is installed from (editable:
        # another clone's environment would import that clone's refq): a changed pin builds a new environment.
        source = str(Path(__file__).resolve().parents[2])
        digest = hashlib.sha256("\n".join((*self.requirements, sys.version, source)).encode()).hexdigest()[:12]
        return cache_folder() / f"{self.name}-{digest}"

    def python(self) -> Path:
        return self.folder() / "bin" / "python"

    def installed(self) -> bool:
        return (self.folder() / MARKER).is_file() and self.python().is_file()


#: Environment name -> environment, one per record of refq/registry/verified.py that names one.
ENVIRONMENTS: dict[str, Environment] = {entry.environment: Environment(entry.environment, entry)
                                        for entry in ENGINES if entry.environment}


def cache_folder() -> Path:
    return Path(os.environ.get("REFQ_ENV_CACHE") or Path.home().joinpath(*CACHE_FOLDER))


def cache_folder_description() -> str:
    """Where :func:`cache_folder` puts the environments, in words (for the docs)."""
    return f"~/{'/'.join(CACHE_FOLDER)} ($REFQ_ENV_CACHE when set)"


def python_for(name: str) -> Path:
    """The interpreter of environment ``name``; EnvironmentUnavailable naming the command when it is absent."""
    environment = ENVIRONMENTS[name]
    if not environment.installed():
        raise EnvironmentUnavailable(f"the {name} environment is not installed: run `refq backends install {name}` "
                                     f"(it installs {environment.requirements[0]} into its own virtual "
                                     f"environment under {cache_folder_description()})")
    return environment.python()


def checkout() -> Path:
    """The source tree refq runs from (refq is installed editable there: ``pip install -e``)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "conformance" / "worker.py").is_file():
        raise EnvironmentUnavailable(f"refq is not running from a source checkout ({root}): another interpreter "
                                     "installs refq from one")
    return root


def _pip(python: Path, *arguments: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                             *arguments], capture_output=True, text=True)
    if result.returncode:
        lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("WARNING")]
        raise EnvironmentUnavailable(f"pip install {' '.join(arguments)} failed: {(lines or ['no message'])[-1]}")


def install(name: str) -> tuple[Path, bool]:
    """Create environment ``name`` (once): ``(its python, whether this call installed it)``.

    Wheels only (``--only-binary :all:``): no compiler runs. refq is installed editable without
    dependencies, so the worker imports this checkout's refq under the environment's numpy.
    """
    environment = ENVIRONMENTS[name]
    if environment.installed():
        return environment.python(), False
    root = checkout()
    folder = environment.folder()
    if folder.exists():  # an install that stopped half-way
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", None) or sys.executable
    result = subprocess.run([base, "-m", "venv", str(folder)], capture_output=True, text=True)
    if result.returncode:
        raise EnvironmentUnavailable(f"python -m venv {folder} failed: "
                                     f"{(result.stderr.strip().splitlines() or ['no message'])[-1]}")
    python = environment.python()
    _pip(python, "--only-binary", ":all:", *environment.requirements)
    _pip(python, "--no-deps", "-e", str(root))
    (folder / MARKER).write_text("\n".join(environment.requirements) + "\n")
    return python, True


__all__ = ["ENVIRONMENTS", "Environment", "EnvironmentUnavailable", "cache_folder", "cache_folder_description",
           "checkout", "install", "python_for"]
