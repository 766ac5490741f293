"""A Board test double that passes everything to another board: subclasses misbehave on cue by
overriding what they change (poll, command)."""

from __future__ import annotations

from twin.board.contract import Ack, Board, Command, LinkCounters, Snapshot, Update

__all__ = ["DelegatingBoard"]


class DelegatingBoard:
    """Every call of the :class:`~twin.board.contract.Board` contract goes to ``inner``."""

    def __init__(self, inner: Board) -> None:
        self.inner = inner

    @property
    def board_id(self) -> str:
        return self.inner.board_id

    @property
    def counters(self) -> LinkCounters:
        return self.inner.counters

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        return self.inner.snapshot(timeout_s)

    def poll(self, timeout_s: float) -> list[Update]:
        return self.inner.poll(timeout_s)

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        return self.inner.command(command, timeout_s)

    def close(self) -> None:
        self.inner.close()
