"""Twin cells of spring networks (``physics = "springs"``): a realization is ``twin simulate
--physics springs`` with its seed; metrics in strain^2 and joules; the error falls on the
allostery-strain task; bad cells are one-line refusals; cells without springs keep their ids."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_cli
from twin.physics.estimate import (
    JAMMED_EDGES_PER_NODE,
    MAX_EDGE_EVENTS,
    MAX_SPRING_EVENTS,
    SPRING_GROUP_S_57,
)
from twin.sweeps import results_frame, spec_from_dict
from twin.sweeps.cells import cell_id, expand, realization_seeds
from twin.sweeps.estimate import cell_estimate, cell_work
from twin.sweeps.evaluate import evaluate_cell
from twin.sweeps.metrics import SPRING_TWIN_METRICS, TWIN_METRICS
from twin.sweeps.params import canonical_params, parameters
from twin.sweeps.twin_cells import TwinCellError, cell_from_params, check_params

SPRINGS = {"physics": "springs", "task": "allostery-strain", "eta": 0.001}
TINY = (
    'name = "tiny-spring-twin"\nkind = "twin"\nrealizations = 2\nseed = 3\n'
    '[base]\nphysics = "springs"\ntask = "allostery-strain"\neta = 0.001\nduration = 0.02\n'
    '[axes]\nclock = ["sync:10000", "poisson:5000"]\n'
)


def test_cells_without_springs_keep_their_ids() -> None:
    """The spring parameters are left out of a cell at their defaults: the id of a default twin
    cell is the one computed before they existed (pinned: sha256 over the former schema's
    defaults), and naming the defaults explicitly changes nothing."""
    params = canonical_params("twin", {"duration": 0.5, "lam": 1e-3}, where="t")
    assert not {"physics", "alpha", "kappa", "spring_solver"} & set(params)
    assert cell_id("twin", params, [1, 2]) == "e08ad8c19c5ef877c6fd"
    explicit = {"duration": 0.5, "lam": 1e-3, "physics": "resistors", "spring_solver": "linear"}
    assert canonical_params("twin", explicit, where="t") == params
    springs = canonical_params("twin", {**SPRINGS, "duration": 0.5, "lam": 1e-3}, where="t")
    assert springs["physics"] == "springs"
    assert cell_id("twin", springs, [1, 2]) != cell_id("twin", params, [1, 2])


def test_a_realization_is_twin_simulate_physics_springs_with_its_seed(capsys) -> None:
    seed = realization_seeds(3, 1)[0]
    params = {**SPRINGS, "duration": 0.02, "clock": "poisson:5000"}
    (row,) = evaluate_cell("twin", params, [seed])
    assert list(row) == list(SPRING_TWIN_METRICS)
    code, out, err = run_cli(capsys, "simulate", "--physics", "springs", "--clock", "poisson:5000",
                             "--duration", "0.02", "--eta", "0.001", "--seed", str(seed),
                             "--json", "--no-db")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    for key in ("error_initial", "error_final", "free_energy_initial_j", "free_energy_final_j",
                "clamped_energy_final_j", "training_energy_j", "clamped_energy_j",
                "events"):  # fmt: skip
        assert row[key] == pytest.approx(summary[key], rel=1e-12), key


def test_a_sync_spring_twin_cell_is_the_springs_trainer_cell_step_for_step() -> None:
    """A sync clock at the trainer's 10 kHz step rate, no noise: 200 ticks of the twin cell are
    the springs cell's 200 steps on the same realizations (the same network and task per seed;
    measured within 4.3e-12 relative, energies bit for bit)."""
    seeds = realization_seeds(3, 2)
    twin = evaluate_cell("twin", {**SPRINGS, "duration": 0.02, "clock": "sync:10000"}, seeds)
    steps = canonical_params("springs", {"steps": 200}, where="t")
    trainer = evaluate_cell("springs", steps, seeds)
    for a, b in zip(twin, trainer, strict=True):
        assert a["error_final"] < a["error_initial"]
        for key in ("error_initial", "error_final", "free_energy_initial_j", "free_energy_final_j",
                    "free_energy_ratio", "training_energy_j", "clamped_energy_j"):  # fmt: skip
            assert a[key] == pytest.approx(b[key], rel=1e-9), key


def test_metrics_are_physical_and_the_error_falls_over_realizations() -> None:
    """Energies are elastic (J, >= 0; pins of 1e4 N/m at strain 0.2 hold ~5e-2 J), the totals add
    up, and asynchronous agents lower the target-strain error: 0.2 s of Poisson clocks at 2 kHz
    per spring (~400 updates each) on 4 realizations of the seed's task. Measured on 8
    realizations (seed 0): every error falls, median ratio 0.054 (0.32 at 0.1 s)."""
    seeds = realization_seeds(0, 4)
    rows = evaluate_cell("twin", {**SPRINGS, "duration": 0.2, "clock": "poisson:2000"}, seeds)
    for m in rows:
        for key in ("free_energy_initial_j", "free_energy_final_j", "free_energy_tail_j",
                    "clamped_energy_final_j", "training_energy_j", "clamped_energy_j"):  # fmt: skip
            assert 0 <= m[key] < math.inf, key
        assert 1e-3 < m["free_energy_final_j"] < 1.0
        assert m["total_energy_j"] == m["training_energy_j"] + m["clamped_energy_j"]
        assert m["free_energy_ratio"] == m["free_energy_final_j"] / m["free_energy_initial_j"]
        # each event books the free state's energy once
        low = min(m["free_energy_initial_j"], m["free_energy_final_j"])
        assert m["training_energy_j"] > 0.5 * m["events"] * low
        assert 300 < m["mean_updates_per_edge"] < 500  # 2 kHz x 0.2 s
        assert m["sim_time_s"] == 0.2
    ratios = np.array([m["error_ratio"] for m in rows])
    assert np.all(ratios < 1), ratios
    assert np.median(ratios) < 0.5, ratios


def test_a_spring_twin_sweep_runs_and_reports_joules(capsys, tmp_path: Path, db: str) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    code, out, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--workers", "1", "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["cells"], summary["computed"], summary["failed"]) == (2, 2, 0)
    code, out, err = run_cli(capsys, "sweep", "results", "tiny-spring-twin", "--db", db,
                             "--format", "json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 4
    frame = results_frame("tiny-spring-twin", db_url=db)
    assert [c for c in frame.columns if c in SPRING_TWIN_METRICS] == list(SPRING_TWIN_METRICS)
    for r in rows:
        assert r["status"] == "done"
        assert r["physics"] == "springs"
        assert r["free_energy_final_j"] > 0
        assert "free_power_final_w" not in r
        assert r["error_final"] < r["error_initial"]
    by = {(r["clock"], r["realization"]): r for r in rows}
    for real in (0, 1):  # the same network and task in both cells (paired realizations)
        assert (
            by[("sync:10000", real)]["error_initial"] == by[("poisson:5000", real)]["error_initial"]
        )


def test_work_is_bounded_as_twin_simulate_physics_springs_bounds_it() -> None:
    cell = expand(spec_from_dict(tomllib.loads(TINY)))[0]
    work = cell_work("twin", cell.params, cell.realizations)
    assert work is not None
    assert work.limit == MAX_SPRING_EVENTS < MAX_EDGE_EVENTS
    circuit = cell_work("twin", {"duration": 0.02}, 1)
    assert circuit is not None
    assert circuit.limit == MAX_EDGE_EVENTS
    sync_cell, poisson_cell = expand(spec_from_dict(tomllib.loads(TINY)))
    sync = cell_estimate("twin", sync_cell.params, 2)
    poisson = cell_estimate("twin", poisson_cell.params, 2)
    assert sync is not None
    assert poisson is not None
    assert "simulation" not in dict(sync.parts)  # the circuit twin's per-edge-event cost
    bonds = math.ceil(JAMMED_EDGES_PER_NODE * 27)
    per_group = SPRING_GROUP_S_57 * bonds / 57  # one network solve
    ticks, events = 2 * 0.02 * 1e4, 2 * 0.02 * 5000 * bonds  # a solve per tick; per event
    assert dict(sync.parts)["spring solves"] == pytest.approx(ticks * per_group)
    assert dict(poisson.parts)["spring solves"] == pytest.approx(events * per_group)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ('physics = "springs"\n', "task: springs have the task allostery-strain"),
        ('task = "allostery-strain"\nalpha = 100.0\n', "alpha: needs physics = springs"),
        ('spring_solver = "nonlinear"\n', "spring_solver: needs physics = springs"),
        ('task = "allostery-strain"\n', "task: allostery-strain needs physics = springs"),
        ('physics = "springs"\ntask = "allostery-strain"\nmodel = "linear"\n',
         "model: not available with physics = springs"),
        ('physics = "springs"\ntask = "allostery-strain"\nadc_bits = 8\n', "adc_bits"),
        ('physics = "springs"\ntask = "allostery-strain"\nclock = "continuous:0.001"\n', "clock"),
        ('physics = "springs"\ntask = "allostery-strain"\nnetwork = "lattice:4x4"\n', "floppy"),
        ('physics = "springs"\ntask = "allostery-strain"\nnetwork = "lattice:oops"\n', "network"),
        ('physics = "springs"\ntask = "allostery-strain"\nkappa = -1.0\n', "kappa"),
        ('physics = "springs"\ntask = "allostery-strain"\nduration = 100000.0\n', "exceed"),
        ('physics = "rubber"\n', "physics"),
    ],
)  # fmt: skip
def test_bad_spring_twin_cells_are_refused_in_one_line(capsys, tmp_path, db, base, expected
                                                       ) -> None:  # fmt: skip
    spec = tmp_path / "bad.toml"
    spec.write_text(f'name = "bad-spring-twin"\nkind = "twin"\nrealizations = 2\n[base]\n{base}')
    code, _, err = run_cli(capsys, "sweep", str(spec), "--db", db, "--workers", "1")
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in err


def test_the_spring_parameters_are_twin_simulate_options() -> None:
    names = parameters("twin")
    for name in ("physics", "alpha", "kappa", "spring_solver"):
        assert names[name].get("x-omit-default") is True, name
    cell = cell_from_params(SPRINGS)
    config = cell.spring_config()
    assert (config.alpha, config.kappa, config.eta) == (10.0, 1.0, 0.001)  # twin simulate's
    with pytest.raises(TwinCellError, match="meas_noise"):
        check_params({**SPRINGS, "meas_noise": 0.01})
    assert not set(SPRING_TWIN_METRICS) & set(names)
    assert "free_power_final_w" in TWIN_METRICS
    assert "free_power_final_w" not in SPRING_TWIN_METRICS
