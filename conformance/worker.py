"""Isolation: a Python adapter runs in a worker process, so that a backend that crashes the
interpreter (a segfault, ``os.abort()``) or hangs costs one case, not the run.

One persistent worker per backend keeps sessions and compiled kernels warm between cases;
after a crash or a timeout it is killed and a fresh one is started for the next case. Inside
:func:`reusing_workers` (``refq conform``) a worker whose backend is done stays alive, idle, and
the next backend under the same interpreter is loaded into it: the packages it imported (torch,
torchao, onnxruntime: seconds each) are imported already. A worker that crashed or timed out is
never reused.
The worker is a fresh interpreter (``python -m refq.conformance.worker``) talking over a
socket pair with :mod:`multiprocessing.connection`: forking a process that already holds
threads (numba, torch, onnxruntime) is not safe, and multiprocessing's ``spawn`` would
re-run the caller's main script, which a plain script without a ``__main__`` guard does
not survive.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import traceback
from contextlib import contextmanager
from multiprocessing.connection import Connection

from refq.conformance.loading import BackendUnavailable, describe, instantiate
from refq.conformance.outcome import Outcome, call_adapter
from refq.conformance.patterns import materialized
from refq.registry.operations import OPERATIONS_BY_NAME

#: Seconds a worker may take to import and instantiate its backend (torch takes a few).
START_TIMEOUT = 120.0
#: The first element of the request that loads another backend into an idle worker.
LOAD = "refq-worker-load"


def _serve(connection) -> None:
    """The worker's main loop: load an adapter, answer calls; then stop, or load the next one."""
    setup = connection.recv()
    while setup is not None:
        setup = _serve_adapter(connection, *setup)


def _serve_adapter(connection, spec, profile, path):
    """Load the adapter SPEC, say what it is, then answer calls until told to stop (None) or to load
    another (the setup it names)."""
    # The caller's import path: a package.module:attr backend importable there must be importable here.
    # None from a caller under another interpreter: its site-packages are not this interpreter's.
    if path is not None:
        sys.path[:] = path
    try:
        adapter = instantiate(spec)
        info = describe(adapter, spec, tuple(OPERATIONS_BY_NAME))
        if profile is not None and info["configurable_profile"]:
            adapter.profile = profile
    except BaseException as error:  # noqa: BLE001 - any failure to load is reported, not raised
        kind = "unavailable" if isinstance(error, BackendUnavailable) else "failed"
        # The traceback travels too: `--verbose` shows where in the adapter it failed.
        details = getattr(error, "details", "") or traceback.format_exc()
        connection.send((kind, f"{type(error).__name__}: {error}", details))
        return None
    connection.send(("ready", info))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return None
        if request is None:
            return None
        if len(request) == 4 and request[0] == LOAD:
            return request[1:]
        op, inputs, attributes = request
        connection.send(call_adapter(adapter, op, materialized(inputs), attributes))


#: Idle workers kept for reuse while :func:`reusing_workers` is active: interpreter (None: this one) ->
#: [(process, connection)]; None outside it.
_idle: dict | None = None
_idle_limit = 0
_idle_lock = threading.Lock()


@contextmanager
def reusing_workers(limit: int = 2):
    """Within the block, a closed :class:`Worker`'s process waits idle (at most ``limit`` of them) for the
    next Worker under the same interpreter, which loads its backend there; on leaving, every idle one stops."""
    global _idle, _idle_limit
    with _idle_lock:
        outer = _idle is not None
        if not outer:
            _idle, _idle_limit = {}, limit
    try:
        yield
    finally:
        if not outer:
            with _idle_lock:
                idle, _idle = _idle, None
            for processes in idle.values():
                for process, connection in processes:
                    _stop(process, connection)


def _take_idle(python: str | None):
    """An idle worker's (process, connection) under ``python``, or None."""
    with _idle_lock:
        if _idle is None:
            return None
        processes = _idle.get(python) or []
        while processes:
            process, connection = processes.pop()
            if process.poll() is None:
                return process, connection
            connection.close()
    return None


def _park(python: str | None, process, connection) -> bool:
    """Keep a live, idle worker for reuse; False where none may be kept."""
    with _idle_lock:
        if _idle is None or process.poll() is not None:
            return False
        processes = _idle.setdefault(python, [])
        if sum(len(kept) for kept in _idle.values()) >= _idle_limit:
            return False
        processes.append((process, connection))
        return True


def _stop(process, connection) -> None:
    """Stop a worker politely if it is idle, then surely."""
    if connection is not None:
        try:
            if process is not None and process.poll() is None:
                connection.send(None)
        except OSError:
            pass
        connection.close()
    if process is not None:
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "unknown status"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


class Worker:
    """A worker process running the adapter SPEC; :meth:`call` never raises for the backend's faults.

    ``python`` is the interpreter it runs under: this one by default, another one for a backend whose
    package cannot share this environment (:mod:`refq.backends.interpreters`); refq must be importable
    there. Only this interpreter's worker gets the caller's import path.
    """

    #: Inputs may be :class:`~refq.conformance.patterns.PatternRange`: the worker makes their values itself.
    makes_patterns = True

    def __init__(self, spec: str, profile: str | None = None, python: str | None = None) -> None:
        self.spec = spec
        self.profile = profile
        self.python = python
        self._process = None
        self._connection = None
        self.info = self._start()
        self.restarts = 0

    def _start(self) -> dict:
        setup = (self.spec, self.profile, None if self.python else list(sys.path))
        reused = _take_idle(self.python)
        if reused is not None:
            process, connection = reused
        else:
            ours, theirs = socket.socketpair()
            try:
                process = subprocess.Popen([self.python or sys.executable, "-m", "refq.conformance.worker",
                                            str(theirs.fileno())],
                                           pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL)
            finally:
                theirs.close()
            connection = Connection(ours.detach())
        self._process, self._connection = process, connection
        try:
            connection.send((LOAD, *setup) if reused is not None else setup)
            if not connection.poll(START_TIMEOUT):
                self._kill()
                raise BackendUnavailable(f"--backend {self.spec}: the worker did not start within "
                                         f"{START_TIMEOUT:.0f} s")
            kind, payload, *details = connection.recv()
        except (EOFError, OSError):
            code = self._wait()
            self._kill()
            raise BackendUnavailable(f"--backend {self.spec}: the worker died while loading ({_signal_name(code)})")
        if kind != "ready":
            self._kill()  # the worker stops after a failed load: never kept
            failure = BackendUnavailable(f"--backend {self.spec}: {payload}")
            failure.details = details[0] if details else ""
            raise failure
        return payload

    def _wait(self) -> int | None:
        try:
            return self._process.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def call(self, op: str, inputs: dict, attributes: dict, timeout: float, case=None) -> Outcome:
        if self._process is None:
            self.restarts += 1
            try:
                self._start()
            except BackendUnavailable as error:
                return Outcome("crashed", message=f"could not restart the worker: {error}")
        try:
            self._connection.send((op, inputs, attributes))
            if not self._connection.poll(timeout):
                self._kill()
                return Outcome("timeout", message=f"no answer within {timeout:g} s; the worker was killed")
            return self._connection.recv()
        except (EOFError, OSError):
            code = self._wait()
            self._kill()
            return Outcome("crashed", message=f"the backend crashed the worker process ({_signal_name(code)})")

    def _kill(self) -> None:
        """Kill the worker (a crash or a timeout): it is never kept for reuse."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if process is not None and process.poll() is None:
            process.kill()
        _stop(process, connection)

    def close(self) -> None:
        """Stop the worker (politely if it is idle), or keep it idle for the next one inside
        :func:`reusing_workers`."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if process is not None and connection is not None and _park(self.python, process, connection):
            return
        _stop(process, connection)


__all__ = ["LOAD", "START_TIMEOUT", "Outcome", "Worker", "call_adapter", "reusing_workers"]

if __name__ == "__main__":
    import os

    # Through the imported module, not this __main__ copy of it.
    from refq.conformance import worker

    worker._serve(Connection(int(sys.argv[1])))
    # Nothing is left to flush (stdout is /dev/null, answers were sent), and an orderly interpreter
    # shutdown with numba, torch or onnxruntime loaded takes 0.1-0.5 s per worker: a conform or
    # mutation-score run starts and stops one per backend, nearly a hundred times.
    os._exit(0)
