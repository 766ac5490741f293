"""Clocks: spec parsing and event statistics (sync, Bernoulli, Poisson, periodic, continuous)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.simulation import (
    BernoulliClock,
    ClockError,
    ContinuousClock,
    PeriodicClock,
    PoissonClock,
    SyncClock,
    TwinConfig,
    event_times,
    parse_clock,
    simulate,
)

from .conftest import run_rng


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("sync:10000", SyncClock(rate_hz=1e4)),
        ("bernoulli:10000:0.5", BernoulliClock(rate_hz=1e4, p=0.5)),
        ("poisson:1e4", PoissonClock(rate_hz=1e4)),
        ("periodic:10000:0.01", PeriodicClock(rate_hz=1e4, jitter=0.01)),
        ("periodic:10000:0.01:0.05", PeriodicClock(rate_hz=1e4, jitter=0.01, spread=0.05)),
        ("continuous:0.001", ContinuousClock(dq_v=1e-3)),
    ],
)
def test_parse_clock_round_trips(spec: str, expected: object) -> None:
    clock = parse_clock(spec)
    assert clock == expected
    assert parse_clock(clock.spec) == clock


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "sync",
        "sync:0",
        "sync:-5",
        "sync:abc",
        "sync:1:2",
        "bernoulli:100",
        "bernoulli:100:0",
        "bernoulli:100:1.5",
        "poisson:nan",
        "periodic:100",
        "periodic:100:1.2",
        "continuous:0",
        "lightning:5",
    ],
)
def test_bad_clock_specs_raise_clock_error(spec: str) -> None:
    with pytest.raises(ClockError, match="clock"):
        parse_clock(spec)


def test_poisson_intervals_are_exponential() -> None:
    rate = 1e4
    times = event_times(PoissonClock(rate_hz=rate), 8, 1.0, key=7)
    intervals = np.concatenate([np.diff(np.concatenate([[0.0], t])) for t in times])
    n = intervals.size
    assert abs(n / 8 - rate) < 4 * np.sqrt(rate)  # Poisson count, 4 sigma
    assert intervals.mean() == pytest.approx(1 / rate, rel=4 / np.sqrt(n))
    assert intervals.std() / intervals.mean() == pytest.approx(1.0, abs=0.02)  # CV of Exp = 1
    # P(interval > 3/rate) = exp(-3)
    assert np.mean(intervals > 3 / rate) == pytest.approx(np.exp(-3), abs=0.005)


def test_bernoulli_fires_each_edge_with_probability_p_per_tick() -> None:
    rate, p, n_edges = 1e4, 0.3, 16
    times = event_times(BernoulliClock(rate_hz=rate, p=p), n_edges, 1.0, key=3)
    counts = np.array([t.size for t in times])
    ticks = int(rate)
    assert np.all(np.abs(counts - p * ticks) < 5 * np.sqrt(ticks * p * (1 - p)))
    # on the tick grid, and gaps geometric: mean 1/p ticks
    all_t = np.concatenate(times)
    assert np.allclose(all_t * rate, np.round(all_t * rate))
    gaps = np.concatenate([np.diff(np.round(t * rate)) for t in times])
    assert gaps.mean() == pytest.approx(1 / p, rel=0.03)
    # independent edges: per tick, the number firing is binomial(n_edges, p)
    per_tick = np.bincount(np.round(all_t * rate).astype(int), minlength=ticks + 1)[1:]
    assert per_tick.var() == pytest.approx(n_edges * p * (1 - p), rel=0.1)


def test_sync_fires_every_edge_at_every_tick() -> None:
    times = event_times(SyncClock(rate_hz=1e3), 4, 0.1, key=0)
    for t in times:
        assert np.allclose(t, np.arange(1, 101) / 1e3)


def test_periodic_clocks_have_their_own_period_and_jitter() -> None:
    clock = PeriodicClock(rate_hz=1e4, jitter=0.02, spread=0.05)
    periods = clock.periods_s(16, np.random.default_rng(1))
    assert np.std(periods * 1e4) == pytest.approx(0.05, rel=0.5)
    times = event_times(clock, 16, 1.0, key=5, periods_s=periods)
    for t, period in zip(times, periods, strict=True):
        intervals = np.diff(t)
        assert intervals.mean() == pytest.approx(period, rel=1e-3)
        assert intervals.std() / period == pytest.approx(0.02, rel=0.1)
        assert 0 <= t[0] < period  # random phase within one period


def test_twin_uses_exactly_the_clock_event_times(board_task) -> None:
    cfg = TwinConfig(clock="poisson:10000", log_events=100_000)
    import simpy

    from twin.simulation import Twin

    twin = Twin(simpy.Environment(), board_task, cfg, run_rng())
    twin.run(0.05)
    log_t, log_e = twin.event_log()
    expected = event_times(cfg.clock, 32, 0.05, key=twin.clock_key)
    for i in range(32):
        assert np.array_equal(log_t[log_e == i], expected[i])
    assert np.all(np.diff(log_t) >= 0)  # processed in time order


def test_continuous_clock_fires_less_as_learning_settles(board_task) -> None:
    cfg = TwinConfig(clock="continuous:0.001", sample_interval_s=0.05)
    result = simulate(board_task, cfg, 1.0, rng=run_rng())
    events = np.diff(result.history["events"])
    assert events[0] > 0
    assert events[-1] < events[0] / 10
    assert result.stats["error_final"] < result.stats["error_initial"] / 100
