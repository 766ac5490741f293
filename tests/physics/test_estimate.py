"""Estimates of a request's memory and time before it starts (issue 10).

The sizes of spec strings are exact for lattices; the factor-fill model is held to the measured
fill of the trainer's ordering; the memory model to the peak RSS of fresh processes (subprocesses
that build the tasks and the trainer and take two steps), within the factor
:data:`MEMORY_FACTOR`; and large requests are refused on the command line before anything is
generated: one line, exit code 2, naming the estimate (or, beyond the network schema's limits,
the parser's one line), in well under a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest

from tests.helpers import run_cli
from twin.cli._common import check_request
from twin.learning._compiled import task_layout
from twin.physics import estimate as est
from twin.physics.network import lattice
from twin.physics.network_io import read_authors_txt
from twin.physics.reference_networks import packaged_reference_dir
from twin.physics.task_generators import allostery_task

#: Estimated over measured peak RSS stays within this factor either way (measured: 0.9-1.4).
MEMORY_FACTOR = 1.6
REFERENCE = packaged_reference_dir() / "jammed"


@pytest.mark.parametrize(
    ("w", "h", "periodic"), [(4, 4, True), (3, 5, True), (1, 3, False), (7, 3, False), (6, 9, True)]
)
def test_lattice_spec_size_is_exact(w: int, h: int, periodic: bool) -> None:
    spec = f"lattice:{w}x{h}" + (":periodic" if periodic else "")
    size = est.network_size(spec)
    net = lattice(w, h, periodic=periodic)
    assert size == est.NetworkSize(nodes=net.n_nodes, edges=net.n_edges)


def test_jammed_spec_size_matches_the_reference_packings() -> None:
    files = sorted(REFERENCE.glob("data_N00256_*.txt"))[:10]
    assert files, f"reference jammed networks missing from {REFERENCE}"
    per_node = [read_authors_txt(p).n_edges / read_authors_txt(p).n_nodes for p in files]
    size = est.network_size("jammed:256:seed=4")
    assert size is not None
    assert size.jammed
    assert size.nodes == 256
    assert abs(size.edges / size.nodes / np.mean(per_node) - 1.0) < 0.03
    assert est.network_size("file:x.json") is None
    assert est.network_size("lattice:4x") is None


@pytest.mark.parametrize("side", [16, 32, 48])
def test_factor_fill_model_matches_the_ordering(side: int) -> None:
    """Lattices: the modelled stored values within 30 % of the trainer's layout (sparse + dense)."""
    task = allostery_task(lattice(side, side, periodic=True), rng=np.random.default_rng(0))
    measured = task_layout(task).n_values
    assert 0.7 < est.factor_values(side * side) / measured < 1.3


@pytest.fixture(scope="module")
def warm_kernels() -> None:
    """Compile (or load) the trainer's kernels here, so that the measured processes load them
    from the on-disk cache: a process that compiles peaks at over 1 GB."""
    from twin.learning.trainer import TrainConfig, Trainer

    task = allostery_task(lattice(4, 4, periodic=True), rng=np.random.default_rng(0))
    for solver in ("direct", "pcg"):
        Trainer([task], TrainConfig(steps=2, solver=solver)).run()  # type: ignore[arg-type]


def _peak_rss_mb(spec: str, realizations: int) -> float:
    """Peak RSS (MiB) of a fresh process that builds the request's trainer and takes 2 steps.

    ``VmHWM`` of the process's own memory map: ``ru_maxrss`` would carry over the RSS of the
    (large) test process it was forked from.
    """
    code = (
        "from twin.physics.task_spec import build_tasks\n"
        "from twin.learning.trainer import TrainConfig, Trainer\n"
        f"tasks = build_tasks('allostery', {spec!r}, seed=0, realizations={realizations})\n"
        "Trainer(tasks, TrainConfig(steps=2, n_records=2)).run()\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()\n"
        "print(float(status[0]) / 1024.0)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},  # NUMBA_CACHE_DIR: the warm cache
    )
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("spec", "realizations"),
    [("lattice:4x4:periodic", 1), ("lattice:4x4:periodic", 3000), ("lattice:64x64:periodic", 1)],
)
@pytest.mark.usefixtures("warm_kernels")
def test_memory_estimate_within_a_factor_of_peak_rss(spec: str, realizations: int) -> None:
    size = est.network_size(spec)
    assert size is not None
    estimate = est.train_estimate(size, realizations=realizations, steps=2)
    measured = _peak_rss_mb(spec, realizations) * 1e6 * 1.048576  # MiB -> bytes
    ratio = estimate.memory_bytes / measured
    assert 1 / MEMORY_FACTOR < ratio < MEMORY_FACTOR, (estimate.describe(), measured / 1e6)


def test_estimates_grow_with_the_request() -> None:
    small = est.train_estimate(est.NetworkSize(nodes=256, edges=512), realizations=1, steps=100)
    more = est.train_estimate(est.NetworkSize(nodes=256, edges=512), realizations=50, steps=100)
    bigger = est.train_estimate(est.NetworkSize(nodes=4096, edges=8192), realizations=1, steps=100)
    assert small.memory_bytes < more.memory_bytes
    assert small.time_s < more.time_s
    assert small.memory_bytes < bigger.memory_bytes
    assert small.time_s < bigger.time_s
    direct = est.train_estimate(
        est.NetworkSize(nodes=4096, edges=8192), realizations=1, steps=1000, solver="direct"
    )
    pcg = est.train_estimate(
        est.NetworkSize(nodes=4096, edges=8192), realizations=1, steps=1000, solver="pcg"
    )
    assert pcg.time_s < direct.time_s
    sim = est.simulate_estimate(est.NetworkSize(nodes=16, edges=32), events=1e6, samples=1e7)
    assert sim.memory_bytes > 1e10  # ten million probe samples do not fit in small machines


def test_available_memory_is_positive_and_at_most_the_total() -> None:
    total_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    assert 0 < est.available_memory_bytes() <= total_kb * 1024


def test_check_request_refuses_unless_forced() -> None:
    huge = est.Estimate(memory_bytes=1e18, time_s=1.0, parts=(("training", 1.0),))
    with pytest.raises(click.UsageError, match=r"estimated 1e\+06 TB peak memory.*available"):
        check_request("train", huge, force=False)
    check_request("train", huge, force=True, quiet=True)  # --force passes the check
    slow = est.Estimate(memory_bytes=1e6, time_s=1e9)
    with pytest.raises(click.UsageError, match="limit"):
        check_request("train", slow, force=False)
    check_request("train", slow, force=False, quiet=True, max_time_s=None)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "--network", "jammed:100000"], ("estimated", "network", "limit")),
        (["train", "--network", "lattice:3000x3000"], ("9,000,000 nodes", "at most 1,000,000")),
        (["train", "--network", "lattice:1000x1000"], ("estimated", "GB peak memory", "set-up")),
        (["train", "--realizations", "100000"], ("estimated", "edge-steps limit")),
        (["simulate", "--network", "lattice:1000x1000"], ("estimated", "edge events")),
    ],
)
def test_large_requests_refused_at_once(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, args: list[str], needles: tuple[str]
) -> None:
    """Refused from the spec and the estimate alone: no network is generated first."""
    import twin.physics.jammed
    import twin.physics.network_io

    def built(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a network was generated before the request was refused")

    monkeypatch.setattr(twin.physics.network_io, "lattice", built)
    monkeypatch.setattr(twin.physics.jammed, "jammed_network", built)
    code, _out, err = run_cli(capsys, *args, "--no-db")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_long_request_is_announced_on_stderr(capsys: Any) -> None:
    """A request estimated > 10 s prints its estimate on stderr before it starts."""
    check_request("train", est.Estimate(memory_bytes=3e8, time_s=90.0), force=False)
    check_request("train", est.Estimate(memory_bytes=3e8, time_s=2.0), force=False)
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip().splitlines() == ["train: estimated 300 MB peak memory, ~1.5 min"]


def test_build_tasks_reports_progress_per_realization() -> None:
    from twin.physics.task_spec import build_tasks

    calls: list[tuple[int, int]] = []
    build_tasks(
        "allostery", "lattice:4x4", seed=0, realizations=3, progress=lambda *a: calls.append(a)
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_timed_progress_stops_its_thread() -> None:
    import threading

    from twin.cli._common import timed_progress

    before = set(threading.enumerate())  # not a count: an earlier test's thread may end meanwhile
    with pytest.raises(RuntimeError, match="inside"), timed_progress("network", 30.0):
        raise RuntimeError("inside")
    assert [t.name for t in threading.enumerate() if t not in before] == []


def test_refusal_in_a_fresh_process_costs_no_numba_import() -> None:
    """``python -m twin train --network jammed:100000`` exits 2 from the estimate alone, before
    the trainer (and numba, ~0.3 s of import) is loaded: the modules loaded are read at exit."""
    root = Path(__file__).resolve().parents[2]
    probe = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: sys.__stdout__.write(' '.join(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('numba', 'llvmlite') or m == 'twin.learning.trainer'))"
        " + '|loaded\\n'))\n"
        "sys.argv = ['twin', 'train', '--network', 'jammed:100000', '--no-db']\n"
        "runpy.run_module('twin', run_name='__main__', alter_sys=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.returncode == 2, out.stderr
    assert "estimated" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout.splitlines()[-1] == "|loaded", out.stdout  # nothing of numba, no trainer


def test_realizations_of_one_circuit_are_estimated_in_lane_groups() -> None:
    """Eight realizations of one circuit cost one lane-group update per step, not eight."""
    from twin.kernels.train_lanes import LANE_COLUMNS

    assert est.LANE_MAX_CONSTRAINTS == LANE_COLUMNS
    size = est.NetworkSize(nodes=64, edges=150)
    alone = est.train_estimate(size, realizations=16, steps=1000, threads=1)
    lanes = est.train_estimate(size, realizations=16, steps=1000, threads=1, shared=8)
    ratio = lanes.seconds("training") / alone.seconds("training")
    assert ratio == pytest.approx(est.LANE_GROUP_UPDATES / est.LANE_WIDTH)
    pcg = est.train_estimate(size, realizations=16, steps=1000, threads=1, shared=8, solver="pcg")
    assert pcg.seconds("training") > lanes.seconds("training")  # no lanes with PCG
    task = allostery_task(lattice(4, 4), rng=np.random.default_rng(0))  # 1 source, 2 targets
    assert est.shared_circuits([task] * 5) == 5
    other = allostery_task(lattice(4, 4), rng=np.random.default_rng(1))
    assert est.shared_circuits([task, other]) == 1
    assert est.shared_circuits([task]) == 1
