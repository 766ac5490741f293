"""The board model: the ``Board`` contract, the emulated laboratory board and its hidden variation.

Below the wire (:mod:`hw_bridge`), the sweeps and the shadow (:mod:`twin.shadow`), all of which
import it: :mod:`~twin.board.contract` (the ``Board`` Protocol with its state types),
:mod:`~twin.board.errors` (the bridge's error hierarchy), :mod:`~twin.board.emulator` (the board's
physics and command semantics), :mod:`~twin.board.emulator_config` (its settings and default task),
:mod:`~twin.board.following` (a schedule it follows), :mod:`~twin.board.handlers` (its command
handlers), :mod:`~twin.board.rounds` (its training in rounds), :mod:`~twin.board.faults` (faults
injected into it), :mod:`~twin.board.overclamp` (overclamping, a classifier trained in rounds),
:mod:`~twin.board.stepwise` and :mod:`~twin.board.stepwise_board` (training decided at every
step, as the lab's control loop, and as a board mode), :mod:`~twin.board.describe` (the board's
configuration document), :mod:`~twin.board.hinge` (the lab's hinge classification),
:mod:`~twin.board.bias` (each edge's learning bias estimated from board frames),
:mod:`~twin.board.variation` (hidden per-edge variation, ADC),
:mod:`~twin.board.circuit` (the board's circuit with per-edge device models),
:mod:`~twin.board.commands` (command arguments), :mod:`~twin.board.inprocess` (the emulator as an
in-process ``Board``, faults) and :mod:`~twin.board.track` (a twin run along a board's timeline).
"""

from .contract import Ack, Board, BoardConfig, BoardState, Command, LinkCounters, Resync, Snapshot
from .errors import BridgeError, BridgeTimeout, CommandRefused

__all__ = [
    "Ack",
    "Board",
    "BoardConfig",
    "BoardState",
    "BridgeError",
    "BridgeTimeout",
    "Command",
    "CommandRefused",
    "LinkCounters",
    "Resync",
    "Snapshot",
]
