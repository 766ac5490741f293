"""``twin sweep`` and ``twin sweep status``: errors, output, and a sweep killed mid-way."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli, undocumented_keys
from twin.sweeps.metrics import TRAINER_METRICS as METRICS

ROOT = Path(__file__).resolve().parents[2]

TINY = (
    'name = "tiny"\nkind = "trainer"\nrealizations = 2\nseed = 1\n'
    '[base]\nsteps = 60\ntask = "allostery"\n[axes]\nlam = [0.0, 1e-5]\n'
)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_run_and_status_json(capsys, spec_file: Path, db: str) -> None:
    code, out, err = run_cli(capsys, "sweep", str(spec_file), "--db", db, "--workers", "1",
                             "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["cells"], summary["computed"], summary["failed"]) == (2, 2, 0)
    code, out, err = run_cli(capsys, "sweep", "status", str(spec_file), "--db", db, "--json")
    assert code == 0, err
    status = json.loads(out.strip().splitlines()[-1])
    assert status["counts"] == {"done": 2, "running": 0, "failed": 0, "missing": 0}
    assert undocumented_keys([*summary, *status, *status["counts"], *status["cells"][0]]) == []
    assert [c["lam"] for c in status["cells"]] == [0.0, 1e-5]
    # the explicit subcommand is the same command
    code, out, _ = run_cli(capsys, "sweep", "run", str(spec_file), "--db", db, "--json")
    assert json.loads(out.strip().splitlines()[-1])["already_done"] == 2


def test_a_failed_cell_exits_1_and_is_named(capsys, tmp_path: Path, db: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TINY.replace('task = "allostery"\n', 'task = "file:/nonexistent.json"\n'))
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", db, "--workers", "1")
    assert code == 1
    assert "failed" in err
    assert "nonexistent.json" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
        (["--scheduler", "127.0.0.1:8786"], "expected tcp://HOST:PORT"),
        (["--workers", "0"], "--workers"),
        (["--timeout-s", "-1"], "--timeout-s"),
    ],
)
def test_bad_options_are_one_line_exit_2(capsys, spec_file: Path, db, args, expected) -> None:
    code, _, err = run_cli(capsys, "sweep", str(spec_file), "--db", db, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert expected in err


def test_a_bad_spec_file_is_one_line_exit_2(capsys, tmp_path: Path, db: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TINY.replace("steps = 60", "steps = -5"))
    for args in (["sweep", str(path)], ["sweep", "status", str(path)]):
        code, _, err = run_cli(capsys, *args, "--db", db)
        assert code == 2
        assert err.strip() == f"twin: error: {path}: base.steps: expected an integer >= 0, got -5"


def test_without_a_database_the_error_says_so(capsys, spec_file: Path) -> None:
    # the test environment sets TWIN_DB_URL=off
    code, _, err = run_cli(capsys, "sweep", str(spec_file))
    assert code == 2
    assert "ledger is turned off" in err


def _done_cells(db_file: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM sweep_cells WHERE status = 'done'")
                       .fetchone()[0])  # fmt: skip
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_a_killed_sweep_resumes_and_counts_every_result_once(capsys, tmp_path: Path) -> None:
    # four ~1 s cells on one worker; the sweep (and its worker) is killed after the first cell
    path = tmp_path / "slow.toml"
    path.write_text(TINY.replace("steps = 60", "steps = 100000").replace(
        "lam = [0.0, 1e-5]", "lam = [0.0, 1e-6, 1e-5, 1e-4]"))  # fmt: skip
    db_file = tmp_path / "ledger.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "twin", "sweep", str(path), "--db", str(db_file), "--workers",
           "1", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _done_cells(db_file) < 1:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no cell finished in 120 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep process and its worker
    finally:
        proc.wait(timeout=30)
    done_before = _done_cells(db_file)
    assert 1 <= done_before < 4
    code, out, _ = run_cli(capsys, "sweep", "status", str(path), "--db", str(db_file), "--json")
    counts = json.loads(out.strip().splitlines()[-1])["counts"]
    # the cell the dead process was running counts as missing, not running
    assert counts == {"done": done_before, "running": 0, "failed": 0, "missing": 4 - done_before}
    code, out, err = run_cli(capsys, "sweep", str(path), "--db", str(db_file), "--workers", "1",
                             "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["already_done"], summary["computed"]) == (done_before, 4 - done_before)
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM sweep_results").fetchone()[0]
        per_cell = conn.execute(
            "SELECT COUNT(DISTINCT cell_id || ':' || realization || ':' || metric) "
            "FROM sweep_results"
        ).fetchone()[0]
    assert rows == per_cell == 4 * 2 * len(METRICS)


def test_a_cell_that_cannot_be_configured_stops_the_sweep_before_it_runs(
    capsys, tmp_path: Path, db: str
) -> None:
    path = tmp_path / "clock.toml"
    path.write_text(
        'name = "c"\nkind = "twin"\nrealizations = 1\n[axes]\nclock = ["sync:100", "tick:5"]\n'
    )
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", db)
    assert code == 2
    assert err.startswith(f"twin: error: {path}: cell 1 (clock = 'tick:5'): clock: unknown clock")
    assert len(err.strip().splitlines()) == 1
    path.write_text(TINY.replace("steps = 60", "kmin = 2\nkmax = 1"))
    code, _, err = run_cli(capsys, "sweep", str(path), "--db", db)
    assert code == 2
    assert "cell 0 (lam = 0.0): kmin/kmax: need kmin < kmax" in err


def test_several_spec_files_run_as_one_pool(capsys, spec_file: Path, tmp_path: Path, db) -> None:
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace('name = "tiny"', 'name = "other"').replace("1e-5]", "1e-3]"))
    code, out, err = run_cli(capsys, "sweep", str(spec_file), str(other), "--db", db,
                             "--workers", "1", "--json")  # fmt: skip
    assert code == 0, err
    sweeps = json.loads(out.strip().splitlines()[-1])["sweeps"]
    # lam = 0 is shared: computed once, counted in both
    assert [(s["name"], s["cells"], s["computed"]) for s in sweeps] == [
        ("tiny", 2, 2),
        ("other", 2, 2),
    ]
    code, _, err = run_cli(capsys, "sweep", str(spec_file), str(spec_file), "--db", db)
    assert code == 2
    assert "names must differ" in err


def test_results_without_python_table_csv_and_json(capsys, spec_file: Path, tmp_path, db) -> None:
    code, _, err = run_cli(capsys, "sweep", str(spec_file), "--db", db, "--workers", "1", "--json")
    assert code == 0, err
    code, out, err = run_cli(capsys, "sweep", "results", str(spec_file), "--db", db)
    assert code == 0, err
    assert "sweep tiny: median over realizations" in out
    for needle in ("lam", "1e-05", "error_final"):
        assert needle in out
    code, out, err = run_cli(capsys, "sweep", "results", "tiny", "--db", db, "--format", "csv")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("cell_id,position,realization,seed,")
    assert len(lines) == 1 + 2 * 2  # two cells of two realizations
    code, out, err = run_cli(capsys, "sweep", "results", "tiny", "--db", db, "--format", "json")
    assert code == 0, err
    assert {r["lam"] for r in json.loads(out)} == {0.0, 1e-5}
    csv_file = tmp_path / "tiny.csv"
    code, out, err = run_cli(capsys, "sweep", "results", "tiny", "--db", db, "--out", str(csv_file))
    assert code == 0, err
    assert csv_file.read_text().count("\n") == 5
    code, _, err = run_cli(capsys, "sweep", "results", "tiny", "--db", db, "--out", str(csv_file))
    assert code == 2
    assert "exists" in err
    code, _, err = run_cli(capsys, "sweep", "results", "nothing", "--db", db)
    assert code == 2
    assert "no sweep named 'nothing'" in err
