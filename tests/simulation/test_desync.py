"""Desynchronous learning still learns the board task (PHYSICS.md section 9)."""

from __future__ import annotations

import pytest

from twin.simulation import TwinConfig, simulate

from .conftest import run_rng


@pytest.mark.parametrize("clock", ["bernoulli:10000:0.5", "poisson:10000"])
def test_desync_reduces_error_100x_in_one_second(board_task, clock: str) -> None:
    """The board learns in ~0.1-0.5 s, so 1 s of simulated time is physically the same test."""
    result = simulate(
        board_task, TwinConfig(clock=clock, sample_interval_s=0.1), 1.0, rng=run_rng()
    )
    assert result.stats["error_final"] <= result.stats["error_initial"] / 100


@pytest.mark.slow
@pytest.mark.parametrize(
    "clock", ["bernoulli:10000:0.5", "poisson:10000", "periodic:10000:0.01", "continuous:0.001"]
)
@pytest.mark.parametrize("seed", [2, 3, 5])
def test_desync_reduces_error_100x_in_20_seconds(clock: str, seed: int) -> None:
    from twin.physics.task_spec import build_tasks

    task = build_tasks("allostery", None, seed=seed, realizations=1)[0]
    result = simulate(task, TwinConfig(clock=clock), 20.0, rng=run_rng())
    assert result.stats["error_final"] <= result.stats["error_initial"] / 100
