"""Real-time mode: paced by the wall clock, lag reported as a metric, never fatal."""

from __future__ import annotations

import time

import simpy

from twin.documents import Collector
from twin.simulation import Twin, TwinConfig, lag_s, realtime_environment

from .conftest import run_rng


def test_plain_environment_has_no_lag() -> None:
    assert lag_s(simpy.Environment()) is None


def test_realtime_run_reports_lag_instead_of_crashing(board_task) -> None:
    env = realtime_environment(factor=1.0)
    sink = Collector()
    cfg = TwinConfig(clock="poisson:10000", sample_interval_s=0.02, batch_s=0.005)
    twin = Twin(env, board_task, cfg, run_rng(), emit=sink)
    # the wall clock starts now, not at the environment's creation (building the twin takes a
    # variable time), and 50 ms behind it: strict mode would raise
    t0 = time.perf_counter()
    env.sync()
    env.real_start -= 0.05
    result = twin.run(0.1)
    wall = time.perf_counter() - t0
    assert wall >= 0.05  # paced: the first 50 ms were already lost, the rest waited for
    lags = [s["data"]["lag_s"][0] for s in sink.of("sample")]
    assert len(lags) == 6
    assert min(lags) >= 0
    assert result.stats["lag_max_s"] >= 0.04
