"""One live view for one CLI run: the state, its server, and how the run feeds them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from .server import ViewServer
from .state import LiveState

__all__ = ["LiveView", "live_view"]


@attrs.frozen(kw_only=True)
class LiveView:
    """A running live page: subscribe :attr:`state` to the run's documents; :attr:`url` to open."""

    state: LiveState
    server: ViewServer

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def live_view(
    *, port: int = 0, mode: str = "shadow", window: int = 600, update_hz: float = 10.0
) -> Iterator[LiveView]:
    """Serve a live page on 127.0.0.1:``port`` (0: any free port) while the block runs."""
    state = LiveState(window=window, mode=mode)
    with ViewServer(state, port=port, update_hz=update_hz) as server:
        yield LiveView(state=state, server=server)
