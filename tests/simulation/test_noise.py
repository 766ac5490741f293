"""Noise: the error floor rises with delta; the same seed gives the same run bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from twin.simulation import NoiseConfig, TwinConfig, simulate

from .conftest import run_rng


def _run(task, delta: float, seed: int = 1, **changes) -> object:
    cfg = TwinConfig(noise=NoiseConfig(delta_v2=delta), sample_interval_s=0.05).evolve(**changes)
    return simulate(task, cfg, 1.5, rng=run_rng(seed))


def _floor(result) -> float:
    return float(np.mean(result.history["error"][-10:]))


def test_error_floor_rises_with_delta(board_task) -> None:
    floors = [_floor(_run(board_task, d)) for d in (0.0, 1e-3, 1e-2)]
    assert floors[0] < floors[1] < floors[2]
    assert floors[2] > 10 * floors[1]  # floor ~ delta^2
    assert floors[1] < 1e-4  # the seed's Fig. 3d: ~1e-6 V^2 at delta = 1e-3


def test_same_seed_same_run_bit_for_bit(board_task) -> None:
    cfg = TwinConfig(
        clock="poisson:10000",
        noise=NoiseConfig(delta_v2=1e-3, meas_sigma_v=1e-4, offset_sigma_v2=1e-5),
        sample_interval_s=0.05,
    )
    a = simulate(board_task, cfg, 0.3, rng=run_rng(4))
    b = simulate(board_task, cfg, 0.3, rng=run_rng(4))
    c = simulate(board_task, cfg, 0.3, rng=run_rng(5))
    assert np.array_equal(a.k, b.k)
    assert np.array_equal(a.gate_v, b.gate_v)
    for key in a.history:
        assert np.array_equal(a.history[key], b.history[key])
    assert not np.array_equal(a.k, c.k)


@pytest.mark.parametrize("batch_s", [0.0, 1e-4, 7e-3])
def test_batching_does_not_change_a_noisy_run(board_task, batch_s: float) -> None:
    cfg = TwinConfig(
        clock="bernoulli:10000:0.5", noise=NoiseConfig(delta_v2=1e-3), sample_interval_s=0.02
    )
    ref = simulate(board_task, cfg, 0.1, rng=run_rng(2))
    other = simulate(board_task, cfg.evolve(batch_s=batch_s), 0.1, rng=run_rng(2))
    assert np.array_equal(ref.k, other.k)
    assert np.array_equal(ref.history["error"], other.history["error"])


def test_noise_does_not_depend_on_event_rate(board_task) -> None:
    """Gates diffuse by gain * delta * sqrt(tau_ref t) / RC, at 2 kHz as at 20 kHz."""
    expected = 10.0 * 1e-2 * np.sqrt(1e-4 * 0.5) / 2.2e-3  # 0.32 V after 0.5 s
    for clock in ("poisson:2000", "poisson:20000"):
        # eta -> 0 switches learning off (clamped = free), leaving pure diffusion
        cfg = TwinConfig(clock=clock, eta=1e-12, noise=NoiseConfig(delta_v2=1e-2))
        result = simulate(board_task, cfg, 0.5, rng=run_rng(3))
        spread = np.sqrt(np.mean((result.gate_v - 3.0) ** 2))
        assert spread == pytest.approx(expected, rel=0.3)
