"""The one board contract: what the twin sees of a board, whoever the board is.

Three implementations satisfy :class:`Board`: the ZeroMQ client of a remote board (a lab's
acquisition host or ``twin board``), the in-process board emulator, and a replayer of a recorded
stream. The shadow never knows which one it has.

State replication follows the ZeroMQ guide's Clone pattern: a board boots into an *epoch* (a
random 64-bit id per boot) and numbers every state it publishes with a strictly increasing
``seq`` within that epoch. A :class:`Snapshot` is the full configuration plus the state at one
``seq``; :class:`BoardState` updates follow it. What the board *reported* (these types), what the
twin *predicts* and what a user *desires* (commands) are kept apart, each versioned.

Units: volts (``*_v``), seconds (``*_s``), wall-clock seconds since the epoch (``*_unix``).
Arrays are float64, read-only.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import attrs
import numpy as np

__all__ = [
    "MODES",
    "Ack",
    "Board",
    "BoardConfig",
    "BoardState",
    "Command",
    "LinkCounters",
    "Resync",
    "Snapshot",
    "Update",
]

#: What the board is doing: idle (gates held), training (learning rule on), inference (inputs
#: applied, learning rule off).
MODES = ("idle", "training", "inference")
Mode = Literal["idle", "training", "inference"]


def _immutable(arr: np.ndarray) -> bool:
    """True when nobody can change ``arr``: read-only, and its memory is a read-only array of
    its own or an immutable ``bytes`` (a decoded wire buffer)."""
    if arr.flags.writeable:
        return False
    owner: Any = arr
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return isinstance(owner, bytes) or (isinstance(owner, np.ndarray) and owner is arr)


def _ro(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and _immutable(value):
        return value  # shared, never copied: nobody can write to it
    arr = np.array(value, dtype=np.float64)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class BoardState:
    """One published state of a board (one ``update`` message).

    Attributes
    ----------
    board_id : str
        Name of the board.
    epoch : int
        Boot id (changes when the board restarts; unsigned 64-bit).
    seq : int
        Sequence number within the epoch, strictly increasing from 1.
    t_s : float
        Board time since boot, seconds (the board's own clock).
    wall_unix : float
        Host wall time when the state was measured, seconds since the epoch.
    mode : str
        One of :data:`MODES`.
    gate_v : ndarray (E,)
        Gate voltage of every edge, volts.
    v_free_v, v_clamped_v : ndarray (N,)
        Node voltages of the free and the clamped network, volts.
    inputs_v : ndarray (n_sources,)
        Applied source values, volts.
    targets_v : ndarray (n_targets,)
        Desired target values, volts.
    eta, lam : float
        Nudge amplitude and power-minimisation weight in force.
    """

    board_id: str
    epoch: int
    seq: int
    t_s: float
    wall_unix: float
    mode: str
    gate_v: np.ndarray = attrs.field(converter=_ro)
    v_free_v: np.ndarray = attrs.field(converter=_ro)
    v_clamped_v: np.ndarray = attrs.field(converter=_ro)
    inputs_v: np.ndarray = attrs.field(converter=_ro)
    targets_v: np.ndarray = attrs.field(converter=_ro)
    eta: float
    lam: float

    def restamped(self, wall_unix: float) -> BoardState:
        """This state stamped ``wall_unix``: what ``attrs.evolve(self, wall_unix=...)`` gives
        (the same read-only arrays, shared), without running the array converters again."""
        new = object.__new__(BoardState)
        for name, value in zip(_STATE_FIELDS, _state_values(self), strict=True):
            _set(new, name, value)
        _set(new, "wall_unix", wall_unix)
        return new


_STATE_FIELDS = tuple(f.name for f in attrs.fields(BoardState))
_state_values = operator.attrgetter(*_STATE_FIELDS)
_set = object.__setattr__


def prebuilt_state(**fields: Any) -> BoardState:
    """``BoardState(**fields)`` for a publisher whose arrays are already read-only float64
    that nobody writes (the emulator's frames): the same state, without running the array
    converters."""
    new = object.__new__(BoardState)
    for name in _STATE_FIELDS:
        _set(new, name, fields[name])
    return new


@attrs.frozen(kw_only=True)
class BoardConfig:
    """What a late joiner needs besides the state: topology, task and parameters.

    ``network`` is a ``twin.network/1`` dict and ``task`` a ``twin.task/1`` dict
    (``schemas/``); ``params`` holds the board's settings in physical units (``eta``, ``lam``,
    ``step_s``, ``rate_hz``, ...), and ``version`` the desired-state version the board has
    accepted (commands carrying an older version are refused).
    """

    board_id: str
    epoch: int
    network: Mapping[str, Any]
    task: Mapping[str, Any]
    params: Mapping[str, Any]
    version: int = 0


@attrs.frozen(kw_only=True)
class Snapshot:
    """Full configuration and the state it corresponds to (``state.seq``)."""

    config: BoardConfig
    state: BoardState


@attrs.frozen(kw_only=True)
class Resync:
    """The stream restarted from a new snapshot (late join, gap, silence or board restart)."""

    snapshot: Snapshot
    reason: Literal["initial", "gap", "silence", "restart", "reconnect"]


#: What :meth:`Board.poll` yields, in order.
Update = BoardState | Resync


@attrs.frozen(kw_only=True)
class Command:
    """A request to the board (desired state). ``key`` makes it idempotent under retry.

    ``name`` is one of ``load_task``, ``start_training``, ``stop_training``, ``set_params``,
    ``reset_gates``, ``run_inference``; ``args`` its arguments; ``version`` the desired-state
    version the sender last saw (a stale one is refused with ``Ack(ok=False, code="stale")``).
    """

    name: str
    key: str
    args: Mapping[str, Any] = attrs.field(factory=dict)
    version: int | None = None


@attrs.frozen(kw_only=True)
class Ack:
    """The board's answer to a :class:`Command` (the same ``key``)."""

    key: str
    ok: bool
    code: str = "ok"
    message: str = ""
    version: int = 0
    result: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class LinkCounters:
    """What happened on the link (a plain, mutable tally owned by the board implementation).

    ``resyncs`` counts re-snapshots after the first (gap, silence, restart); ``resynced_seqs``
    the sequence numbers such re-snapshots skipped over within an epoch (accounted, not
    delivered as updates); ``restarts`` the new epochs seen. Within one epoch every ``seq`` after
    the join is either delivered (``updates``) or in ``resynced_seqs``: a publisher that sent
    ``n`` states after the join has ``n - updates - resynced_seqs == 0``. ``undetected_loss``
    is the board's own count against that: sequence numbers it announced (in updates and
    heartbeats) that were neither delivered nor skipped by a counted resync; it must stay 0.
    """

    frames: int = 0
    updates: int = 0
    gaps_detected: int = 0
    resyncs: int = 0
    decode_errors: int = 0
    dropped_stale: int = 0
    heartbeats: int = 0
    silences: int = 0
    reconnects: int = 0
    lag_p50_s: float = 0.0
    lag_p99_s: float = 0.0
    clock_offset_s: float = 0.0
    resynced_seqs: int = 0
    restarts: int = 0
    undetected_loss: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return attrs.asdict(self)


@runtime_checkable
class Board(Protocol):
    """A board as the twin sees it: snapshot, updates, commands, close."""

    @property
    def board_id(self) -> str: ...

    @property
    def counters(self) -> LinkCounters: ...

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        """The current configuration and state (blocking up to ``timeout_s``)."""
        ...

    def poll(self, timeout_s: float) -> list[Update]:
        """Updates since the last call, in order; waits up to ``timeout_s`` for the first.

        A :class:`Resync` comes first after a join, and again whenever the implementation had to
        re-snapshot (gap, silence, restart); updates at or below a snapshot's ``seq`` are never
        returned. An empty list means nothing arrived in time.
        """
        ...

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        """Send a command and wait for its acknowledgement."""
        ...

    def close(self) -> None: ...
