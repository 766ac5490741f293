"""Typed messages of the board protocol: contract objects <-> frames.

Each ``encode_*`` returns the frames of one message (:func:`hw_bridge.codec.encode`); each
``*_from`` turns a decoded :class:`~hw_bridge.codec.Message` back into a contract object, raising
:class:`~twin.board.errors.DecodeError` when the message is of another type or inconsistent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from hw_bridge._messages import PROTOCOL_VERSION, STATE_ARRAYS
from hw_bridge.codec import Message, encode
from twin.board.contract import Ack, BoardConfig, BoardState, Command, Snapshot
from twin.board.errors import DecodeError

__all__ = [
    "Heartbeat",
    "ack_from",
    "command_from",
    "encode_ack",
    "encode_command",
    "encode_error",
    "encode_heartbeat",
    "encode_snapshot",
    "encode_snapshot_request",
    "encode_update",
    "heartbeat_from",
    "snapshot_from",
    "state_from",
]


@attrs.frozen(kw_only=True)
class Heartbeat:
    """A decoded heartbeat: the board is alive and has published up to ``seq`` in ``epoch``."""

    board_id: str
    epoch: int
    seq: int
    t_s: float
    wall_unix: float
    period_s: float


def _state_fields(state: BoardState) -> dict[str, Any]:
    return {
        "board_id": state.board_id,
        "epoch": int(state.epoch),
        "seq": int(state.seq),
        "t_s": float(state.t_s),
        "wall_unix": float(state.wall_unix),
        "mode": state.mode,
        "eta": float(state.eta),
        "lam": float(state.lam),
    }


def _state_arrays(state: BoardState) -> dict[str, np.ndarray]:
    return {name: getattr(state, name) for name in STATE_ARRAYS}


def encode_update(state: BoardState) -> list[bytes]:
    """Frames of an ``update`` message carrying ``state``."""
    return encode("update", _state_fields(state), _state_arrays(state))


def encode_heartbeat(
    *, board_id: str, epoch: int, seq: int, t_s: float, wall_unix: float, period_s: float
) -> list[bytes]:
    """Frames of a ``heartbeat``: alive, latest published ``seq``, period in seconds."""
    fields = {"board_id": board_id, "epoch": epoch, "seq": seq, "t_s": t_s}
    return encode("heartbeat", {**fields, "wall_unix": wall_unix, "period_s": period_s})


def encode_snapshot_request(
    *, board_id: str, request_id: str, client_unix: float, version: int = PROTOCOL_VERSION
) -> list[bytes]:
    """Frames of a ``snapshot_request`` (``board_id`` may be ``''``: any board)."""
    fields = {"board_id": board_id, "request_id": request_id, "client_unix": client_unix}
    return encode("snapshot_request", fields, version=version)


def encode_snapshot(
    snapshot: Snapshot, *, request_id: str, client_unix: float, board_unix: float
) -> list[bytes]:
    """Frames of a ``snapshot`` reply (configuration + state) to request ``request_id``."""
    cfg = snapshot.config
    config = {
        "network": dict(cfg.network),
        "task": dict(cfg.task),
        "params": dict(cfg.params),
        "desired_version": int(cfg.version),
    }
    fields = {
        **_state_fields(snapshot.state),
        "request_id": request_id,
        "client_unix": client_unix,
        "board_unix": board_unix,
        "config": config,
    }
    return encode("snapshot", fields, _state_arrays(snapshot.state))


def encode_command(command: Command, *, board_id: str, client_unix: float) -> list[bytes]:
    """Frames of a ``command``."""
    fields = {
        "board_id": board_id,
        "key": command.key,
        "name": command.name,
        "args": dict(command.args),
        "desired_version": command.version,
        "client_unix": client_unix,
    }
    return encode("command", fields)


def encode_ack(ack: Ack, *, board_id: str, board_unix: float) -> list[bytes]:
    """Frames of an ``ack``."""
    fields = {
        "board_id": board_id,
        "key": ack.key,
        "ok": ack.ok,
        "code": ack.code,
        "message": ack.message,
        "desired_version": int(ack.version),
        "result": dict(ack.result),
        "board_unix": board_unix,
    }
    return encode("ack", fields)


def encode_error(
    *, board_id: str, code: str, message: str, request_id: str | None = None
) -> list[bytes]:
    """Frames of an ``error`` reply (code one of the schema's error codes)."""
    fields = {
        "board_id": board_id,
        "code": code,
        "message": message,
        "supported_versions": [PROTOCOL_VERSION],
        "request_id": request_id,
    }
    return encode("error", fields)


# --------------------------------------------------------------------------- decode


def _expect(msg: Message, *types: str) -> Mapping[str, Any]:
    if msg.type not in types:
        raise DecodeError(f"expected a {' or '.join(types)} message, got {msg.type}")
    return msg.header


def state_from(msg: Message) -> BoardState:
    """The :class:`BoardState` of an ``update`` (or ``snapshot``) message."""
    h = _expect(msg, "update", "snapshot")
    return BoardState(
        board_id=h["board_id"],
        epoch=h["epoch"],
        seq=h["seq"],
        t_s=h["t_s"],
        wall_unix=h["wall_unix"],
        mode=h["mode"],
        eta=h["eta"],
        lam=h["lam"],
        **{name: msg.arrays[name] for name in STATE_ARRAYS},
    )


def _mapping(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    if not isinstance(value, dict):
        raise DecodeError(f"snapshot.config.{key}: expected a map")
    return value


def snapshot_from(msg: Message) -> Snapshot:
    """The :class:`Snapshot` of a ``snapshot`` message."""
    h = _expect(msg, "snapshot")
    config = h["config"]
    version = config.get("desired_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DecodeError("snapshot.config.desired_version: expected a non-negative integer")
    extra = set(config) - {"network", "task", "params", "desired_version"}
    if extra:
        raise DecodeError(f"snapshot.config: unknown fields {sorted(extra)}")
    board_config = BoardConfig(
        board_id=h["board_id"],
        epoch=h["epoch"],
        network=_mapping(config, "network"),
        task=_mapping(config, "task"),
        params=_mapping(config, "params"),
        version=version,
    )
    return Snapshot(config=board_config, state=state_from(msg))


def heartbeat_from(msg: Message) -> Heartbeat:
    """The :class:`Heartbeat` of a ``heartbeat`` message."""
    h = _expect(msg, "heartbeat")
    keys: Sequence[str] = ("board_id", "epoch", "seq", "t_s", "wall_unix", "period_s")
    return Heartbeat(**{key: h[key] for key in keys})


def command_from(msg: Message) -> Command:
    """The :class:`Command` of a ``command`` message."""
    h = _expect(msg, "command")
    return Command(name=h["name"], key=h["key"], args=h["args"], version=h["desired_version"])


def ack_from(msg: Message) -> Ack:
    """The :class:`Ack` of an ``ack`` message."""
    h = _expect(msg, "ack")
    return Ack(
        key=h["key"],
        ok=h["ok"],
        code=h["code"],
        message=h["message"],
        version=h["desired_version"],
        result=h["result"],
    )
