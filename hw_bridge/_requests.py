"""Request/reply from the twin to a board's ROUTER, with Lazy Pirate retries.

One :class:`Requester` per board ROUTER (snapshots, commands). A request that gets no matching
reply in time closes its DEALER socket (dropping any late reply) so the caller can resend on a
fresh one, with the same request id or idempotency key.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import zmq

from hw_bridge.codec import Limits, Message, decode
from twin.board.contract import LinkCounters
from twin.board.errors import DecodeError, ProtocolVersionError

__all__ = ["Requester"]

log = logging.getLogger("hw_bridge.client")


class Requester:
    """Send requests to one endpoint and match replies by key.

    Parameters
    ----------
    make_socket : callable
        Returns a new, configured DEALER socket.
    endpoint : str
        The board ROUTER's endpoint.
    limits : Limits
        Bounds on the replies decoded.
    counters : LinkCounters
        Where undecodable replies are counted (``decode_errors``).
    tap : callable, optional
        Called with ``("snapshot", frames, recv_unix)`` for every reply (recording).
    """

    def __init__(
        self,
        make_socket: Callable[[], zmq.Socket],
        endpoint: str,
        *,
        limits: Limits,
        counters: LinkCounters,
        tap: Callable[[str, list[bytes], float], None] | None = None,
    ) -> None:
        self._make_socket = make_socket
        self._endpoint = endpoint
        self._limits = limits
        self._counters = counters
        self._tap = tap
        self._sock: zmq.Socket | None = None

    def ask(
        self, frames: list[bytes], reply_type: str, key: str, timeout_s: float
    ) -> Message | None:
        """Send ``frames``; the reply of type ``reply_type`` for ``key`` (a ``not_ready`` error
        for ``key`` is returned too), or None after ``timeout_s`` (the socket is then replaced).

        Raises
        ------
        ProtocolVersionError
            The board speaks, or refused the request for, another protocol version.
        """
        if self._sock is None:
            self._sock = self._make_socket()
            self._sock.connect(self._endpoint)
        sock = self._sock
        deadline = time.monotonic() + timeout_s
        if not _send_by(sock, frames, deadline):
            self.close()
            return None
        while (remaining := deadline - time.monotonic()) > 0:
            if not sock.poll(max(0, math.ceil(remaining * 1000))):
                break
            parts = sock.recv_multipart()
            if self._tap is not None:
                self._tap("snapshot", parts, time.time())
            reply = self._match(parts, reply_type, key)
            if reply is not None:
                return reply
        self.close()
        return None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _match(self, parts: list[bytes], reply_type: str, key: str) -> Message | None:
        try:
            msg = decode(parts, self._limits)
        except ProtocolVersionError:
            raise
        except DecodeError as exc:
            self._counters.decode_errors += 1
            log.debug("undecodable reply: %s", exc)
            return None
        header = msg.header
        if msg.type == "error":
            if header["code"] == "unsupported_version":
                raise ProtocolVersionError(f"board refused the request: {header['message']}")
            if header.get("request_id") == key and header["code"] == "not_ready":
                return msg  # the board has published nothing yet: the caller retries soon
            log.debug("board answered %s: %s", header["code"], header["message"])
            return None
        if msg.type != reply_type:
            return None
        matches = header.get("request_id", header.get("key")) == key
        return msg if matches else None


def _send_by(sock: zmq.Socket, frames: list[bytes], deadline: float) -> bool:
    """Send ``frames`` unless the socket cannot take them by ``deadline`` (monotonic s): a
    DEALER with no live peer (a board whose CURVE handshake refused this client, or not there
    yet) blocks a plain send for ever. False: not sent."""
    while True:
        try:
            sock.send_multipart(frames, flags=zmq.NOBLOCK)
            return True
        except zmq.Again:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(max(1, math.ceil(remaining * 1000)), zmq.POLLOUT):
                return False
