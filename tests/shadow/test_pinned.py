"""Which gates a state resync holds at a rail (:mod:`twin.shadow.pinned`), the shadow holding
them, and the false-alarm budget shared between the detectors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from twin.board.inprocess import InProcessBoard
from twin.board.track import TwinTrack
from twin.shadow.config import ShadowConfig
from twin.shadow.pinned import HOLD_SIGMAS, pinned_holds
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow

RAILS = (1.0, 5.5)


def test_only_board_pinned_gates_whose_twin_direction_is_uncertain_are_held() -> None:
    reported = np.array([1.01, 1.01, 1.01, 5.49, 5.49, 3.0, 1.01])
    sd = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan])
    rate = np.array(
        [
            0.5 * HOLD_SIGMAS,  # off the low rail, within the error: held
            1.5 * HOLD_SIGMAS,  # off the low rail, surely: the twin leaves, not held
            -2.0,  # into the low rail: stays anyway, not held
            -0.5 * HOLD_SIGMAS,  # off the high rail, within the error: held
            +2.0,  # into the high rail: not held
            +0.1,  # not at a rail: not held
            +100.0,  # gains not fitted (sd NaN): direction unknown, held
        ]
    )
    got = pinned_holds(reported, reported, RAILS, 0.05, rate, sd)
    np.testing.assert_array_equal(got, [True, False, False, True, False, False, True])
    arriving = reported.copy()
    arriving[[0, 3]] = [1.136, 5.2]  # at the last resync off the rail: arriving, not pinned
    got = pinned_holds(reported, arriving, RAILS, 0.05, rate, sd)
    np.testing.assert_array_equal(got, [False, False, False, False, False, False, True])
    assert not pinned_holds(reported, np.zeros(0), RAILS, 0.05, rate, sd).any()  # no resync yet


def test_a_gate_at_rest_is_not_held() -> None:
    at = np.array([1.0, 5.5])
    got = pinned_holds(at, at, RAILS, 0.05, np.zeros(2), np.ones(2))
    assert not got.any()


# ---------------------------------------------------------------- the shadow holding them


def _shadow(seed: int = 2, **config: Any) -> Shadow:
    """A typical board calibrated as ``twin shadow --calibrate`` does, rebooted, and its
    shadow (as ``benchmarks/fa_runs.py`` makes them)."""
    emu = make_emulator(EmulationSpec(seed=seed, variation="typical"))
    result, _ = calibrate_emulator(emu, seed=seed)
    emu.boot(0.0)
    return Shadow(
        InProcessBoard(emu),
        ShadowConfig(**config),
        rng=np.random.default_rng([seed, 3]),
        edges=result.edges,
        spread=result.spread,
    )


def test_held_gates_are_pinned_on_the_board_and_stay_put_in_the_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Boards 0 and 3 over 10 s each (a hold is rare: 1 and 2 of their 40 resyncs here)."""
    held: list[tuple[np.ndarray, np.ndarray]] = []  # (mask, gates set) of each held reset
    kept: list[np.ndarray] = []  # the held gates just before the next reset
    original = TwinTrack.reset_gates

    def spy(track: TwinTrack, t_s: float, gates_v: np.ndarray, *, hold: Any = None) -> None:
        if held and len(kept) < len(held):
            kept.append(track.gates()[held[-1][0]])
        original(track, t_s, gates_v, hold=hold)
        if hold is not None:
            held.append((np.asarray(hold).copy(), np.asarray(gates_v, float).copy()))

    monkeypatch.setattr(TwinTrack, "reset_gates", spy)
    total = 0
    for seed in (0, 3):
        shadow = _shadow(seed, hold_pinned=True)
        summary = shadow.run(10.0)
        shadow.close()
        total += summary["pinned_holds"]
        lo, hi = shadow.watch.rails_v
    assert total == sum(int(mask.sum()) for mask, _ in held) > 0
    for (mask, gates), after in zip(held, kept, strict=False):
        assert np.all((gates[mask] < lo + 0.05) | (gates[mask] > hi - 0.05))  # at a rail
        np.testing.assert_array_equal(after, gates[mask])  # not moved in the interval


def test_the_flat_margin_knows_no_direction_error_and_holds_nothing() -> None:
    shadow = _shadow(0, drive_margin="flat", hold_pinned=True)
    summary = shadow.run(10.0)
    shadow.close()
    assert summary["pinned_holds"] == 0


def test_the_shadow_holds_nothing_by_default() -> None:
    shadow = _shadow(0)
    summary = shadow.run(10.0)
    shadow.close()
    assert summary["pinned_holds"] == 0


# ---------------------------------------------------------------- the false-alarm budget


def test_the_false_alarm_budget_is_shared_between_the_detectors_that_may_alarm() -> None:
    from twin.shadow.config import DESIGN_MARGIN, detector_hours

    assert DESIGN_MARGIN == 3.0  # each detector a third below its share: the count can confirm it
    both = ShadowConfig(false_alarm_hours=10.0, node_every_s=0.25)
    assert detector_hours(both, calibrated=True) == 60.0
    assert detector_hours(both, calibrated=False) == 30.0  # no node check without calibration
    three = ShadowConfig(false_alarm_hours=10.0, node_every_s=0.25, probe_every_s=1.0)
    assert detector_hours(three, calibrated=True) == 90.0
    assert detector_hours(ShadowConfig(false_alarm_hours=5.0), calibrated=True) == 15.0


def test_the_shadow_sets_each_detector_at_its_share() -> None:
    shadow = _shadow(0, false_alarm_hours=10.0, node_every_s=0.25)
    assert shadow.nodes is not None
    assert shadow.nodes.tester.false_alarm_hours == 60.0
    curve = shadow.watch.curve
    assert shadow.watch.detector.level == pytest.approx(curve.level(60.0))
    assert shadow.watch.detector.level > curve.level(20.0)
    info = shadow.watch.info()
    assert (info["false_alarm_hours"], info["detector_hours"]) == (10.0, 60.0)
    shadow.close()
