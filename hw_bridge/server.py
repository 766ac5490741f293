"""Board side of the bridge: :class:`BoardPublisher`, called by a lab's acquisition script.

A lab bridges its existing host loop with a few lines::

    with BoardPublisher("lab-board-1", network=net_doc, handler=apply_command) as pub:
        print("twin shadow --connect", pub.endpoints.base)
        while running:
            pub.publish_measurement(t_s=t, gate_v=g, v_free_v=vf, v_clamped_v=vc,
                                    inputs_v=x, targets_v=y, eta=eta, lam=lam, mode="training")

Sockets (Clone pattern of the ZeroMQ guide): a PUB for ``update`` and ``heartbeat`` messages, a
ROUTER answering ``snapshot_request`` with the configuration and latest state, and a ROUTER taking
``command`` messages and answering with ``ack``. The publisher draws a random 64-bit *epoch* when
it starts and numbers every published state ``seq = 1, 2, ...``; heartbeats carry the latest
``seq``.

Threads: :meth:`BoardPublisher.publish` runs in the caller's thread and sends on the PUB socket
under a lock; one background I/O thread answers snapshot and command requests and sends the
heartbeats (on the same PUB socket, under the same lock, so a heartbeat never overtakes the update
it counts). The command handler runs in that I/O thread: it must return quickly and be safe to
call concurrently with the lab's loop (e.g. put the command on a queue the loop reads).
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import zmq

from hw_bridge._messages import PROTOCOL_VERSION
from hw_bridge._sockets import CurveServer, bind_all, configure
from hw_bridge.codec import decode, send_frames
from hw_bridge.desk import CommandDesk, CommandHandler
from hw_bridge.protocol import (
    command_from,
    encode_ack,
    encode_error,
    encode_heartbeat,
    encode_snapshot,
    encode_update,
)
from hw_bridge.settings import PublisherSettings
from twin.board.contract import BoardConfig, BoardState, Command, Snapshot
from twin.board.errors import (
    BridgeClosed,
    BridgeConfigError,
    DecodeError,
    ProtocolVersionError,
)

__all__ = ["BoardPublisher", "PublisherSettings"]

log = logging.getLogger("hw_bridge.server")


class BoardPublisher:
    """Publish a board's states; serve snapshots and commands (see the module docstring).

    Parameters
    ----------
    board_id : str
        Name of the board (at most 64 characters).
    network : mapping
        Topology, a ``twin.network/1`` document.
    task, params : mapping, optional
        Task loaded on the board (``twin.task/1``) and settings in physical units.
    handler : CommandHandler, optional
        Applies commands; without one every command is refused with code ``unsupported``.
    bind : str
        Base endpoint (``tcp://127.0.0.1:0``: loopback, ports chosen by the OS; see
        :attr:`endpoints`).
    context : zmq.Context, optional
        Context to create sockets in (default: a private one, terminated by :meth:`close`).
    settings : PublisherSettings
        Heartbeat period, HWMs, linger, idempotency cache, decoding limits.
    curve : CurveServer, optional
        CURVE encryption and, with ``clients_dir``, client authentication.
    epoch : int, optional
        Boot id (default: 64 random bits; tests pass one).
    """

    def __init__(
        self,
        board_id: str,
        *,
        network: Mapping[str, Any],
        task: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        handler: CommandHandler | Callable[[Command], Mapping[str, Any] | None] | None = None,
        bind: str = "tcp://127.0.0.1:0",
        context: zmq.Context | None = None,
        settings: PublisherSettings = PublisherSettings(),
        curve: CurveServer | None = None,
        epoch: int | None = None,
    ) -> None:
        if not 0 < len(board_id) <= 64:
            raise BridgeConfigError(f"board_id {board_id!r}: expected 1-64 characters")
        self._board_id = board_id
        self._settings = settings
        self._epoch = secrets.randbits(64) if epoch is None else int(epoch)
        config = BoardConfig(
            board_id=board_id,
            epoch=self._epoch,
            network=dict(network),
            task=dict(task or {}),
            params=dict(params or {}),
            version=0,
        )
        self._seq = 0
        self._latest: BoardState | None = None
        self._desk = CommandDesk(config, handler, cache_size=settings.idempotency_cache)
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._closed = False
        self._stats = {"snapshots": 0, "bad_requests": 0}
        self._own_context = context is None
        self._ctx = zmq.Context() if context is None else context
        self._auth: Any = None  # zmq.auth.thread.ThreadAuthenticator when clients are checked
        self._open_sockets(bind, curve)
        self._thread = threading.Thread(target=self._serve, name=f"board-{board_id}", daemon=True)
        self._thread.start()

    def _open_sockets(self, bind: str, curve: CurveServer | None) -> None:
        s = self._settings
        self._sockets: list[zmq.Socket] = []

        def socket(kind: int, *, limits: bool = True) -> zmq.Socket:
            sock = self._ctx.socket(kind)
            self._sockets.append(sock)
            if limits:
                configure(sock, sndhwm=s.sndhwm, rcvhwm=s.rcvhwm, linger_s=s.linger_s, curve=curve)
            return sock

        try:
            self._pub = socket(zmq.PUB)
            self._snap = socket(zmq.ROUTER)
            self._cmd = socket(zmq.ROUTER)
            self._wake_rx = socket(zmq.PAIR, limits=False)
            self._wake_tx = socket(zmq.PAIR, limits=False)
            wake = f"inproc://hw-bridge-wake-{id(self)}-{secrets.token_hex(4)}"
            self._wake_rx.bind(wake)
            self._wake_tx.connect(wake)
            if curve is not None and curve.clients_dir is not None:
                from zmq.auth.thread import ThreadAuthenticator

                self._auth = ThreadAuthenticator(self._ctx)
                self._auth.start()
                self._auth.configure_curve(domain="*", location=str(curve.clients_dir))
            self.endpoints = bind_all((self._pub, self._snap, self._cmd), bind)
        except BaseException:
            self._close_sockets()
            raise

    # ------------------------------------------------------------------ caller's thread

    @property
    def board_id(self) -> str:
        return self._board_id

    @property
    def epoch(self) -> int:
        """This boot's random id."""
        return self._epoch

    @property
    def seq(self) -> int:
        """The latest published sequence number (0: none yet)."""
        return self._seq

    @property
    def config(self) -> BoardConfig:
        """The configuration a snapshot carries (topology, task, parameters, version)."""
        return self._desk.config

    @property
    def stats(self) -> dict[str, int]:
        """Requests served: snapshots, commands, acks_replayed (retries answered from the
        idempotency cache) and bad_requests (refused with an error reply)."""
        return {**self._stats, **self._desk.stats}

    def publish(self, state: BoardState) -> BoardState:
        """Publish one state; the publisher stamps ``board_id``, ``epoch`` and the next ``seq``.

        Returns the state as published. Thread-safe; never blocks on slow subscribers (a
        subscriber behind by more than SNDHWM messages loses frames and sees the gap).
        """
        with self._lock:
            if self._closed:
                raise BridgeClosed(f"publisher {self._board_id} is closed")
            stamped = attrs.evolve(
                state, board_id=self._board_id, epoch=self._epoch, seq=self._seq + 1
            )
            send_frames(self._pub, encode_update(stamped))
            self._seq = stamped.seq
            self._latest = stamped
        return stamped

    def publish_measurement(
        self,
        *,
        t_s: float,
        gate_v: Any,
        v_free_v: Any,
        v_clamped_v: Any,
        inputs_v: Any,
        targets_v: Any,
        eta: float,
        lam: float,
        mode: str = "training",
        wall_unix: float | None = None,
    ) -> BoardState:
        """Publish one measurement given as values (volts, seconds); see :meth:`publish`."""
        state = BoardState(
            board_id=self._board_id,
            epoch=self._epoch,
            seq=0,
            t_s=t_s,
            wall_unix=time.time() if wall_unix is None else wall_unix,
            mode=mode,
            gate_v=gate_v,
            v_free_v=v_free_v,
            v_clamped_v=v_clamped_v,
            inputs_v=inputs_v,
            targets_v=targets_v,
            eta=eta,
            lam=lam,
        )
        return self.publish(state)

    def update_config(
        self,
        *,
        network: Mapping[str, Any] | None = None,
        task: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> BoardConfig:
        """Change what snapshots carry (``params`` are merged); the desired version is kept."""
        changes: dict[str, Any] = {"params": dict(params or {})}
        if network is not None:
            changes["network"] = dict(network)
        if task is not None:
            changes["task"] = dict(task)
        return self._desk.update(**changes)

    def close(self) -> None:
        """Stop the I/O thread, close every socket (and the context if owned). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake_tx.send(b"stop")
        self._thread.join()
        self._close_sockets()

    def _close_sockets(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        for sock in self._sockets:
            sock.close(linger=None if sock is self._pub else 0)
        if self._own_context:
            self._ctx.term()

    def __enter__(self) -> BoardPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ I/O thread

    def _serve(self) -> None:
        poller = zmq.Poller()
        for sock in (self._snap, self._cmd, self._wake_rx):
            poller.register(sock, zmq.POLLIN)
        next_beat = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + self._settings.heartbeat_s
            ready = dict(poller.poll(max(0, math.ceil((next_beat - time.monotonic()) * 1000))))
            if self._wake_rx in ready:
                return
            if self._snap in ready:
                self._drain(self._snap, self._on_snapshot_request)
            if self._cmd in ready:
                self._drain(self._cmd, self._on_command)

    def _heartbeat(self) -> None:
        with self._lock:
            if self._closed:
                return
            frames = encode_heartbeat(
                board_id=self._board_id,
                epoch=self._epoch,
                seq=self._seq,
                t_s=time.monotonic() - self._t0,
                wall_unix=time.time(),
                period_s=self._settings.heartbeat_s,
            )
            self._pub.send_multipart(frames)

    def _drain(self, sock: zmq.Socket, handle: Callable[[list[bytes]], list[bytes]]) -> None:
        for _ in range(1000):
            try:
                parts = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) < 2:
                continue
            try:
                reply = handle(parts[1:])
            except Exception as exc:  # the I/O thread must outlive any one bad request
                log.exception("request failed")
                self._stats["bad_requests"] += 1
                reply = encode_error(board_id=self._board_id, code="malformed", message=str(exc))
            sock.send_multipart([parts[0], *reply])

    def _refusal(self, frames: list[bytes], expected: str) -> tuple[Any, list[bytes] | None]:
        """Decode a request: ``(message, None)``, or ``(None, error reply)`` when unreadable."""
        try:
            msg = decode(frames, self._settings.limits)
        except ProtocolVersionError as exc:
            log.warning("refused a request: %s", exc)
            self._stats["bad_requests"] += 1
            return None, encode_error(
                board_id=self._board_id,
                code="unsupported_version",
                message=f"board speaks protocol version {PROTOCOL_VERSION}: {exc}",
            )
        except DecodeError as exc:
            log.warning("malformed request: %s", exc)
            self._stats["bad_requests"] += 1
            return None, encode_error(board_id=self._board_id, code="malformed", message=str(exc))
        if msg.type != expected:
            self._stats["bad_requests"] += 1
            return None, encode_error(
                board_id=self._board_id,
                code="unknown_type",
                message=f"this socket takes {expected} messages, got {msg.type}",
            )
        return msg, None

    def _on_snapshot_request(self, frames: list[bytes]) -> list[bytes]:
        msg, refusal = self._refusal(frames, "snapshot_request")
        if refusal is not None:
            return refusal
        request_id = msg.header["request_id"]
        with self._lock:
            latest = self._latest
        config = self._desk.config
        if latest is None:
            return encode_error(
                board_id=self._board_id,
                code="not_ready",
                message="no state published yet; retry",
                request_id=request_id,
            )
        self._stats["snapshots"] += 1
        return encode_snapshot(
            Snapshot(config=config, state=latest),
            request_id=request_id,
            client_unix=msg.header["client_unix"],
            board_unix=time.time(),
        )

    def _on_command(self, frames: list[bytes]) -> list[bytes]:
        msg, refusal = self._refusal(frames, "command")
        if refusal is not None:
            return refusal
        ack = self._desk.take(command_from(msg))
        return encode_ack(ack, board_id=self._board_id, board_unix=time.time())
