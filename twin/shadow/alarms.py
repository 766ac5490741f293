"""Divergence alarms: raised when the board departs from the twin for longer than a hold time.

:class:`DivergenceMonitor` watches the shadow's divergence score (dimensionless: the largest
residual in units of its tolerance, :mod:`twin.shadow.shadow`). An alarm starts when the score
has stayed above ``threshold`` for ``hold_s`` seconds of board time (its ``start_s`` is when it
first went above), names the edges and nodes above threshold (most divergent first), and ends
when the score has stayed below threshold for ``clear_s``. :func:`ledger_alarm_sink` stores
finished alarms in the energy ledger's ``alarms`` table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

__all__ = ["ALARM_CODE", "Alarm", "AlarmSink", "DivergenceMonitor", "ledger_alarm_sink"]

#: The ``code`` of divergence alarms in the ledger.
ALARM_CODE = "shadow_divergence"


@attrs.frozen(kw_only=True)
class Alarm:
    """One divergence episode (times are shadow run time, s; see :class:`~.shadow.Shadow`)."""

    board_id: str
    epoch: int
    start_s: float
    raised_s: float
    end_s: float | None
    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    score_max: float
    #: What the first named edges' residuals look like, one line each (:mod:`twin.shadow.diagnose`:
    #: a gain error, a drift, a stuck gate): as raised, then refined at every sample while the
    #: alarm lasts (its end carries the last).
    likely: tuple[str, ...] = ()
    #: What raised it: ``gates`` (the passive CUSUM on gate residuals) or ``probe`` (an active
    #: inference probe's node residual, :mod:`twin.shadow.probe`).
    source: str = "gates"

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self) | {
            "edges": list(self.edges),
            "nodes": list(self.nodes),
            "likely": list(self.likely),
        }

    def message(self) -> str:
        """A one-line human-readable message carrying every field (JSON after the colon)."""
        return f"board departs from the twin: {json.dumps(self.as_dict(), separators=(',', ':'))}"


#: Receives every alarm when it is raised (``end_s`` None) and again when it ends.
AlarmSink = Callable[[Alarm], None]


def _ranked(scores: np.ndarray, threshold: float) -> list[int]:
    idx = np.flatnonzero(scores > threshold)
    return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")]]


class DivergenceMonitor:
    """Turns a score time series into alarms.

    Parameters
    ----------
    threshold
        Score above which the board diverges.
    hold_s
        Time the score must stay above threshold before an alarm is raised, s.
    clear_s
        Time the score must stay below threshold before the alarm ends, s.
    source
        The alarms' ``source`` (what raised them).
    """

    def __init__(
        self, *, threshold: float, hold_s: float, clear_s: float, source: str = "gates"
    ) -> None:
        self.source = source
        self.threshold = float(threshold)
        self.hold_s = float(hold_s)
        self.clear_s = float(clear_s)
        self.alarms: list[Alarm] = []
        self.active: Alarm | None = None
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._edges: list[int] = []
        self._nodes: list[int] = []

    def update(
        self,
        t_s: float,
        edge_scores: np.ndarray,
        node_scores: np.ndarray,
        *,
        board_id: str,
        epoch: int,
    ) -> Alarm | None:
        """Feed one comparison; returns an alarm when one is raised or ends, else ``None``."""
        score = float(max(np.max(edge_scores, initial=0.0), np.max(node_scores, initial=0.0)))
        above = score > self.threshold
        if self.active is None:
            if not above:
                self._above_since = None
                return None
            if self._above_since is None:
                self._above_since = t_s
                self._edges, self._nodes = [], []
            self._merge(edge_scores, node_scores)
            if t_s - self._above_since < self.hold_s:
                return None
            self.active = Alarm(
                board_id=board_id,
                epoch=epoch,
                start_s=self._above_since,
                raised_s=t_s,
                end_s=None,
                edges=tuple(self._edges),
                nodes=tuple(self._nodes),
                score_max=score,
                source=self.source,
            )
            self._below_since = None
            return self.active
        if above:
            self._below_since = None
            self._merge(edge_scores, node_scores)
            self.active = attrs.evolve(
                self.active,
                score_max=max(self.active.score_max, score),
                edges=tuple(self._edges),
                nodes=tuple(self._nodes),
            )
            return None
        if self._below_since is None:
            self._below_since = t_s
        if t_s - self._below_since < self.clear_s:
            return None
        return self.finish(self._below_since)

    def annotate(self, likely: tuple[str, ...]) -> None:
        """Attach what the named edges' residuals look like to the active alarm, if any (kept
        to its end)."""
        if self.active is not None:
            self.active = attrs.evolve(self.active, likely=tuple(likely))

    def _merge(self, edge_scores: np.ndarray, node_scores: np.ndarray) -> None:
        for target, scores in ((self._edges, edge_scores), (self._nodes, node_scores)):
            for i in _ranked(scores, self.threshold):
                if i not in target:
                    target.append(i)

    def finish(self, end_s: float) -> Alarm | None:
        """End the active alarm at ``end_s`` (run end, restart); returns it, or ``None``."""
        if self.active is None:
            self._above_since = None
            return None
        done = attrs.evolve(self.active, end_s=float(end_s))
        self.alarms.append(done)
        self.active = None
        self._above_since = self._below_since = None
        return done


def ledger_alarm_sink(ledger: Any, run_uid: str | None = None) -> AlarmSink:
    """A sink storing each finished alarm in the ledger (``twin.ledger.record_alarm``).

    One row per episode, written when it ends: ``t_s`` its start, ``code``
    :data:`ALARM_CODE`, the message carrying start, end, edges, nodes and score as JSON.
    """
    from twin.ledger import record_alarm

    def sink(alarm: Alarm) -> None:
        if alarm.end_s is None:
            return
        record_alarm(
            ledger,
            severity="warning",
            code=ALARM_CODE,
            message=alarm.message(),
            run_uid=run_uid,
            board=alarm.board_id,
            t_s=alarm.start_s,
        )

    return sink
