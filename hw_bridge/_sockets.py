"""Socket plumbing shared by the board-side server and the twin-side client.

Endpoints: a board is reached at one base endpoint. For TCP the three sockets use three
consecutive ports (``tcp://HOST:P`` updates PUB, ``P+1`` snapshot ROUTER, ``P+2`` command ROUTER);
for other transports the suffixes ``-updates``, ``-snapshot`` and ``-command`` are appended.
CURVE keys are read from certificate files written by :func:`zmq.auth.create_certificates`.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import zmq
import zmq.auth

from twin.board.errors import BridgeConfigError

__all__ = ["CurveClient", "CurveServer", "Endpoints", "bind_all", "configure"]

_TCP = re.compile(r"^tcp://(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)$")


@attrs.frozen(kw_only=True)
class Endpoints:
    """The three endpoints of one board: updates (PUB), snapshots and commands (ROUTER)."""

    updates: str
    snapshot: str
    command: str

    @classmethod
    def from_base(cls, base: str) -> Endpoints:
        """The three endpoints of base endpoint ``base`` (see the module docstring)."""
        match = _TCP.match(base)
        if match:
            host, port = match["host"], int(match["port"])
            if not 0 < port <= 65533:
                raise BridgeConfigError(f"endpoint {base!r}: port must be 1-65533 (uses P..P+2)")
            return cls(
                updates=f"tcp://{host}:{port}",
                snapshot=f"tcp://{host}:{port + 1}",
                command=f"tcp://{host}:{port + 2}",
            )
        if base.startswith(("ipc://", "inproc://")):
            return cls(
                updates=f"{base}-updates", snapshot=f"{base}-snapshot", command=f"{base}-command"
            )
        raise BridgeConfigError(
            f"endpoint {base!r}: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"
        )

    @property
    def base(self) -> str:
        """The base endpoint a client connects to (``twin shadow --connect``)."""
        if self.updates.startswith("tcp://"):
            return self.updates
        return self.updates.removesuffix("-updates")


def _keys(path: Path, *, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret_key = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise BridgeConfigError(f"{path}: not a CURVE certificate file ({exc})") from exc
    if secret and secret_key is None:
        raise BridgeConfigError(f"{path}: no secret key (expected a .key_secret file)")
    return public, secret_key


@attrs.frozen(kw_only=True)
class CurveServer:
    """CURVE on the board side: the board's secret certificate, and optionally the folder of
    public certificates of the clients allowed to connect (without it, any client that knows the
    board's public key may connect; traffic is encrypted either way)."""

    secret_file: Path = attrs.field(converter=Path)
    clients_dir: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))

    def apply(self, sock: zmq.Socket) -> None:
        public, secret = _keys(self.secret_file, secret=True)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_server = True


@attrs.frozen(kw_only=True)
class CurveClient:
    """CURVE on the twin side: the client's secret certificate and the board's public one."""

    secret_file: Path = attrs.field(converter=Path)
    server_public_file: Path = attrs.field(converter=Path)

    def apply(self, sock: zmq.Socket) -> None:
        public, secret = _keys(self.secret_file, secret=True)
        server_public, _ = _keys(self.server_public_file, secret=False)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_serverkey = server_public


def configure(
    sock: zmq.Socket,
    *,
    sndhwm: int,
    rcvhwm: int,
    linger_s: float,
    rcvtimeo_s: float | None = 1.0,
    curve: CurveServer | CurveClient | None = None,
) -> zmq.Socket:
    """Set the limits every bridge socket carries explicitly (HWMs, linger, receive timeout).

    Bridge code polls before it receives, so the receive timeout (default 1 s) is a backstop:
    no receive call can block forever.

    On a bad setting (e.g. an unreadable key file) the socket is closed before the error rises.
    """
    try:
        _configure(sock, sndhwm, rcvhwm, linger_s, rcvtimeo_s, curve)
    except BaseException:
        sock.close(linger=0)
        raise
    return sock


def _configure(
    sock: zmq.Socket,
    sndhwm: int,
    rcvhwm: int,
    linger_s: float,
    rcvtimeo_s: float | None,
    curve: CurveServer | CurveClient | None,
) -> None:
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.RCVHWM, rcvhwm)
    sock.setsockopt(zmq.LINGER, round(linger_s * 1000))
    sock.setsockopt(zmq.RCVTIMEO, -1 if rcvtimeo_s is None else round(rcvtimeo_s * 1000))
    sock.setsockopt(zmq.RECONNECT_IVL, 50)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    if curve is not None:
        curve.apply(sock)


def bind_all(socks: tuple[zmq.Socket, ...], base: str) -> Endpoints:
    """Bind the three sockets; port 0 lets the OS choose P (retrying until P+1, P+2 are free)."""
    if not (base.startswith("tcp://") and base.rsplit(":", 1)[-1] == "0"):
        wanted = Endpoints.from_base(base)
        try:
            eps = (wanted.updates, wanted.snapshot, wanted.command)
            for sock, ep in zip(socks, eps, strict=True):
                sock.bind(ep)
        except zmq.ZMQError as exc:
            raise BridgeConfigError(f"cannot bind {base}: {exc}") from exc
        return wanted
    host = base[len("tcp://") : -len(":0")]
    Endpoints.from_base(f"tcp://{host}:1")  # validates the host part
    for _ in range(64):
        socks[0].bind(f"tcp://{host}:0")
        pub_endpoint = socks[0].getsockopt_string(zmq.LAST_ENDPOINT)
        port = int(pub_endpoint.rsplit(":", 1)[1])
        bound: list[tuple[zmq.Socket, str]] = []
        try:
            for sock, offset in ((socks[1], 1), (socks[2], 2)):
                sock.bind(f"tcp://{host}:{port + offset}")
                bound.append((sock, f"tcp://{host}:{port + offset}"))
            return Endpoints.from_base(f"tcp://{host}:{port}")
        except zmq.ZMQError:
            for sock, ep in bound:
                sock.unbind(ep)
            socks[0].unbind(pub_endpoint)
    raise BridgeConfigError(f"cannot bind {base}: found no three consecutive free ports")
