"""A calibration on disk (twin.calibration/1) and a board calibrated through its commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.variation import HiddenVariation
from twin.shadow.calibrate import CalibrationResult
from twin.shadow.calibration_file import (
    EDGE_FIELDS,
    calibration_document,
    load_calibration,
    save_calibration,
)
from twin.shadow.calibration_runs import calibrate_live
from twin.shadow.config import ShadowConfig
from twin.shadow.detector import default_false_alarm_curve
from twin.shadow.drive_margin import GAIN_COV_KEYS, gain_covariance
from twin.shadow.session import EmulationSpec, calibrate_emulator, open_board
from twin.shadow.state import TwinState
from twin.shadow.watch import Watch

_CACHE: dict[str, Any] = {}


def _calibrated() -> tuple[CalibrationResult, dict[str, Any]]:
    """One short calibration of a typical board, shared by the tests of this module."""
    if not _CACHE:
        emu = BoardEmulator(
            EmulatorConfig(variation=HiddenVariation.typical()), rng=np.random.default_rng(2)
        )
        _CACHE["cal"] = calibrate_emulator(emu, episodes=4, held_out=1, episode_s=0.6, seed=5)
    result, report = _CACHE["cal"]
    return result, report


def _saved(tmp_path: Path, **source: Any) -> Path:
    result, report = _calibrated()
    doc = calibration_document(
        result, report, board_id="emulated-board", source={"kind": "emulator", **source}
    )
    path = tmp_path / "cal.json"
    save_calibration(path, doc)
    return path


def test_a_saved_calibration_reads_back_bit_for_bit(tmp_path: Path) -> None:
    result, report = _calibrated()
    path = _saved(tmp_path, seed=2**63 - 1, episodes=4, episode_s=0.6, held_out=1)
    saved = load_calibration(path)
    cols, back = result.edges.columns(32), saved.edges.columns(32)
    for name in ("a_free_per_v", "a_clamp_per_v", "tau_leak_s", "v_rest_v", "c_gate_f"):
        np.testing.assert_array_equal(back[name], cols[name], err_msg=name)
    np.testing.assert_array_equal(saved.edges.device.v_t_v, result.edges.device.v_t_v)  # type: ignore[attr-defined]
    assert result.spread is not None
    for name in ("floor_v", "slope_v_per_s", "rel"):
        np.testing.assert_array_equal(getattr(saved.spread, name), getattr(result.spread, name))
    assert saved.source["seed"] == 2**63 - 1  # written as digits: no JSON integer limit
    assert (
        saved.summary()["held_out_gate_rms_v"] == report["prediction"]["calibrated"]["gate_rms_v"]
    )
    assert not [p for p in tmp_path.iterdir() if p.name != "cal.json"]  # no temporary left


def test_an_edge_without_a_leak_keeps_none_through_the_file(tmp_path: Path) -> None:
    result, report = _calibrated()
    fitted = dict(result.fitted)
    fitted["tau_leak_s"] = np.where(np.arange(32) % 2 == 0, np.inf, fitted["tau_leak_s"])
    doc = calibration_document(
        CalibrationResult(
            edges=result.edges, fitted=fitted, cost=result.cost, frames=1, spread=result.spread
        ),
        report,
        board_id="b",
        source={"kind": "live"},
    )
    assert doc["edges"]["tau_leak_s"][0] is None
    path = tmp_path / "c.json"
    save_calibration(path, doc)
    tau = load_calibration(path).edges.columns(32)["tau_leak_s"]
    assert np.isinf(tau[::2]).all()
    assert np.isfinite(tau[1::2]).all()


def test_a_calibration_of_another_board_or_network_is_refused(tmp_path: Path) -> None:
    saved = load_calibration(_saved(tmp_path))
    saved.check_board("emulated-board", 32)
    with pytest.raises(BridgeConfigError, match=r"cal.json: board_id: fitted to board"):
        saved.check_board("lab-board-2", 32)
    with pytest.raises(BridgeConfigError, match=r"n_edges: fitted to a network of 32 edges"):
        saved.check_board("emulated-board", 24)


def _mutated(tmp_path: Path, change: Any) -> Path:
    doc = json.loads(_saved(tmp_path).read_text())
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema="twin.task/1"), "schema: expected"),
        (lambda d: d["edges"].pop("v_t_v"), "edges"),
        (lambda d: d["edges"]["a_free_per_v"].pop(), "edges.a_free_per_v: expected 32 values"),
        (lambda d: d["spread"]["rel"].append(0.1), "spread.rel: expected 32 values"),
        (lambda d: d["edges"]["a_clamp_per_v"].__setitem__(3, -1.0), "a_clamp_per_v"),
        (lambda d: d["edges"]["v_t_v"].__setitem__(0, None), "v_t_v"),
        (lambda d: d["source"].update(seed="12a"), "source.seed: expected a seed as a string"),
        (lambda d: d["source"].update(kind="guess"), "source.kind"),
        (lambda d: d.update(n_edges=0), "n_edges"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_a_bad_calibration_file_is_one_line_naming_the_field(
    tmp_path: Path, change: Any, message: str
) -> None:
    path = _mutated(tmp_path, change)
    with pytest.raises(BridgeConfigError, match=message) as info:
        load_calibration(path)
    assert "\n" not in str(info.value)
    assert "bad.json" in str(info.value)


def test_a_file_that_is_not_a_calibration_is_refused(tmp_path: Path) -> None:
    for text in ("", "{", "[]", "NaN", '{"schema": "twin.calibration/1"}'):
        path = tmp_path / "x.json"
        path.write_text(text)
        with pytest.raises(BridgeConfigError, match=r"x\.json"):
            load_calibration(path)
    with pytest.raises(BridgeConfigError, match="no such file"):
        load_calibration(tmp_path / "missing.json")


def test_a_failed_save_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    before = path.read_bytes()
    result, report = _calibrated()
    doc = calibration_document(result, report, board_id="b", source={"kind": "emulator"})
    doc["n_edges"] = -1  # refused before anything is written
    with pytest.raises(BridgeConfigError):
        save_calibration(path, doc)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cal.json"]


def test_a_board_is_calibrated_through_its_commands() -> None:
    """The live path drives a board over the Board contract (here in process): reset gates,
    start training, record; the fitted twin predicts held-out episodes far better than the
    nominal one, and a second calibration's fresh keys are acted on, not answered from cache."""
    board = open_board(emulate=EmulationSpec(seed=4, variation="typical"))
    try:
        result, report = calibrate_live(board, episodes=4, held_out=1, episode_s=0.6, seed=1)
        assert report["board_id"] == board.board_id
        assert report["gate_improvement"] >= 5
        assert report["prediction"]["calibrated"]["gate_rms_v"] < 0.02
        assert result.spread is not None
        again, _ = calibrate_live(board, episodes=2, held_out=1, episode_s=0.3, seed=1)
        assert again.frames >= 0.8 * 0.3 * 1000  # the episode fitted trained again (1 kHz)
    finally:
        board.close()


def test_every_fitted_field_is_in_the_file() -> None:
    result, report = _calibrated()
    doc = calibration_document(result, report, board_id="b", source={"kind": "emulator"})
    assert set(doc["edges"]) == set(EDGE_FIELDS)
    assert len(doc["fit"]["dynamics_fitted"]) == 32


def _watch(spread: Any, **config: Any) -> Watch:
    return Watch(
        ShadowConfig(**config),
        TwinState(),
        rails_v=(1.0, 5.5),
        spread=spread,
        curve=default_false_alarm_curve(),
    )


def test_the_gains_covariance_reaches_the_detector_through_the_file(tmp_path: Path) -> None:
    """The calibration carries its fitted gains' covariance in its spread, the file stores it
    bit for bit, and a shadow's detector sizes its gross-drive margin from it."""
    result, _ = _calibrated()
    assert result.spread is not None
    assert result.spread.gain_cov is not None
    expect = gain_covariance(*(result.fitted[k] for k in GAIN_COV_KEYS))
    np.testing.assert_array_equal(result.spread.gain_cov, expect)
    assert np.isfinite(expect).all(axis=1).sum() >= 16  # most edges' gains were fitted
    saved = load_calibration(_saved(tmp_path))
    assert saved.spread.gain_cov is not None
    np.testing.assert_array_equal(saved.spread.gain_cov, result.spread.gain_cov)
    assert saved.summary()["gain_covariance"] == "stored"
    watch = _watch(saved.spread, drive_margin="fit")
    assert watch.gain_cov is saved.spread.gain_cov
    assert watch.info()["drive_margin"].startswith("fit: 3 sd")
    assert _watch(saved.spread).gain_cov is saved.spread.gain_cov  # the default: fit
    flat = _watch(saved.spread, drive_margin="flat")  # asked for the flat margin
    assert flat.gain_cov is None
    assert "(--drive-margin flat)" in flat.info()["drive_margin"]
    assert "uncalibrated" in _watch(None, drive_margin="fit").info()["drive_margin"]


def test_a_file_without_the_gains_covariance_loads_with_the_margin_flat(tmp_path: Path) -> None:
    """A file written before the covariance was stored still loads; the margin is then the flat
    one, and both the calibration's summary and the detector's say so."""
    path = _saved(tmp_path)
    doc = json.loads(path.read_text())
    del doc["fit"]["a_free_clamp_cov_per_v2"]
    path.write_text(json.dumps(doc))
    saved = load_calibration(path)
    assert saved.spread.gain_cov is None
    assert saved.summary()["gain_covariance"].startswith("absent (a file written before it)")
    watch = _watch(saved.spread, drive_margin="fit")
    assert watch.gain_cov is None
    assert watch.info()["drive_margin"].startswith("flat: 1% of the gross drive")
    assert "no gains' covariance" in watch.info()["drive_margin"]
