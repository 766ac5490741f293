"""Trainer cells with mark_tol: the tolerance metrics of a stop_tol cell and the rest of a plain
one, from one run; cells without it keep the ids they had before the parameter existed."""

from __future__ import annotations

import math

from twin.sweeps.cells import canonical_json, cell_id, realization_seeds
from twin.sweeps.evaluate import evaluate_cell
from twin.sweeps.params import canonical_params

BASE = {"task": "regression", "network": "ref:64", "kappa": 1.0, "alpha": 0.5, "eta": 1e-3,
        "kmin": 1e-3, "kmax": 10.0, "steps": 1000, "n_records": 3}  # fmt: skip
TOL = 1e-2


def _rows(**extra: object) -> list[dict[str, float]]:
    params = canonical_params("trainer", {**BASE, **extra}, where="test")
    return evaluate_cell("trainer", params, realization_seeds(0, 3))


def test_a_marked_cell_is_the_stop_tol_cell_and_the_plain_cell_in_one() -> None:
    marked, plain, stopped = _rows(mark_tol=TOL), _rows(), _rows(stop_tol=TOL)
    reached = [not math.isnan(s["time_to_tol_s"]) for s in stopped]
    assert any(reached)
    assert not all(reached)
    for m, p, s, hit in zip(marked, plain, stopped, reached, strict=True):
        for name in ("error_final", "free_power_final_w", "training_energy_j", "steps_done"):
            assert m[name] == p[name], name
        if hit:
            assert m["time_to_tol_s"] == s["time_to_tol_s"]
            assert m["energy_to_tol_j"] == s["energy_to_tol_j"] == s["training_energy_j"]
        else:
            assert math.isnan(m["time_to_tol_s"])
            assert math.isnan(m["energy_to_tol_j"])
        assert math.isnan(p["time_to_tol_s"])
        assert math.isnan(p["energy_to_tol_j"])


def test_cells_without_mark_tol_keep_their_ids() -> None:
    params = canonical_params("trainer", BASE, where="test")
    assert params["mark_tol"] is None
    seeds = realization_seeds(0, 2)
    assert '"mark_tol"' not in canonical_json("trainer", params, seeds)
    marked = canonical_params("trainer", {**BASE, "mark_tol": TOL}, where="test")
    assert cell_id("trainer", marked, seeds) != cell_id("trainer", params, seeds)
