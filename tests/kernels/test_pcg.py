"""The trainer's PCG solver against the direct (reference) solve.

Per update (step by step over a few hundred updates): each basis column ``x_j = L^-1 c_j`` is
within the stated energy-norm bound ``solver_tol * ||x_j||_L`` of the exact solution, ``S = C X``
within ``solver_tol^2 sqrt(S_aa S_bb)``, and the node voltages of the free and clamped states
within the bound those two imply. Over a run on a non-sensitive task: the same final error and
conductances within a bound that grows with the number of updates. The reference solutions here
come from scipy (an LU solve independent of the project's Cholesky).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from twin.errors import ConfigError
from twin.kernels.cholesky import solve_factor, sparse_basis
from twin.kernels.pcg import laplacian_apply
from twin.kernels.train_run import KernelRun, StepParams
from twin.learning._compiled import realizations
from twin.learning.trainer import PCG_MIN_EDGES, TrainConfig, Trainer, resolve_solver
from twin.physics.network import lattice
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task, regression_task

ETA = 1e-3


def _allostery(side: int, seed: int = 0) -> Task:
    return allostery_task(lattice(side, side, periodic=True), rng=np.random.default_rng(seed))


def _laplacian(k: np.ndarray, ends: np.ndarray, n: int) -> sp.csr_matrix:
    """Reduced Laplacian (node ``n`` is ground) from edge ends and conductances (S)."""
    rows, cols, vals = [], [], []
    for (a, b), ke in zip(ends, k, strict=True):
        for i, j, val in ((a, a, ke), (b, b, ke), (a, b, -ke), (b, a, -ke)):
            if i < n and j < n:
                rows.append(i)
                cols.append(j)
                vals.append(val)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _exact_basis(lap: sp.csr_matrix, cidx: np.ndarray, cval: np.ndarray) -> np.ndarray:
    n = lap.shape[0]
    ct = np.zeros((n, cidx.shape[0]))
    for j, (idx, val) in enumerate(zip(cidx, cval, strict=True)):
        for node, coef in zip(idx, val, strict=True):
            if node >= 0:
                ct[node, j] += coef
    return np.asarray(sla.splu(lap.tocsc()).solve(ct)), ct


def _currents(s: np.ndarray, b: np.ndarray, desired: np.ndarray) -> tuple[np.ndarray, ...]:
    """Constraint currents of the free (sources only) and clamped states from ``S`` (A per V)."""
    ns = b.size
    free = np.linalg.solve(s[:ns, :ns], b)
    out = s[ns:, :ns] @ free  # free target voltages
    clamped = np.linalg.solve(s, np.concatenate([b, out + ETA * (desired - out)]))
    return free, clamped


def _energy(lap: sp.csr_matrix, v: np.ndarray) -> np.ndarray:
    """Energy norms ``sqrt(v^T L v)`` of the columns of ``v``."""
    return np.sqrt(np.einsum("ij,ij->j", v, lap @ v))


@pytest.mark.parametrize("cw", [4, 8])
def test_solve_factor_solves_a_general_right_hand_side(cw: int) -> None:
    """The stored factor solves ``L z = r`` for dense ``r`` (the preconditioner), any width."""
    st = realizations([_allostery(12)])
    n, ne, split, first, nvals = (int(x) for x in st.sizes[0])
    rng = np.random.default_rng(1)
    k = rng.uniform(1e-3, 10.0, ne)
    circ = st.arrays()
    layout = tuple(a[0] for a in circ[1:12])
    v, pos = np.zeros(nvals), np.zeros(n, dtype=np.int64)
    x, s = np.zeros((n + 1, 4)), np.zeros((3, 3))
    assert sparse_basis(k, ne, n, split, first, layout, v, pos, x, s)
    lap = _laplacian(k, st.ends[0, :ne], n)
    r = rng.standard_normal((n + 1, cw))
    r[n] = 0.0
    z = r.copy()
    solve_factor(n, split, st.colptr[0], st.rowind[0], v, z)
    want = sla.spsolve(lap.tocsc(), r[:n])
    assert np.max(np.abs(z[:n] - want)) <= 1e-10 * np.max(np.abs(want))
    y = np.zeros_like(r)
    laplacian_apply(k, ne, st.ends[0], n, r, y)
    assert np.allclose(y[:n], lap @ r[:n], rtol=0, atol=1e-12 * np.abs(lap @ r[:n]).max())
    assert np.all(y[n] == 0.0)


@pytest.mark.parametrize("tol", [1e-6, 1e-3])
def test_pcg_update_within_tolerance_of_direct_solve(tol: float) -> None:
    """Step by step over 300 updates: basis, ``S`` and node voltages within the stated bounds."""
    task = _allostery(12)
    st = realizations([task])
    n, ne = int(st.sizes[0, 0]), int(st.sizes[0, 1])
    c = st.cidx.shape[1]
    ends, cidx, cval = st.ends[0, :ne], st.cidx[0], st.cval[0]
    k0 = np.ones((1, st.ends.shape[1]))
    params = StepParams(alpha=0.5, eta=ETA, step_s=1e-4, pcg=True, solver_tol=tol)
    kmin, kmax = np.full_like(k0, 1e-3), np.full_like(k0, 10.0)
    b = st.inputs[0, 0]  # the one training example: source volts
    desired = st.desired[0, 0]
    with KernelRun(st, params, k0, np.zeros(1), kmin, kmax, threads=1) as run:
        for _ in range(300):
            run.advance(1)
            lap = _laplacian(run.k[0, :ne], ends, n)
            exact, ct = _exact_basis(lap, cidx, cval)
            x = run.work[2][0, :n, :c]
            s = run.work[4][0]
            s_exact = ct.T @ exact
            norms = _energy(lap, exact)
            err_x = _energy(lap, x - exact) / norms
            assert np.all(err_x <= tol * (1 + 1e-9) + 1e-12), err_x
            scale = np.sqrt(np.outer(np.diag(s_exact), np.diag(s_exact)))
            err_s = np.max(np.abs(s - s_exact) / scale)
            assert err_s <= tol**2 + 1e-12, err_s
            # node voltages of the free and clamped states: V = X a, a from S (second order)
            cond = float(np.linalg.cond(s_exact / scale))
            for got, want, cols in zip(_currents(s, b, desired), _currents(s_exact, b, desired),
                                       (slice(0, b.size), slice(0, c)), strict=True):  # fmt: skip
                v_exact = exact[:, cols] @ want
                dv = x[:, cols] @ got - v_exact
                rel = _energy(lap, dv[:, None])[0] / _energy(lap, v_exact[:, None])[0]
                size = np.sqrt(want @ s_exact[cols, cols] @ want)  # ||V||_L
                first = np.sum(np.abs(want) * norms[cols]) / size
                bound = tol * first * (1 + tol) + 10 * tol**2 * cond + 1e-12
                assert rel <= bound, (rel, bound)
        counters = run.solver_stats()
    # the run exercised the iterations, not only factorizations
    assert counters["iterations"][0] > 0
    assert counters["refactorizations"][0] < 100


def test_pcg_run_ends_where_the_direct_run_ends() -> None:
    """A non-sensitive run (16 x 16 allostery, 1500 updates): same final error and conductances.

    Each update's rate carries a relative error <= tol (energy norm), so without amplification the
    conductances differ by at most ~ updates x tol relative; measured: ~1e-7 at tol 1e-6.
    """
    steps, tol = 1500, 1e-6
    tasks = [_allostery(16, seed=3)]
    runs = {
        solver: Trainer(tasks, TrainConfig(steps=steps, solver=solver, solver_tol=tol)).run()
        for solver in ("direct", "pcg")
    }
    direct, pcg = runs["direct"], runs["pcg"]
    assert pcg.solver == "pcg"
    assert direct.solver == "direct"
    assert np.max(np.abs(pcg.k / direct.k - 1.0)) <= steps * tol
    assert abs(pcg.error_final[0] / direct.error_final[0] - 1.0) <= steps * tol
    assert pcg.error_final[0] < 0.1 * pcg.error_initial[0]  # it learned
    assert direct.solver_stats["refactorizations"][0] == steps + 1
    assert pcg.solver_stats["refactorizations"][0] <= steps // 20


def test_pcg_regression_with_edge_constraints_and_padding() -> None:
    """Edge sources/targets (two nodes per constraint) and realizations of different sizes."""
    nets = [lattice(5, 6), lattice(6, 6), lattice(4, 7)]
    tasks = [regression_task(net, rng=np.random.default_rng(i)) for i, net in enumerate(nets)]
    runs = {
        solver: Trainer(tasks, TrainConfig(steps=200, solver=solver, k_min=1e-3)).run()
        for solver in ("direct", "pcg")
    }
    for r, net in enumerate(nets):
        e = net.n_edges
        got, want = runs["pcg"].k[r, :e], runs["direct"].k[r, :e]
        assert np.max(np.abs(got / want - 1.0)) <= 200 * 1e-6
    assert np.all(runs["pcg"].solver_stats["iterations"] > 0)


def test_solver_choice() -> None:
    small = TrainConfig(solver="auto")
    assert resolve_solver(small, PCG_MIN_EDGES - 1) == "direct"
    assert resolve_solver(small, PCG_MIN_EDGES) == "pcg"
    assert resolve_solver(TrainConfig(solver="auto", backend="numpy"), 10**6) == "direct"
    assert resolve_solver(TrainConfig(solver="pcg"), 10) == "pcg"
    assert resolve_solver(TrainConfig(solver="direct"), 10**6) == "direct"
    with pytest.raises(ConfigError, match="solver"):
        TrainConfig(solver="pcg", backend="numpy")
    with pytest.raises(ConfigError, match="solver"):
        TrainConfig(solver="lu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="solver_tol"):
        TrainConfig(solver_tol=0.0)
