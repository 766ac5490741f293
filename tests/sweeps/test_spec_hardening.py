"""Sweep files that used to crash, hang or kill the worker pool: every cell is checked and the
sweep's work estimated in the parent, before anything is submitted or written."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from twin.cli.sweep import CONNECT_TIMEOUT_S
from twin.physics.task_spec import TaskSpecError
from twin.sweeps import SweepSpecError, load_spec
from twin.sweeps.executors import LocalExecutor
from twin.sweeps.params import canonical_params

HEAD = 'name = "s"\nkind = "trainer"\nrealizations = 2\n'


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


BAD_FILES = [
    (HEAD + "[axes]\nlam = [nan]\n", "finite"),
    (HEAD + "[base]\nlam = inf\n", "finite"),
    (HEAD + "[axes]\nsteps = [" + "9" * 5000 + "]\n", "digits"),
    (HEAD + "[axes]\nsteps = [" + "1" * 30 + "]\n", r"2\^63"),
    (HEAD + "x = " + "[" * 20000 + "]" * 20000 + "\n", "nested"),
    (HEAD + "x = " + "[" * 200 + "]" * 200 + "\n", "nested"),
    (
        HEAD
        + "[axes]\n"
        + "".join(
            f"{name} = [{', '.join(str(v) for v in values)}]\n"
            for name, values in (
                ("steps", range(1, 1001)),
                ("n_records", range(1, 1001)),
                ("rho", [1 + i / 1000 for i in range(1000)]),
            )
        ),
        r"1e\+09 cells",
    ),
]


@pytest.mark.parametrize(("text", "needle"), BAD_FILES)
def test_bad_sweep_files_are_one_line_errors(
    capsys: Any, tmp_path: Path, text: str, needle: str
) -> None:
    path = _spec(tmp_path, text)
    with pytest.raises(SweepSpecError, match=needle):
        load_spec(path)
    t0 = time.monotonic()
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", f"sqlite:///{tmp_path}/l.db")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - t0 < 10
    assert sorted(os.listdir(tmp_path)) == ["s.toml"]  # no ledger made


@pytest.mark.parametrize(
    ("base", "needle"),
    [
        ('task = "alostery"', "unknown task 'alostery'"),
        ('network = "lattice:4x"', "network"),
        ('network = "jammed:99999999"', "network"),
    ],
)
def test_bad_cells_are_refused_before_submission(
    capsys: Any, tmp_path: Path, base: str, needle: str
) -> None:
    path = _spec(tmp_path, HEAD + f"[base]\nsteps = 10\n{base}\n")
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", f"sqlite:///{tmp_path}/l.db")
    assert code == 2, err
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["s.toml"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (HEAD + "[base]\nsteps = 1000000000\n", "exceeds"),
        (
            'name = "t"\nkind = "twin"\nrealizations = 4\n[base]\nclock = "sync:1e9"\n'
            "duration = 1000\n",
            "exceeds",
        ),
        (
            'name = "m"\nkind = "trainer"\nrealizations = 10000\n[base]\n'
            'network = "lattice:64x64"\nsteps = 10\n',
            "exceeds",
        ),
    ],
)
def test_sweep_work_is_estimated_before_it_runs(
    capsys: Any, tmp_path: Path, text: str, needle: str
) -> None:
    path = _spec(tmp_path, text)
    t0 = time.monotonic()
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", f"sqlite:///{tmp_path}/l.db")
    assert code == 2, err
    assert needle in err
    assert "--force" in err
    assert time.monotonic() - t0 < 10
    assert sorted(os.listdir(tmp_path)) == ["s.toml"]


def test_worker_errors_come_back_as_themselves() -> None:
    error = TaskSpecError("task", "unknown task 'x'")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is TaskSpecError
    assert (again.field, again.detail, str(again)) == (error.field, error.detail, str(error))
    executor = LocalExecutor(1)
    try:  # a cell that bypasses the parent's checks raises in the worker: the pool survives
        params = canonical_params("trainer", {"task": "nope", "steps": 1}, where="test")
        fut = executor.submit("trainer", params, [1], "k")
        with pytest.raises(TaskSpecError, match="unknown task 'nope'"):
            executor.outcome(fut)
    finally:
        executor.close()


def test_dead_scheduler_fails_within_its_timeout(capsys: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = _spec(tmp_path, HEAD + "[base]\nsteps = 10\n")
    t0 = time.monotonic()
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", f"sqlite:///{tmp_path}/l.db",
                           "--scheduler", f"tcp://127.0.0.1:{port}")  # fmt: skip
    assert code == 2, err
    assert f"127.0.0.1:{port}" in err
    assert len(err.strip().splitlines()) == 1, err
    # a refused port fails at once, not after the client's 10 s of retries (it did before)
    assert time.monotonic() - t0 < CONNECT_TIMEOUT_S / 2


def test_spring_task_cells_pass_the_parent_check() -> None:
    """allostery-strain is a trainer task of the spring substrate (Fig. 8's sweeps): the generic
    task check must not refuse it, and a spring cell's bad settings are still refused."""
    from twin.sweeps.evaluate import check_cell

    base = {"task": "allostery-strain", "steps": 10, "kappa": 1.0, "alpha": 10.0}
    check_cell("trainer", canonical_params("trainer", base, where="test"))
    bad = canonical_params("trainer", {**base, "kmin": 2.0, "kmax": 1.0}, where="test")
    with pytest.raises(Exception, match=r"k_min|kmin"):
        check_cell("trainer", bad)
