"""Fixtures of the steering tests: small emulated boards and boards that misbehave on cue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.boards import DelegatingBoard
from twin.board.contract import Ack, Command, Update
from twin.board.errors import BridgeTimeout
from twin.board.inprocess import InProcessBoard
from twin.shadow.session import EmulationSpec, make_emulator


def emulated(seed: int = 0, rate_hz: float = 1000.0) -> InProcessBoard:
    """An in-process emulated board without hidden variation (a board the twin knows)."""
    emu = make_emulator(EmulationSpec(seed=seed, variation="none", rate_hz=rate_hz))
    return InProcessBoard(emu)


@pytest.fixture
def board() -> InProcessBoard:
    return emulated()


class Misbehaving(DelegatingBoard):
    """A Board wrapping another, misbehaving on cue.

    ``lose_ack(command)`` (applied, ack lost), ``drop(command)`` (never arrives), or
    ``on_poll(n)`` (called before the n-th poll; may restart the board or raise).
    """

    def __init__(
        self,
        inner: InProcessBoard,
        *,
        lose_ack: Callable[[Command], bool] = lambda c: False,
        drop: Callable[[Command], bool] = lambda c: False,
        on_poll: Callable[[int], None] = lambda n: None,
    ) -> None:
        super().__init__(inner)
        self.lose_ack = lose_ack
        self.drop = drop
        self.on_poll = on_poll
        self.polls = 0
        self.received: list[Command] = []

    def poll(self, timeout_s: float) -> list[Update]:
        self.polls += 1
        self.on_poll(self.polls)
        return self.inner.poll(timeout_s)

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        if self.drop(command):
            raise BridgeTimeout(f"command {command.name}: no ack (dropped)")
        self.received.append(command)
        ack = self.inner.command(command, timeout_s)
        if self.lose_ack(command):
            raise BridgeTimeout(f"command {command.name}: no ack (lost)")
        return ack


def collect() -> tuple[list[dict[str, Any]], Callable[[Any], None]]:
    docs: list[dict[str, Any]] = []
    return docs, lambda doc: docs.append(dict(doc))
