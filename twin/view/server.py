"""The live page's server: aiohttp on 127.0.0.1 in a background thread, one WebSocket per page.

The run never waits for the page: it writes :class:`~twin.view.state.LiveState` (bounded) and
the server reads it. Each connected page gets the whole state once (``snapshot``), then every
``1 / update_hz`` seconds what is new since its cursor (``update``). A slow page only delays
its own messages: nothing is queued per page, so memory stays bounded however slow it is.

The server is read-only: it answers ``GET`` of the page, its assets (served from the package,
no external network) and ``/state`` (the snapshot as JSON), and ignores whatever a page sends.

It answers only requests addressed to itself: the ``Host`` header must name this machine's
loopback address and the server's port (``127.0.0.1``, ``localhost`` or ``[::1]``), else 421 (a
web page the user visits cannot rebind its own domain to 127.0.0.1 and read the run, "DNS
rebinding"); a WebSocket whose ``Origin`` is another site is refused with 403 (cross-site
WebSocket hijacking). Clients that send no ``Origin`` (scripts, curl) are not browsers' pages
and are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from ..errors import TwinError
from .state import LiveState

__all__ = ["LOOPBACK_NAMES", "ViewError", "ViewServer"]

#: Host names a request to the live page may address (with the server's port).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

log = logging.getLogger("twin.view")

_ASSETS = {
    "index.html": "text/html",
    "view.js": "text/javascript",
    "view.css": "text/css",
}


class ViewError(TwinError, OSError):
    """The live page's server could not start."""


def _asset(name: str) -> bytes:
    return resources.files("twin.view").joinpath("static", name).read_bytes()


class ViewServer:
    """Serve the live page of ``state`` on ``host:port`` (port 0: one the OS chooses).

    Use as a context manager, or :meth:`start` / :meth:`stop`; :attr:`url` is the page.

    Parameters
    ----------
    state
        What the page shows.
    host, port
        Where to listen (loopback by default).
    update_hz
        Updates per second sent to each page.
    """

    def __init__(
        self, state: LiveState, *, host: str = "127.0.0.1", port: int = 0, update_hz: float = 10.0
    ) -> None:
        if not update_hz > 0:
            raise ViewError(f"update_hz: expected > 0, got {update_hz}")
        self.state = state
        self.host = host
        self.port = int(port)
        self.update_hz = float(update_hz)
        self.messages_sent = 0
        self.pages = 0
        self._assets = {name: _asset(name) for name in _ASSETS}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # ------------------------------------------------------------------ life cycle

    def start(self) -> ViewServer:
        """Bind the socket (errors raised here), then serve from a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ViewError(f"--port: cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="twin-view")
        self._thread.daemon = True
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise ViewError(f"live view: {self._error}") from self._error
        log.info("live view at %s", self.url)
        return self

    def stop(self) -> None:
        """Close every page's socket and stop the thread."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10.0)
            self._thread = None

    def __enter__(self) -> ViewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._main(sock))
        except BaseException as exc:  # reported to start() or logged: never silently lost
            self._error = exc
            log.exception("live view server failed")
        finally:
            sock.close()
            self._ready.set()

    async def _main(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._same_host])
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/state", self._state)
        app.router.add_get("/ws", self._socket)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._ready.set()
        await self._stopping.wait()
        await self._runner.cleanup()

    # ------------------------------------------------------------------ handlers

    def _allowed_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in LOOPBACK_NAMES}

    @web.middleware
    async def _same_host(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Refuse a request addressed to another host (421) or a WebSocket from another
        site's page (403)."""
        allowed = self._allowed_hosts()
        if request.headers.get("Host", "").lower() not in allowed:
            raise web.HTTPMisdirectedRequest(text="this server answers only its loopback address")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower().removeprefix("http://") not in allowed:
            raise web.HTTPForbidden(text="cross-origin requests are refused")
        return await handler(request)

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(body=self._assets["index.html"], content_type="text/html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound()
        return web.Response(body=self._assets[name], content_type=_ASSETS[name])

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.snapshot() | {"sizes": self.state.sizes()})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=5.0)
        await ws.prepare(request)
        self.pages += 1
        reader = asyncio.ensure_future(self._drain(ws))
        try:
            await self._push(ws, reader)
        finally:
            reader.cancel()
            self.pages -= 1
        return ws

    async def _drain(self, ws: web.WebSocketResponse) -> None:
        """Read and ignore what the page sends (read-only view); ends when the page goes."""
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break

    async def _push(self, ws: web.WebSocketResponse, reader: asyncio.Future[Any]) -> None:
        snap = self.state.snapshot()
        await ws.send_json(snap)
        self.messages_sent += 1
        cursor, version, layout_v = snap["cursor"], snap["version"], snap["layout_version"]
        stopping = self._stopping
        assert stopping is not None
        period_s = 1.0 / self.update_hz
        while not ws.closed and not reader.done() and not stopping.is_set():
            with contextlib.suppress(TimeoutError):  # the tick; or stopping
                await asyncio.wait_for(stopping.wait(), timeout=period_s)
            msg = self.state.delta(cursor, version, layout_v)  # on stopping: the last one
            cursor, version, layout_v = msg["cursor"], msg["version"], msg["layout_version"]
            try:
                await ws.send_json(msg)
            except (ConnectionError, RuntimeError):
                break  # the page went away between the check and the send
            self.messages_sent += 1
            if stopping.is_set():
                break
        await ws.close()
