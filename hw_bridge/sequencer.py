"""Sequencing of a replicated board stream, independent of the transport.

The :class:`Sequencer` applies the Clone pattern's rules to decoded messages: after a snapshot at
``seq = S`` it accepts the update ``S + 1`` next, drops updates at or below what it has (stale),
and reports a *gap* when an update or a heartbeat shows a later ``seq`` than the next expected
one, and a *restart* when the epoch changes. The caller (the ZeroMQ client, or the replayer of a
recording) then re-snapshots. It keeps the counters honest: every sequence number after the join
is either delivered or skipped by a counted resync.
"""

from __future__ import annotations

from typing import Literal

from hw_bridge.protocol import Heartbeat
from twin.board.contract import BoardState, LinkCounters, Resync, Snapshot

__all__ = ["Sequencer", "Verdict"]

#: What to do with a message: deliver it, ignore it, or re-snapshot (gap / restart).
Verdict = Literal["deliver", "stale", "gap", "restart", "ok"]

_RESYNC_REASONS = ("initial", "gap", "silence", "restart", "reconnect")


class Sequencer:
    """Track (epoch, seq) of one board's stream; count what happens on the ``counters``."""

    def __init__(self, counters: LinkCounters) -> None:
        self.counters = counters
        self.epoch: int | None = None
        self.seq = 0
        self.snapshot: Snapshot | None = None
        #: True after a gap or restart until the next snapshot arrives.
        self.stale = True
        self._left: set[int] = set()
        #: Highest seq the board announced in this epoch (updates and heartbeats).
        self.announced = 0
        self._closed_loss = 0  # unaccounted seqs of epochs already left

    @property
    def joined(self) -> bool:
        return self.epoch is not None

    def on_snapshot(self, snapshot: Snapshot, reason: str) -> Resync:
        """Adopt ``snapshot``; the :class:`Resync` to hand out."""
        if reason not in _RESYNC_REASONS:
            raise ValueError(f"resync reason {reason!r} not one of {_RESYNC_REASONS}")
        state = snapshot.state
        if self.epoch is not None and state.epoch != self.epoch:
            self._closed_loss += self._residual()
            self.announced = 0
            self._left.add(self.epoch)
            if reason != "restart":
                self.counters.restarts += 1
                reason = "restart"
        elif self.epoch is not None and state.seq > self.seq:
            self.counters.resynced_seqs += state.seq - self.seq
        if reason != "initial":
            self.counters.resyncs += 1
        self.epoch, self.seq, self.snapshot, self.stale = state.epoch, state.seq, snapshot, False
        self._announce(state.seq)
        return Resync(snapshot=snapshot, reason=reason)  # type: ignore[arg-type]

    def on_update(self, state: BoardState) -> Verdict:
        """Deliver, drop (stale) or re-snapshot (gap, restart) for one update."""
        if self.epoch is None or state.epoch in self._left:
            self.counters.dropped_stale += 1
            return "stale"
        if state.epoch != self.epoch:
            return self._restart()
        self._announce(state.seq)
        if state.seq <= self.seq or self.stale:
            self.counters.dropped_stale += 1
            return "stale"
        if state.seq != self.seq + 1:
            return self._gap()
        self.seq = state.seq
        self.counters.updates += 1
        self._account()
        return "deliver"

    def on_heartbeat(self, beat: Heartbeat) -> Verdict:
        """A heartbeat shows tail loss (its seq is ahead of ours) or a restart (new epoch)."""
        self.counters.heartbeats += 1
        if self.epoch is None or beat.epoch in self._left or self.stale:
            return "ok"
        if beat.epoch != self.epoch:
            return self._restart()
        self._announce(beat.seq)
        if beat.seq > self.seq:
            return self._gap()
        return "ok"

    def _announce(self, seq: int) -> None:
        self.announced = max(self.announced, seq)
        self._account()

    def _residual(self) -> int:
        """Seqs announced in this epoch, neither delivered nor skipped by a counted resync
        (a pending re-snapshot will cover them: none while stale)."""
        return 0 if self.stale else max(0, self.announced - self.seq)

    def _account(self) -> None:
        self.counters.undetected_loss = self._closed_loss + self._residual()

    def _gap(self) -> Verdict:
        self.counters.gaps_detected += 1
        self.stale = True
        self._account()
        return "gap"

    def _restart(self) -> Verdict:
        self.counters.restarts += 1
        self.stale = True
        self._account()
        return "restart"
