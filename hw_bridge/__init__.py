"""Hardware bridge, the wire only: protocol, codec, ZeroMQ client and server, recorder and replay.

:mod:`twin.board.contract` is the one board contract (:class:`~twin.board.contract.Board`) that the
ZeroMQ client (:class:`ZmqBoard`), the in-process emulator (:mod:`twin.board`) and the replayer
(:class:`Replayer`) satisfy; its types are re-exported here. :class:`BoardPublisher` is the board
side, called by a lab's acquisition script. ``schemas/PROTOCOL.md`` describes the wire protocol.
The transport names are imported on first use, so ``import hw_bridge`` does not load ZeroMQ.
"""

from twin._lazy import lazy_attributes
from twin.board.contract import (
    Ack,
    Board,
    BoardConfig,
    BoardState,
    Command,
    LinkCounters,
    Resync,
    Snapshot,
)
from twin.board.errors import BridgeError, BridgeTimeout, DecodeError, ProtocolVersionError

_LAZY = {
    "BoardPublisher": ".server",
    "ClientSettings": ".settings",
    "CurveClient": "._sockets",
    "CurveServer": "._sockets",
    "Endpoints": "._sockets",
    "PublisherSettings": ".settings",
    "Recorder": ".recorder",
    "Replayer": ".recorder",
    "ZmqBoard": ".client",
}

__all__ = [
    "Ack",
    "Board",
    "BoardConfig",
    "BoardPublisher",
    "BoardState",
    "BridgeError",
    "BridgeTimeout",
    "ClientSettings",
    "Command",
    "CurveClient",
    "CurveServer",
    "DecodeError",
    "Endpoints",
    "LinkCounters",
    "ProtocolVersionError",
    "PublisherSettings",
    "Recorder",
    "Replayer",
    "Resync",
    "Snapshot",
    "ZmqBoard",
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
