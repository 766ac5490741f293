"""Is a board there? A quick look at a base endpoint before a client joins it.

ZeroMQ connects lazily and retries forever, so a client of a wrong endpoint would wait without
saying why. :func:`probe_endpoint` answers in at most ``timeout_s`` with one line naming the
endpoint: the host does not resolve, nothing listens on the port, or what listens does not speak
ZeroMQ (a ZMTP peer sends its 10-byte greeting, starting with ``0xFF`` and ending with
``0x7F``, as soon as a connection opens; an HTTP server sends nothing until asked, other servers
send something else). Only TCP endpoints are probed (``ipc://`` and ``inproc://`` ones are
local and reported by the join itself).
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from twin.board.errors import BridgeConfigError, BridgeTimeout

from ._sockets import Endpoints

__all__ = ["PROBE_TIMEOUT_S", "probe_endpoint"]

#: Default time a probe may take, s.
PROBE_TIMEOUT_S = 5.0
#: The first and tenth byte of a ZMTP 3 greeting.
_SIGNATURE_FIRST, _SIGNATURE_LAST = 0xFF, 0x7F


def _greeting(sock: socket.socket, deadline: float) -> bytes:
    got = b""
    while len(got) < 10:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(10 - len(got))
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        got += chunk
    return got


def _resolve(base: str, host: str, port: int, timeout_s: float) -> list[Any]:
    """``getaddrinfo`` bounded by ``timeout_s`` (a resolver without network can take minutes)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="probe-resolve")
    future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    pool.shutdown(wait=False)
    try:
        return list(future.result(timeout=timeout_s))
    except FutureTimeout:
        raise BridgeTimeout(f"{base}: host {host!r} not resolved within {timeout_s:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise BridgeConfigError(f"{base}: cannot resolve host {host!r} ({reason})") from None


def probe_endpoint(base: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise a one-line :class:`BridgeConfigError` (or :class:`BridgeTimeout`) naming ``base``
    unless a ZeroMQ peer listens at its update port; returns within about ``timeout_s``."""
    endpoints = Endpoints.from_base(base)
    if not endpoints.updates.startswith("tcp://"):
        return
    host, port_text = endpoints.updates[len("tcp://") :].rsplit(":", 1)
    host, port = host.strip("[]"), int(port_text)
    deadline = time.monotonic() + timeout_s
    infos = _resolve(base, host, port, timeout_s)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            sock.connect(address)
        except TimeoutError:
            raise BridgeTimeout(
                f"{base}: no answer from {host}:{port} within {timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise BridgeConfigError(
                f"{base}: nothing listens there ({exc.strerror or exc}); is the board running, "
                "and is this its endpoint?"
            ) from None
        greeting = _greeting(sock, deadline)
    if len(greeting) == 10 and greeting[0] == _SIGNATURE_FIRST and greeting[9] == _SIGNATURE_LAST:
        return
    said = f"sent {greeting[:10]!r}" if greeting else f"sent nothing within {timeout_s:g} s"
    raise BridgeConfigError(f"{base}: not a ZeroMQ board (the server {said})")
