"""Sweeps on Dask: a LocalCluster, a worker killed mid-cell, and a command-line cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sweeps.conftest import tiny_spec
from twin.sweeps import DaskExecutor, SerialExecutor, results_frame, run_sweep, sweep_status

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

#: The scheduler's HTTP server (health, metrics) binds port 8787 even with the dashboard off; a
#: second cluster on the machine (a benchmark, another test run) then makes it warn, which the
#: suite turns into an error. A random loopback port instead, as every test server here.
NO_FIXED_HTTP_PORT = {"dashboard_address": "127.0.0.1:0"}


def _same_metrics(url_a: str, url_b: str, spec) -> None:
    a, b = results_frame(spec, db_url=url_a), results_frame(spec, db_url=url_b)
    columns = [c for c in a.columns if c != "code_version"]
    assert a[columns].equals(b[columns])


def test_a_local_cluster_runs_the_sweep_like_the_serial_reference(db: str, tmp_path) -> None:
    spec = tiny_spec()
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs=NO_FIXED_HTTP_PORT,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        executor = DaskExecutor(client)
        assert executor.workers == 2
        outcome = run_sweep(spec, db_url=db, executor=executor)
    assert (outcome.computed, outcome.failed, outcome.resubmitted) == (3, 0, 0)
    ref = f"sqlite:///{tmp_path / 'ref.db'}"
    run_sweep(spec, db_url=ref, executor=SerialExecutor())
    _same_metrics(db, ref, spec)


def test_a_worker_killed_mid_cell_is_resubmitted_and_the_cell_completes(db: str) -> None:
    # allowed-failures 0 makes the scheduler give up at once (KilledWorker), so the sweep's own
    # resubmission is what saves the cell; a watcher kills the first worker seen running a cell
    spec = tiny_spec(base={"steps": 200_000, "task": "allostery"}, axes={"lam": [0.0, 1e-5]})
    killed: list[int] = []
    stop = threading.Event()

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs=NO_FIXED_HTTP_PORT,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        pids = client.run(os.getpid)

        def watch() -> None:
            while not stop.is_set() and not killed:
                for addr, keys in client.processing().items():
                    if keys and addr in pids:
                        os.kill(pids[addr], signal.SIGKILL)
                        killed.append(pids[addr])
                        return
                stop.wait(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            outcome = run_sweep(spec, db_url=db, executor=DaskExecutor(client))
        finally:
            stop.set()
            watcher.join(timeout=10)
    assert killed, "no worker was caught running a cell"
    assert outcome.resubmitted >= 1
    assert (outcome.computed, outcome.failed) == (2, 0)
    assert sweep_status(spec, db_url=db).counts["done"] == 2


@pytest.fixture
def cli_cluster(tmp_path: Path) -> Iterator[str]:
    """A ``dask scheduler`` and two ``dask worker`` processes on loopback, random ports."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    sched_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    procs = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--scheduler-file", str(sched_file), *common],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        address = _wait_for_file(sched_file, procs[0], timeout_s=60)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                     "--host", "127.0.0.1", *common],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        with distributed.Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {proc.returncode}")
        if path.exists():
            try:
                return str(json.loads(path.read_text())["address"])
            except (ValueError, KeyError):
                pass  # being written
        time.sleep(0.05)
    raise TimeoutError(f"no scheduler file after {timeout_s} s")


def test_twin_sweep_on_a_command_line_cluster(cli_cluster: str, db: str, tmp_path) -> None:
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(
        'name = "tiny"\nkind = "trainer"\nrealizations = 2\nseed = 1\n'
        '[base]\nsteps = 60\ntask = "allostery"\nstop_tol = 1e-3\n'
        "[axes]\nlam = [0.0, 1e-5, 1e-4]\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "twin", "sweep", str(spec_file), "--db", db, "--json"]
    out = subprocess.run(
        [*cmd, "--scheduler", cli_cluster], env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert (summary["computed"], summary["failed"], summary["cells"]) == (3, 0, 3)
    assert results_frame(tiny_spec(), db_url=db)["status"].eq("done").all()
    ref = f"sqlite:///{tmp_path / 'ref.db'}"
    run_sweep(tiny_spec(), db_url=ref, executor=SerialExecutor())
    _same_metrics(db, ref, tiny_spec())


def test_an_overdue_cell_is_resubmitted_then_failed(db: str) -> None:
    # ~1 s cells against a 0.2 s timeout: every attempt is overdue; the fast cell completes
    slow = tiny_spec(base={"steps": 100_000, "task": "allostery"}, axes={"lam": [0.0]})
    fast = tiny_spec(name="fast")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs=NO_FIXED_HTTP_PORT,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        executor = DaskExecutor(client, timeout_s=0.2)
        outcome = run_sweep(slow, db_url=db, executor=executor, max_attempts=2)
        assert (outcome.computed, outcome.failed, outcome.resubmitted) == (0, 1, 1)
        ((_, error),) = outcome.failures
        assert error == "no result within 0.2 s (after 2 attempts)"
        # the abandoned cell still holds a thread (no nanny to restart it); no timeout here
        assert run_sweep(fast, db_url=db, executor=DaskExecutor(client)).computed == 3
    assert sweep_status(slow, db_url=db).counts["failed"] == 1


def test_an_unreachable_scheduler_is_one_error() -> None:
    from twin.sweeps import SweepError

    with pytest.raises(SweepError, match=r"scheduler: cannot connect to tcp://127\.0\.0\.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=0.5)
