"""The steering loop on emulated boards: reaching the tolerance, dry run, reboot, interrupt,
and the planner's prediction against the twin steered as its own board."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.inprocess import InProcessBoard
from twin.board.variation import Adc
from twin.documents import validate_document
from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer import SAFE_MODE, PolicySpec, SteerConfig, steer_board
from twin.steer.planner import PlannerConfig

from .conftest import Misbehaving, collect, emulated

#: 1e-2 of the initial error: reached in ~0.3 s of board time (fast tests).
REL = 1e-2


def test_control_reaches_the_tolerance_and_leaves_the_board_idle(board) -> None:
    docs, emit = collect()
    res = steer_board(
        board, policy=PolicySpec(name="control"), config=SteerConfig(tolerance_rel=REL), emit=emit
    )
    s = res.summary
    assert s["reached"], s
    assert s["verified_error"] <= s["tolerance_v2"]
    assert s["safe_mode"] == SAFE_MODE
    assert board.emulator.mode == "idle"
    assert s["training_energy_j"] > 0
    assert s["baseline_energy_j"] > 0
    kinds = [d["doc"] for d in docs]
    assert kinds[0] == "start"
    assert kinds[-1] == "stop"
    assert "command" in kinds
    for doc in docs:
        validate_document(doc)
    names = [d["name"] for d in docs if d["doc"] == "command"]
    assert names[-2:] == ["run_inference", "stop_training"]


def test_dry_run_sends_nothing(board) -> None:
    res = steer_board(
        board,
        policy=PolicySpec(name="control"),
        config=SteerConfig(tolerance_rel=REL),
        dry_run=True,
    )
    s = res.summary
    assert board.emulator.version == 0  # the board saw no command
    assert s["commands_sent"] == 0
    assert s["commands"]["dry_run"] == 2  # set_params and start_training, shown not sent
    assert not s["reached"]


def test_reboot_mid_run_resumes_from_the_new_epoch() -> None:
    inner = emulated()

    def reboot(n: int) -> None:
        if n == 15:
            inner.restart()

    board = Misbehaving(inner, on_poll=reboot)
    s = steer_board(
        board, policy=PolicySpec(name="control"), config=SteerConfig(tolerance_rel=REL)
    ).summary
    assert s["reboots"] == 1
    assert s["reached"], s
    assert s["commands_refused"] == 0  # the client adopted the new epoch's version
    assert inner.emulator.mode == "idle"


def test_command_loss_is_retried_and_still_reaches() -> None:
    rng = np.random.default_rng(5)
    board = Misbehaving(
        emulated(), lose_ack=lambda c: rng.random() < 0.2, drop=lambda c: rng.random() < 0.2
    )
    s = steer_board(
        board, policy=PolicySpec(name="control"), config=SteerConfig(tolerance_rel=REL)
    ).summary
    assert s["reached"], s
    assert s["commands"]["retries"] > 0


def test_operator_interrupt_leaves_the_board_in_the_safe_mode() -> None:
    inner = emulated()

    def interrupt(n: int) -> None:
        if n == 10:
            raise KeyboardInterrupt

    board = Misbehaving(inner, on_poll=interrupt)
    s = steer_board(
        board, policy=PolicySpec(name="control"), config=SteerConfig(tolerance_rel=1e-4)
    ).summary
    assert s["reason"].startswith("interrupted")
    assert s["safe_mode"] == SAFE_MODE
    assert inner.emulator.mode == "idle"
    assert not s["reached"]


def test_budget_stops_training_unreached(board) -> None:
    s = steer_board(
        board,
        policy=PolicySpec(name="fixed"),
        config=SteerConfig(tolerance_rel=1e-4, budget_j=2e-5),
    ).summary
    assert not s["reached"]
    assert "budget" in s["reason"]
    assert 2e-5 <= s["training_energy_j"] < 4e-5
    assert board.emulator.mode == "idle"


def _twin_board() -> InProcessBoard:
    """A board that *is* the twin: nominal edges, noise-free 16-bit node ADC."""
    emu = make_emulator(EmulationSpec(seed=0, variation="none"))
    emu.config = emu.config.evolve(node_adc=Adc(bits=16, sigma_v=0.0))
    return InProcessBoard(emu)


def test_planner_prediction_matches_the_twin_steered_as_its_own_board() -> None:
    planner = PlannerConfig(lams=(0.0, 0.1), switch_factors=(30.0,))
    res = steer_board(
        _twin_board(),
        policy=PolicySpec(name="predictive", planner=planner),
        config=SteerConfig(tolerance_rel=REL),
    )
    s = res.summary
    assert s["reached"], s
    assert s["fell_back"] is None
    assert s["replans"] == 0
    # predicted vs measured training energy to the tolerance: the same circuit, frame-sampled
    assert s["training_energy_j"] == pytest.approx(s["predicted_energy_j"], rel=0.1)
    assert s["training_energy_j"] < s["baseline_energy_j"]


@pytest.mark.slow  # three plans on the twin: ~25 s on a loaded machine
def test_a_replan_holds_the_board() -> None:
    from twin.simulation.edge import board_edge_params
    from twin.steer.session import SteerTwin

    nominal = board_edge_params("transistor")
    cols = nominal.columns(32)
    fast = nominal.evolve(
        a_free_per_v=cols["a_free_per_v"] * 3.0, a_clamp_per_v=cols["a_clamp_per_v"] * 3.0
    )  # a twin that learns 3x too fast: the board falls behind its plan
    planner = PlannerConfig(lams=(0.0, 0.1), switch_factors=(30.0,), horizon_s=1.0)
    docs, emit = collect()
    s = steer_board(
        emulated(),
        policy=PolicySpec(name="predictive", planner=planner, max_replans=1),
        config=SteerConfig(tolerance_rel=REL),
        twin=SteerTwin(edges=fast, trusted=True),
        emit=emit,
    ).summary
    assert s["replans"] >= 1
    assert s["reached"], s
    names = [d["name"] for d in docs if d["doc"] == "command"]
    # hold at the join, then each re-plan is bracketed by stop_training ... start_training
    first_start = names.index("start_training")
    assert "stop_training" in names[first_start + 1 :]
    assert names.count("start_training") >= 2


def test_a_silent_board_ends_the_run_as_a_lost_link_and_is_still_stopped() -> None:
    class Silent(Misbehaving):
        def poll(self, timeout_s: float):
            self.polls += 1
            return [] if self.polls > 12 else self.inner.poll(timeout_s)

    inner = emulated()
    s = steer_board(
        Silent(inner),
        policy=PolicySpec(name="control"),
        config=SteerConfig(tolerance_rel=1e-4, join_timeout_s=0.3, poll_s=0.01),
    ).summary
    assert s["reason"].startswith("link lost: no state")
    assert not s["reached"]
    assert inner.emulator.mode == "idle"  # the stop went through the command path


@pytest.mark.parametrize("rel", [1e-2, pytest.param(1e-3, marks=pytest.mark.slow)])
def test_bounded_planning_chooses_what_the_exhaustive_search_chooses(rel: float) -> None:
    from twin.physics.task import task_from_dict
    from twin.simulation.edge import board_edge_params
    from twin.steer.planner import Planner

    board = emulated()
    snap = board.snapshot(5.0)
    board.close()
    gates = np.array(snap.state.gate_v)
    config = PlannerConfig(lams=(0.0, 0.1), switch_factors=(30.0, 10.0), horizon_s=1.0)

    def planner() -> Planner:
        return Planner(
            task_from_dict(snap.config.task),
            board_edge_params("transistor"),
            eta=float(snap.config.params.get("eta", snap.state.eta)),
            step_s=float(snap.config.params.get("step_s", 1e-4)),
            config=config,
        )

    full = planner()
    tol = rel * float(full._track(gates, 0.0, full.eta).readings()["error"])
    chosen = full.plan(gates, tol, bound=False).best
    assert chosen is not None
    for first in (None, 0.1):
        bounded = planner()
        best = bounded.plan(gates, tol, first=first).best
        assert best is not None
        assert best.as_dict() == chosen.as_dict()
        np.testing.assert_array_equal(best.error, chosen.error)
        assert bounded.simulated_s <= full.simulated_s  # savings: benchmarks/bench_planner.py
