"""Sweeps of spring networks (kind ``springs``): a realization is ``twin train --physics springs``
with its seed; run, resume, results in joules; work bounded and bad cells refused in one line;
migration 0007 up and down on both backends."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import ledger_support
from tests.helpers import run_cli
from tests.ledger_support import migrate
from twin.ledger.db import resolve_url
from twin.ledger.models import sweep_cells, sweeps
from twin.physics.estimate import JAMMED_EDGES_PER_NODE
from twin.sweeps import results_frame, spec_from_dict
from twin.sweeps.cells import expand, realization_seeds
from twin.sweeps.estimate import cell_work
from twin.sweeps.evaluate import evaluate_cell
from twin.sweeps.metrics import SPRING_METRICS
from twin.sweeps.params import parameters

# the backends' fixtures (a fresh SQLite file; a fresh PostgreSQL schema, marker postgres)
ledger_url = ledger_support.ledger_url
sqlite_url = ledger_support.sqlite_url
pg_url = ledger_support.pg_url
pg_server = ledger_support.pg_server

TINY = (
    'name = "tiny-springs"\nkind = "springs"\nrealizations = 2\nseed = 3\n'
    "[base]\nsteps = 60\n"
    "[axes]\nlam = [0.0, 1e-6]\n"
)


def test_the_springs_parameters_are_options_of_twin_train_physics_springs() -> None:
    names = set(parameters("springs"))
    assert {"network", "task", "spring_solver", "prune", "lam", "alpha", "kappa"} <= names
    assert "mark_tol" not in names  # the trainer refuses it for springs
    assert parameters("springs")["alpha"]["default"] == 10.0  # twin train --physics springs


@pytest.mark.parametrize("solver", ["linear", "nonlinear"])
def test_a_realization_is_twin_train_physics_springs_with_its_seed(capsys, solver: str) -> None:
    params = {**expand(spec_from_dict(tomllib.loads(TINY)))[1].params, "spring_solver": solver}
    params["steps"] = 20
    seed = realization_seeds(3, 1)[0]
    (row,) = evaluate_cell("springs", params, [seed])
    assert list(row) == list(SPRING_METRICS)
    code, out, err = run_cli(capsys, "train", "--physics", "springs", "--spring-solver", solver,
                             "--lam", "1e-6", "--steps", "20", "--seed", str(seed), "--json",
                             "--no-db")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    for key in ("error_initial", "error_final", "free_energy_initial_j", "free_energy_final_j",
                "training_energy_j", "clamped_energy_j", "energy_floor_j"):  # fmt: skip
        assert row[key] == pytest.approx(summary[key], rel=1e-12), key
    assert row["free_energy_ratio"] == pytest.approx(
        summary["free_energy_final_j"] / summary["free_energy_initial_j"], rel=1e-12
    )


def _sweep_row(name: str, kind: str) -> dict[str, object]:
    return {"name": name, "kind": kind, "spec": {}, "cells": 0, "code_version": "0",
            "created_unix": 1.0, "updated_unix": 1.0}  # fmt: skip


def _cell_row(cell_id: str, kind: str) -> dict[str, object]:
    return {"cell_id": cell_id, "kind": kind, "params": {}, "seeds": [1], "realizations": 1,
            "status": "pending", "attempts": 0}  # fmt: skip


def test_migration_0007_adds_the_springs_kind_and_keeps_the_check(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url))
    try:
        with engine.begin() as conn:
            migrate(conn, "0006")
            conn.execute(sa.insert(sweeps).values(_sweep_row("old", "xy")))
        for table, row in ((sweeps, _sweep_row("early", "springs")),
                           (sweep_cells, _cell_row("c-early", "springs"))):  # fmt: skip
            with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.insert(table).values(row))  # not yet
        with engine.begin() as conn:
            migrate(conn, "0007")
            conn.execute(sa.insert(sweeps).values(_sweep_row("s", "springs")))
            conn.execute(sa.insert(sweep_cells).values(_cell_row("c-s", "springs")))
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(sweeps).values(_sweep_row("bad", "bogus")))  # still checked
        with engine.begin() as conn, pytest.raises(RuntimeError, match="springs sweeps"):
            migrate(conn, "0006", down=True)  # refused while a springs sweep is recorded
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM sweep_cells WHERE cell_id = 'c-s'"))
            conn.execute(sa.text("DELETE FROM sweeps WHERE name = 's'"))
            migrate(conn, "0006", down=True)
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(sweeps).values(_sweep_row("late", "springs")))
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT kind FROM sweeps")).scalars().all() == ["xy"]
            migrate(conn, "0007")  # and up again
            conn.execute(sa.insert(sweeps).values(_sweep_row("again", "springs")))
    finally:
        engine.dispose()


def test_a_springs_sweep_runs_resumes_and_reports_joules(capsys, tmp_path: Path, db: str) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    code, out, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--workers", "1", "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["cells"], summary["computed"], summary["failed"]) == (2, 2, 0)
    code, out, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--json")
    assert json.loads(out.strip().splitlines()[-1])["already_done"] == 2
    code, out, err = run_cli(capsys, "sweep", "results", "tiny-springs", "--db", db,
                             "--format", "json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 4
    assert {r["lam"] for r in rows} == {0.0, 1e-6}
    frame = results_frame("tiny-springs", db_url=db)
    for r, (_, f) in zip(rows, frame.iterrows(), strict=True):  # every digit (it kept 10 decimals)
        expected = [None if math.isnan(f[m]) else f[m] for m in SPRING_METRICS]  # NaN: null
        assert [r[m] for m in SPRING_METRICS] == expected
    for r in rows:
        assert r["spring_solver"] == "linear"
        assert r["status"] == "done"
        assert 0 < r["free_energy_final_j"] < 1.0  # J: pins of 1e4 N/m at strain 0.2, ~5e-2 J
        assert r["training_energy_j"] == pytest.approx(60 * r["free_energy_initial_j"], rel=0.1)
        assert "free_power_final_w" not in r
    by = {(r["lam"], r["realization"]): r for r in rows}
    for real in (0, 1):  # the energy term lowers the trained free energy, same task
        assert by[(1e-6, real)]["free_energy_final_j"] < by[(0.0, real)]["free_energy_final_j"]
        assert by[(1e-6, real)]["error_initial"] == by[(0.0, real)]["error_initial"]


def test_work_is_bounded_as_twin_train_bounds_it() -> None:
    cell = expand(spec_from_dict(tomllib.loads(TINY)))[0]
    work = cell_work("springs", cell.params, cell.realizations)
    assert work is not None
    bonds = math.ceil(JAMMED_EDGES_PER_NODE * 27)  # jammed:27, as twin train counts them
    assert work.work == 60 * 2 * bonds  # steps x realizations x bonds
    trainer = {**cell.params, "task": "allostery-strain"}
    del trainer["spring_solver"], trainer["prune"]
    assert cell_work("trainer", trainer, 2) == work  # the trainer kind's default network too


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("mark_tol = 1e-3\n", "unknown springs parameter 'mark_tol'"),
        ('network = "jammed:27"\nsteps = 1000000000\n', "exceed"),
        ("kmin = 5.0\nkmax = 1.0\n", "kmin/kmax"),
        ('network = "lattice:4x4"\n', "floppy"),
        ("prune = 2.0\n", "not above isostatic"),
        ('spring_solver = "exact"\n', "spring_solver"),
        ('task = "allostery"\n', "task"),
        ('network = "lattice:oops"\n', "network"),
    ],
)
def test_bad_springs_cells_are_refused_in_one_line(capsys, tmp_path, db, base, expected) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(f'name = "bad-springs"\nkind = "springs"\nrealizations = 2\n[base]\n{base}')
    code, _, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--workers", "1")
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in err


def test_a_springs_sweep_on_dask_matches_the_serial_run(db: str, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    from twin.sweeps import DaskExecutor, SerialExecutor, run_sweep

    spec = spec_from_dict(tomllib.loads(TINY))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):  # fmt: skip
        outcome = run_sweep(spec, db_url=db, executor=DaskExecutor(client))
    assert (outcome.computed, outcome.failed) == (2, 0)
    ref = f"sqlite:///{tmp_path / 'ref.db'}"
    run_sweep(spec, db_url=ref, executor=SerialExecutor())
    a, b = results_frame(spec, db_url=db), results_frame(spec, db_url=ref)
    columns = [c for c in a.columns if c != "code_version"]
    assert a[columns].equals(b[columns])
    assert a["training_energy_j"].gt(0).all()
