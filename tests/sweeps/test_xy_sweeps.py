"""Sweeps of XY oscillator networks (kind ``xy``): run, resume, results, and one-line refusals."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import ledger_support
from tests.helpers import run_cli
from tests.ledger_support import migrate
from twin.cli.train_xy import XY_ONLY
from twin.learning.xy_options import XY_OPTIONS
from twin.ledger.db import resolve_url
from twin.ledger.models import sweeps
from twin.sweeps import spec_from_dict
from twin.sweeps.cells import expand, realization_seeds
from twin.sweeps.evaluate import evaluate_cell
from twin.sweeps.metrics import XY_METRICS
from twin.sweeps.params import parameters

# the backends' fixtures (a fresh SQLite file; a fresh PostgreSQL schema, marker postgres)
ledger_url = ledger_support.ledger_url
sqlite_url = ledger_support.sqlite_url
pg_url = ledger_support.pg_url
pg_server = ledger_support.pg_server

TINY = (
    'name = "tiny-xy"\nkind = "xy"\nrealizations = 2\nseed = 3\n'
    '[base]\ntask = "xor"\nepochs = 4\nmax_steps = 200\neval_starts = 2\n'
    '[axes]\nnetwork = ["all:4", "lattice:2x3"]\n'
)


def test_the_xy_parameters_are_the_options_of_twin_train_physics_xy() -> None:
    assert XY_ONLY == XY_OPTIONS
    assert set(parameters("xy")) == {"network", "task", *XY_OPTIONS}


def test_a_realization_is_twin_train_physics_xy_with_its_seed(capsys) -> None:
    params = {**expand(spec_from_dict(tomllib.loads(TINY)))[0].params}
    seed = realization_seeds(3, 1)[0]
    (row,) = evaluate_cell("xy", params, [seed])
    assert set(row) == set(XY_METRICS)
    code, out, err = run_cli(capsys, "train", "--physics", "xy", "--network", "all:4", "--task",
                             "xor", "--epochs", "4", "--max-steps", "200", "--eval-starts", "2",
                             "--seed", str(seed), "--json", "--no-db")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert row["accuracy_test"] == summary["accuracy"]
    assert row["loss_test"] == summary["loss"]
    assert row["couplings"] == summary["couplings"] == 6


def _sweep_row(name: str, kind: str) -> dict[str, object]:
    return {"name": name, "kind": kind, "spec": {}, "cells": 0, "code_version": "0",
            "created_unix": 1.0, "updated_unix": 1.0}  # fmt: skip


def test_migration_0006_adds_the_xy_kind_and_keeps_the_check(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url))
    try:
        with engine.begin() as conn:
            migrate(conn, "0005")
            conn.execute(sa.insert(sweeps).values(_sweep_row("old", "trainer")))
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(sweeps).values(_sweep_row("early", "xy")))  # not yet
        with engine.begin() as conn:
            migrate(conn, "0006")
            conn.execute(sa.insert(sweeps).values(_sweep_row("x", "xy")))
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(sweeps).values(_sweep_row("bad", "bogus")))  # still checked
        with engine.begin() as conn, pytest.raises(RuntimeError, match="xy sweeps"):
            migrate(conn, "0005", down=True)  # refused while an xy sweep is recorded
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM sweeps WHERE name = 'x'"))
            migrate(conn, "0005", down=True)
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(sweeps).values(_sweep_row("late", "xy")))
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT kind FROM sweeps")).scalars().all() == ["trainer"]
    finally:
        engine.dispose()


def test_an_xy_sweep_runs_resumes_and_reports(capsys, tmp_path: Path, db: str) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    code, out, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--workers", "1", "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["cells"], summary["computed"], summary["failed"]) == (2, 2, 0)
    code, out, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--json")
    assert json.loads(out.strip().splitlines()[-1])["already_done"] == 2
    code, out, err = run_cli(capsys, "sweep", "results", "tiny-xy", "--db", db, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 4
    assert {r["network"] for r in rows} == {"all:4", "lattice:2x3"}
    assert all(0.0 <= r["accuracy_test"] <= 1.0 for r in rows)
    assert {r["couplings"] for r in rows} == {6.0, 7.0}


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ('task = "xor"\n', "network: required"),
        ('task = "xor"\nnetwork = "all:1"\n', "network"),
        ('task = "iris"\nnetwork = "lattice:2x3"\n', "inputs"),
        ('task = "xor"\nnetwork = "all:6"\nepochs = 10000000\nstarts = 10000\n', "exceed"),
        ('task = "mnist"\nnetwork = "all:6"\n', "task"),
        ('task = "xor"\nnetwork = "all:6"\nlam = 0.1\n', "unknown xy parameter 'lam'"),
    ],
)
def test_bad_xy_cells_are_refused_in_one_line(capsys, tmp_path, db, base, expected) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(f'name = "bad-xy"\nkind = "xy"\nrealizations = 1\n[base]\n{base}')
    code, _, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--workers", "1")
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in err
