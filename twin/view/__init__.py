"""The live view: a browser page watching a shadowed board and its twin, or a simulation.

A presentation layer just below the CLI (nothing else imports it): :class:`LiveState` is a
document subscriber keeping bounded rolling windows, :class:`ViewServer` serves the page
(aiohttp, loopback, one WebSocket per page, assets from this package), :class:`ShadowFeed` and
:class:`SimulationFeed` add the link status and alarms that are not in the documents, and
:class:`XYFeed` an XY network's phases and couplings while it trains.
"""

from .feed import ShadowFeed, SimulationFeed, XYFeed
from .layout import network_layout
from .server import ViewError, ViewServer
from .session import LiveView, live_view
from .state import LiveState

__all__ = [
    "LiveState",
    "LiveView",
    "ShadowFeed",
    "SimulationFeed",
    "ViewError",
    "ViewServer",
    "XYFeed",
    "live_view",
    "network_layout",
]
