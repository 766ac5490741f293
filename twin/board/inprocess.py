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

import math
import time
from collections.abc import Mapping, Sequence

import attrs

from twin.board.contract import Ack, BoardState, Command, LinkCounters, Resync, Snapshot, Update
from twin.board.emulator import BoardEmulator
from twin.board.errors import BridgeClosed, BridgeConfigError

__all__ = ["FAULT_RANGES", "Fault", "InProcessBoard", "NodeFault", "fault_spec", "parse_fault"]


#: Physical ranges of a fault's changes: amplifier gain factors (x), the threshold shift (V, the
#: transistor's threshold moves at most across the 0-5 V rails) and the leak time (s; inf: none).
FAULT_RANGES = {
    "gain_factor": (0.0, 1e3),
    "free_gain_factor": (0.0, 1e3),
    "threshold_shift_v": (-5.0, 5.0),
    "leak_tau_s": (1e-3, float("inf")),
}


def _check_changes(_inst: object, _attr: object, changes: Mapping[str, float]) -> None:
    for key, value in changes.items():
        if key not in FAULT_RANGES:
            raise BridgeConfigError(
                f"fault: unknown change {key!r}; expected {sorted(FAULT_RANGES)}"
            )
        low, high = FAULT_RANGES[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and not math.isnan(value) and low <= value <= high
        if not ok or (math.isinf(value) and key != "leak_tau_s"):
            raise BridgeConfigError(
                f"fault {key}: expected a number in [{low:g}, {high:g}], got {value!r}"
            )


def _check_time(_inst: object, _attr: object, t_s: float) -> None:
    if not (math.isfinite(t_s) and t_s >= 0):
        raise BridgeConfigError(
            f"fault time: expected a finite number of seconds >= 0, got {t_s!r}"
        )


def _check_edge(_inst: object, _attr: object, edge: int) -> None:
    if isinstance(edge, bool) or not isinstance(edge, int) or edge < 0:
        raise BridgeConfigError(f"fault edge: expected an edge index >= 0, got {edge!r}")


@attrs.frozen(kw_only=True)
class Fault:
    """A change of one edge's hidden circuit at board time ``t_s`` (see ``inject_fault``); every
    value within :data:`FAULT_RANGES`."""

    t_s: float = attrs.field(validator=_check_time)
    edge: int = attrs.field(validator=_check_edge)
    changes: Mapping[str, float] = attrs.field(validator=_check_changes)


def _check_node(_inst: object, _attr: object, node: int) -> None:
    if isinstance(node, bool) or not isinstance(node, int) or node < 0:
        raise BridgeConfigError(f"fault node: expected a node index >= 0, got {node!r}")


def _check_offset(_inst: object, _attr: object, offset_v: float) -> None:
    ok = isinstance(offset_v, int | float) and not isinstance(offset_v, bool)
    if not (ok and math.isfinite(offset_v) and abs(offset_v) <= NODE_OFFSET_MAX_V):
        raise BridgeConfigError(
            f"fault adc_offset: expected a number of volts in [-{NODE_OFFSET_MAX_V:g}, "
            f"{NODE_OFFSET_MAX_V:g}], got {offset_v!r}"
        )


#: Largest node ADC offset a fault may inject, V (the node voltages span the 0-5 V rails).
NODE_OFFSET_MAX_V = 5.0


@attrs.frozen(kw_only=True)
class NodeFault:
    """An offset of node ``node``'s ADC channel by ``offset_v`` volts from board time ``t_s``
    (see ``inject_node_fault``): the circuit is unchanged, its reading is not."""

    t_s: float = attrs.field(validator=_check_time)
    node: int = attrs.field(validator=_check_node)
    offset_v: float = attrs.field(validator=_check_offset)


_FAULT_KEYS = {
    "gain": "gain_factor",
    "free_gain": "free_gain_factor",
    "threshold": "threshold_shift_v",
    "leak": "leak_tau_s",
}


def fault_spec(fault: Fault | NodeFault) -> str:
    """The ``EDGE:KIND=VALUE@T_S`` (or ``nNODE:adc_offset=VALUE@T_S``) text of ``fault`` (what
    :func:`parse_fault` reads back)."""
    if isinstance(fault, NodeFault):
        return f"n{fault.node}:adc_offset={fault.offset_v:g}@{fault.t_s:g}"
    kinds = {key: kind for kind, key in _FAULT_KEYS.items()}
    changes = ",".join(f"{kinds.get(k, k)}={v:g}" for k, v in fault.changes.items())
    return f"{fault.edge}:{changes}@{fault.t_s:g}"


def parse_fault(spec: str) -> Fault | NodeFault:
    """``EDGE:KIND=VALUE@T_S`` (KIND gain, free_gain, threshold or leak), e.g. ``7:gain=3@10``,
    or a node ADC offset ``nNODE:adc_offset=VOLTS@T_S``, e.g. ``n5:adc_offset=0.02@10``; values
    within their ranges (one-line :class:`BridgeConfigError` naming the value)."""
    try:
        where, at = spec.split("@")
        target, change = where.split(":")
        kind, value = change.split("=")
        node = target.startswith("n") and kind == "adc_offset"
        key = "adc_offset" if node else _FAULT_KEYS[kind]
        parsed = (float(at), int(target[1:] if node else target), float(value))
    except (ValueError, KeyError):
        raise BridgeConfigError(
            f"fault {spec!r}: expected EDGE:KIND=VALUE@T_S with KIND one of "
            f"{', '.join(_FAULT_KEYS)} (e.g. 7:gain=3@10), or nNODE:adc_offset=VOLTS@T_S"
        ) from None
    try:
        if node:
            return NodeFault(t_s=parsed[0], node=parsed[1], offset_v=parsed[2])
        return Fault(t_s=parsed[0], edge=parsed[1], changes={key: parsed[2]})
    except BridgeConfigError as exc:
        raise BridgeConfigError(f"fault {spec!r}: {str(exc).removeprefix('fault ')}") from None


def check_fault_targets(faults: Sequence[Fault | NodeFault], emulator: BoardEmulator) -> None:
    """Refuse (one line) a fault whose edge or node the emulated board does not have."""
    n_edges, n_nodes = emulator.task.network.n_edges, emulator.task.network.n_nodes
    for fault in faults:
        if isinstance(fault, NodeFault):
            if not 0 <= fault.node < n_nodes:
                raise BridgeConfigError(f"fault node: expected 0..{n_nodes - 1}, got {fault.node}")
        elif not 0 <= fault.edge < n_edges:
            raise BridgeConfigError(f"fault edge: expected 0..{n_edges - 1}, got {fault.edge}")


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
        Board time returned per :meth:`poll` when not paced, and at most per poll when paced
        and behind the wall clock (a board catching up after a stall does so in chunks, so a
        caller that serves commands between polls is never held for long), s.
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
        faults: Sequence[Fault | NodeFault] = (),
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
        check_fault_targets(self._faults, emulator)
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
            return [f.restamped(now) for f in made]
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            due_s = self._board0 + (time.monotonic() - self._wall0) * self.speed
            if emu.next_frame_s <= due_s:
                made = self._advance(min(due_s, emu.next_frame_s + self.chunk_s))
                now = time.time()
                return [f.restamped(min(f.wall_unix, now)) for f in made]
            wait_s = (emu.next_frame_s - due_s) / self.speed
            if time.monotonic() + wait_s > deadline:
                return []
            time.sleep(wait_s)  # pacing of the emulated board, not synchronisation

    def due_in_s(self) -> float:
        """Wall seconds until the next frame falls due (0 when it is due; paced boards only)."""
        due_s = self._board0 + (time.monotonic() - self._wall0) * self.speed
        return max(self.emulator.next_frame_s - due_s, 0.0) / self.speed

    def _advance(self, t_s: float) -> list[BoardState]:
        frames: list[BoardState] = []
        while self._faults and self._faults[0].t_s <= t_s:
            fault = self._faults.pop(0)
            frames += self.emulator.advance(fault.t_s)
            if isinstance(fault, NodeFault):
                self.emulator.inject_node_fault(fault.node, fault.offset_v)
            else:
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
