"""The board side of steering: resetting a trained board's gates before steering (also when the
board publishes frames made before the command after acknowledging it), and booking the frames
a real-time board published while the twin planned before training resumes."""

from __future__ import annotations

import time

import attrs

from tests.boards import DelegatingBoard
from twin.board.contract import Ack, BoardState, Command, Snapshot, Update
from twin.board.inprocess import InProcessBoard
from twin.steer import SAFE_MODE, PolicySpec, SteerConfig, steer_board
from twin.steer.steerer import TIME_CHECK_S

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
    """A board whose clock runs on between polls, by wall time (the twin planning), publishing
    frames that wait in the link; polled, it runs as fast as it is read. A command or a
    snapshot first makes the frames due (so a command acts at the board time it is sent, and a
    snapshot names the latest frame published), like ``twin board`` behind its publisher."""

    def __init__(self, inner: InProcessBoard, *, cap_s: float = 5.0) -> None:
        super().__init__(inner)
        self.inner: InProcessBoard = inner
        self.queue: list[Update] = []
        self.cap_s = cap_s
        self.read_wall = time.monotonic()

    def _run_on(self) -> None:
        elapsed_s = min(time.monotonic() - self.read_wall, self.cap_s)
        for _ in range(int(elapsed_s / self.inner.chunk_s)):
            self.queue += self.inner.poll(0.0)
        self.read_wall = time.monotonic()

    def poll(self, timeout_s: float) -> list[Update]:
        out, self.queue = self.queue + self.inner.poll(timeout_s), []
        self.read_wall = time.monotonic()
        return out

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        self._run_on()
        return self.inner.snapshot(timeout_s)

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        self._run_on()
        return self.inner.command(command, timeout_s)


def test_frames_published_while_the_twin_plans_are_booked_before_training_resumes() -> None:
    """The twin's plans take wall (= board) time; the first decision after each
    ``start_training`` comes a decision interval later, not the plan's backlog later."""
    board = RunsOnWhileHeld(emulated())
    docs, emit = collect()
    cfg = SteerConfig(tolerance_rel=1e-2, max_time_s=30.0)
    s = steer_board(board, policy=PolicySpec(name="predictive"), config=cfg, emit=emit).summary
    assert s["reached"], s
    uid = docs[0]["uid"]
    commands = [d for d in docs if d["doc"] == "command"]
    starts = [d["t_s"] for d in commands if d["name"] == "start_training"]
    samples = sorted(d["t_s"] for d in docs if d["doc"] == "sample" and d["run"] == uid)
    assert starts
    assert starts[0] > 0.05  # the first plan took board time (else nothing is tested)
    for t in starts:
        first = next(x for x in samples if x >= t)
        assert first - t <= 2 * cfg.decision_s, (t, first)


def test_the_time_limit_counts_holds_and_stops_a_plan_in_progress() -> None:
    """The board's clock runs while the twin plans (the board held); a limit passed then ends
    the run during the plan, not at the next decision after it (training never started)."""
    board = RunsOnWhileHeld(emulated())
    docs, emit = collect()
    cfg = SteerConfig(tolerance_rel=1e-2, max_time_s=0.1)
    s = steer_board(board, policy=PolicySpec(name="predictive"), config=cfg, emit=emit).summary
    assert not s["reached"]
    assert s["reason"].startswith("time limit 0.1 s of board time (holds included)"), s["reason"]
    assert "planning" in s["reason"]
    names = [d["name"] for d in docs if d["doc"] == "command"]
    assert "start_training" not in names  # stopped within the first plan
    assert s["training_energy_j"] == 0.0  # (the board trained from boot until the join)
    assert s["board_time_s"] < cfg.max_time_s + TIME_CHECK_S + 0.3
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
