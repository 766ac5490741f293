"""An emulated board training a classifier in rounds (overclamping), moved out of the emulator.

:func:`end_rounds` also closes a per-step training (:mod:`twin.board.stepwise_board`), which the
board holds in the same ``rounds`` slot.

:func:`start_rounds`, :func:`next_round` and :func:`end_rounds` drive a
:class:`~twin.board.emulator.BoardEmulator` through a
:class:`~twin.board.overclamp.RoundsState`: each round is a schedule the board follows, and the
next round starts when that schedule ends. The board's ``rounds`` attribute holds the rounds under
way (``None`` otherwise) and ``rounds_result`` the outcome of the last rounds that ended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.board.circuit import BoardCircuit
from twin.board.following import check_schedule_network
from twin.board.overclamp import ClampPolicy, RoundsResult, RoundsState
from twin.physics.task import Task
from twin.simulation.schedule import Schedule

if TYPE_CHECKING:  # the emulator calls these functions: no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = ["end_rounds", "next_round", "start_rounds"]


def start_rounds(emu: BoardEmulator, task: Task, policy: ClampPolicy) -> RoundsResult:
    """Start training ``emu`` on the classifier ``task`` in rounds under ``policy``.

    Returns the outcome so far (the first evaluation); the board goes idle at once when there is
    nothing to learn. Raises :class:`~twin.board.errors.BridgeConfigError` unless ``task`` is a
    classifier on the board's network.
    """
    check_schedule_network(Schedule(tasks=[task]), emu.task.network)
    rounds = RoundsState.start(task, policy)
    end_rounds(emu)
    emu.rounds, emu.rounds_result = rounds, None
    if not next_round(emu):
        emu.set_mode("idle")
    return rounds.result()


def next_round(emu: BoardEmulator) -> bool:
    """Start the next round; ``False`` (and the rounds closed) when training has ended."""
    rounds = emu.rounds
    assert isinstance(rounds, RoundsState)
    sub = rounds.next_task(emu.edges.device, emu.track.gates())
    if sub is None:
        end_rounds(emu)
        return False
    emu.follow(rounds.schedule(sub))
    return True


def end_rounds(emu: BoardEmulator) -> None:
    """Close a training in rounds (ended or abandoned): the board's task is the full one."""
    if emu.rounds is None:
        return
    emu.rounds_result = emu.rounds.result()
    emu.task = emu.rounds.task
    emu.circuit = BoardCircuit(emu.task)
    emu.rounds = None
    emu.track.restart(emu.t_s, task=emu.task)
