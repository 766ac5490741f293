"""The shared option types (twin/cli/_types.py): every command refuses an out-of-range seed,
duration, rate, endpoint, fault or output path in one line with exit code 2, before any work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from twin.board.errors import BridgeConfigError
from twin.board.inprocess import fault_spec, parse_fault

BAD = [
    (["shadow", "--emulate", "--seed", "-1"], "--seed"),
    (["board", "--seed", "-1"], "--seed"),
    (["calibrate", "--from-emulator", "--seed", "-5"], "--seed"),
    (["demo", "--seed", "-1"], "--seed"),
    (["shadow", "--emulate", "--fault", "7:threshold=1e308@0.5"], "threshold"),
    (["shadow", "--emulate", "--fault", "7:gain=nan@1"], "gain"),
    (["shadow", "--emulate", "--fault", "7:leak=0@1"], "leak"),
    (["shadow", "--emulate", "--fault", "7:free_gain=inf@1"], "free_gain"),
    (["shadow", "--emulate", "--fault", "7:gain=2@nan"], "time"),
    (["shadow", "--emulate", "--fault", "-1:gain=2@1"], "edge"),
    (["shadow", "--emulate", "--fault", "99:gain=2@1"], "edge"),
    (["shadow", "--emulate", "--duration", "nan"], "--duration"),
    (["shadow", "--emulate", "--duration", "inf"], "--duration"),
    (["shadow", "--emulate", "--duration", "1e308"], "--duration"),
    (["shadow", "--emulate", "--rate-hz", "1e300"], "--rate-hz"),
    (["shadow", "--emulate", "--rate-hz", "1e-300"], "--rate-hz"),
    (["shadow", "--emulate", "--hold-s", "nan"], "--hold-s"),
    (["shadow", "--emulate", "--probe-every", "0"], "--probe-every"),
    (["shadow", "--emulate", "--probe-every", "-1"], "--probe-every"),
    (["shadow", "--emulate", "--probe-every", "nan"], "--probe-every"),
    (["shadow", "--emulate", "--probe-every", "inf"], "--probe-every"),
    (["shadow", "--emulate", "--probe-every", "soon"], "--probe-every"),
    (["shadow", "--emulate", "--probe-every", "0.05"], "--probe-every"),  # < 10 x the hold
    (["shadow", "--emulate", "--probe-every", "1", "--probe-hold", "61"], "--probe-hold"),
    (["shadow", "--emulate", "--probe-every", "1", "--probe-hold", "0"], "--probe-hold"),
    (["board", "--rate-hz", "1e300"], "--rate-hz"),
    (["board", "--rate-hz", "1e-300"], "--rate-hz"),
    (["board", "--duration", "nan"], "--duration"),
    (["board", "--bind", "tcp://127.0.0.1:99999"], "--bind"),
    (["board", "--bind", "http://127.0.0.1:5555"], "--bind"),
    (["shadow", "--connect", "tcp://*:5555"], "--connect"),
    (["shadow", "--connect", "tcp://localhost"], "--connect"),
    (["record", "--connect", "garbage", "--out", "x.rec"], "--connect"),
    (
        ["record", "--connect", "tcp://127.0.0.1:5555", "--out", "x.rec", "--duration", "inf"],
        "--duration",
    ),
    (["replay", "x.rec", "--speed", "nan"], "--speed"),
    (["demo", "--calibration-s", "inf"], "--calibration-s"),
    (["demo", "--duration", "nan"], "--duration"),
    (["calibrate", "--from-emulator", "--episode-s", "1e308"], "--episode-s"),
    (["sweep", "run", "x.toml", "--scheduler", "tcp://host"], "--scheduler"),
    (["figures", "--scheduler", "nonsense"], "--scheduler"),
    (["energy", "to-tolerance", "r", "--error", "nan"], "--error"),
    (["board", "--variation", "lab2"], "--variation"),
    (["shadow", "--emulate", "--variation", "LAB"], "--variation"),
    (["steer", "--emulate", "--tolerance", "1e-3", "--variation", "real"], "--variation"),
    (["calibrate", "--from-emulator", "--variation", ""], "--variation"),
    (["calibrate", "--record", "x.rec", "--variation", "lab"], "--variation needs --from-emulator"),
    (["calibrate", "--from-emulator", "--idle-s", "-0.1"], "--idle-s"),
    (["calibrate", "--from-emulator", "--idle-s", "inf"], "--idle-s"),
    (["shadow", "--emulate", "--calibrate", "--idle-s", "-1"], "--idle-s"),
    (["shadow", "--emulate", "--calibrate", "--idle-s", "nan"], "--idle-s"),
    (["shadow", "--emulate", "--calibrate", "--idle-s", "3601"], "--idle-s"),
    (["shadow", "--emulate", "--calibrate", "--idle-s", "long"], "--idle-s"),
    (["shadow", "--emulate", "--idle-s", "0.2"], "--idle-s needs --calibrate"),
    (["shadow", "--connect", "tcp://127.0.0.1:5555", "--idle-s", "1"], "--idle-s needs"),
]


@pytest.mark.parametrize(("args", "needle"), BAD)
def test_out_of_range_options_are_one_line_errors(
    capsys: Any, tmp_path: Path, monkeypatch: Any, args: list[str], needle: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = run_cli(capsys, *args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []  # nothing written


OUTPUTS = [
    ["train", "--steps", "1", "--out", "/proc/version"],
    ["simulate", "--out", "/proc/version"],
    ["train", "--steps", "1", "--out", "x" * 300 + ".jsonl"],
    ["calibrate", "--from-emulator", "--save", "no/such/dir/fit.json"],
    ["shadow", "--emulate", "--plot", "p.txt"],
    ["shadow", "--emulate", "--out", "/proc/self/status"],
    ["record", "--connect", "tcp://127.0.0.1:5555", "--out", "/proc/version"],
    ["figures", "--out", "/proc/figures"],
    ["demo", "--out", "/proc/demo"],
    ["demo", "--out", "f" * 300],
]


@pytest.mark.parametrize("args", OUTPUTS)
def test_outputs_checked_before_work(
    capsys: Any, tmp_path: Path, monkeypatch: Any, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "--out" in err or "--save" in err or "--plot" in err
    assert os.listdir(tmp_path) == []


def test_unwritable_output_folder(capsys: Any, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        for args in (["figures", "--out", str(locked / "f")], ["demo", "--out", str(locked)]):
            code, _, err = run_cli(capsys, *args)
            assert code == 2, err
            assert "not writable" in err
    finally:
        locked.chmod(0o700)


def test_non_loopback_bind_warns(capsys: Any, monkeypatch: Any) -> None:
    from twin.cli._types import Endpoint, is_loopback, warn_if_exposed

    assert is_loopback("tcp://127.0.0.1:5555")
    assert is_loopback("tcp://[::1]:5555")
    assert is_loopback("ipc:///tmp/b")
    assert is_loopback("tcp://localhost:1")
    assert not is_loopback("tcp://0.0.0.0:5555")
    assert not is_loopback("tcp://*:5555")
    Endpoint(bind=True).convert("tcp://0.0.0.0:5555", None, None)
    assert capsys.readouterr().err == ""  # checking an option never prints: one error line
    warn_if_exposed("tcp://127.0.0.1:5555")
    assert capsys.readouterr().err == ""
    warn_if_exposed("tcp://0.0.0.0:5555")
    assert "warning: tcp://0.0.0.0:5555 listens beyond this machine" in capsys.readouterr().err


def test_fault_ranges_are_the_library_validators() -> None:
    from twin.board.inprocess import Fault

    fault = parse_fault("7:threshold=-0.2@1.5")
    assert fault.changes == {"threshold_shift_v": -0.2}
    assert fault.t_s == 1.5
    assert parse_fault(fault_spec(fault)) == fault
    assert parse_fault("3:leak=inf@0").changes == {"leak_tau_s": float("inf")}
    for bad in ({"gain_factor": -1.0}, {"leak_tau_s": 0.0}, {"bogus": 1.0}):
        with pytest.raises(BridgeConfigError):
            Fault(t_s=0.0, edge=1, changes=bad)


def test_set_params_rate_range_is_the_cli_range() -> None:
    from twin.board.commands import RATE_HZ_RANGE, parse_set_params
    from twin.board.errors import CommandRefused
    from twin.cli._types import RATE_HZ

    assert (RATE_HZ.min, RATE_HZ.max) == RATE_HZ_RANGE
    with pytest.raises(CommandRefused):
        parse_set_params({"rate_hz": 1e-300})
    assert parse_set_params({"rate_hz": 50.0}) == {"rate_hz": 50.0}


def test_variation_choices_are_the_library_presets() -> None:
    from twin.board.commands import VARIATION_NAMES
    from twin.board.variation import HiddenVariation
    from twin.cli._types import VARIATION

    assert tuple(VARIATION.choices) == VARIATION_NAMES == ("none", "typical", "lab")
    assert HiddenVariation.named("none") == HiddenVariation()
    assert HiddenVariation.named("typical") == HiddenVariation.typical()
    assert HiddenVariation.named("lab") == HiddenVariation.lab()
    assert HiddenVariation.named("lab").has_bias
    assert not HiddenVariation.named("typical").has_bias
    with pytest.raises(BridgeConfigError, match="expected one of none, typical, lab"):
        HiddenVariation.named("lab ")


WORK = [
    ["shadow", "--emulate", "--duration", "1e7"],
    ["shadow", "--emulate", "--rate-hz", "1e5", "--duration", "1000"],
    ["shadow", "--emulate", "--realtime", "--duration", "1e7"],
    ["shadow", "--connect", "tcp://127.0.0.1:5555", "--duration", "1e6"],
    ["calibrate", "--from-emulator", "--episodes", "10000"],
    ["demo", "--duration", "3600", "--calibration-s", "60"],
]


@pytest.mark.parametrize("args", WORK)
def test_work_is_estimated_before_it_starts(
    capsys: Any, tmp_path: Path, monkeypatch: Any, args: list[str]
) -> None:
    import time

    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    code, _, err = run_cli(capsys, *args, "--out" if args[0] == "demo" else "--json",
                           *(["out"] if args[0] == "demo" else []))  # fmt: skip
    assert code == 2, err
    assert "estimated" in err
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - t0 < 10
    assert os.listdir(tmp_path) == []
