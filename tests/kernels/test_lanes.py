"""Realizations of one circuit computed together in lanes: the same numbers as one at a time."""

from __future__ import annotations

import numpy as np
import pytest

from tests.kernels.test_trainer_kernel import _assert_agree, _both
from twin.errors import SolverError
from twin.kernels.lanes import LANES
from twin.kernels.train_run import KernelRun, StepParams
from twin.learning._compiled import realizations
from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, train
from twin.physics.network import lattice
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task, regression_task


def _tasks() -> list[Task]:
    """Three realizations of one regression task (a padded lane group) and one other task."""
    net = lattice(5, 5, periodic=True)
    task = regression_task(net, rng=np.random.default_rng(4))
    other = regression_task(net, rng=np.random.default_rng(5))
    return [task, other, task, task]


def _run(tasks: list[Task], max_lanes: int, params: StepParams, k0: np.ndarray,
         lam: np.ndarray, chunks: list[int]) -> dict[str, np.ndarray]:  # fmt: skip
    structure = realizations(tasks)
    e = structure.ends.shape[1]
    kmin, kmax = np.full((len(tasks), e), 1e-3), np.full((len(tasks), e), 10.0)
    with KernelRun(structure, params, k0, lam, kmin, kmax, threads=1,
                   max_lanes=max_lanes) as run:  # fmt: skip
        iters = [run.advance(n) for n in chunks]
        return {"k": run.k.copy(), "dk": run.dk.copy(), "lam": run.lam.copy(),
                "energy": run.energy.copy(), "error": run.error.copy(),
                "steps": run.steps_done.copy(), "iters": np.array(iters),
                "factorizations": run.solver_stats()["refactorizations"]}  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        StepParams(alpha=0.5, eta=1e-3, step_s=1e-4, stop_tol=3e-2),
        StepParams(alpha=0.5, eta=1e-3, step_s=1e-4, ctl_tol=3e-2, p=0.5),
    ],
    ids=["early-stopping", "lambda-control"],
)
def test_lanes_give_the_numbers_of_one_realization_at_a_time(params: StepParams) -> None:
    tasks = _tasks()
    structure = realizations(tasks)
    assert structure.layout_groups(LANES)[0].tolist() == [0, 2, 3]  # grouped: shared circuit
    e = structure.ends.shape[1]
    k0 = np.repeat(np.array([[1.0], [0.5], [0.05], [3.0]]), e, axis=1)
    lam = np.array([1e-6, 0.0, 1e-4, 1e-8])
    alone = _run(tasks, 1, params, k0, lam, [150, 150, 400])
    lanes = _run(tasks, LANES, params, k0, lam, [150, 150, 400])
    for key, value in alone.items():
        assert np.array_equal(lanes[key], value), key  # bit for bit, not to rounding
    if params.stop_tol > 0:
        assert len(set(lanes["steps"].tolist())) > 1  # lanes stopped at different steps


def test_three_constraint_rows_in_lanes_give_the_numbers_of_one_at_a_time() -> None:
    """Node constraints (c = 3: one of the four lane columns unused), lambda control."""
    task = allostery_task(lattice(4, 4, periodic=True), rng=np.random.default_rng(1))
    tasks = [task] * 5
    e = realizations(tasks).ends.shape[1]
    k0 = np.random.default_rng(2).uniform(0.3, 3.0, (5, e))
    lam = np.array([1e-6, 1e-4, 0.0, 1e-3, 1e-8])
    params = StepParams(alpha=0.5, eta=0.22, step_s=1e-4, ctl_tol=1e-4, p=0.5)
    alone = _run(tasks, 1, params, k0, lam, [100, 300])
    lanes = _run(tasks, LANES, params, k0, lam, [100, 300])
    for key, value in alone.items():
        assert np.array_equal(lanes[key], value), key  # bit for bit, not to rounding


def test_lanes_agree_with_the_numpy_reference() -> None:
    task = allostery_task(lattice(4, 4, periodic=True), rng=np.random.default_rng(1))
    tasks = [task] * 3  # three constraint rows: one of the four lane columns unused
    a, b = _both(tasks, steps=400, rule=LearningRule(alpha=0.5, eta=0.22, lam=1e-3))
    _assert_agree(tasks, a, b)


def test_a_singular_lane_is_named() -> None:
    tasks = _tasks()
    k0 = np.full((4, realizations(tasks).ends.shape[1]), 0.5)
    k0[2, :6] = -1.0
    with pytest.raises(SolverError, match="realization 2"):
        train(tasks, TrainConfig(backend="compiled", solver="direct", steps=5), k0=k0)


def test_a_group_whose_lanes_stopped_leaves_its_last_realization_alone() -> None:
    """Early stopping: once one member of a lane group is left running it is advanced alone
    (a lane group costs the same however few lanes run), with the same numbers."""
    tasks = _tasks()
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4, stop_tol=3e-2)
    structure = realizations(tasks)
    e = structure.ends.shape[1]
    k0 = np.repeat(np.array([[1.0], [0.5], [0.05], [3.0]]), e, axis=1)
    lam = np.array([1e-6, 0.0, 1e-4, 1e-8])
    kmin, kmax = np.full((4, e), 1e-3), np.full((4, e), 10.0)
    with KernelRun(structure, params, k0, lam, kmin, kmax, threads=1) as run:
        assert any(lws is not None for unit in run._groups for _, lws in unit)
        run.active[:] = [True, True, False, False]  # realizations 2 and 3 stopped
        run.advance(10)
        assert all(lws is None for unit in run._groups for _, lws in unit)
        assert sorted(int(r) for unit in run._groups for idx, _ in unit for r in idx) == [0, 1]
