"""Command round trips through the Board contract: acks, refusals, stale versions, retries."""

from __future__ import annotations

import pytest

from twin.board.contract import Command
from twin.documents import validate_document
from twin.steer.client import CommandClient
from twin.steer.errors import CommandUnanswered, SteerConfigError
from twin.steer.limits import CommandLimits, RateLimiter

from .conftest import Misbehaving, collect


def test_round_trip_bumps_the_version_and_is_recorded(board) -> None:
    docs, emit = collect()
    c = CommandClient(board, run="r1", emit=emit)
    ack = c.send("set_params", {"lam": 0.01})
    assert ack is not None
    assert ack.ok
    assert ack.version == 1
    assert board.emulator.lam == 0.01
    assert c.version == 1
    assert c.send("stop_training").version == 2
    assert [d["status"] for d in docs] == ["acked", "acked"]
    assert docs[0]["key"] != docs[1]["key"]
    for doc in docs:
        validate_document(doc)


def test_refusal_is_counted_and_recorded(board) -> None:
    docs, emit = collect()
    c = CommandClient(board, run="r1", emit=emit)
    ack = c.send("run_inference", {"inputs_v": [0.1, 0.2, 0.3]})  # the board has 2 sources
    assert ack is not None
    assert not ack.ok
    assert ack.code == "invalid"
    assert c.counters.refused == 1
    assert c.counters.refused_codes == {"invalid": 1}
    assert docs[-1]["status"] == "refused"
    assert docs[-1]["ack"]["code"] == "invalid"
    validate_document(docs[-1])


def test_out_of_range_is_never_sent(board) -> None:
    c = CommandClient(board, run="r1", limits=CommandLimits(lam_max=0.5))
    with pytest.raises(SteerConfigError, match=r"set_params\.lam"):
        c.send("set_params", {"lam": 0.9})
    with pytest.raises(SteerConfigError, match="hold_s"):
        c.send("run_inference", {"inputs_v": [0.0, 0.45], "hold_s": 5.0})
    assert board.emulator.version == 0
    assert c.counters.sent == 0


def test_stale_version_is_resent_on_the_boards_version(board) -> None:
    docs, emit = collect()
    c = CommandClient(board, run="r1", emit=emit)
    c.send("set_params", {"lam": 0.01})
    board.command(Command(name="set_params", key="other-operator", args={"eta": 0.2}))
    ack = c.send("set_params", {"lam": 0.02})
    assert ack is not None
    assert ack.ok
    assert board.emulator.lam == 0.02
    assert c.counters.stale == 1
    assert c.version == board.emulator.version == 3
    assert [d["status"] for d in docs] == ["acked", "stale", "acked"]


def test_lost_ack_is_retried_with_the_same_key_and_applied_once(board) -> None:
    lost = {"n": 0}

    def lose_first(command) -> bool:
        lost["n"] += 1
        return lost["n"] == 1

    flaky = Misbehaving(board, lose_ack=lose_first)
    c = CommandClient(flaky, run="r1")
    ack = c.send("set_params", {"lam": 0.01})
    assert ack is not None
    assert ack.ok
    assert [cmd.key for cmd in flaky.received] == ["r1-00001", "r1-00001"]
    assert board.emulator.version == 1  # applied once: the retry was answered from memory
    assert c.counters.retries == 1
    assert c.counters.sent == 2


def test_unanswered_is_counted_and_raises_when_required(board) -> None:
    dead = Misbehaving(board, drop=lambda c: True)
    docs, emit = collect()
    c = CommandClient(dead, run="r1", emit=emit, retries=2)
    assert c.send("set_params", {"lam": 0.01}) is None
    assert c.counters.unanswered == 1
    assert c.counters.sent == 3
    with pytest.raises(CommandUnanswered, match="stop_training"):
        c.send("stop_training", must=True)
    assert docs[0]["status"] == "unanswered"
    assert docs[0]["attempts"] == 3


def test_reboot_resets_the_version_and_the_client_resends(board) -> None:
    c = CommandClient(board, run="r1")
    c.send("set_params", {"lam": 0.01})
    board.restart()
    ack = c.send("set_params", {"lam": 0.02})  # carries version 1; the new epoch is at 0
    assert ack is not None
    assert ack.ok
    assert c.counters.stale == 1
    assert board.emulator.version == 1
    assert board.emulator.lam == 0.02


def test_dry_run_sends_nothing(board) -> None:
    docs, emit = collect()
    c = CommandClient(board, run="r1", emit=emit, dry_run=True)
    assert c.send("set_params", {"lam": 0.01}).code == "dry_run"
    assert board.emulator.version == 0
    assert board.emulator.lam == 0.0
    assert c.counters.sent == 0
    assert docs[0]["status"] == "dry_run"
    validate_document(docs[0])


def test_rate_limiter_spaces_commands_beyond_the_burst() -> None:
    now = {"t": 0.0}
    waits: list[float] = []

    def sleep(dt: float) -> None:
        waits.append(dt)
        now["t"] += dt

    rate = RateLimiter(10.0, 2, clock=lambda: now["t"], sleep=sleep)
    for _ in range(4):
        rate.wait()
    assert waits == pytest.approx([0.1, 0.1])
