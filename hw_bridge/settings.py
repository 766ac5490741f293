"""Settings of the bridge's two ends: limits, timeouts, retries and periods.

:class:`ClientSettings` tunes the twin's :class:`~hw_bridge.client.ZmqBoard`,
:class:`PublisherSettings` the lab's :class:`~hw_bridge.server.BoardPublisher`.

Both are frozen attrs classes taking keywords only; both are also importable from
:mod:`hw_bridge.client` and :mod:`hw_bridge.server`.
"""

from __future__ import annotations

import attrs

from hw_bridge.codec import Limits

__all__ = ["ClientSettings", "PublisherSettings"]


@attrs.frozen(kw_only=True)
class ClientSettings:
    """Limits, timeouts and retry policy of a :class:`ZmqBoard`.

    Attributes
    ----------
    rcvhwm : int
        Frames ZeroMQ queues for this client between polls.
    request_timeout_s : float
        Wait for one snapshot or command reply before retrying on a fresh socket, seconds.
    request_retries : int
        Retries of a snapshot request or a command (same idempotency key) before giving up.
    missed_heartbeats : float
        Silence threshold, in heartbeat periods.
    heartbeat_s : float
        Heartbeat period assumed until the board's first heartbeat states its own, seconds.
    backoff_s : tuple of float
        First and largest wait between reconnection attempts, seconds (doubling).
    lag_window : int
        Number of recent lags the p50/p99 are computed over.
    max_batch : int
        Most frames one :meth:`ZmqBoard.poll` call reads.
    limits : Limits
        Bounds on the frames decoded.
    """

    rcvhwm: int = 100_000
    request_timeout_s: float = 1.0
    request_retries: int = 3
    missed_heartbeats: float = 3.0
    heartbeat_s: float = 0.1
    backoff_s: tuple[float, float] = (0.05, 2.0)
    lag_window: int = 4096
    max_batch: int = 10_000
    limits: Limits = attrs.field(factory=Limits)


@attrs.frozen(kw_only=True)
class PublisherSettings:
    """Limits and periods of a :class:`BoardPublisher`.

    Attributes
    ----------
    heartbeat_s : float
        Heartbeat period, seconds.
    sndhwm, rcvhwm : int
        ZeroMQ high-water marks, messages (a subscriber further behind than SNDHWM loses frames,
        which it detects as a gap).
    linger_s : float
        How long close() keeps trying to deliver queued messages, seconds.
    idempotency_cache : int
        Number of acknowledgements remembered by key (a retry within this window is answered
        from the cache, never applied twice).
    limits : Limits
        Bounds on the requests the board decodes.
    """

    heartbeat_s: float = 0.1
    sndhwm: int = 10_000
    rcvhwm: int = 1_000
    linger_s: float = 0.2
    idempotency_cache: int = 4096
    limits: Limits = attrs.field(factory=lambda: Limits(max_frame_bytes=1 << 21))
