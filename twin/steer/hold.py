"""A held board drifts: plan and board are brought back together when training resumes.

While the twin plans, a board that runs in real time is held idle (training stopped), and a
held board is not at rest: its leak and comparator offsets move its gates (on boards with
typical hidden variation the largest gate moves ~0.27 V in the first second held and reaches a
rail within ~15 s; ``benchmarks/bench_hold_drift.py``). A plan made at the start of the hold
would start from a state the board has left. When training resumes, :func:`rejoin_plan`
first writes the plan's start gates back to the board (``reset_gates`` with one value per
edge: the learned state the board had when the plan was made, read from its frames), so the
board starts where the plan does; a board that refuses (or steering told not to:
``SteerConfig.restore_gates``) is followed from where it drifted instead, the plan's schedule
simulated again from there (:meth:`~twin.steer.policies.PredictivePolicy.resync`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .meter import BoardMeter
from .policies import RESYNC_GATE_V

if TYPE_CHECKING:
    from .actions import BoardActions

__all__ = ["RESYNC_ROUNDS", "rejoin_plan", "restore_gates"]

#: Re-syncs of a plan to the held board at most per resume (each re-simulation holds it too).
RESYNC_ROUNDS = 3


def restore_gates(actions: BoardActions, meter: BoardMeter, gates_v: np.ndarray) -> bool:
    """Write ``gates_v`` (V, one per edge, clipped to the twin's rails: a reading at a rail may
    lie a little beyond it) to the held board when a gate has moved more than
    ``RESYNC_GATE_V`` from them; read on to the frame a snapshot after the acknowledgement
    names, then refill the error window. Whether the board is there now by it (counted in
    ``gate_restores``)."""
    latest = meter.latest
    cols = actions.edges.columns(len(gates_v))  # within the rails (readings may overshoot)
    low, high = float(np.max(cols["v_min_v"])), float(np.min(cols["v_max_v"]))
    target = np.clip(np.asarray(gates_v, dtype=float), low, high)
    if actions.dry_run or latest is None:
        return False
    if not float(np.max(np.abs(np.asarray(latest.gate_v) - target))) > RESYNC_GATE_V:
        return False
    ack = actions.client.send("reset_gates", {"gate_v": [round(float(g), 4) for g in target]})
    if ack is None or not ack.ok:
        return False
    # the frame a snapshot taken after the ack names is after the restore: the gates are not
    # compared (a real-time board publishes in batches, and its held gates drift on from the
    # restored ones by the time a batch's last frame is read)
    after = actions.board.snapshot(actions.config.join_timeout_s).state.seq
    if not actions._read_to(meter, lambda state: state.seq >= after):
        return False
    actions.counts["gate_restores"] += 1
    meter.book_gate_write(latest.gate_v, target)  # C dV^2 / 2 per gate, from the last reading
    meter.clear_window()  # the frames before describe the drifted board
    actions._await_window(meter)
    return True


def rejoin_plan(actions: BoardActions, meter: BoardMeter, policy: Any, *, restore: bool) -> None:
    """Start the followed plan where the held board is (see the module docstring): the
    plan's start gates restored on the board (``restore``), else, or if that failed, the plan
    re-synced to the board, again after each re-simulation (which holds a real-time board
    too), ``RESYNC_ROUNDS`` at most."""
    resync = getattr(policy, "resync", None)
    if resync is None:
        return
    start = getattr(policy, "start_gates_v", None)
    if restore and start is not None and restore_gates(actions, meter, start):
        return  # the board is where the plan starts (as it was read)
    for _ in range(RESYNC_ROUNDS):
        lam = resync(actions._observe(meter))
        if lam is None:
            return
        actions._set_eta(getattr(policy, "eta", None))
        actions._set_lam(lam)
        actions._catch_up(meter)
