"""The detector: spread fits, CUSUM level crossings, the false-alarm curve and its inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.board.errors import BridgeConfigError
from twin.cli._demo import _held_out, _not_validated
from twin.shadow.detector import (
    CusumDetector,
    FalseAlarmCurve,
    SpreadModel,
    crossing_counts,
    default_false_alarm_curve,
    fit_false_alarm_curve,
    fit_spread,
)


def test_spread_fit_recovers_floor_slope_and_travel_terms() -> None:
    rng = np.random.default_rng(0)
    m, n = 4000, 3
    tau = rng.uniform(0, 0.25, m)
    travel = rng.uniform(0, 1.0, (m, n))
    floor, slope, rel = (
        np.array([1e-3, 2e-3, 3e-3]),
        np.array([0.02, 0.0, 0.05]),
        np.array([0.0, 0.01, 0.02]),
    )
    sigma = np.sqrt(floor**2 + (slope * tau[:, None]) ** 2 + (rel * travel) ** 2)
    res = sigma * rng.standard_normal((m, n))
    model = fit_spread(tau, travel, res)
    pred = model.sigma_v(0.2, np.full(n, 0.5))
    true = np.sqrt(floor**2 + (slope * 0.2) ** 2 + (rel * 0.5) ** 2)
    assert np.allclose(pred, true, rtol=0.1)


def test_crossing_counts_restart_after_each_alarm_and_between_runs() -> None:
    step = np.array([1.0, -5.0])  # edge 0 climbs 1 per sample, edge 1 stays at 0
    trace = [np.zeros(0)] + [step] * 10 + [np.zeros(0)] + [step] * 3
    counts = crossing_counts(trace, np.array([2.5, 3.5, 20.0]))
    # level 2.5: crossed at samples 3, 6, 9 of run 1 and 3 of run 2; 3.5: 4, 8 and none
    assert counts.tolist() == [4, 2, 0]


def test_false_alarm_curve_fit_and_level_invert_each_other() -> None:
    levels = np.arange(2.0, 40.0, 2.0)
    hours = 5.0
    counts = np.round(hours * np.exp(6.0 - 0.3 * levels)).astype(int)
    curve = fit_false_alarm_curve(levels, counts, hours, k=1.0, clip=50.0, every_s=0.01)
    assert curve.decay_per_level == pytest.approx(0.3, rel=0.05)
    h = curve.level(10.0)
    assert curve.rate_per_hour(h) == pytest.approx(0.1, rel=1e-9)
    with pytest.raises(BridgeConfigError):
        curve.level(0.0)


def test_default_curve_is_the_measured_one() -> None:
    curve = default_false_alarm_curve()
    assert "bench_false_alarms.py" in curve.provenance
    assert curve.level(100.0) > curve.level(10.0) > curve.level(1.0)


def test_cusum_names_the_edge_that_departs_and_not_the_others() -> None:
    rng = np.random.default_rng(1)
    spread = SpreadModel(floor_v=np.full(4, 1e-3), slope_v_per_s=np.zeros(4), rel=np.zeros(4))
    det = CusumDetector(spread, level=30.0, k=1.0, clip=50.0, every_s=0.01)
    first = None
    for i in range(400):
        res = 1e-3 * rng.standard_normal(4)
        if i >= 200:
            res[2] += 4e-3  # a 4-sigma departure on edge 2
        scores = det.update(i * 0.01, 0.0, np.zeros(4), res)
        assert scores is not None
        if first is None and np.max(scores) > 1:
            first = i
            assert int(np.argmax(scores)) == 2
    assert first is not None
    assert 200 <= first < 215


def test_uncalibrated_detector_learns_during_the_warm_up() -> None:
    det = CusumDetector(None, level=10.0, k=1.0, clip=50.0, every_s=0.01, warmup_s=0.5)
    rng = np.random.default_rng(2)
    outs = [
        det.update(i * 0.01, 0.1, np.zeros(3), 0.05 * rng.standard_normal(3)) for i in range(100)
    ]
    assert all(o is None for o in outs[:50])
    assert outs[-1] is not None
    assert det.spread is not None
    assert det.spread.source == "warm-up"
    assert np.all(det.spread.floor_v > 0.02)


def test_curve_rejects_a_rate_that_does_not_fall() -> None:
    with pytest.raises(BridgeConfigError):
        fit_false_alarm_curve(
            np.array([1.0, 2.0]), np.array([5, 9]), 1.0, k=1, clip=50, every_s=0.01
        )
    assert isinstance(default_false_alarm_curve(), FalseAlarmCurve)


def test_the_held_out_checks_upper_bound_is_poisson() -> None:
    base = {"log_rate0": 5.0, "decay_per_level": 0.1, "k": 1.0, "clip": 50.0, "every_s": 0.01}
    none = FalseAlarmCurve(**base, fitted_range=(1, 40))
    assert none.checked_upper95_per_hour() is None
    clean = FalseAlarmCurve(**base, fitted_range=(1, 40), checked_hours=1.0, checked_per_hour=0.0)
    assert clean.checked_upper95_per_hour() == pytest.approx(-math.log(0.05))  # 3.0 per hour
    seen = FalseAlarmCurve(**base, fitted_range=(1, 40), checked_hours=1.0, checked_per_hour=55.0)
    assert seen.checked_upper95_per_hour() == pytest.approx(68.85, abs=0.01)  # as recorded
    demo = _held_out(
        {
            "curve_checked_per_hour": 0.0,
            "curve_checked_hours": 1.0,
            "curve_checked_upper95_per_hour": clean.checked_upper95_per_hour(),
        }
    )
    assert "0 in 1 board-hours, 95 % upper bound 3.0 per board-hour" in demo


def test_a_check_with_false_alarms_is_not_met_only_when_its_interval_is_above_the_target() -> None:
    """One false alarm in 7.4 board-hours (0.135 per hour, 90 % interval 0.0069-0.64) holds a
    target of one per 10 h: not validated, not "NOT met"; 5 in 7.4 h (lower bound 0.27) is
    above it."""
    base = {"log_rate0": 5.0, "decay_per_level": 0.1, "k": 1.0, "clip": 50.0, "every_s": 0.01}

    def verdict(per_hour: float, hours: float) -> str:
        curve = FalseAlarmCurve(
            **base, fitted_range=(1, 40), checked_hours=hours, checked_per_hour=per_hour
        )
        return _not_validated(
            {
                "false_alarm_hours": 10.0,
                "curve_checked_per_hour": per_hour,
                "curve_checked_hours": hours,
                "curve_checked_lower95_per_hour": curve.checked_lower95_per_hour(),
                "curve_checked_upper95_per_hour": curve.checked_upper95_per_hour(),
            }
        )

    one = verdict(1 / 7.4, 7.4)
    assert "not validated: 1 false alarm(s) in 7.4 held-out board-hours" in one
    assert "90 % interval 0.0069-0.64" in one
    assert "NOT met" not in one
    five = verdict(5 / 7.4, 7.4)
    assert five.startswith(" (NOT met: 5 false alarm(s)")
    assert "interval 0.27-" in five
    assert "no false alarm over 7.4" in verdict(0.0, 7.4)
