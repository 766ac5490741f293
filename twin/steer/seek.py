"""Seek a steep valley on the board: short bursts of training, each followed by an inference.

The timed stop (:mod:`twin.steer.timed_stop`) stops the board where the twin predicts the
followed plan gets there. Near a board's floor that is often the bottom of a valley a few ms
wide below the tolerance (an output swinging through its target under a lambda > 0 held), and
the calibrated twin predicts its time to within one planner step (5 ms) on about 4 of 5
schedules (typical boards in process at 1e-4 of the initial error,
``benchmarks/evidence/steer_timed/``): close, but not always inside it. With
``PlannerConfig.seek_bursts`` > 0 the board is stopped :data:`SEEK_LEAD_S` before the plan's
moment, and where the inference there does not show the tolerance, it trains on in bursts of
:data:`SEEK_BURST_S` (the board stops itself after each), each verified by inference, until one
shows the tolerance, the error has clearly passed its lowest (risen to :data:`PASSED` x the
lowest seen), or ``seek_bursts`` bursts are spent. Bounded: at most ``seek_bursts x
SEEK_BURST_S`` of training and as many inferences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actions import BoardActions
    from .meter import BoardMeter

__all__ = ["MAX_POLLS", "PASSED", "SEEK_BURST_S", "SEEK_LEAD_S", "seek_valley"]

#: The board is stopped this long before the plan's moment when it seeks, s of training.
SEEK_LEAD_S = 0.01
#: Training per burst, s (the planner's step is 5 ms; a valley below the tolerance a few ms).
SEEK_BURST_S = 0.002
#: An inference reading this many times the lowest seen, and above the one before: past it.
PASSED = 4.0


#: Polls a burst may take before it is given up (the board did not stop itself).
MAX_POLLS = 50


def _burst(actions: BoardActions, meter: BoardMeter, burst_s: float) -> bool:
    """Train for ``burst_s`` (the board stops itself) from a board held idle once the inference
    before has ended (a board started while it infers would spend its duration inferring, and
    one verified while still training would train on after it); False on a reboot, a refusal,
    the time limit, or a board that did not stop itself within :data:`MAX_POLLS` polls."""
    if not actions._hold(meter):
        return False
    if actions.t_s + burst_s >= actions.config.max_time_s:
        return False
    actions._start_training(burst_s)
    for _ in range(MAX_POLLS):
        if not actions.training or actions._reboot_pending:
            break
        updates = actions.board.poll(actions.config.poll_s)
        actions._note_self_stop(updates)
        actions._reboot_pending |= actions._ingest(meter, updates)
    return not (actions.training or actions._reboot_pending)


def seek_valley(
    actions: BoardActions, meter: BoardMeter, tol: float, first_v2: float, *, bursts: int
) -> tuple[bool, float, float]:
    """Bursts from a board stopped short of the plan's moment whose inference read
    ``first_v2`` (V^2) above ``tol``: (reached, last measured error, last predicted error)."""
    lowest = last = first_v2
    predicted = float("nan")
    for _ in range(bursts):
        if not _burst(actions, meter, SEEK_BURST_S):
            break
        actions.counts["seek_bursts"] = actions.counts.get("seek_bursts", 0) + 1
        ok, measured, predicted = actions._verify(meter, tol)
        if ok:
            return True, measured, predicted
        if measured > PASSED * lowest and measured > last:
            return False, measured, predicted
        lowest, last = min(lowest, measured), measured
    return False, last, predicted
