"""Loopback ports for tests and benchmarks that start servers: random free ports and bounded
waits for a listener (never a fixed port, never a sleep as synchronisation)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["board_process", "free_port", "free_port_run", "wait_listening"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_port_run(count: int = 3) -> int:
    """A base port whose ``count - 1`` successors are free too (``twin board`` binds three)."""
    for _ in range(100):
        base = free_port()
        if base + count > 65536:
            continue
        socks = [socket.socket() for _ in range(count)]
        try:
            for i, sock in enumerate(socks):
                sock.bind((HOST, base + i))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return base
    raise RuntimeError(f"no run of {count} free loopback ports")


def wait_listening(
    port: int,
    *,
    host: str = HOST,
    proc: subprocess.Popen[bytes] | None = None,
    timeout_s: float = 60.0,
) -> None:
    """Poll until something accepts connections on ``host:port`` (AssertionError after
    ``timeout_s``, or at once when ``proc`` has exited)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server process exited with code {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        threading.Event().wait(0.05)  # poll interval of a bounded wait, not synchronisation
    raise AssertionError(f"nothing listens on {host}:{port} after {timeout_s} s")


@contextmanager
def board_process(
    *, seed: int = 0, variation: str = "none", duration_s: float = 300
) -> Iterator[str]:
    """``twin board`` in another process on a random loopback port; its endpoint once it listens
    (terminated on exit)."""
    endpoint = f"tcp://{HOST}:{free_port_run()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "board", "--bind", endpoint, "--seed", str(seed),
         "--variation", variation, "--duration", f"{duration_s:g}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
    )  # fmt: skip
    try:
        wait_listening(int(endpoint.rsplit(":", 1)[1]), proc=proc)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)
