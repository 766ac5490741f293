"""The board side of steering: resetting a trained board's gates before steering (also when the
board publishes frames made before the command after acknowledging it), and booking the frames
a real-time board published while the twin planned before training resumes."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from tests.boards import DelegatingBoard
from twin.board.contract import Ack, BoardState, Command, Snapshot, Update
from twin.board.inprocess import InProcessBoard
from twin.steer import SAFE_MODE, PolicySpec, SteerConfig, steer_board
from twin.steer.planner import Planner, PlannerConfig

from .conftest import collect, emulated


class Lagging(DelegatingBoard):
    """Delivers frames ``lag`` frames late, and snapshots of the last frame delivered: a board
    that publishes frames it made before a command after acknowledging the command."""

    def __init__(self, inner: InProcessBoard, lag: int) -> None:
        super().__init__(inner)
        self.lag = lag
        self.queue: list[Update] = []
        self.last: BoardState | None = None

    def poll(self, timeout_s: float) -> list[Update]:
        self.queue += self.inner.poll(timeout_s)
        n = len(self.queue) - self.lag
        out, self.queue = (self.queue[:n], self.queue[n:]) if n > 0 else ([], self.queue)
        states = [u for u in out if isinstance(u, BoardState)]
        if states:
            self.last = states[-1]
        return out

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        snap = self.inner.snapshot(timeout_s)
        return snap if self.last is None else attrs.evolve(snap, state=self.last)


def _trained(board: InProcessBoard, board_s: float = 2.0) -> InProcessBoard:
    """``board`` after ``board_s`` of its own training from boot (the emulator autostarts)."""
    while board.emulator.t_s < board_s:
        board.poll(0.0)
    return board


def _steer(board, *, reset: bool) -> tuple[dict, list[dict]]:
    docs, emit = collect()
    s = steer_board(
        board,
        policy=PolicySpec(name="fixed"),
        config=SteerConfig(tolerance_rel=0.5, reset_gates=reset, max_time_s=0.05),
        emit=emit,
    ).summary
    return s, docs


def test_reset_gates_steers_a_trained_board_from_the_start() -> None:
    untrained = _steer(emulated(), reset=False)[0]["error_initial"]
    trained = _steer(_trained(emulated()), reset=False)[0]["error_initial"]
    assert trained < 1e-3 * untrained  # the board trained itself to its floor
    s, docs = _steer(_trained(emulated()), reset=True)
    assert abs(s["error_initial"] - untrained) < 0.05 * untrained
    resets = [d for d in docs if d["doc"] == "command" and d["name"] == "reset_gates"]
    assert len(resets) == 1
    assert resets[0]["args"] == {"gate_v": 3.0}  # the board's reset value, from its snapshot
    assert resets[0]["status"] == "acked"


def test_reset_gates_waits_for_frames_that_show_the_reset() -> None:
    untrained = _steer(emulated(), reset=False)[0]["error_initial"]
    inner = _trained(emulated())
    s, _ = _steer(Lagging(inner, lag=200), reset=True)
    assert abs(s["error_initial"] - untrained) < 0.05 * untrained


class RunsOnWhileHeld(DelegatingBoard):
    """A board whose clock runs on while the twin plans: every plan takes ``plan_s`` of board
    time, published as frames that wait in the link (``run_on``, from a patched
    :meth:`Planner.plan`); a snapshot names the latest frame published, like ``twin board``
    behind its publisher. Polled, it runs as fast as it is read (deterministic)."""

    def __init__(self, inner: InProcessBoard, *, plan_s: float) -> None:
        super().__init__(inner)
        self.inner: InProcessBoard = inner
        self.plan_s = plan_s
        self.queue: list[Update] = []

    def run_on(self) -> None:
        for _ in range(round(self.plan_s / self.inner.chunk_s)):
            self.queue += self.inner.poll(0.0)

    def poll(self, timeout_s: float) -> list[Update]:
        out, self.queue = self.queue + self.inner.poll(timeout_s), []
        return out


@pytest.fixture
def runs_on(monkeypatch: pytest.MonkeyPatch) -> RunsOnWhileHeld:
    """A :class:`RunsOnWhileHeld` board whose plans take 0.5 s of board time."""
    board = RunsOnWhileHeld(emulated(), plan_s=0.5)
    plan = Planner.plan

    def slow_plan(self: Planner, *args: Any, **kwargs: Any) -> Any:
        board.run_on()
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(Planner, "plan", slow_plan)
    return board


def test_frames_published_while_the_twin_plans_are_booked_before_training_resumes(
    runs_on: RunsOnWhileHeld,
) -> None:
    """The twin's plans take board time; the first decision after each ``start_training``
    comes a decision interval later, not the plan's backlog (0.5 s) later."""
    board = runs_on
    docs, emit = collect()
    cfg = SteerConfig(tolerance_rel=1e-2, max_time_s=30.0)
    s = steer_board(board, policy=PolicySpec(name="predictive"), config=cfg, emit=emit).summary
    assert s["reached"], s
    uid = docs[0]["uid"]
    commands = [d for d in docs if d["doc"] == "command"]
    starts = [d["t_s"] for d in commands if d["name"] == "start_training"]
    samples = sorted(d["t_s"] for d in docs if d["doc"] == "sample" and d["run"] == uid)
    assert starts
    assert starts[0] >= runs_on.plan_s  # the first plan took board time
    for t in starts:
        first = next(x for x in samples if x >= t)
        assert first - t <= 2 * cfg.decision_s, (t, first)


def test_the_time_limit_counts_holds_and_stops_a_plan_in_progress(
    runs_on: RunsOnWhileHeld,
) -> None:
    """The board's clock runs while the twin plans (the board held); a limit passed then ends
    the run during the plan, not at the next decision after it (training never started)."""
    board = runs_on
    docs, emit = collect()
    cfg = SteerConfig(tolerance_rel=1e-2, max_time_s=0.1)
    s = steer_board(board, policy=PolicySpec(name="predictive"), config=cfg, emit=emit).summary
    assert not s["reached"]
    assert s["reason"].startswith("time limit 0.1 s of board time (holds included)"), s["reason"]
    assert "planning" in s["reason"]
    names = [d["name"] for d in docs if d["doc"] == "command"]
    assert "start_training" not in names  # stopped within the first plan
    assert s["training_energy_j"] == 0.0  # (the board trained from boot until the join)
    assert s["board_time_s"] < runs_on.plan_s + 0.1  # not two plans, nor training
    assert s["safe_mode"] == SAFE_MODE


def test_a_board_clock_stopped_while_held_spends_no_board_time_planning() -> None:
    """A board that makes its frames when polled (its clock stops while held) reaches the
    tolerance under a limit shorter than the wall time its plans take."""
    s = steer_board(
        emulated(),
        policy=PolicySpec(name="predictive"),
        config=SteerConfig(tolerance_rel=1e-2, max_time_s=1.0),
    ).summary
    assert s["reached"], s
    assert s["board_time_s"] < 1.0


def test_a_tolerance_below_the_boards_measurement_floor_ends_the_run_at_once() -> None:
    """A board that trained itself to its floor, asked for 1e-3 of its error: its readings
    cannot show that error (the floor estimate is the node ADC's, noise and quantisation over
    the window); the run ends before training, saying so, instead of chasing noise."""
    board = _trained(emulated())
    docs, emit = collect()
    s = steer_board(
        board,
        policy=PolicySpec(name="predictive"),
        config=SteerConfig(tolerance_rel=1e-3),
        emit=emit,
    ).summary
    adc = board.emulator.config.node_adc
    n_out = 2  # the emulated board's task: two target outputs
    expected = n_out * adc.error_sigma_v**2 / SteerConfig(tolerance_rel=0.5).window
    assert expected / 3 < s["measurement_floor_v2"] < 3 * expected
    assert s["error_initial"] < 10 * s["measurement_floor_v2"]  # the error is the floor
    assert not s["reached"]
    assert "below the board's measurement floor" in s["reason"]
    names = [d["name"] for d in docs if d["doc"] == "command"]
    assert "start_training" not in names
    assert s["safe_mode"] == SAFE_MODE
    fresh = steer_board(
        emulated(), policy=PolicySpec(name="fixed"), config=SteerConfig(tolerance_rel=0.5)
    ).summary
    assert fresh["measurement_floor_v2"] < 1e-5 * fresh["error_initial"]


def test_a_dry_run_with_reset_gates_sends_nothing() -> None:
    board = _trained(emulated())
    version = board.emulator.version
    s = steer_board(
        board,
        policy=PolicySpec(name="predictive"),
        config=SteerConfig(tolerance_rel=1e-2, reset_gates=True),
        dry_run=True,
    ).summary
    assert board.emulator.version == version  # the board saw no command
    assert s["commands_sent"] == 0
    assert s["error_initial"] < 1e-6  # the trained board's error: its gates were not reset


class HostStalls(DelegatingBoard):
    """The host stalls once, ``after`` polls into the first training: the board runs on for
    ``stall_s`` meanwhile, and the next poll brings all its frames at once."""

    def __init__(self, inner: InProcessBoard, *, after: int, stall_s: float) -> None:
        super().__init__(inner)
        self.inner: InProcessBoard = inner
        self.after = after
        self.stall_s = stall_s
        self.polls_training: int | None = None

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        if command.name == "start_training" and self.polls_training is None:
            self.polls_training = 0
        return self.inner.command(command, timeout_s)

    def poll(self, timeout_s: float) -> list[Update]:
        if self.polls_training is not None:
            self.polls_training += 1
            if self.polls_training == self.after:
                out: list[Update] = []
                for _ in range(round(self.stall_s / self.inner.chunk_s)):
                    out += self.inner.poll(0.0)
                return out
        return self.inner.poll(timeout_s)


def test_the_board_stops_itself_at_the_plans_phase_end_when_the_host_stalls() -> None:
    """Predictive training is started for the plan's time to the end of its phase (x1.25 plus
    30 ms): a host that stalls for a second does not leave the board training unsteered for a
    second; it finds the board stopped, and starts it again for the rest of the plan."""
    board = HostStalls(emulated(), after=3, stall_s=1.0)
    docs, emit = collect()
    planner = PlannerConfig(lams=(0.0, 0.1), switch_factors=(30.0,))  # few candidates: fast
    s = steer_board(
        board,
        policy=PolicySpec(name="predictive", planner=planner),
        config=SteerConfig(tolerance_rel=1e-3),
        emit=emit,
    ).summary
    assert s["reached"], s
    starts = [d for d in docs if d["doc"] == "command" and d["name"] == "start_training"]
    assert all("duration_s" in d["args"] for d in starts)
    first = starts[0]["args"]["duration_s"]
    assert first < 0.5  # the plan's first phase (~0.2 s), not the stall
    assert s["training_time_s"] < 0.8  # without the board's own stop: > 1 s (the stall)
    assert s["training_energy_j"] < 0.5 * s["baseline_energy_j"]
