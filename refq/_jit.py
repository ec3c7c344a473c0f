"""Compile refq's clause functions with Numba, from the very source the spec shows.

A clause function is written once, in plain Python restricted to what Numba's
nopython mode accepts, and decorated with :func:`kernel`. Calling it runs the
compiled version; :func:`pure_python` runs the same source in the interpreter,
so tests can check that both paths give identical bits.

Numba is imported and a kernel compiled only on its first call (``import refq``
compiles nothing), and compiled code is cached on disk. Kernels may call other
kernels (referenced by a global name, not as a module attribute): at compile time
every kernel named in a function's globals is swapped for its compiled dispatcher.

Numba invalidates a cached kernel only when *its own* file changes, not when a
kernel it calls (and has inlined) changes in another file; a stale cache would give
old results. So the cache lives in a directory named after a hash of all of refq's
source files: any change to refq compiles afresh. ``NUMBA_CACHE_DIR`` still wins
when the user sets it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import types
from collections.abc import Callable, Iterator
from pathlib import Path

_pure_python = os.environ.get("REFQ_DISABLE_JIT", "") not in ("", "0")


_cache_configured = False


def _configure_cache(numba) -> None:
    """Point Numba's cache at a directory keyed by the hash of refq's sources (see above)."""
    global _cache_configured
    if _cache_configured or os.environ.get("NUMBA_CACHE_DIR"):
        _cache_configured = True
        return
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    numba.config.CACHE_DIR = str(base / "refq-numba" / digest.hexdigest()[:16])
    _cache_configured = True


def _global_names(code: types.CodeType) -> set[str]:
    """The global names ``code`` and the functions nested in it use: a kernel's inner function
    calls kernels too."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


class Kernel:
    """A clause function that runs compiled by default and interpreted on request."""

    def __init__(self, func: Callable, compiled_form: Callable[[], object] | None = None,
                 inline: bool = False) -> None:
        functools.update_wrapper(self, func)
        self.py_func = func
        self._compiled_form = compiled_form
        self._inline = inline
        self._dispatcher = None

    def __call__(self, *args):
        if _pure_python:
            return self.py_func(*args)
        return self.compiled(*args)

    @property
    def compiled(self):
        """The Numba dispatcher, compiled (or loaded from the cache) on first use."""
        if self._dispatcher is None:
            import numba

            _configure_cache(numba)
            if self._compiled_form is not None:
                self._dispatcher = self._compiled_form()
                return self._dispatcher
            func = self.py_func
            globals_ = dict(func.__globals__)
            for name in _global_names(func.__code__):
                value = globals_.get(name)
                if isinstance(value, Kernel):
                    globals_[name] = value.compiled
            rebound = types.FunctionType(
                func.__code__, globals_, func.__name__, func.__defaults__, func.__closure__
            )
            rebound.__qualname__ = func.__qualname__
            rebound.__module__ = func.__module__
            # No fastmath and the default (python) error model: both change results.
            # inline: Numba inlines the function into its compiled callers (a call between two compiled
            # functions otherwise costs more than a small helper's body); the bits are the same.
            self._dispatcher = numba.njit(cache=True, nogil=True, inline="always" if self._inline else "never")(rebound)
        return self._dispatcher

    def __repr__(self) -> str:
        return f"<refq kernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def kernel(func: Callable | None = None, *, compiled_form: Callable[[], object] | None = None, inline: bool = False):
    """Mark a clause function as Numba-compilable (``inline``: into the compiled kernels that call it).

    ``compiled_form``, when given, is called once, after Numba's cache is configured, to
    build the compiled version instead of compiling ``func``: a dispatcher that computes in
    one machine instruction what ``func`` computes step by step (``func`` stays the
    interpreted form, and tests check that both give the same bits).
    """
    if func is None:
        return lambda inner: Kernel(inner, compiled_form, inline)
    return Kernel(func, compiled_form, inline)


def jit_enabled() -> bool:
    return not _pure_python


@contextlib.contextmanager
def pure_python() -> Iterator[None]:
    """Run every kernel interpreted inside the ``with`` block."""
    global _pure_python
    previous = _pure_python
    _pure_python = True
    try:
        yield
    finally:
        _pure_python = previous
