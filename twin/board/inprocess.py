"""An emulated board in the same process, behind the :class:`~twin.board.contract.Board` contract.

:class:`InProcessBoard` runs a :class:`~twin.board.emulator.BoardEmulator` either paced by the
wall clock (``realtime=True``: board time advances ``speed`` seconds per wall second, as a
board would) or as fast as the consumer polls (``realtime=False``: each :meth:`poll` returns the
next ``chunk_s`` of board time; tests and replays of the past). The pacing lives here, not in
the emulator, so the model never reads the wall clock.

Frames carry real wall time (``wall_unix``): the time a paced frame fell due, capped at the time
it was made, or the time an unpaced frame was made; so a consumer's lag (receipt minus stamp,
same clock) is never negative. Nothing is lost in process, so the link counters only count
frames, updates and resyncs.
:meth:`restart` reboots the board (a new epoch); the next :meth:`poll` starts with a
:class:`~twin.board.contract.Resync` of reason ``restart``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import attrs

from twin.board.contract import Ack, BoardState, Command, LinkCounters, Resync, Snapshot, Update
from twin.board.emulator import BoardEmulator
from twin.board.errors import BridgeClosed, BridgeConfigError

__all__ = ["Fault", "InProcessBoard", "parse_fault"]


@attrs.frozen(kw_only=True)
class Fault:
    """A change of one edge's hidden circuit at board time ``t_s`` (see ``inject_fault``)."""

    t_s: float
    edge: int
    changes: Mapping[str, float]


_FAULT_KEYS = {
    "gain": "gain_factor",
    "free_gain": "free_gain_factor",
    "threshold": "threshold_shift_v",
    "leak": "leak_tau_s",
}


def parse_fault(spec: str) -> Fault:
    """``EDGE:KIND=VALUE@T_S`` (KIND gain, free_gain, threshold or leak), e.g. ``7:gain=3@10``."""
    try:
        where, at = spec.split("@")
        edge, change = where.split(":")
        kind, value = change.split("=")
        key = _FAULT_KEYS[kind]
        return Fault(t_s=float(at), edge=int(edge), changes={key: float(value)})
    except (ValueError, KeyError):
        raise BridgeConfigError(
            f"fault {spec!r}: expected EDGE:KIND=VALUE@T_S with KIND one of "
            f"{', '.join(_FAULT_KEYS)} (e.g. 7:gain=3@10)"
        ) from None


class InProcessBoard:
    """The :class:`~twin.board.contract.Board` of an in-process emulator.

    Parameters
    ----------
    emulator
        The board.
    realtime
        Pace board time by the wall clock (else as fast as polled).
    speed
        Board seconds per wall second when paced.
    chunk_s
        Board time returned per :meth:`poll` when not paced, s.
    faults
        Faults to inject at given board times (:class:`Fault`; emulation only).
    """

    def __init__(
        self,
        emulator: BoardEmulator,
        *,
        realtime: bool = False,
        speed: float = 1.0,
        chunk_s: float = 0.01,
        faults: Sequence[Fault] = (),
    ) -> None:
        if not speed > 0 or not chunk_s > 0:
            raise BridgeConfigError("speed and chunk_s: must be > 0")
        self.emulator = emulator
        self.realtime = realtime
        self.speed = float(speed)
        self.chunk_s = float(chunk_s)
        self._counters = LinkCounters()
        self._closed = False
        self._pending: list[Update] = []
        self._wall0 = 0.0
        self._board0 = 0.0
        self._joined = False
        self._faults = sorted(faults, key=lambda f: f.t_s)
        n = emulator.task.network.n_edges
        for fault in self._faults:
            if not 0 <= fault.edge < n:
                raise BridgeConfigError(f"fault edge: expected 0..{n - 1}, got {fault.edge}")
        self._restamp(time.time())

    def _restamp(self, now_unix: float) -> None:
        self.emulator.boot_unix = now_unix - self.emulator.t_s
        self._wall0 = time.monotonic()
        self._board0 = self.emulator.t_s

    # ------------------------------------------------------------------ Board

    @property
    def board_id(self) -> str:
        return self.emulator.config.board_id

    @property
    def counters(self) -> LinkCounters:
        return self._counters

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        self._check_open()
        return self.emulator.snapshot()

    def poll(self, timeout_s: float) -> list[Update]:
        """Frames since the last call (a :class:`Resync` first after joining or a restart)."""
        self._check_open()
        out: list[Update] = []
        if not self._joined:
            self._joined = True
            self._restamp(time.time())  # the emulated board's clock starts with its first reader
            out.append(self._resync("initial"))
        out.extend(self._pending)
        self._pending.clear()
        frames = self._frames(timeout_s) if not out else self._frames(0.0)
        self._counters.frames += len(frames)
        self._counters.updates += len(frames)
        out.extend(frames)
        return out

    def _frames(self, timeout_s: float) -> list[BoardState]:
        emu = self.emulator
        if not self.realtime:
            # As fast as polled: stamp the frames with the wall time they are made at.
            made = self._advance(emu.t_s + self.chunk_s)
            now = time.time()
            return [attrs.evolve(f, wall_unix=now) for f in made]
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            due_s = self._board0 + (time.monotonic() - self._wall0) * self.speed
            if emu.next_frame_s <= due_s:
                made = self._advance(due_s)
                now = time.time()
                return [attrs.evolve(f, wall_unix=min(f.wall_unix, now)) for f in made]
            wait_s = (emu.next_frame_s - due_s) / self.speed
            if time.monotonic() + wait_s > deadline:
                return []
            time.sleep(wait_s)  # pacing of the emulated board, not synchronisation

    def _advance(self, t_s: float) -> list[BoardState]:
        frames: list[BoardState] = []
        while self._faults and self._faults[0].t_s <= t_s:
            fault = self._faults.pop(0)
            frames += self.emulator.advance(fault.t_s)
            self.emulator.inject_fault(fault.edge, **dict(fault.changes))
        return frames + self.emulator.advance(t_s)

    def _resync(self, reason: str) -> Resync:
        self._counters.resyncs += 1
        return Resync(snapshot=self.emulator.snapshot(), reason=reason)  # type: ignore[arg-type]

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        self._check_open()
        return self.emulator.command(command)

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise BridgeClosed(f"board {self.board_id}: closed")

    # ------------------------------------------------------------------ faults

    def restart(self) -> None:
        """Reboot the board: a new epoch from board time 0 (the next poll starts with a Resync)."""
        self._check_open()
        self.emulator.boot(time.time())
        self._restamp(time.time())
        self._pending.append(self._resync("restart"))
