"""The batched engine performs exactly the events of the one-process-per-edge reference."""

from __future__ import annotations

import numpy as np
import pytest

from twin.simulation import NoiseConfig, TwinConfig, simulate

from .conftest import run_rng


@pytest.mark.parametrize(
    ("clock", "duration_s"),
    [
        ("sync:10000", 0.02),
        ("bernoulli:10000:0.5", 0.02),
        ("poisson:10000", 0.02),
        ("periodic:10000:0.01", 0.02),
        ("continuous:0.001", 0.1),
    ],
)
def test_batched_equals_agents_bit_for_bit(board_task, clock: str, duration_s: float) -> None:
    cfg = TwinConfig(
        clock=clock,
        noise=NoiseConfig(delta_v2=1e-3, meas_sigma_v=1e-4),
        sample_interval_s=duration_s / 4,
        log_events=100_000,
    )
    fast = simulate(board_task, cfg, duration_s, rng=run_rng(3))
    slow = simulate(board_task, cfg.evolve(engine="agents"), duration_s, rng=run_rng(3))
    assert fast.stats["events"] == slow.stats["events"] > 0
    assert np.array_equal(fast.k, slow.k)
    assert np.array_equal(fast.gate_v, slow.gate_v)
    assert np.array_equal(fast.history["error"], slow.history["error"])
    assert fast.stats["training_energy_j"] == pytest.approx(
        slow.stats["training_energy_j"], rel=1e-12
    )


def test_feedback_loop_and_leak_agree_too(board_task) -> None:
    cfg = TwinConfig(
        clock="poisson:10000",
        tau_feedback_s=2e-3,
        edges=TwinConfig().edges.evolve(tau_leak_s=0.5, v_rest_v=3.0),
        sample_interval_s=0.01,
    )
    fast = simulate(board_task, cfg, 0.03, rng=run_rng(3))
    slow = simulate(board_task, cfg.evolve(engine="agents"), 0.03, rng=run_rng(3))
    assert np.array_equal(fast.k, slow.k)
    assert fast.stats["clamped_energy_j"] == pytest.approx(
        slow.stats["clamped_energy_j"], rel=1e-12
    )
