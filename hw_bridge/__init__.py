"""Hardware bridge: wire protocol, ZeroMQ transport, board emulator, recorder and replay.

:mod:`hw_bridge.contract` is the one board contract (:class:`~hw_bridge.contract.Board`) that the
ZeroMQ client, the in-process emulator and the replayer satisfy.
"""

from .contract import Ack, Board, BoardConfig, BoardState, Command, LinkCounters, Resync, Snapshot

__all__ = [
    "Ack",
    "Board",
    "BoardConfig",
    "BoardState",
    "Command",
    "LinkCounters",
    "Resync",
    "Snapshot",
]
