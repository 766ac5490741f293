"""A ledger writer's life around a run: :func:`recording` and :func:`flush_on_signals`.

:func:`recording` wraps a :class:`~twin.ledger.writer.LedgerWriter` for one block: it closes
(flushes) it on exit and marks runs that did not get a stop document as aborted when the block
raises. :func:`flush_on_signals` makes SIGTERM/SIGINT unwind the run like an exception, so the
same path records them; the CLI installs it, importing this module installs nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from types import FrameType
from typing import Any

from .db import Ledger
from .errors import LedgerError
from .writer import LedgerWriter

__all__ = ["TerminatedBySignal", "flush_on_signals", "recording"]

log = logging.getLogger("twin.ledger")


class TerminatedBySignal(SystemExit):
    """Raised in the main thread on SIGTERM by :func:`flush_on_signals`; exit code 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name}"


@contextmanager
def flush_on_signals(
    signums: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[None]:
    """Turn SIGTERM into :class:`TerminatedBySignal` and SIGINT into ``KeyboardInterrupt``.

    The exception unwinds the run like any other: the trainer emits an ``aborted`` stop document
    and :func:`recording` flushes the writer before the process exits (code 143 for SIGTERM).
    Previous handlers are restored on exit. Outside the main thread this does nothing (Python
    only delivers signals there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise TerminatedBySignal(signum)

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def recording(ledger: Ledger, *, signals: bool = False, **options: Any) -> Iterator[LedgerWriter]:
    """A :class:`LedgerWriter` for one block; see the module docstring.

    Parameters
    ----------
    ledger
        The open ledger (stays open).
    signals
        Also install :func:`flush_on_signals` for the block (CLI commands do).
    **options
        :class:`LedgerWriter` settings.

    On normal exit the writer is closed (everything committed; a failed write raises
    :class:`~twin.ledger.LedgerError`). If the block raises, runs without a stop document are
    marked ``aborted`` with the exception as reason, the writer is closed and the exception
    propagates.
    """
    writer = LedgerWriter(ledger, **options)
    with ExitStack() as stack:
        if signals:
            stack.enter_context(flush_on_signals())
        try:
            yield writer
        except BaseException as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if writer.open_runs:
                log.warning("run(s) %s aborted: %s", ", ".join(writer.open_runs), reason)
                with suppress(LedgerError):  # a broken writer is reported by close() below
                    writer.abort_open_runs(reason)
            try:
                writer.close()
            except LedgerError as err:
                if exc.__cause__ is not err.__cause__:  # not the very error being raised
                    log.error("%s", err)
            raise
        if writer.open_runs:
            writer.abort_open_runs("the producer closed the writer without a stop document")
        writer.close()
