"""``twin shadow``, ``twin board`` and ``twin calibrate`` on the command line."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.helpers import run_cli as run

KEYS = ("frames", "gaps_detected", "resyncs", "undetected_loss", "decode_errors", "lag_p50_s",
        "lag_p99_s", "residual_rms_v", "alarms", "board_energy_j", "twin_energy_j")  # fmt: skip


def test_shadow_emulate_json(capsys, tmp_path) -> None:
    code, out, err = run(
        capsys, "shadow", "--emulate", "--duration", "0.5", "--no-db", "--json",
        "--variation", "none", "--plot", str(tmp_path / "s.png"),
        "--out", str(tmp_path / "r.jsonl"),
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    for key in KEYS:
        assert key in summary
    assert summary["frames"] == 500
    assert summary["undetected_loss"] == 0
    assert summary["alarms"] == 0
    assert summary["residual_rms_v"] < 1e-3
    assert (tmp_path / "s.png").stat().st_size > 10_000
    docs = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert {d.get("source") for d in docs if d["doc"] == "energy"} == {"board", "twin"}


def test_shadow_fault_alarm_is_stored_in_the_ledger(capsys, tmp_path) -> None:
    db = tmp_path / "ledger.db"
    code, out, err = run(
        capsys, "shadow", "--emulate", "--duration", "2.8", "--variation", "none", "--json",
        "--fault", "7:free_gain=3@2.3", "--db", f"sqlite:///{db}",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["alarms"] >= 1  # after the uncalibrated detector's 2 s warm-up
    assert summary["calibrated"] is False
    assert summary["alarm_list"][-1]["edges"][0] == 7
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT code, run_uid, message FROM alarms").fetchall()
        runs = dict(conn.execute("SELECT uid, source FROM runs").fetchall())
    assert rows
    assert rows[-1][0] == "shadow_divergence"
    assert runs[rows[-1][1]] == "twin"
    assert '"edges":[7' in rows[-1][2]
    assert sorted(runs.values()) == ["board", "twin"]


def test_board_runs_the_emulator(capsys) -> None:
    code, out, err = run(
        capsys, "board", "--bind", "tcp://127.0.0.1:0", "--duration", "0.3", "--rate-hz", "200",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["frames"] >= 20


def test_lab_variation_on_the_command_line(capsys, tmp_path) -> None:
    """``--variation lab`` serves and shadows a board with the lab's learning bias."""
    from twin.shadow.session import EmulationSpec, make_emulator

    code, out, err = run(
        capsys, "board", "--bind", "tcp://127.0.0.1:0", "--duration", "0.3", "--rate-hz", "200",
        "--variation", "lab", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["frames"] >= 20
    code, out, err = run(
        capsys, "shadow", "--emulate", "--duration", "0.3", "--no-db", "--json",
        "--variation", "lab", "--seed", "5", "--out", str(tmp_path / "r.jsonl"),
    )  # fmt: skip
    assert code == 0, err
    docs = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert {d["params"]["variation"] for d in docs if d["doc"] == "start"} == {"lab"}
    bias = make_emulator(EmulationSpec(seed=5, variation="lab")).hidden["bias_v_per_s"]
    assert 0.5 < float(abs(bias).mean()) < 4.0  # the lab's 1.5 +- 1.5 V/s, not typical()'s 0
    typical = make_emulator(EmulationSpec(seed=5, variation="typical")).hidden["bias_v_per_s"]
    assert not typical.any()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("shadow",), "exactly one of --emulate or --connect"),
        (("shadow", "--emulate", "--connect", "tcp://127.0.0.1:1"), "exactly one"),
        (("shadow", "--emulate", "--duration", "-1"), "--duration"),
        (("shadow", "--emulate", "--fault", "bogus"), "fault 'bogus'"),
        (
            ("shadow", "--emulate", "--fault", "99:gain=2@0.1", "--duration", "0.2", "--no-db"),
            "fault edge: expected 0..31",
        ),
        (  # found by make fuzz: the work estimate was announced before the fault was checked
            ("shadow", "--emulate", "--calibrate", "--fault", "99:leak=1@0", "--no-db"),
            "fault edge: expected 0..31",
        ),
        (("shadow", "--emulate", "--resync", "sometimes"), "--resync"),
        (("calibrate",), "exactly one of --from-emulator, --record FILE or --connect"),
        (("calibrate", "--record", "/nonexistent/rec.bin"), "no such file"),
        (("board", "--bind", "http://x"), "--bind"),
    ],
)
def test_bad_arguments_are_one_line_errors_with_exit_2(capsys, args, needle) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err
