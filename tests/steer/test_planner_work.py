"""The planner's work: what it need not simulate (``benchmarks/bench_planner.py`` times it).

Boards with typical hidden variation, their own circuits as the twin, planning to 1e-3 of the
initial error from the gates they boot with."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.inprocess import InProcessBoard
from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer.planner import Phase, Planner, PlannerConfig, Prediction
from twin.steer.plans import capped

REL = 1e-3
#: A few candidates (the plans stay short in wall time); lambda 0.003's trunk stalls above
#: its switch points at eta 0.22.
CONFIG = PlannerConfig(lams=(0.0, 0.003, 0.1), switch_factors=(30.0, 10.0))


def _start(seed: int) -> tuple[Planner, np.ndarray, float]:
    board = InProcessBoard(make_emulator(EmulationSpec(seed=seed, variation="typical")))
    emu = board.emulator
    planner = Planner(emu.task, emu.edges, eta=emu.eta, step_s=emu.step_s, config=CONFIG)
    gates = np.asarray(emu.track.gates())
    board.close()
    e0 = float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    return planner, gates, REL * e0


def _record_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[float, tuple, Prediction, np.ndarray]]:
    """Every run the planner simulates: (eta, schedule, prediction, start gates)."""
    runs: list[tuple[float, tuple, Prediction, np.ndarray]] = []
    run = Planner._run

    def recorded(self: Planner, gates_v: np.ndarray, schedule: tuple, tol: float, **kw):  # type: ignore[no-untyped-def]
        pred, branches = run(self, gates_v, schedule, tol, **kw)
        runs.append((kw["eta"], schedule, pred, np.array(gates_v)))
        return pred, branches

    monkeypatch.setattr(Planner, "_run", recorded)
    return runs


def test_a_trunk_that_stalls_above_its_switch_points_is_not_run_to_the_horizon(
    monkeypatch,
) -> None:
    """On the old planner a trunk with a switch point still ahead was exempt from the stall rule
    and ran the whole 5 s horizon (lambda 0.003 at eta 0.22 here) though its error had stopped
    falling (seed 3); now it ends at the stall like any candidate."""
    planner, gates, tol = _start(3)
    runs = _record_runs(monkeypatch)
    plan = planner.plan(gates, tol, eta=0.22)
    assert plan.best is None  # nothing reaches at the board's own eta
    trunks = [p for _, s, p, _ in runs if s[0].lam > 0]
    assert trunks
    for pred in trunks:
        assert pred.t_s[-1] < CONFIG.horizon_s - CONFIG.stall_s, pred.t_s[-1]
        n = round(CONFIG.stall_s / CONFIG.dt_s)
        assert pred.error[-1] > 0.99 * pred.error[-1 - n]  # it ended stalled


@pytest.mark.parametrize(("seed", "a_probe_reaches"), [(0, True), (3, False)])
def test_a_probe_is_not_simulated_again(monkeypatch, seed, a_probe_reaches) -> None:
    """plan_eta probes each eta with lambda = 0 to the tolerance, then plans there (seed 0: at
    the raised etas whose probe reaches; seed 3: where none does, at every eta in turn): the old
    planner simulated that same run again as the plan's lambda = 0 candidate."""
    planner, gates, tol = _start(seed)
    runs = _record_runs(monkeypatch)
    plan = planner.plan_eta(gates, tol)
    assert plan.best is not None
    lam0 = (Phase(lam=0.0, until_error=tol),)
    probes = [  # lambda = 0 from the plan's start (not a tail from a switch point)
        (eta, p.reached_s is not None)
        for eta, s, p, g in runs
        if s == lam0 and np.array_equal(g, gates)
    ]
    assert any(ok for _, ok in probes) == a_probe_reaches, probes
    assert len({eta for eta, _ in probes}) == len(probes), probes  # one lambda = 0 run per eta


def test_a_reused_probe_is_cut_where_its_own_run_would_stop() -> None:
    """The probe taken as the plan's lambda = 0 candidate under a bound is the run the planner
    makes with that energy cap: the same samples, not reached below its energy (seed 0)."""
    planner, gates, tol = _start(0)
    lam0 = (Phase(lam=0.0, until_error=tol),)
    probe = planner.simulate(gates, lam0, tol, eta=0.88)
    assert probe.energy_to_tol_j is not None
    for cap in (0.5 * probe.energy_to_tol_j, probe.energy_j[1], 2 * probe.energy_to_tol_j):
        run = planner.simulate(gates, lam0, tol, eta=0.88, energy_cap_j=cap)
        cut = capped(probe, cap)
        np.testing.assert_array_equal(cut.t_s, run.t_s)
        np.testing.assert_array_equal(cut.energy_j, run.energy_j)
        assert cut.energy_to_tol_j == run.energy_to_tol_j
