"""The calibration's learning bias (issue 23, arXiv 2505.22887): fitted per edge with its standard
error, carried by the twin (a held gate does not drift at it), saved in the calibration file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.helpers import run_cli
from twin.board.contract import Command
from twin.board.emulator import BoardEmulator
from twin.board.track import TwinTrack
from twin.shadow.calibrate import CalibrationResult
from twin.shadow.calibration_file import calibration_document, load_calibration, save_calibration
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.simulation.noise import NoiseConfig

_CACHE: dict[float, Any] = {}


def _lab(idle_s: float) -> tuple[BoardEmulator, CalibrationResult, dict[str, Any]]:
    """A lab board (bias 1.5 +- 1.5 V/s per edge) calibrated with ``idle_s`` holds (cached)."""
    if idle_s not in _CACHE:
        emu = make_emulator(EmulationSpec(seed=7, variation="lab"))
        result, report = calibrate_emulator(
            emu, episodes=4, held_out=1, episode_s=0.6, seed=3, idle_s=idle_s
        )
        _CACHE[idle_s] = (emu, result, report)
    return _CACHE[idle_s]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _offset_drift(emu: BoardEmulator) -> np.ndarray:
    """Each edge's comparator offset over RC, V/s: the emulator folds it into the leak's rest
    voltage (nominal 0), so the board drifts at it idle or not."""
    cols = emu.edges.columns(emu.task.network.n_edges)
    return cols["v_rest_v"] / cols["tau_leak_s"]


def test_idle_frames_separate_the_bias_from_the_leak() -> None:
    emu, result, report = _lab(0.2)
    fit = result.fitted
    truth = emu.hidden["bias_v_per_s"]
    ok = fit["bias_from_idle"]
    assert ok.sum() >= 28  # every edge off the rails in its idle holds
    assert report["uncertainty"]["edges_bias_from_idle"] == ok.sum()
    err = fit["bias_v_per_s"][ok] - truth[ok]
    assert _rms(truth) > 0.4  # the lab's bias, not the offsets' 0.1 V/s
    assert _rms(err) < 0.1 * _rms(truth)
    # the stated standard errors cover the error (they are conservative on the emulator)
    assert np.mean(np.abs(err) < 3 * fit["bias_se_v_per_s"][ok]) >= 0.9
    # and the bias is not the offsets': against bias + o/RC the error is larger
    assert _rms(err - _offset_drift(emu)[ok]) > _rms(err)


def test_without_idle_frames_the_bias_holds_the_offsets_too() -> None:
    emu, result, _ = _lab(0.0)
    fit = result.fitted
    assert not fit["bias_from_idle"].any()
    truth = emu.hidden["bias_v_per_s"] + _offset_drift(emu)
    ok = fit["dynamics_fitted"]
    assert _rms(fit["bias_v_per_s"][ok] - truth[ok]) < 0.25 * _rms(truth)
    assert np.all(fit["bias_se_v_per_s"][ok] > 0)


def test_the_twin_drifts_as_fitted_while_training() -> None:
    """The explicit bias keeps the fitted training drift ``c - r V`` at 3 V exactly."""
    for idle_s in (0.0, 0.2):
        _, result, _ = _lab(idle_s)
        cols = result.edges.columns(32)
        ok = result.fitted["dynamics_fitted"]
        np.testing.assert_array_equal(cols["bias_v_per_s"], result.fitted["bias_v_per_s"])
        drift = cols["bias_v_per_s"] + (cols["v_rest_v"] - 3.0) / cols["tau_leak_s"]
        np.testing.assert_allclose(drift[ok], result.fitted["drift_v_per_s"][ok], atol=1e-9)


def _idle_travel(edges: Any, task: Any, gates_v: np.ndarray, hold_s: float) -> np.ndarray:
    track = TwinTrack(task, edges, t_s=0.0, gates_v=gates_v, mode="idle", eta=0.22, lam=0.0,
                      step_s=1e-4, noise=NoiseConfig(), rng=np.random.default_rng(0))  # fmt: skip
    track.advance(hold_s)
    return np.asarray(track.gates()) - gates_v


def test_a_held_gate_of_the_calibrated_twin_drifts_as_the_board_does() -> None:
    """Idle for 1 s, the lab board's gates move by their leak alone; the calibrated twin's do
    too (the bias acts only while learning), where a twin whose leak carried the whole training
    drift would have moved each gate by its bias, ~0.7 V/s rms."""
    emu, result, _ = _lab(0.2)
    gates = np.full(32, 3.0)
    emu.command(Command(name="stop_training", key="t-stop"))
    emu.command(Command(name="reset_gates", key="t-reset", args={"gate_v": gates.tolist()}))
    t0 = emu.t_s
    emu.advance(t0 + 1.0)
    board = np.asarray(emu.track.gates()) - gates
    twin = _idle_travel(result.edges, emu.task, gates, 1.0)
    ok = result.fitted["bias_from_idle"]
    bias = emu.hidden["bias_v_per_s"]
    assert _rms(twin[ok] - board[ok]) < 0.05 * _rms(bias)  # measured ~0.01 V against 0.7
    cols = result.edges.columns(32)
    folded = result.edges.evolve(
        bias_v_per_s=0.0, v_rest_v=cols["v_rest_v"] + bias * cols["tau_leak_s"]
    )
    assert _rms(_idle_travel(folded, emu.task, gates, 1.0)[ok] - board[ok]) > 0.5 * _rms(bias)


def test_the_bias_goes_through_the_file_and_old_files_have_none(tmp_path: Path) -> None:
    _, result, report = _lab(0.2)
    doc = calibration_document(result, report, board_id="b", source={"kind": "emulator",
                               "variation": "lab", "idle_s": 0.2})  # fmt: skip
    path = tmp_path / "cal.json"
    save_calibration(path, doc)
    saved = load_calibration(path)
    np.testing.assert_array_equal(
        saved.edges.columns(32)["bias_v_per_s"], result.edges.columns(32)["bias_v_per_s"]
    )
    assert len(doc["fit"]["bias_se_v_per_s"]) == 32
    assert saved.source["variation"] == "lab"
    old = json.loads(path.read_text())
    del old["edges"]["bias_v_per_s"], old["fit"]["bias_se_v_per_s"]
    old["source"] = {"kind": "emulator"}
    path.write_text(json.dumps(old))
    assert not load_calibration(path).edges.columns(32)["bias_v_per_s"].any()


def test_calibrate_cli_reports_and_saves_the_bias(capsys: Any, tmp_path: Path) -> None:
    save = tmp_path / "cal.json"
    code, out, err = run_cli(
        capsys, "calibrate", "--from-emulator", "--variation", "lab", "--seed", "7",
        "--idle-s", "0.2", "--episodes", "3", "--held-out", "1", "--episode-s", "0.4",
        "--save", str(save), "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["uncertainty"]["edges_bias_from_idle"] >= 28
    assert len(report["bias_v_per_s"]) == len(report["bias_se_v_per_s"]) == 32
    params = report["parameters"]
    # 2 fitted episodes of 0.4 s: 0.18 V/s rms against 0.72, set by a few edges (median below)
    assert params["bias_rms_error_v_per_s"] < 0.35 * params["bias_rms_hidden_v_per_s"]
    doc = json.loads(save.read_text())
    assert doc["source"]["variation"] == "lab"
    assert doc["source"]["idle_s"] == 0.2
    truth = make_emulator(EmulationSpec(seed=7, variation="lab")).hidden["bias_v_per_s"]
    fitted = np.array(doc["edges"]["bias_v_per_s"])
    ok = np.array(doc["fit"]["dynamics_fitted"])
    assert np.median(np.abs(fitted - truth)[ok]) < 0.05 * _rms(truth)  # 2 episodes of 0.4 s
    code, _, err = run_cli(capsys, "calibrate", "--record", "x.rec", "--idle-s", "1")
    assert code == 2
    assert "--idle-s needs" in err


def test_a_live_board_is_held_idle_before_each_episode() -> None:
    """Over the Board contract (here in process) the idle holds are commands too: stop, reset,
    hold, train; every fitted edge gets its bias from its idle frames."""
    from twin.shadow.calibration_runs import calibrate_live
    from twin.shadow.session import open_board

    board = open_board(emulate=EmulationSpec(seed=7, variation="lab"))
    try:
        result, report = calibrate_live(
            board, episodes=3, held_out=1, episode_s=0.4, seed=1, idle_s=0.1
        )
    finally:
        board.close()
    fit = result.fitted
    assert fit["bias_from_idle"].sum() >= 28
    assert report["uncertainty"]["edges_bias_from_idle"] == fit["bias_from_idle"].sum()
    truth = make_emulator(EmulationSpec(seed=7, variation="lab")).hidden["bias_v_per_s"]
    ok = fit["bias_from_idle"]
    assert np.median(np.abs(fit["bias_v_per_s"] - truth)[ok]) < 0.05 * _rms(truth)


def test_shadow_calibrates_with_idle_holds(capsys: Any) -> None:
    """``twin shadow --calibrate --idle-s`` holds the board idle before each calibration
    episode, as ``twin calibrate --idle-s`` does: the biases come from the idle holds (without
    the option none does: :func:`test_without_idle_frames_the_bias_holds_the_offsets_too`)."""
    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--variation", "lab", "--seed", "7", "--calibrate",
        "--idle-s", "0.2", "--duration", "0.2", "--json", "--no-db",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["calibrated"] is True
    assert summary["calibration"]["uncertainty"]["edges_bias_from_idle"] >= 28
