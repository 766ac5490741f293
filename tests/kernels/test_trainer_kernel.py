"""The compiled trainer kernels against the numpy reference path, and their symbolic set-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tests.helpers import examples
from tests.hypothesis_profiles import scaled
from twin.documents import Collector
from twin.errors import ConfigError, SolverError, TaskError
from twin.kernels.ordering import minimum_degree_order, symbolic_cholesky
from twin.kernels.train_run import KernelRun, StepParams
from twin.learning._compiled import realizations
from twin.learning.rules import LambdaControl, LearningRule
from twin.learning.trainer import TrainConfig, Trainer, TrainResult, train
from twin.physics.network import Network, lattice
from twin.physics.network_io import read_authors_txt
from twin.physics.task import Task, load_task
from twin.physics.task_generators import allostery_task, iris_task, regression_task

REFERENCE_SETTING = {"rule": LearningRule(alpha=0.5, eta=1e-3), "k_min": 1e-4, "k_max": 1e6}
RTOL = 1e-10  # agreement of the two backends over a few hundred steps


def _board_tasks(n: int, seed: int = 0) -> list[Task]:
    net = lattice(4, 4, periodic=True)
    return [allostery_task(net, rng=np.random.default_rng([seed, r])) for r in range(n)]


def _jammed(reference: Path, n: int) -> list[Network]:
    files = sorted((reference / "jammed").glob("data_N00064_*"))[:n]
    return [read_authors_txt(p) for p in files]


def _both(tasks: Task | list[Task], **config: object) -> tuple[TrainResult, TrainResult]:
    """The same run on the compiled (direct solver: the agreement contract's path) and on the
    numpy backend; the PCG solver is held to its own bounds in ``test_pcg.py``."""
    cfg = TrainConfig(backend="compiled", solver="direct", **config)  # type: ignore[arg-type]
    compiled = train(tasks, cfg)
    reference = train(tasks, TrainConfig(backend="numpy", **config))  # type: ignore[arg-type]
    return compiled, reference


def _assert_agree(tasks: Task | list[Task], a: TrainResult, b: TrainResult) -> None:
    """Every result and every history sample of ``a`` equals ``b`` to ``RTOL``."""
    task_list = [tasks] if isinstance(tasks, Task) else tasks
    assert a.steps_done.tolist() == b.steps_done.tolist()
    assert a.history["step"].tolist() == b.history["step"].tolist()
    for r, task in enumerate(task_list):
        e = task.network.n_edges
        np.testing.assert_allclose(a.k[r, :e], b.k[r, :e], rtol=RTOL, atol=RTOL * b.k[r, :e].max())
    err_scale = RTOL * b.error_initial.max()
    np.testing.assert_allclose(a.error_final, b.error_final, rtol=RTOL, atol=err_scale)
    np.testing.assert_allclose(a.history["error"], b.history["error"], rtol=RTOL, atol=err_scale)
    for key in ("free_power_w", "clamped_power_w", "lam", "energy_j"):
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=RTOL, atol=0.0)
    for name in ("free_power_final_w", "training_energy_j", "clamped_energy_j", "lam_final"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=RTOL, atol=0.0)


# --------------------------------------------------------------------------- agreement


def test_reference_regression_agrees_with_numpy(reference_dir: Path) -> None:
    task = load_task(reference_dir / "tasks" / "regression_n64_r1.json")
    a, b = _both(task, steps=200, **REFERENCE_SETTING)
    _assert_agree(task, a, b)
    assert a.error_final[0] < 0.5 * a.error_initial[0]  # it learned something on the way


def test_padded_realizations_of_different_networks_agree(reference_dir: Path) -> None:
    nets = [*_jammed(reference_dir, 2), lattice(5, 7, periodic=True), lattice(3, 4)]
    tasks = [regression_task(n, rng=np.random.default_rng(i)) for i, n in enumerate(nets)]
    a, b = _both(tasks, steps=200, **REFERENCE_SETTING)
    _assert_agree(tasks, a, b)
    for r, net in enumerate(nets):
        assert np.all(a.k[r, net.n_edges :] == 1.0)  # padding edges untouched


def test_iris_with_several_grounds_agrees() -> None:
    """Node sources and targets, many constraints (several blocks of 4 columns), three grounds."""
    net = lattice(6, 6, periodic=True)
    task = iris_task(net, rng=np.random.default_rng(1))
    used = {*task.ground.tolist(), *task.sources.tolist(), *task.targets.tolist()}
    extra = [a for a in range(net.n_nodes) if a not in used][:2]
    grounded = task.evolve(ground=[*task.ground.tolist(), *extra])
    tasks = [task, grounded]
    a, b = _both(tasks, steps=200, rule=LearningRule(alpha=0.2, eta=1e-2))
    _assert_agree(tasks, a, b)


def test_four_node_sources_three_node_targets_agree() -> None:
    rng = np.random.default_rng(5)
    net = lattice(5, 5, periodic=True)
    nodes = rng.choice(net.n_nodes, size=9, replace=False).tolist()
    train_set = examples(rng.uniform(0, 1, (12, 4)), rng.uniform(0.2, 0.6, (12, 3)))
    task = Task(
        kind="custom",
        network=net,
        ground=nodes[:2],
        source_kind="nodes",
        sources=nodes[2:6],
        target_kind="nodes",
        targets=nodes[6:],
        train=train_set,
    )
    a, b = _both(task, steps=200, rule=LearningRule(alpha=0.2, eta=1e-2))
    _assert_agree(task, a, b)


@settings(max_examples=scaled(30))
@given(st.integers(0, 100_000))
@example(898)  # cond 4.9e7: the error differs by 4.3e-9 relative (0.4 eps cond)
@example(34)  # a regression task on a 2 x 3 lattice: refused by the generator
def test_step_quantities_agree_on_random_circuits(seed: int) -> None:
    """Random lattices, task kinds, extra grounds, conductances over 8 decades and lambda.

    Both paths solve the same Laplacian with different factorisations, so they differ by its
    rounding, which grows with the condition number: tolerances are ``10 eps cond`` (over seeds
    0-1499 the largest deviation of error and powers was 0.86 eps cond, up to 4e-9 relative,
    which a fixed rtol of 1e-9 did not allow).
    """
    rng = np.random.default_rng(seed)
    w, h = int(rng.integers(2, 7)), int(rng.integers(3, 7))
    net = lattice(w, h, periodic=bool(rng.integers(2)) and min(w, h) >= 3)
    if rng.integers(2):
        try:
            task = regression_task(net, rng=rng, n_train=int(rng.integers(1, 6)), n_test=1,
                                   n_out_of_range=0)  # fmt: skip
        except TaskError:  # no four node-disjoint edges (a 2 x 3 lattice): refused, no circuit
            assume(False)
    else:
        task = allostery_task(net, rng=rng)
    ends = net.edges[task.sources].ravel() if task.source_kind == "edges" else task.sources
    targets = net.edges[task.targets].ravel() if task.target_kind == "edges" else task.targets
    used = {*task.ground.tolist(), *ends.tolist(), *targets.tolist()}
    spare = [a for a in range(net.n_nodes) if a not in used]
    task = task.evolve(ground=[*task.ground.tolist(), *spare[: int(rng.integers(0, 3))]])
    try:
        trainer = Trainer([task], TrainConfig(backend="numpy"))
    except SolverError:  # dependent boundary conditions: rejected by both paths
        assume(False)
    k = np.exp(rng.uniform(-9, 9, (1, net.n_edges)))
    lam = rng.uniform(0.0, 0.5, 1)
    expected = trainer.step_quantities(k, lam)
    structure = realizations([task])
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4)
    with KernelRun(structure, params, k, lam, k / 2, 2 * k) as run:
        got = run.quantities()
        # both paths carry the solve's rounding, which grows with the Laplacian's condition
        # number (conductances span up to 8 decades here)
        cond = np.linalg.cond(trainer.batch.laplacian(k)[0])
        tol = 10 * np.finfo(float).eps * cond
        volts = max(np.abs(task.train.inputs).max(), np.abs(task.train.outputs).max())
        np.testing.assert_allclose(got["error"], expected["error"], rtol=tol, atol=tol * volts**2)
        for key in ("free_power_w", "clamped_power_w"):
            np.testing.assert_allclose(got[key], expected[key], rtol=tol)
        # dk is a difference of squared drops: held to the same bound on its scale
        tol = max(1e-9, tol)
        scale = np.abs(expected["dk"]).max()
        np.testing.assert_allclose(got["dk"], expected["dk"], rtol=0, atol=tol * scale)


def test_source_edge_touching_ground_agrees() -> None:
    net = lattice(4, 5)
    u, _ = net.edges[3]
    task = Task(kind="custom", network=net, ground=[int(u)], source_kind="edges", sources=[3, 11],
                target_kind="edges", targets=[7, 20],
                train=examples([[0.3, 0.1], [0.5, 0.9], [0.2, 0.4]],
                               [[0.1, 0.2], [0.3, 0.1], [0.05, 0.15]]))  # fmt: skip
    a, b = _both(task, steps=200, rule=LearningRule(alpha=0.3, eta=1e-3))
    _assert_agree(task, a, b)


def test_bounds_hit_agrees() -> None:
    tasks = _board_tasks(4)
    a, b = _both(tasks, steps=300, rule=LearningRule(alpha=5.0, eta=0.22), k_min=0.05, k_max=2.0)
    _assert_agree(tasks, a, b)
    assert np.isclose(a.k.min(), 0.05) or np.isclose(a.k.max(), 2.0)  # bounds were hit


def test_early_stopping_agrees_step_for_step() -> None:
    tasks = _board_tasks(4)[1:]  # these three reach the tolerance
    a, b = _both(tasks, steps=3000, rule=LearningRule(alpha=0.5, eta=0.22), stop_tol=1e-4)
    _assert_agree(tasks, a, b)
    assert len(set(a.steps_done.tolist())) > 1  # realizations stopped at different steps
    assert a.steps_done.max() < 3000  # and the run ended when the last one stopped


def test_lambda_control_and_fixed_lambda_agree() -> None:
    tasks = _board_tasks(3, seed=2)
    ctl = LambdaControl(tol=1e-4, rho=1.0, p=0.5, lam0=1e-6)
    a, b = _both(tasks, steps=2000, rule=LearningRule(alpha=0.5, eta=0.22), control=ctl)
    _assert_agree(tasks, a, b)
    assert np.all(a.lam_final != 1e-6)
    a, b = _both(tasks, steps=300, rule=LearningRule(alpha=0.5, eta=0.22, lam=1e-2))
    _assert_agree(tasks, a, b)


def test_large_sparse_network_agrees() -> None:
    """Above the dense limit the numpy path uses SuperLU; the kernel a bigger dense block."""
    task = allostery_task(lattice(24, 24, periodic=True), rng=np.random.default_rng(3))
    a, b = _both(task, steps=20, rule=LearningRule(alpha=0.5, eta=1e-3))
    _assert_agree(task, a, b)


def test_step_quantities_agree_with_kernel_evaluation(reference_dir: Path) -> None:
    task = load_task(reference_dir / "tasks" / "regression_n64_r1.json")
    trainer = Trainer([task], TrainConfig(**REFERENCE_SETTING))  # type: ignore[arg-type]
    k = trainer.k0 * np.exp(np.random.default_rng(0).uniform(-3, 3, trainer.k0.shape))
    lam = np.array([1e-3])
    expected = trainer.step_quantities(k, lam)
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4)
    structure = realizations([task])
    with KernelRun(structure, params, k, lam, trainer.k_min, trainer.k_max) as run:
        got = run.quantities()
        for key in ("error", "free_power_w", "clamped_power_w"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-13)
        # dk is (alpha/eta) x a difference of nearly equal squares in the numpy path
        scale = np.abs(expected["dk"]).max()
        np.testing.assert_allclose(got["dk"], expected["dk"], rtol=0, atol=1e-12 * scale)


# --------------------------------------------------------------------------- determinism


def test_threads_and_chunks_do_not_change_any_number(reference_dir: Path) -> None:
    nets = _jammed(reference_dir, 3)
    tasks = [regression_task(n, rng=np.random.default_rng(i)) for i, n in enumerate(nets)]
    one = train(tasks, TrainConfig(backend="compiled", threads=1, steps=300, **REFERENCE_SETTING))
    two = train(tasks, TrainConfig(backend="compiled", threads=2, steps=300, **REFERENCE_SETTING))
    np.testing.assert_array_equal(one.k, two.k)
    np.testing.assert_array_equal(one.training_energy_j, two.training_energy_j)
    trainer = Trainer(tasks, TrainConfig(**REFERENCE_SETTING))  # type: ignore[arg-type]
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4)
    structure = realizations(tasks)
    lam = np.zeros(3)
    runs = [KernelRun(structure, params, trainer.k0, lam, trainer.k_min, trainer.k_max)
            for _ in range(2)]  # fmt: skip
    runs[0].advance(300)
    for _ in range(10):
        runs[1].advance(30)
    np.testing.assert_array_equal(runs[0].k, runs[1].k)
    np.testing.assert_array_equal(runs[0].energy, runs[1].energy)
    for run in runs:
        run.close()


def test_documents_match_the_numpy_backend() -> None:
    tasks = _board_tasks(2)
    docs = {}
    for backend in ("compiled", "numpy"):
        collector = Collector()
        cfg = TrainConfig(backend=backend, rule=LearningRule(eta=0.22), steps=200, n_records=12)  # type: ignore[arg-type]
        train(tasks, cfg, emit=collector)
        docs[backend] = collector.docs
    assert [d["doc"] for d in docs["compiled"]] == [d["doc"] for d in docs["numpy"]]
    for a, b in zip(docs["compiled"], docs["numpy"], strict=True):
        if a["doc"] == "energy":
            keys = ("t0_s", "t1_s", "realization", "component")
            assert [a[key] for key in keys] == [b[key] for key in keys]
            assert a["energy_j"] == pytest.approx(b["energy_j"], rel=RTOL)


def test_progress_moves_in_chunks_to_the_end() -> None:
    calls: list[tuple[int, int]] = []
    cfg = TrainConfig(backend="compiled", rule=LearningRule(eta=0.22), steps=5000, n_records=3)
    train(_board_tasks(1), cfg, progress=lambda s, n: calls.append((s, n)))
    steps = [s for s, _ in calls]
    assert steps == sorted(steps)
    assert steps[-1] == 5000
    assert all(b - a <= 1000 for a, b in zip([0, *steps], steps, strict=False))


# --------------------------------------------------------------------------- errors


def test_non_positive_conductances_raise_solver_error() -> None:
    tasks = _board_tasks(1)
    k0 = np.full((1, 32), 0.5)
    k0[0, :4] = -1.0
    with pytest.raises(SolverError, match="positive definite"):
        train(tasks, TrainConfig(backend="compiled", steps=5), k0=k0)


def test_unknown_backend_is_named() -> None:
    with pytest.raises(ConfigError, match="backend"):
        TrainConfig(backend="cuda")  # type: ignore[arg-type]


def test_auto_backend_is_the_compiled_one() -> None:
    """numba is a required dependency: ``auto`` always means ``compiled`` (no silent fallback)."""
    tasks = _board_tasks(1)
    assert Trainer(tasks, TrainConfig()).backend == "compiled"
    assert Trainer(tasks, TrainConfig(backend="compiled")).backend == "compiled"
    assert Trainer(tasks, TrainConfig(backend="numpy")).backend == "numpy"


# --------------------------------------------------------------------------- symbolic set-up


def test_minimum_degree_order_is_a_permutation_with_the_block_last() -> None:
    net = lattice(7, 6, periodic=True)
    perm = minimum_degree_order(net.n_nodes, net.edges, last=[5, 17, 3])
    assert sorted(perm.tolist()) == list(range(net.n_nodes))
    assert perm[-3:].tolist() == [5, 17, 3]


def test_symbolic_pattern_contains_the_numeric_factor() -> None:
    rng = np.random.default_rng(4)
    net = lattice(6, 5, periodic=True)
    n = net.n_nodes
    perm = minimum_degree_order(n, net.edges)
    iperm = np.argsort(perm)
    edges = iperm[net.edges]
    colptr, rowind = symbolic_cholesky(n, edges)
    d = np.zeros((net.n_edges, n))
    d[np.arange(net.n_edges), edges[:, 0]] = 1.0
    d[np.arange(net.n_edges), edges[:, 1]] = -1.0
    lap = d.T @ np.diag(rng.uniform(0.1, 2.0, net.n_edges)) @ d + np.eye(n)
    factor = np.linalg.cholesky(lap)
    pattern = np.zeros((n, n), dtype=bool)
    for j in range(n):
        pattern[rowind[colptr[j] : colptr[j + 1]], j] = True
    assert np.all(pattern[np.abs(factor) > 1e-14])
    assert np.all(rowind[colptr[:-1]] == np.arange(n))  # diagonal first
    assert pattern.sum() < 0.5 * n * (n + 1) / 2  # and the ordering keeps it sparse


def test_lattice_4096_trains_a_few_steps() -> None:
    task = allostery_task(lattice(64, 64, periodic=True), rng=np.random.default_rng(0))
    a, b = _both(task, steps=3, rule=LearningRule(alpha=0.5, eta=1e-3))
    _assert_agree(task, a, b)
