"""Fixtures of the bridge tests: a synthetic board feeding BoardPublisher, a lossy relay.

Everything binds to loopback on ports the OS picks; waits poll with timeouts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import zmq

from hw_bridge import BoardState, Resync
from hw_bridge._sockets import Endpoints
from hw_bridge.client import ClientSettings, ZmqBoard
from hw_bridge.codec import decode
from hw_bridge.server import BoardPublisher, PublisherSettings

N_NODES = 16
N_EDGES = 32


def lattice_4x4() -> dict:
    """The 4x4 periodic lattice of the laboratory board: 16 nodes, 32 edges."""
    edges = []
    for y in range(4):
        for x in range(4):
            node = 4 * y + x
            edges += [[node, 4 * y + (x + 1) % 4], [node, 4 * ((y + 1) % 4) + x]]
    return {"schema": "twin.network/1", "nodes": N_NODES, "edges": edges}


class SyntheticBoard:
    """Deterministic random states of a 32-edge / 16-node board (no physics)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.t_s = 0.0

    def state(self) -> BoardState:
        self.t_s += 1e-3
        rng = self.rng
        return BoardState(
            board_id="synthetic",
            epoch=1,
            seq=1,  # the publisher stamps its own epoch and seq
            t_s=self.t_s,
            wall_unix=time.time(),
            mode="training",
            gate_v=rng.uniform(1.0, 5.5, N_EDGES),
            v_free_v=rng.uniform(0.0, 0.45, N_NODES),
            v_clamped_v=rng.uniform(0.0, 0.45, N_NODES),
            inputs_v=rng.uniform(0.0, 0.45, 2),
            targets_v=rng.uniform(0.0, 0.45, 2),
            eta=0.22,
            lam=0.0,
        )


FAST = PublisherSettings(heartbeat_s=0.02, linger_s=0.0)
FAST_CLIENT = ClientSettings(heartbeat_s=0.02, request_timeout_s=0.5)


@pytest.fixture
def zctx() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    ctx.linger = 0
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def make_publisher() -> Iterator[Callable[..., BoardPublisher]]:
    made: list[BoardPublisher] = []

    def make(board_id: str = "b1", **kwargs) -> BoardPublisher:
        kwargs.setdefault("settings", FAST)
        pub = BoardPublisher(board_id, network=lattice_4x4(), **kwargs)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., ZmqBoard]]:
    made: list[ZmqBoard] = []

    def make(endpoint, **kwargs) -> ZmqBoard:
        kwargs.setdefault("settings", FAST_CLIENT)
        board = ZmqBoard(endpoint, **kwargs)
        made.append(board)
        return board

    yield make
    for board in made:
        board.close()


class Relay:
    """Forwards a publisher's update stream, dropping and injecting frames on the way."""

    def __init__(
        self,
        ctx: zmq.Context,
        upstream: str,
        drop: Callable[[str, int], bool] = lambda kind, seq: False,
    ) -> None:
        self.drop = drop
        self.inject: list[list[bytes]] = []
        self.forwarded = 0
        self.dropped: list[int] = []
        self._lock = threading.Lock()
        self._sub = ctx.socket(zmq.SUB)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        self._sub.connect(upstream)
        self._pub = ctx.socket(zmq.PUB)
        self._pub.setsockopt(zmq.SNDHWM, 0)
        self._pub.bind("tcp://127.0.0.1:0")
        self.endpoint = self._pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = threading.Event()
        self._live = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._live.wait(5.0), "relay never saw the publisher"

    def add(self, frames: list[list[bytes]]) -> None:
        with self._lock:
            self.inject.extend(frames)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                injected, self.inject = self.inject, []
            for frames in injected:
                self._pub.send_multipart(frames)
            if not self._sub.poll(5):
                continue
            parts = self._sub.recv_multipart()
            self._live.set()
            msg = decode(parts)
            if self.drop(msg.type, msg.header["seq"]):
                if msg.type == "update":
                    self.dropped.append(msg.header["seq"])
                continue
            self._pub.send_multipart(parts)
            self.forwarded += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._sub.close()
        self._pub.close()


@pytest.fixture
def make_relay(zctx) -> Iterator[Callable[..., Relay]]:
    made: list[Relay] = []

    def make(upstream: str, drop=lambda kind, seq: False) -> Relay:
        relay = Relay(zctx, upstream, drop)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.close()


def via(relay: Relay, pub: BoardPublisher) -> Endpoints:
    """The publisher's endpoints with the update stream taken through ``relay``."""
    return Endpoints(
        updates=relay.endpoint, snapshot=pub.endpoints.snapshot, command=pub.endpoints.command
    )


class Tally:
    """What a client delivered: update seqs, resyncs, and the seqs each resync covered."""

    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.states: dict[int, BoardState] = {}
        self.resyncs: list[Resync] = []
        self.covered: set[int] = set()
        self.last = 0
        self.join_seq: int | None = None

    def take(self, updates) -> None:
        for item in updates:
            if isinstance(item, Resync):
                seq = item.snapshot.state.seq
                if self.join_seq is None:
                    self.join_seq = seq
                elif item.reason != "restart":
                    self.covered.update(range(self.last + 1, seq + 1))
                self.resyncs.append(item)
                self.last = seq
            else:
                assert item.seq == self.last + 1, f"update {item.seq} after {self.last}"
                self.delivered.append(item.seq)
                self.states[item.seq] = item
                self.last = item.seq

    def undetected(self, published: int) -> list[int]:
        """Seqs the publisher sent after the join that were neither delivered nor resynced."""
        assert self.join_seq is not None
        seen = set(self.delivered) | self.covered
        return [s for s in range(self.join_seq + 1, published + 1) if s not in seen]


def poll_until(board: ZmqBoard, tally: Tally, done: Callable[[], bool], timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out; counters {board.counters}"
        tally.take(board.poll(0.05))


def publish_paced(pub: BoardPublisher, source: SyntheticBoard, n: int, rate_hz: float) -> list:
    """Publish n states at about rate_hz (pacing, not synchronisation); the states sent."""
    sent = []
    period = 1.0 / rate_hz
    next_t = time.monotonic()
    for _ in range(n):
        sent.append(pub.publish(source.state()))
        next_t += period
        pause = next_t - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return sent


@contextmanager
def feeding(pub: BoardPublisher, source: SyntheticBoard, rate_hz: float = 1000.0) -> Iterator[None]:
    """Publish ``source``'s states at about ``rate_hz`` from a thread while the block runs."""
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            publish_paced(pub, source, 20, rate_hz)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()
