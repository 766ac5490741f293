"""The sequencer's accounting: every announced seq delivered or skipped by a counted resync."""

from __future__ import annotations

import attrs

from hw_bridge import BoardConfig, LinkCounters, Snapshot
from hw_bridge.protocol import Heartbeat
from hw_bridge.sequencer import Sequencer

from .conftest import SyntheticBoard

STATE = SyntheticBoard().state()


def _snap(seq: int, epoch: int = 1) -> Snapshot:
    config = BoardConfig(board_id="b", epoch=epoch, network={}, task={}, params={})
    return Snapshot(config=config, state=attrs.evolve(STATE, seq=seq, epoch=epoch))


def _beat(seq: int, epoch: int = 1) -> Heartbeat:
    return Heartbeat(board_id="b", epoch=epoch, seq=seq, t_s=0.0, wall_unix=0.0, period_s=0.1)


def test_gap_resync_and_restart_accounting() -> None:
    counters = LinkCounters()
    seq = Sequencer(counters)
    assert seq.on_update(attrs.evolve(STATE, seq=3)) == "stale"  # before the join
    assert seq.on_snapshot(_snap(10), "initial").reason == "initial"
    assert [seq.on_update(attrs.evolve(STATE, seq=s)) for s in (9, 10, 11, 12)] == [
        "stale",
        "stale",
        "deliver",
        "deliver",
    ]
    assert seq.on_update(attrs.evolve(STATE, seq=15)) == "gap"
    assert counters.undetected_loss == 0  # detected: a re-snapshot is pending
    assert seq.on_update(attrs.evolve(STATE, seq=16)) == "stale"
    assert seq.on_snapshot(_snap(16), "gap").reason == "gap"
    assert (counters.resyncs, counters.resynced_seqs, counters.gaps_detected) == (1, 4, 1)
    assert seq.on_heartbeat(_beat(18)) == "gap"  # tail loss seen by a heartbeat
    seq.on_snapshot(_snap(18), "gap")
    assert seq.on_heartbeat(_beat(5, epoch=2)) == "restart"
    resync = seq.on_snapshot(_snap(5, epoch=2), "restart")
    assert resync.reason == "restart"
    assert seq.on_update(attrs.evolve(STATE, seq=19, epoch=1)) == "stale"  # the old epoch
    assert counters.restarts == 1
    assert counters.updates == 2
    assert counters.undetected_loss == 0


def test_a_silence_snapshot_of_a_new_epoch_is_a_restart() -> None:
    counters = LinkCounters()
    seq = Sequencer(counters)
    seq.on_snapshot(_snap(4), "initial")
    assert seq.on_snapshot(_snap(1, epoch=9), "silence").reason == "restart"
    assert counters.restarts == 1
