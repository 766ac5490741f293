"""Twin side of the bridge: :class:`ZmqBoard`, a :class:`~twin.board.contract.Board` over ZeroMQ.

Joining follows the Clone pattern: subscribe first (SUB to ``update`` and ``heartbeat``), wait
until the subscription carries a message, then ask the snapshot ROUTER for the full state, and
drop queued updates at or below the snapshot's ``seq``. A later ``seq`` than the next expected one
(from an update, or from a heartbeat after tail loss) is a gap: the client re-snapshots and counts
it. No message for ``missed_heartbeats`` heartbeat periods is silence: the client closes its
sockets, reconnects with exponential backoff and re-snapshots; a new epoch (board restart) gives
``Resync(reason="restart")``. Undecodable frames are counted and skipped.

Threads: none. Every socket is used only in the thread that calls :meth:`ZmqBoard.poll`,
:meth:`~ZmqBoard.snapshot` and :meth:`~ZmqBoard.command` (ZeroMQ sockets are not thread-safe, and
a background thread would only move the queue from ZeroMQ into Python). Between calls ZeroMQ
queues up to ``rcvhwm`` frames; a caller that falls further behind loses frames at the high-water
mark, which the next poll detects as a gap, never silently. Call ``poll`` at least once per
heartbeat period or so to keep silence detection prompt.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import zmq

from hw_bridge._requests import Requester
from hw_bridge._sockets import CurveClient, Endpoints, configure
from hw_bridge.codec import Message, decode, recv_frames
from hw_bridge.protocol import (
    ack_from,
    encode_command,
    encode_snapshot_request,
    heartbeat_from,
    snapshot_from,
    state_from,
)
from hw_bridge.sequencer import Sequencer
from hw_bridge.settings import ClientSettings
from twin.board.contract import Ack, Command, LinkCounters, Snapshot, Update
from twin.board.errors import (
    BridgeClosed,
    BridgeConfigError,
    BridgeTimeout,
    DecodeError,
    ProtocolVersionError,
)

__all__ = ["ClientSettings", "Tap", "ZmqBoard"]

log = logging.getLogger("hw_bridge.client")

#: Called with (source, frames, receive wall time) for every frame received: source is
#: ``"sub"`` (updates, heartbeats) or ``"snapshot"`` (replies); the recorder is a tap.
Tap = Callable[[str, list[bytes], float], None]


def _ms(seconds: float) -> int:
    """A poll timeout in whole milliseconds (rounded up, never negative)."""
    return max(0, math.ceil(seconds * 1000))


class ZmqBoard:
    """A remote board reached over ZeroMQ; satisfies :class:`~twin.board.contract.Board`.

    Parameters
    ----------
    endpoint : str or Endpoints
        Base endpoint of the board (``tcp://HOST:PORT``; see :class:`Endpoints`) or its three
        endpoints.
    board_id : str, optional
        Expected board name; a snapshot from another board raises BridgeConfigError.
    context : zmq.Context, optional
        Context to create sockets in (default: a private one, terminated by :meth:`close`).
    settings : ClientSettings
        Limits, timeouts, retries.
    curve : CurveClient, optional
        CURVE keys (the client's secret certificate and the board's public one).
    tap : Tap, optional
        Called with every frame received (recording).
    """

    def __init__(
        self,
        endpoint: str | Endpoints,
        *,
        board_id: str | None = None,
        context: zmq.Context | None = None,
        settings: ClientSettings = ClientSettings(),
        curve: CurveClient | None = None,
        tap: Tap | None = None,
    ) -> None:
        if not isinstance(endpoint, Endpoints):
            endpoint = Endpoints.from_base(endpoint)
        self.endpoints = endpoint
        self._expected_id = board_id
        self._settings = settings
        self._curve = curve
        self._tap = tap
        self._own_context = context is None
        self._ctx = zmq.Context() if context is None else context
        self._counters = LinkCounters()
        self._seq = Sequencer(self._counters)
        self._lags: deque[float] = deque(maxlen=settings.lag_window)
        self._best_rtt_s = float("inf")
        self._heartbeat_s = settings.heartbeat_s
        self._sub: zmq.Socket | None = None
        self._requests = {
            which: Requester(
                lambda: self._socket(zmq.DEALER),
                getattr(self.endpoints, which),
                limits=settings.limits,
                counters=self._counters,
                tap=tap if which == "snapshot" else None,
            )
            for which in ("snapshot", "command")
        }
        self._pending: deque[tuple[list[bytes], float]] = deque()
        self._out: list[Update] = []
        self._last_rx = time.monotonic()
        self._retry_at = 0.0
        self._backoff_s = settings.backoff_s[0]
        self._need: str | None = "initial"
        self._closed = False
        self._warned_version = False

    # ------------------------------------------------------------------ Board protocol

    @property
    def board_id(self) -> str:
        if self._seq.snapshot is not None:
            return self._seq.snapshot.config.board_id
        return self._expected_id or ""

    @property
    def counters(self) -> LinkCounters:
        """The link's tally, with lag percentiles over the recent window."""
        if self._lags:
            p50, p99 = np.percentile(np.fromiter(self._lags, float), [50, 99])
            self._counters.lag_p50_s, self._counters.lag_p99_s = float(p50), float(p99)
        return self._counters

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        """The board's configuration and state: the join snapshot if not yet joined, else a
        fresh one (which does not disturb the stream; its resyncs come through :meth:`poll`).

        Raises
        ------
        BridgeTimeout
            No reply in ``timeout_s``.
        ProtocolVersionError
            The board speaks another protocol version.
        """
        self._check_open()
        if self._sub is None or self._need == "initial":
            self._join(time.monotonic() + timeout_s)
            assert self._seq.snapshot is not None
            return self._seq.snapshot
        return self._request_snapshot(time.monotonic() + timeout_s)

    def poll(self, timeout_s: float) -> list[Update]:
        """Updates since the last call (a :class:`Resync` first after any re-snapshot)."""
        self._check_open()
        deadline = time.monotonic() + timeout_s
        while True:
            if self._sub is not None:
                self._drain()  # first: queued frames prove the board alive
            self._recover(deadline)
            if self._out or time.monotonic() >= deadline:
                break
            self._wait(deadline)
        out, self._out = self._out, []
        return out

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        """Send ``command`` and wait for its ack, retrying with the same key on a fresh socket.

        Raises
        ------
        BridgeTimeout
            No ack after every retry within ``timeout_s``.
        ProtocolVersionError
            The board speaks another protocol version.
        """
        self._check_open()
        frames = encode_command(command, board_id=self.board_id, client_unix=time.time())
        retries = self._settings.request_retries
        attempt_s = min(self._settings.request_timeout_s, timeout_s / (retries + 1))
        deadline, attempts = time.monotonic() + timeout_s, 0  # retries + 1, then until then
        while attempts <= retries or (left := deadline - time.monotonic()) > 0.05 * attempt_s:
            ask_s = attempt_s if attempts <= retries else min(attempt_s, left)
            attempts += 1
            reply = self._requests["command"].ask(frames, "ack", command.key, ask_s)
            if reply is not None:
                return ack_from(reply)
        raise BridgeTimeout(
            f"command {command.name} (key {command.key}): no ack from {self.endpoints.command} "
            f"in {timeout_s:g} s"
        )

    def close(self) -> None:
        """Close every socket (and the context if owned). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._close_sockets()
        if self._own_context:
            self._ctx.term()

    def __enter__(self) -> ZmqBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sockets

    def _check_open(self) -> None:
        if self._closed:
            raise BridgeClosed(f"board client of {self.endpoints.base} is closed")

    def _socket(self, kind: int) -> zmq.Socket:
        rcvhwm = self._settings.rcvhwm if kind == zmq.SUB else 1000
        return configure(
            self._ctx.socket(kind), sndhwm=1000, rcvhwm=rcvhwm, linger_s=0.0, curve=self._curve
        )

    def _close_sockets(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        for requester in self._requests.values():
            requester.close()
        self._pending.clear()

    def _subscribe(self) -> None:
        self._sub = self._socket(zmq.SUB)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"update")
        self._sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat")
        self._sub.connect(self.endpoints.updates)

    # ------------------------------------------------------------------ joining

    def _join(self, deadline: float) -> None:
        """Subscribe, wait for the subscription to carry a message, snapshot (Clone pattern)."""
        reason = self._need or "initial"
        self._close_sockets()
        self._subscribe()
        assert self._sub is not None
        wait_s = self._settings.missed_heartbeats * self._heartbeat_s
        if self._sub.poll(_ms(min(wait_s, deadline - time.monotonic()))):
            self._read_sub(1)
        snapshot = self._request_snapshot(deadline)
        self._adopt(snapshot, reason)

    def _adopt(self, snapshot: Snapshot, reason: str) -> None:
        if self._expected_id is not None and snapshot.config.board_id != self._expected_id:
            raise BridgeConfigError(
                f"{self.endpoints.base} serves board {snapshot.config.board_id!r}, "
                f"expected {self._expected_id!r}"
            )
        self._out.append(self._seq.on_snapshot(snapshot, reason))
        self._need = None
        self._last_rx = time.monotonic()
        self._backoff_s = self._settings.backoff_s[0]

    def _recover(self, deadline: float) -> None:
        """Join, re-snapshot or reconnect when needed (at most one attempt per backoff step)."""
        now = time.monotonic()
        silent_s = self._settings.missed_heartbeats * self._heartbeat_s
        if (
            self._need is None
            and self._sub is not None
            and now - self._last_rx > silent_s
            and not self._pending
            and not self._sub.poll(0)  # a long batch is not silence: frames are waiting
        ):
            log.warning("board %s silent; reconnecting", self.board_id or self.endpoints.base)
            self._counters.silences += 1
            self._need = "silence"
            self._retry_at = now
        if self._need is None or now < self._retry_at:
            return
        try:
            if self._need in ("gap", "restart") and self._sub is not None:
                self._adopt(self._request_snapshot(max(deadline, now + 0.05)), self._need)
            else:
                self._counters.reconnects += self._need != "initial"
                self._join(max(deadline, now + 0.05))
        except BridgeTimeout as exc:
            log.info("re-snapshot failed (%s); retrying in %.2f s", exc, self._backoff_s)
            self._retry_at = time.monotonic() + self._backoff_s
            self._backoff_s = min(2 * self._backoff_s, self._settings.backoff_s[1])

    def _request_snapshot(self, deadline: float) -> Snapshot:
        request_id = secrets.token_hex(8)
        sent_unix = time.time()
        frames = encode_snapshot_request(
            board_id=self._expected_id or "", request_id=request_id, client_unix=sent_unix
        )
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BridgeTimeout(
                    f"no snapshot from {self.endpoints.snapshot} in time "
                    "(is the board running, and is this its endpoint?)"
                )
            attempt_s = min(remaining, self._settings.request_timeout_s)
            reply = self._requests["snapshot"].ask(frames, "snapshot", request_id, attempt_s)
            if reply is None:
                continue
            if reply.type == "error":  # not ready: ask again shortly
                time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
                continue
            snapshot = snapshot_from(reply)
            self._clock_sample(sent_unix, time.time(), reply.header["board_unix"])
            return snapshot

    def _clock_sample(self, sent_unix: float, recv_unix: float, board_unix: float) -> None:
        """NTP-style offset (board clock - client clock), from the fastest exchange seen."""
        rtt_s = recv_unix - sent_unix
        if rtt_s <= self._best_rtt_s:
            self._best_rtt_s = rtt_s
            self._counters.clock_offset_s = board_unix - (sent_unix + recv_unix) / 2

    # ------------------------------------------------------------------ the stream

    def _wait(self, deadline: float) -> None:
        until = deadline
        if self._need is not None:
            until = min(until, max(self._retry_at, time.monotonic() + 0.005))
        else:
            silent_at = self._last_rx + self._settings.missed_heartbeats * self._heartbeat_s
            until = min(until, silent_at + 1e-3)
        timeout_ms = _ms(until - time.monotonic())
        if self._sub is not None:
            self._sub.poll(timeout_ms)
        else:
            time.sleep(timeout_ms / 1000)

    def _read_sub(self, limit: int) -> None:
        assert self._sub is not None
        for _ in range(limit):
            try:
                parts = recv_frames(self._sub, zmq.NOBLOCK)
            except zmq.Again:
                return
            recv_unix = time.time()
            self._last_rx = time.monotonic()
            self._counters.frames += 1
            if self._tap is not None:
                self._tap("sub", parts, recv_unix)
            self._pending.append((parts, recv_unix))

    def _drain(self) -> None:
        self._read_sub(self._settings.max_batch - len(self._pending))
        while self._pending and self._need is None:
            parts, recv_unix = self._pending.popleft()
            self._handle(parts, recv_unix)
        if self._need is not None:
            # frames read while a re-snapshot is pending are at or below the coming snapshot
            while self._pending:
                parts, recv_unix = self._pending.popleft()
                self._handle(parts, recv_unix)

    def _handle(self, parts: list[bytes], recv_unix: float) -> None:
        try:
            msg = decode(parts, self._settings.limits)
            if msg.type == "update":
                self._on_update(msg, recv_unix)
            elif msg.type == "heartbeat":
                beat = heartbeat_from(msg)
                self._heartbeat_s = beat.period_s
                self._flag(self._seq.on_heartbeat(beat))
            else:
                raise DecodeError(f"{msg.type} message on the update stream")
        except ProtocolVersionError as exc:
            self._counters.decode_errors += 1
            if not self._warned_version:
                log.warning("board stream refused: %s", exc)
                self._warned_version = True
        except DecodeError as exc:
            self._counters.decode_errors += 1
            log.debug("skipped an undecodable frame: %s", exc)

    def _on_update(self, msg: Message, recv_unix: float) -> None:
        state = state_from(msg)
        verdict = self._seq.on_update(state)
        if verdict == "deliver":
            self._out.append(state)
            self._lags.append(recv_unix - (state.wall_unix - self._counters.clock_offset_s))
        self._flag(verdict)

    def _flag(self, verdict: str) -> None:
        if verdict in ("gap", "restart") and self._need is None:
            self._need = verdict
            self._retry_at = 0.0
