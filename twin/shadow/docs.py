"""The shadow's run documents: one run for what the board reported, one for what the twin predicted.

Both runs have kind ``shadow``; the board's has source ``board`` and energy entries of source
``board`` (method ``estimate``: the powers ``k dV^2`` of the reported voltages under the nominal
device model, integrated frame to frame), the twin's source ``twin`` (method ``integral``: the
twin's exact energies). Each start document names its peer run (``params.peer_run``), so
``twin energy compare BOARD_RUN TWIN_RUN`` sets the joules side by side, per phase and component.

Energy entries are booked per sample interval and per phase (``training``, ``inference``,
``idle``: the board's mode), components ``free_network``, ``clamped_network``, ``gate_charging``.
Divergence alarms are ``alarm`` documents of the twin's run, sent as they are raised and again
when they end (one ``seq`` per episode), so a subscribed ledger holds them at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from twin.documents import (
    Dispatcher,
    Subscriber,
    alarm_doc,
    energy_doc,
    sample_doc,
    start_doc,
    stop_doc,
)
from twin.shadow.alarms import ALARM_CODE, Alarm

__all__ = ["COMPONENTS", "RunBook", "ShadowRecorder"]

COMPONENTS = ("free_network", "clamped_network", "gate_charging")
_PHASE = {"training": "training", "inference": "inference", "idle": "idle"}


class RunBook:
    """One run's documents: samples, and energy accumulated per (phase, component)."""

    def __init__(self, dispatch: Dispatcher, source: str, method: str) -> None:
        self.dispatch = dispatch
        self.source = source
        self.method = method
        self.uid = ""
        self.seq = {"sample": 0, "energy": 0}
        self.pending: dict[tuple[str, str], float] = defaultdict(float)
        self.totals: dict[tuple[str, str], float] = defaultdict(float)
        self.t_open_s = 0.0

    def start(self, *, board: str, params: Mapping[str, Any], uid: str | None = None) -> None:
        doc = start_doc(source=self.source, kind="shadow", params=params, board=board, uid=uid)
        self.uid = doc["uid"]
        if self.dispatch:
            self.dispatch(doc)

    def add_energy(self, mode: str, component: str, energy_j: float) -> None:
        key = (_PHASE.get(mode, "idle"), component)
        self.pending[key] += max(float(energy_j), 0.0)
        self.totals[key] += max(float(energy_j), 0.0)

    def flush(self, t_s: float, data: Mapping[str, float]) -> None:
        """Emit a sample at run time ``t_s`` and the energy booked since the last flush."""
        if self.dispatch:
            values = {k: [float(v)] for k, v in data.items()}
            self.dispatch(sample_doc(self.uid, self.seq["sample"], t_s, values))
        self.seq["sample"] += 1
        if t_s > self.t_open_s:
            for (phase, component), e_j in sorted(self.pending.items()):
                if self.dispatch:
                    self.dispatch(
                        energy_doc(
                            self.uid,
                            self.seq["energy"],
                            self.t_open_s,
                            t_s,
                            e_j,
                            component=component,
                            phase=phase,
                            source=self.source,
                            method=self.method,
                        )
                    )
                self.seq["energy"] += 1
            self.pending.clear()
            self.t_open_s = t_s

    def stop(self, *, status: str, summary: Mapping[str, Any], reason: str = "") -> None:
        if self.dispatch:
            self.dispatch(stop_doc(self.uid, status=status, reason=reason, summary=summary))

    @property
    def energy_j(self) -> float:
        return float(sum(self.totals.values()))


class ShadowRecorder:
    """The board's and the twin's runs of one shadow session.

    Parameters
    ----------
    emit
        Subscriber for the documents of both runs (``None``: keep totals only).
    """

    def __init__(self, emit: Subscriber | None) -> None:
        dispatch = Dispatcher([emit] if emit is not None else [])
        self.dispatch = dispatch
        self.board = RunBook(dispatch, "board", "estimate")
        self.twin = RunBook(dispatch, "twin", "integral")
        self.alarm_seq = -1  # the last episode number given (raise and end share one)
        #: Episode numbers of the raised alarms not yet ended, by (source, start, raise time):
        #: the probe's and the gates' episodes may overlap.
        self._open_alarms: dict[tuple[str, float, float], int] = {}

    def start(self, *, board: str, params: Mapping[str, Any]) -> None:
        from uuid import uuid4

        board_uid, twin_uid = uuid4().hex, uuid4().hex
        self.board.start(board=board, params={**params, "peer_run": twin_uid}, uid=board_uid)
        self.twin.start(board=board, params={**params, "peer_run": board_uid}, uid=twin_uid)

    def stop(self, *, status: str, summary: Mapping[str, Any], reason: str = "") -> None:
        self.board.stop(status=status, summary=summary, reason=reason)
        self.twin.stop(status=status, summary=summary, reason=reason)

    def alarm(self, alarm: Alarm) -> None:
        """Send ``alarm`` (raised: ``end_s`` None; or ended) as a document of the twin's run."""
        key = (alarm.source, alarm.start_s, alarm.raised_s)
        seq = self._open_alarms.pop(key, None)
        if seq is None:  # a raise, or an end whose raise was never sent
            self.alarm_seq += 1
            seq = self.alarm_seq
        if alarm.end_s is None:
            self._open_alarms[key] = seq
        if self.dispatch:
            self.dispatch(
                alarm_doc(
                    self.twin.uid,
                    seq,
                    alarm.start_s,
                    severity="warning",
                    code=ALARM_CODE,
                    message=alarm.message(),
                    end_s=alarm.end_s,
                    board=alarm.board_id,
                )
            )
