"""refq sweep on a dask.distributed cluster: a LocalCluster on loopback with two worker processes. The
merged result equals the single-machine run's field for field (the seconds aside), for a grid of scales
and zero points too, and a worker killed mid-sweep loses no chunk and counts none twice."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from refq.cli import main
from refq.conformance import mutants, sweep
from refq.errors import RefqError

distributed = pytest.importorskip("distributed")

SLOW = f"{Path(__file__).with_name('sweep_slow_adapter.py')}:SlowTiesAway"
# 0.125 .. 2: ties of every scale below, in 16 chunks of 2^16 patterns.
RANGE = "0x3e000000:0x3e100000"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as local:
        with distributed.Client(local) as client:
            yield local, client


def specs(pairs, profile="onnx", range_text=RANGE, chunk=1 << 16):
    return [sweep.make_spec("quantize_linear", sweep.quantize_parameters(scale, zero_point, "int8"), profile,
                            range_text=range_text, chunk=chunk) for scale, zero_point in pairs]


def same(one: sweep.SweepResult, other: sweep.SweepResult) -> bool:
    left, right = one.to_json(), other.to_json()
    for data in (left, right):
        data.pop("seconds")
    return left == right


def test_grid_on_the_cluster_equals_the_single_machine_run(cluster):
    _, client = cluster
    backend = mutants.spec(mutants.TiesAwayFromZero)
    grid = specs([(0.25, 0), (0.25, 5), (2.0**-7, -3)])
    # In the Dask worker's own process (the CLI test below runs the isolated path).
    on_cluster = sweep.sweep_on_cluster(backend, grid, client, progress=False, isolate=False)
    alone = [sweep.sweep(backend, spec, progress=False) for spec in grid]
    assert len(on_cluster) == 3
    for here, there in zip(alone, on_cluster):
        assert here.mismatches > 0 and here.complete is False and not there.errors
        assert same(here, there), (sweep.summary(here), sweep.summary(there))
    assert [result.parameters for result in on_cluster] == [spec.parameters for spec in grid]


def test_a_worker_killed_mid_sweep_loses_no_chunk(cluster):
    local, client = cluster
    spec = specs([(0.25, 0)])[0]
    killed = []

    def kill_a_busy_worker(done, total):
        if killed or done < 2:
            return
        busy = [address for address, keys in client.processing().items() if keys]
        pids = client.run(os.getpid, workers=busy[:1])
        for address, pid in pids.items():
            os.kill(pid, signal.SIGKILL)
            killed.append(address)

    [result] = sweep.sweep_on_cluster(SLOW, [spec], client, progress=False, isolate=False,
                                      on_result=kill_a_busy_worker)
    assert killed, "no worker was busy when the callback ran"
    assert not result.errors, result.errors
    assert result.ranges == [[spec.start, spec.end]] and result.inputs == spec.end - spec.start
    alone = sweep.sweep(SLOW, spec, progress=False)
    assert same(alone, result)
    client.wait_for_workers(2, timeout=60)


def test_cli_scheduler_and_grid(cluster, tmp_path, capsys):
    """The command's isolated path: each Dask worker runs the backend in refq's worker process."""
    local, _ = cluster
    path = tmp_path / "grid.json"
    backend = mutants.spec(mutants.TiesAwayFromZero)
    argv = ["sweep", "--backend", backend, "--profile", "onnx", "--scales", "0.25,0.5", "--zero-points", "0",
            "--range", "0x3e000000:0x3e040000", "--no-progress", "--json", str(path)]
    # Ties away from zero differs on the tie x = 0.125 at scale 0.25; at 0.5 the range [0.125, 0.1328)
    # holds no tie.
    assert main(argv + ["--scheduler", local.scheduler_address]) == 1
    out = capsys.readouterr().out
    assert out.count("sweep quantize_linear") == 2
    assert "grid: 2 parameter pairs, 524288 inputs; 1 with mismatches, 0 with errors" in out
    on_cluster = sweep.read_all(path)
    alone = [sweep.sweep(backend, spec, progress=False)
             for spec in specs([(0.25, 0), (0.5, 0)], range_text="0x3e000000:0x3e040000", chunk=1 << 24)]
    assert [r.parameters for r in on_cluster] == [r.parameters for r in alone]
    for here, there in zip(alone, on_cluster):
        assert same(here, there)
    # The grid's JSON merges back into the same two results.
    assert main(["sweep", "--merge", str(path)]) == 1
    assert capsys.readouterr().out.count("sweep quantize_linear") == 2


@pytest.mark.parametrize("argv, argument", [
    (["--scale", "0.5", "--scales", "1,2"], "--scale"),
    (["--scales", "0.5,x"], "--scales"),
    (["--scales", "0.5,0.5"], "--scales"),
    (["--scales", "0.5", "--zero-points", "1,,2"], "--zero-points"),
    (["--scales", "0.5", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], "--jobs"),
    (["--op", "cast", "--to", "float8_e4m3fn", "--scales", "1"], "--scales"),
])
def test_cli_grid_and_scheduler_usage_errors(argv, argument, capsys):
    assert main(["sweep", "--backend", "refq", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"refq: error: {argument}:") and err.count("\n") == 1, err


def test_an_unreachable_scheduler_is_a_refq_error():
    with pytest.raises(RefqError, match="--scheduler"):
        sweep.sweep_on_cluster("refq", specs([(0.25, 0)]), "tcp://127.0.0.1:9", progress=False, connect_timeout=1)


def test_a_worker_keeps_a_bounded_number_of_runners(monkeypatch):
    """A grid's pairs each get a runner; a worker keeps at most MAX_RUNNERS loaded (the least recently used
    closed first), and a sweep's results do not depend on the reloads (in this process, not isolated)."""
    from refq.conformance.sweep import cluster

    monkeypatch.setattr(cluster, "MAX_RUNNERS", 2)
    cluster.close_runners()
    specs = [sweep.SweepSpec("quantize_linear", {"scale": scale, "zero_point": 0, "dtype": "int8"}, "onnx",
                             start=0x3F800000, end=0x3F800000 + 4096, chunk=1024) for scale in (0.5, 0.25, 0.125)]
    try:
        for spec in specs * 2:
            result = cluster.run_chunk("refq", spec, False, None, (spec.start, spec.start + 1024))
            assert len(cluster._RUNNERS) <= 2
            assert result.inputs == 1024 and result.mismatches == 0
    finally:
        assert cluster.close_runners() <= 2
