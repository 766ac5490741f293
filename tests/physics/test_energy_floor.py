"""The Landauer floor of a run's conductance updates (twin.physics.energy_floor)."""

from __future__ import annotations

import math

import numpy as np

from twin.physics.energy_floor import BOLTZMANN_J_PER_K, landauer_floor_j, update_bits


def test_one_edge_by_hand() -> None:
    # range 9.999 S, net change 0.5 S over 1000 updates: levels 5e-4 S apart
    bits = update_bits(np.array([1.0]), np.array([1.5]), 1000, 1e-3, 10.0)
    assert math.isclose(bits[0], math.log2(1.0 + 9.999 / 5e-4))
    floor = landauer_floor_j(np.array([1.0]), np.array([1.5]), 1000, 1e-3, 10.0)
    assert math.isclose(floor, BOLTZMANN_J_PER_K * 300.0 * math.log(2) * 1000 * bits[0])


def test_unchanged_edges_and_no_steps_write_nothing() -> None:
    k = np.array([1.0, 2.0])
    assert landauer_floor_j(k, k, 100, 1e-3, 10.0) == 0.0
    assert landauer_floor_j(k, k + 1.0, 0, 1e-3, 10.0) == 0.0


def test_floor_scales_with_temperature_and_grows_with_resolution() -> None:
    k0, k1 = np.full(3, 1.0), np.array([1.1, 0.9, 1.3])
    cold = landauer_floor_j(k0, k1, 500, 1e-3, 10.0, temperature_k=150.0)
    warm = landauer_floor_j(k0, k1, 500, 1e-3, 10.0)
    assert math.isclose(warm, 2.0 * cold)
    # the same net change spread over more updates needs finer levels: more bits per update
    assert update_bits(k0, k1, 5000, 1e-3, 10.0).min() > update_bits(k0, k1, 500, 1e-3, 10.0).max()
