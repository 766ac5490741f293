"""The active probe: a short inference through the board's command path, checked against the twin.

Passive watching compares the board's gates with the twin's learning rule; an edge whose gate is
pinned at a rail, or held at a fixed point, says nothing there. An inference reveals what the
*conductance* of each edge is at the gate it holds. Every ``every_s`` of board time
:class:`InferenceProbe` sends ``run_inference`` (``schemas/PROTOCOL.md`` section 5) with one of
the task's training inputs, held for ``hold_s``; the board publishes the held state (mode
``inference``: gates, and every node voltage at the probe's inputs) and resumes what it was
doing. The twin predicts the free nodes from the *reported* gates averaged over the hold and its
calibrated device model (:meth:`~twin.board.circuit.BoardCircuit.free_response`), so the test
is of the conductance model alone, not of the learning dynamics.

**Tests and their false-alarm bound.** Over the hold each free node is read ``n`` times (the
free and clamped readings count twice when they differ). Its standard error combines the reads'
own pooled spread within the hold (at least the quantisation floor ``lsb / sqrt(12)``) over
``sqrt(n)`` with the gate readings' noise carried into the prediction by the nodes' sensitivity
to each gate (:func:`~twin.shadow.probe_stats.gate_sensitivity`). Two tests per node:

- *absolute*: the residual (mean reading minus prediction) beyond the twin's stated accuracy,
  :data:`PROBE_MODEL_V` plus the quantisation bias bound, in standard errors;
- *step*: the change of the residual since the last clean probe at the same inputs, beyond
  :data:`PROBE_STEP_REL` times the prediction's own change (the gates moved in between): the
  twin's persistent error cancels, so a fault that appears between two probes shows at the
  ADC's resolution, not the model's. A probe that alarms is no reference; the next clean one is.

A probe alarms when any score passes ``z_crit``, the Gaussian quantile of ``alpha / (2 x 2m)``
(``m`` free nodes, two tests each, Bonferroni) with ``alpha = every_s / (3600 x
false_alarm_hours)``. While the twin's node error is within those stated accuracies and the
noise is Gaussian, a fault-free board raises at most ``alpha`` false alarms per probe: one per
``false_alarm_hours`` board-hours. That premise is measured, not assumed:
``benchmarks/bench_probe.py`` counts the probe's alarms on fault-free calibrated boards and the
smallest accuracies that would have kept them silent.

**What it can and cannot reveal.** An inference holds the gates, so it sees the map from gate
voltage to conductance and the readout: threshold (and transconductance) faults, at a rail or
not, a node ADC offset, a gate ADC that misreports the gate. It cannot see how a gate *learns*:
gain faults (free, clamped, both), a dead gate (gains x0) and leaks leave the conductance at the
held gate as the twin says; those show only while the edge learns, to the passive detector. A
dead gate pinned at a rail is invisible to both until the twin's rule would take it off.

**Localisation.** On an alarm the residual is fitted, edge by edge, by a threshold shift of that
edge alone (its sensitivity from finite differences of the twin's free response): the edges
whose shift explains most of the residual are named, with the shift.

**Effect on training.** The hold pauses the board's learning for ``hold_s`` (the twin mirrors
the ``inference`` frames, so it pauses too); gates are held, not changed. The passive tracker
does not learn from a resync interval with a probe in it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from twin.board.contract import Ack, BoardState, Command
from twin.board.errors import BridgeTimeout
from twin.shadow.alarms import Alarm
from twin.shadow.commands import Commander
from twin.shadow.node_test import PROBE_MODEL_V, PROBE_STEP_REL, NodeCheck, NodeTester, check_off
from twin.shadow.probe_stats import ProbeResult
from twin.shadow.state import TwinState
from twin.shadow.threshold_track import ThresholdTrackConfig
from twin.simulation.edge import EdgeParams

__all__ = ["PROBE_MODEL_V", "PROBE_STEP_REL", "InferenceProbe", "ProbeResult", "probe_off"]

log = logging.getLogger("twin.shadow.probe")

#: Board time after the hold's end by which its frames must have arrived, s (else it is missed).
PROBE_TIMEOUT_S = 0.5
#: Wall time the probe waits for the board's acknowledgement, s (then it counts as refused).
PROBE_ACK_S = 2.0


#: The summary's probe entry of a shadow without a probe.
probe_off = check_off


class InferenceProbe(NodeCheck):
    """Sends probes through ``commander`` and tests the board's held state against the twin.

    Parameters
    ----------
    every_s
        Board time between probes, s.
    hold_s
        Hold of each probe, s (lengthened to five frame periods of a slow board).
    false_alarm_hours
        Target mean time between the probe's false alarms, board-hours.
    state
        The shadow's state (twin, task, circuit, reported frames); read only.
    commander
        Its board receives ``run_inference`` (sent without a desired-state version: the command
        is read-only, and a probe is no user's desired state, so the commander's is untouched).
    """

    def __init__(
        self,
        *,
        every_s: float,
        hold_s: float,
        false_alarm_hours: float,
        state: TwinState,
        commander: Commander,
        track: ThresholdTrackConfig | None = None,
    ) -> None:
        self.every_s = float(every_s)
        self.hold_s = float(hold_s)
        self.false_alarm_hours = float(false_alarm_hours)
        self.state = state
        self.commander = commander
        self.tester = NodeTester(
            every_s=every_s,
            false_alarm_hours=false_alarm_hours,
            state=state,
            source="probe",
            track=track,
        )
        self.sent = self.refused = self.missed = 0
        self._next_s: float | None = None
        self._pending: dict[str, Any] | None = None
        self._frames: list[BoardState] = []
        self._count = 0

    # ------------------------------------------------------------------ sending

    def maybe_send(self, params: Mapping[str, Any]) -> None:
        """Send a probe if one is due at the last reported frame (training or idle board)."""
        rep, task = self.state.reported, self.state.task
        if rep is None or task is None or self.state.track is None or self._pending is not None:
            return
        if rep.mode == "inference":
            return
        if self._next_s is None:
            self._next_s = rep.t_s + self.every_s
        if rep.t_s < self._next_s - 1e-12:
            return
        self._next_s = rep.t_s + self.every_s
        inputs = np.asarray(task.train.inputs[self._count % len(task.train.inputs)], dtype=float)
        self._count += 1
        rate = float(params.get("rate_hz", 0.0) or 0.0)
        hold = max(self.hold_s, 5.0 / rate) if rate > 0 else self.hold_s
        hold = min(hold, 60.0)
        cmd = Command(
            name="run_inference",
            key=uuid.uuid4().hex,
            args={"inputs_v": [float(x) for x in inputs], "hold_s": hold},
        )
        try:
            ack: Ack = self.commander.board.command(cmd, timeout_s=PROBE_ACK_S)
        except BridgeTimeout:
            self.refused += 1
            log.info("probe unanswered")
            return
        if not ack.ok:
            self.refused += 1
            log.info("probe refused: %s %s", ack.code, ack.message)
            return
        self.sent += 1
        self._pending = {"t_s": rep.t_s, "epoch": rep.epoch, "inputs": inputs, "hold_s": hold}
        self._frames = []

    def step(
        self,
        states: Sequence[BoardState],
        edges: EdgeParams,
        params: Mapping[str, Any],
        on_alarm: Callable[[Alarm], None],
    ) -> None:
        """Take the frames the shadow just ingested: evaluate a finished probe (an alarm raised or
        ended goes to ``on_alarm``, the shadow's alarm path), then send the next if it is due."""
        result = self.on_states(states, edges, params)
        rep = self.state.reported
        if result is not None and rep is not None:
            alarm = self.tester.feed(result, rep.board_id, rep.epoch)
            if alarm is not None:
                on_alarm(alarm)
        self.maybe_send(params)

    # ------------------------------------------------------------------ receiving

    def on_states(
        self, states: Sequence[BoardState], edges: EdgeParams, params: Mapping[str, Any]
    ) -> ProbeResult | None:
        """Collect the pending probe's held frames from ``states``; evaluate it once the board
        left the hold (or give it up after :data:`PROBE_TIMEOUT_S`)."""
        pend = self._pending
        if pend is None:
            return None
        done = False
        for s in states:
            if s.epoch != pend["epoch"]:
                done = True
                break
            held = s.mode == "inference" and np.allclose(s.inputs_v, pend["inputs"])
            if held:
                self._frames.append(s)
            elif self._frames or s.t_s > pend["t_s"] + pend["hold_s"] + PROBE_TIMEOUT_S:
                done = True
                break
        if not done:
            return None
        self._pending = None
        frames, self._frames = self._frames, []
        if not frames:
            self.missed += 1
            return None
        result = self.tester.evaluate(frames, pend["inputs"], edges, params)
        if result is None:
            self.missed += 1
        return result

    def summary(self) -> dict[str, Any]:
        """Probes sent, evaluated, refused, missed; alarms; the largest score and the setting."""
        return {
            "every_s": self.every_s,
            "hold_s": self.hold_s,
            "false_alarm_hours": self.false_alarm_hours,
            "accuracy_v": PROBE_MODEL_V,
            "accuracy_step_rel": PROBE_STEP_REL,
            "sent": self.sent,
            "evaluated": self.tester.evaluated,
            "refused": self.refused,
            "missed": self.missed,
            "alarms": len(self.monitor.alarms) + (self.monitor.active is not None),
            "score_max": self.tester.score_max,
            "z_crit": self.tester.z_crit,
            "reveals": "threshold/conductance faults at any gate (pinned ones too), node ADC",
            "blind_to": "gain faults, dead gates and leaks (they show only while an edge learns)",
            "thresholds_tracked": self.thresholds_tracked(),
        }
