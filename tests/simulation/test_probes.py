"""Probes: samples at a fixed interval; energy entries exact and consistent."""

from __future__ import annotations

import numpy as np
import pytest

from twin.documents import Collector, validate_document
from twin.simulation import TwinConfig, simulate

from .conftest import run_rng


def test_samples_and_energy_documents(board_task) -> None:
    sink = Collector()
    cfg = TwinConfig(clock="periodic:10000:0.01", sample_interval_s=0.01, tau_feedback_s=1e-3)
    result = simulate(board_task, cfg, 0.1, rng=run_rng(), emit=sink)
    for doc in sink.docs:
        validate_document(doc)
    samples = sink.of("sample")
    assert np.allclose([s["t_s"] for s in samples], np.arange(11) * 0.01)
    energies = sink.of("energy")
    assert len(energies) == 3 * 10
    totals = {
        comp: sum(e["energy_j"] for e in energies if e["component"] == comp)
        for comp in ("free_network", "clamped_network", "gate_charging")
    }
    assert totals["free_network"] == pytest.approx(result.stats["training_energy_j"])
    assert totals["clamped_network"] == pytest.approx(result.stats["clamped_energy_j"])
    assert totals["gate_charging"] == pytest.approx(result.stats["gate_charging_energy_j"])
    # the free power is nearly constant over 10 ms: energy ~ P * dt
    first = energies[0]
    assert first["energy_j"] == pytest.approx(samples[0]["data"]["free_power_w"][0] * 0.01, rel=0.1)


def test_sampling_does_not_perturb_the_run(board_task) -> None:
    cfg = TwinConfig(clock="poisson:10000", tau_feedback_s=1e-3)
    coarse = simulate(board_task, cfg.evolve(sample_interval_s=0.05), 0.1, rng=run_rng())
    fine = simulate(board_task, cfg.evolve(sample_interval_s=0.0013), 0.1, rng=run_rng())
    assert np.array_equal(coarse.k, fine.k)
    assert coarse.stats["training_energy_j"] == pytest.approx(
        fine.stats["training_energy_j"], rel=1e-12
    )
