"""Sweeps that outgrow one machine: the same chunks :func:`~refq.conformance.sweep.runner.sweep` runs,
submitted to a ``dask.distributed`` cluster.

Each Dask worker process sweeps its chunks with its own :class:`ChunkRunner` (the backend loaded once
per worker and sweep, in refq's worker process when isolated, so that a crashing backend costs one
chunk and not the Dask worker); a lab with one accelerator per host runs one Dask worker per host.
Results stream back as chunks finish and are added up by the same :func:`combine` as a single-machine
run, so the merged result is the same, bit for bit, whatever the cluster did.

Lost work: when a worker dies, the scheduler runs its chunks again on another worker (Dask's own
rescheduling); a chunk whose workers keep dying (``KilledWorker``, after the scheduler's
``allowed-failures``) is submitted again up to ``retries`` times, then reported as an error of that
chunk's range. A chunk is never dropped, and :func:`combine` refuses overlapping ranges, so none is
counted twice.
"""

from __future__ import annotations

import threading
import time
import uuid

from refq.conformance.sweep.results import SweepResult, add_traces, combine
from refq.conformance.sweep.runner import ChunkRunner
from refq.conformance.sweep.spec import SweepSpec
from refq.errors import RefqError, invalid, wrong_type

#: Per Dask worker process: (backend, spec, isolate, timeout) -> its loaded ChunkRunner, most recently used last.
_RUNNERS: dict[tuple, ChunkRunner] = {}
#: The runners a Dask worker keeps loaded at most. A grid of parameter pairs has one spec per pair, and each
#: isolated runner is a backend process: without a bound, a 256-pair grid would keep 256 of them alive on every
#: worker. The chunks of a pair are submitted together, so a few suffice to load each pair about once.
MAX_RUNNERS = 4
#: Guards the two tables: a Dask worker may run several tasks at once, one per thread.
_LOCK = threading.Lock()
#: key -> how many of this worker's threads are running a chunk with that runner now.
_IN_USE: dict[tuple, int] = {}


def _runner_key(backend: str, spec: SweepSpec, isolate: bool, timeout: float | None) -> tuple:
    # SweepSpec holds a dict, so it is not hashable; its repr names every field.
    return backend, repr(spec), isolate, timeout


def run_chunk(backend: str, spec: SweepSpec, isolate: bool, timeout: float | None,
              bounds: tuple[int, int]) -> SweepResult:
    """One chunk on the Dask worker that runs this task (the task Dask pickles: a module-level function)."""
    key = _runner_key(backend, spec, isolate, timeout)
    with _LOCK:
        runner = _RUNNERS.pop(key, None)
        if runner is None:
            # The least recently used idle runners go first; one another thread of this worker is using stays.
            for old in [old for old in _RUNNERS if not _IN_USE.get(old)][:max(0, len(_RUNNERS) + 1 - MAX_RUNNERS)]:
                _RUNNERS.pop(old).close()
            runner = ChunkRunner(backend, spec, isolate=isolate, timeout=timeout)
        _RUNNERS[key] = runner
        _IN_USE[key] = _IN_USE.get(key, 0) + 1
    try:
        return runner.run(bounds)
    finally:
        with _LOCK:
            _IN_USE[key] -= 1


def close_runners() -> int:
    """Close this process's runners (their backend workers); run on every Dask worker after a sweep."""
    with _LOCK:
        count = len(_RUNNERS)
        while _RUNNERS:
            _, runner = _RUNNERS.popitem()
            runner.close()
        _IN_USE.clear()
    return count


def connect(scheduler, timeout: float = 20.0):
    """A ``distributed.Client`` for ``scheduler`` (an address, ``tcp://host:8786``, or a Client) and whether
    it was opened here; an address nothing answers at within ``timeout`` seconds is a refq error."""
    try:
        from distributed import Client
    except ImportError:
        raise invalid("--scheduler", "an address, with dask.distributed installed (pip install refq[cluster])",
                      scheduler) from None
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler:
        raise wrong_type("--scheduler", "a scheduler address such as tcp://10.0.0.5:8786", scheduler)
    try:
        return Client(scheduler, timeout=f"{timeout}s"), True
    except (OSError, TimeoutError) as error:
        raise invalid("--scheduler", "the address of a running dask scheduler", f"{scheduler} ({error})") from None


def _lost_chunk(spec: SweepSpec, bounds: tuple[int, int], backend: str, message: str) -> SweepResult:
    start, end = bounds
    return SweepResult(backend, "", spec.op, spec.profile, dict(spec.parameters), spec.source,
                       ranges=[[start, end]], inputs=end - start, errors=[f"chunk {start:#x}:{end:#x}: {message}"])


def sweep_on_cluster(backend: str, specs: list[SweepSpec], scheduler, *, shard: tuple[int, int] = (1, 1),
                     progress: bool | None = None, isolate: bool = True, timeout: float | None = None,
                     retries: int = 2, on_result=None, connect_timeout: float = 20.0) -> list[SweepResult]:
    """Sweep shard ``i/n`` of every spec in ``specs`` (one per point of a parameter grid) on the cluster at
    ``scheduler``; one merged result per spec, in order. ``on_result(done, total)`` is called as each
    chunk comes back."""
    from distributed import as_completed

    from refq.conformance.report import Progress

    if not isinstance(backend, str):
        raise wrong_type("backend", "a SPEC string (each Dask worker loads it)", backend)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise invalid("retries", "a non-negative integer", retries)
    work = [(index, bounds) for index, spec in enumerate(specs) for bounds in spec.chunks(shard)]
    if not work:
        raise invalid("--shard", "a shard with at least one chunk", f"{shard[0]}/{shard[1]}")
    client, owned = connect(scheduler, connect_timeout)
    began = time.perf_counter()
    token = uuid.uuid4().hex[:12]
    pieces: list[list[SweepResult]] = [[] for _ in specs]
    attempts: dict[tuple[int, tuple[int, int]], int] = {}

    def submit(index: int, bounds: tuple[int, int]):
        attempt = attempts.get((index, bounds), 0)
        attempts[(index, bounds)] = attempt + 1
        # A key of its own per attempt: the scheduler forgets a failed task's result only when released.
        key = f"refq-sweep-{token}-{index}-{bounds[0]:x}-{attempt}"
        future = client.submit(run_chunk, backend, specs[index], isolate, timeout, bounds, key=key, pure=False)
        return future

    try:
        futures = {submit(index, bounds): (index, bounds) for index, bounds in work}
        bar = Progress(len(work), label=f"sweep {specs[0].op} on {client.scheduler.address}", enabled=progress)
        queue = as_completed(list(futures))
        done = 0
        for future in queue:
            index, bounds = futures.pop(future)
            if future.status == "finished":
                pieces[index].append(future.result())
            elif attempts[(index, bounds)] <= retries:
                again = submit(index, bounds)
                futures[again] = (index, bounds)
                queue.add(again)
                future.release()
                continue
            else:
                pieces[index].append(_lost_chunk(specs[index], bounds, backend, _failure(future)))
            future.release()
            done += 1
            bar.advance()
            if on_result is not None:
                on_result(done, len(work))
        bar.finish()
        try:
            client.run(close_runners)
        except (OSError, TimeoutError):  # a worker that died since has nothing left to close
            pass
    finally:
        if owned:
            client.close()
    merged = []
    for index, spec in enumerate(specs):
        # A lost chunk knows the SPEC, not the name the backend gives itself: it takes its siblings'.
        names = {piece.backend for piece in pieces[index] if piece.backend_version}
        for piece in pieces[index]:
            if not piece.backend_version and len(names) == 1:
                piece.backend = next(iter(names))
        result = combine(pieces[index])
        _check_one_release(pieces[index], result)
        result.shard = f"{shard[0]}/{shard[1]}"
        result.seconds = time.perf_counter() - began
        if result.first:
            add_traces(result)
        merged.append(result)
    return merged


def _failure(future) -> str:
    try:
        error = future.exception()
    except Exception as raised:  # noqa: BLE001 - whatever the client says about a lost task
        error = raised
    if isinstance(error, RefqError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _check_one_release(pieces: list[SweepResult], merged: SweepResult) -> None:
    """Hosts that run different releases of the backend do not make one sweep: said, not averaged."""
    releases = sorted({piece.backend_version for piece in pieces if piece.backend_version})
    if len(releases) > 1:
        merged.errors.append("the workers run different releases of the backend: " + ", ".join(releases))
    if releases:
        merged.backend_version = releases[0]


__all__ = ["close_runners", "connect", "run_chunk", "sweep_on_cluster"]
