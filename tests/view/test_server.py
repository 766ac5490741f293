"""The live view's server: page and local assets, read-only, snapshot then deltas over a socket."""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.helpers import run_cli
from twin.documents import sample_doc, start_doc
from twin.view import LiveState, ViewError, ViewServer


def _get(url: str, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_page_and_assets_are_served_locally(served: ViewServer) -> None:
    status, html = _get(served.url)
    assert status == 200
    assert b"/static/view.js" in html
    for name in ("view.js", "view.css"):
        status, body = _get(served.url + "static/" + name)
        assert status == 200
        assert len(body) > 500
        assert not re.search(rb"https?://", body), f"{name} refers to another site"
    assert not re.search(rb"https?://", html)
    assert _get(served.url + "static/../server.py")[0] == 404
    assert _get(served.url + "static/nope.js")[0] == 404


def test_the_server_is_read_only(served: ViewServer) -> None:
    for path in ("", "state", "static/view.js"):
        assert _get(served.url + path, method="POST")[0] == 405
    assert served.host == "127.0.0.1"


async def _messages(url: str, push: Any, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "ws") as ws:
        await ws.send_str("commands are ignored")
        async for msg in ws:
            out.append(msg.json())
            if len(out) == 1:
                push()
            if len(out) >= n:
                break
    return out


def test_socket_sends_a_snapshot_then_what_is_new(served: ViewServer) -> None:
    state = served.state
    start = start_doc(source="board", kind="shadow", params={})
    state(start)
    state(sample_doc(start["uid"], 0, 0.0, {"error": [1.0]}))

    def push() -> None:
        for i in range(1, 4):
            state(sample_doc(start["uid"], i, 0.1 * i, {"error": [1.0 + i]}))

    msgs = asyncio.run(asyncio.wait_for(_messages(served.url, push, 6), 10))
    assert msgs[0]["type"] == "snapshot"
    assert len(msgs[0]["series"]["board"]) == 1
    updates = [p for m in msgs[1:] for p in m["series"]["board"]]
    assert [p[2] for p in updates] == [2.0, 3.0, 4.0]  # each sample once, in order
    assert all(m["type"] == "update" for m in msgs[1:])


def test_busy_port_is_a_view_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ViewError, match="--port"):
            ViewServer(LiveState(), port=port).start()


def test_port_without_view_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "simulate", "--port", "8000", "--duration", "0.01")
    assert code == 2
    assert "--port needs --view" in err


def _get_with(url: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_dns_rebinding_is_refused_by_the_host_check(served: ViewServer) -> None:
    port = served.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert _get_with(served.url + "state", {"Host": host}) == 200
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", ""):
        assert _get_with(served.url + "state", {"Host": host}) == 421, host
        assert _get_with(served.url, {"Host": host}) == 421, host


def test_cross_site_websockets_are_refused(served: ViewServer) -> None:
    async def connect(origin: str | None) -> int:
        headers = {} if origin is None else {"Origin": origin}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(served.url + "ws", headers=headers) as ws:
                    msg = await ws.receive(timeout=5)
                    assert msg.json()["type"] == "snapshot"
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(connect(None)) == 101  # a script, not a page
    assert asyncio.run(connect(f"http://127.0.0.1:{served.port}")) == 101  # the page itself
    assert asyncio.run(connect(f"http://localhost:{served.port}")) == 101
    for origin in ("http://evil.example", "https://127.0.0.1.evil.example", "null",
                   f"http://127.0.0.1:{served.port + 1}"):  # fmt: skip
        assert asyncio.run(connect(origin)) == 403, origin
