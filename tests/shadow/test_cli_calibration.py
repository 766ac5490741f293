"""``twin calibrate --save`` and ``--calibration FILE`` from the command line: a calibration
reaches a shadow in another process, and a board over the wire is calibrated by training it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.ports import board_process
from twin.shadow.config import DEFAULT_NODE_EVERY_S


def _one_line(capsys: Any, *args: str) -> str:
    code, _out, err = run_cli(capsys, *args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_calibration_options_are_checked_before_any_work(capsys: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "twin.calibration/1"}')
    err = _one_line(capsys, "shadow", "--emulate", "--calibration", str(bad), "--no-db")
    assert "bad.json" in err
    err = _one_line(capsys, "shadow", "--emulate", "--calibrate", "--calibration", str(bad))
    assert "at most one of --calibrate or --calibration" in err
    assert "no such file" in _one_line(
        capsys, "shadow", "--emulate", "--calibration", str(tmp_path / "none.json")
    )
    assert "exactly one of" in _one_line(capsys, "calibrate")
    assert "exactly one of" in _one_line(
        capsys, "calibrate", "--from-emulator", "--connect", "tcp://127.0.0.1:5555"
    )


def test_a_saved_calibration_calibrates_a_later_shadow(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    code, out, err = run_cli(
        capsys, "calibrate", "--from-emulator", "--seed", "3", "--episodes", "3",
        "--held-out", "1", "--episode-s", "0.4", "--save", str(path), "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    doc = json.loads(path.read_text())
    assert doc["schema"] == "twin.calibration/1"
    assert doc["source"]["kind"] == "emulator"
    assert doc["report"]["prediction"] == report["prediction"]
    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--seed", "3", "--calibration", str(path),
        "--duration", "1", "--json", "--no-db",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["calibrated"] is True
    assert summary["calibration"]["file"] == str(path)
    assert (
        summary["calibration"]["held_out_gate_rms_v"]
        == report["prediction"]["calibrated"]["gate_rms_v"]
    )
    # a calibrated twin runs the passive node check unless told not to
    assert summary["nodes"]["every_s"] == DEFAULT_NODE_EVERY_S
    assert summary["nodes"]["evaluated"] >= 1
    # the file carries the gains' covariance, which sizes the gross-drive margin by default
    assert summary["calibration"]["gain_covariance"] == "stored"
    assert summary["detector"]["drive_margin"].startswith("fit: 3 sd")
    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--seed", "3", "--calibration", str(path),
        "--duration", "1", "--json", "--no-db", "--no-node-check", "--drive-margin", "flat",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["nodes"] is None
    assert "(--drive-margin flat)" in summary["detector"]["drive_margin"]
    old = tmp_path / "old.json"  # a file from before the covariance was stored: margin flat
    del doc["fit"]["a_free_clamp_cov_per_v2"]
    old.write_text(json.dumps(doc))
    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--seed", "3", "--calibration", str(old),
        "--duration", "0.5", "--json", "--no-db", "--no-node-check", "--drive-margin", "fit",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["calibration"]["gain_covariance"].startswith("absent")
    assert summary["detector"]["drive_margin"].startswith("flat: 1% of the gross drive")
    assert "no gains' covariance" in summary["detector"]["drive_margin"]
    # uncalibrated, nothing to check with: off, and no warning about a check nobody asked for
    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--seed", "3", "--duration", "0.5", "--json", "--no-db"
    )
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["nodes"] is None
    assert "node check off" not in err
    assert "at most one of --node-every and --no-node-check" in _one_line(
        capsys, "shadow", "--emulate", "--node-every", "1", "--no-node-check"
    )


@pytest.fixture
def typical_board() -> Iterator[str]:
    """``twin board --variation typical`` in another process on a random port."""
    with board_process(seed=5, variation="typical") as endpoint:
        yield endpoint


def _twin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twin", *args], capture_output=True, text=True, timeout=240,
        env={**os.environ, "TWIN_DB_URL": "off"},
    )  # fmt: skip


@pytest.mark.slow  # two more interpreters, and a board in real time
def test_a_board_over_the_wire_is_calibrated_then_shadowed(
    typical_board: str, tmp_path: Path
) -> None:
    path = tmp_path / "board.json"
    done = _twin("calibrate", "--connect", typical_board, "--save", str(path), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["gate_improvement"] > 10  # typical variation: the nominal twin is far off
    assert json.loads(path.read_text())["source"]["endpoint"] == typical_board
    done = _twin("shadow", "--connect", typical_board, "--calibration", str(path),
                 "--duration", "5", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["calibrated"] is True
    assert summary["alarms"] == 0, summary["alarm_list"]
