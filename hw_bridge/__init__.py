"""Hardware bridge: wire protocol, ZeroMQ transport, board emulator, recorder and replay.

:mod:`hw_bridge.contract` is the one board contract (:class:`~hw_bridge.contract.Board`) that the
ZeroMQ client (:class:`ZmqBoard`), the in-process emulator and the replayer (:class:`Replayer`)
satisfy. :class:`BoardPublisher` is the board side, called by a lab's acquisition script.
``schemas/PROTOCOL.md`` describes the wire protocol.
"""

from ._sockets import CurveClient, CurveServer, Endpoints
from .client import ClientSettings, ZmqBoard
from .contract import Ack, Board, BoardConfig, BoardState, Command, LinkCounters, Resync, Snapshot
from .errors import BridgeError, BridgeTimeout, DecodeError, ProtocolVersionError
from .recorder import Recorder, Replayer
from .server import BoardPublisher, PublisherSettings

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
