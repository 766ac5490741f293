"""The steerer's command client: every command acknowledged, idempotent, counted and recorded.

:class:`CommandClient` sends :class:`~twin.board.contract.Command` objects through any
:class:`~twin.board.contract.Board` (ZeroMQ link or in-process emulator) and guarantees:

- **range-checked** before sending (:func:`~twin.steer.limits.check_command`), **rate-limited**
  (a token bucket);
- **idempotent**: each command gets one key (``<run>-<n>``); an unanswered command is retried
  with the *same* key, so a board that applied it but lost the ack answers from its memory and
  never applies it twice;
- **versioned**: commands carry the desired-state version last acknowledged; a ``stale`` refusal
  (someone else changed the board's desired state, or the board rebooted and starts again at
  version 0) is counted and the command is re-sent once under a new key on the board's version;
- **counted**: sent, acknowledged, refused (per code), stale, retried, unanswered, dry run;
- **recorded**: every command and its acknowledgement become one ``command`` document
  (``schemas/documents.schema.json``) for the subscriber given;
- ``dry_run``: nothing is sent; the document says what would have been (status ``dry_run``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from twin.board.contract import Ack, Board, Command
from twin.board.errors import BridgeTimeout
from twin.documents import Subscriber

from .errors import CommandUnanswered
from .limits import CommandLimits, RateLimiter, check_command

__all__ = ["CommandClient", "CommandCounters"]

log = logging.getLogger("twin.steer.client")


@attrs.define(kw_only=True)
class CommandCounters:
    """Tally of the command path (plain and mutable, owned by one client)."""

    sent: int = 0
    acked: int = 0
    refused: int = 0
    stale: int = 0
    retries: int = 0
    unanswered: int = 0
    dry_run: int = 0
    refused_codes: Counter[str] = attrs.field(factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        out["refused_codes"] = dict(self.refused_codes)
        return out


class CommandClient:
    """Sends commands to ``board`` (see the module docstring).

    Parameters
    ----------
    board
        The board (any :class:`~twin.board.contract.Board`).
    run
        Run uid: the ``run`` of the documents (and, by default, the keys' prefix).
    key_prefix
        Prefix of the idempotency keys (``<prefix>-<n>``; default ``run``).
    version
        Desired-state version the board reported (its snapshot's ``config.version``).
    limits
        Ranges and the rate limit.
    emit
        Receives one ``command`` document per command.
    dry_run
        Send nothing.
    timeout_s, retries
        Wait for one acknowledgement (s) and retries with the same key after no answer.
    clock
        Board time of a document (``t_s``), e.g. the steerer's latest board time.
    """

    def __init__(
        self,
        board: Board,
        *,
        run: str,
        key_prefix: str | None = None,
        version: int = 0,
        limits: CommandLimits | None = None,
        emit: Subscriber | None = None,
        dry_run: bool = False,
        timeout_s: float = 2.0,
        retries: int = 2,
        clock: Callable[[], float] = lambda: 0.0,
        rate: RateLimiter | None = None,
    ) -> None:
        self.board = board
        self.run = run
        self.key_prefix = key_prefix or run
        self.version = int(version)
        self.limits = limits if limits is not None else CommandLimits()
        self.emit = emit
        self.dry_run = dry_run
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.clock = clock
        self.rate = rate or RateLimiter(self.limits.max_rate_hz, self.limits.burst)
        self.counters = CommandCounters()
        self._n = 0

    def new_epoch(self, version: int) -> None:
        """The board rebooted (or was re-joined): adopt its desired-state version."""
        self.version = int(version)

    def _key(self) -> str:
        self._n += 1
        return f"{self.key_prefix}-{self._n:05d}"

    def send(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        must: bool = False,
        patience_s: float = 0.0,
    ) -> Ack | None:
        """Send one command; its acknowledgement (``None``: unanswered).

        ``patience_s``: keep retrying with the same key for at least this long (wall clock,
        s), beyond the ``retries`` (for the command that leaves the board safe).

        Raises
        ------
        SteerConfigError
            An argument is out of range (nothing is sent).
        CommandUnanswered
            ``must`` is set and no acknowledgement came after every retry.
        """
        args = dict(args or {})
        check_command(name, args, self.limits)
        command = Command(name=name, key=self._key(), args=args, version=self.version)
        if self.dry_run:
            self.counters.dry_run += 1
            dry = Ack(key=command.key, ok=True, code="dry_run", version=self.version)
            self._record(command, dry, "dry_run", attempts=0)
            return dry
        ack: Ack | None
        ack, attempts = self._deliver(command, patience_s)
        if ack is not None and ack.code == "stale":
            self.counters.stale += 1
            self._record(command, ack, "stale", attempts)
            log.info("command %s stale (board at version %d): re-sent", name, ack.version)
            self.version = ack.version
            command = Command(name=name, key=self._key(), args=args, version=self.version)
            ack, attempts = self._deliver(command, patience_s)
        if ack is None:
            self.counters.unanswered += 1
            self._record(command, None, "unanswered", attempts)
            if must:
                raise CommandUnanswered(f"command {name} (key {command.key}): no acknowledgement")
            return None
        if ack.ok:
            self.counters.acked += 1
            self.version = ack.version
        else:
            self.counters.refused += 1
            self.counters.refused_codes[ack.code] += 1
            log.warning("command %s refused (%s): %s", name, ack.code, ack.message)
        self._record(command, ack, "acked" if ack.ok else "refused", attempts)
        return ack

    def _deliver(self, command: Command, patience_s: float = 0.0) -> tuple[Ack | None, int]:
        """Send ``command``, retrying with its key after no answer; (ack or None, attempts)."""
        deadline = time.monotonic() + patience_s
        attempt = 0
        while True:
            attempt += 1
            self.rate.wait()
            self.counters.sent += 1
            try:
                return self.board.command(command, timeout_s=self.timeout_s), attempt
            except BridgeTimeout as exc:
                log.info("command %s: %s (attempt %d)", command.name, exc, attempt)
            if attempt > self.retries and time.monotonic() >= deadline:
                return None, attempt
            self.counters.retries += 1

    def _record(self, command: Command, ack: Ack | None, status: str, attempts: int) -> None:
        if self.emit is None:
            return
        doc: dict[str, Any] = {
            "doc": "command",
            "run": self.run,
            "seq": self._n,
            "t_s": float(self.clock()),
            "time_unix": time.time(),
            "name": command.name,
            "key": command.key,
            "args": dict(command.args),
            "version": command.version,
            "status": status,
            "attempts": attempts,
        }
        if ack is not None:
            doc["ack"] = {
                "ok": ack.ok,
                "code": ack.code,
                "message": ack.message,
                "version": ack.version,
                "result": dict(ack.result),
            }
        self.emit(doc)
