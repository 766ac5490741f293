"""mark_tol: one run gives what a stop_tol run ends with and, bit for bit, the run without it."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from twin.errors import ConfigError
from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, Trainer, TrainResult
from twin.physics.task_spec import build_tasks, reference_for_realization

TOL = 3e-3


def _tasks(n: int) -> list:
    return [
        build_tasks("regression", reference_for_realization("ref:64", r), seed=r,
                    realizations=1)[0]
        for r in range(n)
    ]  # fmt: skip


def _run(tasks: list, k0: np.ndarray | None = None, **kw: object) -> TrainResult:
    base = TrainConfig(rule=LearningRule(alpha=0.5, eta=1e-3), kappa=1.0, k_min=1e-3,
                       k_max=10.0, steps=3000, n_records=7, threads=1)  # fmt: skip
    return Trainer(tasks, attrs.evolve(base, **kw)).run(k0=k0)


def _check(tasks: list, k0: np.ndarray | None = None, tol: float = TOL, **kw: object,
           ) -> TrainResult:  # fmt: skip
    marked = _run(tasks, k0, mark_tol=tol, **kw)
    plain = _run(tasks, k0, **kw)
    stopped = _run(tasks, k0, stop_tol=tol, **kw)
    for name in ("k", "steps_done", "error_final", "free_power_final_w", "training_energy_j",
                 "clamped_energy_j", "lam_final"):  # fmt: skip
        assert np.array_equal(getattr(marked, name), getattr(plain, name)), name
    assert plain.tol_steps is None
    assert marked.tol_steps is not None
    assert marked.tol_energy_j is not None
    reached = stopped.error_final <= tol
    assert reached.any()  # the case is a test of both
    assert not reached.all()
    assert np.array_equal(marked.tol_steps[reached], stopped.steps_done[reached])
    assert np.array_equal(marked.tol_steps[~reached], np.full((~reached).sum(), -1))
    assert np.array_equal(marked.tol_energy_j[0, reached], stopped.training_energy_j[reached])
    assert np.array_equal(marked.tol_energy_j[1, reached], stopped.clamped_energy_j[reached])
    assert np.all(np.isnan(marked.tol_energy_j[:, ~reached]))
    return marked


def test_marks_on_distinct_networks_are_the_stop_tol_run_and_the_run_is_unchanged() -> None:
    marked = _check(_tasks(4))
    assert len(set(marked.tol_steps[marked.tol_steps >= 0].tolist())) > 1  # different steps


def test_marks_in_lanes_realizations_sharing_one_circuit() -> None:
    tasks = _tasks(1) * 4  # one circuit: the lane kernels; initial conductances differ
    e = tasks[0].network.edges.shape[0]
    k0 = np.outer([0.3, 1.0, 2.0, 6.0], np.ones(e))
    _check(tasks, k0, steps=2500)


def test_marks_numpy_backend() -> None:
    _check(_tasks(2), tol=1e-2, backend="numpy", steps=350, n_records=3)


def test_mark_and_stop_tolerances_are_not_both_given() -> None:
    with pytest.raises(ConfigError, match="mark_tol"):
        TrainConfig(mark_tol=1e-3, stop_tol=1e-3)
