"""Connection errors name the endpoint within a stated time: nothing listening, a server that
does not speak ZeroMQ (silent like HTTP, or talking garbage), a host that does not resolve."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw_bridge.probe import probe_endpoint
from tests.helpers import run_cli
from tests.ports import free_port
from twin.board.errors import BridgeConfigError, BridgeError


@pytest.fixture
def server() -> Iterator[Any]:
    """A TCP server on a free loopback port that sends ``reply`` (maybe nothing) on accept."""
    servers: list[tuple[socket.socket, threading.Event]] = []

    def make(reply: bytes) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.settimeout(0.1)
        stop = threading.Event()

        def serve() -> None:
            conns = []
            while not stop.is_set():
                try:
                    conn, _ = sock.accept()
                except (TimeoutError, OSError):
                    continue
                conns.append(conn)
                if reply:
                    conn.sendall(reply)
            for conn in conns:
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        servers.append((sock, stop))
        return int(sock.getsockname()[1])

    yield make
    for sock, stop in servers:
        stop.set()
        sock.close()


def _fails(endpoint: str, timeout_s: float, needle: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(BridgeError) as info:
        probe_endpoint(endpoint, timeout_s)
    assert time.monotonic() - t0 < timeout_s + 1.0
    message = str(info.value)
    assert endpoint in message
    assert needle in message
    assert "\n" not in message


def test_nothing_listening() -> None:
    _fails(f"tcp://127.0.0.1:{free_port()}", 2.0, "nothing listens")


def test_a_silent_server_such_as_http(server: Any) -> None:
    _fails(f"tcp://127.0.0.1:{server(b'')}", 0.5, "sent nothing within 0.5 s")


def test_a_server_talking_garbage(server: Any) -> None:
    port = server(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    _fails(f"tcp://127.0.0.1:{port}", 2.0, "not a ZeroMQ")


def test_an_unresolvable_host() -> None:
    t0 = time.monotonic()
    with pytest.raises(BridgeError, match=r"no-such-host\.invalid"):
        probe_endpoint("tcp://no-such-host.invalid:5555", 2.0)
    assert time.monotonic() - t0 < 3.0


def test_a_board_passes(make_publisher: Any) -> None:
    pub = make_publisher()
    probe_endpoint(pub.endpoints.base, 2.0)


def test_ipc_is_not_probed() -> None:
    probe_endpoint("ipc:///nonexistent/board", 0.1)
    with pytest.raises(BridgeConfigError):
        probe_endpoint("http://x", 0.1)


@pytest.mark.parametrize("command", ["shadow", "record"])
def test_commands_name_the_endpoint_in_one_line(capsys: Any, tmp_path: Path, command: str) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "r.rec"
    args = ["--out", str(out)] if command == "record" else ["--no-db"]
    t0 = time.monotonic()
    code, _, err = run_cli(capsys, command, "--connect", endpoint, "--duration", "1", *args)
    assert code == 2, err
    assert endpoint in err
    assert len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - t0 < 10
    assert not out.exists()
