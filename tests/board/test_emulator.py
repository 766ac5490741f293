"""The board emulator: commands, versions, idempotency, reproducibility, ADC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twin.board.commands import eta_from_setting, parse_set_params
from twin.board.contract import Board, Command
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeClosed, CommandRefused
from twin.board.inprocess import InProcessBoard, parse_fault
from twin.board.variation import Adc, HiddenVariation
from twin.physics.task import task_to_dict


def make(seed: int = 1, **config: object) -> BoardEmulator:
    return BoardEmulator(EmulatorConfig(**config), rng=np.random.default_rng(seed))  # type: ignore[arg-type]


def cmd(name: str, key: str, version: int | None = None, **args: object) -> Command:
    return Command(name=name, key=key, args=args, version=version)


def test_frames_at_the_configured_rate_in_board_time() -> None:
    emu = make(rate_hz=500.0)
    frames = emu.advance(0.1)
    assert len(frames) == 50
    assert [f.seq for f in frames] == list(range(1, 51))
    assert np.allclose(np.diff([f.t_s for f in frames]), 2e-3)
    assert frames[-1].wall_unix == pytest.approx(emu.boot_unix + 0.1)
    assert frames[-1].gate_v.shape == (32,)
    assert frames[-1].v_free_v.shape == (16,)


def test_same_seed_same_board_and_frames() -> None:
    var = HiddenVariation.typical()
    a, b = make(3, variation=var), make(3, variation=var)
    fa, fb = a.advance(0.05), b.advance(0.05)
    assert a.epoch == b.epoch
    assert np.array_equal(a.hidden["v_t_v"], b.hidden["v_t_v"])
    assert all(np.array_equal(x.gate_v, y.gate_v) for x, y in zip(fa, fb, strict=True))
    assert all(np.array_equal(x.v_free_v, y.v_free_v) for x, y in zip(fa, fb, strict=True))
    c = make(4, variation=var)
    assert not np.array_equal(a.hidden["v_t_v"], c.hidden["v_t_v"])


def test_adc_quantisation_and_noise_are_visible() -> None:
    emu = make(node_adc=Adc(bits=8, sigma_v=0.0))
    frame = emu.advance(0.01)[-1]
    lsb = 0.4532 / 255
    codes = frame.v_free_v / lsb
    assert np.allclose(codes, np.round(codes))
    assert len(np.unique(frame.v_free_v)) < 16  # 8 bits lump nodes together
    noisy = make(node_adc=Adc(bits=0, sigma_v=1e-3))
    exact = make(node_adc=Adc(bits=0, sigma_v=0.0))
    n, e = noisy.advance(0.01)[-1], exact.advance(0.01)[-1]
    diff = n.v_free_v - e.v_free_v
    assert 2e-4 < float(np.std(diff)) < 3e-3
    assert Adc(bits=12, full_scale_v=1.0).lsb_v == pytest.approx(1 / 4095)


def test_training_learns_the_task_and_stop_holds_the_gates() -> None:
    emu = make()
    first = emu.advance(0.001)[0]
    late = emu.advance(1.0)[-1]
    targets = emu.task.targets
    err0 = np.sum((first.v_free_v[targets] - first.targets_v) ** 2)
    err1 = np.sum((late.v_free_v[targets] - late.targets_v) ** 2)
    assert err1 < err0 / 100
    ack = emu.command(cmd("reset_gates", "r", gate_v=3.0))
    assert ack.ok
    held = emu.advance(emu.t_s + 0.2)
    assert {f.mode for f in held} == {"idle"}
    assert np.allclose(held[-1].gate_v, 3.0, atol=5e-3)
    assert emu.command(cmd("start_training", "s", duration_s=0.1)).ok
    run = emu.advance(emu.t_s + 0.3)
    modes = [f.mode for f in run]
    assert modes[0] == "training"
    assert modes[-1] == "idle"
    assert np.max(np.abs(run[-1].gate_v - 3.0)) > 0.05
    assert emu.command(cmd("stop_training", "x")).ok
    assert emu.advance(emu.t_s + 0.01)[-1].mode == "idle"


def test_set_params_accepts_physical_and_board_forms() -> None:
    emu = make()
    ack = emu.command(cmd("set_params", "a", ETA=28, step_us=200.0, lam=0.01))
    assert ack.ok
    assert ack.result["eta"] == pytest.approx(28 / 129)
    assert emu.step_s == pytest.approx(2e-4)
    frame = emu.advance(0.01)[-1]
    assert (frame.eta, frame.lam) == (pytest.approx(28 / 129), 0.01)
    assert emu.command(cmd("set_params", "b", eta=0.5)).result["ETA"] == 64
    assert emu.board_config().params["eta"] == 0.5
    for bad in ({"eta": 0.2, "ETA": 20}, {"ETA": 300}, {"step_s": 1e-4, "step_us": 100}, {},
                {"eta": -1.0}, {"bogus": 1}):  # fmt: skip
        ack = emu.command(Command(name="set_params", key=f"bad{bad}", args=bad))
        assert not ack.ok
        assert ack.code == "invalid"
    assert eta_from_setting(129) == 1.0
    with pytest.raises(CommandRefused):
        parse_set_params({"ETA": 1.5})


def test_versions_refuse_stale_commands_and_keys_are_idempotent() -> None:
    emu = make()
    assert emu.version == 0
    first = emu.command(cmd("stop_training", "k1", version=0))
    assert (first.ok, first.version) == (True, 1)
    retry = emu.command(cmd("stop_training", "k1", version=0))
    assert retry == first
    assert emu.version == 1
    stale = emu.command(cmd("start_training", "k2", version=0))
    assert (stale.ok, stale.code, stale.version) == (False, "stale", 1)
    assert emu.mode == "idle"
    assert emu.command(cmd("start_training", "k3", version=1)).ok
    assert emu.command(cmd("start_training", "k4")).ok  # no version: unconditional
    unknown = emu.command(cmd("self_destruct", "k5"))
    assert (unknown.ok, unknown.code) == (False, "unsupported")


def test_run_inference_applies_inputs_holds_and_reports() -> None:
    emu = make()
    emu.advance(0.5)
    version = emu.version
    ack = emu.command(cmd("run_inference", "i", inputs_v=[0.3], hold_s=0.005))
    assert ack.ok
    assert emu.version == version  # inference does not change the desired state
    assert len(ack.result["outputs_v"]) == 2
    assert ack.result["energy_j"] == pytest.approx(ack.result["power_w"] * 0.005)
    frames = emu.advance(emu.t_s + 0.01)
    assert [f.mode for f in frames[:4]] == ["inference"] * 4
    assert np.allclose(frames[0].inputs_v, [0.3])
    assert frames[-1].mode == "training"  # back to what it was doing
    # the training input gives the training state's outputs (gates held)
    emu.command(cmd("stop_training", "h"))
    held = emu.advance(emu.t_s + 0.01)[-1]
    full = emu.command(cmd("run_inference", "j", inputs_v=[0.45]))
    assert np.allclose(full.result["outputs_v"], held.v_free_v[emu.task.targets], atol=3e-3)
    assert not np.allclose(full.result["outputs_v"], ack.result["outputs_v"], atol=0.01)
    bad = emu.command(cmd("run_inference", "k", inputs_v=[0.1, 0.2]))
    assert (bad.ok, bad.code) == (False, "invalid")


def test_load_task_must_keep_the_board_network() -> None:
    emu = make()
    doc = task_to_dict(emu.task)
    doc["train"]["outputs"] = [[0.045, 0.405]]
    ack = emu.command(cmd("load_task", "t", task=doc))
    assert ack.ok
    assert np.allclose(emu.advance(0.01)[-1].targets_v, [0.045, 0.405])
    other = dict(doc, network={"nodes": 3, "edges": [[0, 1], [1, 2]]})
    assert emu.command(cmd("load_task", "u", task=other)).code == "invalid"
    assert emu.command(cmd("load_task", "v", task={"nope": 1})).code == "invalid"


def test_reset_gates_checks_the_rails() -> None:
    emu = make()
    assert emu.command(cmd("reset_gates", "a", gate_v=[2.0] * 32)).ok
    for bad in ([2.0] * 31, 9.0, "x"):
        assert emu.command(cmd("reset_gates", f"b{bad}", gate_v=bad)).code == "invalid"


def test_in_process_board_satisfies_the_contract_and_restarts() -> None:
    emu = make()
    board = InProcessBoard(emu, chunk_s=0.01)
    assert isinstance(board, Board)
    first = board.poll(1.0)
    assert first[0].reason == "initial"  # type: ignore[union-attr]
    assert len(first) == 11
    epoch = emu.epoch
    board.restart()
    after = board.poll(1.0)
    assert after[0].reason == "restart"  # type: ignore[union-attr]
    assert after[0].snapshot.state.epoch != epoch  # type: ignore[union-attr]
    assert after[1].seq == 1  # type: ignore[union-attr]
    assert board.counters.resyncs == 2
    board.close()
    with pytest.raises(BridgeClosed):
        board.poll(0.1)


def test_faults_are_injected_at_board_time() -> None:
    fault = parse_fault("7:gain=0@0.05")
    assert (fault.edge, fault.t_s, dict(fault.changes)) == (7, 0.05, {"gain_factor": 0.0})
    emu = make()
    board = InProcessBoard(emu, faults=[fault])
    while emu.t_s < 0.1:
        board.poll(1.0)
    assert emu.edges.columns(32)["a_free_per_v"][7] == 0.0


def test_load_task_with_a_network_spec_or_a_huge_network_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused from the document's shape: no network is generated, read or parsed."""
    import twin.board.commands

    def parsed(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the task's network was parsed before the refusal")

    emu = make()
    monkeypatch.setattr(twin.board.commands, "task_from_dict", parsed)
    doc = task_to_dict(emu.task)
    secret = tmp_path / "net.json"
    secret.write_text("{}")
    huge = {"nodes": 3000, "edges": [[i, i + 1] for i in range(2999)]}
    for network in ("jammed:3000", f"file:{secret}", str(secret), huge):
        ack = emu.command(
            cmd("load_task", f"k{len(str(network))}", task=dict(doc, network=network))
        )
        assert (ack.ok, ack.code) == (False, "invalid")
        assert "network" in ack.message
