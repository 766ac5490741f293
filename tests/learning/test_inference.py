"""Inference energy on a trained network: the Python API behind ``twin infer``."""

from __future__ import annotations

import numpy as np
import pytest

from twin.documents import Collector
from twin.errors import ConfigError, NetworkError
from twin.learning.inference import free_power, infer, trained_conductance
from twin.physics.task_spec import build_tasks


@pytest.fixture
def task():
    return build_tasks("regression", "lattice:4x4", seed=0, realizations=1)[0]


def test_energy_is_power_times_hold_and_power_is_sum_k_dv2(task) -> None:
    rng = np.random.default_rng(1)
    k = rng.uniform(0.5, 2.0, task.network.n_edges)
    col = Collector()
    res = infer(task, k, hold_s=2e-4, emit=col, params={"x": 1})
    power, outputs = free_power(task, k, task.train.inputs)
    np.testing.assert_array_equal(res.power_w, power)
    np.testing.assert_allclose(res.energy_j, power * 2e-4, rtol=1e-15)
    np.testing.assert_allclose(res.error, np.sum((outputs - task.train.outputs) ** 2, axis=-1))
    # doubling every conductance at fixed source voltages doubles the power (same drops)
    np.testing.assert_allclose(free_power(task, 2 * k, task.train.inputs)[0], 2 * power)
    entries = col.of("energy")
    assert len(entries) == task.train.size > 1
    assert entries[1]["t0_s"] == pytest.approx(2e-4)
    assert {e["phase"] for e in entries} == {"inference"}
    assert col.docs[0]["kind"] == "infer"
    assert col.docs[-1]["summary"] == res.summary()
    assert res.summary()["energy_j_total"] == pytest.approx(float(res.energy_j.sum()))


def test_bad_set_hold_and_untrained_network_are_config_errors(task) -> None:
    k = np.ones(task.network.n_edges)
    with pytest.raises(ConfigError, match="set: no example set 'nope'"):
        infer(task, k, example_set="nope")
    with pytest.raises(ConfigError, match="hold_s"):
        infer(task, k, hold_s=0.0)
    with pytest.raises(NetworkError, match="no trained conductances"):
        trained_conductance(task)
    trained = task.evolve(network=task.network.with_conductance(k))
    np.testing.assert_array_equal(trained_conductance(trained), k)
