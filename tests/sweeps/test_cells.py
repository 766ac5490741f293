"""Cells reproduce single runs: realization r of a cell is ``twin train/simulate --seed seed_r``."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli
from twin.sweeps import SerialExecutor, expand, results_frame, run_sweep, spec_from_dict
from twin.sweeps.evaluate import evaluate_cell


def _json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_a_trainer_realization_is_twin_train_with_its_seed(capsys) -> None:
    spec = spec_from_dict({"name": "t", "kind": "trainer", "realizations": 2, "seed": 5,
                           "base": {"steps": 80, "lam": 1e-5, "task": "regression",
                                    "network": "jammed:16"}})  # fmt: skip
    (cell,) = expand(spec)
    rows = evaluate_cell("trainer", cell.params, cell.seeds)
    for r, seed in enumerate(cell.seeds):
        code, out, err = run_cli(capsys, "train", "--task", "regression", "--network",
                                 "jammed:16", "--steps", "80", "--lam", "1e-5", "--seed",
                                 str(seed), "--json")  # fmt: skip
        assert code == 0, err
        single = _json(out)
        for name in ("error_initial", "error_final", "free_power_final_w", "training_energy_j"):
            assert rows[r][name] == pytest.approx(single[name], rel=1e-12, abs=0), name
    # the two realizations are different networks (jammed packings from their own seeds)
    assert rows[0]["error_initial"] != rows[1]["error_initial"]


def test_a_twin_sweep_matches_twin_simulate(capsys, db: str) -> None:
    spec = spec_from_dict({"name": "tw", "kind": "twin", "realizations": 2, "seed": 2,
                           "base": {"duration": 0.01, "model": "linear"},
                           "axes": {"lam": [0.0, 0.5]}})  # fmt: skip
    outcome = run_sweep(spec, db_url=db, executor=SerialExecutor())
    assert (outcome.computed, outcome.failed) == (2, 0)
    frame = results_frame(spec, db_url=db)
    row = frame[(frame["lam"] == 0.5) & (frame["realization"] == 1)].iloc[0]
    code, out, err = run_cli(capsys, "simulate", "--duration", "0.01", "--model", "linear",
                             "--lam", "0.5", "--seed", str(row["seed"]), "--json")  # fmt: skip
    assert code == 0, err
    single = _json(out)
    for name in ("error_final", "free_power_final_w", "training_energy_j",
                 "gate_charging_energy_j", "events"):  # fmt: skip
        assert row[name] == single[name], name
    assert row["error_ratio"] == single["error_final"] / single["error_initial"]
