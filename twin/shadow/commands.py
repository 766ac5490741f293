"""Commands from the shadow to its board, and the desired state they set.

:class:`Commander` sends :class:`~twin.board.contract.Command` s carrying the desired-state
version last seen (the board refuses an older one as ``stale``) and keeps the
:class:`~twin.shadow.state.DesiredState`: what users asked the board for. A board snapshot
tells the version and settings the board holds (:meth:`Commander.on_snapshot`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from twin.board.contract import Ack, Board, Command
from twin.shadow.state import DesiredState

__all__ = ["Commander"]


class Commander:
    """Sends commands to ``board`` and tracks the desired state."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.desired = DesiredState()

    def on_snapshot(self, version: int, params: Mapping[str, Any]) -> None:
        """The board's snapshot: its desired-state version and settings."""
        self.desired = attrs.evolve(self.desired, version=version, params=dict(params))

    def send(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        timeout_s: float = 5.0,
    ) -> Ack:
        """Send a command carrying the desired version last seen; track the desired state.

        A refused command (``ack.ok`` False, e.g. ``stale``) leaves the desired state as it was.
        """
        cmd = Command(
            name=name,
            key=key or uuid.uuid4().hex,
            args=dict(args or {}),
            version=self.desired.version,
        )
        ack = self.board.command(cmd, timeout_s=timeout_s)
        if ack.ok:
            params = {
                **self.desired.params,
                **(ack.result if name == "set_params" else {}),
            }
            self.desired = DesiredState(
                version=ack.version, params=params, last_key=cmd.key, last_command=name
            )
        return ack
