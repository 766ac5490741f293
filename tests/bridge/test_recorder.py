"""Recorder and replayer: kill-safe append-only file, torn tails, replay into the same pipeline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import attrs
import numpy as np
import pytest

from hw_bridge import Board, BoardConfig, Command, Resync, Snapshot
from hw_bridge.protocol import encode_snapshot, encode_update
from hw_bridge.recorder import MAGIC, Recorder, Replayer, read_records, scan
from twin.board.errors import RecordingError

from .conftest import SyntheticBoard, Tally, poll_until, publish_paced

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, n: int) -> list[list[bytes]]:
    source = SyntheticBoard()
    frames = [encode_update(source.state()) for _ in range(n)]
    with Recorder(path, fsync_every_s=0.0) as rec:
        for i, f in enumerate(frames):
            rec.write("sub", f, 1000.0 + i)
    return frames


def test_records_round_trip(tmp_path) -> None:
    path = tmp_path / "a.rec"
    frames = _write(path, 20)
    records = list(read_records(path))
    assert [r.frames for r in records] == frames
    assert [r.recv_unix for r in records] == [1000.0 + i for i in range(20)]
    assert scan(path).torn_bytes == 0
    assert path.read_bytes()[:8] == MAGIC


def test_a_torn_last_record_is_ignored_and_dropped_on_append(tmp_path) -> None:
    path = tmp_path / "a.rec"
    _write(path, 5)
    full = path.read_bytes()
    record_bytes = len(full) - len(MAGIC)
    last_len = record_bytes // 5
    for cut in [*range(1, last_len, 23), last_len - 1]:  # cut inside the last record
        path.write_bytes(full[:-cut])
        info = scan(path)
        assert info.records == 4
        assert info.torn_bytes == last_len - cut
    with Recorder(path) as rec:  # a writer reopening drops the torn tail before appending
        assert rec.records == 4
        rec.write("sub", [b"update", b"x"], 1.0)
    assert scan(path).records == 5
    assert scan(path).torn_bytes == 0


def test_corruption_before_the_end_is_an_error(tmp_path) -> None:
    path = tmp_path / "a.rec"
    _write(path, 5)
    data = bytearray(path.read_bytes())
    data[len(MAGIC) + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="checksum"):
        scan(path)
    (tmp_path / "b.rec").write_bytes(b"hello")
    with pytest.raises(RecordingError, match="not a recording"):
        scan(tmp_path / "b.rec")
    with pytest.raises(RecordingError, match="cannot read"):
        scan(tmp_path / "missing.rec")


_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from twin.board.contract import BoardState
    from hw_bridge.protocol import encode_snapshot, encode_update
    from hw_bridge.recorder import Recorder

    rng = np.random.default_rng(0)
    rec = Recorder(sys.argv[1], fsync_every_s=1.0)
    seq = 0
    while True:
        seq += 1
        state = BoardState(board_id="k", epoch=1, seq=seq, t_s=seq * 1e-3, wall_unix=0.0,
                           mode="training", gate_v=rng.uniform(1, 5, 32),
                           v_free_v=rng.uniform(0, 0.4, 16), v_clamped_v=rng.uniform(0, 0.4, 16),
                           inputs_v=[0.1, 0.2], targets_v=[0.3], eta=0.22, lam=0.0)
        rec.write("sub", encode_update(state), float(seq))
        print(seq, flush=True)
    """
)


def test_a_killed_recorder_loses_at_most_one_frame(tmp_path) -> None:
    path = tmp_path / "killed.rec"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        written = 0
        deadline = time.monotonic() + 30.0
        while written < 300:
            assert time.monotonic() < deadline, "writer too slow"
            written = int(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        remaining = proc.stdout.read().split()
        proc.stdout.close()
    reported = int(remaining[-1]) if remaining else written  # last write confirmed on stdout
    info = scan(path)
    assert reported <= info.records <= reported + 1
    seqs = [int(r.recv_unix) for r in read_records(path)]
    assert seqs == list(range(1, info.records + 1))


def test_live_stream_recorded_and_replayed_gives_the_same_updates(
    tmp_path, make_publisher, make_client
) -> None:
    path = tmp_path / "live.rec"
    pub, source = make_publisher(), SyntheticBoard()
    pub.publish(source.state())
    with Recorder(path) as rec:
        board, live = make_client(pub.endpoints.base, tap=rec), Tally()
        live.take(board.poll(2.0))
        feeder = threading.Thread(target=publish_paced, args=(pub, source, 200, 2000.0))
        feeder.start()
        poll_until(board, live, lambda: not feeder.is_alive() and live.last >= pub.seq)
        feeder.join()
    replay, replayed = Replayer(path, speed=None), Tally()
    assert isinstance(replay, Board)
    assert replay.snapshot().state.seq == live.join_seq
    while not replay.done:
        replayed.take(replay.poll(0.1))
    assert replayed.delivered == live.delivered
    assert [r.reason for r in replayed.resyncs] == [r.reason for r in live.resyncs]
    np.testing.assert_array_equal(
        replayed.states[live.delivered[-1]].gate_v, live.states[live.delivered[-1]].gate_v
    )
    assert replay.counters.updates == board.counters.updates
    ack = replay.command(Command(name="start_training", key="k"))
    assert (ack.ok, ack.code) == (False, "read_only")
    assert isinstance(replayed.resyncs[0], Resync)


def test_replay_speed_paces_the_stream(tmp_path) -> None:
    path = tmp_path / "paced.rec"
    state = SyntheticBoard().state()
    config = BoardConfig(board_id="p", epoch=1, network={}, task={}, params={})
    with Recorder(path) as rec:
        snap = encode_snapshot(
            Snapshot(config=config, state=state), request_id="r", client_unix=0.0, board_unix=0.0
        )
        rec.write("snapshot", snap, 10.0)
        for i in range(1, 5):  # 0.2 s of recorded time
            rec.write("sub", encode_update(attrs.evolve(state, seq=1 + i)), 10.0 + 0.05 * i)
    start = time.monotonic()
    replay, got, at = Replayer(path, speed=2.0), Tally(), {}
    for _ in range(1000):  # a bound on the polls, not on the time they take
        if replay.done:
            break
        updates = replay.poll(0.5)
        got.take(updates)
        now_s = time.monotonic() - start
        at.update((u.seq, now_s) for u in updates if not isinstance(u, Resync))
    assert replay.done
    assert got.delivered == sorted(at) == [2, 3, 4, 5]
    for seq, t_s in at.items():  # never ahead of the recording's time at speed 2
        assert t_s >= 0.05 * (seq - 1) / 2.0, (seq, t_s)
