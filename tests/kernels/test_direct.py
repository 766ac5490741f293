"""The direct solver's lower-overhead steps (:mod:`twin.kernels.direct`) give the numbers of
:func:`twin.kernels.train_step.advance` bit for bit: the same floating-point operations in the
same order, whatever the layout (dense block or not, several blocks of 4 basis columns, grounds,
padding) and whatever stops a realization (tolerance, lambda control, bounds)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.kernels.direct import advance_direct, sparse_program
from twin.kernels.ordering import factor_layout
from twin.kernels.train_run import KernelRun, StepParams
from twin.kernels.train_step import advance
from twin.learning._compiled import realizations, task_layout
from twin.physics.network import lattice
from twin.physics.reference_networks import packaged_reference_dir
from twin.physics.task import Task, load_task
from twin.physics.task_generators import allostery_task, iris_task, regression_task


def _reference() -> Task:
    return load_task(packaged_reference_dir() / "tasks" / "regression_n64_r1.json")


def _regressions() -> list[Task]:
    """The reference task and regressions on other networks, in one padded batch."""
    ref = _reference()
    m = ref.train.inputs.shape[0]
    nets = [lattice(5, 5, periodic=True), lattice(6, 4, periodic=False)]
    return [ref, *(regression_task(net, rng=np.random.default_rng(s), n_train=m)
                   for s, net in enumerate(nets))]  # fmt: skip


def _allostery() -> list[Task]:
    """Node constraints touching ground, an extra grounded node."""
    net = lattice(4, 6, periodic=True)
    task = allostery_task(net, rng=np.random.default_rng(1))
    used = {*task.ground.tolist(), *task.sources.tolist(), *task.targets.tolist()}
    spare = [a for a in range(net.n_nodes) if a not in used][:1]
    return [task, task.evolve(ground=[*task.ground.tolist(), *spare])]


def _iris() -> list[Task]:
    """Node constraints in several blocks of 4 basis columns."""
    return [iris_task(lattice(6, 6, periodic=True), rng=np.random.default_rng(1))]


def _run(tasks: list[Task], params: StepParams, kernel: str, chunks: list[int]) -> dict:
    structure = realizations(tasks)
    rr, e = len(tasks), structure.ends.shape[1]
    rng = np.random.default_rng(0)
    k0 = rng.uniform(0.5, 2.0, (rr, e))
    with KernelRun(structure, params, k0, np.full(rr, 1e-3), np.full((rr, e), 0.3),
                   np.full((rr, e), 3.0), threads=1, max_lanes=1) as run:  # fmt: skip
        state = (run.k, run.dk, run.lam, run.active, run.steps_done, run.energy, run.error,
                 run.free_power, run.clamped_power)  # fmt: skip
        idx = np.arange(rr, dtype=np.int64)
        for n in chunks:
            if kernel == "direct":
                advance_direct(idx, n, False, run.circ, run.work, run.par, run.kmin, run.kmax,
                               state, run.iters, run.status, run.counters)  # fmt: skip
            else:
                advance(idx, n, False, run.circ, run.work, run.par, run.kmin, run.kmax, state,
                        run.iters, run.status, run.pwork, run.counters)  # fmt: skip
        return {"k": run.k.copy(), "dk": run.dk.copy(), "lam": run.lam.copy(),
                "energy": run.energy.copy(), "error": run.error.copy(),
                "steps": run.steps_done.copy(), "counters": run.counters.copy()}  # fmt: skip


@pytest.mark.parametrize(
    "make", [_regressions, _allostery, _iris], ids=["regressions", "allostery", "iris"]
)
@pytest.mark.parametrize(
    "params",
    [
        StepParams(alpha=0.5, eta=1e-3, step_s=1e-4),
        StepParams(alpha=0.5, eta=1e-3, step_s=1e-4, stop_tol=3e-2),
        StepParams(alpha=0.5, eta=1e-3, step_s=1e-4, ctl_tol=3e-2, p=0.5),
    ],
    ids=["plain", "early-stopping", "lambda-control"],
)
def test_direct_steps_equal_the_general_steps_bit_for_bit(make, params: StepParams) -> None:
    tasks = make()
    fast = _run(tasks, params, "direct", [1, 40, 160])
    general = _run(tasks, params, "general", [1, 40, 160])
    for key, value in general.items():
        assert np.array_equal(fast[key], value), key  # bit for bit, not to rounding


def test_the_flat_program_lists_every_update_of_the_factorization() -> None:
    """One triple per left-looking update and per scattered product, each target in storage."""
    layout = task_layout(_reference())
    nt = layout.n - layout.split
    uptr, ops = sparse_program(layout.split, nt, layout.colptr, layout.rowind, layout.rlptr,
                               layout.rlcol, layout.rlpos, layout.tstart,
                               np.zeros(layout.n, dtype=np.int64))  # fmt: skip
    updates = sum(layout.colptr[c + 1] - p for c, p in zip(layout.rlcol, layout.rlpos, strict=True))
    tails = layout.colptr[1:] - layout.tstart
    assert uptr[0] == 0
    assert np.all(np.diff(uptr) >= 0)
    assert uptr[-1] == updates
    assert ops.shape[0] == updates + int(np.sum(tails * (tails + 1) // 2))
    assert ops.min() >= 0
    assert ops.max() < layout.n_values
    scatter = ops[uptr[-1] :, 0]
    assert np.all(scatter >= layout.colptr[-1])  # the scatter writes the dense block only


def test_a_layout_without_sparse_columns_has_an_empty_program() -> None:
    ends = np.array([[0, 1], [1, 2], [2, 3]], dtype=np.int64)
    layout = factor_layout(3, ends, np.array([[0, -1], [1, -1]]), np.ones((2, 2)))
    uptr, ops = sparse_program(0, layout.n, layout.colptr, layout.rowind, layout.rlptr,
                               layout.rlcol, layout.rlpos, layout.tstart,
                               np.zeros(layout.n, dtype=np.int64))  # fmt: skip
    assert uptr.tolist() == [0]
    assert ops.shape == (0, 3)
