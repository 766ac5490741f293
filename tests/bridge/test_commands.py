"""Commands over DEALER -> ROUTER: acks, idempotency under retry, stale versions, board forms."""

from __future__ import annotations

import threading

import pytest
import zmq

from hw_bridge import Command
from hw_bridge.client import ClientSettings
from hw_bridge.codec import decode, encode
from hw_bridge.protocol import encode_snapshot_request
from twin.board.errors import BridgeTimeout, CommandRefused, ProtocolVersionError

from .conftest import SyntheticBoard


class Recorder:
    """A command handler that remembers what it applied."""

    def __init__(self, delay_first_s: float = 0.0) -> None:
        self.applied: list[Command] = []
        self._delay = threading.Event()
        self._delay_first_s = delay_first_s

    def __call__(self, command: Command):
        if not self.applied and self._delay_first_s:
            self._delay.wait(self._delay_first_s)  # fault injection: the first ack comes late
        self.applied.append(command)
        if command.name == "run_inference":
            return {"outputs_v": [0.1], "energy_j": 1e-9, "hold_s": 0.01}
        if command.args.get("lam", 0) < 0:
            raise CommandRefused("out_of_range", "lam must be >= 0")
        return None


@pytest.fixture
def board_and_handler(make_publisher, make_client):
    def make(handler=None, settings: ClientSettings | None = None):
        handler = handler or Recorder()
        pub = make_publisher(handler=handler)
        pub.publish(SyntheticBoard().state())
        kwargs = {} if settings is None else {"settings": settings}
        return pub, make_client(pub.endpoints.base, **kwargs), handler

    return make


def test_a_repeated_key_is_applied_once(board_and_handler) -> None:
    pub, board, handler = board_and_handler()
    command = Command(name="start_training", key="k-1")
    first, second = board.command(command), board.command(command)
    assert first == second
    assert first.ok
    assert first.version == 1
    assert len(handler.applied) == 1
    assert pub.stats["acks_replayed"] == 1


def test_a_retry_after_a_lost_ack_carries_the_same_key(board_and_handler) -> None:
    settings = ClientSettings(request_timeout_s=0.3, request_retries=3)
    pub, board, handler = board_and_handler(Recorder(delay_first_s=0.4), settings)
    ack = board.command(Command(name="stop_training", key="slow-1"), timeout_s=2.0)
    assert ack.ok
    assert len(handler.applied) == 1  # the retry was answered from the cache
    assert pub.stats["acks_replayed"] >= 1


def test_a_stale_desired_version_is_refused(board_and_handler) -> None:
    pub, board, handler = board_and_handler()
    assert board.command(Command(name="set_params", key="a", args={"lam": 1e-3}, version=0)).ok
    stale = board.command(Command(name="set_params", key="b", args={"lam": 0.5}, version=0))
    assert (stale.ok, stale.code, stale.version) == (False, "stale", 1)
    assert len(handler.applied) == 1
    assert pub.config.params["lam"] == 1e-3
    fresh = board.command(Command(name="set_params", key="c", args={"lam": 0.5}, version=1))
    assert fresh.ok
    assert fresh.version == 2
    assert board.snapshot().config.version == 2


def test_set_params_accepts_the_boards_integer_forms(board_and_handler) -> None:
    pub, board, handler = board_and_handler()
    ack = board.command(Command(name="set_params", key="eta", args={"ETA": 28, "step_us": 100}))
    assert ack.ok
    applied = handler.applied[-1].args
    assert applied == {"eta": pytest.approx(28 / 129), "step_s": pytest.approx(1e-4)}
    assert pub.config.params["eta"] == pytest.approx(0.2170542)
    both = board.command(Command(name="set_params", key="both", args={"ETA": 28, "eta": 0.2}))
    assert (both.ok, both.code) == (False, "invalid")
    assert "not both" in both.message


@pytest.mark.parametrize(
    ("name", "args", "where"),
    [
        ("set_params", {"ETA": 300}, "ETA"),
        ("set_params", {}, "args"),
        ("run_inference", {}, "inputs_v"),
        ("load_task", {"task": 3}, "task"),
        ("reset_gates", {"gate_v": "high"}, "gate_v"),
        ("start_training", {"rounds": {"mode": "sideways"}}, "mode"),
        ("start_training", {"rounds": {"mode": "overclamp", "max_rounds": 0}}, "max_rounds"),
        ("start_training", {"rounds": {"mode": "overclamp", "eta": 0.5}}, "eta"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(board_and_handler, name, args, where) -> None:
    _, board, handler = board_and_handler()
    ack = board.command(Command(name=name, key=f"bad-{name}-{where}", args=args))
    assert (ack.ok, ack.code) == (False, "invalid")
    assert where in ack.message
    assert handler.applied == []


def test_results_refusals_and_failures_come_back_in_the_ack(board_and_handler) -> None:
    pub, board, _ = board_and_handler()
    ack = board.command(Command(name="run_inference", key="inf", args={"inputs_v": [0.1, 0.2]}))
    assert ack.ok
    assert ack.result["energy_j"] == 1e-9
    assert ack.version == 0  # an inference does not change the desired state
    task = {"schema": "twin.task/1", "network": "lattice:4x4:periodic"}
    assert board.command(Command(name="load_task", key="lt", args={"task": task})).ok
    assert pub.config.task == task

    def broken(command: Command):
        raise RuntimeError("ADC not responding")

    _, board2, _ = board_and_handler(broken)
    failed = board2.command(Command(name="start_training", key="x"))
    assert (failed.ok, failed.code) == (False, "failed")
    assert "ADC not responding" in failed.message


def test_a_board_without_handler_refuses_commands(make_publisher, make_client) -> None:
    pub = make_publisher()
    ack = make_client(pub.endpoints.base).command(Command(name="start_training", key="k"))
    assert (ack.ok, ack.code) == (False, "unsupported")


def test_no_ack_is_a_timeout(zctx, make_client) -> None:
    router = zctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    router.close()
    board = make_client(f"tcp://127.0.0.1:{port - 2}")
    with pytest.raises(BridgeTimeout, match="no ack"):
        board.command(Command(name="start_training", key="k"), timeout_s=0.3)


def test_the_board_refuses_another_protocol_version(zctx, make_publisher) -> None:
    pub = make_publisher()
    dealer = zctx.socket(zmq.DEALER)
    dealer.connect(pub.endpoints.snapshot)
    dealer.send_multipart(
        encode_snapshot_request(board_id="", request_id="r", client_unix=0.0, version=2)
    )
    assert dealer.poll(5000)
    reply = decode(dealer.recv_multipart())
    assert reply.type == "error"
    assert reply.header["code"] == "unsupported_version"
    assert reply.header["supported_versions"] == [1]
    assert pub.stats["bad_requests"] == 1
    dealer.close()


def test_the_client_refuses_a_board_of_another_version(zctx, make_client) -> None:
    router = zctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def answer_in_version_2() -> None:
        while not done.is_set():
            if router.poll(20):
                ident, *_ = router.recv_multipart()
                fields = {
                    "board_id": "b",
                    "key": "k",
                    "ok": True,
                    "code": "ok",
                    "message": "",
                    "desired_version": 0,
                    "result": {},
                    "board_unix": 0.0,
                }
                router.send_multipart([ident, *encode("ack", fields, version=2)])

    thread = threading.Thread(target=answer_in_version_2)
    thread.start()
    try:
        board = make_client(f"tcp://127.0.0.1:{port - 2}")
        with pytest.raises(ProtocolVersionError, match="version 2; this side speaks version 1"):
            board.command(Command(name="start_training", key="k"), timeout_s=2.0)
    finally:
        done.set()
        thread.join()
        router.close()


def test_handler_results_are_sent_as_plain_values(board_and_handler) -> None:
    import numpy as np

    def numpy_result(command: Command):
        if command.key == "odd":
            return {"thing": object()}
        return {"outputs_v": np.array([0.1, 0.2]), "energy_j": np.float64(2e-9)}

    _, board, _ = board_and_handler(numpy_result)
    ack = board.command(Command(name="run_inference", key="np", args={"inputs_v": [0.1]}))
    assert ack.result == {"outputs_v": [0.1, 0.2], "energy_j": 2e-9}
    odd = board.command(Command(name="run_inference", key="odd", args={"inputs_v": [0.1]}))
    assert (odd.ok, odd.code) == (False, "failed")
    assert "cannot be sent" in odd.message


def test_training_in_rounds_over_the_wire(make_publisher, make_client) -> None:
    """An emulated lab board behind the publisher: the classifier task, ETA 32 and
    ``start_training`` with ``rounds`` go over DEALER -> ROUTER (schema-checked, nested map
    intact); the board overclamps round by round and goes idle by itself, every point right
    (8 points on a 417 mV circle: 0 % on 6 lab boards of 6, benchmarks/overclamp_table.py)."""
    import numpy as np

    from twin.board.emulator import BoardEmulator, EmulatorConfig
    from twin.board.overclamp import circle_task
    from twin.board.variation import HiddenVariation
    from twin.physics.network_io import network_from_spec
    from twin.physics.task import task_to_dict

    net = network_from_spec("lattice:4x4:periodic")
    config = EmulatorConfig(
        variation=HiddenVariation.lab(), autostart=False, step_s=25e-6, rate_hz=10.0
    )
    emu = BoardEmulator(config, rng=np.random.default_rng(0), task=circle_task(net, 0.2))
    pub = make_publisher(handler=emu.execute)
    pub.publish(SyntheticBoard().state())
    board = make_client(pub.endpoints.base)
    task = task_to_dict(circle_task(net, 0.417))
    rounds = {"mode": "overclamp", "round_s_per_point": 0.01, "max_rounds": 40}
    for name, args in (
        ("load_task", {"task": task}),
        ("set_params", {"ETA": 32}),
        ("start_training", {"rounds": rounds}),
    ):
        ack = board.command(Command(name=name, key=f"oc-{name}", args=args))
        assert ack.ok, ack.message
    assert ack.result["error_fraction"] > 0
    assert ack.result["perfect"] is False
    assert emu.mode == "training"
    while emu.rounds is not None and emu.t_s < 2.0:
        emu.advance(emu.schedule_end_s)
    assert emu.mode == "idle"
    assert emu.rounds_result is not None
    assert emu.rounds_result.perfect
    assert emu.rounds_result.error_fraction[-1] == 0.0


def test_a_slow_board_is_asked_again_until_the_timeout(board_and_handler) -> None:
    """Retries go on, with the same key, for as long as ``timeout_s`` allows: a board that
    takes 1 s to act is answered within a 3 s timeout even though the client's own retries
    (2 attempts of 0.2 s) end sooner."""
    settings = ClientSettings(request_timeout_s=0.2, request_retries=1)
    _pub, board, handler = board_and_handler(Recorder(delay_first_s=1.0), settings)
    ack = board.command(Command(name="stop_training", key="slow-2"), timeout_s=3.0)
    assert ack.ok
    assert len(handler.applied) == 1
