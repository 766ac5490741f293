"""A physical floor under a run's training energy: the Landauer cost of writing its updates.

Seed 002 (arXiv 2402.14878) derives lower bounds on the energy of training a learning-in-memory
optimiser; its formulas are not in the project's copy (PHYSICS.md section 13). This module gives
the labelled, conservative stand-in the issue asks for, and nothing more:

    E_floor = k_B T ln 2 x sum over the updates made of the bits each update writes,

with ``T`` = 300 K and, for edge ``i``, ``b_i = log2(1 + (k_max - k_min) / s_i)`` bits per update:
the bits that distinguish conductance levels spaced by ``s_i = |k_i(end) - k_i(0)| / steps``, the
edge's mean net change per update (the resolution at which the rule moved it). An edge that ended
where it started writes no bits. Every update of every edge is counted (the synchronous rule
writes all edges at each step). It is the cost of *recording* the learned changes as bits, not of
computing them and not a bound on the physical circuit's dissipation (its free-network power is
what the training energy measures); ``training_energy_j / energy_floor_j`` says how far a run is
above it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BOLTZMANN_J_PER_K", "ROOM_TEMPERATURE_K", "landauer_floor_j", "update_bits"]

#: Boltzmann constant, J/K (exact, SI 2019).
BOLTZMANN_J_PER_K = 1.380649e-23
#: Temperature of the floor, kelvin.
ROOM_TEMPERATURE_K = 300.0


def update_bits(
    k_initial: np.ndarray, k_final: np.ndarray, steps: int, k_min: float, k_max: float
) -> np.ndarray:
    """Bits per update of each edge at the resolution of its mean net change (module docs).

    ``k_initial``, ``k_final`` in siemens, one entry per edge; ``steps`` updates made.
    """
    k0, k1 = np.asarray(k_initial, dtype=float), np.asarray(k_final, dtype=float)
    if steps <= 0:
        return np.zeros_like(k0)
    step = np.abs(k1 - k0) / steps
    with np.errstate(divide="ignore"):
        bits = np.log2(1.0 + (k_max - k_min) / step)
    return np.where(step > 0, bits, 0.0)


def landauer_floor_j(
    k_initial: np.ndarray,
    k_final: np.ndarray,
    steps: int,
    k_min: float,
    k_max: float,
    temperature_k: float = ROOM_TEMPERATURE_K,
) -> float:
    """``k_B T ln 2`` per bit written, over ``steps`` updates of every edge, joules."""
    if not (math.isfinite(k_min) and math.isfinite(k_max)):
        return math.nan
    bits = update_bits(k_initial, k_final, steps, k_min, k_max)
    return float(BOLTZMANN_J_PER_K * temperature_k * math.log(2.0) * steps * bits.sum())
