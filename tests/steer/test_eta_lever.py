"""The nudge eta as a steering lever: where the boards' free/clamped gain mismatch floors the
error above the tolerance at the board's eta, the planner raises eta and the steerer sends it."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from twin.board.inprocess import InProcessBoard
from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer import PolicySpec, SteerConfig, SteerTwin, steer_board
from twin.steer.errors import SteerConfigError
from twin.steer.planner import Phase, Planner, PlannerConfig, lowest_error

from .conftest import Misbehaving

#: Seed 0's board with typical hidden variation: at its eta 0.22, lambda = 0 floors at 1.6 % of
#: the initial error on its own circuits (the gain mismatch) over 3 s, above 1 % (with the suite's
#: pinned kernels, tests/conftest.py; 4.1 % with OpenBLAS's generic ones: a long branching run).
SEED = 0
REL = 1e-2


def _typical_board() -> InProcessBoard:
    return InProcessBoard(make_emulator(EmulationSpec(seed=SEED, variation="typical")))


def _exact_planner(board: InProcessBoard, config: PlannerConfig | None = None) -> Planner:
    emu = board.emulator
    return Planner(emu.task, emu.edges, eta=emu.eta, step_s=emu.step_s, config=config)


def test_the_gain_mismatch_floor_falls_as_eta_rises() -> None:
    board = _typical_board()
    planner = _exact_planner(board)
    gates = np.asarray(board.emulator.track.gates())
    e0 = float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    lam0 = (Phase(lam=0.0, until_error=1e-9),)
    floors = [
        float(np.min(planner.simulate(gates, lam0, 1e-9, horizon_s=3.0, eta=eta).error))
        for eta in (0.22, 0.44, 0.88)
    ]
    assert floors[0] > REL * e0  # the board's own eta cannot get to 1 %
    assert floors[1] < floors[0] / 2
    assert floors[2] < floors[1] / 2
    # a mismatch-free twin of the same board has no such floor at the board's eta
    matched = planner.edges.evolve(a_clamp_per_v=planner.edges.a_free_per_v)
    clean = Planner(planner.task, matched, eta=planner.eta, step_s=planner.step_s)
    assert np.min(clean.simulate(gates, lam0, 1e-9, horizon_s=3.0).error) < floors[2]
    board.close()


def test_planner_raises_eta_only_where_lambda_alone_cannot_reach() -> None:
    board = _typical_board()
    cfg = PlannerConfig(lams=(0.0, 0.03), switch_factors=(10.0,), horizon_s=2.0)
    planner = _exact_planner(board, cfg)
    gates = np.asarray(board.emulator.track.gates())
    e0 = float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    assert planner.etas() == pytest.approx([0.22, 0.44, 0.88, 1.0])
    assert planner.etas(at_least=0.5) == pytest.approx([0.88, 1.0])
    own = planner.plan(gates, REL * e0)
    assert own.best is None
    assert own.eta == pytest.approx(0.22)
    chosen = planner.plan_eta(gates, REL * e0)
    assert chosen.best is not None
    assert chosen.eta is not None
    assert chosen.eta > 0.22
    easy = planner.plan_eta(gates, 0.3 * e0)  # reachable at the board's eta: left alone
    assert easy.best is not None
    assert easy.eta == pytest.approx(0.22)
    # nothing reaches: the plan whose candidates get lowest, to fall back at its eta
    hopeless = planner.plan_eta(gates, 1e-6 * e0)
    assert hopeless.best is None
    assert hopeless.eta is not None
    assert lowest_error(hopeless) <= lowest_error(own)
    # no factors: eta is never changed
    fixed = _exact_planner(board, PlannerConfig(eta_factors=()))
    assert fixed.etas() == pytest.approx([0.22])
    board.close()


@pytest.mark.parametrize("field", [{"eta_factors": (0.5,)}, {"eta_max": 1.5}])
def test_bad_eta_settings_are_refused(field) -> None:
    with pytest.raises(SteerConfigError, match="eta"):
        PlannerConfig(**field)


def test_steering_raises_eta_reaches_and_restores_the_boards_eta() -> None:
    inner = _typical_board()
    board = Misbehaving(inner)
    twin = SteerTwin(edges=inner.emulator.edges, trusted=True)  # the board's own circuits
    planner = PlannerConfig(lams=(0.0, 0.03), switch_factors=(10.0,), horizon_s=2.0)
    res = steer_board(
        board,
        policy=PolicySpec(name="predictive", planner=planner),
        config=SteerConfig(tolerance_rel=REL, max_time_s=5.0),
        twin=twin,
    )
    s = res.summary
    assert s["reached"], s
    assert s["fell_back"] is None
    assert s["eta_board"] == pytest.approx(0.22)
    assert s["eta_steered"] is not None
    assert s["eta_steered"] > 0.22
    sent = [c.args["eta"] for c in board.received if c.name == "set_params" and "eta" in c.args]
    assert sent[0] == pytest.approx(s["eta_steered"])
    assert sent[-1] == pytest.approx(0.22)  # restored after the stop
    assert s["eta_final"] == "restored to 0.22"
    assert inner.emulator.eta == pytest.approx(0.22)
    assert inner.emulator.mode == "idle"
    # lambda = 0 at the board's eta does not get there; at the raised eta it does
    assert s["baseline_energy_j"] is None
    assert "does not reach" in s["baseline_note"]
    assert s["baseline_at_eta_energy_j"] is not None
    # the twin is the board: the plan at the raised eta is what the board then does
    assert s["replans"] == 0
    assert s["training_energy_j"] == pytest.approx(s["predicted_energy_j"], rel=0.15)
    assert s["training_energy_j"] < s["baseline_at_eta_energy_j"]
    board.close()


def test_a_fixed_lambda_trains_at_a_given_eta_and_the_boards_is_restored() -> None:
    """``PolicySpec(eta=...)`` for ``fixed``: the benchmark's lambda = 0 baseline at a raised
    eta (seed 0 gets to 1 % at 0.88, not at its own 0.22: see the floor test above)."""
    inner = _typical_board()
    board = Misbehaving(inner)
    twin = SteerTwin(edges=inner.emulator.edges, trusted=True)
    res = steer_board(
        board,
        policy=PolicySpec(name="fixed", lam=0.0, eta=0.88),
        config=SteerConfig(tolerance_rel=REL, max_time_s=3.0),
        twin=twin,
    )
    s = res.summary
    assert s["reached"], s
    assert s["eta_steered"] == pytest.approx(0.88)
    sent = [c.args["eta"] for c in board.received if c.name == "set_params" and "eta" in c.args]
    assert sent == pytest.approx([0.88, 0.22])  # set, then the board's own restored
    assert s["eta_final"] == "restored to 0.22"
    assert inner.emulator.eta == pytest.approx(0.22)
    board.close()


@pytest.mark.slow  # 3 s: five plans
def test_planner_takes_the_cheapest_raised_eta_not_the_first_that_reaches() -> None:
    """Seed 0 at 1 %: lambda = 0 first reaches at eta 0.44, but the plans at 0.88 and 1 are
    predicted ~30 % cheaper (the old planner stopped at 0.44). Of 0.88 and 1, within 10 % of
    each other, the lower is kept (``eta_saving``)."""
    board = _typical_board()
    cfg = PlannerConfig(lams=(0.0, 0.03), switch_factors=(10.0,), horizon_s=2.0)
    planner = _exact_planner(board, cfg)
    gates = np.asarray(board.emulator.track.gates())
    tol = REL * float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    energy = {}
    for eta in planner.etas()[1:]:
        plan = planner.plan(gates, tol, eta=eta)
        assert plan.best is not None
        energy[eta] = plan.best.energy_to_tol_j
    assert energy[0.44] > 1.2 * min(energy.values())
    chosen = planner.plan_eta(gates, tol)
    assert chosen.best is not None
    assert chosen.eta == pytest.approx(0.88)
    assert chosen.best.energy_to_tol_j == pytest.approx(energy[0.88])
    assert energy[1.0] > 0.9 * energy[0.88]  # not worth raising eta further
    greedy = _exact_planner(board, attrs.evolve(cfg, eta_saving=0.0)).plan_eta(gates, tol)
    assert greedy.eta == pytest.approx(min(energy, key=energy.__getitem__))
    board.close()
