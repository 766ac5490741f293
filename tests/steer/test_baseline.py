"""The lambda = 0 baseline of a steering run: predicted as far as the run could go, and when it
gives no energy, the summary says why (it was null without a word for boards whose twin
predicts an error floor above the tolerance)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.simulation.edge import board_edge_params
from twin.steer import PolicySpec, SteerConfig, steer_board
from twin.steer.planner import Planner, PlannerConfig
from twin.steer.report import predict_baseline

from .conftest import emulated


def test_the_baseline_looks_as_far_ahead_as_the_run_not_a_plan() -> None:
    # lambda = 0 needs ~0.3 s to 1e-2 of the initial error; a plan looks 0.05 s ahead
    short = PlannerConfig(lams=(0.0,), switch_factors=(10.0,), horizon_s=0.05)
    board = emulated()
    res = steer_board(
        board,
        policy=PolicySpec(name="fixed", lam=0.0, planner=short),
        config=SteerConfig(tolerance_rel=1e-2, max_time_s=3.0),
    )
    board.close()
    s = res.summary
    assert s["reached"], s
    assert s["baseline_reached"] is True
    assert s["baseline_time_s"] > short.horizon_s
    assert s["baseline_energy_j"] > 0
    assert s["baseline_note"] is None
    # the twin is the board here: its lambda = 0 run is the one steered
    assert s["training_energy_j"] == pytest.approx(s["baseline_energy_j"], rel=0.2)


def test_a_baseline_without_energy_says_why() -> None:
    board = emulated()
    snap = board.snapshot(5.0)
    board.close()
    from twin.physics.task import task_from_dict

    planner = Planner(
        task_from_dict(snap.config.task), board_edge_params("transistor"), eta=0.22, step_s=1e-4
    )
    gates = np.asarray(snap.state.gate_v)
    tiny = predict_baseline(planner, gates, 1e-14, horizon_s=0.2)
    assert tiny.prediction is not None
    assert tiny.prediction.energy_to_tol_j is None
    assert tiny.note is not None
    assert "does not reach the tolerance 1e-14 V^2 within 0.2 s" in (tiny.note)
    aborted = predict_baseline(planner, gates, 1e-3, horizon_s=0.2, status="aborted")
    assert aborted.prediction is None
    assert aborted.note == "run aborted: no lambda = 0 prediction made"
    assert predict_baseline(planner, gates, 1e-3, horizon_s=0.2, wanted=False).note == (
        "not asked for"
    )
