"""Calibration on an emulated board with hidden variation."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.variation import HiddenVariation
from twin.shadow.calibrate import split_segments
from twin.shadow.session import calibrate_emulator


def test_calibration_cuts_the_held_out_prediction_error() -> None:
    emu = BoardEmulator(
        EmulatorConfig(variation=HiddenVariation.typical()), rng=np.random.default_rng(1)
    )
    result, report = calibrate_emulator(emu, episodes=4, held_out=1, episode_s=0.6, seed=5)
    pred = report["prediction"]
    # substantially better than nominal, on an episode the fit never saw (17x and 9.5x here;
    # twin calibrate --from-emulator with 6 episodes of 1 s: ~50x and ~35x)
    assert report["gate_improvement"] >= 5
    assert report["node_improvement"] >= 5
    # and within a few times the floor set by the ADC (the twin with the true hidden values)
    assert pred["calibrated"]["node_rms_v"] < 10 * pred["hidden"]["node_rms_v"]
    params = report["parameters"]
    assert params["v_t_rms_fitted_v"] < params["v_t_rms_nominal_v"] / 2
    assert params["gain_free_rel_rms_fitted"] < params["gain_free_rel_rms_nominal"] / 2
    assert params["gain_clamp_rel_rms_fitted"] < params["gain_clamp_rel_rms_nominal"] / 2
    assert result.edges.columns(32)["a_free_per_v"].shape == (32,)
    # uncertainties are reported, and the fitted leaks stay physical (>= 20 s)
    unc = report["uncertainty"]
    assert 0 < unc["gain_free_rel_se_median"] < 0.2
    assert unc["drift_se_v_per_s_median"] > 0
    assert np.min(result.fitted["tau_leak_s"]) >= 20.0


def test_segments_split_at_resets_and_mode_changes() -> None:
    emu = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(1))
    states = emu.advance(0.1)
    from twin.board.contract import Command

    emu.command(Command(name="reset_gates", key="r", args={"gate_v": 2.0}))
    emu.command(Command(name="start_training", key="s"))
    states += emu.advance(emu.t_s + 0.1)
    emu.command(Command(name="stop_training", key="x"))
    states += emu.advance(emu.t_s + 0.1)
    assert [len(s) for s in split_segments(states)] == [100, 100]


def test_too_few_episodes_is_an_error() -> None:
    emu = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(1))
    with pytest.raises(BridgeConfigError):
        calibrate_emulator(emu, episodes=2, held_out=2)


class _Recorded:
    """A finite board: a recorded stream, polled in chunks until it is used up."""

    board_id = "recorded"

    def __init__(self, emu: BoardEmulator, states: list) -> None:  # type: ignore[type-arg]
        self._snapshot = emu.snapshot()
        self._states = states

    def snapshot(self, timeout_s: float = 5.0):  # type: ignore[no-untyped-def]
        return self._snapshot

    def poll(self, timeout_s: float) -> list:  # type: ignore[type-arg]
        out, self._states = self._states[:200], self._states[200:]
        return out


def test_a_board_that_trains_without_a_break_can_be_calibrated() -> None:
    from twin.shadow.session import calibrate_board

    emu = BoardEmulator(
        EmulatorConfig(variation=HiddenVariation.typical()), rng=np.random.default_rng(3)
    )
    states = emu.advance(2.2)  # as twin board: one training segment from boot
    assert len(split_segments(states)) == 1
    result, report = calibrate_board(_Recorded(emu, states), held_out=1)  # type: ignore[arg-type]
    assert report["frames_held_out"] < report["frames_fit"]
    assert report["gate_improvement"] > 3
    assert result.spread is not None
    with pytest.raises(BridgeConfigError, match="needs more than 2 segments or 2 s"):
        calibrate_board(_Recorded(emu, states[:900]), held_out=1)  # type: ignore[arg-type]
