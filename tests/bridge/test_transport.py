"""BoardPublisher -> ZmqBoard over loopback: join, loss, silence, restart, HWM, fuzz, close."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from pathlib import Path

import attrs
import numpy as np
import pytest
import zmq
import zmq.auth

from hw_bridge import Board, Resync
from hw_bridge.client import ClientSettings
from hw_bridge.codec import Limits
from hw_bridge.server import PublisherSettings
from twin.board.errors import BridgeClosed, BridgeConfigError

from .conftest import FAST_CLIENT, SyntheticBoard, Tally, poll_until, publish_paced, via
from .fuzz import invalid_frames


def test_client_satisfies_the_board_contract(make_publisher, make_client) -> None:
    pub = make_publisher()
    pub.publish(SyntheticBoard().state())
    board = make_client(pub.endpoints.base, board_id="b1")
    assert isinstance(board, Board)
    snap = board.snapshot(5.0)
    assert snap.config.board_id == "b1"
    assert snap.config.epoch == pub.epoch
    assert len(snap.config.network["edges"]) == 32
    assert snap.state.gate_v.shape == (32,)
    assert snap.state.v_free_v.shape == (16,)
    first = board.poll(0.0)
    assert isinstance(first[0], Resync)
    assert first[0].reason == "initial"


def test_late_joiner_gets_the_snapshot_and_nothing_at_or_below_it(
    make_publisher, make_client
) -> None:
    pub, source = make_publisher(), SyntheticBoard()
    for _ in range(100):
        pub.publish(source.state())
    board, tally = make_client(pub.endpoints.base), Tally()
    feeder = threading.Thread(target=publish_paced, args=(pub, source, 300, 3000.0))
    feeder.start()  # the board keeps publishing while the client joins
    tally.take(board.poll(2.0))
    feeder.join()
    poll_until(board, tally, lambda: tally.last >= 400)
    assert tally.resyncs[0].reason == "initial"
    assert tally.join_seq >= 100
    assert all(seq > tally.join_seq for seq in tally.delivered)
    assert tally.undetected(400) == []
    assert board.counters.gaps_detected == 0


def test_random_loss_and_tail_loss_are_all_detected(
    make_publisher, make_client, make_relay
) -> None:
    pub, source = make_publisher(), SyntheticBoard()
    pub.publish(source.state())
    rng = np.random.default_rng(3)
    n_total = 1000
    tail = set(range(n_total - 4, n_total + 1))  # the last frames before the pause

    def drop(kind: str, seq: int) -> bool:
        return kind == "update" and (seq in tail or rng.random() < 0.10)

    relay = make_relay(pub.endpoints.updates, drop)
    board, tally = make_client(via(relay, pub)), Tally()
    tally.take(board.poll(2.0))
    sent: dict[int, object] = {}

    def feed() -> None:
        sent.update((s.seq, s) for s in publish_paced(pub, source, n_total - 1, 1000.0))

    feeder = threading.Thread(target=feed)
    feeder.start()
    poll_until(board, tally, lambda: not feeder.is_alive())
    feeder.join()
    # the pause: only heartbeats flow now, and they carry the latest seq
    poll_until(board, tally, lambda: tally.last >= n_total)
    counters = board.counters
    lost_after_join = [s for s in relay.dropped if s > tally.join_seq]
    assert len(lost_after_join) > 50
    assert tally.undetected(n_total) == []
    assert counters.gaps_detected >= 5
    assert counters.resyncs == counters.gaps_detected
    assert counters.updates == len(tally.delivered)
    assert counters.resynced_seqs == len(tally.covered)
    assert n_total - tally.join_seq - counters.updates - counters.resynced_seqs == 0
    assert counters.undetected_loss == 0
    assert tally.resyncs[-1].snapshot.state.seq == n_total  # the tail loss was resynced
    for seq in tally.delivered[::50]:  # what arrived is what was sent
        np.testing.assert_array_equal(tally.states[seq].gate_v, sent[seq].gate_v)


def test_board_restart_is_noticed_within_the_heartbeat_window(make_publisher, make_client) -> None:
    first, source = make_publisher(epoch=1), SyntheticBoard()
    first.publish(source.state())
    board, tally = make_client(first.endpoints.base), Tally()
    tally.take(board.poll(2.0))
    base = first.endpoints.base
    first.close()
    second = make_publisher(bind=base, epoch=2)
    second.publish(source.state())
    restarted = time.monotonic()
    poll_until(board, tally, lambda: tally.resyncs[-1].reason == "restart", timeout_s=5.0)
    window_s = FAST_CLIENT.missed_heartbeats * 0.02 + 0.5  # silence + reconnect (50 ms) + slack
    assert time.monotonic() - restarted < window_s
    assert tally.resyncs[-1].snapshot.config.epoch == 2
    assert board.counters.restarts == 1
    for _ in range(20):
        second.publish(source.state())
    poll_until(board, tally, lambda: tally.last >= 21)
    assert tally.delivered[-20:] == list(range(2, 22))


def test_silence_then_recovery_reconnects_with_backoff(make_publisher, make_client) -> None:
    first, source = make_publisher(epoch=5), SyntheticBoard()
    first.publish(source.state())
    board, tally = make_client(first.endpoints.base), Tally()
    tally.take(board.poll(2.0))
    base = first.endpoints.base
    first.close()
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:
        assert board.poll(0.05) == []  # the client keeps running while the board is away
    assert board.counters.silences == 1
    assert board.counters.reconnects >= 2
    second = make_publisher(bind=base, epoch=5)  # same epoch: a network outage, not a restart
    second.publish(source.state())
    poll_until(board, tally, lambda: len(tally.resyncs) == 2, timeout_s=5.0)
    assert tally.resyncs[-1].reason == "silence"


def test_slow_subscriber_at_the_high_water_mark_sees_its_loss(make_publisher, make_client) -> None:
    pub = make_publisher(settings=PublisherSettings(heartbeat_s=0.02, sndhwm=20, linger_s=0.0))
    source = SyntheticBoard()
    pub.publish(source.state())
    settings = ClientSettings(heartbeat_s=0.02, rcvhwm=20, request_timeout_s=0.5)
    board, tally = make_client(pub.endpoints.base, settings=settings), Tally()
    tally.take(board.poll(2.0))
    state = source.state()
    for _ in range(5_000):  # the client does not read meanwhile (buffers hold ~300)
        pub.publish(state)
    poll_until(board, tally, lambda: tally.last >= pub.seq)
    assert board.counters.gaps_detected >= 1
    assert tally.undetected(pub.seq) == []
    assert board.counters.undetected_loss == 0


def test_fuzzed_frames_on_the_live_stream_are_counted_and_skipped(
    make_publisher, make_client, make_relay
) -> None:
    pub, source = make_publisher(), SyntheticBoard()
    pub.publish(source.state())
    relay = make_relay(pub.endpoints.updates)
    limits = Limits(max_header_bytes=4096, max_frame_bytes=1 << 16)
    # Silence is not under test here: with FAST_CLIENT's 20 ms heartbeat a starved CPU (decoding
    # 10,000 frames beside other work) read as silence, and the reconnect lost frames in flight.
    settings = attrs.evolve(FAST_CLIENT, limits=limits, heartbeat_s=0.5)
    board, tally = make_client(via(relay, pub), settings=settings), Tally()
    tally.take(board.poll(2.0))
    bad = invalid_frames(
        np.random.default_rng(11), source.state(), 10_000, live=True, limits=limits
    )
    relay.add(bad)
    poll_until(board, tally, lambda: board.counters.decode_errors >= len(bad), timeout_s=20.0)
    for _ in range(50):
        pub.publish(source.state())
    poll_until(board, tally, lambda: tally.last >= pub.seq)
    assert board.counters.decode_errors == len(bad)
    assert tally.undetected(pub.seq) == []
    assert board.counters.gaps_detected == 0
    assert board.counters.silences == 0


def test_close_leaves_no_threads_or_sockets(zctx, make_publisher) -> None:
    from hw_bridge.client import ZmqBoard
    from hw_bridge.server import BoardPublisher

    from .conftest import FAST, lattice_4x4

    before = set(threading.enumerate())  # not a count: an earlier test's thread may end meanwhile
    pub = BoardPublisher("b", network=lattice_4x4(), settings=FAST)
    pub.publish(SyntheticBoard().state())
    board = ZmqBoard(pub.endpoints.base, context=zctx, settings=FAST_CLIENT)
    board.snapshot(5.0)
    board.poll(0.05)
    board.close()
    board.close()
    pub.close()
    pub.close()
    assert [t.name for t in threading.enumerate() if t not in before] == []
    with pytest.raises(BridgeClosed):
        pub.publish(SyntheticBoard().state())
    with pytest.raises(BridgeClosed):
        board.poll(0.0)
    terminator = threading.Thread(target=zctx.term)  # blocks if a socket were left open
    terminator.start()
    terminator.join(5.0)
    assert not terminator.is_alive()


def test_endpoints_and_bad_settings() -> None:
    from hw_bridge._sockets import Endpoints

    ep = Endpoints.from_base("tcp://127.0.0.1:5000")
    assert (ep.updates, ep.snapshot, ep.command) == (
        "tcp://127.0.0.1:5000",
        "tcp://127.0.0.1:5001",
        "tcp://127.0.0.1:5002",
    )
    assert ep.base == "tcp://127.0.0.1:5000"
    assert Endpoints.from_base("ipc:///tmp/b").snapshot == "ipc:///tmp/b-snapshot"
    with pytest.raises(BridgeConfigError, match="expected tcp://HOST:PORT"):
        Endpoints.from_base("udp://x:1")


def test_publisher_binds_loopback_by_default(make_publisher) -> None:
    pub = make_publisher()
    assert pub.endpoints.updates.startswith("tcp://127.0.0.1:")
    port = int(pub.endpoints.base.rsplit(":", 1)[1])
    assert pub.endpoints.command == f"tcp://127.0.0.1:{port + 2}"


def test_binding_a_taken_port_is_a_config_error(make_publisher) -> None:
    pub = make_publisher()
    with pytest.raises(BridgeConfigError, match="cannot bind"):
        make_publisher(bind=pub.endpoints.base)


def test_wrong_board_id_is_refused(make_publisher, make_client) -> None:
    pub = make_publisher("b1")
    pub.publish(SyntheticBoard().state())
    with pytest.raises(BridgeConfigError, match="expected 'other'"):
        make_client(pub.endpoints.base, board_id="other").snapshot(5.0)


def test_curve_authentication(tmp_path, make_publisher, make_client) -> None:
    if not zmq.has("curve"):
        pytest.skip("libzmq without CURVE")

    from hw_bridge._sockets import CurveClient, CurveServer
    from twin.board.errors import BridgeTimeout

    allowed, other = tmp_path / "allowed", tmp_path / "other"
    for folder in (allowed, other):
        folder.mkdir()
    _, server_secret = zmq.auth.create_certificates(tmp_path, "server")
    client_public, client_secret = zmq.auth.create_certificates(tmp_path, "client")
    (allowed / "client.key").write_text(Path(client_public).read_text())
    _, intruder_secret = zmq.auth.create_certificates(other, "intruder")
    pub = make_publisher(curve=CurveServer(secret_file=server_secret, clients_dir=allowed))
    pub.publish(SyntheticBoard().state())
    server_public = tmp_path / "server.key"
    good = make_client(
        pub.endpoints.base,
        curve=CurveClient(secret_file=client_secret, server_public_file=server_public),
    )
    assert good.snapshot(5.0).config.board_id == "b1"
    bad = make_client(
        pub.endpoints.base,
        curve=CurveClient(secret_file=intruder_secret, server_public_file=server_public),
    )
    with pytest.raises(BridgeTimeout):
        bad.snapshot(1.0)
    with pytest.raises(BridgeConfigError, match="not a CURVE certificate"):
        make_client(
            pub.endpoints.base,
            curve=CurveClient(secret_file=tmp_path / "missing", server_public_file=server_public),
        ).snapshot(1.0)


def test_a_request_to_a_board_that_never_takes_it_times_out_instead_of_blocking() -> None:
    """A DEALER with no live peer (a CURVE handshake refused, or no board there) blocks a plain
    send for ever; the request gives up at its timeout (a wrong client key once hung the suite)."""
    from hw_bridge._requests import Requester
    from twin.board.contract import LinkCounters

    ctx = zmq.Context.instance()

    def make_socket() -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only to completed connections: none will be
        sock.setsockopt(zmq.LINGER, 0)
        return sock

    with socket.socket() as hold:  # a port of this host that nothing listens on
        hold.bind(("127.0.0.1", 0))
        port = hold.getsockname()[1]
        requester = Requester(make_socket, f"tcp://127.0.0.1:{port}", limits=Limits(),
                              counters=LinkCounters())  # fmt: skip
        result: list[object] = []
        worker = threading.Thread(
            target=lambda: result.append(requester.ask([b"snapshot"], "snapshot", "k1", 0.2)),
            daemon=True,
        )
        worker.start()
        worker.join(timeout=30.0)
    assert not worker.is_alive(), "the request blocked past its timeout"
    assert result == [None]
    requester.close()


@pytest.mark.slow
def test_soak_ten_percent_loss_for_twenty_thousand_frames(
    make_publisher, make_client, make_relay
) -> None:
    pub, source = make_publisher(), SyntheticBoard()
    pub.publish(source.state())
    rng = np.random.default_rng(17)
    relay = make_relay(
        pub.endpoints.updates, lambda kind, seq: kind == "update" and rng.random() < 0.1
    )
    board, tally = make_client(via(relay, pub)), Tally()
    tally.take(board.poll(2.0))
    n_total = 20_000
    feeder = threading.Thread(target=publish_paced, args=(pub, source, n_total - 1, 2000.0))
    feeder.start()
    poll_until(board, tally, lambda: not feeder.is_alive(), timeout_s=60.0)
    feeder.join()
    poll_until(board, tally, lambda: tally.last >= n_total)
    # no undetected loss: every seq after the join was delivered or skipped by a counted resync
    assert tally.undetected(n_total) == []
    counters = board.counters
    assert counters.undetected_loss == 0
    assert n_total - tally.join_seq - counters.updates - counters.resynced_seqs == 0
    # every resync has a recorded cause: handed out with its reason and counted under it. How many
    # gaps one resync covers (frames arriving during a re-snapshot are stale) and whether a loaded
    # machine adds a silence (seen: 1435 resyncs for 1434 gaps and one silence) is timing's
    # business, so no count is fixed
    assert tally.resyncs[0].reason == "initial"
    reasons = Counter(r.reason for r in tally.resyncs[1:])
    assert sum(reasons.values()) == counters.resyncs
    assert set(reasons) <= {"gap", "silence"}  # one epoch: no restart
    assert counters.restarts == 0
    assert 0 < reasons["gap"] <= counters.gaps_detected
    assert reasons["silence"] <= counters.silences


def test_a_board_that_has_published_nothing_is_waited_for(make_publisher, make_client) -> None:
    pub = make_publisher()
    board = make_client(pub.endpoints.base)
    feeder = threading.Timer(0.2, lambda: pub.publish(SyntheticBoard().state()))
    feeder.start()  # the board's first measurement comes later (a fault injection, not a sync)
    try:
        first = board.poll(5.0)
    finally:
        feeder.join()
    assert isinstance(first[0], Resync)
    assert first[0].snapshot.state.seq == 1
