"""Per-step training (:mod:`twin.board.stepwise`) on an emulated board.

Two ways to run it on a :class:`~twin.board.emulator.BoardEmulator`, both on its hidden circuits
from its gates now:

- as the board's training mode (:func:`start_stepwise`; the wire's ``start_training`` with
  ``rounds: {"decide": "step", ...}``): the run is held in the board's ``rounds`` slot and
  advances with board time (:func:`advance_stepwise`, called by the emulator as it runs), whole
  epochs at a time; frames publish the gates as they go and the mode ``training``; the board goes
  idle when training ends, with ``rounds_result`` its :class:`~twin.board.stepwise.StepResult`.
  ``stop_training``, ``reset_gates``, ``load_task`` or another ``start_training`` abandon it; an
  inference hold is refused while it runs; a fault injected meanwhile applies from then on;
- as one block (:func:`train_stepwise`, for benchmarks): the whole training at once, the board's
  time moved on by the time trained and no frames published for it (like ``follow_schedule``, an
  emulation-only training script).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twin.board.circuit import BoardCircuit
from twin.board.errors import BridgeConfigError
from twin.board.following import check_schedule_network
from twin.board.rounds import end_rounds
from twin.board.stepwise import StepPolicy, StepResult, StepwiseRun
from twin.physics.task import Task
from twin.simulation.schedule import Schedule

if TYPE_CHECKING:  # the emulator runs these functions: no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = ["advance_stepwise", "start_stepwise", "train_stepwise"]


def _run_for(
    emu: BoardEmulator, task: Task, policy: StepPolicy, rng: np.random.Generator | None
) -> StepwiseRun:
    check_schedule_network(Schedule(tasks=[task]), emu.task.network)
    if policy.decide_by_adc and rng is None:
        raise BridgeConfigError("rng: deciding by the ADC needs a generator for its noise")
    seed = int(rng.integers(0, 2**31 - 1)) if rng is not None else 0
    gates = emu.track.gates()
    run = StepwiseRun.classifier(emu.edges, task, gates, policy, adc=emu.config.node_adc, seed=seed)
    end_rounds(emu)
    emu.following = None
    emu.inference = None
    emu.train_until_s = np.inf
    emu.task = task
    emu.circuit = BoardCircuit(task)
    return run


def start_stepwise(
    emu: BoardEmulator, task: Task, policy: StepPolicy, *, rng: np.random.Generator | None = None
) -> StepwiseRun:
    """Train ``emu`` on the classifier ``task`` point by point from now on, as board time runs.

    ``rng``: source of the decisions' ADC noise (needed with ``policy.decide_by_adc``). Raises
    :class:`~twin.board.errors.BridgeConfigError` unless ``task`` is a classifier on the board's
    network with node sources and targets.
    """
    run = _run_for(emu, task, policy, rng)
    run.t0_s = emu.t_s
    emu.rounds, emu.rounds_result = run, None
    emu.mode = "training"  # the board trains; its track holds the gates the run sets
    emu.track.restart(emu.t_s, task=task, mode="idle")
    return run


def advance_stepwise(emu: BoardEmulator, t_s: float) -> None:
    """Run the board's per-step training to board time ``t_s`` (whole epochs) or to its end.

    The track is moved to the run's gates without simulating; when training ends the board goes
    idle at that time (the emulator runs on from there).
    """
    run = emu.rounds
    assert isinstance(run, StepwiseRun)
    if run.edges is not emu.edges:  # a fault was injected
        run.set_edges(emu.edges)
    epochs = int(np.floor((t_s - run.t0_s) / run.epoch_s + 1e-9)) - run.epochs_run
    if epochs > 0:
        run.run(epochs)
    t_now = max(emu.t_s, run.t0_s + run.epochs_run * run.epoch_s) if run.done else t_s
    emu.track.reset_gates(t_now, run.gates)
    emu.t_s = t_now
    if run.done:
        end_rounds(emu)
        emu.set_mode("idle")


def train_stepwise(
    emu: BoardEmulator, task: Task, policy: StepPolicy, *, rng: np.random.Generator | None = None
) -> StepResult:
    """Train the emulated board on the classifier ``task`` point by point, as one block.

    ``rng``: as for :func:`start_stepwise`. Abandons any schedule, rounds or inference hold. The
    board is left idle on ``task`` at the gates reached, its board time moved on by
    :attr:`StepResult.board_s` (no frames are published for the block).
    """
    run = _run_for(emu, task, policy, rng)
    run.run(run.epochs_left)
    result = run.result()
    t_end = emu.t_s + result.board_s
    emu.track.reset_gates(t_end, run.gates)
    emu.t_s = t_end
    emu.mode = "idle"
    emu.track.restart(t_end, task=task, mode="idle")
    emu.restart_frames()
    return result
